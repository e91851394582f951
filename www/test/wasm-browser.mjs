// Runs wasm-bindgen tests in headless Chromium driven over CDP by playwright-core, instead of
// through ChromeDriver: on these machines ChromeDriver lost the page before any test started in
// one start of two or more ("Timed out receiving message from renderer"; once four starts in a
// row), while the same Chromium under playwright-core has not. By default the tests are
// elex-wasm's (crates/elex-wasm/src/browser_tests.rs: real IndexedDB); `--rustflags` and the
// cargo arguments after `--` pick others, e.g. the kernel and index tests of the relaxed-SIMD
// build (which Node 20 cannot run: it validates relaxed SIMD only behind a flag, and then computes
// other results).
//
// Each test binary is built (`cargo test --no-run`), then served by wasm-bindgen-test-runner in
// its interactive mode (NO_HEADLESS=1, on a free port, in the browser even when the tests are not
// configured for one: WASM_BINDGEN_USE_BROWSER=1); the page runs them all on load and writes
// cargo-style output into `#output`, which is printed here; the exit status is the verdict.
//
//   node www/test/wasm-browser.mjs [--rustflags=FLAGS] [--target-dir DIR] [-- cargo test arguments]
// (default: `-p elex-wasm --features test-hooks`, target/wasm-browser)
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { launchChromium } from './serve.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TEST_MS = 180_000;
const RUN_MS = 90_000;

const { values, positionals } = parseArgs({
  options: { rustflags: { type: 'string', default: '' }, 'target-dir': { type: 'string', default: 'target/wasm-browser' } },
  allowPositionals: true,
});
const cargoArgs = positionals.length > 0 ? positionals : ['-p', 'elex-wasm', '--features', 'test-hooks'];
const env = { ...process.env };
if (values.rustflags) env.CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS = values.rustflags;

// The test binaries, built (or found up to date) by cargo.
const built = execFileSync('cargo', ['test', '--no-run', '--message-format=json', '--target', 'wasm32-unknown-unknown', '--target-dir', values['target-dir'], ...cargoArgs], {
  cwd: root,
  env,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
  maxBuffer: 64 << 20,
});
const binaries = built
  .split('\n')
  .filter((l) => l.startsWith('{'))
  .map((l) => JSON.parse(l))
  .filter((m) => m.reason === 'compiler-artifact' && m.profile?.test && m.executable)
  .map((m) => m.executable);
if (binaries.length === 0) {
  console.log('wasm-browser: cargo built no test binary');
  process.exit(1);
}

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

// The runners still alive, killed if this script exits early.
const running = new Set();
process.on('exit', () => {
  for (const stop of [...running]) stop();
});

/** Serves one test binary, runs it in `browser`, prints its output; resolves to the number of
 * tests that passed, or -1 when one failed or the page did not report. */
async function runBinary(browser, wasm) {
  const port = await freePort();
  const runner = spawn('wasm-bindgen-test-runner', [wasm], {
    cwd: root,
    env: { ...env, NO_HEADLESS: '1', WASM_BINDGEN_USE_BROWSER: '1', WASM_BINDGEN_TEST_ADDRESS: `127.0.0.1:${port}` },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true, // its own process group: killed whole at the end
  });
  const stop = () => {
    try {
      process.kill(-runner.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    running.delete(stop);
  };
  running.add(stop);
  // Listening from the start: a binary without browser tests makes the runner print "no tests
  // to run!" and exit at once.
  let seen = '';
  const served = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the test runner did not start serving: ${seen}`)), TEST_MS);
    runner.stdout.on('data', (chunk) => {
      seen += chunk;
      const m = /available at (http:\/\/\S+)/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    runner.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0 && /no tests to run/.test(seen)) resolve(null);
      else reject(new Error(`the test runner exited (${code}) before serving: ${seen}`));
    });
  });
  const page = await browser.newPage();
  try {
    const url = await served;
    if (url === null) {
      console.log(`wasm-browser: ${wasm.slice(root.length + 1)}: no tests to run`);
      return 0;
    }
    // Uncaught errors on the page (some tests abort IndexedDB work on purpose): shown on failure.
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // A page that has not reported after RUN_MS is loaded again (once a navigation here waited
    // 30 s for a "load" event that never came, with the same build passing at once when run
    // again), at most three times.
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
    console.log(`wasm-browser: ${wasm.slice(root.length + 1)}`);
    console.log(output.trim());
    const ok = /test result: ok\. \d+ passed/.test(output) && !/test result: FAILED/.test(output);
    if (!ok) console.log(`uncaught on the page:\n${pageErrors.join('\n')}`);
    return ok ? Number(/test result: ok\. (\d+) passed/.exec(output)[1]) : -1;
  } catch (e) {
    console.log(`wasm-browser: ${wasm}: ${e.message}`);
    return -1;
  } finally {
    await page.close();
    stop();
  }
}

// Fails when a binary failed, or when no test ran at all.
let verdict = 0;
let passed = 0;
const browser = await launchChromium();
try {
  for (const wasm of binaries) {
    const n = await runBinary(browser, wasm);
    if (n < 0) verdict = 1;
    else passed += n;
  }
} finally {
  await browser.close();
}
process.exit(verdict || (passed > 0 ? 0 : 1));
