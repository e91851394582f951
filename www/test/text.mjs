// TextIndex and hybridSearch from the built package in Node (both flavours): BM25 scores
// against a BM25 written here in plain JS over the index's own terms, all-or-nothing batches,
// deletes, filters, snapshots, IndexedDB (fake-indexeddb; the browser tests use the real one)
// and fusion against RRF / alpha computed here. Run: node --test-reporter=tap www/test/text.mjs
import 'fake-indexeddb/auto';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { init } from 'elex';
import { rng } from '../bench/text/core.mjs';

const CORPUS = [
  'The quick brown fox jumps over the lazy dog',
  'A fox is a small omnivorous mammal; foxes live in dens',
  'Dogs are loyal companions and good guards',
  'Python raises a KeyError when a dictionary key is missing',
  'The error code E1234 means the disk is full',
  'Brown bears and brown foxes share the forest',
  'A lazy afternoon with a good book',
  'KeyError: the key was not found in the mapping',
];

/** BM25 (Lucene idf, k1 1.2, b 0.75) in f64 over documents given as term lists. */
function bm25(docs, query) {
  const n = docs.length;
  const avg = docs.reduce((s, d) => s + d.terms.length, 0) / n;
  const out = [];
  for (const d of docs) {
    let s = 0;
    let any = false;
    for (const q of query) {
      const tf = d.terms.filter((t) => t === q).length;
      if (!tf) continue;
      any = true;
      const df = docs.filter((x) => x.terms.includes(q)).length;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      s += (idf * tf) / (tf + 1.2 * (0.25 + (0.75 * d.terms.length) / avg));
    }
    if (any) out.push({ id: d.id, score: s });
  }
  return out.sort((a, b) => b.score - a.score || a.id - b.id);
}

async function expectCode(p, code) {
  await assert.rejects(async () => p(), (e) => {
    assert.equal(e.code, code, `${e.message}`);
    return true;
  });
}

for (const simd of [true, false]) {
  const elex = await init({ simd });
  const tag = elex.flavour;

  async function corpusIndex(options) {
    const t = new elex.TextIndex(options);
    await t.addBatch(CORPUS.map((_, i) => i), CORPUS);
    return t;
  }

  test(`${tag}: BM25 scores equal a plain-JS BM25 over the index's terms`, async () => {
    const t = await corpusIndex();
    assert.equal(t.size, CORPUS.length);
    const docs = CORPUS.map((text, id) => ({ id, terms: t.terms(text) }));
    for (const q of ['fox', 'lazy brown fox', 'KeyError key', 'error E1234', 'dogs guard', 'the of']) {
      const want = bm25(docs, t.terms(q));
      const got = t.search(q, 5);
      assert.equal(got.length, Math.min(5, want.length), q);
      const ids = Array.from(got.ids);
      const scores = Array.from(got.scores);
      for (let i = 0; i < ids.length; i++) {
        assert.ok(Math.abs(scores[i] - want[i].score) < 1e-5 * Math.max(1, want[i].score), `${q} rank ${i}`);
        assert.deepEqual(Array.from(got.distances)[i], -scores[i]);
      }
      assert.deepEqual(ids, want.slice(0, 5).map((w) => w.id), q);
    }
    // Words as written by default; English stemming and stop words on request.
    assert.deepEqual(t.terms('The Foxes running'), ['the', 'foxes', 'running']);
    const stemmed = new elex.TextIndex({ stem: true, stopWords: true });
    assert.deepEqual(stemmed.terms('The Foxes running'), ['fox', 'run']);
    await stemmed.addBatch(CORPUS.map((_, i) => i), CORPUS);
    assert.deepEqual(Array.from(t.search('foxes', 10).ids).sort(), [1, 5], 'plain: only the word as written');
    assert.deepEqual(Array.from(stemmed.search('foxes', 10).ids).sort(), [0, 1, 5], 'stemmed: fox and foxes');
  });

  test(`${tag}: a bad batch changes nothing, and a thrown onProgress rolls back exactly`, async () => {
    const t = await corpusIndex();
    const before = t.toBytes();
    await expectCode(() => t.addBatch([100, 101, 100], ['a', 'b', 'c']), 'DUPLICATE_ID');
    await expectCode(() => t.addBatch([100, 3], ['a', 'b']), 'DUPLICATE_ID');
    await expectCode(() => t.addBatch([100, 101], ['a']), 'BATCH_SHAPE');
    await expectCode(() => t.addBatch([100, 101], ['a', 7]), 'INVALID_ARGUMENT');
    await expectCode(() => t.addBatch([-1], ['a']), 'INVALID_ID');
    await expectCode(() => t.addBatch([1.5], ['a']), 'INVALID_ID');
    await expectCode(() => t.addBatch([100], 'a'), 'INVALID_ARGUMENT');
    assert.deepEqual(t.toBytes(), before);
    const ids = Array.from({ length: 3000 }, (_, i) => 1000 + i);
    const texts = ids.map((i) => `note ${i} about topic${i % 17} and more words here`);
    let calls = 0;
    const boom = new Error('stop');
    await assert.rejects(
      t.addBatch(ids, texts, {
        sliceMs: 0.01,
        onProgress: (done) => {
          calls++;
          if (done > 1500) throw boom;
        },
      }),
      (e) => e === boom,
    );
    assert.ok(calls > 1, 'the batch ran in several slices');
    assert.deepEqual(t.toBytes(), before);
    assert.equal(t.size, CORPUS.length);
    // Writes during a batch are BUSY; the batch then lands whole.
    const p = t.addBatch(ids, texts, { sliceMs: 0.01 });
    assert.throws(() => t.add(5000, 'x'), (e) => e.code === 'BUSY');
    assert.equal(await p, ids.length);
    assert.equal(t.size, CORPUS.length + ids.length);
    assert.equal(t.search('topic3', 500).length, ids.filter((i) => i % 17 === 3).length);
  });

  test(`${tag}: arguments are checked where they enter`, async () => {
    const t = await corpusIndex();
    for (const [f, code] of [
      [() => t.search('fox', 0), 'OUT_OF_RANGE'],
      [() => t.search('fox', -1), 'OUT_OF_RANGE'],
      [() => t.search('fox', 2 ** 32), 'OUT_OF_RANGE'],
      [() => t.search(42, 3), 'INVALID_ARGUMENT'],
      [() => t.search(null, 3), 'INVALID_ARGUMENT'],
      [() => t.add(-1, 'x'), 'INVALID_ID'],
      [() => t.add(99, null), 'INVALID_ARGUMENT'],
      [() => t.add(0, 'again'), 'DUPLICATE_ID'],
      [() => t.delete(12345), 'UNKNOWN_ID'],
      [() => t.searchFiltered('fox', 3, 'x'), 'INVALID_ARGUMENT'],
      [() => new elex.TextIndex({ k1: -1 }), 'INVALID_OPTIONS'],
      [() => new elex.TextIndex({ b: 2 }), 'INVALID_OPTIONS'],
      [() => new elex.TextIndex({ stemming: true }), 'INVALID_OPTIONS'],
      [() => elex.TextIndex.fromBytes(new Uint8Array(3)), 'BAD_MAGIC'],
    ]) {
      assert.throws(f, (e) => e.code === code, String(f));
    }
    // Still usable after every error.
    assert.equal(t.search('fox brown', 3).length, 3);
    t.free();
    assert.throws(() => t.search('fox', 3), (e) => e.code === 'FREED');
  });

  test(`${tag}: deletes, filters, compaction and snapshots`, async () => {
    const t = await corpusIndex();
    const foxes = Array.from(t.search('fox', 10).ids);
    assert.deepEqual([...foxes].sort(), [0, 1]);
    t.delete(1);
    assert.equal(t.has(1), false);
    assert.equal(t.deletedCount, 1);
    assert.deepEqual(Array.from(t.search('fox', 10).ids).sort(), [0]);
    // Scores after the delete equal those of an index that never had the document.
    const fresh = new elex.TextIndex();
    const keep = CORPUS.map((_, i) => i).filter((i) => i !== 1);
    await fresh.addBatch(keep, keep.map((i) => CORPUS[i]));
    assert.deepEqual(Array.from(t.search('brown fox', 5).scores), Array.from(fresh.search('brown fox', 5).scores));
    assert.deepEqual(Array.from(t.searchFiltered('brown fox', 5, [5, 6]).ids), [5]);
    const bytes = t.toBytes();
    const back = elex.TextIndex.fromBytes(bytes);
    assert.deepEqual(back.toBytes(), bytes);
    assert.deepEqual(Array.from(back.search('lazy', 5).ids), Array.from(t.search('lazy', 5).ids));
    let compactProgress = 0;
    const pending = t.compact({ sliceMs: 0.01, onProgress: () => compactProgress++ });
    assert.equal(t.search('lazy', 5).length > 0, true, 'searches answer during a compaction');
    assert.throws(() => t.delete(0), (e) => e.code === 'BUSY');
    await pending;
    assert.ok(compactProgress >= 1);
    assert.equal(t.deletedCount, 0);
    assert.deepEqual(t.toBytes(), bytes);
    // The sliced snapshot and restore give the same bytes as the one-task ones.
    const sliced = await t.snapshot({ sliceMs: 0.01 });
    assert.deepEqual(sliced, bytes);
    const restored = await elex.TextIndex.restore(sliced, { sliceMs: 0.01 });
    assert.deepEqual(restored.toBytes(), bytes);
    await expectCode(() => elex.TextIndex.restore(bytes.subarray(0, 50)), 'TRUNCATED');
    await expectCode(() => elex.TextIndex.restore('x'), 'INVALID_ARGUMENT');
    for (const at of [20, bytes.length >> 1, bytes.length - 1]) {
      const bad = bytes.slice();
      bad[at] ^= 1;
      assert.throws(() => elex.TextIndex.fromBytes(bad), (e) => e.code === 'CHECKSUM_MISMATCH');
    }
    assert.throws(() => elex.TextIndex.fromBytes(bytes.subarray(0, 60)), (e) => e.code === 'TRUNCATED');
    assert.equal(await t.save('elex-text-test', 'docs'), bytes.length);
    const loaded = await elex.TextIndex.load('elex-text-test', 'docs');
    assert.deepEqual(loaded.toBytes(), bytes);
    await expectCode(() => elex.TextIndex.load('elex-text-test', 'nothing'), 'NOT_FOUND');
  });

  test(`${tag}: hybridSearch fuses the two sides as RRF and alpha say, filters both`, async () => {
    const dims = 16;
    const n = 400;
    const r = rng(7);
    const words = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'sigma', 'kappa', 'theta'];
    const vecs = new Float32Array(n * dims).map(() => r() * 2 - 1);
    const texts = Array.from({ length: n }, () =>
      Array.from({ length: 6 }, () => words[Math.floor(r() * r() * words.length)]).join(' '),
    );
    const ids = Array.from({ length: n }, (_, i) => i * 3);
    const v = new elex.HnswIndex({ dims, efSearch: 400 });
    await v.addBatch(ids, vecs);
    const t = new elex.TextIndex();
    await t.addBatch(ids, texts);
    const q = vecs.slice(5 * dims, 6 * dims).map((x) => x + 0.1 * (r() - 0.5));
    const text = 'omega kappa';
    const depth = 40;
    const vs = v.search(q, depth, 400);
    const ts = t.search(text, depth);
    // RRF computed here, in f32 as the core does (ties go to the id seen first).
    const f = Math.fround;
    const fused = new Map();
    const first = new Map();
    for (const list of [vs, ts]) {
      Array.from(list.ids).forEach((id, rank) => {
        if (!first.has(id)) first.set(id, first.size);
        fused.set(id, f((fused.get(id) ?? 0) + f(1 / f(f(60 + rank) + 1))));
      });
    }
    const want = [...first.keys()].sort((a, b) => fused.get(b) - fused.get(a) || first.get(a) - first.get(b));
    const got = elex.hybridSearch(v, t, { vector: q, text, k: 10, depth, ef: 400 });
    assert.deepEqual(Array.from(got.ids), want.slice(0, 10));
    for (let i = 0; i < 10; i++) assert.ok(Math.abs(got.scores[i] - fused.get(got.ids[i])) < 1e-6);
    // Alpha 1 is the vector list, alpha 0 the text list.
    assert.deepEqual(
      Array.from(elex.hybridSearch(v, t, { vector: q, text, k: 10, depth, ef: 400, fusion: { alpha: 1 } }).ids),
      Array.from(vs.ids).slice(0, 10),
    );
    // At alpha 0 the text scores decide (equal ones keep the vector list's order).
    const textScore = new Map(Array.from(ts.ids).map((id, i) => [id, ts.scores[i]]));
    const a0 = elex.hybridSearch(v, t, { vector: q, text, k: 10, depth, fusion: { alpha: 0 } });
    assert.deepEqual(Array.from(a0.ids).map((id) => textScore.get(id)), Array.from(ts.scores).slice(0, 10));
    // One side alone.
    assert.deepEqual(Array.from(elex.hybridSearch(v, t, { text, k: 5 }).ids), Array.from(t.search(text, 5).ids));
    // Filters apply to both sides.
    const allow = ids.filter((id) => id % 2 === 0);
    const filtered = elex.hybridSearch(v, t, { vector: q, text, k: 20, allow });
    assert.equal(filtered.length, 20);
    assert.ok(Array.from(filtered.ids).every((id) => id % 2 === 0));
    // Bad requests are coded errors, and nothing is left broken.
    for (const [req, code] of [
      [{ vector: q, text, k: 0 }, 'OUT_OF_RANGE'],
      [{ k: 3 }, 'INVALID_ARGUMENT'],
      [{ vector: q, text, k: 3, fusion: 'max' }, 'INVALID_ARGUMENT'],
      [{ vector: q, text, k: 3, fusion: { alpha: 2 } }, 'OUT_OF_RANGE'],
      [{ vector: q, text, k: 3, fusion: { alpha: 0.5, rrf: 60 } }, 'INVALID_OPTIONS'],
      [{ vector: q, text, k: 3, typo: 1 }, 'INVALID_OPTIONS'],
      [{ vector: new Float32Array(3), text, k: 3 }, 'DIMENSION_MISMATCH'],
      [{ vector: q, text: 5, k: 3 }, 'INVALID_ARGUMENT'],
    ]) {
      assert.throws(() => elex.hybridSearch(v, t, req), (e) => e.code === code, JSON.stringify(Object.keys(req)));
    }
    assert.throws(() => elex.hybridSearch(t, v, { text, k: 3 }), (e) => e.code === 'INVALID_ARGUMENT');
    assert.equal(elex.hybridSearch(v, t, { vector: q, text, k: 3 }).length, 3);
  });

  test(`${tag}: hybridSearch over documents embedded in chunks (chunkBits) keeps each document at its best chunk`, async () => {
    const dims = 8;
    const bits = 2;
    const r = rng(11);
    const words = ['red', 'green', 'blue', 'cyan', 'magenta', 'yellow', 'black', 'white'];
    const docs = 120;
    const texts = Array.from({ length: docs }, () => Array.from({ length: 5 }, () => words[Math.floor(r() * words.length)]).join(' '));
    // Document d has 1 to 4 chunks, ids d * 4 + c.
    const chunkIds = [];
    for (let d = 0; d < docs; d++) for (let c = 0; c < 1 + (d % 4); c++) chunkIds.push(d * 4 + c);
    const vecs = new Float32Array(chunkIds.length * dims).map(() => r() * 2 - 1);
    const v = new elex.HnswIndex({ dims, efSearch: 600 });
    await v.addBatch(chunkIds, vecs);
    const t = new elex.TextIndex();
    await t.addBatch(Array.from({ length: docs }, (_, d) => d), texts);
    const q = vecs.slice(7 * dims, 8 * dims).map((x) => x + 0.05 * (r() - 0.5));
    const text = 'cyan magenta';
    const depth = 30;
    // The vector side here: every chunk exactly, each document at its best chunk, best first.
    const chunkHits = v.search(q, chunkIds.length, 2000);
    const best = new Map();
    Array.from(chunkHits.ids).forEach((id, i) => {
      const d = Math.floor(id / 4);
      if (!best.has(d)) best.set(d, chunkHits.scores[i]);
    });
    const vdocs = [...best.keys()].slice(0, depth);
    const ts = t.search(text, depth);
    const f = Math.fround;
    const fused = new Map();
    const first = new Map();
    for (const list of [vdocs, Array.from(ts.ids)]) {
      list.forEach((id, rank) => {
        if (!first.has(id)) first.set(id, first.size);
        fused.set(id, f((fused.get(id) ?? 0) + f(1 / f(f(60 + rank) + 1))));
      });
    }
    const want = [...first.keys()].sort((a, b) => fused.get(b) - fused.get(a) || first.get(a) - first.get(b));
    const got = elex.hybridSearch(v, t, { vector: q, text, k: 10, depth, ef: 2000, chunkBits: bits });
    assert.deepEqual(Array.from(got.ids), want.slice(0, 10));
    // Alpha 1: the documents in the order of their best chunk, scored by it.
    const a1 = elex.hybridSearch(v, t, { vector: q, text, k: 10, depth, ef: 2000, chunkBits: bits, fusion: { alpha: 1 } });
    assert.deepEqual(Array.from(a1.ids), vdocs.slice(0, 10));
    // Alpha 0.5: a document only the text side found is scored by its best chunk too.
    const mid = elex.hybridSearch(v, t, { vector: q, text, k: 5, depth: 5, ef: 2000, chunkBits: bits, fusion: { alpha: 0.5 } });
    const union = [...new Set([...vdocs.slice(0, 5), ...Array.from(t.search(text, 5).ids)])];
    const all = t.search(text, docs);
    const tAll = new Map(Array.from(all.ids, (id, i) => [id, all.scores[i]]));
    const vs = union.map((d) => best.get(d));
    const tsc = union.map((d) => tAll.get(d) ?? 0); // BM25 0: the document lacks the words
    const sc = (xs, x) => { const lo = Math.min(...xs), hi = Math.max(...xs); return hi > lo ? (x - lo) / (hi - lo) : 1; };
    const want5 = union.map((d, i) => [d, 0.5 * sc(vs, vs[i]) + 0.5 * sc(tsc, tsc[i])]).sort((a, b) => b[1] - a[1]);
    assert.deepEqual(Array.from(mid.ids), want5.slice(0, 5).map((x) => x[0]));
    want5.slice(0, 5).forEach(([, x], i) => assert.ok(Math.abs(mid.scores[i] - x) < 1e-5));
    // allow names documents; results name documents.
    const allow = Array.from({ length: docs }, (_, d) => d).filter((d) => d % 3 === 0);
    const filtered = elex.hybridSearch(v, t, { vector: q, text, k: 15, chunkBits: bits, allow });
    assert.equal(filtered.length, 15);
    assert.ok(Array.from(filtered.ids).every((d) => d % 3 === 0 && d < docs));
    for (const [req, code] of [
      [{ vector: q, text, k: 3, chunkBits: 9 }, 'OUT_OF_RANGE'],
      [{ vector: q, text, k: 3, chunkBits: -1 }, 'OUT_OF_RANGE'],
      [{ vector: q, text, k: 3, chunkBits: 1.5 }, 'OUT_OF_RANGE'],
      [{ vector: q, text, k: 3, chunkBits: '2' }, 'INVALID_ARGUMENT'],
      [{ vector: q, text, k: 3, chunkBits: 8, allow: new Float64Array(70000) }, 'OUT_OF_RANGE'],
    ]) {
      assert.throws(() => elex.hybridSearch(v, t, req), (e) => e.code === code, JSON.stringify(req.chunkBits));
    }
  });
}
