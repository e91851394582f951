// Can any fusion beat BM25 on the known-item set? Builds elex's text index and its i8 + re-rank
// vector index over docs-50k (as www/bench/text/run.mjs does), takes each side's 50 best per
// query with both scores for every candidate, and reports MRR@10 / recall@10 of fusion variants
// computed here in JS (min-max alpha, BM25 over its top score plus a share of the cosine,
// weighted RRF, z-scores, alpha only where BM25's top two are close), where BM25 misses and
// what the cosine would change, and the best alpha against BM25 query by query. Query
// embeddings come from run.mjs's cache (made here when missing).
//
//   node www/bench/text/fusion-explore.mjs
import { readFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readVecs } from '../fvecs.mjs';
import { knownItems, quality } from './core.mjs';
import { queryEmbeddings } from './embed.mjs';
import { init } from 'elex';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const data = resolve(root, '../shared/data/docs-50k');
const n = 50000;
const passages = readFileSync(join(data, 'base.txt'), 'utf8').split('\n').slice(0, n);
const { dims, data: vectors } = readVecs(join(data, 'base.fvecs'), n);
const items = knownItems(passages, 1000);
const qvecs = await queryEmbeddings(items, dims, resolve(root, '../shared/models'));
const elex = await init();
const text = new elex.TextIndex();
const ids = Array.from({ length: n }, (_, i) => i);
await text.addBatch(ids, passages);
const vec = new elex.HnswIndex({ dims, metric: 'cosine', storage: 'i8', keepF32: true, efSearch: 64 });
await vec.addBatch(ids, vectors);
console.log('built');
const depth = 50;
const cos = (i, q) => { let d = 0; const o = i * dims, qo = q * dims; for (let j = 0; j < dims; j++) d += vectors[o + j] * qvecs[qo + j]; return d; };
const cands = items.map((it, qi) => {
  const t = text.search(it.text, depth);
  const v = vec.search(qvecs.subarray(qi * dims, (qi + 1) * dims), depth, 64);
  const tr = new Map(Array.from(t.ids, (id, r) => [id, r]));
  const vr = new Map(Array.from(v.ids, (id, r) => [id, r]));
  const union = [...new Set([...t.ids, ...v.ids])];
  const missT = union.filter((id) => !tr.has(id));
  const tAll = new Map(Array.from(t.ids, (id, r) => [id, t.scores[r]]));
  if (missT.length) { const m = text.searchFiltered(it.text, missT.length, missT); for (let r = 0; r < m.length; r++) tAll.set(m.ids[r], m.scores[r]); }
  return union.map((id) => ({ id, t: tAll.get(id) ?? 0, v: cos(id, qi), tr: tr.get(id), vr: vr.get(id) }));
});
const targets = items.map((x) => x.target);
const rank = (score) => cands.map((cs) => cs.map((c) => [c.id, score(c, cs)]).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 10).map((x) => x[0]));
const report = (name, lists) => {
  const all = quality(lists, targets);
  const sel = (k) => items.map((x, i) => (x.kind === k ? i : -1)).filter((i) => i >= 0);
  const r = quality(sel('rare').map((i) => lists[i]), sel('rare').map((i) => targets[i]));
  const s = quality(sel('snippet').map((i) => lists[i]), sel('snippet').map((i) => targets[i]));
  console.log(`${name.padEnd(28)} all ${all.mrr10.toFixed(4)}/${all.recall10.toFixed(3)}  rare ${r.mrr10.toFixed(4)}/${r.recall10.toFixed(3)}  snippet ${s.mrr10.toFixed(4)}/${s.recall10.toFixed(3)}`);
  return all.mrr10;
};
report('bm25', cands.map((cs, i) => Array.from(text.search(items[i].text, 10).ids)));
report('vector', cands.map((cs, i) => Array.from(vec.search(qvecs.subarray(i * dims, (i + 1) * dims), 10, 64).ids)));
const mm = (cs, f) => { let lo = Infinity, hi = -Infinity; for (const c of cs) { lo = Math.min(lo, f(c)); hi = Math.max(hi, f(c)); } return [lo, hi]; };
for (const a of [0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3]) {
  report(`minmax alpha ${a}`, rank((c, cs) => { const [tl, th] = cs.tl ??= mm(cs, (x) => x.t); const [vl, vh] = cs.vl ??= mm(cs, (x) => x.v); return a * (vh > vl ? (c.v - vl) / (vh - vl) : 1) + (1 - a) * (th > tl ? (c.t - tl) / (th - tl) : 1); }));
}
for (const w of [0.05, 0.1, 0.2, 0.3, 0.5, 1]) {
  report(`bm25/max + ${w}*cos`, rank((c, cs) => { const th = cs.th ??= Math.max(...cs.map((x) => x.t)); return c.t / th + w * c.v; }));
}
for (const w of [0.5, 1, 2, 4]) {
  report(`bm25/max + ${w}*(cos-top)`, rank((c, cs) => { const th = cs.th ??= Math.max(...cs.map((x) => x.t)); const vh = cs.vh ??= Math.max(...cs.map((x) => x.v)); return c.t / th + w * (c.v - vh); }));
}
for (const [wt, k0] of [[2, 60], [4, 60], [2, 10], [3, 5], [2, 1]]) {
  report(`rrf text x${wt} c${k0}`, rank((c) => (c.tr !== undefined ? wt / (k0 + c.tr + 1) : 0) + (c.vr !== undefined ? 1 / (k0 + c.vr + 1) : 0)));
}
const z = (cs, f) => { const xs = cs.map(f); const m = xs.reduce((a, b) => a + b, 0) / xs.length; const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length) || 1; return [m, sd]; };
for (const a of [0.1, 0.2, 0.3, 0.4, 0.5]) {
  report(`z-score alpha ${a}`, rank((c, cs) => { const [tm, ts] = cs.tz ??= z(cs, (x) => x.t); const [vm, vs] = cs.vz ??= z(cs, (x) => x.v); return a * (c.v - vm) / vs + (1 - a) * (c.t - tm) / ts; }));
}
// Failure analysis of BM25: what ranks above the target.
let dup = 0, contains = 0, other = 0; const samples = [];
items.forEach((it, i) => {
  const top = Array.from(text.search(it.text, 10).ids);
  const at = top.indexOf(it.target);
  if (at === 0) return;
  const first = top[0];
  if (first === undefined) { other++; return; }
  if (passages[first] === passages[it.target]) dup++;
  else if (passages[first].includes(it.text) || passages[it.target].includes(passages[first])) contains++;
  else { other++; if (samples.length < 8) samples.push({ q: it.text, kind: it.kind, at, target: passages[it.target].slice(0, 120), first: passages[first].slice(0, 120) }); }
});
console.log({ dup, contains, other });
for (const s of samples) console.log(s);
// Room for the vectors: among BM25's misses at rank 1, how often the target has the best cosine
// among BM25's top candidates; and among BM25's hits, how often the vectors would break them.
{
  let fix = 0, miss = 0, breakHit = 0, hits = 0;
  cands.forEach((cs, i) => {
    const top = cs.filter((c) => c.tr !== undefined && c.tr < 3);
    const tgt = targets[i];
    const byV = [...top].sort((a, b) => b.v - a.v)[0];
    const bm1 = cs.find((c) => c.tr === 0);
    if (!bm1) return;
    if (bm1.id === tgt) { hits++; if (byV && byV.id !== tgt) breakHit++; }
    else { miss++; if (byV && byV.id === tgt) fix++; }
  });
  console.log({ hits, breakHit, miss, fix });
}
for (const g of [0.02, 0.05, 0.1, 0.2]) for (const a of [0.1, 0.2, 0.3, 0.5]) {
  report(`gap<${g} alpha ${a}`, rank((c, cs) => {
    const ts = cs.ts ??= cs.map((x) => x.t).sort((x, y) => y - x);
    const gap = (ts[0] - (ts[1] ?? 0)) / (ts[0] || 1);
    const [tl, th] = cs.tl ??= mm(cs, (x) => x.t); const [vl, vh] = cs.vl ??= mm(cs, (x) => x.v);
    const al = gap < g ? a : 0;
    return al * (vh > vl ? (c.v - vl) / (vh - vl) : 1) + (1 - al) * (th > tl ? (c.t - tl) / (th - tl) : 1);
  }));
}
// Paired: per query, does the best min-max alpha put the target higher or lower than BM25?
{
  const a = 0.05;
  const fused = rank((c, cs) => { const [tl, th] = cs.tl ??= mm(cs, (x) => x.t); const [vl, vh] = cs.vl ??= mm(cs, (x) => x.v); return a * (vh > vl ? (c.v - vl) / (vh - vl) : 1) + (1 - a) * (th > tl ? (c.t - tl) / (th - tl) : 1); });
  let up = 0, down = 0;
  fused.forEach((l, i) => {
    const rb = Array.from(text.search(items[i].text, 10).ids).indexOf(targets[i]);
    const rf = l.indexOf(targets[i]);
    const rr = (r) => (r < 0 ? 0 : 1 / (r + 1));
    if (rr(rf) > rr(rb)) up++;
    else if (rr(rf) < rr(rb)) down++;
  });
  console.log(`alpha ${a} against BM25, per query: ${up} better, ${down} worse`);
}
