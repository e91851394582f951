// The wasm index in Chromium against the same index natively, in interleaved rounds: each round
// runs `elex-bench hnsw` (native, this CPU's best kernels) and then the browser benchmark
// (bench/browser/run.mjs, one round, Chromium only) on the same vectors, queries, seed and ef
// list. The builds are bit-identical, so recall per ef is the same on both sides (printed, and
// checked; within 0.005 where the relaxed build walks on 4-bit codes) and the QPS ratio per ef
// is a ratio at (about) equal recall. Reports the median of the
// per-round ratios per ef and engine. Chromium is where the relaxed-SIMD build runs (Node 20 has
// no relaxed SIMD), so this is the wasm-against-native measurement for that flavour.
// node www/bench/wasm-native.mjs [--data DIR] [--n 50000] [--queries 1000] [--ef 16,24,32,40]
//   [--rounds 3] [--engines elex-relaxed,elex-simd] [--min-pass-ms 300] [--json OUT]
// A wasm pass repeats the queries for at least --min-pass-ms (0: once through, as before): a page
// runs one round, and a single pass of 1,000 queries (30-60 ms) right after the engines' builds
// (their garbage, caches filled by the other build) came out low at the first ef (docs-50k 10K:
// 0.36 of native at ef 12 once through, 0.52-0.57 at the next ef points).
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { values: a } = parseArgs({
  options: {
    data: { type: 'string', default: join(root, '..', 'shared', 'data', 'docs-50k') },
    n: { type: 'string', default: '50000' },
    queries: { type: 'string', default: '1000' },
    ef: { type: 'string', default: '16,24,32,40' },
    rounds: { type: 'string', default: '3' },
    'min-pass-ms': { type: 'string', default: '300' },
    engines: { type: 'string', default: 'elex-relaxed,elex-simd' },
    json: { type: 'string' },
  },
});
const data = resolve(a.data);
const n = Number(a.n), rounds = Number(a.rounds);
const engines = a.engines.split(',');
const efs = a.ef.split(',').map(Number);
const tmp = mkdtempSync(join(tmpdir(), 'elex-wasm-native-'));
const median = (xs) => { const s = [...xs].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

execFileSync('cargo', ['build', '-q', '--release', '-p', 'elex-bench'], { cwd: root, stdio: 'inherit' });
const bench = join(root, 'target', 'release', 'elex-bench');
const baseRows = (() => {
  const path = join(data, 'base.fvecs'), head = Buffer.alloc(4), fd = openSync(path, 'r');
  readSync(fd, head, 0, 4, 0);
  closeSync(fd);
  return statSync(path).size / (4 + 4 * head.readInt32LE(0));
})();

const native = [];
const browser = [];
for (let r = 0; r < rounds; r++) {
  const nj = join(tmp, `native-${r}.json`);
  const args = ['hnsw', '--base', join(data, 'base.fvecs'), '--query', join(data, 'query.fvecs'),
    '--gt', join(data, 'groundtruth.ivecs'), '--queries', a.queries, '--ef', a.ef, '--json', nj];
  // A prefix of the base needs its own ground truth (elex-bench computes it with --limit).
  if (n < baseRows) args.push('--limit', String(n));
  execFileSync(bench, args, { stdio: ['ignore', 'inherit', 'ignore'] });
  native.push(JSON.parse(readFileSync(nj, 'utf8')));
  const out = join(tmp, `chromium-${r}`);
  execFileSync('node', [join(root, 'www', 'bench', 'browser', 'run.mjs'), '--data', data, '--n', String(n),
    '--queries', a.queries, '--ef', a.ef, '--rounds', '1', '--min-pass-ms', a['min-pass-ms'], '--engines', engines.join(','), '--out', out, '--no-node'],
  { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const tag = n >= 1000 ? `${n / 1000}k` : String(n);
  browser.push(JSON.parse(readFileSync(join(out, `browser-bench-chromium-${tag}.json`), 'utf8')));
  const nat = native[r];
  const line = engines.map((e) => {
    const res = browser[r].results.find((x) => x.engine === e);
    return `${e} ${res.runs.map((x, i) => (x.qps / nat.runs[i].qps).toFixed(2)).join(' / ')} (build ${res.build_seconds.toFixed(1)} s)`;
  });
  console.log(`round ${r + 1}: native ${nat.isa} build ${nat.build_seconds.toFixed(1)} s, QPS ${nat.runs.map((x) => x.qps.toFixed(0)).join(' / ')}; wasm/native per ef ${efs.join(' / ')}: ${line.join('; ')}`);
}

const report = { data, n, queries: Number(a.queries), efs, rounds, native_isa: native[0].isa, engines: {} };
for (const e of engines) {
  const per = efs.map((ef, i) => {
    const ratios = browser.map((b, r) => b.results.find((x) => x.engine === e).runs[i].qps / native[r].runs[i].qps);
    const wasmRecall = browser[0].results.find((x) => x.engine === e).runs[i].recall;
    const nativeRecall = native[0].runs[i].recall;
    return { ef, ratio: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), wasm_recall: wasmRecall, native_recall: nativeRecall,
      wasm_qps: median(browser.map((b) => b.results.find((x) => x.engine === e).runs[i].qps)), native_qps: median(native.map((x) => x.runs[i].qps)) };
  });
  // Bit-identical builds give the same recall per ef, except that the relaxed build's searches
  // of an f32 index walk on 4-bit codes where native ones walk on i8 codes (recall per ef within
  // a few thousandths): a larger gap means the two sides did not build the same index (another
  // seed, storage or data), and the ratios are not at about equal recall.
  for (const p of per) {
    if (Math.abs(p.wasm_recall - p.native_recall) > 0.005) {
      console.error(`${e} ef ${p.ef}: recall ${p.wasm_recall} in wasm against ${p.native_recall} natively`);
      process.exitCode = 1;
    }
  }
  const builds = browser.map((b, r) => b.results.find((x) => x.engine === e).build_seconds / native[r].build_seconds);
  report.engines[e] = { per_ef: per, build_ratio: median(builds) };
  console.log(`${e} / native (${native[0].isa}), median of ${rounds} rounds: ${per.map((p) => `ef ${p.ef} ${p.ratio.toFixed(2)} [${p.min.toFixed(2)}-${p.max.toFixed(2)}] recall ${p.wasm_recall.toFixed(4)}/${p.native_recall.toFixed(4)}`).join('; ')}; build time ${median(builds).toFixed(2)}x native`);
}
if (a.json) writeFileSync(a.json, JSON.stringify({ ...report, native, browser }, null, 1));
