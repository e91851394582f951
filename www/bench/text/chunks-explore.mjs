// Exploration: do passage chunks (windows of 16 words, stride 8, embedded with the same model)
// make the vector side, and hybrid fusion, better than BM25 on the known-item set?
//   node www/bench/text/chunks-explore.mjs [--n 10000] [--threads 1]
import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { readVecs } from '../fvecs.mjs';
import { knownItems, quality, passageWindows } from './core.mjs';
import { init } from 'elex';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const { values: opt } = parseArgs({ options: { n: { type: 'string', default: '10000' }, items: { type: 'string', default: '1000' }, threads: { type: 'string', default: '1' } } });
const n = Number(opt.n);
const data = resolve(root, '../shared/data/docs-50k');
const passages = readFileSync(join(data, 'base.txt'), 'utf8').split('\n').slice(0, n);
const { dims, data: vectors } = readVecs(join(data, 'base.fvecs'), n);
const items = knownItems(passages, Number(opt.items));
const BITS = 4; // chunk j of passage p has id p * 16 + j; j = 0 is the whole passage (base.fvecs)
const chunkText = passages.map(passageWindows);
const total = chunkText.reduce((a, c) => a + c.length, 0);
const cacheDir = join(process.env.HOME, '.cache/elex/text-bench');
mkdirSync(cacheDir, { recursive: true });
const cacheFile = join(cacheDir, `chunks16-${n}.f32`);
let cvecs;
if (existsSync(cacheFile)) cvecs = new Float32Array(readFileSync(cacheFile).buffer.slice(0));
else {
  const require = createRequire(join(here, '../peers/package.json'));
  const tf = await import(require.resolve('@huggingface/transformers'));
  tf.env.allowRemoteModels = false;
  tf.env.localModelPath = resolve(root, '../shared/models') + '/';
  const embed = await tf.pipeline('feature-extraction', 'all-MiniLM-L6-v2', { dtype: 'q8', session_options: { intraOpNumThreads: Number(opt.threads) } });
  const flat = chunkText.flat();
  cvecs = new Float32Array(flat.length * dims);
  const t0 = performance.now();
  for (let i = 0; i < flat.length; i += 16) {
    const t = await embed(flat.slice(i, i + 16), { pooling: 'mean', normalize: true });
    cvecs.set(t.data, i * dims);
    if (i % 4096 === 0) console.log(`${i} / ${flat.length} windows, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  writeFileSync(cacheFile, Buffer.from(cvecs.buffer));
}
console.log(`${n} passages, ${total} windows`);
// Query embeddings: run.mjs's cache holds them for the 50K set only; embed here when missing.
const qFile = join(cacheDir, `chunk-queries-${n}-${items.length}.f32`);
let qvecs;
if (existsSync(qFile)) qvecs = new Float32Array(readFileSync(qFile).buffer.slice(0));
else {
  const require = createRequire(join(here, '../peers/package.json'));
  const tf = await import(require.resolve('@huggingface/transformers'));
  tf.env.allowRemoteModels = false;
  tf.env.localModelPath = resolve(root, '../shared/models') + '/';
  const embed = await tf.pipeline('feature-extraction', 'all-MiniLM-L6-v2', { dtype: 'q8', session_options: { intraOpNumThreads: Number(opt.threads) } });
  qvecs = new Float32Array(items.length * dims);
  for (let i = 0; i < items.length; i++) qvecs.set((await embed(items[i].text, { pooling: 'mean', normalize: true })).data, i * dims);
  writeFileSync(qFile, Buffer.from(qvecs.buffer));
}
const elex = await init();
const text = new elex.TextIndex();
await text.addBatch(Array.from({ length: n }, (_, i) => i), passages);
// Exact vector scores: whole passage, and the max over the passage and its windows.
const chunkStart = new Int32Array(n + 1);
for (let p = 0; p < n; p++) chunkStart[p + 1] = chunkStart[p] + chunkText[p].length;
const dot = (a, ao, b, bo) => { let d = 0; for (let j = 0; j < dims; j++) d += a[ao + j] * b[bo + j]; return d; };
const targets = items.map((x) => x.target);
const lists = { bm25: [], whole: [], chunks: [] };
const fusedBy = {};
const alphas = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
for (const a of alphas) fusedBy[a] = [];
for (let q = 0; q < items.length; q++) {
  const qo = q * dims;
  const whole = new Float32Array(n);
  const best = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    const w = dot(vectors, p * dims, qvecs, qo);
    whole[p] = w;
    let m = w;
    for (let c = chunkStart[p]; c < chunkStart[p + 1]; c++) m = Math.max(m, dot(cvecs, c * dims, qvecs, qo));
    best[p] = m;
  }
  const top = (arr, k) => Array.from(arr.keys()).sort((x, y) => arr[y] - arr[x] || x - y).slice(0, k);
  lists.whole.push(top(whole, 10));
  const vtop = top(best, 50);
  lists.chunks.push(vtop.slice(0, 10));
  const t = text.search(items[q].text, 50);
  lists.bm25.push(Array.from(t.ids).slice(0, 10));
  // Fusion over the union of both sides' 50 best, every candidate scored on both sides.
  const union = [...new Set([...t.ids, ...vtop])];
  const ts = new Map(Array.from(t.ids, (id, r) => [id, t.scores[r]]));
  const miss = union.filter((id) => !ts.has(id));
  if (miss.length) { const m = text.searchFiltered(items[q].text, miss.length, miss); for (let r = 0; r < m.length; r++) ts.set(m.ids[r], m.scores[r]); }
  const tv = union.map((id) => ts.get(id) ?? 0);
  const vv = union.map((id) => best[id]);
  const mm = (xs) => [Math.min(...xs), Math.max(...xs)];
  const [tl, th] = mm(tv);
  const [vl, vh] = mm(vv);
  for (const a of alphas) {
    const s = union.map((id, i) => [id, a * (vh > vl ? (vv[i] - vl) / (vh - vl) : 1) + (1 - a) * (th > tl ? (tv[i] - tl) / (th - tl) : 1)]);
    fusedBy[a].push(s.sort((x, y) => y[1] - x[1] || x[0] - y[0]).slice(0, 10).map((x) => x[0]));
  }
}
const show = (name, l) => {
  const sel = (k) => items.map((x, i) => (k === 'all' || x.kind === k ? i : -1)).filter((i) => i >= 0);
  console.log(`${name.padEnd(22)} ${['all', 'rare', 'snippet'].map((k) => { const s = sel(k); const r = quality(s.map((i) => l[i]), s.map((i) => targets[i])); return `${k} ${r.mrr10.toFixed(4)}/${r.recall10.toFixed(3)}`; }).join('  ')}`);
};
show('bm25', lists.bm25);
show('vectors, whole', lists.whole);
show('vectors, chunk max', lists.chunks);
for (const a of alphas) show(`hybrid alpha ${a}`, fusedBy[a]);
