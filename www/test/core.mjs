// The core build (`elex/core`: HnswIndex, TextIndex and hybridSearch, in memory) against the full
// build (`elex`), both flavours, in Node: the same inputs give the same snapshot bytes, the same
// results and the same errors; snapshots cross between the builds; whole snapshots save to and
// load from IndexedDB (fake-indexeddb); the persistent API answers as an in-memory object's;
// the classes of the full build are absent; and the download (wasm, glue, snippets and loader,
// Brotli 11) stays within the 150 KB the text issue set.
// Run: node --test-reporter=tap www/test/core.mjs
import 'fake-indexeddb/auto';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { init } from 'elex';
import { init as initCore } from 'elex/core';
import { rng } from '../bench/text/core.mjs';
import { shippedFiles, shippedBytes } from '../bench/size.mjs';

const WORDS = ['fox', 'error', 'disk', 'python', 'key', 'mapping', 'brown', 'lazy', 'book', 'code', 'E1234', 'full', 'forest', 'dog'];

function data(seed, n, dims) {
  const r = rng(seed);
  const ids = Float64Array.from({ length: n }, (_, i) => i * 3 + 1);
  const vectors = Float32Array.from({ length: n * dims }, () => r() * 2 - 1);
  const texts = Array.from({ length: n }, () => Array.from({ length: 3 + Math.floor(r() * 8) }, () => WORDS[Math.floor(r() * WORDS.length)]).join(' '));
  return { ids, vectors, texts };
}

const same = (a, b) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

function codeOf(f) {
  try {
    f();
  } catch (e) {
    return `${e.constructor.name}:${e.code}`;
  }
  return 'ok';
}

for (const simd of [true, false]) {
  const flavour = simd ? 'simd' : 'scalar';

  test(`${flavour}: the core build has the search classes only`, async () => {
    const core = await initCore({ simd });
    const full = await init({ simd });
    assert.equal(core.build, 'core');
    assert.equal(full.build, 'full');
    assert.equal(core.flavour, flavour);
    for (const name of ['HnswIndex', 'TextIndex', 'hybridSearch']) assert.equal(typeof core[name], 'function', name);
    for (const name of ['BudgetedIndex', 'AdaptiveCache', 'QLearner', 'TransitionBatch']) {
      assert.equal(core[name], undefined, `${name} is in the core build`);
      assert.equal(typeof full[name], 'function', `${name} is missing from the full build`);
    }
    assert.equal(core.HnswIndex.open, undefined);
    assert.equal(core.TextIndex.open, undefined);
  });

  for (const [storage, metric] of [['f32', 'cosine'], ['i8', 'l2'], ['q4', 'dot'], ['f16', 'cosine']]) {
    test(`${flavour}: ${storage}/${metric} index, text index and hybrid search give the same bytes and results in both builds`, async () => {
      const core = await initCore({ simd });
      const full = await init({ simd });
      const dims = 12;
      const { ids, vectors, texts } = data(7, 400, dims);
      const build = async (elex) => {
        const v = new elex.HnswIndex({ dims, metric, storage, m: 8, efConstruction: 64, seed: 11, keepF32: storage !== 'f32' });
        await v.addBatch(ids, vectors);
        v.delete(ids[5]);
        const t = new elex.TextIndex({ stem: true });
        await t.addBatch(ids, texts);
        t.delete(ids[9]);
        return { v, t };
      };
      const a = await build(core);
      const b = await build(full);
      assert.ok(same(a.v.toBytes(), b.v.toBytes()), 'vector snapshots differ');
      assert.ok(same(a.t.toBytes(), b.t.toBytes()), 'text snapshots differ');
      const r = rng(3);
      for (let q = 0; q < 20; q++) {
        const query = vectors.slice(q * dims, (q + 1) * dims).map((x) => x + (r() - 0.5) * 0.1);
        const words = `${WORDS[q % WORDS.length]} ${WORDS[(q * 5) % WORDS.length]}`;
        const pairs = [
          [a.v.search(query, 10), b.v.search(query, 10)],
          [a.v.search(query, 5, { ef: 40 }), b.v.search(query, 5, { ef: 40 })],
          [a.t.search(words, 10), b.t.search(words, 10)],
          [
            core.hybridSearch(a.v, a.t, { vector: query, text: words, k: 10 }),
            full.hybridSearch(b.v, b.t, { vector: query, text: words, k: 10, fusion: 'rrf' }),
          ],
          [
            core.hybridSearch(a.v, a.t, { vector: query, text: words, k: 10, fusion: { alpha: 0.3 }, allow: ids.slice(0, 200) }),
            full.hybridSearch(b.v, b.t, { vector: query, text: words, k: 10, fusion: { alpha: 0.3 }, allow: ids.slice(0, 200) }),
          ],
        ];
        for (const [x, y] of pairs) {
          assert.ok(x.length > 0);
          assert.ok(same(x.ids, y.ids) && same(x.scores, y.scores), `query ${q}: results differ`);
        }
      }
      // Snapshots cross between the builds.
      assert.ok(same(core.HnswIndex.fromBytes(b.v.toBytes()).toBytes(), a.v.toBytes()));
      assert.ok(same(full.TextIndex.fromBytes(a.t.toBytes()).toBytes(), b.t.toBytes()));
      const restored = await core.HnswIndex.restore(b.v.toBytes(), { sliceMs: 2 });
      assert.ok(same(restored.toBytes(), a.v.toBytes()));
      for (const o of [a.v, a.t, b.v, b.t, restored]) o.free();
    });
  }

  test(`${flavour}: bad arguments get the same coded errors in both builds, and nothing is lost`, async () => {
    const core = await initCore({ simd });
    const full = await init({ simd });
    const cases = [
      (e) => new e.HnswIndex({ dims: -1 }),
      (e) => new e.HnswIndex({ dims: 4, seed: 1.5 }),
      (e) => new e.HnswIndex({ dims: '4' }),
      (e) => new e.HnswIndex({ dims: 4, metric: 7 }),
      (e) => new e.HnswIndex({ dims: 4, keepF32: 'yes' }),
      (e) => new e.HnswIndex({ dims: 4, m: 2 ** 33 }),
      (e) => new e.HnswIndex({}),
      (e) => new e.HnswIndex(null),
      (e) => new e.TextIndex({ k1: 'x' }),
      (e) => new e.TextIndex({ k1: 11 }),
      (e) => new e.TextIndex({ b: -0.5 }),
      (e) => new e.TextIndex({ stem: 1 }),
      (e) => { const i = new e.HnswIndex({ dims: 2 }); i.add(1, [1, 0]); return i.search([1, 0], 1, { targetRecall: 1.5 }); },
      (e) => { const i = new e.HnswIndex({ dims: 2 }); i.add(-1, [1, 0]); },
      (e) => { const i = new e.HnswIndex({ dims: 2 }); i.add(2 ** 53, [1, 0]); },
      (e) => { const i = new e.HnswIndex({ dims: 2 }); i.add(1, [1, 0]); return i.search([1, 0], 4294967295); },
      (e) => { const i = new e.HnswIndex({ dims: 2, storage: 'f16', metric: 'l2' }); i.add(1, [1e6, 0]); },
      (e) => { const i = new e.HnswIndex({ dims: 2, metric: 'l2' }); i.add(1, [3e38, 3e38]); },
    ];
    for (const f of cases) {
      const c = codeOf(() => f(core));
      assert.equal(c, codeOf(() => f(full)), String(f));
      assert.notEqual(c, 'ok', String(f));
      assert.ok(!c.startsWith('RuntimeError'), `trap: ${f}`);
    }
    // Messages name the value as the caller wrote it.
    assert.throws(() => new core.TextIndex({ k1: 11.5 }), /k1 must be in 0\.\.=10, got 11\.5/);
    assert.throws(() => new core.HnswIndex({ dims: 4, seed: 1.5 }), /seed 1\.5 is not/);
    const i = new core.HnswIndex({ dims: 2, storage: 'f16', metric: 'l2' });
    assert.throws(() => i.add(1, [70000.5, 0]), (e) => e.code === 'VALUE_TOO_LARGE' && /= 70000\.5 does not fit/.test(e.message));
    // A batch with one bad vector changes nothing.
    i.add(1, [1, 0]);
    const before = i.toBytes();
    await assert.rejects(i.addBatch([2, 3], [0, 1, NaN, 1]), (e) => e.code === 'NON_FINITE');
    assert.ok(same(i.toBytes(), before));
  });

  test(`${flavour}: the persistent API of the core build answers as an in-memory object's; save and load keep whole snapshots`, async () => {
    const core = await initCore({ simd });
    const v = new core.HnswIndex({ dims: 3 });
    v.add(1, [1, 0, 0]);
    const t = new core.TextIndex();
    t.add(1, 'red fox');
    for (const o of [v, t]) {
      assert.equal(o.persistent, false);
      assert.equal(o.readOnly, false);
      assert.equal(o.recovered, null);
      assert.equal(o.storageStats(), null);
      await o.flush();
      await assert.rejects(o.checkpoint(), (e) => e.code === 'NOT_PERSISTENT');
      await o.close();
      assert.equal(o.size, 1);
    }
    const size = await v.save('core-db', 'v');
    assert.equal(size, v.toBytes().length);
    await t.save('core-db', 't');
    assert.ok(same((await core.HnswIndex.load('core-db', 'v')).toBytes(), v.toBytes()));
    assert.ok(same((await core.TextIndex.load('core-db', 't')).toBytes(), t.toBytes()));
    await assert.rejects(core.HnswIndex.load('core-db', 'none'), (e) => e.code === 'NOT_FOUND');
    // The full build reads what the core build saved.
    const full = await init({ simd });
    assert.ok(same((await full.HnswIndex.load('core-db', 'v')).toBytes(), v.toBytes()));
  });
}

test('the core build downloads within 150 KB (Brotli 11: wasm, glue, snippets, loader)', (t) => {
  for (const flavour of ['relaxed-core', 'simd-core', 'scalar-core']) {
    const files = shippedFiles(flavour);
    assert.ok(files.some((f) => f.endsWith('.wasm')) && files.some((f) => f.endsWith('core.js')), `${flavour}: ${files}`);
    const total = shippedBytes(flavour);
    t.diagnostic(`${flavour}: ${total} bytes Brotli in ${files.length} files`);
    assert.ok(total <= 150_000, `${flavour}: ${total} bytes`);
  }
});
