// The JS-API fuzzer (fuzz.mjs, unchanged) in headless Chromium: real IndexedDB instead of
// fake-indexeddb, and the relaxed-SIMD build in place of the simd build (Node 20, where fuzz.mjs
// runs in CI, has no relaxed SIMD), beside the scalar build, for the full and the core build.
// An import map gives the page fuzz.mjs's imports: `elex` and `elex/core` through a shim that
// turns `{ simd: true }` into `{ flavour: 'relaxed' }`, `node:util`'s parseArgs as the options
// below, fake-indexeddb as nothing. Fails when a run fails or no summary comes within --minutes.
//   node www/test/fuzz-browser.mjs [--calls 20000] [--seed 20261201] [--minutes 30]
import { parseArgs } from 'node:util';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDir, launchChromium } from './serve.mjs';

const { values: opts } = parseArgs({
  options: { calls: { type: 'string', default: '20000' }, seed: { type: 'string', default: '20261201' }, minutes: { type: 'string', default: '30' } },
});
const calls = String(Number(opts.calls)), seed = String(BigInt(opts.seed));
const www = join(dirname(fileURLToPath(import.meta.url)), '..');

const shim = (entry) => `import { init as load } from '${entry}';
export const init = (o = {}) => load(o.simd === true ? { flavour: 'relaxed' } : o);`;
const files = {
  '/__fuzz/empty.js': '',
  '/__fuzz/util.js': `export function parseArgs() { return { values: { calls: '${calls}', seed: '${seed}', trace: false } }; }`,
  '/__fuzz/elex.js': shim('/src/index.js'),
  '/__fuzz/core.js': shim('/src/core.js'),
  '/__fuzz/index.html': `<!doctype html><script type="importmap">${JSON.stringify({
    imports: { 'fake-indexeddb/auto': '/__fuzz/empty.js', 'node:util': '/__fuzz/util.js', elex: '/__fuzz/elex.js', 'elex/core': '/__fuzz/core.js' },
  })}</script><script type="module" src="/test/fuzz.mjs"></script>`,
};

const server = await serveDir(www);
const browser = await launchChromium();
let verdict = 1;
try {
  const page = await browser.newPage();
  await page.route((url) => url.pathname.startsWith('/__fuzz/'), (route) => {
    const path = new URL(route.request().url()).pathname;
    route.fulfill({ body: files[path] ?? '', contentType: path.endsWith('.html') ? 'text/html' : 'text/javascript' });
  });
  const summary = new Promise((resolve) => {
    page.on('console', (m) => {
      const text = m.text();
      console.log(text);
      const done = /^(\d+) passed, (\d+) failed$/.exec(text);
      if (done) resolve(Number(done[2]));
    });
    // fuzz.mjs ends with process.exit(1) on a failure: in the page that is an uncaught error.
    page.on('pageerror', (e) => console.log(`uncaught on the page: ${e.message}`));
  });
  await page.goto(`${server.url}__fuzz/index.html`);
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), Number(opts.minutes) * 60_000).unref());
  const failed = await Promise.race([summary, timeout]);
  if (failed === 'timeout') console.log(`fuzz-browser: no summary within ${opts.minutes} minutes`);
  verdict = failed === 0 ? 0 : 1;
} finally {
  await browser.close();
  server.close();
}
process.exit(verdict);
