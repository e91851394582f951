// Runs core.mjs in headless Chromium (playwright-core, Debian's /usr/bin/chromium) on the data
// the Node runner prepared: builds the page with Vite, serves it with the data beside it.
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDir, launchChromium } from '../../test/serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const www = join(here, '..', '..');

export async function runInChromium({ passages, vectors, dims, items, qvecs, exact, rounds, log }) {
  execFileSync(join(www, 'node_modules', '.bin', 'vite'), ['build', '--config', 'bench/text/vite.config.js', '--logLevel', 'error'], { cwd: www, stdio: 'inherit' });
  const dist = join(www, 'dist', 'text-bench');
  mkdirSync(join(dist, 'data'), { recursive: true });
  writeFileSync(join(dist, 'data', 'passages.json'), JSON.stringify(passages));
  writeFileSync(join(dist, 'data', 'base.f32'), Buffer.from(vectors.buffer, vectors.byteOffset, vectors.byteLength));
  writeFileSync(join(dist, 'data', 'qvecs.f32'), Buffer.from(qvecs.buffer, qvecs.byteOffset, qvecs.byteLength));
  writeFileSync(join(dist, 'data', 'items.json'), JSON.stringify(items));
  writeFileSync(join(dist, 'data', 'exact.json'), JSON.stringify(exact));
  const server = await serveDir(dist, { isolate: true }); // cross-origin isolated: 5 µs timers, not 100
  // Precise performance.memory (the JS heap of the peers).
  const browser = await launchChromium({ args: ['--enable-precise-memory-info', '--js-flags=--expose-gc'] });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => log(`[chromium] ${m.text()}`));
    await page.goto(`${server.url}?${new URLSearchParams({ dims, rounds })}`);
    await page.waitForFunction(() => window.__bench !== undefined, null, { timeout: 3_600_000 });
    const r = await page.evaluate(() => window.__bench);
    if (r.error) throw new Error(r.error);
    return r;
  } finally {
    await browser.close();
    server.close();
  }
}
