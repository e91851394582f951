// Q-learning batch updates in Node, one run: elex's wasm (simd128 build and scalar build) against
// the plain-JS loop a web developer would write (Float32Array table, scalar max), on identical
// batches. Usage: node www/bench/qlearning.mjs [--check] [--json OUT]
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import process from 'node:process';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const root = new URL('../../', import.meta.url).pathname;
const builds = {
  simd128: require(`${root}target/wasm-node/simd/elex_wasm.js`),
  scalar: require(`${root}target/wasm-node/scalar/elex_wasm.js`),
};
const { values: args } = parseArgs({ options: { check: { type: 'boolean', default: false }, json: { type: 'string' } } });
const STATES = 1000;
const ALPHA = 0.1;
const GAMMA = 0.99;

// SplitMix64 on BigInt, so the batches are the same as the Rust benches' stream would give.
function rng(seed) {
  let s = BigInt.asUintN(64, BigInt(seed));
  const next = () => {
    s = BigInt.asUintN(64, s + 0x9e3779b97f4a7c15n);
    let z = s;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  };
  return {
    below: (n) => Number(((next() >> 32n) * BigInt(n)) >> 32n),
    unit: () => Number(next() >> 40n) / 2 ** 24,
  };
}

function makeBatch(n, actions, seed) {
  const r = rng(seed);
  const b = {
    states: new Uint32Array(n), actions: new Uint32Array(n), rewards: new Float32Array(n),
    nextStates: new Uint32Array(n), dones: new Uint8Array(n),
  };
  for (let i = 0; i < n; i++) {
    b.states[i] = r.below(STATES);
    b.actions[i] = r.below(actions);
    b.rewards[i] = r.unit() * 2 - 1;
    b.nextStates[i] = r.below(STATES);
    b.dones[i] = r.below(20) === 0 ? 1 : 0;
  }
  return b;
}

// A TransitionBatch holding batch `b`, written through its typed-array views.
function filledBatch(m, b) {
  const tb = new m.TransitionBatch(b.states.length);
  for (const key of ['states', 'actions', 'rewards', 'nextStates', 'dones']) tb[key].set(b[key]);
  return tb;
}

// The baseline: what a web developer writes without elex.
function plainJsUpdate(q, actions, b, alpha, gamma) {
  for (let i = 0; i < b.states.length; i++) {
    const row = b.nextStates[i] * actions;
    let max = q[row];
    for (let a = 1; a < actions; a++) if (q[row + a] > max) max = q[row + a];
    const target = b.rewards[i] + gamma * max * (1 - b.dones[i]);
    const k = b.states[i] * actions + b.actions[i];
    q[k] += alpha * (target - q[k]);
  }
}

// Median over 15 samples of the time per call, each sample long enough to be timed.
let timeIt = function (fn) {
  let reps = 1;
  for (;;) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) fn();
    if (Number(process.hrtime.bigint() - t) > 2e7) break;
    reps *= 2;
  }
  const samples = [];
  for (let s = 0; s < 15; s++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) fn();
    samples.push(Number(process.hrtime.bigint() - t) / reps / 1000);
  }
  samples.sort((a, b) => a - b);
  return samples[7];
};

// --check: one small run per shape, asserting the wasm builds (copying and zero-copy APIs) give
// the plain-JS results; timings are not asserted (the test script runs this).
const checkOnly = args.check;
if (checkOnly) timeIt = (fn) => (fn(), 0);

const rows = [];
for (const actions of [4, 16, 64]) {
  for (const size of checkOnly ? [100, 1000] : [100, 1000, 10000]) {
    const b = makeBatch(size, actions, 0x5eed);
    const q = new Float32Array(STATES * actions);
    const js = timeIt(() => plainJsUpdate(q, actions, b, ALPHA, GAMMA));
    const row = { actions, size, plain_js_us: js };
    for (const [name, m] of Object.entries(builds)) {
      const l = new m.QLearner(STATES, actions, ALPHA, GAMMA, 1);
      // Copying API: typed arrays in, wasm-bindgen copies them into wasm memory per call.
      row[`${name}_copy_us`] = timeIt(() => l.updateBatch(b.states, b.actions, b.rewards, b.nextStates, b.dones));
      // Zero-copy API: the batch is written into wasm-side columns through views.
      const tb = filledBatch(m, b);
      row[`${name}_us`] = timeIt(() => l.updateFrom(tb, size));
      tb.free();
      l.free();
    }
    // Same batches, same results: every build and API against the JS table after one update.
    const qj = new Float32Array(STATES * actions);
    plainJsUpdate(qj, actions, b, ALPHA, GAMMA);
    let maxDiff = 0;
    for (const m of Object.values(builds)) {
      for (const api of ['copy', 'zero-copy']) {
        const l = new m.QLearner(STATES, actions, ALPHA, GAMMA, 1);
        if (api === 'copy') {
          l.updateBatch(b.states, b.actions, b.rewards, b.nextStates, b.dones);
        } else {
          const tb = filledBatch(m, b);
          l.updateFrom(tb, size);
          tb.free();
        }
        for (let s = 0; s < STATES; s++) for (let a = 0; a < actions; a++) maxDiff = Math.max(maxDiff, Math.abs(l.value(s, a) - qj[s * actions + a]));
        l.free();
      }
    }
    row.max_abs_diff_vs_js = maxDiff;
    if (!(maxDiff < 1e-6)) {
      console.error(`wasm and plain JS disagree: max |dQ| = ${maxDiff} at ${actions} actions x ${size}`);
      process.exit(1);
    }
    rows.push(row);
  }
}
if (checkOnly) {
  console.log(`${rows.length} passed, 0 failed: elex wasm (simd128 and scalar, copying and zero-copy) matches plain JS`);
  process.exit(0);
}
console.log(`Q-learning batch update in Node ${process.version} (us per batch; ${STATES} states)`);
console.log('simd128/scalar: zero-copy updateFrom; "copy": updateBatch from JS typed arrays');
console.log('actions   batch   plain JS    simd128     scalar  simd copy   JS/simd  JS/simd-copy  scalar/simd  max|dQ|');
for (const r of rows) {
  const f = (x) => x.toFixed(2).padStart(10);
  console.log(
    `${String(r.actions).padStart(7)} ${String(r.size).padStart(7)} ${f(r.plain_js_us)} ${f(r.simd128_us)} ${f(r.scalar_us)} ${f(r.simd128_copy_us)} ` +
      `${(r.plain_js_us / r.simd128_us).toFixed(2).padStart(8)}x ${(r.plain_js_us / r.simd128_copy_us).toFixed(2).padStart(12)}x ${(r.scalar_us / r.simd128_us).toFixed(2).padStart(11)}x  ${r.max_abs_diff_vs_js.toExponential(1)}`,
  );
}
if (args.json) writeFileSync(args.json, JSON.stringify({ node: process.version, rows }, null, 1));
