// The browser benchmark's harness in Node: elex (simd, scalar) and the peers on docs-50k.
// node www/bench/browser/node.mjs --data ../shared/data/docs-50k [--n 10000] [--queries 200]
//   [--ef 10,20,40,80,160] [--rounds 3] [--min-pass-ms 0] [--engines a,b] [--json OUT]
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { run, groundTruth } from './harness.js';
import { readVecs } from '../fvecs.mjs';
import { benchOptions } from './options.mjs';
// hnswlib-wasm mounts an IDBFS at load time: give it an IndexedDB (elex's bench does not use one).
import 'fake-indexeddb/auto';

const here = dirname(fileURLToPath(import.meta.url));
const peers = join(here, '..', 'peers', 'node_modules');
const { values: a } = parseArgs({ options: { ...benchOptions, json: { type: 'string' } } });
const data = a.data;
const n = Number(a.n), nq = Number(a.queries), k = 10;
const efs = a.ef.split(',').map(Number);
const rounds = Number(a.rounds), minPassMs = Number(a['min-pass-ms']);
let names = a.engines.split(',');
// Node 20 runs no relaxed SIMD (behind its flag it computes other results): skip that build there.
if (!(await (await import('elex')).relaxedSimdSupported()) && names.some((e) => e.startsWith('elex-relaxed'))) {
  console.log(`node ${process.version}: no relaxed SIMD, so no elex-relaxed engines`);
  names = names.filter((e) => !e.startsWith('elex-relaxed'));
}

const base = readVecs(join(data, 'base.fvecs'), n);
const queries = readVecs(join(data, 'query.fvecs'), nq);
const dims = base.dims;
const truth = groundTruth(base.data, queries.data, dims, n, nq, k);

const loaders = {
  elex: async (flavour) => (await import('elex')).init({ flavour }),
  hnswlib: async () => {
    globalThis.window ??= globalThis; // hnswlib-wasm's Emscripten glue looks for a window
    const { loadHnswlib } = await import(join(peers, 'hnswlib-wasm', 'dist', 'hnswlib.js'));
    return loadHnswlib();
  },
  // Emscripten's Node glue fetches its .wasm by path, which Node's fetch refuses: pass the bytes.
  hnswlibEmcc: async () => {
    const dir = join(here, '..', 'peers', 'hnswlib-emcc', 'out');
    // Its ES module glue (emscripten 3.1.6) still reads CommonJS's __dirname and require in Node.
    globalThis.__dirname ??= dir;
    globalThis.require ??= createRequire(import.meta.url);
    const factory = (await import(join(dir, 'hnswlib-emcc.mjs'))).default;
    return factory({ wasmBinary: readFileSync(join(dir, 'hnswlib-emcc.wasm')) });
  },
  edgevec: async () => {
    const ev = await import(join(peers, 'edgevec', 'edgevec.js'));
    ev.initSync({ module: readFileSync(join(peers, 'edgevec', 'edgevec_bg.wasm')) });
    return ev;
  },
  mememo: async () => import(join(peers, 'mememo', 'dist', 'index.es.js')),
  voy: async () => {
    // voy-search ships a bundler build (`import * as wasm from "./voy_search_bg.wasm"`):
    // instantiate its wasm by hand against its JS glue.
    const bg = await import(join(peers, 'voy-search', 'voy_search_bg.js'));
    const { instance } = await WebAssembly.instantiate(readFileSync(join(peers, 'voy-search', 'voy_search_bg.wasm')), { './voy_search_bg.js': bg });
    bg.__wbg_set_wasm(instance.exports);
    return bg;
  },
};
const results = await run({ loaders, base: base.data, queries: queries.data, truth, dims, n, nq, k, efs, names, rounds, minPassMs, log: (m) => console.log(m) });
if (a.json) writeFileSync(a.json, JSON.stringify({ environment: `node ${process.version}`, n, nq, dims, rounds, minPassMs, results }, null, 1));
