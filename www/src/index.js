// `elex`: the full build (vector index, text index, hybrid search, persistent objects,
// `BudgetedIndex`, `AdaptiveCache`, `QLearner`). `elex/core` (core.js) loads the smaller build
// with the vector index, the text index and hybrid search only. See load.js.
import { loader } from './load.js';

const full = loader({
  name: 'full',
  relaxed: {
    glue: () => import('../pkg/web/relaxed/elex.js'),
    wasm: () => new URL('../pkg/web/relaxed/elex_bg.wasm', import.meta.url),
  },
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
 * Loads and initializes elex. `options.flavour` (relaxed, simd, scalar) or `options.simd` forces a
 * flavour (default: the fastest this runtime runs correctly, detected);
 * `options.wasm` overrides where the .wasm comes from (URL, Response, bytes or a Module).
 */
export const init = full.init;

/** Whether this runtime supports WebAssembly simd128 (what `init()` picks without relaxed SIMD). */
export const simdSupported = full.simdSupported;

/** Whether this runtime supports WebAssembly relaxed SIMD (then `init()` picks the relaxed build). */
export const relaxedSimdSupported = full.relaxedSimdSupported;
