// Persistent indexes in real Chromium (real IndexedDB, Web Locks, BroadcastChannel):
//  - two tabs of one context: one writer, one follower that sees the writer's flushed adds,
//    refuses writes with READ_ONLY, and becomes the writer when the first tab closes;
//  - crash trials: a page adds batches in a loop (each resolved = durable, then acknowledged
//    on the console) with checkpoints in between, and is killed at a random moment (the
//    renderer through CDP, or the whole browser with SIGKILL); on reopen every acknowledged
//    batch is there, no batch is there in part, the present batches are a prefix, and the
//    index passes its structural check (its snapshot reloads, every vector finds itself).
// Usage: node [--test-reporter=tap] www/test/persist-browser.mjs [--trials N] [--seed S]
//   [--kill both|browser|renderer|main] [--no-tabs] [--page-bytes B]   (node:test: one test per part)
import assert from 'node:assert/strict';
import test from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { serveDir, spawnChromium } from './serve.mjs';
import { rng } from '../bench/text/core.mjs';

const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '4' },
    seed: { type: 'string', default: '1' },
    kill: { type: 'string', default: 'both' }, // both (alternating), browser, renderer
    'no-tabs': { type: 'boolean', default: false },
    'page-bytes': { type: 'string' },
  },
});
const TRIALS = Number(args.trials);
const random = rng(Number(args.seed));

const www = join(dirname(fileURLToPath(import.meta.url)), '..');
const server = await serveDir(www);
const PAGE = `${server.url}test/persist/index.html`;

async function openPage(context) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(PAGE);
  await page.evaluate(() => window.elexReady);
  return { page, errors };
}

const settle = (p, ms = 5000) => Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, ms))]);

const until = async (what, f, ms = 15000) => {
  const t0 = Date.now();
  for (;;) {
    if (await f()) return;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

const profile = mkdtempSync(join(tmpdir(), 'elex-persist-'));
// The tests are awaited one by one (each records its own failure), so the server and the
// profile go once the last is done.
const cleanUp = () => {
  server.close();
  try { rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }); } catch (_) { /* a temp dir */ }
};

// ---- two tabs ---------------------------------------------------------------------------
if (!args['no-tabs']) {
  await test('two tabs: one writer, a follower that sees flushed adds and takes over; a learner followed the same way', async () => {
    const { browser, context, child, exited } = await spawnChromium(join(profile, 'tabs'));
    const open = (p) => p.evaluate(async () => {
      window.index = await elex.HnswIndex.open({ dbName: 'tabs', name: 'shared', dims: 8 });
      return window.index.readOnly;
    });
    const a = await openPage(context);
    const b = await openPage(context);
    assert.equal(await open(a.page), false, 'the first tab is the writer');
    assert.equal(await open(b.page), true, 'the second tab follows');
    await a.page.evaluate(async () => {
      const v = batchVectors(1, 20, 8);
      for (let i = 0; i < 20; i++) index.add(i, v.subarray(i * 8, i * 8 + 8));
      await index.flush();
    });
    await until('tab B to see tab A\'s flushed adds', () => b.page.evaluate(() => index.size === 20));
    const hit = await b.page.evaluate(() => index.search(batchVectors(1, 20, 8).subarray(40, 48), 1).ids[0]);
    assert.equal(hit, 5, 'tab B finds tab A\'s vector');
    const code = await b.page.evaluate(() => { try { index.add(99, batchVectors(9, 1, 8)); return 'accepted'; } catch (e) { return e.code; } });
    assert.equal(code, 'READ_ONLY');
    // A checkpoint in A folds the log; B follows it too.
    await a.page.evaluate(async () => {
      await index.checkpoint();
      const v = batchVectors(2, 10, 8);
      await index.addBatch(Float64Array.from({ length: 10 }, (_, i) => 100 + i), v);
    });
    await until('tab B to follow the checkpoint and the batch', () => b.page.evaluate(() => index.size === 30));
    const same = async () => {
      const [x, y] = await Promise.all([a.page, b.page].map((p) => p.evaluate(() => Array.from(index.toBytes()).join(','))));
      return x === y;
    };
    assert.ok(await same(), 'the follower holds the writer\'s index byte for byte');
    // The writer's tab closes: B takes over.
    await a.page.close();
    await until('tab B to become the writer', () => b.page.evaluate(() => !index.readOnly));
    await b.page.evaluate(async () => { index.add(200, batchVectors(3, 1, 8)); await index.flush(); });
    const c = await openPage(context);
    assert.equal(await open(c.page), true, 'a third tab follows B');
    assert.equal(await c.page.evaluate(() => index.size), 31);
    // A persistent QLearner follows the same way.
    const qOpen = (p) => p.evaluate(async () => {
      window.q = await elex.QLearner.open({ dbName: 'tabs', name: 'policy', states: 6, actions: 2, alpha: 0.5, gamma: 0.9, seed: 3 });
      return window.q.readOnly;
    });
    assert.equal(await qOpen(b.page), false, 'B holds no learner lock yet: it writes');
    assert.equal(await qOpen(c.page), true);
    await b.page.evaluate(async () => { q.updateBatch([1, 2], [0, 1], [1, -1], [2, 3], [0, 1]); q.act(1, 0.5); await q.flush(); });
    await until('tab C to follow the learner', () => c.page.evaluate(() => q.value(1, 0) !== 0));
    const [qb, qc] = await Promise.all([b.page, c.page].map((p) => p.evaluate(() => Array.from(q.toBytes()).join(','))));
    assert.equal(qb, qc, 'the follower\'s learner equals the writer\'s');
    assert.deepEqual(b.errors.concat(c.errors), []);
    await settle(browser.close());
    child.killAll();
    await exited;
  });
}

// ---- budgeted index ---------------------------------------------------------------------
if (!args['no-tabs']) {
  await test('a budgeted index in Chromium: rows in real IndexedDB, answers equal an index keeping f32 copies, within budget, no long task, back after a browser SIGKILL (its last batch from the change log)', async () => {
    const dir = join(profile, 'budget');
    const run = async (first) => {
      const { browser, context, child, exited } = await spawnChromium(dir);
      const { page, errors } = await openPage(context);
      const r = await page.evaluate(async (first) => {
        const dims = 32, n = 12000, k = 10, ef = 30;
        const base = batchVectors(7, n, dims);
        const ids = Float64Array.from({ length: n }, (_, i) => i);
        const queries = batchVectors(8, 40, dims);
        const long = [];
        new PerformanceObserver((l) => { for (const e of l.getEntries()) long.push(e.duration); }).observe({ type: 'longtask', buffered: false });
        const opts = { dbName: 'budget', name: 'b', dims, seed: 5, m: 8, efConstruction: 48, rerank: ef };
        let b;
        if (first) {
          b = await elex.BudgetedIndex.open({ ...opts, budgetBytes: 1e9 });
          await b.addBatch(ids.subarray(0, 11000), base.subarray(0, 11000 * dims));
          await b.save();
          // The last thousand are only in the change log when the browser is killed.
          await b.addBatch(ids.subarray(11000), base.subarray(11000 * dims));
          // Room for about 100 hot rows.
          b.setBudget(b.minimumBytes() + 100 * (dims * 4 + 64));
        } else {
          b = await elex.BudgetedIndex.open({ dbName: 'budget', name: 'b', budgetBytes: 1e9, rerank: ef });
          b.setBudget(b.minimumBytes() + 100 * (dims * 4 + 64));
        }
        // One holder at a time (a Web Lock): a second open waits for close().
        const second = () => elex.BudgetedIndex.open({ dbName: 'budget', name: 'b', budgetBytes: 1e9 }).then((x) => { x.close(); return 'opened'; }, (e) => e.code);
        const busy = first ? null : await second();
        const ref = new elex.HnswIndex({ dims, seed: 5, m: 8, efConstruction: 48, storage: 'q4', keepF32: true });
        await ref.addBatch(ids, base);
        long.length = 0;
        const { same, within, answers } = await againstReference(b, ref, queries, 40, dims, k, ef);
        const s = b.stats();
        const size = b.size;
        let after = null;
        if (!first) { b.close(); after = await second(); }
        return { same, within, answers, rowsRead: s.rowsRead, hotHits: s.hotHits, long: long.length, size, busy, after };
      }, first);
      // The first browser is SIGKILLed (every process of it) right after its searches.
      if (!first) await settle(browser.close());
      child.killAll();
      await exited;
      return { ...r, errors };
    };
    const a = await run(true);
    assert.equal(a.size, 12000);
    assert.equal(a.same, 40, 'every answer equals the f32-copies index');
    assert.ok(a.within, 'memoryBytes stays within the budget');
    assert.ok(a.rowsRead > 0 && a.hotHits > 0, `rows read ${a.rowsRead}, hot hits ${a.hotHits}`);
    assert.equal(a.long, 0, 'no long task during the searches');
    // A fresh browser on the same profile (the first was SIGKILLed, its last batch unsaved).
    const b = await run(false);
    assert.equal(b.size, 12000);
    assert.equal(b.busy, 'BUSY', 'a second open of an open index');
    assert.equal(b.after, 'opened', 'and it opens once the first is closed');
    assert.deepEqual(b.answers, a.answers);
    assert.equal(b.same, 40);
    assert.deepEqual(a.errors.concat(b.errors), []);
  });
}

// ---- budgeted index, rows in OPFS (dedicated worker) --------------------------------------
if (!args['no-tabs']) {
  await test('a budgeted index with its rows in OPFS, in a dedicated worker: answers equal an index keeping f32 copies, one holder per file, back after a browser SIGKILL; refused on the main thread', async () => {
    const dir = join(profile, 'budget-opfs');
    // Runs in the worker (its source is posted there).
    const scenario = async ({ first }) => {
      const dims = 32, n = 6000, k = 10, ef = 30;
      const base = batchVectors(7, n, dims);
      const ids = Float64Array.from({ length: n }, (_, i) => i);
      const queries = batchVectors(8, 40, dims);
      const place = { dbName: 'budget-opfs', name: 'b', budgetBytes: 1e9, rerank: ef };
      const code = async (p) => { try { await p; return 'ok'; } catch (e) { return e.code; } };
      let b, busy = null, mismatch = null;
      if (first) {
        b = await elex.BudgetedIndex.open({ ...place, dims, seed: 5, m: 8, efConstruction: 48, rowStore: 'opfs' });
        await b.addBatch(ids.subarray(0, 5000), base.subarray(0, 5000 * dims));
        await b.save();
        await b.addBatch(ids.subarray(5000), base.subarray(5000 * dims)); // only in the log
        b.delete(17);
        await b.flush();
      } else {
        mismatch = await code(elex.BudgetedIndex.open({ ...place, rowStore: 'indexeddb' }));
        b = await elex.BudgetedIndex.open(place);
        // A second holder of the same rows file while this one is open.
        busy = await code(elex.BudgetedIndex.open(place));
      }
      b.setBudget(b.minimumBytes() + 100 * (dims * 4 + 64));
      const ref = new elex.HnswIndex({ dims, seed: 5, m: 8, efConstruction: 48, storage: 'q4', keepF32: true });
      await ref.addBatch(ids, base);
      ref.delete(17);
      const { same, within, answers } = await againstReference(b, ref, queries, 40, dims, k, ef);
      const s = b.stats();
      return { same, within, answers, rowsRead: s.rowsRead, size: b.size, rowStore: b.rowStore, busy, mismatch };
    };
    const run = async (first) => {
      const { browser, context, child, exited } = await spawnChromium(dir);
      const { page, errors } = await openPage(context);
      const main = await page.evaluate(async () => {
        try {
          await elex.BudgetedIndex.open({ dbName: 'main', name: 'm', dims: 8, budgetBytes: 1e9, rowStore: 'opfs' });
          return 'opened';
        } catch (e) { return e.code; }
      });
      const r = await page.evaluate(({ src, arg }) => inWorker(src, arg), { src: scenario.toString(), arg: { first } });
      if (!first) await settle(browser.close());
      child.killAll();
      await exited;
      return { ...r, main, errors };
    };
    const a = await run(true);
    assert.equal(a.main, 'UNSUPPORTED', 'the main thread has no sync access handles');
    assert.equal(a.rowStore, 'opfs');
    assert.equal(a.size, 5999);
    assert.equal(a.same, 40, 'every answer equals the f32-copies index');
    assert.ok(a.within, 'memoryBytes stays within the budget');
    assert.ok(a.rowsRead > 0, `rows read ${a.rowsRead}`);
    // A fresh browser on the same profile (the first was SIGKILLed after its save).
    const b = await run(false);
    assert.equal(b.mismatch, 'INVALID_OPTIONS', 'a saved OPFS index refuses rowStore "indexeddb"');
    assert.equal(b.busy, 'BUSY', 'one holder per rows file');
    assert.equal(b.rowStore, 'opfs');
    assert.equal(b.size, 5999);
    assert.deepEqual(b.answers, a.answers);
    assert.equal(b.same, 40);
    assert.deepEqual(a.errors.concat(b.errors), []);
  });
}

// ---- crash trials -----------------------------------------------------------------------
const DIMS = 32;
const PER_BATCH = 16;
const outcomes = [];
for (let trial = 0; trial < TRIALS; trial++) {
  const killBrowser = args.kill === 'both' ? trial % 2 === 1 : args.kill === 'browser' || args.kill === 'main';
  await test(`crash trial ${trial} (${killBrowser ? 'browser SIGKILL' : 'renderer crash'})`, async () => {
    const dir = join(profile, `crash-${trial}`);
    let lastAck = -1;
    {
      const { browser, context, child, exited } = await spawnChromium(dir);
      const { page } = await openPage(context);
      page.on('console', (m) => {
        const x = /^ack (\d+)$/.exec(m.text());
        if (x) lastAck = Math.max(lastAck, Number(x[1]));
      });
      await page.evaluate(async ({ DIMS, PER_BATCH, pageBytes }) => {
        const index = await elex.HnswIndex.open({ dbName: 'crash', name: 'c', dims: DIMS, checkpointShare: 0.3, pageBytes });
        (async () => {
          for (let b = 0; ; b++) {
            const ids = Float64Array.from({ length: PER_BATCH }, (_, i) => b * PER_BATCH + i);
            await index.addBatch(ids, batchVectors(b, PER_BATCH, DIMS));
            console.log(`ack ${b}`);
            if (b % 7 === 6) index.checkpoint(); // not awaited: runs beside the next batches
          }
        })();
      }, { DIMS, PER_BATCH, pageBytes: args['page-bytes'] ? Number(args['page-bytes']) : undefined });
      await new Promise((r) => setTimeout(r, 300 + random() * 2500));
      if (killBrowser && args.kill === 'main') {
        // Only the browser's main process; its helpers notice and exit on their own.
        try { process.kill(child.pid, 'SIGKILL'); } catch (_) { /* gone */ }
        await exited;
        await new Promise((r) => setTimeout(r, 2000));
        // Helpers still alive keep the group id theirs, so this reaches no one else.
        try { process.kill(-child.pid, 'SIGKILL'); } catch (_) { /* all gone */ }
      } else if (killBrowser) {
        child.killAll();
        await exited;
      } else {
        const cdp = await context.newCDPSession(page);
        // Page.crash never answers (its renderer is gone); wait for the crash event instead.
        const crashed = new Promise((r) => page.once('crash', r));
        cdp.send('Page.crash').catch(() => {});
        await Promise.race([crashed, new Promise((r) => setTimeout(r, 5000))]);
        child.killAll();
        await exited;
      }
    }
    console.log(`# trial ${trial}: killed after batch ${lastAck}`);
    if (process.env.ELEX_KEEP_PROFILE) {
      const { cpSync } = await import('node:fs');
      cpSync(dir, join(process.env.ELEX_KEEP_PROFILE, `trial-${trial}`), { recursive: true });
    }
    // Reopen in a fresh browser on the same profile.
    const { browser, context, child, exited } = await spawnChromium(dir);
    const { page } = await openPage(context);
    const report = await page.evaluate(async ({ DIMS, PER_BATCH }) => {
      let index;
      try {
        index = await elex.HnswIndex.open({ dbName: 'crash', name: 'c' });
      } catch (e) {
        // What the database holds, to tell a lost database from a lost record.
        const dbs = await indexedDB.databases();
        const counts = await new Promise((resolve) => {
          const req = indexedDB.open('crash');
          req.onsuccess = () => {
            const db = req.result;
            const names = [...db.objectStoreNames];
            if (!names.length) { resolve({ stores: [] }); return; }
            const tx = db.transaction(names, 'readonly');
            const out = {};
            for (const n of names) { const c = tx.objectStore(n).count(); c.onsuccess = () => { out[n] = c.result; }; }
            tx.oncomplete = () => resolve(out);
          };
          req.onerror = () => resolve({ error: String(req.error) });
        });
        return { error: `${e.code}: ${e.message}`, dbs, counts };
      }
      const batches = new Map();
      for (let id = 0; id < 100000 && batches.size < 100000; id++) {
        if (!index.has(id)) { if (id % PER_BATCH === 0 && !index.has(id + 1) && !index.has(id + PER_BATCH)) break; continue; }
        const b = Math.floor(id / PER_BATCH);
        batches.set(b, (batches.get(b) || 0) + 1);
      }
      // Structural check: the snapshot reloads (every invariant is checked on load) and
      // every vector finds itself.
      const copy = elex.HnswIndex.fromBytes(index.toBytes());
      let selfHits = 0;
      for (const [b] of batches) {
        const v = batchVectors(b, PER_BATCH, DIMS);
        for (let i = 0; i < PER_BATCH; i++) {
          if (copy.search(v.subarray(i * DIMS, (i + 1) * DIMS), 1, 64).ids[0] === b * PER_BATCH + i) selfHits++;
        }
      }
      return { size: index.size, batches: [...batches.entries()], selfHits, stats: index.storageStats() };
    }, { DIMS, PER_BATCH });
    await settle(browser.close());
    child.killAll();
    await exited;
    try { rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }); } catch (_) { /* removed with the profile */ }
    if (report.error) {
      // Chromium deleted the database after a kill (dataLoss "total", DATA_LOST here) while
      // two read-write transactions of it were in flight; idb.js runs them one at a time so
      // that this cannot happen. Any failed reopen is a failure.
      throw new Error(`trial ${trial} (${killBrowser ? 'browser SIGKILL' : 'renderer crash'}, ${lastAck + 1} batches acknowledged): reopen failed: ${report.error}; databases ${JSON.stringify(report.dbs)}, records ${JSON.stringify(report.counts)}`);
    }
    const present = new Map(report.batches);
    for (const [b, n] of present) assert.equal(n, PER_BATCH, `trial ${trial}: batch ${b} is there in part (${n} of ${PER_BATCH})`);
    const top = present.size - 1;
    for (let b = 0; b <= top; b++) assert.ok(present.has(b), `trial ${trial}: batch ${b} missing below batch ${top}`);
    assert.ok(top >= lastAck, `trial ${trial}: acknowledged batch ${lastAck} lost (only ${top + 1} batches back)`);
    assert.equal(report.size, present.size * PER_BATCH);
    assert.equal(report.selfHits, report.size, `trial ${trial}: ${report.size - report.selfHits} vectors do not find themselves`);
    outcomes.push({ trial, kill: killBrowser ? 'browser' : 'renderer', acked: lastAck + 1, reopened: top + 1, checkpoints: report.stats.generation });
    console.log(`# crash trial ${trial} (${killBrowser ? 'browser SIGKILL' : 'renderer crash'}): ${lastAck + 1} batches acknowledged, ${top + 1} back, none in part, generation ${report.stats.generation}`);
  });
}
{
  const ahead = outcomes.filter((o) => o.reopened > o.acked).length;
  const browserKills = outcomes.filter((o) => o.kill === 'browser').length;
  console.log(`# crash trials: ${outcomes.length} passed (${browserKills} browser SIGKILL); every acknowledged batch back, none in part; ${ahead} had an unacknowledged batch land whole`);
}
cleanUp();
