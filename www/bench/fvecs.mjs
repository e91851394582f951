// fvecs/ivecs (int32 dim, then the values, little endian) for the Node benches and tests.
import { readFileSync } from 'node:fs';

/** The first `rows` rows (all when omitted) as one flat typed array. */
export function readVecs(path, rows = Infinity, Kind = Float32Array) {
  const b = readFileSync(path);
  const dims = b.readInt32LE(0);
  const stride = 4 + 4 * dims;
  const n = Math.min(b.length / stride, rows);
  const data = new Kind(n * dims);
  for (let r = 0; r < n; r++) data.set(new Kind(b.buffer.slice(b.byteOffset + r * stride + 4, b.byteOffset + (r + 1) * stride)), r * dims);
  return { dims, rows: n, data };
}
