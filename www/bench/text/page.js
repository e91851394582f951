// The Chromium side of the text benchmark: the same core.mjs on data the driver serves
// (data/passages.json, data/base.f32, data/qvecs.f32, data/items.json, data/exact.json).
import { init } from 'elex';
import MiniSearch from 'minisearch';
import * as orama from '@orama/orama';
import { runTextBench } from './core.mjs';

let tasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) tasks.push(e.duration);
}).observe({ type: 'longtask', buffered: true });
const longTasks = {
  reset() { tasks = []; },
  async read() {
    await new Promise((r) => setTimeout(r, 100)); // let the observer deliver
    return { longestMs: tasks.length ? Math.max(...tasks) : 0, over50: tasks.length };
  },
};

const logEl = document.getElementById('log');
const log = (m) => { logEl.textContent += `\n${m}`; console.log(m); };
const p = new URLSearchParams(location.search);
const json = async (path) => (await fetch(path)).json();
const f32 = async (path) => new Float32Array(await (await fetch(path)).arrayBuffer());
try {
  const elex = await init();
  const [passages, vectors, qvecs, items, exact] = await Promise.all([
    json('data/passages.json'), f32('data/base.f32'), f32('data/qvecs.f32'), json('data/items.json'), json('data/exact.json'),
  ]);
  const heapUsed = () => {
    if (window.gc) window.gc();
    return performance.memory ? performance.memory.usedJSHeapSize : NaN;
  };
  log(`Chromium, elex ${elex.flavour}`);
  window.__bench = await runTextBench({
    elex, MiniSearch, orama, passages, vectors, dims: Number(p.get('dims')), items, qvecs, exact,
    rounds: Number(p.get('rounds')), heapUsed, log, longTasks,
  });
} catch (e) {
  log(String(e.stack ?? e));
  window.__bench = { error: String(e.stack ?? e) };
}
