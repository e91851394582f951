// Chromium's IndexedDB alone (no elex) under whole-browser SIGKILLs: a page commits read-write
// transactions in a loop, the test kills every browser process at a random moment, reopens the
// profile and counts the databases Chromium deleted as corrupt (dataLoss in the upgrade event).
//   --mode one: one transaction at a time (a put each);
//   --mode two: two at once on two object stores (a --big put, 1 MB by default, on one beside
//               a 2 KB put on the other), which is what elex's checkpoint pages beside its log
//               appends used to do.
// Usage: node www/bench/persist/plain-idb.mjs [--mode one|two] [--big BYTES] [--trials 40] [--seed 1]
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawnChromium } from '../../test/serve.mjs';
import { rng } from '../text/core.mjs';

const { values: args } = parseArgs({
  options: {
    mode: { type: 'string', default: 'two' },
    trials: { type: 'string', default: '40' },
    seed: { type: 'string', default: '1' },
    big: { type: 'string', default: String(1 << 20) },
  },
});
if (!['one', 'two'].includes(args.mode)) throw new Error(`--mode ${args.mode}: one or two`);
const random = rng(Number(args.seed));

const server = createServer((_, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html>'); });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

async function start(dir) {
  const { context, child, exited } = await spawnChromium(dir);
  const page = await context.newPage();
  await page.goto(url);
  return { exited, page, kill: () => child.killAll() };
}

const root = mkdtempSync(join(tmpdir(), 'plain-idb-'));
let deleted = 0;
for (let t = 0; t < Number(args.trials); t++) {
  const dir = join(root, `t${t}`);
  let b = await start(dir);
  await b.page.evaluate(({ mode, big }) => {
    const open = indexedDB.open('plain', 1);
    open.onupgradeneeded = () => { open.result.createObjectStore('a'); open.result.createObjectStore('b'); };
    open.onsuccess = () => {
      const db = open.result;
      const loop = async (store, bytes) => {
        for (let i = 0; ; i++) {
          const tx = db.transaction(store, 'readwrite', { durability: 'strict' });
          tx.objectStore(store).put(new Uint8Array(bytes).fill(i & 255), i);
          await new Promise((r) => { tx.oncomplete = r; });
        }
      };
      loop('a', 2048);
      if (mode === 'two') loop('b', big);
    };
  }, { mode: args.mode, big: Number(args.big) });
  await new Promise((r) => setTimeout(r, 300 + random() * 2500));
  b.kill();
  await b.exited;
  b = await start(dir);
  const loss = await b.page.evaluate(() => new Promise((resolve) => {
    const open = indexedDB.open('plain', 1);
    let lost = 'none';
    open.onupgradeneeded = (ev) => { lost = `${ev.dataLoss}: ${ev.dataLossMessage}`; };
    open.onsuccess = () => resolve(lost);
    open.onerror = () => resolve(`error: ${open.error}`);
  }));
  if (loss !== 'none') deleted++;
  console.log(`trial ${t}: ${loss === 'none' ? 'database kept' : `database deleted (${loss})`}`);
  b.kill();
  await b.exited;
  rmSync(dir, { recursive: true, force: true });
}
console.log(`plain IndexedDB, ${args.mode === 'one' ? 'one read-write transaction at a time' : 'two read-write transactions at once'}: Chromium deleted the database after ${deleted} of ${args.trials} whole-browser SIGKILLs`);
server.close();
rmSync(root, { recursive: true, force: true });
