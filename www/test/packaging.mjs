// Packaging tests: pack the npm package as published (`npm pack`: the files whitelist), install
// the tarball into a fresh app, then (1) import it from Node ESM, (2) type-check a TypeScript
// file against it, (3) build the app with Vite and run it in headless Chromium (playwright-core
// driving Debian's /usr/bin/chromium), on the main thread and in a module Web Worker, with real
// IndexedDB. Results are checked against brute force.
import assert from 'node:assert/strict';
import test from 'node:test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, cpSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDir, launchChromium } from './serve.mjs';

const www = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (n) => join(www, 'node_modules', '.bin', n);
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] }).toString();
const work = mkdtempSync(join(tmpdir(), 'elex-pack-'));
const app = join(work, 'app');
let tgz;
let server;
let browser;
let result; // what the Vite app's page and worker report

test('npm pack: the files whitelist (code, the three wasm flavours of the full and the core build, no tests, no modules)', (t) => {
  tgz = run('npm', ['pack', '--silent', '--pack-destination', work], www).trim().split('\n').pop();
  const listing = run('tar', ['tzf', join(work, tgz)], work);
  for (const f of ['package/src/index.js', 'package/src/core.js', 'package/src/load.js', 'package/src/core.d.ts', 'package/pkg/web/relaxed/elex_bg.wasm', 'package/pkg/web/simd/elex_bg.wasm', 'package/pkg/web/scalar/elex_bg.wasm', 'package/pkg/web/relaxed-core/elex_bg.wasm', 'package/pkg/web/simd/elex.d.ts', 'package/pkg/web/simd-core/elex_bg.wasm', 'package/pkg/web/scalar-core/elex_bg.wasm', 'package/pkg/web/simd-core/elex.d.ts']) {
    assert.ok(listing.includes(f), `tarball lacks ${f}`);
  }
  assert.ok(!listing.includes('package/test/') && !listing.includes('node_modules'), 'tarball carries tests or modules');
  assert.ok(listing.includes('/snippets/'), 'tarball lacks the IndexedDB snippet');
  t.diagnostic(`${tgz} (${listing.trim().split('\n').length} files)`);
});

test('the tarball installs into a fresh app; Node ESM imports elex and elex/core (simd and scalar)', () => {
  cpSync(join(www, 'test', 'app'), app, { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({
    name: 'elex-packaging-app', private: true, type: 'module',
    dependencies: { elex: `file:../${tgz}` },
  }, null, 2));
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], app);

  // (1) Node ESM, from the installed package.
  writeFileSync(join(app, 'node-check.mjs'), `
  import { init } from 'elex';
  import { init as initCore } from 'elex/core';
  for (const simd of [true, false]) for (const load of [init, initCore]) {
    const elex = await load({ simd });
    const idx = new elex.HnswIndex({ dims: 3 });
    idx.add(7, new Float32Array([1, 0, 0]));
    idx.add(8, new Float32Array([0, 1, 0]));
    const r = idx.search(new Float32Array([0.9, 0.1, 0]), 1);
    if (r.ids[0] !== 7) throw new Error('wrong neighbour ' + r.ids[0]);
    console.log(elex.flavour + ' ' + elex.build);
  }`);
  assert.equal(run('node', ['node-check.mjs'], app).trim(), 'simd full\nsimd core\nscalar full\nscalar core');
});

test('TypeScript (strict) type-checks against the generated types', () => {
  // (2) TypeScript against the installed package's types.
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, target: 'ES2022', module: 'ESNext', moduleResolution: 'bundler', lib: ['ESNext', 'DOM'], skipLibCheck: false },
    files: ['types.ts'],
  }));
  run(bin('tsc'), ['-p', 'tsconfig.json'], app);
});

test('Vite build: the three .wasm flavours of both builds emitted', () => {
  // (3) Vite build, then the page and its worker in Chromium.
  writeFileSync(join(app, 'vite.config.js'), `export default { build: { outDir: 'dist', target: 'es2022' }, worker: { format: 'es' } };`);
  run(bin('vite'), ['build', '--logLevel', 'warn'], app);
  const dist = join(app, 'dist');
  const assets = readdirSync(join(dist, 'assets'));
  assert.equal(assets.filter((f) => f.endsWith('.wasm')).length, 6, `assets: ${assets}`);
});

test('Vite app in Chromium: page and module worker, recall against brute force, IndexedDB', async () => {
  server = await serveDir(join(app, 'dist'));
  browser = await launchChromium();
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(server.url);
  await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 60_000 });
  const r = await page.evaluate(() => window.__result);
  result = r;
  assert.ok(!r.error, r.error);
  assert.deepEqual(errors, []);
  assert.equal(r.main.flavour, 'relaxed', 'Chromium runs the relaxed-SIMD build');
  assert.equal(r.worker.flavour, 'relaxed');
  assert.deepEqual(r.worker.ids, r.main.ids, 'worker and page agree');
  assert.equal(r.main.reloaded, 1500, 'IndexedDB round trip in the page');
  assert.equal(r.worker.reloaded, 1500, 'IndexedDB round trip in the worker');
  assert.equal(r.core.build, 'core');
  assert.deepEqual(r.core.ids, r.main.ids, 'elex/core answers as elex does');
  assert.equal(r.core.reloaded, 1500, 'IndexedDB round trip with elex/core');
  // Against brute force (cosine), from the page's own data.
  const { base, queries, dims } = r.main;
  let hits = 0;
  for (let q = 0; q < 10; q++) {
    const qv = queries.slice(q * dims, (q + 1) * dims);
    const qn = Math.hypot(...qv);
    const s = [];
    for (let i = 0; i < base.length / dims; i++) {
      const row = base.slice(i * dims, (i + 1) * dims);
      s.push([row.reduce((a, x, j) => a + x * qv[j], 0) / (Math.hypot(...row) * qn), i]);
    }
    s.sort((a, b) => b[0] - a[0]);
    const truth = new Set(s.slice(0, 5).map((x) => x[1]));
    hits += r.main.ids[q].filter((id) => truth.has(id)).length;
  }
  assert.ok(hits / 50 >= 0.95, `recall ${hits / 50}`);
});

test('worker API (elex/worker) from the Vite app: same results, coded errors across the boundary, rollback, cache, learner', () => {
  checkWorkerApi(result.api, result.main, 'Vite');
});

test('plain <script type="module"> (no bundler): the page and elex/worker, with the full and the core build', async () => {
  // The same page without a bundler: plain <script type="module"> from the installed package.
  writeFileSync(join(app, 'plain.html'), `<!doctype html><meta charset="utf-8"><pre id="out">loading</pre>
<script type="module">
import { init } from './node_modules/elex/src/index.js';
import { open } from './node_modules/elex/src/worker-client.js';
try {
  const elex = await init();
  const w = await open();
  const idx = await w.HnswIndex.create({ dims: 3 });
  await idx.addBatch([7, 8], new Float32Array([1, 0, 0, 0, 1, 0]));
  const r = await idx.search([0.9, 0.1, 0], 1);
  let code = null;
  try { await idx.search([1, 0], 1); } catch (e) { code = e.code; }
  // The core build in a worker: the same answer; what it lacks is refused with a code.
  const c = await open({ core: true });
  const cidx = await c.HnswIndex.create({ dims: 3 });
  await cidx.addBatch([7, 8], new Float32Array([1, 0, 0, 0, 1, 0]));
  const cr = await cidx.search([0.9, 0.1, 0], 1);
  const refused = [];
  for (const f of [() => c.AdaptiveCache.create({ budgetBytes: 1000 }), () => c.HnswIndex.open({ dbName: 'd', name: 'n', dims: 3 })]) {
    try { await f(); refused.push('ok'); } catch (e) { refused.push(e.code); }
  }
  c.terminate();
  window.__result = { main: elex.flavour, worker: w.flavour, id: r.ids[0], code, core: [c.build, cr.ids[0], ...refused] };
} catch (e) { window.__result = { error: String(e && e.stack || e) }; }
</script>`);
  const plain = await serveDir(app);
  try {
    const page2 = await browser.newPage();
    await page2.goto(`${plain.url}plain.html`);
    await page2.waitForFunction(() => window.__result !== undefined, null, { timeout: 60_000 });
    const p = await page2.evaluate(() => window.__result);
    assert.ok(!p.error, p.error);
    assert.deepEqual(p, { main: 'relaxed', worker: 'relaxed', id: 7, code: 'DIMENSION_MISMATCH', core: ['core', 7, 'NOT_IN_BUILD', 'NOT_IN_BUILD'] });
  } finally {
    plain.close();
  }
});

test.after(async () => {
  await browser?.close();
  server?.close();
});

function checkWorkerApi(api, main, where) {
  assert.ok(api, `${where}: no worker API result`);
  assert.equal(api.flavour, 'relaxed');
  assert.equal(api.added, main.base.length / main.dims);
  assert.deepEqual(api.ids, main.ids, 'the worker API gives the page\'s results');
  assert.ok(api.progressCalls >= 2, `progress calls ${api.progressCalls}`);
  assert.deepEqual(api.lastProgress, [api.added, api.added]);
  assert.deepEqual(api.codes, {
    dims: 'RangeError:DIMENSION_MISMATCH',
    k: 'RangeError:OUT_OF_RANGE',
    id: 'Error:UNKNOWN_ID',
    options: 'TypeError:INVALID_OPTIONS',
  });
  assert.equal(api.rolledBack, true, 'the page\'s own error rejects the batch');
  assert.equal(api.sizeAfter, api.added, 'the rejected batch left nothing');
  assert.equal(api.restoredSize, api.added);
  assert.equal(api.cacheValue, 3);
  assert.ok(api.cacheBytes <= 2000);
  assert.ok(api.q01 > 0);
  assert.equal(api.textHits.length, 8);
  assert.deepEqual(api.textHits, api.pageTextHits, 'TextIndex in the worker answers as on the page');
  assert.equal(api.hybridLength, 5);
  assert.equal(api.freedCode, 'FREED', 'a freed object passed to hybridSearch');
  assert.deepEqual(api.persistentFlags, [true, false], 'HnswIndex.open in the worker: persistent, writable');
  assert.equal(api.reopenedSize, 11, 'a persistent index reopened in the worker');
  assert.ok(api.generation >= 1);
}
