import { fileURLToPath } from 'node:url';

// Built by www/demo/build.sh: the package is resolved through www/ (`elex` is www's own name).
export default {
  root: fileURLToPath(new URL('.', import.meta.url)),
  resolve: {
    alias: [
      { find: /^elex\/worker$/, replacement: fileURLToPath(new URL('../src/worker-client.js', import.meta.url)) },
      { find: /^elex$/, replacement: fileURLToPath(new URL('../src/index.js', import.meta.url)) },
    ],
  },
  build: { outDir: '../dist/demo', emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' },
};
