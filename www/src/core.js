// `elex/core`: the core build, what an app that searches needs: `HnswIndex` and `TextIndex` in
// memory (snapshots, `save`/`load` of whole snapshots in IndexedDB), `hybridSearch`. The same
// code as `elex` for those (same results, same snapshot bytes) in a smaller download; `elex`
// adds the persistent objects (`open`), `BudgetedIndex`, `AdaptiveCache` and `QLearner`.
import { loader } from './load.js';

const core = loader({
  name: 'core',
  relaxed: {
    glue: () => import('../pkg/web/relaxed-core/elex.js'),
    wasm: () => new URL('../pkg/web/relaxed-core/elex_bg.wasm', import.meta.url),
  },
  simd: {
    glue: () => import('../pkg/web/simd-core/elex.js'),
    wasm: () => new URL('../pkg/web/simd-core/elex_bg.wasm', import.meta.url),
  },
  scalar: {
    glue: () => import('../pkg/web/scalar-core/elex.js'),
    wasm: () => new URL('../pkg/web/scalar-core/elex_bg.wasm', import.meta.url),
  },
});

/**
 * Loads and initializes elex's core build. `options.flavour` (relaxed, simd, scalar) or
 * `options.simd` forces a flavour (default: the fastest this runtime runs correctly, detected);
 * `options.wasm` overrides where the .wasm comes from (URL, Response, bytes or a Module).
 */
export const init = core.init;

/** Whether this runtime supports WebAssembly simd128 (what `init()` picks without relaxed SIMD). */
export const simdSupported = core.simdSupported;

/** Whether this runtime supports WebAssembly relaxed SIMD (then `init()` picks the relaxed build). */
export const relaxedSimdSupported = core.relaxedSimdSupported;
