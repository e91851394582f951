// elex's loader: picks the simd128 or the scalar WebAssembly build (wasm-feature-detect) and
// initializes it once per flavour. Works in browsers (main thread and workers), bundlers that
// understand `new URL(..., import.meta.url)` (Vite, webpack 5, Rollup with a URL plugin) and Node.
import { simd as detectSimd } from 'wasm-feature-detect';

const loaded = new Map();

const isNode =
  typeof process !== 'undefined' && process.versions != null && process.versions.node != null &&
  typeof window === 'undefined';

async function load(useSimd, wasm) {
  const mod = useSimd
    ? await import('../pkg/web/simd/elex.js')
    : await import('../pkg/web/scalar/elex.js');
  let input = wasm;
  if (input === undefined) {
    const url = useSimd
      ? new URL('../pkg/web/simd/elex_bg.wasm', import.meta.url)
      : new URL('../pkg/web/scalar/elex_bg.wasm', import.meta.url);
    if (isNode) {
      // Node's fetch cannot read file: URLs; read the bytes instead.
      const fsName = 'node:fs/promises';
      const { readFile } = await import(/* @vite-ignore */ fsName);
      input = await readFile(url);
    } else {
      input = url;
    }
  }
  await mod.default({ module_or_path: input });
  return Object.freeze({ ...mod, flavour: useSimd ? 'simd' : 'scalar' });
}

/**
 * Loads and initializes elex. `options.simd` forces a flavour (default: detected);
 * `options.wasm` overrides where the .wasm comes from (URL, Response, bytes or a Module).
 */
export function init(options = {}) {
  const key = options.simd === undefined ? 'auto' : options.simd ? 'simd' : 'scalar';
  if (!loaded.has(key)) {
    loaded.set(
      key,
      (async () => {
        const useSimd = options.simd ?? (await detectSimd());
        return load(useSimd, options.wasm);
      })(),
    );
  }
  return loaded.get(key);
}

/** Whether this runtime supports WebAssembly simd128 (what `init()` picks by default). */
export function simdSupported() {
  return detectSimd();
}
