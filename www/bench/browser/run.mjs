// The browser benchmark driver: the same data and engines in headless Chromium (playwright-core,
// Debian's /usr/bin/chromium) and in Node, in one run. Writes JSON and a markdown table to --out
// (run-benchmarks.sh then plots recall against QPS with plot.py, matplotlib).
// node www/bench/browser/run.mjs [--data DIR] [--n 10000] [--queries 200] [--ef 10,20,40,80,160]
//   [--rounds 3] [--min-pass-ms 0] [--engines ...] [--out ../bench-results] [--no-node]
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { brotliBytes, shippedFiles } from '../size.mjs';
import { groundTruth } from './harness.js';
import { readVecs } from '../fvecs.mjs';
import { serveDir, launchChromium } from '../../test/serve.mjs';
import { benchOptions } from './options.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const www = join(here, '..', '..');
const { values: a } = parseArgs({
  options: {
    ...benchOptions,
    out: { type: 'string', default: join(www, '..', 'bench-results') },
    'no-node': { type: 'boolean', default: false },
  },
});
const data = resolve(a.data);
const n = Number(a.n), nq = Number(a.queries), k = 10;
const { ef, rounds, engines } = a;
const minPassMs = a['min-pass-ms'];
const out = resolve(a.out);
mkdirSync(out, { recursive: true });
const tag = `${n >= 1000 ? `${n / 1000}k` : n}`;

// Build the page, then put the data beside it.
execFileSync(join(www, 'node_modules', '.bin', 'vite'), ['build', '--config', 'bench/browser/vite.config.js', '--logLevel', 'error'], { cwd: www, stdio: 'inherit' });
const dist = join(www, 'dist', 'bench');
const base = readVecs(join(data, 'base.fvecs'), n);
const queries = readVecs(join(data, 'query.fvecs'), nq);
const dims = base.dims;
const truth = groundTruth(base.data, queries.data, dims, n, nq, k);
mkdirSync(join(dist, 'data'), { recursive: true });
writeFileSync(join(dist, 'data', 'base.f32'), Buffer.from(base.data.buffer));
writeFileSync(join(dist, 'data', 'query.f32'), Buffer.from(queries.data.buffer));
writeFileSync(join(dist, 'data', 'truth.i32'), Buffer.from(truth.buffer));

const server = await serveDir(dist, { isolate: true });
const browser = await launchChromium();
let chromiumRun;
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.log(`[chromium] ${m.text()}`));
  const q = new URLSearchParams({ n, nq, dims, ef, engines, rounds, minPassMs });
  await page.goto(`${server.url}?${q}`);
  await page.waitForFunction(() => window.__bench !== undefined, null, { timeout: 3_600_000 });
  chromiumRun = await page.evaluate(() => window.__bench);
  if (chromiumRun.error) throw new Error(chromiumRun.error);
} finally {
  await browser.close();
  server.close();
}

// Kept at once, so a later failure cannot lose it.
writeFileSync(join(out, `browser-bench-chromium-${tag}.json`), JSON.stringify(chromiumRun, null, 1));

let nodeRun = null;
if (!a['no-node']) {
  const tmp = join(out, `browser-bench-node-${tag}.json`);
  execFileSync('node', [join(here, 'node.mjs'), '--data', data, '--n', String(n), '--queries', String(nq), '--ef', ef, '--rounds', rounds, '--min-pass-ms', minPassMs, '--engines', engines, '--json', tmp], { cwd: www, stdio: 'inherit' });
  nodeRun = JSON.parse(readFileSync(tmp, 'utf8'));
}

// Package sizes: each engine's shipped wasm + JS, Brotli q 11.
const peers = join(here, '..', 'peers', 'node_modules');
const sizeOf = (files) => files.reduce((a, f) => {
  const b = readFileSync(f);
  return { raw: a.raw + b.length, br: a.br + brotliBytes(b) };
}, { raw: 0, br: 0 });
const listFiles = (dir, re) => readdirSync(dir).filter((f) => re.test(f)).map((f) => join(dir, f));
const sizes = {
  'elex/core (simd: wasm + glue + snippets + loader)': sizeOf(shippedFiles('simd-core')),
  'elex/core (relaxed SIMD: wasm + glue + snippets + loader)': sizeOf(shippedFiles('relaxed-core')),
  'elex, full build (simd: wasm + glue + snippets + loader)': sizeOf(shippedFiles('simd')),
  'elex, full build (relaxed SIMD: wasm + glue + snippets + loader)': sizeOf(shippedFiles('relaxed')),
  'hnswlib-wasm': sizeOf(listFiles(join(peers, 'hnswlib-wasm/dist'), /\.js$/)),
  'hnswlib-emcc-simd': sizeOf([join(here, '..', 'peers', 'hnswlib-emcc', 'out', 'hnswlib-emcc.wasm'), join(here, '..', 'peers', 'hnswlib-emcc', 'out', 'hnswlib-emcc.mjs')]),
  edgevec: sizeOf([join(peers, 'edgevec/edgevec_bg.wasm'), join(peers, 'edgevec/edgevec.js')]),
  mememo: sizeOf([join(peers, 'mememo/dist/index.es.js')]),
  'voy-search': sizeOf([join(peers, 'voy-search/voy_search_bg.wasm'), join(peers, 'voy-search/voy_search_bg.js')]),
};

// QPS at recall 0.95, interpolated on log QPS between the ef points around it.
function at95(runs) {
  const r = runs.filter((x) => x.ef !== null).sort((a, b) => a.recall - b.recall);
  for (let i = 1; i < r.length; i++) {
    if (r[i - 1].recall < 0.95 && r[i].recall >= 0.95) {
      const t = (0.95 - r[i - 1].recall) / (r[i].recall - r[i - 1].recall);
      return { qps: Math.exp(Math.log(r[i - 1].qps) + t * (Math.log(r[i].qps) - Math.log(r[i - 1].qps))), p95: r[i].p95_ms };
    }
  }
  const first = r.find((x) => x.recall >= 0.95);
  if (first) return { qps: first.qps, p95: first.p95_ms };
  const exact = runs.find((x) => x.ef === null);
  return exact && exact.recall >= 0.95 ? { qps: exact.qps, p95: exact.p95_ms } : null;
}
function table(run) {
  const rows = run.results.map((e) => ({ e, a: e.runs ? at95(e.runs) : null }));
  const peerBest = Math.max(...rows.filter((r) => !r.e.engine.startsWith('elex') && r.a).map((r) => r.a.qps));
  let md = `| engine | build s | QPS @ recall 0.95 | P95 ms there | vs best peer | recall/QPS per ef |\n|---|---:|---:|---:|---:|---|\n`;
  for (const { e, a } of rows) {
    if (e.error) { md += `| ${e.engine} | failed: ${e.error} | | | | |\n`; continue; }
    const per = e.runs.map((r) => `${r.ef ?? 'exact'}: ${r.recall.toFixed(3)}/${r.qps.toFixed(0)}`).join(', ');
    md += `| ${e.engine} | ${e.build_seconds.toFixed(2)} | ${a ? a.qps.toFixed(0) : 'never reaches 0.95'} | ${a ? a.p95.toFixed(3) : ''} | ${a && peerBest > 0 ? `${(a.qps / peerBest).toFixed(2)}x` : ''} | ${per} |\n`;
  }
  return md;
}
const doc = { n, nq, dims, k, rounds: Number(rounds), min_pass_ms: Number(minPassMs), chromium: chromiumRun, node: nodeRun, sizes_bytes: sizes };
writeFileSync(join(out, `browser-bench-${tag}.json`), JSON.stringify(doc, null, 1));
let md = `# Browser benchmark, first ${n} vectors of ${basename(data)} x ${dims}, ${nq} queries, k = ${k}, M = 16, efC = 200\n\n`;
md += `Engines built first, then timed passes interleaved over engines, ${rounds} rounds over every ef${Number(minPassMs) > 0 ? `, each pass repeating the queries for at least ${minPassMs} ms` : ''}; each figure is the round with the median QPS. QPS at recall 0.95 is interpolated on log QPS between the ef points around it; P95 is that of the first ef at or above 0.95.\n\n`;
md += `## Chromium (${chromiumRun.environment})\n\n${table(chromiumRun)}\n`;
if (nodeRun) md += `## Node (${nodeRun.environment})\n\n${table(nodeRun)}\n`;
md += `## Package sizes (wasm + JS, Brotli q 11)\n\n| package | raw bytes | Brotli bytes |\n|---|---:|---:|\n`;
for (const [name, s] of Object.entries(sizes)) md += `| ${name} | ${s.raw} | ${s.br} |\n`;
writeFileSync(join(out, `browser-bench-${tag}.md`), md);
console.log(md);
