// The demo's page: a question box, hybrid results with the matched words highlighted and the
// time of each stage, notes, and the memory budget. Everything heavy (the model, the indexes,
// IndexedDB) runs in the engine worker (engine.js); the page only renders.
const $ = (id) => document.getElementById(id);
const kb = (b) => (b >= 1024 * 1024 ? `${(b / 1024 / 1024).toFixed(1)} MB` : `${(b / 1024).toFixed(0)} KB`);
const ms = (x) => `${x.toFixed(1)} ms`;

const worker = new Worker(new URL('./engine.js', import.meta.url), { type: 'module' });
let seq = 0;
const waiting = new Map();
worker.onmessage = ({ data }) => {
  if (data.event === 'progress') return progress(data);
  if (data.event === 'note') return showNotes();
  const w = waiting.get(data.id);
  if (!w) return;
  waiting.delete(data.id);
  if (data.error) w.reject(Object.assign(new Error(data.error.message), { code: data.error.code }));
  else w.resolve(data.result);
};
// A worker that fails to load (or throws outside a call) leaves every call unanswered: say so.
worker.onerror = (e) => {
  status(`Error: the worker failed: ${e.message}`);
  document.body.dataset.ready = 'error';
};
function call(op, args) {
  const id = ++seq;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    worker.postMessage({ id, op, args });
  });
}

function status(text) {
  $('status').textContent = text;
}
const STAGES = { download: 'Downloading passages and embeddings', texts: 'Storing passages', text: 'Indexing words', vectors: 'Indexing vectors', checkpoint: 'Saving the index' };
function progress({ stage, done, total }) {
  $('progress').value = done / total;
  status(`First visit: ${STAGES[stage] ?? stage}… ${Math.round((100 * done) / total)}%`);
}

function showMemory(m) {
  const used = m.used;
  $('mem-total').textContent = `${kb(used)} of ${kb(m.budget)}`;
  $('mem-vectors').textContent = `${kb(m.vectorBytes)} (${m.size.toLocaleString()} vectors)`;
  $('mem-text').textContent = kb(m.textIndexBytes);
  const t = m.textCache;
  $('mem-cache').textContent = `${kb(t.bytes)} / ${kb(t.budget)}: ${t.resident} passages, ${t.hits} hits, ${t.misses} misses (${t.fromStore} read from IndexedDB), ${t.dropped} evicted`;
  const e = m.embedCache;
  const asked = e.hits + e.misses;
  $('mem-embed').textContent = `${kb(e.bytes)} / ${kb(e.budget)}: hit ratio ${asked ? ((100 * e.hits) / asked).toFixed(0) : 0}% (${e.hits} of ${asked}), ${e.spilled} spilled, ${e.reloads} reloaded`;
  $('mem-embed').dataset.hits = String(e.hits);
  $('mem-meter').value = used / m.budget;
}

/** Text with the ranges in `marks` wrapped in <mark> (DOM nodes, never HTML). */
function highlighted(text, marks) {
  const frag = document.createDocumentFragment();
  let at = 0;
  for (const [s, e] of marks) {
    if (s > at) frag.append(text.slice(at, s));
    const m = document.createElement('mark');
    m.textContent = text.slice(s, e);
    frag.append(m);
    at = e;
  }
  frag.append(text.slice(at));
  return frag;
}

let asked = 0;
/** Asks, renders and returns the answer with the page's round trip (`cycle`). */
async function ask(q, { cache = true } = {}) {
  const t = performance.now();
  const a = await call('ask', { q, k: 5, cache });
  const list = $('results');
  list.replaceChildren();
  for (const r of a.results) {
    const li = document.createElement('li');
    li.dataset.id = String(r.id);
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = r.score.toFixed(4);
    const body = document.createElement('span');
    body.append(highlighted(r.text, r.marks));
    li.append(score, r.note ? Object.assign(document.createElement('span'), { className: 'tag', textContent: 'note' }) : '', ' ', body);
    list.append(li);
  }
  a.cycle = performance.now() - t;
  const { embed, search, fetch, highlight } = a.timing;
  $('timing').textContent = `embed ${ms(embed)}${a.cached ? ' (cached)' : ''} · search ${ms(search)} · fetch text ${ms(fetch)} · highlight ${ms(highlight)} · round trip ${ms(a.cycle)}`;
  list.dataset.seq = String(++asked);
  showMemory(a.memory);
  return a;
}

async function showNotes() {
  const notes = await call('notes');
  const ul = $('notes');
  ul.replaceChildren(...notes.map((n) => Object.assign(document.createElement('li'), { textContent: n.text })));
  ul.dataset.count = String(notes.length);
}

async function main() {
  const t = performance.now();
  const info = await call('start', { baseUrl: new URL('.', location.href).href });
  const kind = { relaxed: 'relaxed SIMD', simd: 'SIMD (simd128)', scalar: 'scalar' }[info.flavour];
  $('runtime').textContent = `${kind} WebAssembly, model (${info.timings.threads} thread${info.timings.threads > 1 ? 's' : ''}) and index in a Web Worker`;
  $('runtime').dataset.flavour = info.flavour;
  $('progress').value = 1;
  $('status').dataset.source = info.source;
  const secs = (x) => `${(x / 1000).toFixed(1)} s`;
  status(`${info.n.toLocaleString()} passages, index ${info.source === 'built' ? `built in ${secs(info.timings.buildMs)}` : 'opened from IndexedDB'}; model loaded in ${secs(info.timings.modelLoadMs)}; ready in ${secs(performance.now() - t)}.${info.readOnly ? ' Another tab writes: notes added here are handed to it.' : ''}`);
  showMemory(info.memory);
  await showNotes();

  $('ask-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = $('q').value.trim();
    if (q) ask(q).catch((e) => { $('timing').textContent = `Error: ${e.code ?? ''} ${e.message}`; });
  });
  $('note-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const s = $('note').value.trim();
    if (!s) return;
    $('note-status').textContent = 'Adding…';
    try {
      const { id } = await call('addNote', { text: s });
      $('note').value = '';
      $('note-status').textContent = `Note ${id} saved.`;
      await showNotes();
      showMemory(await call('memory'));
    } catch (e) {
      $('note-status').textContent = `Error: ${e.code ?? ''} ${e.message}`;
    }
  });
  for (const id of ['q', 'ask', 'note', 'add-note']) $(id).disabled = false;
  // For the end-to-end test's benchmark mode: the same path as the form.
  window.elexDemo = { compare: (q, o) => call('compare', { q, ...o }), ask, info, pageStartToReadyMs: performance.now() };
  document.body.dataset.ready = 'true';
}

main().catch((e) => {
  status(`Error: ${e.code ? `${e.code}: ` : ''}${e.message}`);
  document.body.dataset.ready = 'error';
  console.error(e);
});
