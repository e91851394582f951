// A fuzzer of elex's JS surface: seeded random call sequences over every class and method, with
// random and extreme arguments (NaN, ±Infinity, -1, 2^32, 2^53, empty and long arrays, null,
// undefined, wrong types, freed objects, calls while an addBatch is in flight and from inside its
// progress callback), each checked against a plain-JS model of what the object holds: a call
// that should succeed must, one that should fail must fail with one of the codes its faults
// allow, and no call may trap (WebAssembly.RuntimeError). A third of the index rounds use a
// persistent index (HnswIndex.open: flush, checkpoint, close and reopen byte for byte). Both
// flavours of the full build (`elex`) and of the core build (`elex/core`: the index and text
// rounds, in memory; its persistent methods answer as an in-memory object's), in Node, on
// fake-indexeddb.
//
//   node www/test/fuzz.mjs [--calls N] [--seed S]     (calls per flavour and build; default 20000)
import 'fake-indexeddb/auto';
import { parseArgs } from 'node:util';
import { init } from 'elex';
import { init as initCore } from 'elex/core';

const { values: opts } = parseArgs({
  options: {
    calls: { type: 'string', default: '20000' },
    seed: { type: 'string', default: '20261201' },
    trace: { type: 'boolean', default: false },
  },
});
const CALLS = Number(opts.calls);
const SEED = BigInt(opts.seed);

function rng(seed) {
  let s = seed & 0xffffffffffffffffn;
  const next = () => {
    s = (s + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
    let z = s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
    return Number((z ^ (z >> 31n)) >> 11n) / 2 ** 53;
  };
  const r = {
    unit: next,
    below: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    pick: (xs) => xs[Math.floor(next() * xs.length)],
  };
  return r;
}

class Failure extends Error {}

let calls = 0;
let traps = 0;
const found = new Map(); // what failed, by kind (the report)

function isTrap(e) {
  return e instanceof WebAssembly.RuntimeError || (e && e.code === 'WASM_TRAP');
}

// Runs `f`, which should succeed iff `faults` is empty; a failure's code must be one of the
// codes in `faults` (plus `extra`, codes that any call may meet: none by default). With
// `mayPass`, success is allowed too: BUSY when the model's view of the queue may lag the
// index's (a batch that failed has released the index, but its promise's continuation, which
// updates the model, has not run yet).
function expectSync(what, faults, f, mayPass = false) {
  calls++;
  if (opts.trace) console.log(`${calls} ${what} [${faults}]`);
  let out;
  try {
    out = f();
  } catch (e) {
    if (isTrap(e)) { traps++; throw new Failure(`${what}: TRAP ${e.message}`); }
    if (faults.length === 0) throw new Failure(`${what}: unexpected ${e && e.code} ${e && e.message}`);
    if (!faults.includes(e.code)) throw new Failure(`${what}: code ${e && e.code} (${e && e.message}) not in [${faults}]`);
    if (!(e instanceof Error)) throw new Failure(`${what}: threw a non-Error`);
    return { ok: false, error: e };
  }
  if (faults.length && !mayPass) throw new Failure(`${what}: succeeded despite [${faults}]`);
  return { ok: true, value: out };
}

async function expectAsync(what, faults, f) {
  calls++;
  if (opts.trace) console.log(`${calls} ${what} [${faults}]`);
  let out;
  try {
    out = await f();
  } catch (e) {
    if (isTrap(e)) { traps++; throw new Failure(`${what}: TRAP ${e.message}`); }
    if (faults.length === 0) throw new Failure(`${what}: unexpected ${e && e.code} ${e && e.message}`);
    if (!faults.includes(e.code)) throw new Failure(`${what}: code ${e && e.code} (${e && e.message}) not in [${faults}]`);
    return { ok: false, error: e };
  }
  if (faults.length) throw new Failure(`${what}: succeeded despite [${faults}]`);
  return { ok: true, value: out };
}

// ---- argument generators: each returns [value, fault codes it brings] ----------------------

const BAD_NUMBERS = [NaN, Infinity, -Infinity, -1, -0.5, 1.5, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e300, -(2 ** 31)];
const WRONG_TYPES = [null, undefined, '3', {}, [], true, () => 1, Symbol('s'), 10n];

function genId(r, model) {
  const u = r.unit();
  if (u < 0.06) return [r.pick(WRONG_TYPES), ['INVALID_ARGUMENT']];
  if (u < 0.12) return [r.pick(BAD_NUMBERS.filter((x) => x !== 2 ** 32)), ['INVALID_ID']];
  if (u < 0.3 && model.size) return [r.pick([...model.keys()]), []];
  return [r.below(400), []];
}

function genVector(r, dims, cosine, storage) {
  const u = r.unit();
  const v = new Float32Array(dims);
  for (let i = 0; i < dims; i++) v[i] = r.unit() * 2 - 1;
  if (u < 0.04) {
    const x = r.pick(WRONG_TYPES);
    return [x, Array.isArray(x) ? ['DIMENSION_MISMATCH'] : ['INVALID_ARGUMENT']];
  }
  if (u < 0.06) return [new Int8Array(dims), ['INVALID_ARGUMENT']];
  if (u < 0.1) return [new Float32Array(r.pick([0, dims - 1, dims + 1, 1000])), ['DIMENSION_MISMATCH']];
  if (u < 0.13) { v[r.below(dims)] = r.pick([NaN, Infinity, -Infinity]); return [v, ['NON_FINITE']]; }
  if (u < 0.16) return [new Float32Array(dims), cosine ? ['ZERO_VECTOR'] : []];
  if (u < 0.19) {
    const x = v.map(() => r.pick([1e-40, 3e38, -3e38, 1e-45]));
    return [x, cosine || x.every((c) => Math.abs(c) < 1) ? [] : ['VALUE_TOO_LARGE']];
  }
  if (u < 0.2) {
    const x = v.map((c) => c * 70000);
    return [x, !cosine && storage === 'f16' && x.some((c) => Math.abs(c) > 65504) ? ['VALUE_TOO_LARGE'] : []];
  }
  if (u < 0.22) return [Array.from(v), []];
  if (u < 0.24) { const a = Array.from(v); a[r.below(dims)] = 'x'; return [a, ['INVALID_ARGUMENT']]; }
  if (u < 0.27) return [Float64Array.from(v), []];
  return [v, []];
}

// A whole number argument in `lo..=hi` (k, ef, counts), or a bad one with its codes.
function genCount(r, lo, hi, rangeCodes) {
  const u = r.unit();
  if (u < 0.05) return [r.pick(WRONG_TYPES.filter((x) => x !== undefined)), ['INVALID_ARGUMENT']];
  if (u < 0.12) {
    const bad = [0, -1, 1.5, NaN, Infinity, 2 ** 32, 2 ** 53].filter((x) => !(Number.isInteger(x) && x >= lo && x <= hi));
    return [r.pick(bad), rangeCodes];
  }
  return [lo + r.below(Math.max(1, hi - lo + 1)), []];
}

function sameIds(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// ---- HnswIndex -------------------------------------------------------------------------------

async function fuzzIndex(elex, r, budget) {
  const dims = 1 + r.below(8);
  const metric = r.pick(['cosine', 'l2', 'dot']);
  const storage = r.pick(['f32', 'f16', 'i8', 'q4']);
  const cosine = metric === 'cosine';
  const options = { dims, metric, storage, m: 4 + r.below(8), efConstruction: 16 + r.below(40), seed: r.below(1000), keepF32: r.chance(0.5) };
  // A third of the rounds fuzz a persistent index (op log, checkpoints, reopen).
  const place = elex.build === 'full' && r.chance(0.33) ? { dbName: `fuzz-${elex.flavour}-${persistRounds++}`, name: 'i', checkpointShare: r.pick([0.01, 0.5, Infinity]) } : null;
  if (opts.trace) console.log(`round: index ${place ? 'persistent' : 'in memory'}`);
  let index = place ? await elex.HnswIndex.open({ ...place, ...options }) : new elex.HnswIndex(options);
  const model = new Map(); // committed id -> true
  let inFlight = []; // pending addBatch promises (settle in order)
  const pendingIds = new Set();
  let queued = 0; // operations queued or running on the index
  let n = 0;
  let calibrated = false; // a calibrate() resolved on this index
  let calibrating = 0; // calibrate() calls not settled (the index may keep one before they do)

  const busy = () => queued > 0;
  const settleAll = async () => {
    const results = await Promise.allSettled(inFlight);
    const bad = results.find((x) => x.status === 'rejected');
    if (bad) throw bad.reason;
    inFlight = [];
    pendingIds.clear();
  };

  while (n < budget) {
    n++;
    const op = r.unit();
    if (op < 0.25) {
      const [id, fi] = genId(r, model);
      const [v, fv] = genVector(r, dims, cosine, storage);
      const faults = [...fi, ...fv];
      if (!fi.length && model.has(id)) faults.push('DUPLICATE_ID');
      if (busy()) faults.push('BUSY');
      const onlyBusy = faults.length === 1 && faults[0] === 'BUSY';
      const res = expectSync(`add(${String(id)})`, faults, () => index.add(id, v), onlyBusy);
      if (res.ok) model.set(id, true);
    } else if (op < 0.35) {
      const [id, fi] = genId(r, model);
      const faults = [...fi];
      if (!fi.length && !model.has(id)) faults.push('UNKNOWN_ID');
      if (busy()) faults.push('BUSY');
      const onlyBusy = faults.length === 1 && faults[0] === 'BUSY';
      const res = expectSync(`delete(${String(id)})`, faults, () => index.delete(id), onlyBusy);
      if (res.ok) model.delete(id);
    } else if (op < 0.6) {
      const [q, fq0] = genVector(r, dims, cosine, storage);
      const fq = fq0.filter((c) => c !== 'VALUE_TOO_LARGE'); // queries are not stored
      const live = model.size + pendingIds.size;
      let [k, fk] = genCount(r, 1, Math.max(1, live + 1), ['OUT_OF_RANGE', 'ZERO_K', 'K_TOO_LARGE']);
      if (r.chance(0.03)) [k, fk] = [1e9, ['K_TOO_LARGE']]; // once a trap: capacity overflow
      const efBad = r.chance(0.1);
      let ef = r.chance(0.5) ? undefined : efBad ? r.pick([0, -1, NaN, 2 ** 40, 'x']) : 1 + r.below(64);
      const faults = [...fq, ...fk];
      const mayCodes = []; // codes that may or may not come
      if (r.chance(0.15)) {
        // By target recall: needs a calibration; the target must be in (0, 1].
        const t = r.chance(0.8) ? 0.5 + r.unit() * 0.5 : r.pick([0, -0.1, 1.5, NaN, 'x']);
        ef = r.chance(0.9) ? { targetRecall: t } : { targetRecall: t, ef: 10 };
        if ('ef' in ef) faults.push('INVALID_OPTIONS');
        else if (typeof t !== 'number') faults.push('INVALID_ARGUMENT');
        else if (!(t > 0 && t <= 1)) faults.push('OUT_OF_RANGE');
        else if (!calibrated) (calibrating ? mayCodes : faults).push('NOT_CALIBRATED');
      } else if (efBad && ef !== undefined) {
        faults.push(typeof ef === 'string' ? 'INVALID_ARGUMENT' : 'OUT_OF_RANGE');
      }
      const filtered = r.chance(0.3);
      const allow = filtered ? Float64Array.from({ length: r.below(20) }, () => r.below(400)) : null;
      // k above the live count: K_TOO_LARGE; while a batch is half in, k may or may not fit.
      let maybe = mayCodes.length > 0;
      if (!fk.length && typeof k === 'number' && k > model.size) {
        if (k > live || !busy()) faults.push('K_TOO_LARGE');
        else maybe = true;
      }
      if (maybe) {
        calls++;
        try {
          filtered ? index.searchFiltered(q, k, allow, ef) : index.search(q, k, ef);
        } catch (e) {
          if (isTrap(e)) { traps++; throw new Failure(`search: TRAP ${e.message}`); }
          if (!['K_TOO_LARGE', ...mayCodes, ...faults].includes(e.code)) throw new Failure(`search: ${e.code} ${e.message}`);
        }
        continue;
      }
      const res = expectSync(`search(k=${String(k)})`, faults, () =>
        filtered ? index.searchFiltered(q, k, allow, ef) : index.search(q, k, ef));
      if (res.ok) {
        const ids = [...res.value.ids];
        const d = [...res.value.distances];
        if (!filtered && ids.length !== k) throw new Failure(`search returned ${ids.length} of k=${k}`);
        if (ids.length > k) throw new Failure('more than k results');
        for (const id of ids) {
          if (!model.has(id) && !pendingIds.has(id)) throw new Failure(`search returned ${id}, not in the index`);
          if (filtered && !allow.includes(id)) throw new Failure(`filtered search returned ${id}, not allowed`);
        }
        if (new Set(ids).size !== ids.length) throw new Failure('duplicate ids in results');
        for (let i = 1; i < d.length; i++) if (!(d[i - 1] <= d[i]) && !Number.isNaN(d[i])) throw new Failure('results out of order');
      }
    } else if (op < 0.72) {
      // addBatch, often left in flight while other calls go on.
      const count = r.pick([0, 1, 2, 5, 20, 60]);
      const ids = [];
      const vecs = new Float32Array(count * dims);
      const faults = [];
      for (let i = 0; i < count; i++) {
        ids.push(r.chance(0.03) && ids.length ? ids[0] : 1000 + r.below(100000));
        for (let j = 0; j < dims; j++) vecs[i * dims + j] = r.unit() * 2 - 1;
      }
      let idsArg = Float64Array.from(ids);
      let vecArg = vecs;
      const u = r.unit();
      const notArrays = WRONG_TYPES.filter((x) => !Array.isArray(x));
      if (u < 0.03) { idsArg = r.pick(notArrays); faults.push('INVALID_ARGUMENT'); }
      else if (u < 0.06) { vecArg = r.pick(notArrays); faults.push('INVALID_ARGUMENT'); }
      else if (u < 0.09 && count) { vecArg = vecs.subarray(1); faults.push('BATCH_SHAPE'); }
      else if (u < 0.12 && count) { vecArg = vecs.slice(); vecArg[r.below(vecArg.length)] = NaN; faults.push('NON_FINITE'); }
      else if (u < 0.15 && count) { idsArg = Float64Array.from(ids); idsArg[0] = -1; faults.push('INVALID_ID'); }
      else if (u < 0.2 && count && cosine) { vecArg = vecs.slice(); vecArg.fill(0, 0, dims); faults.push('ZERO_VECTOR'); }
      const throwAt = r.chance(0.15) ? 1 + r.below(3) : 0;
      const userError = new Error('from onProgress');
      let progressCalls = 0;
      const onProgress = (done, total) => {
        progressCalls++;
        if (done > total) throw new Failure('progress past total');
        // Calls from inside the callback: a sync mutation is BUSY, a search works.
        const inner = expectSync('add inside onProgress', ['BUSY', 'INVALID_ID', 'DUPLICATE_ID', 'DIMENSION_MISMATCH'], () => index.add(5, new Float32Array(dims).fill(1)));
        if (inner.ok) throw new Failure('add inside onProgress succeeded');
        if (throwAt && progressCalls === throwAt && done < total) throw userError;
      };
      const options = r.chance(0.5) ? onProgress : { onProgress, sliceMs: r.pick([0.01, 1, 8]) };
      const batchIds = [...ids];
      let detached = false;
      const p = (async () => {
        queued++;
        let outcome;
        try {
          if (opts.trace) console.log(`addBatch start ${batchIds.length}`);
          outcome = await index.addBatch(idsArg, vecArg, options);
        } catch (e) {
          outcome = e;
        } finally {
          queued--;
          if (opts.trace) console.log(`addBatch end ${outcome && outcome.code}`);
        }
        calls++;
        if (isTrap(outcome)) { traps++; throw new Failure(`addBatch: TRAP ${outcome.message}`); }
        // The model at this batch's turn: every earlier batch has settled.
        if (detached) faults.push('BATCH_SHAPE', 'INVALID_ARGUMENT');
        const dupInside = new Set(batchIds).size !== batchIds.length;
        const dupModel = batchIds.some((id) => model.has(id));
        const expected = [...faults];
        if (dupInside || dupModel) expected.push('DUPLICATE_ID');
        const threw = outcome === userError;
        if (threw) {
          if (expected.length) throw new Failure('onProgress ran for an invalid batch');
        } else if (outcome instanceof Error || (outcome && outcome.code)) {
          if (!expected.length || !expected.includes(outcome.code)) {
            throw new Failure(`addBatch: ${outcome.code} ${outcome.message} not in [${expected}]`);
          }
        } else {
          if (expected.length) throw new Failure(`addBatch succeeded despite [${expected}]`);
          if (outcome !== count) throw new Failure(`addBatch resolved ${outcome}, not ${count}`);
          for (const id of batchIds) model.set(id, true);
        }
      })();
      // Now and then the caller gives the vectors' buffer away (to a worker) while the batch is
      // in flight: a coded error, never a trap.
      if (count && vecArg instanceof Float32Array && vecArg.length && r.chance(0.04)) {
        structuredClone(vecArg.buffer, { transfer: [vecArg.buffer] });
        detached = true;
      }
      for (const id of batchIds) pendingIds.add(id);
      inFlight.push(p);
      // A persistent index applies a batch, then waits for it to be durable with the queue
      // handed on (the next operation may start, as after a synchronous add): the model cannot
      // tell when a batch in flight was applied, so those rounds settle each batch first.
      if (place || r.chance(0.5)) await settleAll();
    } else if (op < 0.76) {
      const res = expectSync('toBytes', [], () => {
        try { return index.toBytes(); } catch (e) { if (e.code === 'BUSY' && busy()) return null; throw e; }
      });
      if (res.value) {
        const back = elex.HnswIndex.fromBytes(res.value);
        if (!busy() && back.size !== model.size) throw new Failure(`fromBytes size ${back.size} != ${model.size}`);
        back.free();
      }
      const junk = r.pick([new Uint8Array(0), new Uint8Array(97), res.value ? res.value.slice(0, -1) : new Uint8Array(3), null, 'bytes']);
      expectSync('fromBytes(junk)', ['INVALID_ARGUMENT', 'TRUNCATED', 'BAD_MAGIC', 'CORRUPT', 'CHECKSUM_MISMATCH'], () => elex.HnswIndex.fromBytes(junk));
    } else if (op < 0.77) {
      // The sliced snapshot and restore (queued behind any batch in flight).
      queued++;
      const res = await expectAsync('snapshot', [], () => index.snapshot(r.chance(0.5) ? { sliceMs: 0.01 } : undefined)).finally(() => queued--);
      const back = await expectAsync('restore', [], () => elex.HnswIndex.restore(res.value, { sliceMs: 0.01 }));
      if (!busy() && back.value.size !== model.size) throw new Failure(`restore size ${back.value.size} != ${model.size}`);
      back.value.free();
      if (res.value.length > 100) {
        const bad = res.value.slice();
        bad[100 + r.below(bad.length - 100)] ^= 0x10;
        await expectAsync('restore(damaged)', ['CHECKSUM_MISMATCH', 'CORRUPT'], () => elex.HnswIndex.restore(bad));
      }
      await expectAsync('restore(junk)', ['INVALID_ARGUMENT'], () => elex.HnswIndex.restore(r.pick([null, 'x', [1, 2]])));
      if (r.chance(0.2)) {
        // The caller gives the bytes away while restore reads them: a coded error, never a trap.
        const copy = res.value.slice();
        await expectAsync('restore(detached)', ['TRUNCATED', 'INVALID_ARGUMENT'], () => {
          const p = elex.HnswIndex.restore(copy);
          structuredClone(copy.buffer, { transfer: [copy.buffer] });
          return p;
        });
      }
    } else if (op < 0.775) {
      queued++;
      calibrating++;
      const samples = r.chance(0.9) ? 1 + r.below(30) : r.pick([0, -1, 1e9, 'x']);
      const bad = !(Number.isInteger(samples) && samples >= 1 && samples <= 1e5);
      const res = await expectAsync('calibrate', bad ? [typeof samples === 'string' ? 'INVALID_ARGUMENT' : 'OUT_OF_RANGE'] : [], () =>
        index.calibrate({ samples, sliceMs: r.pick([0.01, 8]) })).finally(() => { queued--; calibrating--; });
      if (res.ok) calibrated = true;
    } else if (op < 0.78) {
      queued++;
      const res = await expectAsync('compact', [], () => index.compact(r.chance(0.5) ? { sliceMs: 0.01 } : undefined)).finally(() => queued--);
      if (res.ok && !busy() && index.deletedCount !== 0) throw new Failure('tombstones after compact');
    } else if (op < 0.8) {
      await settleAll();
      calls++;
      if (index.size !== model.size) throw new Failure(`size ${index.size} != model ${model.size}`);
      for (const id of model.keys()) if (!index.has(id)) throw new Failure(`lost id ${id}`);
    } else if (op < 0.82) {
      const bad = r.pick([{ dims: 0 }, { dims: -1 }, { dims: 1e9 }, { dims: 4, metric: 'x' }, { dims: 4, seed: -1 }, { dims: 4, m: 1 }, { dims: 4, bogus: 1 }, null, 7, { dims: '4' }]);
      expectSync('new HnswIndex(bad)', ['INVALID_OPTIONS'], () => new elex.HnswIndex(bad));
    } else if (op < 0.825 && elex.build === 'core') {
      // The core build keeps nothing: checkpoint is refused, flush and close do nothing.
      await expectAsync('checkpoint (in memory)', ['NOT_PERSISTENT'], () => index.checkpoint());
      await expectAsync('flush (in memory)', [], () => index.flush());
      if (index.persistent || index.readOnly || index.storageStats() !== null) throw new Failure('an in-memory index claims persistence');
    } else if (op < 0.825) {
      const bad = r.pick([{}, { dbName: '', name: 'a', dims: 2 }, { dbName: 'd', name: 'a' + r.below(1e9) }, { dbName: 'd', name: 'a', dims: 2, recover: 1 }, { dbName: 'd', name: 'a', dims: 2, checkpointShare: NaN }, { dbName: 'd', name: 'a', dims: 2, durability: 'x' }, { dbName: 7, name: 'a', dims: 2 }, null]);
      await expectAsync('HnswIndex.open(bad)', ['INVALID_OPTIONS'], () => elex.HnswIndex.open(bad));
    } else if (op < 0.845 && place) {
      const which = r.below(3);
      if (which === 0) {
        await expectAsync('flush', [], () => index.flush());
      } else if (which === 1) {
        await expectAsync('checkpoint', [], () => index.checkpoint());
      } else {
        // Close and reopen: the index comes back byte for byte.
        await settleAll();
        const before = index.toBytes();
        await expectAsync('close', [], () => index.close());
        expectSync('add after close', ['CLOSED', ...(dims ? [] : [])], () => index.add(1e6, new Float32Array(dims).fill(1)));
        index.free();
        index = await elex.HnswIndex.open({ ...place });
        calibrated = false; // a calibration is not persisted
        calls++;
        const after = index.toBytes();
        if (before.length !== after.length || before.some((b, i) => b !== after[i])) throw new Failure('a reopened index differs from the one closed');
        if (index.size !== model.size) throw new Failure(`reopened size ${index.size} != model ${model.size}`);
      }
    } else if (op < 0.85) {
      const t = new elex.HnswIndex({ dims: 2 });
      t.free();
      expectSync('freed.search', ['FREED'], () => t.search(new Float32Array(2), 1));
    } else {
      expectSync('memoryBytes', [], () => index.memoryBytes());
    }
  }
  await settleAll();
  calls++;
  if (index.size !== model.size) throw new Failure(`final size ${index.size} != model ${model.size}`);
  if (place) await index.close();
  index.free();
}

let persistRounds = 0;

// ---- BudgetedIndex ---------------------------------------------------------------------------

async function fuzzBudgeted(elex, r, budget) {
  const dims = 1 + r.below(8);
  const metric = r.pick(['cosine', 'l2', 'dot']);
  const cosine = metric === 'cosine';
  const storage = r.pick(['q4', 'i8', 'f32']);
  const place = { dbName: `fuzz-b-${elex.flavour}-${persistRounds++}`, name: 'b' };
  const options = { ...place, dims, metric, storage, m: 4 + r.below(8), efConstruction: 16 + r.below(40), seed: r.below(1000), precision: r.pick(['f32', 'f16']), rerank: 1 + r.below(30) };
  // A budget from tight (a few dozen vectors) to roomy.
  const budgetBytes = r.pick([20000, 60000, 400000, 4e6]);
  const opened = await expectAsync('BudgetedIndex.open', [], () => elex.BudgetedIndex.open({ ...options, budgetBytes }));
  let index = opened.value;
  const model = new Map();
  const check = () => {
    calls++;
    const m = index.memoryBytes();
    if (!(m <= index.budgetBytes)) throw new Failure(`memoryBytes ${m} above the budget ${index.budgetBytes} (minimum ${index.minimumBytes()}, dims ${dims}, ${storage}, ${JSON.stringify(index.stats())})`);
    if (index.size !== model.size) throw new Failure(`size ${index.size} != model ${model.size}`);
  };
  for (let n = 0; n < budget; n++) {
    const op = r.unit();
    if (op < 0.3) {
      const count = r.pick([0, 1, 3, 10, 40]);
      const ids = [];
      const vecs = new Float32Array(count * dims);
      for (let i = 0; i < count; i++) {
        ids.push(r.chance(0.03) && ids.length ? ids[0] : r.below(5000));
        for (let j = 0; j < dims; j++) vecs[i * dims + j] = r.unit() * 2 - 1;
      }
      let idsArg = Float64Array.from(ids);
      let vecArg = vecs;
      const faults = [];
      const u = r.unit();
      if (u < 0.04) { idsArg = r.pick([null, 'x', {}, 7]); faults.push('INVALID_ARGUMENT'); }
      else if (u < 0.08 && count) { vecArg = vecs.subarray(1); faults.push('BATCH_SHAPE'); }
      else if (u < 0.12 && count) { vecArg = vecs.slice(); vecArg[r.below(vecArg.length)] = NaN; faults.push('NON_FINITE'); }
      else if (u < 0.15 && count) { idsArg[0] = r.pick([-1, 2 ** 53 + 2, NaN]); faults.push('INVALID_ID'); }
      else if (u < 0.18 && count && cosine) { vecArg = vecs.slice(); vecArg.fill(0, 0, dims); faults.push('ZERO_VECTOR'); }
      // The validator reports the first fault it meets: a duplicate may come before another.
      if (new Set(ids).size !== ids.length || ids.some((id) => model.has(id))) faults.push('DUPLICATE_ID');
      calls++;
      let outcome;
      try {
        outcome = await index.addBatch(idsArg, vecArg, r.chance(0.5) ? { sliceMs: r.pick([0.01, 8]) } : undefined);
      } catch (e) {
        outcome = e;
      }
      if (isTrap(outcome)) { traps++; throw new Failure(`budgeted addBatch: TRAP ${outcome.message}`); }
      if (outcome instanceof Error) {
        // A valid batch may still outgrow the budget.
        const allowed = faults.length ? faults : ['BUDGET_TOO_SMALL'];
        if (!allowed.includes(outcome.code)) throw new Failure(`budgeted addBatch: ${outcome.code} ${outcome.message} not in [${allowed}]`);
      } else {
        if (faults.length) throw new Failure(`budgeted addBatch succeeded despite [${faults}]`);
        for (const id of ids) model.set(id, true);
      }
      check();
    } else if (op < 0.65) {
      const [q, fq0] = genVector(r, dims, cosine, 'f32');
      const fq = fq0.filter((c) => c !== 'VALUE_TOO_LARGE');
      let [k, fk] = genCount(r, 1, Math.max(1, model.size + 1), ['OUT_OF_RANGE', 'ZERO_K', 'K_TOO_LARGE']);
      const faults = [...fq, ...fk];
      if (!fk.length && k > model.size) faults.push('K_TOO_LARGE');
      let o;
      const u = r.unit();
      if (u < 0.3) o = { ef: 1 + r.below(64) };
      else if (u < 0.4) { o = { ef: r.pick([0, -1, NaN, 2 ** 40]) }; faults.push('OUT_OF_RANGE'); }
      else if (u < 0.45) { o = { bogus: 1 }; faults.push('INVALID_OPTIONS'); }
      else if (u < 0.6) o = { allow: Float64Array.from({ length: r.below(10) }, () => r.below(5000)) };
      const res = await expectAsync(`budgeted search(k=${String(k)})`, faults.length ? [...new Set(faults)] : [], () => index.search(q, k, o));
      if (res.ok) {
        const ids = [...res.value.ids];
        if (!o?.allow && ids.length !== k) throw new Failure(`budgeted search returned ${ids.length} of k=${k}`);
        for (const id of ids) {
          if (!model.has(id)) throw new Failure(`budgeted search returned ${id}, not in the index`);
          if (o?.allow && !o.allow.includes(id)) throw new Failure(`budgeted search returned ${id}, not allowed`);
        }
        const d = [...res.value.distances];
        for (let i = 1; i < d.length; i++) if (!(d[i - 1] <= d[i])) throw new Failure('budgeted results out of order');
      }
      check();
    } else if (op < 0.75) {
      const [id, fi] = genId(r, model);
      const faults = [...fi];
      if (!fi.length && !model.has(id)) faults.push('UNKNOWN_ID');
      const res = expectSync(`budgeted delete(${String(id)})`, faults, () => index.delete(id));
      if (res.ok) model.delete(id);
      check();
    } else if (op < 0.85) {
      const min = index.minimumBytes();
      const b = r.pick([min - 1, min, min + 5000, 4e6, -1, NaN, 2 ** 60, 'x']);
      const faults = typeof b === 'string' ? ['INVALID_ARGUMENT'] : !(Number.isInteger(b) && b >= 1 && b <= 2 ** 53) ? ['OUT_OF_RANGE'] : b < min ? ['BUDGET_TOO_SMALL'] : [];
      expectSync(`setBudget(${String(b)})`, faults, () => index.setBudget(b));
      check();
    } else if (op < 0.9) {
      // save() with its slice options: none, good ones, bad ones (a coded error, nothing
      // written), or an onProgress that throws (the save fails with that error). Inside the
      // callback a delete is BUSY. Whatever the save did, the reopened index holds the model.
      const userError = new Error('from onProgress');
      const throws = r.chance(0.15);
      const onProgress = (done, total) => {
        if (!(done > 0 && done <= total)) throw new Failure(`save progress ${done} of ${total}`);
        const inner = expectSync('budgeted delete inside save onProgress', ['BUSY'], () => index.delete(r.below(5000)));
        if (inner.ok) throw new Failure('delete inside save onProgress succeeded');
        if (throws) throw userError;
      };
      const u = r.unit();
      let saveOptions = undefined, faults = [];
      if (u < 0.3) saveOptions = r.pick([undefined, null]);
      else if (u < 0.6) saveOptions = r.chance(0.3) ? onProgress : { onProgress, sliceMs: r.pick([1e-6, 0.01, 8, Infinity]) };
      else if (u < 0.7) { saveOptions = { sliceMs: r.pick([0, -1, NaN, -Infinity]) }; faults = ['OUT_OF_RANGE']; }
      else if (u < 0.8) { saveOptions = r.pick([{ sliceMs: '5' }, { sliceMs: null }, { onProgress: 3 }, { onProgress: {} }]); faults = ['INVALID_ARGUMENT']; }
      else if (u < 0.9) { saveOptions = r.pick([7, 'x', true, { sliceMs: 1, typo: 1 }]); faults = ['INVALID_OPTIONS']; }
      else saveOptions = { onProgress, sliceMs: 1e-6 };
      const thrown = faults.length === 0 && throws && saveOptions !== undefined && saveOptions !== null;
      calls++;
      let outcome = null;
      try {
        await index.save(saveOptions);
      } catch (e) {
        outcome = e;
      }
      if (isTrap(outcome)) { traps++; throw new Failure(`budgeted save: TRAP ${outcome.message}`); }
      // A check that failed inside onProgress rejected the save with its own Failure: report that.
      if (outcome instanceof Failure) throw outcome;
      if (thrown) {
        if (outcome !== userError) throw new Failure(`budgeted save with a throwing onProgress: ${outcome && outcome.code} ${outcome && outcome.message}`);
      } else if (faults.length) {
        if (!outcome || !faults.includes(outcome.code)) throw new Failure(`budgeted save(${String(saveOptions)}): ${outcome ? outcome.code : 'succeeded'}, not [${faults}]`);
      } else if (outcome) {
        throw new Failure(`budgeted save: unexpected ${outcome.code} ${outcome.message}`);
      }
      // A failed save leaves the change log as it was: flush the deletes' records, then reopen.
      if (outcome) await expectAsync('budgeted flush', [], () => index.flush());
      index.close();
      // Another row store than the saved one, or none that exists: refused, nothing opened.
      const store = r.pick(['opfs', 'disk', 7, null]);
      await expectAsync(`BudgetedIndex reopen, rowStore ${String(store)}`, ['INVALID_OPTIONS'], () => elex.BudgetedIndex.open({ ...place, budgetBytes: 4e6, rowStore: store }));
      const again = await expectAsync('BudgetedIndex reopen', [], () => elex.BudgetedIndex.open({ ...place, budgetBytes: 4e6, rowStore: r.pick([undefined, 'indexeddb']) }));
      index.free();
      index = again.value;
      check();
    } else if (op < 0.92) {
      // A bundle out and back in, whole, damaged, cut or junk: a coded error or an equal index.
      const out = await expectAsync('exportBundle', [], () => index.exportBundle());
      let bytes = out.value;
      const u = r.unit();
      let faults = [];
      if (u < 0.2) { bytes = bytes.slice(); bytes[r.below(bytes.length)] ^= 1 << r.below(8); faults = ['CHECKSUM_MISMATCH', 'BAD_MAGIC', 'CORRUPT', 'UNSUPPORTED_VERSION', 'TOO_LARGE', 'TRUNCATED', 'OUT_OF_MEMORY']; }
      else if (u < 0.35) { bytes = bytes.slice(0, r.below(bytes.length)); faults = ['TRUNCATED', 'CHECKSUM_MISMATCH', 'CORRUPT']; }
      else if (u < 0.4) { bytes = r.pick([null, 7, 'x', {}]); faults = ['INVALID_ARGUMENT']; }
      const name = `imp-${n}-${r.below(1e9)}`;
      const res = await expectAsync('importBundle', faults, () => elex.BudgetedIndex.importBundle({ dbName: place.dbName, name, budgetBytes: 4e6 }, bytes));
      if (res.ok) {
        calls++;
        if (res.value.size !== model.size) throw new Failure(`imported size ${res.value.size} != ${model.size}`);
        res.value.close();
        res.value.free();
      }
      check();
    } else if (op < 0.95) {
      const bad = r.pick([null, {}, { dbName: 'd', name: 'n' }, { ...place, budgetBytes: -1 }, { ...place, dims: 2, budgetBytes: 1e6, keepF32: true }, { ...place, dims: 2, budgetBytes: 1e6, precision: 'f8' }, { dbName: 'd', name: 'z', dims: 0, budgetBytes: 1e6 }]);
      await expectAsync('BudgetedIndex.open(bad)', ['INVALID_OPTIONS', 'OUT_OF_RANGE', 'INVALID_ARGUMENT', 'NOT_FOUND', 'BUDGET_TOO_SMALL'], () => elex.BudgetedIndex.open(bad));
    } else {
      expectSync('budgeted stats', [], () => index.stats());
      check();
    }
  }
  index.close();
  index.free();
}

// ---- AdaptiveCache ---------------------------------------------------------------------------

function sameValue(a, b) {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i]);
  return JSON.stringify(a) === JSON.stringify(b);
}

let dbCounter = 0;
async function fuzzCache(elex, r, budget, tag) {
  const budgetBytes = 2000 + r.below(20000);
  const cache = await elex.AdaptiveCache.open({ budgetBytes, dbName: `fuzz-${tag}-${dbCounter++}`, policy: r.pick(['tinylfu', 's3fifo', 'lru']) });
  const model = new Map();
  for (let n = 0; n < budget; n++) {
    const op = r.unit();
    const key = r.chance(0.04) ? r.pick(WRONG_TYPES) : `k${r.below(60)}`;
    const keyFaults = typeof key === 'string' ? [] : ['INVALID_ARGUMENT'];
    if (op < 0.45) {
      let value;
      const faults = [...keyFaults];
      const u = r.unit();
      if (u < 0.5) value = Uint8Array.from({ length: r.below(300) }, () => r.below(256));
      else if (u < 0.8) value = { n: r.below(1000), tags: ['a', String(r.below(9))] };
      else if (u < 0.87) value = `text ${r.below(1e6)}`;
      else if (u < 0.93) { value = r.pick([() => 1, Symbol('x'), { f() {} }]); if (!keyFaults.length) faults.push('DATA_CLONE'); }
      else { value = new Uint8Array(budgetBytes + 10); if (!keyFaults.length) faults.push('ENTRY_TOO_LARGE'); }
      let bytes;
      if (r.chance(0.1)) {
        bytes = r.pick([-1, NaN, Infinity, 'x', 10, 1e300]);
        if (!keyFaults.length) {
          if (bytes === 'x') faults.push('INVALID_ARGUMENT');
          else if (bytes === 10) {
            // A valid size overrides the value's own: a large value then fits.
            const i = faults.indexOf('ENTRY_TOO_LARGE');
            if (i >= 0) faults.splice(i, 1);
          } else if (bytes === 1e300) faults.push('INVALID_SIZE', 'ENTRY_TOO_LARGE');
          else faults.push('INVALID_SIZE');
        }
      }
      const res = await expectAsync('cache.put', faults, () => cache.put(key, value, bytes));
      if (res.ok) model.set(key, value);
    } else if (op < 0.8) {
      const res = await expectAsync('cache.get', keyFaults, () => cache.get(key));
      if (res.ok) {
        const want = model.get(key);
        if (!sameValue(res.value, want)) throw new Failure(`cache.get(${key}) = ${JSON.stringify(res.value)}, model ${JSON.stringify(want)}`);
      }
    } else if (op < 0.9) {
      const res = await expectAsync('cache.delete', keyFaults, () => cache.delete(key));
      if (res.ok) {
        if (res.value !== model.has(key)) throw new Failure(`cache.delete(${key}) = ${res.value}`);
        model.delete(key);
      }
    } else if (op < 0.97) {
      const x = r.chance(0.3) ? r.pick([NaN, -0.1, 5, Infinity, 'x', null]) : r.unit();
      const faults = typeof x === 'number' && x >= 0 && x <= 1 ? [] : [typeof x === 'number' ? 'OUT_OF_RANGE' : 'INVALID_ARGUMENT'];
      await expectAsync('cache.relieve', faults, () => cache.relieve(x));
    } else {
      calls++;
      const s = cache.stats();
      if (cache.bytes > budgetBytes) throw new Failure('cache over budget');
      if (s.dropped !== 0) throw new Failure('cache dropped a value with a spill tier');
    }
  }
  cache.close();
  cache.free();
}

// ---- TextIndex and hybridSearch -------------------------------------------------------------

const WORDS = ['alpha', 'beta', 'gamma', 'Delta', 'running', 'runs', 'the', 'of', 'KeyError', 'é', '日本', 'x_y', '3.14', ''];

function genText(r) {
  const u = r.unit();
  if (u < 0.04) return [r.pick(WRONG_TYPES.filter((x) => typeof x !== 'string')), ['INVALID_ARGUMENT']];
  if (u < 0.06) return ['\u0000\uffff\ud800 ' + 'w'.repeat(r.below(200)), []];
  return [Array.from({ length: r.below(12) }, () => r.pick(WORDS)).join(r.pick([' ', ', ', '\n', '-'])), []];
}

async function fuzzText(elex, r, budget) {
  const options = r.pick([undefined, {}, { stem: false }, { stopWords: false, k1: 2, b: 0 }]);
  const t = new elex.TextIndex(options);
  const dims = 4;
  const v = new elex.HnswIndex({ dims });
  const vecIds = Array.from({ length: 30 }, (_, i) => i * 2);
  await v.addBatch(vecIds, new Float32Array(30 * dims).map(() => r.unit() + 0.1));
  const model = new Map(); // id -> terms
  const matches = (query) => {
    const q = new Set(t.terms(query));
    return [...model].filter(([, terms]) => terms.some((x) => q.has(x))).map(([id]) => id);
  };
  let inflight = null;
  for (let n = 0; n < budget; n++) {
    const op = r.unit();
    const busy = inflight !== null;
    if (op < 0.2) {
      const [id, idF] = genId(r, model);
      const [text, tF] = genText(r);
      let faults = idF.length ? idF : tF;
      if (!faults.length && busy) faults = ['BUSY'];
      if (!faults.length && model.has(id)) faults = ['DUPLICATE_ID'];
      const res = expectSync('text.add', faults, () => t.add(id, text));
      if (res.ok) model.set(id, t.terms(text));
    } else if (op < 0.32) {
      if (busy) await inflight;
      const count = r.below(40);
      const ids = Array.from({ length: count }, () => r.below(500));
      const texts = ids.map(() => genText(r)[0]);
      if (r.chance(0.5)) texts.forEach((x, i) => { if (typeof x !== 'string') texts[i] = 'plain'; });
      const shape = r.chance(0.05) ? texts.pop() : undefined;
      const dup = new Set(ids).size !== ids.length || ids.some((id) => model.has(id));
      const bad = texts.some((x) => typeof x !== 'string');
      const throwAt = r.chance(0.2) ? r.below(count + 1) : -1;
      const faults = [];
      if (bad) faults.push('INVALID_ARGUMENT');
      else if (shape !== undefined || texts.length !== ids.length) faults.push('BATCH_SHAPE');
      else if (dup) faults.push('DUPLICATE_ID');
      else if (throwAt >= 0) faults.push('THROWN');
      const pending = { ids, texts: texts.slice() };
      const p = expectAsync('text.addBatch', faults, () =>
        t.addBatch(ids, texts, {
          sliceMs: r.pick([0.01, 1, 8]),
          onProgress: (done) => {
            if (throwAt >= 0 && done >= throwAt) { const e = new Error('thrown'); e.code = 'THROWN'; throw e; }
          },
        }),
      ).then((res) => {
        if (res.ok) pending.ids.forEach((id, i) => model.set(id, t.terms(pending.texts[i])));
        inflight = null;
      });
      if (r.chance(0.3)) inflight = p;
      else await p;
    } else if (op < 0.4) {
      const [id, idF] = genId(r, model);
      let faults = idF;
      if (!faults.length && busy) faults = ['BUSY'];
      if (!faults.length && !model.has(id)) faults = ['UNKNOWN_ID'];
      const res = expectSync('text.delete', faults, () => t.delete(id));
      if (res.ok) model.delete(id);
    } else if (op < 0.7) {
      if (busy) await inflight;
      const [query, qF] = genText(r);
      const [k, kF] = genCount(r, 1, 60, ['OUT_OF_RANGE']);
      const filtered = r.chance(0.3);
      const allow = Array.from({ length: r.below(20) }, () => r.below(500));
      const faults = qF.length ? qF : kF;
      const res = expectSync('text.search', faults, () => (filtered ? t.searchFiltered(query, k, allow) : t.search(query, k)));
      if (res.ok) {
        let want = matches(query);
        if (filtered) want = want.filter((id) => allow.includes(id));
        const ids = Array.from(res.value.ids);
        if (ids.length !== Math.min(k, want.length)) throw new Failure(`text.search: ${ids.length} hits, model ${want.length} (k ${k})`);
        if (!ids.every((id) => want.includes(id))) throw new Failure('text.search: a hit the model lacks');
        const sc = Array.from(res.value.scores);
        if (!sc.every((x, i) => x > 0 && (i === 0 || x <= sc[i - 1]))) throw new Failure('text.search: scores not positive and descending');
      }
    } else if (op < 0.82) {
      if (busy) await inflight;
      const req = { k: r.below(12), text: genText(r)[0], vector: r.chance(0.8) ? new Float32Array(dims).map(() => r.unit()) : undefined };
      const faults = [];
      if (r.chance(0.15)) req.fusion = r.pick(['rrf', { alpha: r.unit() }, { rrf: 10 }, { alpha: 3 }, 'max', { alpha: 0.5, rrf: 1 }, null]);
      if (r.chance(0.1)) req.allow = Array.from({ length: r.below(10) }, () => r.below(100));
      if (r.chance(0.1)) req.depth = r.pick([1, 5, 200, -1, 0.5]);
      if (r.chance(0.1)) req.chunkBits = r.pick([0, 1, 3, 8, 9, -1, 2.5, '2', 2 ** 32, null]);
      const f = req.fusion;
      const cb = req.chunkBits;
      if (cb === 9 || cb === -1 || cb === 2.5 || cb === 2 ** 32) faults.push('OUT_OF_RANGE');
      if (cb === '2') faults.push('INVALID_ARGUMENT');
      if (typeof req.text !== 'string' && req.text !== undefined) faults.push('INVALID_ARGUMENT');
      if (req.text === undefined && req.vector === undefined) faults.push('INVALID_ARGUMENT');
      if (req.k === 0) faults.push('OUT_OF_RANGE');
      if (f === 'max' || f === null) faults.push('INVALID_ARGUMENT');
      if (f && f.alpha === 3) faults.push('OUT_OF_RANGE');
      if (f && f.alpha === 0.5 && f.rrf === 1) faults.push('INVALID_OPTIONS');
      if (req.depth === -1 || req.depth === 0.5) faults.push('OUT_OF_RANGE');
      const res = expectSync('hybridSearch', faults, () => elex.hybridSearch(v, t, req));
      if (res.ok) {
        const ids = Array.from(res.value.ids);
        if (ids.length > req.k) throw new Failure('hybridSearch: more than k');
        // With chunkBits the vector index's ids are chunks of documents id >> bits.
        const bits = typeof cb === 'number' ? cb : 0;
        const known = new Set([...vecIds.map((id) => Math.floor(id / 2 ** bits)), ...model.keys()]);
        if (!ids.every((id) => known.has(id) && (!req.allow || req.allow.includes(id)))) throw new Failure('hybridSearch: an id from nowhere');
        if (new Set(ids).size !== ids.length) throw new Failure('hybridSearch: an id twice');
      }
    } else if (op < 0.9) {
      if (busy) await inflight;
      const bytes = t.toBytes();
      const damaged = r.chance(0.5);
      if (damaged) bytes[r.below(bytes.length)] ^= 1 << r.below(8);
      const res = expectSync('TextIndex.fromBytes', damaged ? ['CHECKSUM_MISMATCH', 'BAD_MAGIC', 'UNSUPPORTED_VERSION', 'TRUNCATED', 'CORRUPT'] : [], () => elex.TextIndex.fromBytes(bytes));
      if (res.ok) {
        if (res.value.size !== model.size) throw new Failure('fromBytes: size differs');
        res.value.free();
      }
    } else if (op < 0.95) {
      await expectAsync('text.compact', [], () => t.compact({ sliceMs: r.pick([0.01, 8]) }));
      if (r.chance(0.5)) {
        const snap = await expectAsync('text.snapshot', [], () => t.snapshot());
        const back = await expectAsync('TextIndex.restore', [], () => elex.TextIndex.restore(snap.value));
        if (back.value.size !== t.size) throw new Failure('restore: size differs');
        back.value.free();
      }
    } else {
      calls++;
      if (!busy && t.size !== model.size) throw new Failure(`text.size ${t.size}, model ${model.size}`);
      for (const id of [...model.keys()].slice(0, 5)) if (!t.has(id)) throw new Failure(`text.has(${id}) false`);
    }
  }
  if (inflight) await inflight;
  t.free();
  v.free();
}

// ---- QLearner --------------------------------------------------------------------------------

async function fuzzLearner(elex, r, budget) {
  const S = 1 + r.below(30);
  const A = 1 + r.below(8);
  const alpha = 0.1 + r.unit() * 0.8;
  const gamma = r.unit() * 0.99;
  const learner = new elex.QLearner(S, A, alpha, gamma, r.below(1000));
  const q = new Float64Array(S * A);
  for (let n = 0; n < budget; n++) {
    const op = r.unit();
    if (op < 0.35) {
      const len = r.below(6);
      const cols = { s: [], a: [], rw: [], ns: [], d: [] };
      for (let i = 0; i < len; i++) {
        cols.s.push(r.below(S)); cols.a.push(r.below(A)); cols.rw.push(r.unit() * 2 - 1);
        cols.ns.push(r.below(S)); cols.d.push(r.chance(0.2) ? 1 : 0);
      }
      const faults = [];
      const u = r.unit();
      if (u < 0.05 && len) { cols.s[0] = S + r.below(5); faults.push('STATE_OUT_OF_RANGE'); }
      else if (u < 0.1 && len) { cols.a[0] = A; faults.push('ACTION_OUT_OF_RANGE'); }
      else if (u < 0.13 && len) { cols.rw[0] = NaN; faults.push('NON_FINITE_REWARD'); }
      else if (u < 0.16 && len) { cols.s[0] = -1; faults.push('OUT_OF_RANGE'); }
      else if (u < 0.19 && len) { cols.d.pop(); faults.push('BATCH_SHAPE'); }
      else if (u < 0.21) { cols.s = null; faults.push('INVALID_ARGUMENT'); }
      // A negative state only survives as a plain Array (a Uint32Array would wrap it).
      const states = cols.s === null ? null : cols.s.includes(-1) ? cols.s : Uint32Array.from(cols.s);
      const res = expectSync('updateBatch', faults, () => learner.updateBatch(
        states, Uint32Array.from(cols.a), Float32Array.from(cols.rw), Uint32Array.from(cols.ns), Uint8Array.from(cols.d)));
      if (res.ok) {
        for (let i = 0; i < len; i++) {
          let max = -Infinity;
          for (let b = 0; b < A; b++) max = Math.max(max, q[cols.ns[i] * A + b]);
          const target = Math.fround(cols.rw[i]) + gamma * max * (1 - cols.d[i]);
          const k = cols.s[i] * A + cols.a[i];
          q[k] += alpha * (target - q[k]);
        }
      }
    } else if (op < 0.6) {
      const [s, fs] = genCount(r, 0, S - 1, ['OUT_OF_RANGE']);
      const [a, fa] = genCount(r, 0, A - 1, ['OUT_OF_RANGE']);
      const res = expectSync('value', [...fs, ...fa], () => learner.value(s, a));
      if (res.ok && Math.abs(res.value - q[s * A + a]) > 1e-3 * (1 + Math.abs(q[s * A + a]))) {
        throw new Failure(`value(${s},${a}) = ${res.value}, model ${q[s * A + a]}`);
      }
    } else if (op < 0.75) {
      const [s, fs] = genCount(r, 0, S - 1, ['OUT_OF_RANGE']);
      const eps = r.chance(0.1) ? r.pick([NaN, -1, 2]) : r.unit();
      const faults = [...fs];
      if (!(eps >= 0 && eps <= 1)) faults.push('OUT_OF_RANGE');
      const res = expectSync('act', faults, () => learner.act(s, eps));
      if (res.ok && !(res.value >= 0 && res.value < A)) throw new Failure(`act returned ${res.value}`);
    } else if (op < 0.9) {
      const [cap, fc] = r.chance(0.1) ? [r.pick([-1, 2 ** 32, 1e12, NaN]), ['OUT_OF_RANGE']] : [r.below(8), []];
      const res = expectSync('new TransitionBatch', fc, () => new elex.TransitionBatch(cap));
      if (!res.ok) continue;
      const tb = res.value;
      const len = r.chance(0.15) ? cap + 1 + r.below(3) : r.below(cap + 1);
      const rows = [];
      const st = tb.states, ac = tb.actions, rw = tb.rewards, ns = tb.nextStates, dn = tb.dones;
      for (let i = 0; i < cap; i++) {
        rows.push([r.below(S), r.below(A), r.unit() * 2 - 1, r.below(S), r.chance(0.2) ? 1 : 0]);
        [st[i], ac[i], rw[i], ns[i], dn[i]] = rows[i];
      }
      const res2 = expectSync('updateFrom', len > cap ? ['BATCH_SHAPE'] : [], () => learner.updateFrom(tb, len));
      if (res2.ok) {
        for (let i = 0; i < len; i++) {
          const [s, a, rew, nx, d] = rows[i];
          let max = -Infinity;
          for (let b = 0; b < A; b++) max = Math.max(max, q[nx * A + b]);
          const k = s * A + a;
          q[k] += alpha * (Math.fround(rew) + gamma * max * (1 - d) - q[k]);
        }
      }
      tb.free();
    } else {
      const bad = r.pick([[-1, 2], [2 ** 32, 2], [0, 1], [1, 0], [1e6, 1e6], [NaN, 2], ['3', 2]]);
      const faults = typeof bad[0] === 'string' ? ['INVALID_ARGUMENT'] : ['OUT_OF_RANGE', 'INVALID_TABLE'];
      expectSync('new QLearner(bad)', faults, () => new elex.QLearner(bad[0], bad[1], 0.5, 0.9, 1));
    }
  }
  learner.free();
}

// ---- main ------------------------------------------------------------------------------------

let failures = 0;
const runs = [];
for (const load of [init, initCore]) for (const simd of [true, false]) runs.push([load, simd]);
for (const [load, simd] of runs) {
  const elex = await load({ simd });
  const name = `${elex.flavour}${elex.build === 'core' ? ' core' : ''}`;
  const r = rng(SEED + (simd ? 0n : 1n) + (elex.build === 'core' ? 2n : 0n));
  const start = calls;
  let round = 0;
  try {
    while (calls - start < CALLS) {
      round++;
      const which = r.unit();
      if (elex.build === 'core') {
        // The index and text rounds (the classes the core build has), in the full mix's ratio.
        if (which < 0.45 / 0.55) await fuzzIndex(elex, r, 50 + r.below(400));
        else await fuzzText(elex, r, 50 + r.below(300));
        continue;
      }
      if (which < 0.45) await fuzzIndex(elex, r, 50 + r.below(400));
      else if (which < 0.55) await fuzzBudgeted(elex, r, 30 + r.below(150));
      else if (which < 0.65) await fuzzText(elex, r, 50 + r.below(300));
      else if (which < 0.8) await fuzzCache(elex, r, 20 + r.below(100), elex.flavour);
      else await fuzzLearner(elex, r, 20 + r.below(200));
    }
    console.log(`ok   ${name}: ${calls - start} calls in ${round} rounds, seed ${SEED}, 0 traps`);
  } catch (e) {
    failures++;
    found.set(name, e.message);
    console.log(`FAIL ${name}: after ${calls - start} calls (seed ${SEED}, round ${round}): ${e.stack}`);
  }
}
console.log(`fuzz: ${calls} calls, ${traps} traps`);
console.log(`${runs.length - failures} passed, ${failures} failed`);
if (failures) process.exit(1);
