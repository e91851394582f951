// The options the browser benchmark's two drivers share (run.mjs: Chromium, then Node;
// node.mjs: Node alone), for util.parseArgs.
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export const benchOptions = {
  data: { type: 'string', default: join(here, '..', '..', '..', '..', 'shared', 'data', 'docs-50k') },
  n: { type: 'string', default: '10000' },
  queries: { type: 'string', default: '200' },
  ef: { type: 'string', default: '10,20,40,80,160' },
  rounds: { type: 'string', default: '3' },
  // Each timed pass repeats the query set until it has run this long (0: once through).
  'min-pass-ms': { type: 'string', default: '0' },
  engines: { type: 'string', default: 'elex-relaxed,elex-simd,elex-relaxed i8+rerank,elex-simd i8+rerank,elex-scalar,hnswlib-emcc-simd,hnswlib-wasm,edgevec,mememo,voy-search (exact)' },
};
