// Writes the demo's static data from docs-50k: the first N passages (passages.json) and their
// all-MiniLM-L6-v2 embeddings (vectors.f32, N x 384 little-endian f32).
// node demo/scripts/make-data.mjs [--data ../shared/data/docs-50k] [--n 5000] [--out demo/public/data]
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const data = arg('data', '../shared/data/docs-50k');
const n = Number(arg('n', 5000));
const out = arg('out', 'demo/public/data');
mkdirSync(out, { recursive: true });
const lines = readFileSync(join(data, 'base.txt'), 'utf8').split('\n').slice(0, n);
const buf = readFileSync(join(data, 'base.fvecs'));
const dims = buf.readInt32LE(0);
const vec = new Float32Array(n * dims);
for (let r = 0; r < n; r++) {
  vec.set(new Float32Array(buf.buffer.slice(buf.byteOffset + r * (4 + 4 * dims) + 4, buf.byteOffset + (r + 1) * (4 + 4 * dims))), r * dims);
}
writeFileSync(join(out, 'passages.json'), JSON.stringify(lines));
writeFileSync(join(out, 'vectors.f32'), Buffer.from(vec.buffer));
writeFileSync(join(out, 'meta.json'), JSON.stringify({ n, dims, source: 'docs-50k (all-MiniLM-L6-v2, cosine)' }));
console.log(`demo data: ${n} passages x ${dims} dims in ${out}`);
