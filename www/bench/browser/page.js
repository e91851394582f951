// The browser side of the benchmark: loads the engines the browser way and runs the harness on
// the data the driver serves (data/base.f32, data/query.f32, data/truth.i32).
import { init } from 'elex';
import { run } from './harness.js';
import edgevecWasm from 'edgevec/edgevec_bg.wasm?url';
import voyWasm from 'voy-search/voy_search_bg.wasm?url';
import hnswEmccWasm from 'hnswlib-emcc/hnswlib-emcc.wasm?url';

const logEl = document.getElementById('log');
const log = (m) => { logEl.textContent += `\n${m}`; console.log(m); };
const p = new URLSearchParams(location.search);
const n = Number(p.get('n')), nq = Number(p.get('nq')), dims = Number(p.get('dims')), k = 10;
const efs = p.get('ef').split(',').map(Number);
const names = p.get('engines').split(',');
const rounds = Number(p.get('rounds') || 3);
const minPassMs = Number(p.get('minPassMs') || 0);

const bin = async (path, Kind) => new Kind(await (await fetch(path)).arrayBuffer());
const loaders = {
  elex: (flavour) => init({ flavour }),
  hnswlib: async () => (await import('hnswlib-wasm')).loadHnswlib(),
  hnswlibEmcc: async () => {
    const factory = (await import('hnswlib-emcc/hnswlib-emcc.mjs')).default;
    return factory({ wasmBinary: await (await fetch(hnswEmccWasm)).arrayBuffer() });
  },
  edgevec: async () => {
    const ev = await import('edgevec/edgevec.js');
    await ev.default({ module_or_path: edgevecWasm });
    return ev;
  },
  mememo: () => import('mememo'),
  voy: async () => {
    const bg = await import('voy-search/voy_search_bg.js');
    const { instance } = await WebAssembly.instantiateStreaming(fetch(voyWasm), { './voy_search_bg.js': bg });
    bg.__wbg_set_wasm(instance.exports);
    return bg;
  },
};

try {
  const [base, queries, truth] = await Promise.all([
    bin('./data/base.f32', Float32Array), bin('./data/query.f32', Float32Array), bin('./data/truth.i32', Int32Array),
  ]);
  const results = await run({ loaders, base, queries, truth, dims, n, nq, k, efs, names, rounds, minPassMs, log });
  // Cross-origin isolation decides the timer's resolution (5 us isolated, 100 us otherwise).
  window.__bench = { rounds, minPassMs, environment: `${navigator.userAgent}${crossOriginIsolated ? ', cross-origin isolated' : ', not isolated: 0.1 ms timer'}`, results };
} catch (e) {
  window.__bench = { error: String(e && e.stack ? e.stack : e) };
}
