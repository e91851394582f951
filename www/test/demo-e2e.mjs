// End-to-end test of the demo: build it (data from ../shared/data/docs-50k), serve it on
// 127.0.0.1, drive headless Chromium with playwright-core: the index builds with a progress bar,
// a search by typing and clicking returns the expected neighbours (brute force on the same
// data), and after a reload the index comes back from IndexedDB. Screenshots go to
// www/test-artifacts/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDir, launchChromium } from './serve.mjs';

const www = join(dirname(fileURLToPath(import.meta.url)), '..');
const data = process.env.ELEX_DATA || join(www, '..', '..', 'shared', 'data', 'docs-50k');
const artifacts = join(www, 'test-artifacts');
mkdirSync(artifacts, { recursive: true });
const run = (cmd, args) => execFileSync(cmd, args, { cwd: www, stdio: ['ignore', 'pipe', 'inherit'] }).toString();
let passed = 0;
const ok = (name) => console.log(`ok   ${name}`) || passed++;

run('node', ['demo/scripts/make-data.mjs', '--data', data, '--n', '5000', '--out', 'demo/public/data']);
run(join(www, 'node_modules', '.bin', 'vite'), ['build', '--config', 'demo/vite.config.js', '--logLevel', 'warn']);
const dist = join(www, 'dist', 'demo');
ok('demo built with Vite');

const passages = JSON.parse(readFileSync(join(dist, 'data', 'passages.json'), 'utf8'));
const vb = readFileSync(join(dist, 'data', 'vectors.f32'));
const vectors = new Float32Array(vb.buffer, vb.byteOffset, vb.length / 4);
const dims = 384;
function brute(id, k) {
  const q = vectors.subarray(id * dims, (id + 1) * dims);
  const s = [];
  for (let i = 0; i < passages.length; i++) {
    if (i === id) continue;
    let d = 0;
    for (let j = 0; j < dims; j++) d += vectors[i * dims + j] * q[j];
    s.push([d, i]);
  }
  s.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  return s.slice(0, k).map((x) => x[1]);
}

const server = await serveDir(dist);
const url = server.url;
const browser = await launchChromium();
try {
  const context = await browser.newContext({ viewport: { width: 1100, height: 1200 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  assert.equal(await page.getAttribute('[data-testid=runtime]', 'data-flavour'), 'simd');
  assert.equal(await page.getAttribute('[data-testid=status]', 'data-source'), 'built');
  assert.equal(await page.$eval('[data-testid=progress]', (p) => p.value), 1);
  await page.screenshot({ path: join(artifacts, 'demo-built.png'), fullPage: true });
  ok('first visit: simd build running, index built with the progress bar at 100%');

  async function searchByTyping(word) {
    await page.fill('[data-testid=search]', '');
    await page.type('[data-testid=search]', word, { delay: 20 });
    await page.waitForSelector('[data-testid=candidates] button');
    const first = await page.$('[data-testid=candidates] button');
    const id = Number(await first.getAttribute('data-id'));
    await first.click();
    await page.waitForSelector(`[data-testid=results][data-for="${id}"] li`);
    const ids = await page.$$eval('[data-testid=results] li', (lis) => lis.map((li) => Number(li.dataset.id)));
    const timing = await page.textContent('[data-testid=timing]');
    return { id, ids, timing };
  }
  const first = await searchByTyping('regular expression');
  assert.ok(passages[first.id].toLowerCase().includes('regular expression'));
  const truth = brute(first.id, 10);
  const overlap = first.ids.filter((x) => truth.includes(x)).length;
  assert.equal(first.ids.length, 10);
  assert.ok(overlap >= 9, `overlap ${overlap}/10 with brute force`);
  assert.match(first.timing, /query [0-9.]+ ms/);
  const memory = await page.textContent('[data-testid=memory]');
  assert.match(memory, /KB \/ 512 KB/);
  await page.screenshot({ path: join(artifacts, 'demo-search.png'), fullPage: true });
  ok(`search by typing and clicking: ${overlap}/10 of the brute-force neighbours, ${first.timing.trim()}`);

  await page.reload();
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
  assert.equal(await page.getAttribute('[data-testid=status]', 'data-source'), 'indexeddb');
  const again = await searchByTyping('regular expression');
  assert.deepEqual(again.ids, first.ids, 'the reloaded index answers the same');
  await page.screenshot({ path: join(artifacts, 'demo-reloaded.png'), fullPage: true });
  ok('after a reload the index came back from IndexedDB and answers the same');
  assert.deepEqual(errors, []);
} finally {
  await browser.close();
  server.close();
}
console.log(`screenshots: ${artifacts}`);
console.log(`${passed} passed, 0 failed`);
