// Known-item quality of BM25, vectors and hybrid search on docs-50k when passages are embedded in
// chunks: each passage's own vector (base.fvecs) plus its windows of 16 words at a stride of 8
// (core.mjs `passageWindows`, embedded by embed-windows.mjs with the same all-MiniLM-L6-v2),
// all in one elex HnswIndex (i8 + re-rank) under the ids `passage << 4 | chunk`, searched through
// `hybridSearch(..., { chunkBits: 4 })`. Beside it, the one-vector-per-passage index of
// run.mjs. Same 2,000 queries as run.mjs (three rare words and an 8-word snippet per passage).
//
//   node www/bench/text/embed-windows.mjs --part 0 --parts 2 & node ... --part 1 --parts 2
//   node www/bench/text/chunks.mjs [--n 50000] [--ef 128] [--out bench-results]
import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readVecs } from '../fvecs.mjs';
import { knownItems, quality, passageWindows } from './core.mjs';
import { cacheDir, queryEmbeddings } from './embed.mjs';
import { init } from 'elex';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const { values: opt } = parseArgs({ options: {
  data: { type: 'string', default: resolve(root, '../shared/data/docs-50k') },
  model: { type: 'string', default: resolve(root, '../shared/models') },
  n: { type: 'string', default: '50000' },
  items: { type: 'string', default: '1000' },
  ef: { type: 'string', default: '128' },
  out: { type: 'string', default: resolve(root, 'bench-results') },
} });
const n = Number(opt.n);
const ef = Number(opt.ef);
const log = (s) => console.log(s);
const passages = readFileSync(join(opt.data, 'base.txt'), 'utf8').split('\n').slice(0, n);
const { dims, data: vectors } = readVecs(join(opt.data, 'base.fvecs'), n);
const items = knownItems(passages, Number(opt.items));
const cFile = join(cacheDir(), `chunks16-${n}.f32`);
if (!existsSync(cFile)) throw new Error(`${cFile} is missing: run embed-windows.mjs first`);
const qvecs = await queryEmbeddings(items, dims, opt.model, log);
const cvecs = new Float32Array(readFileSync(cFile).buffer.slice(0));
const windows = passages.map(passageWindows);
const totalWindows = windows.reduce((a, w) => a + w.length, 0);
if (cvecs.length !== totalWindows * dims) throw new Error(`${cFile} holds ${cvecs.length / dims} windows, the passages make ${totalWindows}`);
log(`${n} passages, ${totalWindows} windows, ${items.length} queries`);

const elex = await init();
const ids = Float64Array.from({ length: n }, (_, i) => i);
const text = new elex.TextIndex();
await text.addBatch(ids, passages);
const whole = new elex.HnswIndex({ dims, metric: 'cosine', storage: 'i8', keepF32: true });
let t0 = performance.now();
await whole.addBatch(ids, vectors);
const wholeMs = performance.now() - t0;
// The chunk index: passage p's own vector as chunk 0, its windows as chunks 1..15.
const chunkIds = new Float64Array(n + totalWindows);
const chunkVecs = new Float32Array((n + totalWindows) * dims);
{
  let at = 0;
  let w = 0;
  for (let p = 0; p < n; p++) {
    chunkIds[at] = p * 16;
    chunkVecs.set(vectors.subarray(p * dims, (p + 1) * dims), at * dims);
    at++;
    for (let j = 0; j < windows[p].length; j++, w++, at++) {
      chunkIds[at] = p * 16 + j + 1;
      chunkVecs.set(cvecs.subarray(w * dims, (w + 1) * dims), at * dims);
    }
  }
}
const chunked = new elex.HnswIndex({ dims, metric: 'cosine', storage: 'i8', keepF32: true });
t0 = performance.now();
await chunked.addBatch(chunkIds, chunkVecs);
const chunkedMs = performance.now() - t0;
log(`built: text, whole (${n} vectors, ${(wholeMs / 1000).toFixed(1)} s), chunks (${chunkIds.length} vectors, ${(chunkedMs / 1000).toFixed(1)} s)`);

const qv = (i) => qvecs.subarray(i * dims, (i + 1) * dims);
const run = (f) => {
  const t = performance.now();
  const lists = items.map((x, i) => Array.from(f(x, i).ids));
  return { lists, qps: items.length / ((performance.now() - t) / 1000) };
};
const results = {
  bm25: run((x) => text.search(x.text, 10)),
  'vectors, one per passage': run((x, i) => elex.hybridSearch(whole, text, { vector: qv(i), k: 10, ef })),
  'vectors, chunks': run((x, i) => elex.hybridSearch(chunked, text, { vector: qv(i), k: 10, ef, chunkBits: 4 })),
  'hybrid RRF, one per passage': run((x, i) => elex.hybridSearch(whole, text, { vector: qv(i), text: x.text, k: 10, ef })),
  'hybrid RRF, chunks': run((x, i) => elex.hybridSearch(chunked, text, { vector: qv(i), text: x.text, k: 10, ef, chunkBits: 4 })),
};
const alphas = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5];
for (const a of alphas) {
  results[`hybrid alpha ${a}, one per passage`] = run((x, i) => elex.hybridSearch(whole, text, { vector: qv(i), text: x.text, k: 10, ef, fusion: { alpha: a } }));
  results[`hybrid alpha ${a}, chunks`] = run((x, i) => elex.hybridSearch(chunked, text, { vector: qv(i), text: x.text, k: 10, ef, chunkBits: 4, fusion: { alpha: a } }));
}
const targets = items.map((x) => x.target);
const sel = (k) => items.map((x, i) => (k === 'all' || x.kind === k ? i : -1)).filter((i) => i >= 0);
const q = {};
for (const [name, r] of Object.entries(results)) {
  q[name] = Object.fromEntries(['all', 'rare', 'snippet'].map((k) => {
    const s = sel(k);
    return [k, quality(s.map((i) => r.lists[i]), s.map((i) => targets[i]))];
  }));
}
const best = alphas.map((a) => `hybrid alpha ${a}, chunks`).reduce((b, name) => (q[name].all.mrr10 > q[b].all.mrr10 ? name : b));
// Query by query against BM25: where the best fusion ranks the passage higher, where lower.
const rr = (l, t) => { const at = l.indexOf(t); return at < 0 ? 0 : 1 / (at + 1); };
let better = 0;
let worse = 0;
items.forEach((_, i) => {
  const d = rr(results[best].lists[i], targets[i]) - rr(results.bm25.lists[i], targets[i]);
  if (d > 0) better++;
  else if (d < 0) worse++;
});
// A sign test: under "no difference" better ~ Binomial(better + worse, 1/2); two-sided p.
const m = better + worse;
let tail = 0;
for (let j = Math.max(better, worse); j <= m; j++) {
  let c = 0;
  for (let i = 1; i <= j; i++) c += Math.log(m - j + i) - Math.log(i);
  tail += Math.exp(c - m * Math.LN2);
}
const p = Math.min(1, 2 * tail);
const f = (x, d = 3) => x.toFixed(d);
const lines = [`# Known-item quality with chunked passages, docs-50k (${n} passages, ${totalWindows} windows, ${items.length} queries)`, '',
  `Vector indexes: i8 + re-rank HNSW, ef ${ef}; one vector per passage (built in ${f(wholeMs / 1000, 1)} s) and one per passage plus one per window (${chunkIds.length} vectors, ${f(chunkedMs / 1000, 1)} s). Fusion depth 50 per side.`, '',
  '| MRR@10 / recall@10 | all | rare words | snippet | QPS |', '|---|---|---|---|---:|'];
for (const name of Object.keys(results)) {
  lines.push(`| ${name}${name === best ? ' (best)' : ''} | ${['all', 'rare', 'snippet'].map((k) => `${f(q[name][k].mrr10, 4)} / ${f(q[name][k].recall10)}`).join(' | ')} | ${f(results[name].qps, 0)} |`);
}
lines.push('', `${best} against BM25, query by query: ${better} rank the passage higher, ${worse} lower (sign test, two-sided p = ${p.toPrecision(2)}).`, '');
mkdirSync(opt.out, { recursive: true });
writeFileSync(join(opt.out, 'text-chunks.md'), lines.join('\n'));
writeFileSync(join(opt.out, 'text-chunks.json'), JSON.stringify({ n, windows: totalWindows, ef, quality: q, qps: Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.qps])), best, better, worse, p }, null, 1));
log(lines.join('\n'));
