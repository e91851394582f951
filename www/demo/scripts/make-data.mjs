// Writes what the demo serves from its own origin (www/demo/public/, ignored by git):
// - data/: the first N docs-50k passages (passages.json), their all-MiniLM-L6-v2 embeddings
//   (vectors.f32, N x 384 little-endian f32) and meta.json;
// - models/all-MiniLM-L6-v2/: the int8 ONNX model and its tokenizer (from ../shared/models);
// - ort/: onnxruntime-web's plain (not asyncify) wasm build, the one transformers.js's version
//   pins, which the embedding worker loads instead of the default asyncify build.
// node demo/scripts/make-data.mjs [--data DIR] [--model DIR] [--n 50000] [--out demo/public]
import { readFileSync, writeFileSync, mkdirSync, cpSync, existsSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readVecs } from '../../bench/fvecs.mjs';

const www = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = join(www, '..', '..', 'shared');
const { values } = parseArgs({
  options: {
    data: { type: 'string', default: process.env.ELEX_DATA || join(shared, 'data', 'docs-50k') },
    model: { type: 'string', default: join(shared, 'models', 'all-MiniLM-L6-v2') },
    n: { type: 'string', default: '50000' },
    out: { type: 'string', default: join(www, 'demo', 'public') },
  },
});
const n = Number(values.n);
if (!Number.isInteger(n) || n < 1) throw new Error(`--n must be a positive integer, not ${values.n}`);

// Passages and vectors.
const dataOut = join(values.out, 'data');
mkdirSync(dataOut, { recursive: true });
const lines = readFileSync(join(values.data, 'base.txt'), 'utf8').split('\n').slice(0, n);
const { dims, rows, data: vec } = readVecs(join(values.data, 'base.fvecs'), n);
if (lines.length < n || rows < n) throw new Error(`docs-50k has ${Math.min(lines.length, rows)} passages, asked for ${n}`);
writeFileSync(join(dataOut, 'passages.json'), JSON.stringify(lines));
writeFileSync(join(dataOut, 'vectors.f32'), Buffer.from(vec.buffer));
writeFileSync(join(dataOut, 'meta.json'), JSON.stringify({ n, dims, source: 'docs-50k (all-MiniLM-L6-v2, cosine)' }));
console.log(`demo data: ${n} passages x ${dims} dims in ${dataOut}`);

// The model, copied when missing or changed in size (the copies keep the source's read-only
// mode, so they are not overwritten in place).
const copyIfChanged = (from, to) => {
  if (existsSync(to) && statSync(to).size === statSync(from).size) return;
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to);
};
for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'onnx/model_quantized.onnx']) {
  copyIfChanged(join(values.model, f), join(values.out, 'models', 'all-MiniLM-L6-v2', f));
}
console.log(`demo model: ${join(values.out, 'models', 'all-MiniLM-L6-v2')}`);

// onnxruntime-web's plain wasm build (the worker imports `onnxruntime-web/wasm`, whose JS
// bundles the loader; only the .wasm is fetched, from /ort/).
const ortDist = join(www, 'node_modules', 'onnxruntime-web', 'dist');
for (const f of ['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs']) {
  copyIfChanged(join(ortDist, f), join(values.out, 'ort', f));
}
console.log(`demo runtime: ${join(values.out, 'ort')}`);
