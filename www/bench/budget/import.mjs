// Build once, ship the file: a budgeted index built natively (`elex-bench budget --export`)
// imported into Chromium with BudgetedIndex.importBundle(fetch(url)) (streamed, rows into
// IndexedDB as they arrive), then searched: import time, throughput, long tasks, recall@10.
//
// node www/bench/budget/import.mjs --bundle docs.elexb [--data DIR] [--queries 300]
//   [--budget-share 0.25] (of 4 bytes per component per vector) | [--budget-bytes B]
import { copyFileSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { groundTruth } from '../browser/harness.js';
import { readVecs } from '../fvecs.mjs';
import { serveDir, chromiumOnDisk } from '../../test/serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const www = join(here, '..', '..');
const { values: a } = parseArgs({
  options: {
    bundle: { type: 'string' },
    data: { type: 'string', default: join(www, '..', '..', 'shared', 'data', 'docs-50k') },
    queries: { type: 'string', default: '300' },
    'budget-share': { type: 'string', default: '0.25' },
    'budget-bytes': { type: 'string' },
    out: { type: 'string', default: join(www, '..', 'bench-results') },
  },
});
if (!a.bundle) throw new Error('--bundle FILE (from elex-bench budget --export) is required');
const queries = readVecs(join(resolve(a.data), 'query.fvecs'), Number(a.queries));
const dims = queries.dims, k = 10;
// The set's own exact top 100 (its first k columns), else brute force here.
const gtPath = join(resolve(a.data), 'groundtruth.ivecs');
let truth, baseRows;
if (existsSync(gtPath)) {
  const gt = readVecs(gtPath, queries.rows, Int32Array);
  truth = new Int32Array(queries.rows * k);
  for (let q = 0; q < queries.rows; q++) truth.set(gt.data.subarray(q * gt.dims, q * gt.dims + k), q * k);
  baseRows = statSync(join(resolve(a.data), 'base.fvecs')).size / (4 + 4 * dims);
} else {
  const base = readVecs(join(resolve(a.data), 'base.fvecs'));
  truth = groundTruth(base.data, queries.data, dims, base.rows, queries.rows, k);
  baseRows = base.rows;
}
const dataDir = join(www, 'dist', 'budget-import');
mkdirSync(dataDir, { recursive: true });
copyFileSync(resolve(a.bundle), join(dataDir, 'index.elexb'));
writeFileSync(join(dataDir, 'query.f32'), Buffer.from(queries.data.buffer));
writeFileSync(join(dataDir, 'truth.i32'), Buffer.from(truth.buffer));
const bundleBytes = statSync(resolve(a.bundle)).size;

const server = await serveDir(www, { isolate: true });
// A profile on disk: IndexedDB as users have it (a context from launch() is incognito and
// keeps IndexedDB in memory).
const chromium = await chromiumOnDisk('elex-budget-');
const { context } = chromium;
let r;
try {
  const page = await context.newPage();
  page.on('console', (m) => console.log(`[chromium] ${m.text()}`));
  await page.goto(`${server.url}test/persist/index.html`);
  await page.evaluate(() => window.elexReady);
  r = await page.evaluate(async ({ dims, k, nq, budgetBytes }) => {
    const long = [];
    new PerformanceObserver((l) => { for (const e of l.getEntries()) long.push(Math.round(e.duration)); }).observe({ type: 'longtask' });
    const get = async (f, T) => new T(await (await fetch(`/dist/budget-import/${f}`)).arrayBuffer());
    const queries = await get('query.f32', Float32Array);
    const truth = await get('truth.i32', Int32Array);
    let progressCalls = 0;
    const t0 = performance.now();
    const dbName = `import-${Date.now()}`;
    let index = await elex.BudgetedIndex.importBundle({ dbName, name: 'docs', budgetBytes }, await fetch('/dist/budget-import/index.elexb'), () => progressCalls++);
    const importS = (performance.now() - t0) / 1000;
    const importLong = [...long];
    long.length = 0;
    const run = async () => {
      const lat = []; let hits = 0;
      for (let i = 0; i < nq; i++) {
        if (i % 25 === 0) await new Promise((r) => setTimeout(r, 0)); // outside the timings
        const t = performance.now();
        const res = await index.search(queries.subarray(i * dims, (i + 1) * dims), k, { ef: 64 });
        lat.push(performance.now() - t);
        for (const id of res.ids) if (truth.subarray(i * k, (i + 1) * k).includes(id)) hits++;
      }
      lat.sort((x, y) => x - y);
      return { recall: hits / (nq * k), qps: nq / (lat.reduce((x, y) => x + y, 0) / 1000), p50: lat[Math.floor(nq / 2)], p95: lat[Math.floor(nq * 0.95)] };
    };
    const cold = await run();
    const warm = await run();
    const searchLong = [...long];
    const memoryBytes = index.memoryBytes(), minimumBytes = index.minimumBytes();
    // Closed and opened again (codes and links read from IndexedDB and decoded in slices).
    index.close();
    long.length = 0;
    const t1 = performance.now();
    index = await elex.BudgetedIndex.open({ dbName, name: 'docs', budgetBytes });
    const openS = (performance.now() - t1) / 1000;
    const openLong = [...long];
    const reopened = await run();
    return { importS, progressCalls, importLong, searchLong, size: index.size, memoryBytes, minimumBytes, cold, warm, openS, openLong, reopened };
  }, { dims, k, nq: queries.rows, budgetBytes: a['budget-bytes'] ? Number(a['budget-bytes']) : Math.floor(baseRows * dims * 4 * Number(a['budget-share'])) });
} finally {
  await chromium.close();
  server.close();
}
const md = `# Import of a natively built budgeted index into Chromium

Bundle ${(bundleBytes / 1e6).toFixed(1)} MB (${r.size} vectors x ${dims}), fetched and imported with \`BudgetedIndex.importBundle(fetch(url))\` in ${r.importS.toFixed(2)} s (${(bundleBytes / 1e6 / r.importS).toFixed(0)} MB/s, ${r.progressCalls} progress calls, long tasks: ${r.importLong.length ? r.importLong.join(', ') + ' ms' : 'none'}). Budget ${a['budget-bytes'] ? `${(Number(a['budget-bytes']) / 1e6).toFixed(0)} MB` : `${a['budget-share']} of the vectors' f32 bytes`}: memoryBytes ${(r.memoryBytes / 1e6).toFixed(1)} MB (minimum ${(r.minimumBytes / 1e6).toFixed(1)} MB).

| pass | recall@10 | QPS | P50 ms | P95 ms |
|---|---:|---:|---:|---:|
| first (cold hot set) | ${r.cold.recall.toFixed(4)} | ${r.cold.qps.toFixed(0)} | ${r.cold.p50.toFixed(3)} | ${r.cold.p95.toFixed(3)} |
| second (warm) | ${r.warm.recall.toFixed(4)} | ${r.warm.qps.toFixed(0)} | ${r.warm.p50.toFixed(3)} | ${r.warm.p95.toFixed(3)} |
| after close and open (cold) | ${r.reopened.recall.toFixed(4)} | ${r.reopened.qps.toFixed(0)} | ${r.reopened.p50.toFixed(3)} | ${r.reopened.p95.toFixed(3)} |

Long tasks while searching: ${r.searchLong.length ? r.searchLong.join(', ') + ' ms' : 'none'}. Open of the saved index: ${r.openS.toFixed(2)} s (long tasks: ${r.openLong.length ? r.openLong.join(', ') + ' ms' : 'none'}).
`;
console.log(md);
mkdirSync(resolve(a.out), { recursive: true });
writeFileSync(join(resolve(a.out), 'budget-import.md'), md);
writeFileSync(join(resolve(a.out), 'budget-import.json'), JSON.stringify({ bundle_bytes: bundleBytes, ...r }, null, 1));
