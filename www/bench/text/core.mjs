// The text benchmark's measurements, shared by the Node runner (run.mjs) and the Chromium page
// (page.js): known-item quality (MRR@10, recall@10) of BM25, vectors and hybrid fusion, and
// build time, memory and query speed of elex beside MiniSearch and Orama, in interleaved rounds.
// Pure ES module: no Node or DOM APIs (timing through `performance.now`).

/** Seeded PRNG (mulberry32). */
export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORD = /\p{L}[\p{L}\p{N}_'-]*/gu;

/**
 * Known-item queries: for `count` passages drawn with `seed`, a query of the passage's three
 * rarest words (document frequency over the collection, counted here, independently of any
 * engine's tokenizer; words of 3+ letters), and an 8-word snippet copied from it. Returns
 * `[{ target, kind: 'rare' | 'snippet', text }]`.
 */
export function knownItems(passages, count, seed = 20261201) {
  const df = new Map();
  const words = passages.map((p) => {
    const ws = (p.match(WORD) ?? []).map((w) => w.toLowerCase());
    for (const w of new Set(ws)) df.set(w, (df.get(w) ?? 0) + 1);
    return ws;
  });
  const r = rng(seed);
  const out = [];
  const used = new Set();
  while (out.length < 2 * count && used.size < passages.length) {
    const target = Math.floor(r() * passages.length);
    if (used.has(target)) continue;
    used.add(target);
    const raw = passages[target].split(/\s+/).filter(Boolean);
    const distinct = [...new Set(words[target].filter((w) => w.length >= 3))];
    if (raw.length < 12 || distinct.length < 3) continue;
    const rare = distinct
      .map((w, i) => [w, df.get(w), i])
      .sort((a, b) => a[1] - b[1] || a[2] - b[2])
      .slice(0, 3)
      .sort((a, b) => a[2] - b[2])
      .map((x) => x[0]);
    const at = Math.floor(r() * (raw.length - 8));
    out.push({ target, kind: 'rare', text: rare.join(' ') });
    out.push({ target, kind: 'snippet', text: raw.slice(at, at + 8).join(' ') });
  }
  return out;
}

/**
 * A passage's windows for chunked embeddings: 16 words at a stride of 8 (at most 15 windows: a
 * longer passage gets a longer stride), the last one ending at the passage's end; none for a
 * passage of 16 words or fewer (its whole-passage embedding covers it). Any 8 consecutive words
 * of a passage of up to 128 words lie inside one window.
 */
export function passageWindows(text) {
  const w = text.split(/\s+/).filter(Boolean);
  if (w.length <= 16) return [];
  const stride = Math.max(8, Math.ceil((w.length - 16) / 14));
  const out = [];
  for (let i = 0; ; i += stride) {
    const at = Math.min(i, w.length - 16);
    out.push(w.slice(at, at + 16).join(' '));
    if (at + 16 >= w.length) break;
  }
  return out;
}

/** MRR@10 and recall@10 of ranked id lists against one target each. */
export function quality(lists, targets) {
  let rr = 0;
  let hit = 0;
  lists.forEach((ids, i) => {
    const at = ids.slice(0, 10).indexOf(targets[i]);
    if (at >= 0) {
      rr += 1 / (at + 1);
      hit++;
    }
  });
  return { mrr10: rr / lists.length, recall10: hit / lists.length };
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export function median(xs) {
  return percentile(xs, 50);
}

/** Exact top-10 by dot product (unit vectors: cosine) of each query row. */
export function exactTop10(base, dims, queries) {
  const n = base.length / dims;
  const out = [];
  for (let q = 0; q < queries.length / dims; q++) {
    const best = [];
    for (let i = 0; i < n; i++) {
      let d = 0;
      const o = i * dims;
      const qo = q * dims;
      for (let j = 0; j < dims; j++) d += base[o + j] * queries[qo + j];
      if (best.length < 10 || d > best[best.length - 1][0]) {
        best.push([d, i]);
        best.sort((a, b) => b[0] - a[0]);
        if (best.length > 10) best.pop();
      }
    }
    out.push(best.map((b) => b[1]));
  }
  return out;
}

/** Times `fn(i)` for every query; returns per-query milliseconds and the results. */
function timeQueries(count, fn) {
  const times = new Float64Array(count);
  const results = new Array(count);
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    results[i] = fn(i);
    times[i] = performance.now() - t;
  }
  const total = times.reduce((a, b) => a + b, 0);
  return { qps: (count / total) * 1000, p50: percentile(times, 50), p95: percentile(times, 95), results };
}

/**
 * Builds every engine and measures them.
 * `env`: { elex, MiniSearch, orama, passages, vectors, dims, items, qvecs, rounds, heapUsed?, log }
 * `qvecs` holds one embedding per known-item query, in order.
 */
export async function runTextBench(env) {
  const { elex, MiniSearch, orama, passages, vectors, dims, items, qvecs, log } = env;
  const rounds = env.rounds ?? 3;
  const heap = env.heapUsed ?? (() => NaN);
  const n = passages.length;
  const ids = Array.from({ length: n }, (_, i) => i);
  const queries = items.map((x) => x.text);
  const targets = items.map((x) => x.target);
  const qv = (i) => qvecs.subarray(i * dims, (i + 1) * dims);
  const builds = { elex: [], minisearch: [], orama: [] };
  const memory = {};
  const speed = { elex: [], minisearch: [], orama: [], elexHybrid: [], oramaHybrid: [], elexVector: [] };
  let built = {};

  const buildElex = async () => {
    const t0 = performance.now();
    const text = new elex.TextIndex();
    await text.addBatch(ids, passages, { sliceMs: 8 });
    return { text, textMs: performance.now() - t0 };
  };
  const buildMini = () => {
    const t0 = performance.now();
    const ms = new MiniSearch({ fields: ['text'], idField: 'id' });
    ms.addAll(passages.map((text, id) => ({ id, text })));
    return { ms, ms_: performance.now() - t0 };
  };
  const buildOrama = async (withVectors) => {
    const t0 = performance.now();
    const schema = withVectors ? { text: 'string', embedding: `vector[${dims}]` } : { text: 'string' };
    const db = await orama.create({ schema });
    const docs = passages.map((text, i) =>
      withVectors ? { id: String(i), text, embedding: Array.from(vectors.subarray(i * dims, (i + 1) * dims)) } : { id: String(i), text },
    );
    await orama.insertMultiple(db, docs, 1000);
    return { db, ms_: performance.now() - t0 };
  };

  // Builds, interleaved: elex, MiniSearch, Orama (text only), per round; memory from the first.
  // Where the page reports long tasks (Chromium), the longest seen during elex's build.
  const longTasks = env.longTasks ?? { reset() {}, read: () => null };
  const elexLongest = [];
  for (let r = 0; r < rounds; r++) {
    let h0 = heap();
    // Settle first: the observer delivers the peers' long build tasks of the previous round late.
    await new Promise((r) => setTimeout(r, 500));
    longTasks.reset();
    const e = await buildElex();
    elexLongest.push(await longTasks.read());
    builds.elex.push(e.textMs);
    if (r === 0) memory.elex = { textIndexBytes: e.text.memoryBytes(), jsHeapDelta: heap() - h0 };
    if (built.elex) built.elex.text.free();
    built.elex = e;
    h0 = heap();
    const m = buildMini();
    builds.minisearch.push(m.ms_);
    if (r === 0) memory.minisearch = { jsHeapDelta: heap() - h0 };
    built.minisearch = m.ms;
    h0 = heap();
    const o = await buildOrama(false);
    builds.orama.push(o.ms_);
    if (r === 0) memory.orama = { jsHeapDelta: heap() - h0 };
    built.orama = o.db;
    log(`build round ${r + 1}: elex text ${e.textMs.toFixed(0)} ms, MiniSearch ${m.ms_.toFixed(0)} ms, Orama ${o.ms_.toFixed(0)} ms`);
  }
  built.orama = null;
  let h0 = heap();
  const ov = await buildOrama(true);
  memory.oramaWithVectors = { jsHeapDelta: heap() - h0 };
  log(`Orama with ${dims}-d vectors: built in ${ov.ms_.toFixed(0)} ms`);
  const oramaText = await buildOrama(false);
  const { text } = built.elex;
  // Snapshot: one task each way (toBytes / fromBytes).
  let t0 = performance.now();
  const snap = text.toBytes();
  const toBytesMs = performance.now() - t0;
  t0 = performance.now();
  elex.TextIndex.fromBytes(snap).free();
  const snapshot = { bytes: snap.length, toBytesMs, fromBytesMs: performance.now() - t0 };
  log(`elex text snapshot: ${(snap.length / 1048576).toFixed(1)} MB, toBytes ${toBytesMs.toFixed(0)} ms, fromBytes ${snapshot.fromBytesMs.toFixed(0)} ms`);
  const v0 = performance.now();
  const vec = new elex.HnswIndex({ dims, metric: 'cosine', storage: 'i8', keepF32: true, efSearch: 64 });
  await vec.addBatch(ids, vectors, { sliceMs: 8 });
  memory.elex.vectorIndexBytes = vec.memoryBytes();
  log(`elex vectors (i8 + rerank HNSW): built in ${(performance.now() - v0).toFixed(0)} ms`);

  // Quality (one pass: deterministic).
  const exact = env.exact;
  const efFor = async () => {
    // The smallest ef whose vector recall@10 against exact search is >= 0.95.
    for (const ef of [16, 24, 32, 48, 64, 96, 128, 192, 256]) {
      let hit = 0;
      for (let i = 0; i < exact.length; i++) {
        const got = new Set(vec.search(qv(i), 10, ef).ids);
        hit += exact[i].filter((x) => got.has(x)).length;
      }
      const recall = hit / (exact.length * 10);
      if (recall >= 0.95) return { ef, recall };
    }
    return { ef: 256, recall: NaN };
  };
  const { ef, recall: vectorRecall } = await efFor();
  log(`vector side: ef ${ef} gives recall@10 ${vectorRecall.toFixed(3)} against exact search`);
  const depth = 50;
  const lists = {
    bm25: queries.map((q) => Array.from(text.search(q, 10).ids)),
    vector: queries.map((_, i) => Array.from(vec.search(qv(i), 10, ef).ids)),
    hybridRrf: queries.map((q, i) => Array.from(elex.hybridSearch(vec, text, { vector: qv(i), text: q, k: 10, depth, ef }).ids)),
  };
  // The peers' quality on the first `peerItems` queries (Orama takes up to a second per query at
  // 50,000 passages); the table compares elex on the same subset.
  const peerItems = Math.min(queries.length, env.peerItems ?? 400);
  const peerLists = {
    bm25: lists.bm25.slice(0, peerItems),
    minisearch: queries.slice(0, peerItems).map((q) => built.minisearch.search(q).slice(0, 10).map((x) => x.id)),
    orama: await Promise.all(queries.slice(0, peerItems).map(async (q) => (await orama.search(oramaText.db, { term: q, limit: 10 })).hits.map((h) => Number(h.id)))),
  };
  const alphas = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
  const byAlpha = {};
  for (const a of alphas) {
    byAlpha[a] = queries.map((q, i) => Array.from(elex.hybridSearch(vec, text, { vector: qv(i), text: q, k: 10, depth, ef, fusion: { alpha: a } }).ids));
  }
  const kinds = ['all', 'rare', 'snippet'];
  const pick = (kind) => items.map((x, i) => (kind === 'all' || x.kind === kind ? i : -1)).filter((i) => i >= 0);
  const q = {};
  for (const kind of kinds) {
    const sel = pick(kind);
    const t = sel.map((i) => targets[i]);
    q[kind] = {};
    for (const [name, l] of Object.entries(lists)) q[kind][name] = quality(sel.map((i) => l[i]), t);
    for (const a of alphas) q[kind][`alpha${a}`] = quality(sel.map((i) => byAlpha[a][i]), t);
    const ps = sel.filter((i) => i < peerItems);
    q[kind].peers = Object.fromEntries(Object.entries(peerLists).map(([name, l]) => [name, quality(ps.map((i) => l[i]), ps.map((i) => targets[i]))]));
  }
  let bestAlpha = alphas[0];
  for (const a of alphas) if (q.all[`alpha${a}`].mrr10 > q.all[`alpha${bestAlpha}`].mrr10) bestAlpha = a;
  log(`best alpha (MRR@10 over all queries): ${bestAlpha}`);

  // Speed, interleaved rounds: each engine answers the same queries (every other known-item
  // query, up to `speedQueries`: rare words and snippets alike) once per round.
  const speedN = env.speedQueries ?? 200;
  const speedIdx = items.map((_, i) => i).filter((i) => i % Math.max(1, Math.floor(items.length / speedN)) === 0).slice(0, speedN);
  const sq = speedIdx.map((i) => queries[i]);
  const sv = (j) => qv(speedIdx[j]);
  for (let r = 0; r < rounds; r++) {
    speed.elex.push(timeQueries(sq.length, (i) => text.search(sq[i], 10)));
    speed.minisearch.push(timeQueries(sq.length, (i) => built.minisearch.search(sq[i]).slice(0, 10)));
    // Orama's search may return a promise; it is awaited inside the timing.
    const os = [];
    for (let i = 0; i < sq.length; i++) {
      const t = performance.now();
      const res = orama.search(oramaText.db, { term: sq[i], limit: 10 });
      if (res && typeof res.then === 'function') await res;
      os.push(performance.now() - t);
    }
    speed.orama.push({ qps: (sq.length / os.reduce((a, b) => a + b, 0)) * 1000, p50: percentile(os, 50), p95: percentile(os, 95) });
    speed.elexHybrid.push(timeQueries(sq.length, (i) => elex.hybridSearch(vec, text, { vector: sv(i), text: sq[i], k: 10, depth, ef })));
    speed.elexVector.push(timeQueries(sq.length, (i) => vec.search(sv(i), 10, ef)));
    const oh = [];
    for (let i = 0; i < sq.length; i++) {
      const t = performance.now();
      const res = orama.search(ov.db, {
        mode: 'hybrid',
        term: sq[i],
        vector: { value: Array.from(sv(i)), property: 'embedding' },
        similarity: 0.1,
        limit: 10,
      });
      if (res && typeof res.then === 'function') await res;
      oh.push(performance.now() - t);
    }
    speed.oramaHybrid.push({ qps: (sq.length / oh.reduce((a, b) => a + b, 0)) * 1000, p50: percentile(oh, 50), p95: percentile(oh, 95) });
    log(
      `speed round ${r + 1}: full-text QPS elex ${speed.elex[r].qps.toFixed(0)}, MiniSearch ${speed.minisearch[r].qps.toFixed(0)}, ` +
        `Orama ${speed.orama[r].qps.toFixed(0)}; hybrid QPS elex ${speed.elexHybrid[r].qps.toFixed(0)}, Orama ${speed.oramaHybrid[r].qps.toFixed(0)}`,
    );
  }
  const strip = (xs) => xs.map(({ qps, p50, p95 }) => ({ qps, p50, p95 }));
  const ratio = (a, b) => median(speed[a].map((x, i) => x.qps / speed[b][i].qps));
  return {
    n,
    queries: queries.length,
    speedQueries: sq.length,
    rounds,
    vectorSide: { ef, recall10: vectorRecall, depth },
    buildMs: builds,
    buildRatio: {
      minisearchOverElex: median(builds.minisearch.map((x, i) => x / builds.elex[i])),
      oramaOverElex: median(builds.orama.map((x, i) => x / builds.elex[i])),
    },
    oramaWithVectorsBuildMs: ov.ms_,
    elexBuildLongestTaskMs: elexLongest,
    snapshot,
    memory,
    quality: q,
    peerItems,
    bestAlpha,
    speed: Object.fromEntries(Object.entries(speed).map(([k, v]) => [k, strip(v)])),
    speedRatio: {
      fullTextVsMiniSearch: ratio('elex', 'minisearch'),
      fullTextVsOrama: ratio('elex', 'orama'),
      hybridVsOrama: ratio('elexHybrid', 'oramaHybrid'),
    },
  };
}
