// The budgeted index in Chromium (real IndexedDB) against the default f32 HnswIndex on the same
// data, in one page: the f32 index unbudgeted, then a BudgetedIndex (4-bit codes and links in
// wasm memory, exact rows in IndexedDB) under budgets that are shares of the f32 index's
// memoryBytes(). Rounds are interleaved (f32, each share, f32, each share, ...); each share's
// pass follows a warm-up pass (the hot set filled). Reports recall@10, QPS, P50/P95/P99 ms, rows
// and bytes read from IndexedDB per query, the hot set's hit ratio, memoryBytes, and the QPS
// ratio to the f32 pass of the same round (median over rounds).
//
// With `--rows opfs` the rows are in an OPFS file read through a sync access handle, and the
// whole bench (the f32 index too) runs in a dedicated worker, the only place such handles exist.
//
// node www/bench/budget/run.mjs [--data DIR] [--n 50000] [--queries 300] [--shares 1,0.5,0.25]
//   [--ef 64] [--rerank 20] [--precision f32|f16] [--rows indexeddb|opfs] [--rounds 3]
//   [--out ../bench-results]
import { mkdirSync, writeFileSync } from 'node:fs';
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
    data: { type: 'string', default: join(www, '..', '..', 'shared', 'data', 'docs-50k') },
    n: { type: 'string', default: '50000' },
    queries: { type: 'string', default: '300' },
    shares: { type: 'string', default: '1,0.5,0.25' },
    ef: { type: 'string', default: '64' },
    rerank: { type: 'string', default: '20' },
    precision: { type: 'string', default: 'f32' },
    rows: { type: 'string', default: 'indexeddb' },
    rounds: { type: 'string', default: '3' },
    out: { type: 'string', default: join(www, '..', 'bench-results') },
  },
});
const n = Number(a.n), nq = Number(a.queries), k = 10;
const base = readVecs(join(resolve(a.data), 'base.fvecs'), n);
const queries = readVecs(join(resolve(a.data), 'query.fvecs'), nq);
const dims = base.dims;
const truth = groundTruth(base.data, queries.data, dims, base.rows, queries.rows, k);
const dataDir = join(www, 'dist', 'budget-data');
mkdirSync(dataDir, { recursive: true });
writeFileSync(join(dataDir, 'base.f32'), Buffer.from(base.data.buffer));
writeFileSync(join(dataDir, 'query.f32'), Buffer.from(queries.data.buffer));
writeFileSync(join(dataDir, 'truth.i32'), Buffer.from(truth.buffer));

const server = await serveDir(www, { isolate: true });
// A profile on disk: IndexedDB as users have it (a context from launch() is incognito and
// keeps IndexedDB in memory).
const chromium = await chromiumOnDisk('elex-budget-');
const { context } = chromium;
let result;
try {
  const page = await context.newPage();
  page.on('console', (m) => console.log(`[chromium] ${m.text()}`));
  await page.goto(`${server.url}test/persist/index.html`);
  await page.evaluate(() => window.elexReady);
  const bench = async (p) => {
    const { n, nq, dims, k, ef, rerank, precision, rounds, shares, rowStore } = p;
    const get = async (f, T) => new T(await (await fetch(`/dist/budget-data/${f}`)).arrayBuffer());
    const base = await get('base.f32', Float32Array);
    const queries = await get('query.f32', Float32Array);
    const truth = await get('truth.i32', Int32Array);
    const ids = Float64Array.from({ length: n }, (_, i) => i);
    // Long tasks, counted inside the windows of the budgeted index's own work.
    const longTasks = [];
    // (A worker reports no long tasks: none of its work blocks a page.)
    if (typeof window !== 'undefined') {
      new PerformanceObserver((l) => { for (const e of l.getEntries()) longTasks.push([e.startTime, e.startTime + e.duration]); }).observe({ type: 'longtask' });
    }
    const windows = { build: [], search: [] };
    const inWindows = (ws) => longTasks.filter(([a, b]) => ws.some(([x, y]) => a < y && b > x)).map(([a, b]) => Math.round(b - a));
    const yieldNow = () => new Promise((r) => setTimeout(r, 0));
    let t = performance.now();
    const f32 = new elex.HnswIndex({ dims });
    await f32.addBatch(ids, base);
    const f32Build = (performance.now() - t) / 1000;
    const full = f32.memoryBytes();
    await yieldNow();
    t = performance.now();
    const b = await elex.BudgetedIndex.open({ dbName: `budget-bench-${Date.now()}`, name: 'docs', dims, precision, rerank, rowStore, budgetBytes: full });
    await b.addBatch(ids, base);
    const q4Build = (performance.now() - t) / 1000;
    windows.build.push([t, performance.now()]);
    await yieldNow();
    const minimum = b.minimumBytes();
    const pct = (xs, q) => { const s = [...xs].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.round(q * (s.length - 1)))]; };
    const recallOf = (qi, got) => { let h = 0; const want = truth.subarray(qi * k, (qi + 1) * k); for (const id of got) if (want.includes(id)) h++; return h; };
    // QPS from the sum of the per-query latencies (the sync f32 pass yields every 25 queries,
    // so the harness makes no long task of its own).
    const summarize = (lat, hits) => ({ recall: hits / (nq * k), qps: nq / (lat.reduce((x, y) => x + y, 0) / 1000), p50: pct(lat, 0.5), p95: pct(lat, 0.95), p99: pct(lat, 0.99) });
    const passF32 = async () => {
      const lat = []; let hits = 0;
      for (let qi = 0; qi < nq; qi++) {
        if (qi % 25 === 0) await yieldNow();
        const t1 = performance.now();
        const r = f32.search(queries.subarray(qi * dims, (qi + 1) * dims), k, ef);
        lat.push(performance.now() - t1);
        hits += recallOf(qi, r.ids);
      }
      return summarize(lat, hits);
    };
    // A search that finds every row in the hot set resolves in microtasks: a loop of them never
    // yields, so the harness yields every 25 queries itself (outside the timings), as the f32
    // pass does, and the long tasks counted are elex's own.
    const passBudget = async (label) => {
      const lat = []; let hits = 0; const t0 = performance.now();
      for (let qi = 0; qi < nq; qi++) {
        if (qi % 25 === 0) await yieldNow();
        const t1 = performance.now();
        const r = await b.search(queries.subarray(qi * dims, (qi + 1) * dims), k, { ef });
        lat.push(performance.now() - t1);
        hits += recallOf(qi, r.ids);
      }
      windows.search.push([t0, performance.now()]);
      (windows[label] ??= []).push([t0, performance.now()]);
      return summarize(lat, hits);
    };
    const f32Runs = [];
    const byShare = shares.map(() => []);
    for (let round = 0; round < rounds; round++) {
      const f = await passF32();
      f32Runs.push(f);
      for (let si = 0; si < shares.length; si++) {
        const budget = Math.floor(full * shares[si]);
        try { b.setBudget(budget); } catch (e) { byShare[si].push({ error: e.message }); continue; }
        await passBudget(`${shares[si]} warm-up`);
        const s0 = b.stats();
        const r = await passBudget(`${shares[si]}`);
        const s1 = b.stats();
        const q = s1.queries - s0.queries;
        const hot = s1.hotHits - s0.hotHits, read = s1.rowsRead - s0.rowsRead;
        byShare[si].push({
          ...r,
          ratio: r.qps / f.qps,
          rowsPerQuery: read / q,
          bytesPerQuery: (s1.bytesRead - s0.bytesRead) / q,
          hitRatio: hot / Math.max(1, hot + read),
          memoryBytes: b.memoryBytes(),
          budget,
        });
        if (b.memoryBytes() > budget) throw new Error(`memoryBytes ${b.memoryBytes()} above ${budget}`);
      }
      console.log(`round ${round + 1} of ${rounds}`);
    }
    const med = (xs) => { const s = [...xs].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
    const summary = (runs, keys) => Object.fromEntries(keys.map((key) => [key, med(runs.map((r) => r[key]))]));
    const passKeys = ['recall', 'qps', 'p50', 'p95', 'p99'];
    return {
      f32: { build_s: f32Build, bytes: full, ...summary(f32Runs, passKeys) },
      q4: { build_s: q4Build, minimum_bytes: minimum, long_tasks_in_build: inWindows(windows.build) },
      long_tasks_in_searches: inWindows(windows.search),
      long_tasks_by_pass: Object.fromEntries(Object.entries(windows).map(([key, ws]) => [key, inWindows(ws)]).filter(([, v]) => v.length)),
      budgets: shares.map((share, si) => {
        const ok = byShare[si].filter((r) => !r.error);
        if (!ok.length) return { share, error: byShare[si][0]?.error };
        return { share, ...summary(ok, [...passKeys, 'ratio', 'rowsPerQuery', 'bytesPerQuery', 'hitRatio', 'memoryBytes', 'budget']) };
      }),
    };
  };
  const params = { n: base.rows, nq: queries.rows, dims, k, ef: Number(a.ef), rerank: Number(a.rerank), precision: a.precision, rounds: Number(a.rounds), shares: a.shares.split(',').map(Number), rowStore: a.rows };
  result = a.rows === 'opfs'
    ? await page.evaluate(({ src, arg }) => inWorker(src, arg), { src: bench.toString(), arg: params })
    : await page.evaluate(bench, params);
} finally {
  await chromium.close();
  server.close();
}

const f = (x, d = 0) => (x === undefined ? '' : x.toFixed(d));
const where = a.rows === 'opfs' ? 'an OPFS file (sync access handle; the whole bench in a dedicated worker)' : 'IndexedDB';
let md = `# Budgeted index in Chromium: ${base.rows} x ${dims}, ${queries.rows} queries, k ${k}, ef ${a.ef}, rerank ${a.rerank}, rows ${a.precision} in ${where}, ${a.rounds} interleaved rounds (medians)\n\n`;
md += `f32 HnswIndex: ${(result.f32.bytes / 1e6).toFixed(1)} MB, built in ${f(result.f32.build_s, 1)} s. BudgetedIndex (q4): codes and links ${(result.q4.minimum_bytes / 1e6).toFixed(1)} MB (the minimum budget, ${f(100 * result.q4.minimum_bytes / result.f32.bytes)}% of f32), built in ${f(result.q4.build_s, 1)} s (rows written included). Long tasks (> 50 ms) while the BudgetedIndex worked: ${result.q4.long_tasks_in_build.length} in its build${result.q4.long_tasks_in_build.length ? ` (${result.q4.long_tasks_in_build.join(', ')} ms)` : ''}, ${result.long_tasks_in_searches.length} in its searches${result.long_tasks_in_searches.length ? ` (${Object.entries(result.long_tasks_by_pass).filter(([key]) => key !== 'search' && key !== 'build').map(([key, v]) => `${key}: ${v.join(', ')} ms`).join('; ')})` : ''}. QPS is queries over the sum of their latencies.\n\n`;
md += '| index | recall@10 | QPS | P50 ms | P95 ms | P99 ms | QPS vs f32 | rows read / query | bytes read / query | hot hit ratio | memoryBytes MB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n';
md += `| f32, no budget | ${f(result.f32.recall, 4)} | ${f(result.f32.qps)} | ${f(result.f32.p50, 3)} | ${f(result.f32.p95, 3)} | ${f(result.f32.p99, 3)} | 1 | - | - | - | ${(result.f32.bytes / 1e6).toFixed(1)} |\n`;
for (const r of result.budgets) {
  if (r.error) { md += `| ${r.share * 100}% of f32 | ${r.error} |||||||||| \n`; continue; }
  md += `| ${f(r.share * 100)}% of f32 | ${f(r.recall, 4)} | ${f(r.qps)} | ${f(r.p50, 3)} | ${f(r.p95, 3)} | ${f(r.p99, 3)} | ${f(r.ratio, 2)} | ${f(r.rowsPerQuery, 1)} | ${f(r.bytesPerQuery)} | ${f(r.hitRatio, 3)} | ${(r.memoryBytes / 1e6).toFixed(1)} |\n`;
}
console.log(md);
mkdirSync(resolve(a.out), { recursive: true });
const tag = `${base.rows >= 1000 ? `${base.rows / 1000}k` : base.rows}${a.rows === 'opfs' ? '-opfs' : ''}`;
writeFileSync(join(resolve(a.out), `budget-chromium-${tag}.json`), JSON.stringify({ args: a, ...result }, null, 1));
writeFileSync(join(resolve(a.out), `budget-chromium-${tag}.md`), md);
