// elex/core against the full elex: the same code, but a smaller module links and inlines
// differently, so this checks their search speed in one Node process, interleaved rounds (core,
// full, core, full, ...; best of three alternating passes each), median of the per-round QPS
// ratios. docs-50k's first N passages and vectors; queries: docs-50k's query vectors and the first
// 8 words of their passages.
//
//   node www/bench/core-vs-full.mjs [--n 10000] [--queries 300] [--rounds 5]
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readVecs } from './fvecs.mjs';
import { init } from 'elex';
import { init as initCore } from 'elex/core';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opt } = parseArgs({ options: {
  data: { type: 'string', default: resolve(here, '../../../shared/data/docs-50k') },
  n: { type: 'string', default: '10000' }, queries: { type: 'string', default: '300' }, rounds: { type: 'string', default: '5' },
} });
const n = Number(opt.n);
const { dims, data } = readVecs(join(opt.data, 'base.fvecs'), n);
const { data: qs } = readVecs(join(opt.data, 'query.fvecs'), Number(opt.queries));
const texts = readFileSync(join(opt.data, 'query.txt'), 'utf8').split('\n').slice(0, Number(opt.queries)).map((t) => t.split(/\s+/).slice(0, 8).join(' '));
const passages = readFileSync(join(opt.data, 'base.txt'), 'utf8').split('\n').slice(0, n);
const ids = Float64Array.from({ length: n }, (_, i) => i);
const builds = { core: await initCore(), full: await init() };
const setups = [['f32', {}], ['i8 + rerank', { storage: 'i8', keepF32: true }]];
const made = {};
for (const [b, elex] of Object.entries(builds)) {
  made[b] = {};
  for (const [name, o] of setups) {
    const idx = new elex.HnswIndex({ dims, ...o });
    await idx.addBatch(ids, data);
    made[b][name] = idx;
  }
  const t = new elex.TextIndex();
  await t.addBatch(ids, passages);
  made[b].text = t;
}
const nq = qs.length / dims;
const time = (f) => { const t0 = performance.now(); for (let i = 0; i < nq; i++) f(i); return nq / ((performance.now() - t0) / 1000); };
const kinds = [...setups.map((s) => s[0]), 'text', 'hybrid'];
const ratios = Object.fromEntries(kinds.map((k) => [k, []]));
for (let r = 0; r < Number(opt.rounds); r++) {
  for (const k of kinds) {
    const q = { core: 0, full: 0 };
    // Best of three alternating passes per build in a round.
    for (let rep = 0; rep < 3; rep++) for (const b of ['core', 'full']) {
      const m = made[b];
      const elex = builds[b];
      const f = k === 'text' ? (i) => m.text.search(texts[i], 10).length
        : k === 'hybrid' ? (i) => elex.hybridSearch(m['i8 + rerank'], m.text, { vector: qs.subarray(i * dims, (i + 1) * dims), text: texts[i], k: 10 }).length
          : (i) => m[k].search(qs.subarray(i * dims, (i + 1) * dims), 10, 40).length;
      q[b] = Math.max(q[b], time(f));
    }
    ratios[k].push(q.core / q.full);
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const k of kinds) console.log(`${k.padEnd(12)} core/full QPS: median ${med(ratios[k]).toFixed(3)} (rounds ${ratios[k].map((x) => x.toFixed(2)).join(', ')})`);
