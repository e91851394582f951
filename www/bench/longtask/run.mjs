// Long tasks while building in Chromium (the app-grade JS issue's measurement): docs-50k (or the
// first --n vectors) built on the main thread with time slicing (default), without it (one task:
// the baseline for the slicing overhead), in the old chunks of 2,000 vectors per task ("before"),
// and in the worker (elex/worker); f32 and i8 + keepF32; rounds interleaved over the modes, the
// median round reported. Also: search ms/query on the page and through the worker, and the
// longest task of save/load (sliced) beside toBytes/fromBytes (one task).
//
//   node www/bench/longtask/run.mjs [--data DIR] [--n 50000] [--rounds 1] [--out bench-results/longtask]
import { parseArgs } from 'node:util';
import { createServer } from 'node:http';
import { readFileSync, existsSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname, extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../../test/serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const www = resolve(here, '../..');
const { values: o } = parseArgs({
  options: {
    data: { type: 'string', default: resolve(www, '../../shared/data/docs-50k') },
    n: { type: 'string', default: '50000' },
    rounds: { type: 'string', default: '1' },
    storages: { type: 'string', default: 'f32,i8' },
    modes: { type: 'string', default: 'sliced,unsliced,chunks2000,worker' },
    out: { type: 'string', default: resolve(www, '../bench-results/longtask') },
  },
});
const n = Number(o.n);
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  let file = path.startsWith('/data/') ? join(o.data, path.slice(6)) : join(www, path === '/' ? 'bench/longtask/index.html' : path);
  if (!existsSync(file) || !statSync(file).isFile()) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream' });
  res.end(readFileSync(file));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;
const browser = await launchChromium();
const results = [];
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(`${url}bench/longtask/index.html`);
  await page.waitForFunction(() => typeof window.runCase === 'function');
  for (let round = 0; round < Number(o.rounds); round++) {
    for (const storage of o.storages.split(',')) {
      for (const mode of o.modes.split(',')) {
        const r = await page.evaluate((c) => window.runCase(c), { n, storage, mode });
        results.push({ round, storage, mode, ...r });
        console.log(JSON.stringify({ round, storage, mode, build_s: +(r.build.ms / 1000).toFixed(2), longest_ms: Math.round(r.build.longest), over50: r.build.over50, at: r.build.at }));
      }
    }
  }
} finally {
  await browser.close();
  server.close();
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};
const lines = [`# Long tasks while building ${n} vectors of docs-50k in Chromium (${o.rounds} round(s); medians, ratios per round)`, '',
  '| storage | mode | build s | build vs one task (same round) | longest task ms | tasks > 50 ms | search ms/query |', '|---|---|---:|---:|---:|---:|---:|'];
for (const storage of o.storages.split(',')) {
  const of = (mode) => results.filter((r) => r.storage === storage && r.mode === mode);
  for (const mode of o.modes.split(',')) {
    const rs = of(mode);
    if (!rs.length) continue;
    const ratios = rs.map((r) => {
      const base = results.find((b) => b.storage === storage && b.mode === 'unsliced' && b.round === r.round);
      return base ? r.build.ms / base.build.ms : NaN;
    }).filter((x) => !Number.isNaN(x));
    const q = rs.filter((r) => r.searchMsPerQuery).map((r) => r.searchMsPerQuery);
    lines.push(`| ${storage} | ${mode} | ${(median(rs.map((r) => r.build.ms)) / 1000).toFixed(1)} | ${ratios.length ? median(ratios).toFixed(3) : '-'} | ${Math.round(median(rs.map((r) => r.build.longest)))} | ${median(rs.map((r) => r.build.over50))} | ${q.length ? median(q).toFixed(3) : '-'} |`);
  }
  const s = of('sliced');
  if (s.length && s[0].save) {
    const m = (k, f) => Math.round(median(s.map((r) => r[k][f])));
    lines.push('', `${storage}, median over rounds: longest task of save ${m('save', 'longest')} ms (save ${m('save', 'ms')} ms), load ${m('load', 'longest')} ms (${m('load', 'ms')} ms), snapshot ${m('snapshot', 'longest')} ms (${m('snapshot', 'ms')} ms), restore ${m('restore', 'longest')} ms (${m('restore', 'ms')} ms); in one task: toBytes ${m('toBytes', 'ms')} ms, fromBytes ${m('fromBytes', 'ms')} ms`, '');
  }
}
mkdirSync(o.out, { recursive: true });
writeFileSync(join(o.out, `longtask-${n}.json`), JSON.stringify(results, null, 1));
writeFileSync(join(o.out, `longtask-${n}.md`), lines.join('\n') + '\n');
console.log(lines.join('\n'));
