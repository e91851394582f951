// What a page downloads for elex, the one rule the size figures share (the core build's test,
// the browser and text benchmarks): one flavour of one build as shipped in pkg/web (wasm, the
// minified glue and snippets) plus the loader it is reached through, each file Brotli 11.
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';

const www = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Bytes of `buf` compressed with Brotli at quality 11. */
export function brotliBytes(buf) {
  return brotliCompressSync(buf, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
}

/** The files of `flavour` (`relaxed`, `simd`, `scalar`, and each with `-core`) a page loads. */
export function shippedFiles(flavour) {
  const walk = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : /\.(wasm|js)$/.test(e.name) ? [join(dir, e.name)] : []));
  const loader = flavour.endsWith('-core') ? 'core.js' : 'index.js';
  return [...walk(join(www, 'pkg', 'web', flavour)), join(www, 'src', loader), join(www, 'src', 'load.js')];
}

/** Brotli bytes of what a page loads for `flavour`. */
export function shippedBytes(flavour) {
  return shippedFiles(flavour).reduce((a, f) => a + brotliBytes(readFileSync(f)), 0);
}
