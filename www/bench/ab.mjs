// Two builds of elex's wasm side by side in one Node process: the same index built in each (same
// seed, so the same graph), then query passes interleaved (A, B, A, B, ...), median of the
// per-round QPS ratios. How the wasm changes in issue 18's notes were kept or dropped.
//   bash build-optimized.sh && cp -r www/pkg/web/simd /tmp/A   # before the change
//   (change, rebuild) && cp -r www/pkg/web/simd /tmp/B
//   node www/bench/ab.mjs --a /tmp/A --b /tmp/B [--data DIR] [--n 10000] [--ef 20,80]
//     [--rounds 7] [--storage f32|i8]
//   relaxed builds (www/pkg/web/relaxed): node --experimental-wasm-relaxed-simd --no-liftoff ...
// Prints per ef whether both return the same ids for every query, then the ratios.
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readVecs } from './fvecs.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    data: { type: 'string', default: join(here, '..', '..', '..', 'shared', 'data', 'docs-50k') },
    n: { type: 'string', default: '10000' },
    ef: { type: 'string', default: '20,80' },
    rounds: { type: 'string', default: '7' },
    storage: { type: 'string', default: 'f32' },
  },
});
if (!args.a || !args.b) throw new Error('--a DIR and --b DIR: two wasm-bindgen web builds (elex.js, elex_bg.wasm)');
// Node 20's relaxed SIMD (behind its flag) returns twice the relaxed dot product from its
// baseline compiler, Liftoff, until a function tiers up: a relaxed build loaded directly (not
// through `init()`, whose probe catches it) would build a different graph on every run.
if (process.execArgv.includes('--experimental-wasm-relaxed-simd') && !process.execArgv.includes('--no-liftoff')) {
  throw new Error('relaxed builds: run with --experimental-wasm-relaxed-simd --no-liftoff (see docs/performance-log.md)');
}
const n = Number(args.n);
const base = readVecs(join(args.data, 'base.fvecs'), n);
const queries = readVecs(join(args.data, 'query.fvecs'), 200);
const dims = base.dims;
const storage = args.storage === 'i8' ? { storage: 'i8', keepF32: true } : {};

async function load(dir) {
  const m = await import(join(dir, 'elex.js'));
  await m.default({ module_or_path: readFileSync(join(dir, 'elex_bg.wasm')) });
  const index = new m.HnswIndex({ dims, metric: 'cosine', m: 16, efConstruction: 200, seed: 42, ...storage });
  const t = performance.now();
  await index.addBatch(Float64Array.from({ length: n }, (_, i) => i), base.data);
  return { index, buildMs: performance.now() - t };
}

const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
const a = await load(args.a);
const b = await load(args.b);
console.log(`${n} x ${dims}, ${args.storage}: build A ${a.buildMs.toFixed(0)} ms, B ${b.buildMs.toFixed(0)} ms (B/A ${(b.buildMs / a.buildMs).toFixed(3)})`);
const qps = (index, ef) => {
  const t = performance.now();
  for (let r = 0; r < 3; r++) {
    for (let q = 0; q < 200; q++) index.search(queries.data.subarray(q * dims, (q + 1) * dims), 10, ef);
  }
  return 600 / ((performance.now() - t) / 1000);
};
const ids = (index, ef) =>
  Array.from({ length: 200 }, (_, q) => index.search(queries.data.subarray(q * dims, (q + 1) * dims), 10, ef).ids.join(',')).join(';');
for (const ef of args.ef.split(',').map(Number)) {
  console.log(`ef ${ef}: the same results in both: ${ids(a.index, ef) === ids(b.index, ef) ? 'yes' : 'no'}`);
  qps(a.index, ef);
  qps(b.index, ef);
  const ratios = [];
  for (let r = 0; r < Number(args.rounds); r++) ratios.push(qps(b.index, ef) / qps(a.index, ef));
  console.log(`ef ${ef}: QPS B/A median ${median(ratios).toFixed(3)} (rounds ${ratios.map((x) => x.toFixed(2)).join(' ')})`);
}
