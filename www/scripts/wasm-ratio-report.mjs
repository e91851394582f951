// Joins the JSON of the simd128 and scalar wasm builds of the elex-simd ratio bench and prints
// the simd128-build/scalar-build ratio per kernel and dim. Usage: node wasm-ratio-report.mjs SIMD_JSON SCALAR_JSON [OUT]
import { writeFileSync } from 'node:fs';
import process from 'node:process';

const [simdJson, scalarJson, out] = process.argv.slice(2);
const simd = JSON.parse(simdJson);
const scalar = JSON.parse(scalarJson);
const key = (r) => `${r.kernel}/${r.dim}`;
const base = new Map(scalar.rows.filter((r) => r.isa === 'scalar').map((r) => [key(r), r.ns]));
const rows = simd.rows
  .filter((r) => r.isa === 'simd128')
  .map((r) => ({ kernel: r.kernel, dim: r.dim, simd128_ns: r.ns, scalar_build_ns: base.get(key(r)), ratio: base.get(key(r)) / r.ns }));
console.log(`wasm in Node ${process.version}: simd128 build vs scalar build (ns per call, same run)`);
console.log('kernel       dim   simd128    scalar    ratio');
for (const r of rows) {
  console.log(
    `${r.kernel.padEnd(10)} ${String(r.dim).padStart(5)} ${r.simd128_ns.toFixed(1).padStart(9)} ${r.scalar_build_ns.toFixed(1).padStart(9)} ${r.ratio.toFixed(2).padStart(7)}x`,
  );
}
if (out) writeFileSync(out, JSON.stringify({ node: process.version, rows }, null, 1));
