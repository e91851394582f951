// The wasm index in Node on an fvecs/ivecs set: build time, recall@k and QPS per ef, for the
// simd128 and the scalar build, through the npm package's loader.
// node www/bench/hnsw.mjs --data ../shared/data/docs-50k [--limit N] [--queries N] [--storage f32]
//     [--ef 10,20,40,80,160] [--flavours simd,scalar] [--json OUT]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { init } from 'elex';
import { readVecs } from './fvecs.mjs';
import { groundTruth } from './browser/harness.js';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, x, i, all) => (x.startsWith('--') ? [...a, [x.slice(2), all[i + 1]]] : a), []));
const data = args.data || '../shared/data/docs-50k';
const limit = args.limit ? Number(args.limit) : Infinity;
const nq = args.queries ? Number(args.queries) : Infinity;
const efs = (args.ef || '10,20,40,80,160').split(',').map(Number);
const flavours = (args.flavours || 'simd,scalar').split(',');
const storage = args.storage || 'f32';
const k = 10;

const base = readVecs(join(data, 'base.fvecs'), limit, Float32Array);
const queries = readVecs(join(data, 'query.fvecs'), nq, Float32Array);
let gt = readVecs(join(data, 'groundtruth.ivecs'), nq, Int32Array);
if (base.rows < 50_000 || limit !== Infinity) {
  // Ground truth of a prefix: exact cosine search over the first `limit` vectors.
  const t = groundTruth(base.data, queries.data, base.dims, base.rows, queries.rows, k);
  gt = { dims: k, rows: queries.rows, data: t };
}

const results = [];
for (const flavour of flavours) {
  const elex = await init({ simd: flavour === 'simd' });
  const idx = new elex.HnswIndex({ dims: base.dims, metric: 'cosine', storage, m: 16, efConstruction: 200, seed: 42 });
  const t0 = performance.now();
  await idx.addBatch(Float64Array.from({ length: base.rows }, (_, i) => i), base.data);
  const build = (performance.now() - t0) / 1000;
  const runs = [];
  for (const ef of efs) {
    let hits = 0;
    const lat = [];
    const t1 = performance.now();
    for (let q = 0; q < queries.rows; q++) {
      const qs = performance.now();
      const r = idx.search(queries.data.subarray(q * base.dims, (q + 1) * base.dims), k, ef);
      lat.push(performance.now() - qs);
      const truth = gt.data.subarray(q * gt.dims, q * gt.dims + k);
      for (const id of r.ids) if (truth.includes(id)) hits++;
    }
    const secs = (performance.now() - t1) / 1000;
    lat.sort((a, b) => a - b);
    runs.push({ ef, recall: hits / (queries.rows * k), qps: queries.rows / secs, p95_ms: lat[Math.floor(lat.length * 0.95)] });
  }
  results.push({ engine: `elex-wasm-${elex.flavour}`, n: base.rows, dims: base.dims, storage, build_seconds: build, runs });
  console.log(`elex wasm ${elex.flavour} (${storage}), ${base.rows} x ${base.dims}: build ${build.toFixed(1)} s`);
  for (const r of runs) console.log(`  ef ${String(r.ef).padStart(4)}  recall ${r.recall.toFixed(4)}  QPS ${r.qps.toFixed(0).padStart(7)}  p95 ${r.p95_ms.toFixed(3)} ms`);
}
if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 1));
