// The built package from Node ESM (imported by its own name through the exports map), both
// flavours, with fake-indexeddb standing in for IndexedDB (the browser tests use the real one).
import 'fake-indexeddb/auto';
import assert from 'node:assert/strict';
import test from 'node:test';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, simdSupported, relaxedSimdSupported } from 'elex';

function rng(seed) {
  let s = BigInt(seed);
  return () => {
    s = (s + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
    let z = s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
    return Number((z ^ (z >> 31n)) >> 11n) / 2 ** 53;
  };
}

function vectors(n, dims, seed) {
  const r = rng(seed);
  const v = new Float32Array(n * dims);
  for (let i = 0; i < v.length; i++) v[i] = r() * 2 - 1;
  return v;
}

function bruteCosine(base, dims, q, k) {
  const n = base.length / dims;
  const qn = Math.hypot(...q);
  const s = [];
  for (let i = 0; i < n; i++) {
    let d = 0, bn = 0;
    for (let j = 0; j < dims; j++) { d += base[i * dims + j] * q[j]; bn += base[i * dims + j] ** 2; }
    s.push([d / (Math.sqrt(bn) * qn), i]);
  }
  s.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  return s.slice(0, k).map((x) => x[1]);
}

/** A SearchResult's ids and scores, comparable with deepEqual. */
const plain = (r) => ({ ids: [...r.ids], scores: [...r.scores] });

assert.equal(await simdSupported(), true, 'Node 18+ runs simd128');

for (const simd of [true, false]) {
  const elex = await init({ simd });
  const tag = elex.flavour;
  assert.equal(tag, simd ? 'simd' : 'scalar');

  await test(`${tag}: addBatch with progress, then search at recall >= 0.95 against brute force`, async () => {
    const dims = 32, n = 3000, k = 10;
    const base = vectors(n, dims, 1);
    const idx = new elex.HnswIndex({ dims, metric: 'cosine', seed: 3 });
    const progress = [];
    const added = await idx.addBatch(Float64Array.from({ length: n }, (_, i) => i), base, (d, t) => progress.push([d, t]));
    assert.equal(added, n);
    assert.equal(idx.size, n);
    assert.deepEqual(progress.at(-1), [n, n]);
    assert.ok(progress.length >= 2, 'progress reported per chunk');
    const queries = vectors(50, dims, 2);
    let hits = 0;
    for (let qi = 0; qi < 50; qi++) {
      const q = queries.subarray(qi * dims, (qi + 1) * dims);
      const r = idx.search(q, k, 100);
      assert.ok(r.ids instanceof Float64Array && r.scores instanceof Float32Array);
      const truth = new Set(bruteCosine(base, dims, q, k));
      hits += [...r.ids].filter((id) => truth.has(id)).length;
    }
    assert.ok(hits / (50 * k) >= 0.95, `recall ${hits / (50 * k)}`);
    const allow = Float64Array.from([5, 10, 15, 20]);
    const f = idx.searchFiltered(queries.subarray(0, dims), 3, allow);
    assert.ok([...f.ids].every((id) => allow.includes(id)));
    idx.delete(5);
    assert.equal(idx.size, n - 1);
    assert.ok(idx.memoryBytes() > n * dims * 4);
  });

  await test(`${tag}: q4 storage keeps 4-bit codes (a fraction of f32's memory) and re-ranks with keepF32`, async () => {
    const dims = 64, n = 2000, k = 10;
    const base = vectors(n, dims, 11);
    const ids = Float64Array.from({ length: n }, (_, i) => i);
    const mem = {};
    for (const [name, opts] of [['f32', {}], ['q4', { storage: 'q4' }], ['q4+f32', { storage: 'q4', keepF32: true }]]) {
      const idx = new elex.HnswIndex({ dims, seed: 3, ...opts });
      await idx.addBatch(ids, base);
      mem[name] = idx.memoryBytes();
      const queries = vectors(40, dims, 12);
      let hits = 0;
      for (let qi = 0; qi < 40; qi++) {
        const q = queries.subarray(qi * dims, (qi + 1) * dims);
        const truth = new Set(bruteCosine(base, dims, q, k));
        hits += [...idx.search(q, k, 100).ids].filter((id) => truth.has(id)).length;
      }
      const recall = hits / (40 * k);
      // Codes alone rank coarsely; re-ranked over the exact copies they match f32.
      assert.ok(recall >= (name === 'q4' ? 0.6 : 0.95), `${name}: recall ${recall}`);
      const back = elex.HnswIndex.fromBytes(idx.toBytes());
      assert.deepEqual(plain(back.search(queries.subarray(0, dims), k)), plain(idx.search(queries.subarray(0, dims), k)));
    }
    // 32 code bytes + 8 per vector against 256 (in wasm the f32 index also keeps i8 codes to
    // walk on, 64 + 8): the vectors' part shrinks 6.4x (links stay).
    assert.ok(mem.q4 < mem.f32 * 0.6, JSON.stringify(mem));
    // keepF32 adds the f32 copies to the codes.
    assert.ok(mem['q4+f32'] - mem.q4 >= n * dims * 4, JSON.stringify(mem));
  });

  await test(`${tag}: search by targetRecall after calibrate(), refreshed when addBatch doubles the index`, async () => {
    const dims = 24, n = 2000, k = 10;
    const base = vectors(2 * n + 200, dims, 21);
    const idx = new elex.HnswIndex({ dims, metric: 'cosine', seed: 5, m: 6, efConstruction: 40 });
    await idx.addBatch(Float64Array.from({ length: n }, (_, i) => i), base.subarray(0, n * dims));
    const q = base.subarray((2 * n) * dims, (2 * n + 1) * dims);
    assert.equal(idx.calibration(), undefined);
    assert.throws(() => idx.search(q, k, { targetRecall: 0.95 }), (e) => e.code === 'NOT_CALIBRATED');
    const seen = [];
    const c = await idx.calibrate({ samples: 100, onProgress: (d) => seen.push(d), sliceMs: 2 });
    assert.equal(seen.at(-1), 1);
    assert.ok(seen.length >= 2, 'calibration yields between slices');
    assert.deepEqual([c.samples, c.k, c.size, c.stale], [100, 10, n, false]);
    assert.ok(c.distanceEvals >= 100 * n, 'one brute-force pass per sample at least');
    assert.ok(c.points.every(([ef, r], i) => ef >= 10 && r >= 0 && r <= 1 && (i === 0 || ef > c.points[i - 1][0])));
    // The search uses the ef where the line between the measured points around the target
    // reaches it (rounded up), which is what search(q, k, ef) gives.
    const ef = (t) => {
      const i = c.points.findIndex(([, r]) => r >= t);
      if (i < 0) return Math.max(k, c.points.at(-1)[0]);
      if (i === 0) return Math.max(k, c.points[0][0]);
      const [[e0, r0], [e1, r1]] = [c.points[i - 1], c.points[i]];
      const step = Math.min(e1 - e0, Math.max(1, Math.ceil(((t - r0) / (r1 - r0)) * (e1 - e0) - 1e-9)));
      return Math.max(k, e0 + step);
    };
    for (const t of [0.5, 0.9, 0.99]) {
      assert.deepEqual(plain(idx.search(q, k, { targetRecall: t })), plain(idx.search(q, k, ef(t))));
    }
    // 0.9 falls between two measured points here, and over 50 queries its interpolated ef gives
    // what that ef gives, which is not what the next measured ef gives.
    const e9 = ef(0.9), above = c.points.find(([e]) => e > e9)[0];
    assert.ok(!c.points.some(([e]) => e === e9), `ef ${e9} for 0.9 is interpolated`);
    let differs = false;
    for (let i = 0; i < 50; i++) {
      const qq = base.subarray((2 * n + 100 + i) * dims, (2 * n + 101 + i) * dims);
      const got = plain(idx.search(qq, k, { targetRecall: 0.9 }));
      assert.deepEqual(got, plain(idx.search(qq, k, e9)));
      differs ||= JSON.stringify(got) !== JSON.stringify(plain(idx.search(qq, k, above)));
    }
    assert.ok(differs, `ef ${e9} and ef ${above} give other results somewhere`);
    // Held-out recall at the 0.9 target is near it or above.
    let hits = 0;
    for (let i = 0; i < 100; i++) {
      const qq = base.subarray((2 * n + 100 + i) * dims, (2 * n + 101 + i) * dims);
      const truth = new Set(bruteCosine(base.subarray(0, n * dims), dims, qq, k));
      hits += [...idx.search(qq, k, { targetRecall: 0.9 }).ids].filter((id) => truth.has(id)).length;
    }
    assert.ok(hits / (100 * k) >= 0.87, `held-out recall ${hits / (100 * k)} at target 0.9`);
    for (const bad of [0, 1.5, NaN, -1]) {
      assert.throws(() => idx.search(q, k, { targetRecall: bad }), (e) => e instanceof RangeError);
    }
    assert.throws(() => idx.search(q, k, { targetRecall: 0.9, ef: 50 }), (e) => e.code === 'INVALID_OPTIONS');
    assert.throws(() => idx.search(q, k, { tagetRecall: 0.9 }), (e) => e.code === 'INVALID_OPTIONS');
    assert.deepEqual(plain(idx.search(q, k, { ef: 77 })), plain(idx.search(q, k, 77)));
    await assert.rejects(idx.calibrate({ samples: -1 }), (e) => e instanceof RangeError);
    // Doubling the index makes the calibration stale; the addBatch that does it makes it again.
    await idx.addBatch(Float64Array.from({ length: n }, (_, i) => n + i), base.subarray(n * dims, 2 * n * dims));
    const again = idx.calibration();
    assert.deepEqual([again.size, again.samples, again.stale], [2 * n, 100, false]);
  });

  await test(`${tag}: errors are Errors with stable codes`, async () => {
    const idx = new elex.HnswIndex({ dims: 4 });
    assert.throws(() => idx.add(1, new Float32Array(3)), (e) => e instanceof RangeError && e.code === 'DIMENSION_MISMATCH');
    assert.throws(() => idx.add(1.5, new Float32Array([1, 0, 0, 0])), (e) => e.code === 'INVALID_ID');
    assert.throws(() => idx.delete(9), (e) => e.code === 'UNKNOWN_ID');
    assert.throws(() => new elex.HnswIndex({ dims: 4, metric: 'manhattan' }), (e) => e.code === 'INVALID_OPTIONS');
    assert.throws(() => new elex.HnswIndex({ dims: 4, bogus: 1 }), (e) => e instanceof TypeError && e.code === 'INVALID_OPTIONS');
    assert.throws(() => elex.HnswIndex.fromBytes(new Uint8Array([1, 2, 3])), (e) => typeof e.code === 'string');
    await assert.rejects(idx.addBatch(Float64Array.from([1, 2]), new Float32Array([1, 0, 0, 0, NaN, 0, 0, 0])), (e) => e.code === 'NON_FINITE');
    assert.equal(idx.size, 0, 'a rejected batch adds nothing');
  });

  await test(`${tag}: search results are plain objects that hold no wasm memory`, async () => {
    const dims = 16, n = 200, k = 50;
    const base = vectors(n, dims, 8);
    const idx = new elex.HnswIndex({ dims, seed: 2 });
    await idx.addBatch(Float64Array.from({ length: n }, (_, i) => i), base);
    const text = new elex.TextIndex();
    await text.addBatch(Float64Array.from([1, 2]), ['brown fox', 'lazy dog']);
    const q = base.subarray(0, dims);
    for (const r of [idx.search(q, k), idx.searchFiltered(q, 3, [1, 2, 3]), text.search('fox', 2),
      elex.hybridSearch(idx, text, { vector: q, text: 'fox', k: 2 })]) {
      assert.equal(Object.getPrototypeOf(r), Object.prototype);
      assert.ok(r.ids instanceof Float64Array && r.scores instanceof Float32Array && r.distances instanceof Float32Array);
      assert.equal(r.length, r.ids.length);
      assert.deepEqual(structuredClone(r), r, 'a result posts to a worker as it is');
    }
    const r = idx.search(q, k);
    assert.equal(r.ids[0], 0);
    assert.equal(r.length, k);
    // Each result owns its arrays: the next search and freeing the index leave it as it was.
    const ids = [...r.ids];
    idx.search(base.subarray(dims, 2 * dims), k);
    // A synchronous loop of searches (whose results are dropped at once) leaves the wasm
    // memory as it was: results registered with a finalizer would keep their memory until the
    // cleanup tasks run, after the loop (wasm memory never shrinks).
    const wasm = await elex.default();
    const before = wasm.memory.buffer.byteLength;
    for (let i = 0; i < 50000; i++) idx.search(q, k);
    assert.equal(wasm.memory.buffer.byteLength, before);
    idx.free();
    assert.deepEqual([...r.ids], ids);
  });

  await test(`${tag}: toBytes/fromBytes and IndexedDB save/load`, async () => {
    const dims = 8;
    const idx = new elex.HnswIndex({ dims, metric: 'l2', storage: 'f16', seed: 9 });
    await idx.addBatch(Float64Array.from({ length: 200 }, (_, i) => i * 2), vectors(200, dims, 4));
    const q = vectors(1, dims, 5);
    const bytes = idx.toBytes();
    assert.deepEqual([...elex.HnswIndex.fromBytes(bytes).search(q, 5).ids], [...idx.search(q, 5).ids]);
    await idx.save(`node-${tag}`, 'v1');
    const back = await elex.HnswIndex.load(`node-${tag}`, 'v1');
    assert.deepEqual([...back.search(q, 5).ids], [...idx.search(q, 5).ids]);
    await assert.rejects(elex.HnswIndex.load(`node-${tag}`, 'nope'), (e) => e.code === 'NOT_FOUND');
  });

  await test(`${tag}: AdaptiveCache spills to IndexedDB and reloads, within budget`, async () => {
    const cache = await elex.AdaptiveCache.open({ budgetBytes: 4000, dbName: `cache-${tag}` });
    for (let i = 0; i < 100; i++) {
      await cache.put(`k${i}`, new Uint8Array(100).fill(i));
      assert.ok(cache.bytes <= 4000);
    }
    await cache.put('doc', { title: 'x', tags: ['a', 'b'] });
    const s = cache.stats();
    assert.ok(s.spilled > 50 && s.dropped === 0 && s.pending === 0, JSON.stringify(s));
    for (let i = 0; i < 100; i++) {
      const v = await cache.get(`k${i}`);
      assert.ok(v instanceof Uint8Array && v.length === 100 && v[0] === i, `k${i}`);
    }
    assert.deepEqual(await cache.get('doc'), { title: 'x', tags: ['a', 'b'] });
    assert.equal(await cache.get('absent'), undefined);
    assert.equal(await cache.delete('k3'), true);
    assert.equal(await cache.get('k3'), undefined);
    const r = await cache.relieve(0.96);
    assert.equal(r.share, 0.5);
    assert.ok(r.bytes > 0);
    assert.ok(cache.stats().reloads > 50);
    await assert.rejects(cache.put('huge', new Uint8Array(10_000)), (e) => e.code === 'ENTRY_TOO_LARGE');
  });

  await test(`${tag}: QLearner batch update, act, save/load`, async () => {
    const q = new elex.QLearner(10, 4, 0.5, 0.9, 1);
    q.updateBatch(Uint32Array.from([0, 1]), Uint32Array.from([2, 3]), Float32Array.from([1, -1]), Uint32Array.from([1, 2]), Uint8Array.from([0, 1]));
    assert.ok(q.value(0, 2) > 0);
    await q.save(`ql-${tag}`, 'a');
    const back = await elex.QLearner.load(`ql-${tag}`, 'a');
    assert.equal(back.value(0, 2), q.value(0, 2));
  });
}

await test('init() picks the relaxed build exactly where relaxed SIMD runs correctly, else simd; a bad flavour is a coded error', async () => {
  const relaxed = await relaxedSimdSupported();
  // Node 20 validates relaxed SIMD only behind --experimental-wasm-relaxed-simd (and then computes
  // other results, which the probe rejects); the browser test covers the relaxed build.
  if (/^v20\./.test(process.version)) assert.equal(relaxed, false);
  assert.equal((await init()).flavour, relaxed ? 'relaxed' : 'simd');
  await assert.rejects(init({ flavour: 'fast' }), (e) => e.code === 'INVALID_ARGUMENT' && /flavour must be one of relaxed, simd, scalar/.test(e.message));
  // Any other value rejects (never throws), and its message stays short.
  const huge = new Array(1e6).fill('simd');
  for (const bad of [null, NaN, -1, 2 ** 32, 2 ** 53, huge, { toString() { throw new Error('no'); } }, 'x'.repeat(1e6)]) {
    const p = init({ flavour: bad });
    await assert.rejects(p, (e) => e.code === 'INVALID_ARGUMENT' && e.message.length < 120, String(typeof bad));
  }
  assert.equal((await init({ flavour: 'simd', simd: false })).flavour, 'simd', 'flavour wins over simd');
});

await test('README lists every error code the bindings and the loader can raise', async () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const files = [
    ...readdirSync(join(root, 'crates/elex-wasm/src')).map((f) => join(root, 'crates/elex-wasm/src', f)),
    ...readdirSync(join(root, 'crates/elex-wasm/js')).map((f) => join(root, 'crates/elex-wasm/js', f)),
    ...['index.js', 'worker.js', 'worker-client.js'].map((f) => join(root, 'www/src', f)),
  ];
  const codes = new Set();
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(/["']([A-Z][A-Z0-9_]+)["']/g)) codes.add(m[1]);
  }
  assert.ok(codes.size > 40, `found ${codes.size} codes`);
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('### Error codes'), readme.indexOf('## The index'));
  const missing = [...codes].filter((c) => !table.includes(`\`${c}\``));
  assert.deepEqual(missing, [], 'codes missing from the README table');
});

await test('a cosine batch with underflowing or overflowing squares goes in whole (no half-applied batch)', async () => {
  const elex = await init();
  const dims = 8, n = 4500;
  const idx = new elex.HnswIndex({ dims, seed: 1 });
  const v = vectors(n, dims, 31);
  for (let j = 0; j < dims; j++) { v[4400 * dims + j] = 1e-40; v[4401 * dims + j] = 3e38; }
  assert.equal(await idx.addBatch(Float64Array.from({ length: n }, (_, i) => i), v, { sliceMs: 2 }), n);
  assert.equal(idx.size, n);
  // Both are the direction (1, ..., 1): either is the nearest to the other.
  const near = [...idx.search(v.subarray(4401 * dims, 4402 * dims), 2).ids].sort();
  assert.deepEqual(near, [4400, 4401]);
  // The same batch with one NaN at the end adds nothing.
  const idx2 = new elex.HnswIndex({ dims, seed: 1 });
  v[(n - 1) * dims] = NaN;
  await assert.rejects(idx2.addBatch(Float64Array.from({ length: n }, (_, i) => i), v), (e) => e.code === 'NON_FINITE');
  assert.equal(idx2.size, 0);
  // search(q, 1e9) and search(q, -1) are errors, and the index still takes writes.
  assert.throws(() => idx.search(v.subarray(0, dims), 1e9), (e) => e.code === 'K_TOO_LARGE');
  assert.throws(() => idx.search(v.subarray(0, dims), -1), (e) => e instanceof RangeError && e.code === 'OUT_OF_RANGE');
  idx.delete(3);
  assert.equal(idx.size, n - 1);
});
