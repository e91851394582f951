// Scheduling helpers of elex-wasm: a clock and a yield to the event loop that long work (batch
// inserts, compaction) calls between slices of a few milliseconds.

const perf = globalThis.performance;

/// Milliseconds from a monotonic clock.
export function now() {
  return perf ? perf.now() : Date.now();
}

const isNode =
  typeof process !== 'undefined' && process.versions != null && process.versions.node != null;

let channel = null;
const waiting = [];

/// Yields to the event loop (a macrotask, so input, rendering, timers and messages get their
/// turn): a MessageChannel message, which browsers do not clamp the way they clamp nested
/// `setTimeout(0)` to 4 ms, and which queues behind the tasks already waiting (unlike
/// `scheduler.yield()`, whose continuation jumps ahead of them: a worker would then not see the
/// page's messages until the work ended); `setImmediate` in Node.
export function yieldNow() {
  if (isNode && typeof setImmediate === 'function') return new Promise((r) => setImmediate(r));
  if (typeof MessageChannel === 'function') {
    if (!channel) {
      channel = new MessageChannel();
      channel.port1.onmessage = () => { const r = waiting.shift(); if (r) r(); };
    }
    return new Promise((r) => { waiting.push(r); channel.port2.postMessage(0); });
  }
  return new Promise((r) => setTimeout(r, 0));
}
