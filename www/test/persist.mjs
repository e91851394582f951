// Persistent indexes (HnswIndex.open) from the built package in Node, both flavours, over
// fake-indexeddb (the browser tests in www/test/persist-browser.mjs use Chromium's real one, with
// two tabs and crashes). Reopened indexes are compared with the writer byte for byte.
// Run: node --test-reporter=tap www/test/persist.mjs
import 'fake-indexeddb/auto';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { init } from 'elex';
import { rng } from '../bench/text/core.mjs';

function vectors(n, dims, seed) {
  const r = rng(seed);
  const v = new Float32Array(n * dims);
  for (let i = 0; i < v.length; i++) v[i] = r() * 2 - 1;
  return v;
}

let dbCount = 0;
const fresh = () => `persist-${process.pid}-${dbCount++}`;

/** Raw records of a database (to damage them). */
function raw(dbName, store, mutate) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(dbName);
    req.onsuccess = () => {
      const db = req.result;
      const tx = db.transaction(store, 'readwrite');
      const os = tx.objectStore(store);
      const c = os.openCursor();
      const keys = [];
      c.onsuccess = () => {
        const cur = c.result;
        if (!cur) return;
        keys.push(cur.key);
        const next = mutate(cur.key, cur.value);
        if (next === null) cur.delete();
        else if (next !== undefined) cur.update(next);
        cur.continue();
      };
      tx.oncomplete = () => { db.close(); resolve(keys); };
      tx.onerror = () => reject(tx.error);
    };
    req.onerror = () => reject(req.error);
  });
}

const same = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

for (const simd of [true, false]) {
  const flavour = simd ? 'simd' : 'scalar';
  const elexP = init({ simd });

  test(`${flavour}: adds, deletes, batches and a compaction survive a reopen, byte for byte`, async () => {
    const elex = await elexP;
    const dbName = fresh();
    const opts = { dbName, name: 'docs', dims: 16, storage: 'i8', keepF32: true, seed: 5 };
    const a = await elex.HnswIndex.open(opts);
    assert.equal(a.persistent, true);
    assert.equal(a.readOnly, false);
    const v = vectors(300, 16, 1);
    for (let i = 0; i < 40; i++) a.add(i, v.subarray(i * 16, (i + 1) * 16));
    await a.addBatch(Float64Array.from({ length: 200 }, (_, i) => 100 + i), v.subarray(40 * 16, 240 * 16));
    a.delete(3);
    a.delete(150);
    await a.flush();
    await a.compact();
    for (let i = 240; i < 260; i++) a.add(1000 + i, v.subarray(i * 16, (i + 1) * 16));
    await a.flush();
    const before = a.toBytes();
    const stats = a.storageStats();
    assert.ok(stats.nextSeq >= 4, JSON.stringify(stats));
    await a.close();
    assert.throws(() => a.add(5000, v.subarray(0, 16)), (e) => e.code === 'CLOSED');
    const b = await elex.HnswIndex.open({ dbName, name: 'docs' });
    assert.equal(b.size, a.size);
    assert.ok(same(b.toBytes(), before), 'the reopened index equals the writer');
    assert.equal(b.recovered, null);
    // Another name in the same database is another index.
    const c = await elex.HnswIndex.open({ dbName, name: 'other', dims: 4 });
    assert.equal(c.size, 0);
    await b.close();
    await c.close();
  });

  test(`${flavour}: a checkpoint folds the log; writes go on during it; the next open reads pages then log`, async () => {
    const elex = await elexP;
    const dbName = fresh();
    const a = await elex.HnswIndex.open({ dbName, name: 'i', dims: 32, checkpointShare: Infinity });
    const v = vectors(600, 32, 2);
    await a.addBatch(Float64Array.from({ length: 400 }, (_, i) => i), v.subarray(0, 400 * 32));
    const g0 = a.storageStats().generation;
    const cp = a.checkpoint();
    // Synchronous writes while the checkpoint writes its pages: accepted, logged after it.
    for (let i = 400; i < 420; i++) a.add(i, v.subarray(i * 32, (i + 1) * 32));
    await cp;
    const s = a.storageStats();
    assert.equal(s.generation, g0 + 1);
    for (let i = 420; i < 450; i++) a.add(i, v.subarray(i * 32, (i + 1) * 32));
    await a.flush();
    const before = a.toBytes();
    await a.close();
    // Only the new generation's pages are left; the log holds what came after the copy.
    const pages = await raw(dbName, 'pages', () => undefined);
    assert.ok(pages.every((k) => k[1] === g0 + 1), JSON.stringify(pages));
    const b = await elex.HnswIndex.open({ dbName, name: 'i' });
    assert.ok(same(b.toBytes(), before));
    await b.close();
  });

  test(`${flavour}: checkpoints start by themselves as the log grows`, async () => {
    const elex = await elexP;
    const dbName = fresh();
    const a = await elex.HnswIndex.open({ dbName, name: 'auto', dims: 64, checkpointShare: 0.25 });
    const v = vectors(6000, 64, 3);
    for (let i = 0; i < 6000; i++) {
      a.add(i, v.subarray(i * 64, (i + 1) * 64));
      if (i % 50 === 49) await a.flush();
    }
    await a.flush();
    const s = a.storageStats();
    assert.ok(s.checkpoints >= 1, JSON.stringify(s));
    await a.checkpoint();
    const before = a.toBytes();
    await a.close();
    const b = await elex.HnswIndex.open({ dbName, name: 'auto' });
    assert.ok(same(b.toBytes(), before));
    await b.close();
  });

  test(`${flavour}: a damaged log record is DATA_LOST naming it; recover keeps the intact prefix`, async () => {
    const elex = await elexP;
    const dbName = fresh();
    const a = await elex.HnswIndex.open({ dbName, name: 'x', dims: 8, checkpointShare: Infinity });
    const v = vectors(10, 8, 4);
    const states = [];
    for (let i = 0; i < 10; i++) {
      a.add(i, v.subarray(i * 8, (i + 1) * 8));
      await a.flush();
      states.push(a.toBytes());
    }
    await a.close();
    // Record seqs start after the first checkpoint's; damage the 6th of the 10.
    const keys = await raw(dbName, 'log', () => undefined);
    assert.equal(keys.length, 10);
    const bad = keys[5][1];
    await raw(dbName, 'log', (k, val) => {
      if (k[1] !== bad) return undefined;
      const copy = new Uint8Array(val);
      copy[copy.length - 1] ^= 1;
      return copy;
    });
    await assert.rejects(elex.HnswIndex.open({ dbName, name: 'x' }), (e) => {
      assert.equal(e.code, 'DATA_LOST');
      assert.match(e.message, new RegExp(`log record ${bad} cannot be replayed.*5 stored record`));
      return true;
    });
    const b = await elex.HnswIndex.open({ dbName, name: 'x', recover: true });
    assert.deepEqual(b.recovered, { lost: 5, firstLost: bad });
    assert.ok(same(b.toBytes(), states[4]), 'the state after the 5 intact records');
    // Writes continue the intact log; the next open is clean.
    b.add(100, v.subarray(0, 8));
    await b.flush();
    const after = b.toBytes();
    await b.close();
    const c = await elex.HnswIndex.open({ dbName, name: 'x' });
    assert.equal(c.recovered, null);
    assert.ok(same(c.toBytes(), after));
    await c.close();
  });

  test(`${flavour}: a damaged page or manifest is CORRUPT naming it, never a half-loaded index`, async () => {
    const elex = await elexP;
    const dbName = fresh();
    const a = await elex.HnswIndex.open({ dbName, name: 'p', dims: 8 });
    await a.addBatch(Float64Array.from({ length: 50 }, (_, i) => i), vectors(50, 8, 5));
    await a.checkpoint();
    await a.close();
    await raw(dbName, 'pages', (k, val) => {
      const copy = new Uint8Array(val);
      copy[100] ^= 4;
      return copy;
    });
    await assert.rejects(elex.HnswIndex.open({ dbName, name: 'p' }), (e) => {
      assert.equal(e.code, 'CORRUPT');
      assert.match(e.message, /page 0 of 1 of checkpoint generation \d+ is damaged: checksum mismatch/);
      return true;
    });
    await raw(dbName, 'meta', (k, val) => {
      const copy = new Uint8Array(val);
      copy[20] ^= 1;
      return copy;
    });
    await assert.rejects(elex.HnswIndex.open({ dbName, name: 'p' }), (e) => e.code === 'CORRUPT' && /the manifest is damaged/.test(e.message));
  });

  test(`${flavour}: bad open options are typed errors; stored settings win and must agree`, async () => {
    const elex = await elexP;
    const dbName = fresh();
    const bad = [
      [{}, 'INVALID_OPTIONS'],
      [{ dbName, name: '' , dims: 3 }, 'INVALID_OPTIONS'],
      [{ dbName, name: 'n' }, 'INVALID_OPTIONS'], // a new index needs dims
      [{ dbName, name: 'n', dims: 3, recover: 'yes' }, 'INVALID_OPTIONS'],
      [{ dbName, name: 'n', dims: 3, checkpointShare: -1 }, 'INVALID_OPTIONS'],
      [{ dbName, name: 'n', dims: 3, durability: 'fast' }, 'INVALID_OPTIONS'],
      [{ dbName, name: 'n', dims: 3, dimz: 3 }, 'INVALID_OPTIONS'],
      [{ dbName, name: 'n', dims: -1 }, 'INVALID_OPTIONS'],
      [null, 'INVALID_OPTIONS'],
    ];
    for (const [o, code] of bad) {
      await assert.rejects(elex.HnswIndex.open(o), (e) => e.code === code, JSON.stringify(o));
    }
    const a = await elex.HnswIndex.open({ dbName, name: 'n', dims: 3, metric: 'l2' });
    a.add(1, [1, 2, 3]);
    await a.close();
    await assert.rejects(elex.HnswIndex.open({ dbName, name: 'n', dims: 4 }), (e) => e.code === 'INVALID_OPTIONS' && /dims 3/.test(e.message));
    const b = await elex.HnswIndex.open({ dbName, name: 'n', dims: 3 });
    assert.equal(b.size, 1);
    await b.close();
    // An in-memory index: flush is immediate, checkpoint refuses.
    const m = new elex.HnswIndex({ dims: 3 });
    await m.flush();
    assert.equal(m.persistent, false);
    assert.equal(m.storageStats(), null);
    await assert.rejects(m.checkpoint(), (e) => e.code === 'NOT_PERSISTENT');
  });

  test(`${flavour}: a batch larger than the log's share is made durable by a checkpoint, with writes queued behind it`, async () => {
    const elex = await elexP;
    const dbName = fresh();
    const a = await elex.HnswIndex.open({ dbName, name: 'big', dims: 384, efConstruction: 16, m: 8 });
    const n = 3000; // 4.6 MB of vectors: past the 4 MB floor and half the snapshot
    const v = vectors(n + 2, 384, 6);
    const before = a.storageStats();
    const big = a.addBatch(Float64Array.from({ length: n }, (_, i) => i), v.subarray(0, n * 384));
    const next = a.addBatch([n], v.subarray(n * 384, (n + 1) * 384)); // queued behind it
    assert.equal(await big, n);
    assert.equal(await next, 1);
    const after = a.storageStats();
    assert.equal(after.generation, before.generation + 1, JSON.stringify(after));
    assert.ok(after.logBytes < 100000, `the big batch is in the checkpoint, not the log: ${after.logBytes}`);
    const bytes = a.toBytes();
    await a.close();
    const b = await elex.HnswIndex.open({ dbName, name: 'big' });
    assert.ok(same(b.toBytes(), bytes));
    await b.close();
  });

  test(`${flavour}: a rejected batch logs nothing and the index takes writes after it`, async () => {
    const elex = await elexP;
    const dbName = fresh();
    const a = await elex.HnswIndex.open({ dbName, name: 'b', dims: 4 });
    a.add(1, [1, 0, 0, 0]);
    await assert.rejects(a.addBatch([2, 1], [0, 1, 0, 0, 0, 0, 1, 0]), (e) => e.code === 'DUPLICATE_ID');
    await assert.rejects(a.addBatch([2, 3], [0, 1, 0, 0, 0, 0, 1, 0], () => { throw new Error('stop'); }), /stop/);
    a.add(2, [0, 1, 0, 0]);
    await a.flush();
    const before = a.toBytes();
    await a.close();
    const b = await elex.HnswIndex.open({ dbName, name: 'b' });
    assert.equal(b.size, 2);
    assert.ok(same(b.toBytes(), before));
    await b.close();
  });
}

for (const simd of [true, false]) {
  const flavour = simd ? 'simd' : 'scalar';
  const elexP = init({ simd });

  test(`${flavour}: QLearner.open logs updates and actions; a reopen is byte-identical`, async () => {
    const elex = await elexP;
    const dbName = fresh();
    const shape = { states: 12, actions: 3, alpha: 0.5, gamma: 0.9, seed: 7 };
    const q = await elex.QLearner.open({ dbName, name: 'policy', ...shape, checkpointShare: Infinity });
    assert.equal(q.persistent, true);
    assert.equal(q.readOnly, false);
    const r = rng(3);
    const pick = (n) => Math.floor(r() * n);
    for (let round = 0; round < 30; round++) {
      const n = 1 + pick(20);
      const s = Uint32Array.from({ length: n }, () => pick(12));
      const a = Uint32Array.from({ length: n }, () => pick(3));
      const rw = Float32Array.from({ length: n }, () => r() * 2 - 1);
      const s2 = Uint32Array.from({ length: n }, () => pick(12));
      const d = Uint8Array.from({ length: n }, () => (r() < 0.1 ? 1 : 0));
      q.updateBatch(s, a, rw, s2, d);
      q.act(pick(12), 0.3); // advances the exploration RNG: logged too
      if (round % 5 === 4) await q.flush();
      if (round === 15) await q.checkpoint();
    }
    // A bad batch changes nothing and logs nothing.
    assert.throws(() => q.updateBatch([99], [0], [1], [0], [0]), (e) => e.code === 'STATE_OUT_OF_RANGE');
    await q.flush();
    const before = q.toBytes();
    await q.close();
    assert.throws(() => q.act(0, 0), (e) => e.code === 'CLOSED');
    const back = await elex.QLearner.open({ dbName, name: 'policy' });
    assert.ok(same(back.toBytes(), before), 'the reopened learner equals the writer');
    // The next action draws from the same RNG state.
    assert.equal(back.act(1, 1), elex.QLearner.fromBytes(before).act(1, 1));
    await back.close();
    await assert.rejects(elex.QLearner.open({ dbName, name: 'new-one' }), (e) => e.code === 'INVALID_OPTIONS');
    await assert.rejects(elex.QLearner.open({ dbName, name: 'x', ...shape, bogus: 1 }), (e) => e.code === 'INVALID_OPTIONS');
    await assert.rejects(elex.QLearner.open({ dbName, name: 'x', ...shape, states: -1 }), (e) => e.code === 'OUT_OF_RANGE' || e.code === 'INVALID_ARGUMENT');
    const m = new elex.QLearner(4, 2, 0.5, 0.9, 1);
    await m.flush();
    await assert.rejects(m.checkpoint(), (e) => e.code === 'NOT_PERSISTENT');
  });
}

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'KeyError', 'fox', 'dog', 'the', 'of', 'runs', 'é', '日本'];

for (const simd of [true, false]) {
  const flavour = simd ? 'simd' : 'scalar';
  const elexP = init({ simd });

  test(`${flavour}: TextIndex.open logs adds, batches and deletes; a reopen answers every query the same`, async () => {
    const elex = await elexP;
    const dbName = fresh();
    const t = await elex.TextIndex.open({ dbName, name: 'notes', checkpointShare: Infinity });
    assert.equal(t.persistent, true);
    const r = rng(9);
    const text = () => Array.from({ length: 1 + Math.floor(r() * 8) }, () => WORDS[Math.floor(r() * WORDS.length)]).join(' ');
    let next = 0;
    for (let round = 0; round < 40; round++) {
      const op = r();
      if (op < 0.4) t.add(next++, text());
      else if (op < 0.7) {
        const n = Math.floor(r() * 6);
        await t.addBatch(Float64Array.from({ length: n }, (_, i) => next + i), Array.from({ length: n }, text));
        next += n;
      } else {
        const live = [...Array(next).keys()].filter((i) => t.has(i));
        if (live.length) t.delete(live[Math.floor(r() * live.length)]);
      }
      if (round === 20) await t.checkpoint();
      if (round % 7 === 6) await t.flush();
    }
    await t.flush();
    const answers = (ix) => WORDS.map((w) => { const res = ix.search(w, 1000); return [w, Array.from(res.ids), Array.from(res.scores)]; });
    const before = answers(t);
    const size = t.size;
    await t.close();
    assert.throws(() => t.add(1e6, 'x'), (e) => e.code === 'CLOSED');
    const back = await elex.TextIndex.open({ dbName, name: 'notes' });
    assert.equal(back.size, size);
    assert.deepEqual(answers(back), before);
    await back.close();
    // Stored options win; contradicting ones are refused.
    const s = await elex.TextIndex.open({ dbName, name: 'stemmed', stem: true });
    s.add(1, 'running dogs');
    await s.close();
    const s2 = await elex.TextIndex.open({ dbName, name: 'stemmed' });
    assert.equal(s2.search('run', 1).ids[0], 1);
    await s2.close();
    await assert.rejects(elex.TextIndex.open({ dbName, name: 'stemmed', stem: false }), (e) => e.code === 'INVALID_OPTIONS');
    await assert.rejects(elex.TextIndex.open({ dbName, name: 'x', bogus: 1 }), (e) => e.code === 'INVALID_OPTIONS');
    await assert.rejects(new elex.TextIndex().checkpoint(), (e) => e.code === 'NOT_PERSISTENT');
  });

  test(`${flavour}: a persistent text index and vector index answer hybrid queries after a reopen`, async () => {
    const elex = await elexP;
    const dbName = fresh();
    const docs = ['the quick brown fox', 'a KeyError was raised', 'lazy dogs sleep', 'foxes and dogs'];
    const vecs = vectors(4, 8, 11);
    const v = await elex.HnswIndex.open({ dbName, name: 'v', dims: 8 });
    const t = await elex.TextIndex.open({ dbName, name: 't' });
    await v.addBatch([0, 1, 2, 3], vecs);
    await t.addBatch([0, 1, 2, 3], docs);
    const q = { vector: vecs.subarray(8, 16), text: 'KeyError', k: 2 };
    const before = elex.hybridSearch(v, t, q);
    await v.close();
    await t.close();
    const v2 = await elex.HnswIndex.open({ dbName, name: 'v' });
    const t2 = await elex.TextIndex.open({ dbName, name: 't' });
    const after = elex.hybridSearch(v2, t2, q);
    assert.deepEqual(Array.from(after.ids), Array.from(before.ids));
    assert.equal(after.ids[0], 1);
    await v2.close();
    await t2.close();
  });
}

test('read-write transactions run one at a time per database: a checkpoint\'s pages, log records and a learner beside them', async () => {
  // Killed with two of elex's read-write transactions of one database uncommitted on disk,
  // Chromium deleted the whole backing store on the next start (idb.js, transaction()). So no
  // read-write transaction may start while another runs.
  const elex = await init();
  const dbName = fresh();
  const proto = globalThis.IDBDatabase.prototype;
  const original = proto.transaction;
  const events = [];
  let next = 0;
  proto.transaction = function (store, mode, options) {
    const tx = original.call(this, store, mode, options);
    if (mode === 'readwrite' && this.name === dbName) {
      const id = next++;
      let started = false;
      const objectStore = tx.objectStore.bind(tx);
      tx.objectStore = (name) => {
        const os = objectStore(name);
        for (const k of ['put', 'delete', 'get']) {
          const f = os[k].bind(os);
          os[k] = (...a) => {
            const r = f(...a);
            r.addEventListener('success', () => { if (!started) { started = true; events.push(['start', id]); } });
            return r;
          };
        }
        return os;
      };
      tx.addEventListener('complete', () => events.push(['end', id]));
      tx.addEventListener('abort', () => events.push(['end', id]));
    }
    return tx;
  };
  try {
    const a = await elex.HnswIndex.open({ dbName, name: 'i', dims: 32, checkpointShare: Infinity, pageBytes: 4096 });
    const q = await elex.QLearner.open({ dbName, name: 'q', states: 8, actions: 2, alpha: 0.5, gamma: 0.9, seed: 1 });
    const v = vectors(500, 32, 9);
    await a.addBatch(Float64Array.from({ length: 300 }, (_, i) => i), v.subarray(0, 300 * 32));
    const cp = a.checkpoint();
    const writes = [];
    for (let i = 300; i < 500; i++) {
      a.add(i, v.subarray(i * 32, (i + 1) * 32));
      if (i % 20 === 19) { writes.push(a.flush()); q.updateBatch([i % 8], [i % 2], [1], [(i + 1) % 8], [0]); writes.push(q.flush()); }
    }
    await Promise.all([cp, ...writes]);
    await a.close();
    await q.close();
  } finally {
    proto.transaction = original;
  }
  const started = events.filter((e) => e[0] === 'start').length;
  assert.ok(started > 30, `only ${started} read-write transactions seen`);
  let running = null;
  for (const [what, id] of events) {
    if (what === 'start') {
      assert.equal(running, null, `read-write transaction ${id} started while ${running} ran`);
      running = id;
    } else if (running === id) {
      running = null;
    }
  }
});

test('a database the browser reports deleting (dataLoss "total") is DATA_LOST, not a silent empty index', async () => {
  const elex = await init();
  const dbName = fresh();
  // Chromium deletes a backing store it finds corrupt and says so in the upgrade event; here
  // the event of the next open says so.
  const real = globalThis.indexedDB;
  const faking = {
    open(name, version) {
      const req = real.open(name, version);
      return new Proxy(req, {
        set(target, prop, value) {
          if (prop === 'onupgradeneeded' && typeof value === 'function') {
            target.onupgradeneeded = (ev) => {
              Object.defineProperty(ev, 'dataLoss', { value: 'total' });
              Object.defineProperty(ev, 'dataLossMessage', { value: 'IndexedDB (database was corrupt): Unknown corruption' });
              return value(ev);
            };
            return true;
          }
          target[prop] = value;
          return true;
        },
        get(target, prop) {
          const v = target[prop];
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    },
  };
  globalThis.indexedDB = faking;
  try {
    await assert.rejects(elex.HnswIndex.open({ dbName, name: 'i', dims: 4 }), (e) => {
      assert.equal(e.code, 'DATA_LOST');
      assert.match(e.message, /the browser deleted IndexedDB database .*Unknown corruption/);
      return true;
    });
    const fresh = await elex.HnswIndex.open({ dbName: `${dbName}-2`, name: 'i', dims: 4, recover: true });
    assert.equal(fresh.size, 0);
    assert.equal(fresh.recovered.browserDataLoss, 'total: IndexedDB (database was corrupt): Unknown corruption');
    await fresh.close();
  } finally {
    globalThis.indexedDB = real;
  }
});

// Budgeted indexes (BudgetedIndex.open): codes and links in wasm memory, exact rows in
// IndexedDB, a hot set under the rest of the budget.
for (const simd of [true, false]) {
  const flavour = simd ? 'simd' : 'scalar';
  const elexP = init({ simd });

  test(`${flavour}: a budgeted index answers what an index keeping f32 copies answers, within its budget, and reopens`, async () => {
    const elex = await elexP;
    const dims = 48, n = 1200, ef = 40, k = 10;
    const base = vectors(n, dims, 21);
    const ids = Float64Array.from({ length: n }, (_, i) => i * 2 + 1);
    const reference = new elex.HnswIndex({ dims, storage: 'q4', keepF32: true, seed: 4, m: 8, efConstruction: 64 });
    await reference.addBatch(ids, base);
    const dbName = fresh();
    const opts = { dbName, name: 'docs', dims, seed: 4, m: 8, efConstruction: 64, rerank: ef };
    // Measure the codes' size, then give the hot set room for about 50 rows.
    const probe = await elex.BudgetedIndex.open({ ...opts, name: 'probe', budgetBytes: 1e9 });
    await probe.addBatch(ids, base);
    const min = probe.minimumBytes();
    probe.close();
    const budget = min + 50 * (dims * 4 + 64);
    const b = await elex.BudgetedIndex.open({ ...opts, budgetBytes: budget });
    const progress = [];
    assert.equal(await b.addBatch(ids, base, (d, t) => progress.push([d, t])), n);
    assert.deepEqual(progress.at(-1), [n, n]);
    assert.equal(b.size, n);
    const queries = vectors(30, dims, 22);
    const plain = (r) => ({ ids: [...r.ids], scores: [...r.scores] });
    for (let i = 0; i < 30; i++) {
      const q = queries.subarray(i * dims, (i + 1) * dims);
      const want = plain(reference.search(q, k, ef));
      const got = await b.search(q, k, { ef });
      assert.deepEqual(plain(got), want, `query ${i}`);
      assert.ok(b.memoryBytes() <= budget, `${b.memoryBytes()} > ${budget}`);
    }
    const s = b.stats();
    assert.equal(s.queries, 30);
    assert.equal(s.hotHits + s.rowsRead, 30 * ef);
    assert.equal(s.bytesRead, s.rowsRead * dims * 4);
    assert.ok(s.rowsRead > 0, 'a hot set of 50 rows cannot hold every candidate');
    // Filtered.
    const allow = Float64Array.from(ids.filter((id) => id % 3 === 0));
    const f = await b.search(queries.subarray(0, dims), 5, { ef, allow });
    assert.ok([...f.ids].every((id) => id % 3 === 0));
    // Bad arguments are typed errors and change nothing.
    await assert.rejects(b.search(queries.subarray(0, dims), -1), (e) => e.code === 'INVALID_ARGUMENT' || e instanceof RangeError);
    await assert.rejects(b.search(queries.subarray(1, dims), 3), (e) => e.code === 'DIMENSION_MISMATCH');
    await assert.rejects(b.search(queries.subarray(0, dims), 3, { ef: 0 }), (e) => e instanceof RangeError);
    await assert.rejects(b.search(queries.subarray(0, dims), n + 1), (e) => e.code === 'K_TOO_LARGE');
    await assert.rejects(b.search(queries.subarray(0, dims), 3, { typo: 1 }), (e) => e.code === 'INVALID_OPTIONS');
    const bad = vectors(5, dims, 23);
    bad[dims + 3] = NaN;
    await assert.rejects(b.addBatch(Float64Array.from([9000, 9001, 9002, 9003, 9004]), bad), (e) => e.code === 'NON_FINITE');
    assert.equal(b.size, n);
    // A batch the budget cannot hold: refused whole, with the budget it needs.
    const more = vectors(600, dims, 24);
    const moreIds = Float64Array.from({ length: 600 }, (_, i) => 10000 + i);
    let need = 0;
    await assert.rejects(b.addBatch(moreIds, more), (e) => {
      need = Number(/at least (\d+)/.exec(e.message)?.[1]);
      return e.code === 'BUDGET_TOO_SMALL' && e instanceof RangeError;
    });
    assert.equal(b.size, n);
    assert.ok(b.memoryBytes() <= budget);
    assert.throws(() => b.setBudget(b.minimumBytes() - 1), (e) => e.code === 'BUDGET_TOO_SMALL');
    b.setBudget(need + 50 * (dims * 4 + 64));
    assert.equal(await b.addBatch(moreIds, more), 600);
    b.delete(1);
    assert.throws(() => b.delete(1), (e) => e.code === 'UNKNOWN_ID');
    const q0 = queries.subarray(0, dims);
    const before = plain(await b.search(q0, k, { ef }));
    assert.ok(!before.ids.includes(1));
    await b.save();
    b.close();
    // Reopened from the saved codes and the rows in IndexedDB: the same answers.
    const again = await elex.BudgetedIndex.open({ dbName, name: 'docs', budgetBytes: need * 2 });
    assert.equal(again.size, n + 599);
    assert.deepEqual(plain(await again.search(q0, k, { ef: 40 })), before);
    // Too small a budget to open is refused with the minimum.
    await assert.rejects(elex.BudgetedIndex.open({ dbName, name: 'docs', budgetBytes: 1000 }), (e) => e.code === 'BUDGET_TOO_SMALL' && /at least \d+/.test(e.message));
    await assert.rejects(elex.BudgetedIndex.open({ dbName, name: 'nothing', budgetBytes: 1e6 }), (e) => e.code === 'NOT_FOUND');
    await assert.rejects(elex.BudgetedIndex.open({ dbName, name: 'x', dims: 4, budgetBytes: 1e6, keepF32: true }), (e) => e.code === 'INVALID_OPTIONS');
    again.close();
  });

  test(`${flavour}: a budgeted index saves in steps of about a megabyte (onProgress, the event loop turns between steps), and its bundle is built the same way`, async () => {
    const elex = await elexP;
    // q4 codes (192 bytes), links and ids: a snapshot of about 2.5 MB.
    const dims = 384, n = 9000;
    const base = vectors(n, dims, 51);
    const ids = Float64Array.from({ length: n }, (_, i) => i);
    const dbName = fresh();
    const b = await elex.BudgetedIndex.open({ dbName, name: 'big', dims, metric: 'l2', precision: 'f16', m: 4, efConstruction: 16, seed: 7, budgetBytes: 1e9 });
    await b.addBatch(ids, base);
    // Counts turns of the event loop (elex yields with setImmediate in Node).
    let ticks = 0, spinning = true;
    const spin = () => { ticks++; if (spinning) setImmediate(spin); };
    spin();
    const seen = [];
    try {
      await b.save({ onProgress: (done, total) => seen.push([done, total, ticks]), sliceMs: 1e-6 });
    } finally {
      spinning = false;
    }
    const total = seen.at(-1)[1];
    assert.ok(total > 2 ** 21, `a snapshot of ${total} bytes`);
    assert.ok(seen.length >= 3, `${seen.length} steps`);
    assert.equal(seen.at(-1)[0], total);
    for (let i = 1; i < seen.length; i++) {
      const step = seen[i][0] - seen[i - 1][0];
      assert.ok(step > 0 && step <= 2 ** 20 + 1024, `step ${i}: ${step} bytes`);
      assert.ok(seen[i][2] > seen[i - 1][2], `step ${i}: the event loop turned before it`);
    }
    // Bad options are typed errors.
    await assert.rejects(b.save({ sliceMs: -1 }), (e) => e.code === 'OUT_OF_RANGE');
    await assert.rejects(b.save({ sliceMs: 5, typo: 1 }), (e) => e.code === 'INVALID_OPTIONS');
    await assert.rejects(b.save({ onProgress: 3 }), (e) => typeof e.code === 'string');
    const q = base.subarray(5 * dims, 6 * dims);
    const want = [...(await b.search(q, 10, { ef: 20 })).ids];
    // An onProgress that throws after the first step fails the save with its error, midway;
    // the index goes on, and the last good save (with the change log) still reopens whole.
    const stop = new Error('stop here');
    let steps = 0;
    await assert.rejects(b.save({ onProgress: () => { if (++steps === 2) throw stop; }, sliceMs: 1e-6 }), (e) => e === stop);
    assert.equal(steps, 2);
    assert.deepEqual([...(await b.search(q, 10, { ef: 20 })).ids], want);
    await b.addBatch(Float64Array.of(n), base.subarray(9 * dims, 10 * dims));
    await b.delete(n);
    await b.flush();
    const after = [...(await b.search(q, 10, { ef: 20 })).ids];
    const bundle = await b.exportBundle();
    b.close();
    // What was saved reopens; the bundle (its snapshot written in steps into the bundle's
    // array) imports to the same answers.
    const again = await elex.BudgetedIndex.open({ dbName, name: 'big', budgetBytes: 1e9 });
    assert.equal(again.size, n);
    assert.deepEqual([...(await again.search(q, 10, { ef: 20 })).ids], after);
    again.close();
    const copy = await elex.BudgetedIndex.importBundle({ dbName, name: 'copy', budgetBytes: 1e9 }, bundle);
    assert.deepEqual([...(await copy.search(q, 10, { ef: 20 })).ids], after);
    copy.close();
  });

  test(`${flavour}: a budgeted index keeps every resolved batch and flushed delete without save(): its change log, replayed on open`, async () => {
    const elex = await elexP;
    for (const metric of ['cosine', 'l2']) {
      const dims = 16, n = 300;
      const base = vectors(n, dims, 41);
      const ids = Float64Array.from({ length: n }, (_, i) => i * 3);
      const dbName = fresh();
      const place = { dbName, name: 'log', budgetBytes: 1e7, rerank: 10 };
      const part = (a, b) => [ids.subarray(a, b), base.subarray(a * dims, b * dims)];
      const answers = async (x) => {
        const out = [];
        for (let i = 0; i < 20; i++) {
          const r = await x.search(base.subarray(i * 7 * dims, (i * 7 + 1) * dims), 10, { ef: 10 });
          out.push([...r.ids].join() + '|' + [...r.scores].join());
        }
        return out;
      };
      const a = await elex.BudgetedIndex.open({ ...place, dims, metric, seed: 3 });
      await a.addBatch(...part(0, 100));
      await a.addBatch(...part(100, 200));
      a.delete(3);
      a.delete(450);
      await a.flush();
      const want = await answers(a);
      a.close(); // never saved: the empty index of open(), then the log
      const b = await elex.BudgetedIndex.open(place);
      assert.equal(b.size, 198);
      assert.deepEqual(await answers(b), want, `${metric}: replayed bit for bit`);
      // Saved, then more: the save plus the log written since.
      await b.save();
      await b.addBatch(...part(200, 300));
      b.delete(0);
      await b.flush();
      // Refused batches write nothing: a bad one, and one over the budget.
      await assert.rejects(b.addBatch([6], base.subarray(0, dims)), (e) => e.code === 'DUPLICATE_ID');
      b.setBudget(b.minimumBytes());
      await assert.rejects(b.addBatch(Float64Array.of(10000, 10001), base.subarray(0, 2 * dims)), (e) => e.code === 'BUDGET_TOO_SMALL');
      const want2 = await answers(b);
      b.close();
      const c = await elex.BudgetedIndex.open(place);
      assert.equal(c.size, 297);
      assert.deepEqual(await answers(c), want2, `${metric}: save + log`);
      // Later batches land on the right slots after a replay.
      await c.addBatch(Float64Array.of(20000), base.subarray(5 * dims, 6 * dims));
      const want3 = await answers(c);
      c.close();
      const d = await elex.BudgetedIndex.open(place);
      assert.equal(d.size, 298);
      assert.deepEqual(await answers(d), want3);
      d.close();
    }
  });

  test(`${flavour}: a logged batch larger than one replay piece (4 MB of rows) comes back bit for bit`, async () => {
    const elex = await elexP;
    // 512 f32 components: 2 KB a row, 2,048 rows a piece; 2,100 rows replay in two pieces.
    const dims = 512, n = 2100;
    const base = vectors(n, dims, 43);
    const ids = Float64Array.from({ length: n }, (_, i) => i);
    const place = { dbName: fresh(), name: 'big', budgetBytes: 1e9 };
    const a = await elex.BudgetedIndex.open({ ...place, dims, metric: 'l2', m: 4, efConstruction: 16, seed: 9 });
    await a.addBatch(ids, base);
    const answers = async (x) => {
      const out = [];
      for (const i of [0, 777, 2047, 2048, 2099]) {
        const r = await x.search(base.subarray(i * dims, (i + 1) * dims), 5, { ef: 20 });
        out.push([...r.ids].join() + '|' + [...r.scores].join());
      }
      return out;
    };
    const want = await answers(a);
    a.close();
    const b = await elex.BudgetedIndex.open(place);
    assert.equal(b.size, n);
    assert.deepEqual(await answers(b), want);
    b.close();
  });

  test(`${flavour}: f16 rows halve the bytes read and survive a reopen`, async () => {
    const elex = await elexP;
    const dims = 32, n = 500;
    const base = vectors(n, dims, 31);
    const ids = Float64Array.from({ length: n }, (_, i) => i);
    const dbName = fresh();
    const b = await elex.BudgetedIndex.open({ dbName, name: 'h', dims, precision: 'f16', budgetBytes: 1e6, rerank: 20 });
    await b.addBatch(ids, base);
    const q = base.subarray(7 * dims, 8 * dims);
    const r = await b.search(q, 5);
    assert.equal(r.ids[0], 7);
    assert.ok(Math.abs(r.scores[0] - 1) < 1e-3, `${r.scores[0]}`);
    const s = b.stats();
    assert.equal(s.bytesRead, s.rowsRead * dims * 2);
    await b.save();
    b.close();
    const again = await elex.BudgetedIndex.open({ dbName, name: 'h', budgetBytes: 1e6, rerank: 20 });
    const r2 = await again.search(q, 5);
    assert.deepEqual([...r2.ids], [...r.ids]);
    assert.equal(again.stats().bytesRead % (dims * 2), 0);
    again.close();
    // Options given on reopen must match; those not given are the saved index's.
    const i8 = await elex.BudgetedIndex.open({ dbName, name: 'i8', dims, storage: 'i8', metric: 'l2', budgetBytes: 1e6 });
    await i8.addBatch(ids.subarray(0, 50), base.subarray(0, 50 * dims));
    await i8.save();
    i8.close();
    const back = await elex.BudgetedIndex.open({ dbName, name: 'i8', dims, budgetBytes: 1e6 });
    assert.equal(back.size, 50);
    back.close();
    await assert.rejects(elex.BudgetedIndex.open({ dbName, name: 'i8', storage: 'q4', budgetBytes: 1e6 }), (e) => e.code === 'INVALID_OPTIONS');
    await assert.rejects(elex.BudgetedIndex.open({ dbName, name: 'i8', metric: 'cosine', budgetBytes: 1e6 }), (e) => e.code === 'INVALID_OPTIONS');
    // Rows kept in IndexedDB stay there: asking for OPFS on reopen is refused, as is an
    // unknown row store; OPFS itself needs a worker with sync access handles (not Node).
    assert.equal(again.rowStore, 'indexeddb');
    await assert.rejects(elex.BudgetedIndex.open({ dbName, name: 'i8', budgetBytes: 1e6, rowStore: 'opfs' }), (e) => e.code === 'INVALID_OPTIONS' && /indexeddb/.test(e.message));
    await assert.rejects(elex.BudgetedIndex.open({ dbName, name: 'n', dims, budgetBytes: 1e6, rowStore: 'disk' }), (e) => e.code === 'INVALID_OPTIONS');
    await assert.rejects(elex.BudgetedIndex.open({ dbName, name: 'n', dims, budgetBytes: 1e6, rowStore: 'opfs' }), (e) => e.code === 'UNSUPPORTED');
    await assert.rejects(elex.BudgetedIndex.importBundle({ dbName, name: 'n2', budgetBytes: 1e6, rowStore: 'opfs' }, new Uint8Array(8)), (e) => e.code === 'UNSUPPORTED');
    const idb = await elex.BudgetedIndex.open({ dbName, name: 'n3', dims, budgetBytes: 1e6, rowStore: 'indexeddb' });
    assert.equal(idb.rowStore, 'indexeddb');
    idb.close();
  });
}

for (const simd of [true, false]) {
  const flavour = simd ? 'simd' : 'scalar';
  const elexP = init({ simd });

  test(`${flavour}: a budgeted index exported as a bundle imports from bytes, a Response or a stream, with progress; damage saves nothing`, async () => {
    const elex = await elexP;
    const dims = 24, n = 900;
    const base = vectors(n, dims, 41);
    const ids = Float64Array.from({ length: n }, (_, i) => 5 + i);
    const dbName = fresh();
    const src = await elex.BudgetedIndex.open({ dbName, name: 'src', dims, metric: 'l2', precision: 'f16', budgetBytes: 1e7, seed: 2 });
    await src.addBatch(ids, base);
    src.delete(9);
    const bundle = await src.exportBundle();
    assert.ok(bundle instanceof Uint8Array);
    assert.equal(new TextDecoder().decode(bundle.subarray(0, 8)), 'ELEXBDG1');
    const queries = vectors(10, dims, 42);
    const answers = async (b) => {
      const out = [];
      for (let i = 0; i < 10; i++) {
        const r = await b.search(queries.subarray(i * dims, (i + 1) * dims), 5);
        out.push([...r.ids].join() + '|' + [...r.scores].join());
      }
      return out;
    };
    const want = await answers(src);
    // A stream of small chunks, as a network gives them.
    const stream = () => new ReadableStream({
      start(c) {
        for (let at = 0; at < bundle.length; at += 1000) c.enqueue(bundle.slice(at, at + 1000));
        c.close();
      },
    });
    const sources = [['bytes', () => bundle], ['buffer', () => bundle.slice().buffer], ['response', () => new Response(bundle)], ['stream', stream]];
    for (const [what, make] of sources) {
      const progress = [];
      const b = await elex.BudgetedIndex.importBundle({ dbName, name: `copy-${what}`, budgetBytes: 1e7 }, make(), (d, t) => progress.push([d, t]));
      assert.equal(b.size, n - 1, what);
      assert.deepEqual(await answers(b), want, what);
      assert.deepEqual(progress.at(-1), [bundle.length, bundle.length], what);
      if (what === 'stream') assert.ok(progress.length > 3, 'progress as the chunks arrive');
      b.close();
      // Saved: it reopens.
      const again = await elex.BudgetedIndex.open({ dbName, name: `copy-${what}`, budgetBytes: 1e7 });
      assert.deepEqual(await answers(again), want, `${what} reopened`);
      again.close();
    }
    // An existing name is refused; damage and short bundles save nothing.
    await assert.rejects(elex.BudgetedIndex.importBundle({ dbName, name: 'copy-bytes', budgetBytes: 1e7 }, bundle), (e) => e.code === 'INVALID_OPTIONS');
    const flip = (at) => { const x = bundle.slice(); x[at] ^= 0x40; return x; };
    const cases = [
      ['header', flip(20), ['CHECKSUM_MISMATCH']],
      ['magic', flip(1), ['BAD_MAGIC']],
      ['snapshot', flip(200), ['CHECKSUM_MISMATCH', 'CORRUPT']],
      ['rows', flip(bundle.length - 100), ['CHECKSUM_MISMATCH']],
      ['short', bundle.slice(0, bundle.length - 5), ['TRUNCATED']],
      ['long', new Uint8Array([...bundle, 1]), ['CORRUPT']],
    ];
    for (const [what, bytes, codes] of cases) {
      await assert.rejects(elex.BudgetedIndex.importBundle({ dbName, name: `bad-${what}`, budgetBytes: 1e7 }, bytes), (e) => codes.includes(e.code), what);
      await assert.rejects(elex.BudgetedIndex.open({ dbName, name: `bad-${what}`, budgetBytes: 1e7 }), (e) => e.code === 'NOT_FOUND', `${what}: nothing saved`);
    }
    await assert.rejects(elex.BudgetedIndex.importBundle({ dbName, name: 'tiny', budgetBytes: 100 }, bundle), (e) => e.code === 'BUDGET_TOO_SMALL');
    await assert.rejects(elex.BudgetedIndex.importBundle({ dbName, name: 'junk', budgetBytes: 1e7 }, 'not bytes'), (e) => e.code === 'INVALID_ARGUMENT');
    await assert.rejects(elex.BudgetedIndex.importBundle({ dbName, name: 'http', budgetBytes: 1e7 }, new Response('nope', { status: 404 })), (e) => e.code === 'IO');
    await assert.rejects(elex.BudgetedIndex.importBundle({ dbName, name: 'opts', budgetBytes: 1e7, bogus: 1 }, bundle), (e) => e.code === 'INVALID_OPTIONS');
    src.close();
  });
}
