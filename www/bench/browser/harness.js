// One harness for the browser benchmark, in Chromium and in Node: the same data, the same
// engines, the same measurements (build time, recall@k, QPS, P95 latency per ef). The caller
// passes loaders for the engines, because each environment loads wasm its own way.

const now = () => performance.now();

function engines(L, dims, n) {
  return {
    'elex-simd': async () => elex(await L.elex('simd'), dims, n),
    'elex-scalar': async () => elex(await L.elex('scalar'), dims, n),
    // The relaxed-SIMD build (what `init()` picks where the browser has relaxed SIMD): the same
    // results as elex-simd, its i8 distance kernels on the relaxed dot product.
    'elex-relaxed': async () => elex(await L.elex('relaxed'), dims, n),
    // Quantized storage with exact f32 re-ranking of the ef candidates: recall is measured against
    // the same exact ground truth as every other engine.
    'elex-simd i8+rerank': async () => elex(await L.elex('simd'), dims, n, { storage: 'i8', keepF32: true }),
    'elex-relaxed i8+rerank': async () => elex(await L.elex('relaxed'), dims, n, { storage: 'i8', keepF32: true }),
    'elex-simd f16': async () => elex(await L.elex('simd'), dims, n, { storage: 'f16' }),
    'hnswlib-wasm': async () => {
      const lib = await L.hnswlib();
      const idx = new lib.HierarchicalNSW('cosine', dims, '');
      return {
        build(base) {
          idx.initIndex(n, 16, 200, 42);
          for (let i = 0; i < n; i++) idx.addPoint(base.subarray(i * dims, (i + 1) * dims), i, false);
        },
        setEf(ef) { idx.setEfSearch(ef); },
        search(q, k) { return idx.searchKnn(q, k, undefined).neighbors; },
      };
    },
    // hnswlib's own C++ built with emscripten and SIMD (peers/hnswlib-emcc): the honest anchor.
    'hnswlib-emcc-simd': async () => {
      const M = await L.hnswlibEmcc();
      let qp = 0, out = 0;
      return {
        build(base) {
          M._hn_create(dims, n, 16, 200, 42);
          qp = M._malloc(dims * 4);
          out = M._malloc(4 * 1024);
          for (let i = 0; i < n; i++) {
            M.HEAPF32.set(base.subarray(i * dims, (i + 1) * dims), qp >> 2);
            M._hn_add(qp, i);
          }
        },
        setEf(ef) { M._hn_set_ef(ef); },
        search(q, k) {
          M.HEAPF32.set(q, qp >> 2);
          const c = M._hn_search(qp, k, out);
          return Array.from(M.HEAP32.subarray(out >> 2, (out >> 2) + c));
        },
      };
    },
    edgevec: async () => {
      const ev = await L.edgevec();
      let base = null;
      let cur = null;
      const built = new Map(); // ef -> { idx, row }: EdgeVec fixes ef_search in its config
      const make = (ef) => {
        if (!built.has(ef)) {
          const cfg = new ev.EdgeVecConfig(dims);
          // EdgeVec's cosine setting ranked wrongly in a check (v0.9.0); docs-50k vectors are unit
          // length, so its default L2 gives the cosine ranking.
          cfg.m = 16;
          cfg.ef_construction = 200;
          cfg.ef_search = ef;
          const idx = new ev.EdgeVec(cfg);
          const row = new Map(); // EdgeVec id -> row number, built once per build (not per search)
          idx.insertBatchFlat(base, n).forEach((id, i) => row.set(id, i));
          built.set(ef, { idx, row });
        }
        cur = built.get(ef);
      };
      return {
        // Each ef is its own build, kept for the later rounds; only the first ef's is timed.
        build(b, ef) { base = b; make(ef); },
        setEf(ef) { make(ef); },
        search(q, k) { return cur.idx.search(q, k).map((x) => cur.row.get(x.id)); },
      };
    },
    mememo: async () => {
      const { HNSW } = await L.mememo();
      const idx = new HNSW({ distanceFunction: 'cosine-normalized', m: 16, efConstruction: 200, seed: 42, useIndexedDB: false });
      let ef = 10;
      return {
        async build(base) {
          const keys = [], values = [];
          for (let i = 0; i < n; i++) { keys.push(String(i)); values.push(Array.from(base.subarray(i * dims, (i + 1) * dims))); }
          await idx.bulkInsert(keys, values);
        },
        setEf(e) { ef = e; },
        async search(q, k) { return (await idx.query(Array.from(q), k, ef)).keys.map(Number); },
      };
    },
    'voy-search (exact)': async () => {
      const voy = await L.voy();
      let index = null;
      return {
        build(base) {
          const embeddings = [];
          for (let i = 0; i < n; i++) embeddings.push({ id: String(i), title: '', url: '', embeddings: Array.from(base.subarray(i * dims, (i + 1) * dims)) });
          index = new voy.Voy({ embeddings });
        },
        setEf() {},
        search(q, k) { return index.search(q, k).neighbors.map((x) => Number(x.id)); },
        exact: true,
      };
    },
  };
}

function elex(mod, dims, n, opts = {}) {
  const idx = new mod.HnswIndex({ dims, metric: 'cosine', m: 16, efConstruction: 200, seed: 42, ...opts });
  let ef = 10;
  return {
    async build(base) { await idx.addBatch(Float64Array.from({ length: n }, (_, i) => i), base); },
    setEf(e) { ef = e; },
    search(q, k) { return idx.search(q, k, ef).ids; },
  };
}

/**
 * One timed pass: the `nq` queries, repeated until `minMs` have passed (at least once), with
 * recall@k, QPS and P95 latency over every query run.
 */
async function pass(e, queries, truth, dims, nq, k, minMs = 0) {
  const lat = [];
  let hits = 0;
  const t1 = now();
  for (let rep = 0; rep === 0 || now() - t1 < minMs; rep++) {
    for (let q = 0; q < nq; q++) {
      const qv = queries.subarray(q * dims, (q + 1) * dims);
      const s = now();
      const ids = await e.search(qv, k);
      lat.push(now() - s);
      const t = truth.subarray(q * k, (q + 1) * k);
      for (const id of ids) if (t.includes(id)) hits++;
    }
  }
  const secs = (now() - t1) / 1000;
  const sorted = Float64Array.from(lat).sort();
  return { recall: hits / (lat.length * k), qps: lat.length / secs, p95_ms: sorted[Math.min(lat.length - 1, Math.floor(lat.length * 0.95))] };
}

/**
 * Runs every named engine; returns one result per engine. Every engine is built first (timed),
 * then the timed passes interleave the engines, `rounds` times over every ef, so a burst of load
 * on a shared machine hits all engines alike; each (engine, ef) reports the round with the median
 * QPS (its P95 with it), and keeps every round in `rounds`. A pass repeats the queries until it
 * has run `minPassMs` (0: once through), which evens out short stalls at high QPS.
 */
export async function run({ loaders, base, queries, truth, dims, n, nq, k = 10, efs, names, rounds = 3, minPassMs = 0, log = () => {} }) {
  const all = engines(loaders, dims, n);
  const live = [];
  const failed = new Map();
  for (const name of names) {
    try {
      const e = await all[name]();
      const t0 = now();
      await e.build(base, efs[0]);
      const build = (now() - t0) / 1000;
      log(`${name}: build ${build.toFixed(2)} s`);
      // Warm-up (JIT, first touches of the index): the first queries once, untimed.
      if (!e.exact) await e.setEf(efs[0]);
      for (let q = 0; q < Math.min(nq, 50); q++) await e.search(queries.subarray(q * dims, (q + 1) * dims), k);
      live.push({ name, e, build, samples: new Map() });
    } catch (err) {
      failed.set(name, String(err && err.message ? err.message : err));
      log(`${name}: failed: ${err}`);
    }
  }
  for (let r = 0; r < rounds; r++) {
    for (const ef of efs) {
      for (const L of live) {
        if (failed.has(L.name) || (L.e.exact && ef !== efs[0])) continue;
        try {
          if (!L.e.exact) await L.e.setEf(ef);
          const m = await pass(L.e, queries, truth, dims, nq, k, minPassMs);
          const key = L.e.exact ? null : ef;
          if (!L.samples.has(key)) L.samples.set(key, []);
          L.samples.get(key).push(m);
          log(`round ${r + 1} ${L.name} ef ${key ?? '-'}: recall ${m.recall.toFixed(4)} QPS ${m.qps.toFixed(0)} p95 ${m.p95_ms.toFixed(3)} ms`);
        } catch (err) {
          failed.set(L.name, String(err && err.message ? err.message : err));
          log(`${L.name}: failed: ${err}`);
        }
      }
    }
  }
  return names.map((name) => {
    if (failed.has(name)) return { engine: name, n, error: failed.get(name) };
    const L = live.find((x) => x.name === name);
    const runs = [...L.samples].map(([ef, ms]) => {
      const med = [...ms].sort((a, b) => a.qps - b.qps)[Math.floor((ms.length - 1) / 2)];
      return { ef, recall: ms[0].recall, qps: med.qps, p95_ms: med.p95_ms, rounds: ms.map(({ qps, p95_ms }) => ({ qps, p95_ms })) };
    });
    return { engine: name, n, build_seconds: L.build, runs };
  });
}

/** Exact top-k by brute force (cosine on the given vectors). */
export function groundTruth(base, queries, dims, n, nq, k) {
  const norms = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < dims; j++) s += base[i * dims + j] ** 2;
    norms[i] = Math.sqrt(s) || 1;
  }
  const out = new Int32Array(nq * k);
  const scores = new Float32Array(n);
  for (let q = 0; q < nq; q++) {
    const qv = queries.subarray(q * dims, (q + 1) * dims);
    for (let i = 0; i < n; i++) {
      let d = 0;
      for (let j = 0; j < dims; j++) d += base[i * dims + j] * qv[j];
      scores[i] = d / norms[i];
    }
    const order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
    out.set(order.slice(0, k), q * k);
  }
  return out;
}
