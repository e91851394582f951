// Persistence figures in Chromium (real IndexedDB): for indexes of 10K and 50K random 384-d
// vectors (M 16, efConstruction 64: the subject is storage, not graph quality):
//  - add of one vector + flush(): p50 / p95 over 200 adds, and bytes written per added vector;
//  - today's equivalent, save() of the whole index after one add (p50 of 3);
//  - open() of the persistent index vs load() of the same index saved whole (interleaved
//    rounds, median ratio);
//  - a checkpoint's time and the longest task while it runs (PerformanceObserver 'longtask').
// Usage: node www/bench/persist/run.mjs [--sizes 10000,50000] [--rounds 3] [--trials 0]
// (--trials N also runs N crash trials of www/test/persist-browser.mjs).
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { serveDir, launchChromium } from '../../test/serve.mjs';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,50000' },
    rounds: { type: 'string', default: '3' },
    trials: { type: 'string', default: '0' },
  },
});
const here = dirname(fileURLToPath(import.meta.url));
const www = join(here, '..', '..');
const server = await serveDir(www, { isolate: true });
const browser = await launchChromium();
const page = await browser.newPage();
await page.goto(`${server.url}test/persist/index.html`);
await page.evaluate(() => window.elexReady);

const rows = [];
for (const n of args.sizes.split(',').map(Number)) {
  const r = await page.evaluate(async ({ n, rounds }) => {
    const DIMS = 384;
    const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
    const longest = [];
    new PerformanceObserver((l) => { for (const e of l.getEntries()) longest.push(e.duration); }).observe({ type: 'longtask' });
    const dbName = `bench-${n}`;
    const base = batchVectors(1, n, DIMS);
    const ids = Float64Array.from({ length: n }, (_, i) => i);
    let t = performance.now();
    const index = await elex.HnswIndex.open({ dbName, name: 'p', dims: DIMS, efConstruction: 64, checkpointShare: Infinity });
    await index.addBatch(ids, base);
    const buildMs = performance.now() - t;
    // One add + flush, 200 times.
    const extra = batchVectors(2, 200, DIMS);
    const w0 = index.storageStats().bytesWritten;
    const lat = [];
    for (let i = 0; i < 200; i++) {
      t = performance.now();
      index.add(n + i, extra.subarray(i * DIMS, (i + 1) * DIMS));
      await index.flush();
      lat.push(performance.now() - t);
    }
    const bytesPerAdd = (index.storageStats().bytesWritten - w0) / 200;
    // The checkpoint, with the long tasks it causes.
    longest.length = 0;
    t = performance.now();
    await index.checkpoint();
    const checkpointMs = performance.now() - t;
    await new Promise((r) => setTimeout(r, 100));
    const checkpointLongest = longest.length ? Math.max(...longest) : 0;
    const snapshotBytes = index.storageStats().snapshotBytes;
    // Today's path: the same index in memory, one add, save() whole.
    const mem = elex.HnswIndex.fromBytes(index.toBytes());
    await mem.save(dbName, 'whole');
    const saves = [];
    for (let i = 0; i < 3; i++) {
      mem.add(n + 1000 + i, extra.subarray(i * DIMS, (i + 1) * DIMS));
      t = performance.now();
      await mem.save(dbName, 'whole');
      saves.push(performance.now() - t);
    }
    await index.close();
    // open() vs load(), interleaved.
    const ratios = [];
    const opens = [];
    const loads = [];
    for (let r = 0; r < rounds; r++) {
      t = performance.now();
      const o = await elex.HnswIndex.open({ dbName, name: 'p' });
      const openMs = performance.now() - t;
      await o.close();
      o.free();
      t = performance.now();
      const l = await elex.HnswIndex.load(dbName, 'whole');
      const loadMs = performance.now() - t;
      l.free();
      opens.push(openMs);
      loads.push(loadMs);
      ratios.push(openMs / loadMs);
    }
    return {
      n, buildMs, p50: q(lat, 0.5), p95: q(lat, 0.95), bytesPerAdd, vectorBytes: DIMS * 4,
      savePerAddMs: q(saves, 0.5), checkpointMs, checkpointLongest, snapshotBytes,
      openMs: q(opens, 0.5), loadMs: q(loads, 0.5), openVsLoad: q(ratios, 0.5),
    };
  }, { n, rounds: Number(args.rounds) });
  rows.push(r);
  console.log(JSON.stringify(r));
}
await browser.close();
server.close();
console.log('\n| vectors | add+flush p50 | p95 | bytes written per add (vector: 1,536) | save() after one add (today) | checkpoint | its longest task | open | load | open/load (median) |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.n} | ${r.p50.toFixed(2)} ms | ${r.p95.toFixed(2)} ms | ${r.bytesPerAdd.toFixed(0)} | ${r.savePerAddMs.toFixed(0)} ms | ${r.checkpointMs.toFixed(0)} ms (${(r.snapshotBytes / 1e6).toFixed(1)} MB) | ${r.checkpointLongest.toFixed(0)} ms | ${r.openMs.toFixed(0)} ms | ${r.loadMs.toFixed(0)} ms | ${r.openVsLoad.toFixed(2)}x |`);
}
if (Number(args.trials) > 0) {
  const t = spawnSync(process.execPath, [join(www, 'test', 'persist-browser.mjs'), '--trials', args.trials, '--seed', String(Date.now() % 100000)], { stdio: 'inherit' });
  if (t.status !== 0) process.exit(t.status ?? 1);
}
