// End-to-end test of the demo in headless Chromium (playwright-core, Debian's Chromium): the data
// script copies 50,000 docs-50k passages, their embeddings, the int8 all-MiniLM-L6-v2 model and
// onnxruntime-web's wasm into the demo, Vite builds it, a local server serves it. Checked:
// - first visit: the index is built in the worker with the progress bar, and persisted;
// - 20 questions written for docs-50k passages (demo/questions.json), typed into the page and
//   embedded there: each expected passage in the top 5, matched words highlighted, the time of
//   each stage shown;
// - a repeated question is answered from the embedding cache (the model is skipped);
// - a note added in one tab is found there, in a second tab (a read-only follower, which also
//   hands its own note to the writer), and after a reload, which opens from IndexedDB;
// - no request leaves the page's origin (every request is intercepted and checked).
// Screenshots go to www/test-artifacts/. With --bench it then asks --questions docs-50k queries
// and reports the query cycle's P50/P95 (embed + search + fetch), the model's load time, the
// first visit's and a reload's time to the first answer, and the page's long tasks
// (PerformanceObserver 'longtask'), as JSON in bench-results/demo/.
//
//   node www/test/demo-e2e.mjs [--bench] [--questions 200] [--out bench-results/demo]
import assert from 'node:assert/strict';
import test from 'node:test';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { serveDir, launchChromium } from './serve.mjs';
import { percentile } from '../bench/text/core.mjs';

const www = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(www, '..');
const data = resolve(process.env.ELEX_DATA || join(root, '..', 'shared', 'data', 'docs-50k'));
const { values: opts } = parseArgs({
  options: {
    bench: { type: 'boolean', default: false },
    questions: { type: 'string', default: '200' },
    out: { type: 'string', default: join(root, 'bench-results', 'demo') },
  },
});
const artifacts = join(www, 'test-artifacts');
mkdirSync(artifacts, { recursive: true });
const questions = JSON.parse(readFileSync(join(www, 'demo', 'questions.json'), 'utf8'));
const NOTE = 'The spare key for the bike shed is taped under the third drawer of the blue filing cabinet.';
const NOTE_Q = 'where is the spare key of the bike shed?';
const NOTE_B = 'Tuesday standup moved to the aquarium meeting room on the fourth floor.';
const NOTE_B_Q = 'which room is the standup meeting in now?';
const NOTE_C = 'Grandma\'s lemon cake needs three eggs, zest of two lemons and forty minutes at 180 degrees.';
const NOTE_C_Q = 'how long does the lemon cake bake?';

// Counts the page's long tasks from its first script on (the worker's are its own).
const LONGTASKS = () => {
  window.__longtasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, ms: e.duration });
  }).observe({ type: 'longtask', buffered: true });
};

let server;
let browser;
let context;
let tabA;
let tabB;
let asked = 0;
const outside = [];
const report = { firstVisit: {}, reload: {}, longTasks: {} };

async function ready(page) {
  await page.waitForSelector('body[data-ready]', { timeout: 600_000 });
  const state = await page.getAttribute('body', 'data-ready');
  assert.equal(state, 'true', await page.textContent('[data-testid=status]'));
}

/** Types `q`, submits, waits for the answer; the result ids, timing text and marks. */
async function askByTyping(page, q) {
  const before = Number((await page.getAttribute('[data-testid=results]', 'data-seq')) ?? 0);
  await page.fill('[data-testid=question]', '');
  await page.type('[data-testid=question]', q, { delay: 5 });
  await page.click('[data-testid=ask]');
  await page.waitForSelector(`[data-testid=results][data-seq="${before + 1}"]`, { timeout: 60_000 });
  return page.$eval('[data-testid=results]', (ol) => ({
    ids: [...ol.children].map((li) => Number(li.dataset.id)),
    marks: ol.querySelectorAll('mark').length,
    notes: ol.querySelectorAll('.tag').length,
    timing: document.querySelector('[data-testid=timing]').textContent,
  }));
}

/** Asks until `pred` holds for the answer (a follower catches up within moments). */
async function askUntil(page, q, pred, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    const a = await askByTyping(page, q);
    if (pred(a) || Date.now() > end) return a;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const longTasks = (page) => page.evaluate(() => window.__longtasks.slice());

test('the demo builds with its data, the model and the runtime copied in', () => {
  const run = (cmd, args) => execFileSync(cmd, args, { cwd: www, stdio: ['ignore', 'pipe', 'inherit'] }).toString();
  run('node', ['demo/scripts/make-data.mjs', '--data', data]);
  run(join(www, 'node_modules', '.bin', 'vite'), ['build', '--config', 'demo/vite.config.js', '--logLevel', 'warn']);
});

test('first visit: built in the worker with a progress bar, then persisted', async () => {
  server = await serveDir(join(www, 'dist', 'demo'), { isolate: true });
  const origin = new URL(server.url).origin;
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1100, height: 1300 } });
  await context.addInitScript(LONGTASKS);
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin !== origin) {
      outside.push(url);
      return route.abort();
    }
    return route.continue();
  });
  tabA = await context.newPage();
  tabA.on('console', (m) => console.log('tab A:', m.text()));
  const errors = [];
  tabA.on('pageerror', (e) => errors.push(String(e)));
  const t = Date.now();
  await tabA.goto(server.url);
  await ready(tabA);
  report.firstVisit.readyMs = Date.now() - t;
  assert.equal(await tabA.getAttribute('[data-testid=runtime]', 'data-flavour'), 'relaxed');
  assert.equal(await tabA.getAttribute('[data-testid=status]', 'data-source'), 'built');
  assert.equal(await tabA.$eval('[data-testid=progress]', (p) => p.value), 1);
  const first = await tabA.evaluate((q) => window.elexDemo.ask(q).then((a) => a.results.map((r) => r.id)), questions[0].q);
  report.firstVisit.toFirstAnswerMs = Date.now() - t;
  assert.ok(first.includes(questions[0].id));
  const info = await tabA.evaluate(() => window.elexDemo.info);
  report.firstVisit.buildMs = info.timings.buildMs;
  report.firstVisit.modelLoadMs = info.timings.modelLoadMs;
  report.longTasks.firstVisit = await longTasks(tabA);
  await tabA.screenshot({ path: join(artifacts, 'demo-first-visit.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

test('20 typed questions: each expected passage in the top 5, words highlighted, stages timed', async () => {
  const misses = [];
  for (const { q, id } of questions) {
    const a = await askByTyping(tabA, q);
    asked++;
    assert.equal(a.ids.length, 5);
    const rank = a.ids.indexOf(id);
    if (rank < 0) misses.push(`${q} (expected ${id}, got ${a.ids.join(', ')})`);
    assert.ok(a.marks > 0, `no highlighted word for "${q}"`);
    assert.match(a.timing, /embed [0-9.]+ ms.* · search [0-9.]+ ms · fetch text [0-9.]+ ms · highlight [0-9.]+ ms/);
  }
  await tabA.screenshot({ path: join(artifacts, 'demo-answer.png'), fullPage: true });
  // Each side alone on the same questions, for the report (hybrid is what the page asks).
  report.top5 = {};
  for (const mode of ['vector', 'text', 'rrf']) {
    let hits = 0;
    for (const { q, id } of questions) {
      const ids = await tabA.evaluate(([q, mode]) => window.elexDemo.compare(q, { mode, k: 5 }), [q, mode]);
      if (ids.includes(id)) hits++;
    }
    report.top5[mode === 'rrf' ? 'hybrid' : mode] = `${hits}/${questions.length}`;
  }
  assert.deepEqual(misses, [], `${misses.length} of ${questions.length} expected passages not in the top 5`);
});

test('a repeated question comes from the embedding cache, not the model', async () => {
  const hits = Number(await tabA.getAttribute('[data-testid=mem-embed]', 'data-hits'));
  const a = await askByTyping(tabA, questions[3].q);
  assert.match(a.timing, /\(cached\)/);
  assert.equal(Number(await tabA.getAttribute('[data-testid=mem-embed]', 'data-hits')), hits + 1);
  assert.match(await tabA.textContent('[data-testid=mem-embed]'), /hit ratio [1-9][0-9]*%/);
  assert.match(await tabA.textContent('[data-testid=mem-total]'), /of 72\.0 MB/);
});

test('a note is found at once, in a second tab, and the second tab\'s note reaches the writer', async () => {
  await tabA.fill('[data-testid=note]', NOTE);
  await tabA.click('[data-testid=add-note]');
  await tabA.waitForSelector('[data-testid=notes][data-count="1"]');
  const here = await askByTyping(tabA, NOTE_Q);
  assert.ok(here.ids[0] >= 1_000_000 && here.notes >= 1, `the note is not first: ${here.ids}`);
  const noteId = here.ids[0];

  tabB = await context.newPage();
  tabB.on('console', (m) => console.log('tab B:', m.text()));
  await tabB.goto(server.url);
  await ready(tabB);
  assert.equal(await tabB.getAttribute('[data-testid=status]', 'data-source'), 'indexeddb');
  assert.match(await tabB.textContent('[data-testid=status]'), /Another tab writes/);
  const there = await askByTyping(tabB, NOTE_Q);
  assert.equal(there.ids[0], noteId, 'the second tab finds the first tab\'s note');

  // A note typed in the read-only tab is handed to the writer and shows up in both.
  await tabB.fill('[data-testid=note]', NOTE_B);
  await tabB.click('[data-testid=add-note]');
  await tabB.waitForFunction(() => document.querySelector('[data-testid=notes]').dataset.count === '2' ||
    /Error/.test(document.querySelector('[data-testid=note-status]').textContent));
  assert.match(await tabB.textContent('[data-testid=note-status]'), /saved/);
  const inB = await askUntil(tabB, NOTE_B_Q, (a) => a.ids[0] >= 1_000_000);
  assert.ok(inB.ids[0] >= 1_000_000 && inB.ids[0] !== noteId, `tab B: ${inB.ids}`);
  const inA = await askUntil(tabA, NOTE_B_Q, (a) => a.ids[0] === inB.ids[0]);
  assert.equal(inA.ids[0], inB.ids[0], 'the writer tab finds the note the other tab added');
  await tabA.waitForSelector('[data-testid=notes][data-count="2"]');
  await tabB.screenshot({ path: join(artifacts, 'demo-second-tab.png'), fullPage: true });
  await tabB.close();
});

test('after a reload: opened from IndexedDB without rebuilding, the notes still found', async () => {
  // A note whose text was stored by a tab that died before indexing it (the page writes it
  // into the passage store directly): the writer indexes it when it opens.
  await tabA.evaluate(([id, note]) => new Promise((resolve, reject) => {
    const open = indexedDB.open('elex-demo-texts');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction('texts', 'readwrite');
      tx.objectStore('texts').put(note, id);
      tx.oncomplete = () => { open.result.close(); resolve(); };
      tx.onerror = () => reject(tx.error);
    };
  }), [1_000_002, NOTE_C]);
  const t = Date.now();
  await tabA.reload();
  await ready(tabA);
  report.reload.readyMs = Date.now() - t;
  // The first answer, asked the moment the page is ready (typing takes the test's time).
  await tabA.evaluate((q) => window.elexDemo.ask(q), questions[2].q);
  report.reload.toFirstAnswerMs = Date.now() - t;
  assert.equal(await tabA.getAttribute('[data-testid=status]', 'data-source'), 'indexeddb');
  const a = await askByTyping(tabA, NOTE_Q);
  assert.ok(a.ids[0] >= 1_000_000, `after the reload the note is not first: ${a.ids}`);
  const info = await tabA.evaluate(() => window.elexDemo.info);
  report.reload.modelLoadMs = info.timings.modelLoadMs;
  report.reload.openMs = info.timings.openMs;
  assert.equal(await tabA.getAttribute('[data-testid=notes]', 'data-count'), '3');
  const repaired = await askByTyping(tabA, NOTE_C_Q);
  assert.equal(repaired.ids[0], 1_000_002, 'the note left out of the indexes was indexed on open');
  const again = await askByTyping(tabA, questions[1].q);
  assert.ok(again.ids.includes(questions[1].id));
  report.longTasks.reload = await longTasks(tabA);
  await tabA.screenshot({ path: join(artifacts, 'demo-reloaded.png'), fullPage: true });
});

test('no request left the page\'s origin', () => {
  assert.deepEqual(outside, []);
});

test('benchmark mode: the query cycle over docs-50k queries', { skip: !opts.bench }, async () => {
  const n = Number(opts.questions);
  const qs = readFileSync(join(data, 'query.txt'), 'utf8').split('\n').filter(Boolean).slice(0, n);
  const before = (await longTasks(tabA)).length;
  const run = (qs, cache) => tabA.evaluate(async ([qs, cache]) => {
    const out = [];
    for (const q of qs) {
      const a = await window.elexDemo.ask(q, { cache });
      out.push({ ...a.timing, cycle: a.cycle, cached: a.cached });
    }
    return out;
  }, [qs, cache]);
  // docs-50k's queries (passages' length: 40 words on average), then the 20 short questions
  // asked 10 times each with the embedding cache bypassed.
  const summarize = (cycles) => {
    const fresh = cycles.filter((c) => !c.cached);
    const stat = (f) => ({ p50: percentile(fresh.map(f), 50), p95: percentile(fresh.map(f), 95) });
    return {
      queries: fresh.length,
      embed: stat((c) => c.embed),
      search: stat((c) => c.search),
      fetch: stat((c) => c.fetch),
      highlight: stat((c) => c.highlight),
      searchPlusFetch: stat((c) => c.search + c.fetch),
      cycle: stat((c) => c.embed + c.search + c.fetch),
      roundTrip: stat((c) => c.cycle),
    };
  };
  const long = await run(qs, true);
  const short = await run(Array.from({ length: 10 }, () => questions.map((x) => x.q)).flat(), false);
  report.docsQueries = summarize(long);
  report.shortQuestions = summarize(short);
  report.threads = (await tabA.evaluate(() => window.elexDemo.info)).timings.threads;
  const fresh = long.filter((c) => !c.cached);
  report.longTasks.search = (await longTasks(tabA)).slice(before);
  assert.equal(fresh.length, qs.length, 'the benchmark\'s queries are new to the embedding cache');
});

test.after(async () => {
  await browser?.close();
  server?.close();
  const summary = {
    ...report,
    longTasks: Object.fromEntries(Object.entries(report.longTasks).map(([k, v]) => [k, { count: v.length, over50: v.filter((x) => x.ms > 50).length, longestMs: Math.max(0, ...v.map((x) => x.ms)), at: v.map((x) => Math.round(x.start)) }])),
  };
  console.log(JSON.stringify(summary, null, 1));
  if (opts.bench) {
    mkdirSync(opts.out, { recursive: true });
    writeFileSync(join(opts.out, 'demo.json'), JSON.stringify({ date: new Date().toISOString(), ...summary }, null, 1));
    console.log(`wrote ${join(opts.out, 'demo.json')}`);
  }
  console.log(`screenshots: ${artifacts}`);
});
