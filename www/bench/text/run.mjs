// Text and hybrid search: elex beside MiniSearch and Orama on docs-50k's passages, in Node and
// (with --browser) in headless Chromium, plus known-item quality of BM25, vectors and hybrid.
//
//   node --expose-gc www/bench/text/run.mjs [--data DIR] [--n 50000] [--items 1000]
//        [--rounds 3] [--browser] [--out bench-results]
//
// Known-item queries come from core.mjs (three rare words and an 8-word snippet per passage);
// they are embedded once with all-MiniLM-L6-v2 (int8 ONNX from ../shared/models, transformers.js
// on onnxruntime-node) and cached in the tool cache. Writes text-node.json (and
// text-chromium.json) and text.md.
import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { readVecs } from '../fvecs.mjs';
import { knownItems, exactTop10, runTextBench } from './core.mjs';
import { queryEmbeddings } from './embed.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const { values: opt } = parseArgs({
  options: {
    data: { type: 'string', default: resolve(root, '../shared/data/docs-50k') },
    model: { type: 'string', default: resolve(root, '../shared/models') },
    n: { type: 'string', default: '50000' },
    items: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
    out: { type: 'string', default: resolve(root, 'bench-results') },
    browser: { type: 'boolean', default: false },
  },
});
const n = Number(opt.n);
const log = (s) => console.log(s);
mkdirSync(opt.out, { recursive: true });

const passages = readFileSync(join(opt.data, 'base.txt'), 'utf8').split('\n').slice(0, n);
const { dims, data: vectors } = readVecs(join(opt.data, 'base.fvecs'), n);
const items = knownItems(passages, Number(opt.items));
log(`${passages.length} passages, ${items.length} known-item queries (${opt.items} rare-word, ${opt.items} snippet)`);

const qvecs = await queryEmbeddings(items, dims, opt.model, log);
const exactRows = Math.min(300, items.length);
const t2 = performance.now();
const exact = exactTop10(vectors, dims, qvecs.subarray(0, exactRows * dims));
log(`exact top-10 of ${exactRows} query vectors in ${((performance.now() - t2) / 1000).toFixed(1)} s`);

const results = {};
{
  const { init } = await import('elex');
  const elex = await init();
  const require = createRequire(join(here, '../peers/package.json'));
  const MiniSearch = (await import(require.resolve('minisearch'))).default;
  const orama = await import(require.resolve('@orama/orama'));
  const heapUsed = () => {
    if (globalThis.gc) globalThis.gc();
    return process.memoryUsage().heapUsed;
  };
  log(`== Node ${process.version}, elex ${elex.flavour}`);
  results.node = await runTextBench({ elex, MiniSearch, orama, passages, vectors, dims, items, qvecs, exact, rounds: Number(opt.rounds), heapUsed, log });
  writeFileSync(join(opt.out, 'text-node.json'), JSON.stringify(results.node, null, 1));
}

if (opt.browser) {
  const { runInChromium } = await import('./chromium.mjs');
  log('== Chromium');
  results.chromium = await runInChromium({ passages, vectors, dims, items, qvecs, exact, rounds: Number(opt.rounds), log });
  writeFileSync(join(opt.out, 'text-chromium.json'), JSON.stringify(results.chromium, null, 1));
}

// The report.
const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const lines = [`# Text and hybrid search, docs-50k (${n} passages, ${items.length} known-item queries)`, ''];
for (const [where, r] of Object.entries(results)) {
  lines.push(`## ${where}`, '');
  lines.push(`Vector side of hybrid: i8 + rerank HNSW, ef ${r.vectorSide.ef} (recall@10 ${f(r.vectorSide.recall10, 3)} against exact search), depth ${r.vectorSide.depth} per side.`, '');
  lines.push('| quality (MRR@10 / recall@10) | all | rare words | snippet |', '|---|---|---|---|');
  for (const name of ['bm25', 'vector', 'hybridRrf', `alpha${r.bestAlpha}`]) {
    const label = { bm25: 'elex BM25', vector: 'elex vectors', hybridRrf: 'elex hybrid RRF' }[name] ?? `elex hybrid alpha ${r.bestAlpha} (best)`;
    lines.push(`| ${label} | ${['all', 'rare', 'snippet'].map((k) => `${f(r.quality[k][name].mrr10, 3)} / ${f(r.quality[k][name].recall10, 3)}`).join(' | ')} |`);
  }
  lines.push('', `Full-text engines on the first ${r.peerItems} queries (their own defaults):`, '', '| MRR@10 / recall@10 | all | rare words | snippet |', '|---|---|---|---|');
  for (const [name, label] of [['bm25', 'elex BM25'], ['minisearch', 'MiniSearch'], ['orama', 'Orama']]) {
    lines.push(`| ${label} | ${['all', 'rare', 'snippet'].map((k) => `${f(r.quality[k].peers[name].mrr10, 3)} / ${f(r.quality[k].peers[name].recall10, 3)}`).join(' | ')} |`);
  }
  lines.push('', `All alphas (MRR@10, all queries): ${Object.keys(r.quality.all).filter((k) => k.startsWith('alpha')).map((k) => `${k.slice(5)} ${f(r.quality.all[k].mrr10, 3)}`).join(', ')}.`);
  lines.push('', '| speed (median of rounds) | QPS | P50 ms | P95 ms |', '|---|---:|---:|---:|');
  const med = (xs, k) => xs.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [k, label] of [['elex', 'elex full-text'], ['minisearch', 'MiniSearch full-text'], ['orama', 'Orama full-text'], ['elexVector', 'elex vectors'], ['elexHybrid', 'elex hybrid (RRF)'], ['oramaHybrid', 'Orama hybrid']]) {
    lines.push(`| ${label} | ${f(med(r.speed[k], 'qps'))} | ${f(med(r.speed[k], 'p50'), 3)} | ${f(med(r.speed[k], 'p95'), 3)} |`);
  }
  lines.push('', `Median per-round ratios: full-text QPS elex/MiniSearch ${f(r.speedRatio.fullTextVsMiniSearch, 2)}x, elex/Orama ${f(r.speedRatio.fullTextVsOrama, 2)}x; hybrid QPS elex/Orama ${f(r.speedRatio.hybridVsOrama, 2)}x.`);
  const mb = (x) => f(x / 1048576, 1);
  lines.push('', `Build (median ms): elex text ${f(med(r.buildMs.elex.map((x) => ({ x })), 'x'))}, MiniSearch ${f(med(r.buildMs.minisearch.map((x) => ({ x })), 'x'))}, Orama ${f(med(r.buildMs.orama.map((x) => ({ x })), 'x'))} (Orama with vectors ${f(r.oramaWithVectorsBuildMs)}); ratios MiniSearch/elex ${f(r.buildRatio.minisearchOverElex, 2)}x, Orama/elex ${f(r.buildRatio.oramaOverElex, 2)}x.`);
  lines.push(`elex text snapshot: ${mb(r.snapshot.bytes)} MB, toBytes ${f(r.snapshot.toBytesMs)} ms, fromBytes ${f(r.snapshot.fromBytesMs)} ms (one task each)` +
    (r.elexBuildLongestTaskMs.some((x) => x) ? `; longest task while elex built (addBatch, 8 ms slices): ${r.elexBuildLongestTaskMs.map((x) => `${f(x.longestMs)} ms (${x.over50} over 50 ms)`).join(', ')} per round.` : '.'));
  lines.push(`Memory: elex text index ${mb(r.memory.elex.textIndexBytes)} MB in wasm (JS heap ${mb(r.memory.elex.jsHeapDelta)} MB), MiniSearch JS heap ${mb(r.memory.minisearch.jsHeapDelta)} MB, Orama JS heap ${mb(r.memory.orama.jsHeapDelta)} MB (with vectors ${mb(r.memory.oramaWithVectors.jsHeapDelta)} MB; elex vectors ${mb(r.memory.elex.vectorIndexBytes)} MB).`, '');
}
// Package size added to an app, Brotli 11: elex/core as shipped (wasm, minified glue and
// snippets, loader; the simd flavour, what Chromium loads) and the full elex for comparison;
// MiniSearch and Orama bundled and minified by esbuild from an entry that re-exports all they
// export.
{
  const { brotliBytes, shippedBytes } = await import('../size.mjs');
  const esbuild = await import('esbuild');
  const peer = async (contents) => {
    const out = await esbuild.build({ stdin: { contents, resolveDir: resolve(here, '../peers'), loader: 'js' }, bundle: true, minify: true, format: 'esm', write: false, platform: 'browser', logLevel: 'silent' });
    return brotliBytes(out.outputFiles[0].contents);
  };
  const kb = (x) => (x / 1000).toFixed(1);
  const sizes = { elexCore: shippedBytes('simd-core'), elexFull: shippedBytes('simd'), minisearch: await peer("export { default } from 'minisearch';"), orama: await peer("export * from '@orama/orama';") };
  results.packageBytes = sizes;
  lines.push('## Package size added (Brotli 11)', '', '| package | KB |', '|---|---:|');
  for (const [k, label] of [['elexCore', 'elex/core (vector index, text index, hybrid; simd)'], ['elexFull', 'elex (full build; simd)'], ['minisearch', 'MiniSearch (esbuild, minified)'], ['orama', 'Orama (esbuild, minified)']]) lines.push(`| ${label} | ${kb(sizes[k])} |`);
  lines.push('');
}
writeFileSync(join(opt.out, 'text.md'), lines.join('\n'));
console.log('\n' + lines.join('\n'));
