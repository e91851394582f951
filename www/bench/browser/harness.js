// One harness for the browser benchmark, in Chromium and in Node: the same data, the same
// engines, the same measurements (build time, recall@k, QPS, P95 latency per ef). The caller
// passes loaders for the engines, because each environment loads wasm its own way.

const now = () => performance.now();

function engines(L, dims, n) {
  return {
    'elex-simd': async () => elex(await L.elex(true), dims, n),
    'elex-scalar': async () => elex(await L.elex(false), dims, n),
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
    edgevec: async () => {
      const ev = await L.edgevec();
      let idx = null;
      let base = null;
      let row = null; // EdgeVec id -> row number, built once per build (not per search)
      const make = (ef) => {
        const cfg = new ev.EdgeVecConfig(dims);
        // EdgeVec's cosine setting ranked wrongly in a check (v0.9.0); docs-50k vectors are unit
        // length, so its default L2 gives the cosine ranking.
        cfg.m = 16;
        cfg.ef_construction = 200;
        cfg.ef_search = ef;
        idx = new ev.EdgeVec(cfg);
        row = new Map();
        idx.insertBatchFlat(base, n).forEach((id, i) => row.set(id, i));
      };
      return {
        // EdgeVec fixes ef_search in its config: each ef is its own build (the first is timed).
        build(b) { base = b; make(10); },
        setEf(ef) { make(ef); },
        search(q, k) {
          const r = idx.search(q, k);
          return r.map((x) => row.get(x.id));
        },
        rebuildsPerEf: true,
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

function elex(mod, dims, n) {
  const idx = new mod.HnswIndex({ dims, metric: 'cosine', m: 16, efConstruction: 200, seed: 42 });
  let ef = 10;
  return {
    async build(base) { await idx.addBatch(Float64Array.from({ length: n }, (_, i) => i), base); },
    setEf(e) { ef = e; },
    search(q, k) { return idx.search(q, k, ef).ids; },
  };
}

/** Runs every named engine; returns one result per engine. */
export async function run({ loaders, base, queries, truth, dims, n, nq, k = 10, efs, names, log = () => {} }) {
  const all = engines(loaders, dims, n);
  const out = [];
  for (const name of names) {
    try {
      const e = await all[name]();
      const t0 = now();
      await e.build(base);
      const build = (now() - t0) / 1000;
      // Warm-up (JIT, first touches of the index): the first queries once, untimed.
      if (!e.exact) await e.setEf(efs[0]);
      for (let q = 0; q < Math.min(nq, 50); q++) await e.search(queries.subarray(q * dims, (q + 1) * dims), k);
      const runs = [];
      for (const ef of e.exact ? [0] : efs) {
        if (!e.exact) await e.setEf(ef);
        const lat = new Float64Array(nq);
        let hits = 0;
        const t1 = now();
        for (let q = 0; q < nq; q++) {
          const qv = queries.subarray(q * dims, (q + 1) * dims);
          const s = now();
          const ids = await e.search(qv, k);
          lat[q] = now() - s;
          const t = truth.subarray(q * k, (q + 1) * k);
          for (const id of ids) if (t.includes(id)) hits++;
        }
        const secs = (now() - t1) / 1000;
        lat.sort();
        runs.push({ ef: e.exact ? null : ef, recall: hits / (nq * k), qps: nq / secs, p95_ms: lat[Math.min(nq - 1, Math.floor(nq * 0.95))] });
        log(`${name} ef ${e.exact ? '-' : ef}: recall ${runs.at(-1).recall.toFixed(4)} QPS ${runs.at(-1).qps.toFixed(0)} p95 ${runs.at(-1).p95_ms.toFixed(3)} ms`);
      }
      out.push({ engine: name, n, build_seconds: build, runs });
      log(`${name}: build ${build.toFixed(2)} s`);
    } catch (err) {
      out.push({ engine: name, n, error: String(err && err.message ? err.message : err) });
      log(`${name}: failed: ${err}`);
    }
  }
  return out;
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
