// Shared by the browser tests and the browser benchmark: a static server for a built folder on
// 127.0.0.1 (unknown paths fall back to index.html), and Debian's Chromium through playwright-core.
import { readFileSync, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, extname } from 'node:path';
import { spawn } from 'node:child_process';

const TYPES = {
  '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json', '.svg': 'image/svg+xml', '.mjs': 'text/javascript',
};

/**
 * Serves `dir`; resolves to `{ url, close }`. With `isolate` the pages are cross-origin isolated
 * (COOP + COEP), which is what gives `performance.now()` its fine resolution in Chromium (5 us
 * instead of 100 us): the benchmark's latency percentiles need it.
 */
export async function serveDir(dir, { isolate = false } = {}) {
  const extra = isolate ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
  const server = createServer((req, res) => {
    const p = join(dir, decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = existsSync(p) && statSync(p).isFile() ? p : join(dir, 'index.html');
    if (!existsSync(file)) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream', ...extra });
    res.end(readFileSync(file));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}

/** Headless Chromium from /usr/bin/chromium (never a downloaded browser); `args` are added. */
export async function launchChromium({ args = [] } = {}) {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', ...args],
  });
}

/**
 * Debian's Chromium started as a child process of its own group (so a test can SIGKILL the
 * browser and every helper process at once with `child.killAll()`), on `userDataDir`, driven over
 * CDP. Resolves to `{ browser, context, child, exited }`.
 */
/**
 * Chromium on a fresh profile in a temporary folder (IndexedDB and OPFS on disk, as users have
 * them: a context from `launch()` is incognito and keeps IndexedDB in memory). `close()` shuts
 * the browser (killing it if it hangs) and deletes the profile.
 */
export async function chromiumOnDisk(prefix = 'elex-') {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const profile = mkdtempSync(join(tmpdir(), prefix));
  const c = await spawnChromium(profile);
  const close = async () => {
    await Promise.race([c.browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
    c.child.killAll();
    await c.exited;
    rmSync(profile, { recursive: true, force: true });
  };
  return { ...c, profile, close };
}

export async function spawnChromium(userDataDir) {
  const { chromium } = await import('playwright-core');
  const child = spawn(process.env.CHROMIUM || '/usr/bin/chromium', [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--remote-debugging-port=0', `--user-data-dir=${userDataDir}`, 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  // The whole process group: the browser and its renderer, GPU and utility processes.
  // Only while it runs: once it has exited, its group id may belong to another process.
  child.killAll = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try { process.kill(-child.pid, 'SIGKILL'); } catch (_) { /* gone */ }
  };
  const ws = await new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`chromium did not start: ${err}`)), 30000);
    child.stderr.on('data', (d) => {
      err += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => reject(new Error(`chromium exited (${code}): ${err}`)));
  });
  const browser = await chromium.connectOverCDP(ws);
  const exited = new Promise((r) => child.on('exit', r));
  return { browser, context: browser.contexts()[0], child, exited };
}
