import { fileURLToPath } from 'node:url';

const at = (p) => fileURLToPath(new URL(p, import.meta.url));
const peers = at('../peers/node_modules/');
export default {
  root: at('.'),
  resolve: {
    alias: [
      { find: /^elex$/, replacement: at('../../src/index.js') },
      { find: /^minisearch$/, replacement: `${peers}minisearch/dist/es/index.js` },
      { find: /^@orama\/orama$/, replacement: `${peers}@orama/orama/dist/browser/index.js` },
    ],
  },
  build: { outDir: at('../../dist/text-bench'), emptyOutDir: true, target: 'es2022' },
};
