// The relaxed-SIMD build against the simd128 build in headless Chromium, same page, interleaved
// rounds (relaxed, simd, then simd, relaxed, ...: both built, then each ef's search passes back
// to back): build time and QPS per ef of each, and the median of the per-round ratios. Both give the same results (checked here on every query too).
//   node www/bench/relaxed.mjs [--data DIR] [--n 20000] [--queries 1000] [--ef 20,40,80]
//     [--rounds 5] [--storage f32|i8]      (i8: i8 storage with f32 re-ranking, keepF32)
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readVecs } from './fvecs.mjs';
import { serveDir, launchChromium } from '../test/serve.mjs';

const www = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({
  options: {
    data: { type: 'string', default: join(www, '..', '..', 'shared', 'data', 'docs-50k') },
    n: { type: 'string', default: '20000' },
    queries: { type: 'string', default: '1000' },
    ef: { type: 'string', default: '20,40,80' },
    rounds: { type: 'string', default: '5' },
    storage: { type: 'string', default: 'f32' },
  },
});
const n = Number(a.n), nq = Number(a.queries), rounds = Number(a.rounds), efs = a.ef.split(',').map(Number);
const base = readVecs(join(resolve(a.data), 'base.fvecs'), n), queries = readVecs(join(resolve(a.data), 'query.fvecs'), nq);
const dims = base.dims;
const extra = a.storage === 'i8' ? { storage: 'i8', keepF32: true } : {};

const server = await serveDir(www, { isolate: true });
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  const body = { '/data/base.f32': base.data, '/data/query.f32': queries.data };
  await page.route('**/data/*.f32', (route) => route.fulfill({ body: Buffer.from(body[new URL(route.request().url()).pathname].buffer) }));
  await page.goto(`${server.url}package.json`);
  const out = await page.evaluate(async ({ n, nq, dims, efs, rounds, extra }) => {
    const { init } = await import('/src/index.js');
    const f32 = async (p) => new Float32Array(await (await fetch(p)).arrayBuffer());
    const base = await f32('/data/base.f32'), queries = await f32('/data/query.f32');
    const builds = { relaxed: await init({ flavour: 'relaxed' }), simd: await init({ flavour: 'simd' }) };
    const ids = Float64Array.from({ length: n }, (_, i) => i);
    const rows = [];
    let same = 0, total = 0;
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? ['simd', 'relaxed'] : ['relaxed', 'simd'];
      const row = { relaxed: {}, simd: {} };
      const answers = { relaxed: [], simd: [] };
      const index = {};
      for (const flavour of order) {
        index[flavour] = new builds[flavour].HnswIndex({ dims, metric: 'cosine', m: 16, efConstruction: 200, seed: 42, ...extra });
        const t = performance.now();
        await index[flavour].addBatch(ids, base);
        row[flavour].build = performance.now() - t;
      }
      // Each ef's passes back to back (order alternating by round), so a slow spell of the
      // machine falls on both.
      for (const ef of efs) {
        for (const flavour of order) {
          const idx = index[flavour];
          const t = performance.now();
          for (let q = 0; q < nq; q++) answers[flavour].push(idx.search(queries.subarray(q * dims, (q + 1) * dims), 10, ef).ids.join());
          row[flavour][ef] = performance.now() - t;
        }
      }
      for (const flavour of order) index[flavour].free();
      for (let i = 0; i < answers.simd.length; i++) {
        total++;
        if (answers.simd[i] === answers.relaxed[i]) same++;
      }
      rows.push(row);
    }
    return { rows, same, total };
  }, { n, nq, dims, efs, rounds, extra });
  const median = (v) => v.sort((x, y) => x - y)[v.length >> 1];
  console.log(`relaxed against simd in Chromium: ${base.dims}-d, ${n} vectors, ${nq} queries, storage ${a.storage}, ${rounds} interleaved rounds`);
  for (const [r, row] of out.rows.entries()) {
    console.log(`round ${r}: build ${(row.relaxed.build / 1000).toFixed(2)} s / ${(row.simd.build / 1000).toFixed(2)} s; ` +
      efs.map((ef) => `ef ${ef} QPS ${Math.round(nq / row.relaxed[ef] * 1000)} / ${Math.round(nq / row.simd[ef] * 1000)}`).join(', '));
  }
  const ratio = (key, inv) => out.rows.map((row) => (inv ? row.simd[key] / row.relaxed[key] : row.relaxed[key] / row.simd[key]));
  const fmt = (v) => `${median([...v]).toFixed(2)} (rounds ${Math.min(...v).toFixed(2)}-${Math.max(...v).toFixed(2)})`;
  console.log(`build time relaxed / simd: ${fmt(ratio('build'))}`);
  for (const ef of efs) console.log(`QPS relaxed / simd at ef ${ef}: ${fmt(ratio(ef, true))}`);
  console.log(`identical results: ${out.same} of ${out.total} searches`);
  if (out.same !== out.total) process.exitCode = 1;
} finally {
  await browser.close();
  server.close();
}
