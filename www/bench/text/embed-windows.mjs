// Embeds docs-50k's passage windows (core.mjs `passageWindows`) with all-MiniLM-L6-v2 (int8 ONNX
// from ../shared/models, transformers.js on onnxruntime-node), part `--part i` of `--parts n`
// (run the parts in parallel, one per core), into the tool cache; the last part to finish joins
// them into `chunks16-<n>.f32` (windows in passage order).
//   node www/bench/text/embed-windows.mjs [--data DIR] [--n 50000] [--part 0 --parts 2]
import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { passageWindows } from './core.mjs';
import { cacheDir, embedder } from './embed.mjs';

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
const dir = cacheDir();
const partFile = (i) => join(dir, `chunks16-${n}.part${i}of${parts}.f32`);
if (existsSync(join(dir, `chunks16-${n}.f32`))) {
  console.log(`chunks16-${n}.f32 is cached`);
  process.exit(0);
}
const from = Math.floor((flat.length * part) / parts);
const to = Math.floor((flat.length * (part + 1)) / parts);
const embed = await embedder(resolve(root, '../shared/models'));
const out = new Float32Array((to - from) * dims);
const t0 = performance.now();
for (let i = from; i < to; i += 16) {
  const t = await embed(flat.slice(i, Math.min(i + 16, to)));
  out.set(t.data, (i - from) * dims);
  if ((i - from) % 8192 === 0) console.log(`part ${part}: ${i - from} / ${to - from} windows, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
writeFileSync(partFile(part) + '.tmp', Buffer.from(out.buffer));
renameSync(partFile(part) + '.tmp', partFile(part));
console.log(`part ${part}: ${to - from} windows in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
const all = Array.from({ length: parts }, (_, i) => partFile(i));
if (all.every(existsSync)) {
  writeFileSync(join(dir, `chunks16-${n}.f32`), Buffer.concat(all.map((f) => readFileSync(f))));
  console.log(`joined ${flat.length} windows into chunks16-${n}.f32`);
}
