// Embeds docs-50k's passage windows (core.mjs `passageWindows`) with all-MiniLM-L6-v2 (int8 ONNX
// from ../shared/models, transformers.js on onnxruntime-node), part `--part i` of `--parts n`
// (run the parts in parallel, one per core), into the tool cache; the last part to finish joins
// them into `chunks16-<n>.f32` (windows in passage order).
//   node www/bench/text/embed-windows.mjs [--data DIR] [--n 50000] [--part 0 --parts 2]
import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync, mkdirSync, existsSync, renameSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { passageWindows } from './core.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const { values: opt } = parseArgs({ options: {
  data: { type: 'string', default: resolve(root, '../shared/data/docs-50k') },
  n: { type: 'string', default: '50000' }, part: { type: 'string', default: '0' }, parts: { type: 'string', default: '1' },
} });
const n = Number(opt.n);
const [part, parts] = [Number(opt.part), Number(opt.parts)];
const passages = readFileSync(join(opt.data, 'base.txt'), 'utf8').split('\n').slice(0, n);
const flat = passages.flatMap(passageWindows);
const dims = 384;
const cacheDir = join(process.env.ELEX_CACHE ?? join(process.env.HOME, '.cache/elex'), 'text-bench');
mkdirSync(cacheDir, { recursive: true });
const partFile = (i) => join(cacheDir, `chunks16-${n}.part${i}of${parts}.f32`);
if (existsSync(join(cacheDir, `chunks16-${n}.f32`))) {
  console.log(`chunks16-${n}.f32 is cached`);
  process.exit(0);
}
const from = Math.floor((flat.length * part) / parts);
const to = Math.floor((flat.length * (part + 1)) / parts);
const require = createRequire(join(here, '../peers/package.json'));
const tf = await import(require.resolve('@huggingface/transformers'));
tf.env.allowRemoteModels = false;
tf.env.localModelPath = resolve(root, '../shared/models') + '/';
const embed = await tf.pipeline('feature-extraction', 'all-MiniLM-L6-v2', { dtype: 'q8', session_options: { intraOpNumThreads: 1 } });
const out = new Float32Array((to - from) * dims);
const t0 = performance.now();
for (let i = from; i < to; i += 16) {
  const t = await embed(flat.slice(i, Math.min(i + 16, to)), { pooling: 'mean', normalize: true });
  out.set(t.data, (i - from) * dims);
  if ((i - from) % 8192 === 0) console.log(`part ${part}: ${i - from} / ${to - from} windows, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
writeFileSync(partFile(part) + '.tmp', Buffer.from(out.buffer));
renameSync(partFile(part) + '.tmp', partFile(part));
console.log(`part ${part}: ${to - from} windows in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
const all = Array.from({ length: parts }, (_, i) => partFile(i));
if (all.every(existsSync)) {
  writeFileSync(join(cacheDir, `chunks16-${n}.f32`), Buffer.concat(all.map((f) => readFileSync(f))));
  console.log(`joined ${flat.length} windows into chunks16-${n}.f32`);
}
