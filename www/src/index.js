// `elex`: the full build (vector index, text index, hybrid search, persistent objects,
// `BudgetedIndex`, `AdaptiveCache`, `QLearner`). `elex/core` (core.js) loads the smaller build
// with the vector index, the text index and hybrid search only. See load.js.
import { loader } from './load.js';

const full = loader({
  name: 'full',
  simd: {
    glue: () => import('../pkg/web/simd/elex.js'),
    wasm: () => new URL('../pkg/web/simd/elex_bg.wasm', import.meta.url),
  },
  scalar: {
    glue: () => import('../pkg/web/scalar/elex.js'),
    wasm: () => new URL('../pkg/web/scalar/elex_bg.wasm', import.meta.url),
  },
});

/**
 * Loads and initializes elex. `options.simd` forces a flavour (default: detected);
 * `options.wasm` overrides where the .wasm comes from (URL, Response, bytes or a Module).
 */
export const init = full.init;

/** Whether this runtime supports WebAssembly simd128 (what `init()` picks by default). */
export const simdSupported = full.simdSupported;
