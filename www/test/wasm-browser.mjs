// Runs elex-wasm's wasm-bindgen tests (crates/elex-wasm/src/browser_tests.rs: real IndexedDB)
// in headless Chromium driven over CDP by playwright-core, instead of through ChromeDriver: on
// these machines ChromeDriver lost the page before any test started in one start of two or
// more ("Timed out receiving message from renderer"; once four starts in a row), while the same
// Chromium under playwright-core has not. The test runner serves the tests in its interactive
// mode (NO_HEADLESS=1, on a free port); the page runs them all on load and writes cargo-style
// output into `#output`, which is printed here; the exit status is the tests' verdict.
//
//   node www/test/wasm-browser.mjs [-- extra cargo test arguments]
// (the test module must be built: `cargo test --no-run --target wasm32-unknown-unknown -p
// elex-wasm --features test-hooks --target-dir target/wasm-browser`; scripts/test.sh does.)
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './serve.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TEST_MS = 180_000;
const RUN_MS = 90_000;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const port = await freePort();
const extra = process.argv.includes('--') ? process.argv.slice(process.argv.indexOf('--') + 1) : [];
const runner = spawn('cargo', ['test', '--target', 'wasm32-unknown-unknown', '-p', 'elex-wasm', '--features', 'test-hooks', '--target-dir', 'target/wasm-browser', ...extra], {
  cwd: root,
  env: { ...process.env, NO_HEADLESS: '1', WASM_BINDGEN_TEST_ADDRESS: `127.0.0.1:${port}` },
  stdio: ['ignore', 'pipe', 'inherit'],
  detached: true, // its own process group: killed whole at the end
});
const stop = () => {
  try {
    process.kill(-runner.pid, 'SIGKILL');
  } catch {
    // already gone
  }
};
process.on('exit', stop);

let verdict = 1;
let browser;
try {
  const url = await new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`the test runner did not start serving: ${seen}`)), TEST_MS);
    runner.stdout.on('data', (chunk) => {
      seen += chunk;
      const m = /available at (http:\/\/\S+)/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    runner.once('exit', (code) => reject(new Error(`the test runner exited (${code}) before serving: ${seen}`)));
  });
  browser = await launchChromium();
  const page = await browser.newPage();
  // Uncaught errors on the page (some tests abort IndexedDB work on purpose): shown on failure.
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // The tests take about a second; a page that has not reported after RUN_MS is loaded again
  // (once a navigation here waited 30 s for a "load" event that never came, with the same
  // build passing at once when run again), at most three times.
  for (let attempt = 1; ; attempt++) {
    try {
      await page.goto(url, { waitUntil: 'commit', timeout: RUN_MS });
      await page.waitForFunction(() => (document.getElementById('output')?.textContent ?? '').includes('test result: '), null, { timeout: RUN_MS, polling: 250 });
      break;
    } catch (e) {
      if (attempt === 3) throw e;
      console.log(`wasm-browser: attempt ${attempt}: ${e.message.split('\n')[0]}; loading the page again`);
    }
  }
  const output = await page.evaluate(() => document.getElementById('output').textContent);
  console.log(output.trim());
  const passed = Number(/test result: ok\. (\d+) passed/.exec(output)?.[1] ?? 0);
  verdict = passed > 0 && !/test result: FAILED/.test(output) ? 0 : 1;
  if (verdict) console.log(`uncaught on the page:\n${pageErrors.join('\n')}`);
} catch (e) {
  console.log(`wasm-browser: ${e.message}`);
} finally {
  await browser?.close();
  stop();
}
process.exit(verdict);
