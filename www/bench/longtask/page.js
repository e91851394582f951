// The page of the long-task benchmark (driven by run.mjs): builds an index on the main thread
// with and without time slicing, and in the worker, while a PerformanceObserver records every
// long task (> 50 ms) the page sees; then times searches and the sliced save/load.
import { init } from '/src/index.js';
import { open } from '/src/worker-client.js';

let tasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) tasks.push({ start: e.startTime, ms: e.duration });
}).observe({ type: 'longtask', buffered: true });

async function fvecs(url, n) {
  const buf = await (await fetch(url)).arrayBuffer();
  const dv = new DataView(buf);
  const dims = dv.getInt32(0, true);
  const rows = Math.min(n ?? Infinity, buf.byteLength / (4 * (dims + 1)));
  const out = new Float32Array(rows * dims);
  for (let i = 0; i < rows; i++) out.set(new Float32Array(buf, (i * (dims + 1) + 1) * 4, dims), i * dims);
  return { dims, rows, data: out };
}

let data = null;
let queries = null;
async function load(n) {
  if (!data || data.rows !== n) data = await fvecs('/data/base.fvecs', n);
  if (!queries) queries = await fvecs('/data/query.fvecs', 1000);
}

// Settle, then measure `f`: wall time and the long tasks seen while it ran.
async function measure(f) {
  await new Promise((r) => setTimeout(r, 300));
  tasks = [];
  const t0 = performance.now();
  const value = await f();
  const ms = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 100)); // let the observer deliver
  const longest = tasks.length ? Math.max(...tasks.map((t) => t.ms)) : 0;
  // Where the long tasks fell, in ms from the start of the measured work.
  const at = tasks.map((t) => [Math.round(t.start - t0), Math.round(t.ms)]);
  return { ms, longest, over50: tasks.length, at: at.slice(0, 5), value };
}

const elexP = init();
let worker = null;

window.runCase = async ({ n, storage, mode }) => {
  const elex = await elexP;
  await load(n);
  const { dims, rows, data: base } = data;
  const ids = Float64Array.from({ length: rows }, (_, i) => i);
  const opts = { dims, metric: 'cosine', storage, keepF32: storage !== 'f32', seed: 1 };
  if (mode === 'worker') {
    worker ??= await open();
    const idx = await worker.HnswIndex.create(opts);
    const build = await measure(() => idx.addBatch(ids, base));
    const search = await measure(async () => {
      for (let q = 0; q < 1000; q++) await idx.search(queries.data.subarray(q * dims, (q + 1) * dims), 10, 40);
    });
    await idx.free();
    return { build, searchMsPerQuery: search.ms / 1000, searchLongest: search.longest };
  }
  const idx = new elex.HnswIndex(opts);
  let build;
  if (mode === 'sliced') build = await measure(() => idx.addBatch(ids, base));
  else if (mode === 'unsliced') build = await measure(() => idx.addBatch(ids, base, { sliceMs: Infinity }));
  else if (mode === 'chunks2000') {
    // The old behaviour: 2,000 vectors per task between yields.
    build = await measure(async () => {
      for (let s = 0; s < rows; s += 2000) {
        const e = Math.min(rows, s + 2000);
        await idx.addBatch(ids.subarray(s, e), base.subarray(s * dims, e * dims), { sliceMs: Infinity });
        await new Promise((r) => setTimeout(r, 0)); // the old yield between chunks
      }
    });
  }
  const out = { build };
  if (mode === 'sliced') {
    const search = await measure(async () => {
      for (let q = 0; q < 1000; q++) idx.search(queries.data.subarray(q * dims, (q + 1) * dims), 10, 40);
    });
    out.searchMsPerQuery = search.ms / 1000;
    out.save = await measure(() => idx.save('longtask-bench', `${storage}-${n}`));
    out.load = await measure(async () => (await elex.HnswIndex.load('longtask-bench', `${storage}-${n}`)).size);
    out.toBytes = await measure(async () => idx.toBytes().length);
    const bytes = idx.toBytes();
    out.fromBytes = await measure(async () => elex.HnswIndex.fromBytes(bytes).size);
    out.snapshot = await measure(async () => (await idx.snapshot()).length);
    out.restore = await measure(async () => (await elex.HnswIndex.restore(bytes)).size);
    for (const k of ['save', 'load', 'toBytes', 'fromBytes', 'snapshot', 'restore']) delete out[k].value;
  }
  delete out.build.value;
  idx.free();
  return out;
};
document.getElementById('out').textContent = 'loaded';
