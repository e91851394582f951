import { fileURLToPath } from 'node:url';

const at = (p) => fileURLToPath(new URL(p, import.meta.url));
const peers = at('../peers/node_modules/');
export default {
  root: at('.'),
  resolve: {
    alias: [
      { find: /^elex$/, replacement: at('../../src/index.js') },
      { find: /^hnswlib-wasm$/, replacement: `${peers}hnswlib-wasm/dist/hnswlib.js` },
      { find: /^mememo$/, replacement: `${peers}mememo/dist/index.es.js` },
      { find: /^edgevec\//, replacement: `${peers}edgevec/` },
      { find: /^voy-search\//, replacement: `${peers}voy-search/` },
      { find: /^hnswlib-emcc\//, replacement: at('../peers/hnswlib-emcc/out/') },
    ],
  },
  build: { outDir: at('../../dist/bench'), emptyOutDir: true, target: 'es2022' },
};
