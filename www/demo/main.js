// The demo: real passages (docs-50k) with their all-MiniLM-L6-v2 embeddings, an HNSW index built
// (or loaded from IndexedDB) and searched in a Web Worker through `elex/worker`, nearest-neighbour
// search on a picked passage, and an AdaptiveCache on the page holding passage texts under a small
// budget (spilling to IndexedDB).
import { init } from 'elex';
import { open } from 'elex/worker';

const $ = (id) => document.getElementById(id);
const DB = 'elex-demo';
const KEY = 'docs-index-v1';
const kb = (b) => `${(b / 1024).toFixed(0)} KB`;

function status(text) {
  $('status').textContent = text;
}

async function main() {
  const elex = await init();
  const worker = await open();
  $('runtime').textContent = `${worker.flavour === 'simd' ? 'SIMD (simd128)' : 'scalar'} WebAssembly build, index in a Web Worker`;
  $('runtime').dataset.flavour = worker.flavour;
  const meta = await (await fetch('./data/meta.json')).json();
  const [passages, vectors] = await Promise.all([
    fetch('./data/passages.json').then((r) => r.json()),
    fetch('./data/vectors.f32').then((r) => r.arrayBuffer()).then((b) => new Float32Array(b)),
  ]);
  const dims = meta.dims;

  let index;
  let source;
  try {
    index = await worker.HnswIndex.load(DB, KEY);
    source = 'loaded from IndexedDB';
    $('progress').value = 1;
  } catch (e) {
    if (e.code !== 'NOT_FOUND') console.warn('saved index unusable, rebuilding:', e.code, e.message);
    index = await worker.HnswIndex.create({ dims, metric: 'cosine', storage: 'f16', seed: 42 });
    const t = performance.now();
    await index.addBatch(
      Float64Array.from({ length: meta.n }, (_, i) => i),
      vectors,
      (done, total) => {
        $('progress').value = done / total;
        status(`Building the index: ${done.toLocaleString()} of ${total.toLocaleString()} passages…`);
      },
    );
    source = `built in ${((performance.now() - t) / 1000).toFixed(1)} s`;
    await index.save(DB, KEY);
  }
  $('status').dataset.source = source.startsWith('loaded') ? 'indexeddb' : 'built';
  const size = await index.size;
  status(`${size.toLocaleString()} passages, index ${source}.`);

  // Passage texts live in a byte-budgeted cache (512 KB) that spills to IndexedDB.
  const cache = await elex.AdaptiveCache.open({ budgetBytes: 512 * 1024, dbName: `${DB}-cache` });
  const text = async (id) => {
    let t = await cache.get(`p${id}`);
    if (t === undefined) {
      t = passages[id];
      await cache.put(`p${id}`, t);
    }
    return t;
  };
  const memory = async () => {
    const s = cache.stats();
    $('mem-index').textContent = kb(await index.memoryBytes());
    $('mem-cache').textContent = `${kb(cache.bytes)} / ${kb(cache.budget)} (${s.resident} passages)`;
    $('mem-spill').textContent = `${s.spilled} spilled, ${s.reloads} reloaded, ${s.dropped} dropped`;
    $('mem-meter').value = cache.bytes / cache.budget;
  };
  await memory();

  const show = async (id) => {
    const q = vectors.subarray(id * dims, (id + 1) * dims);
    const t = performance.now();
    const r = await index.search(q, 11, 64);
    const ms = performance.now() - t;
    $('timing').textContent = `(query ${ms.toFixed(2)} ms, in the worker)`;
    $('picked').textContent = await text(id);
    $('picked').classList.remove('muted');
    const list = $('results');
    list.replaceChildren();
    for (let i = 0; i < r.ids.length; i++) {
      if (r.ids[i] === id) continue;
      const li = document.createElement('li');
      li.dataset.id = String(r.ids[i]);
      const score = document.createElement('span');
      score.className = 'score';
      score.textContent = r.scores[i].toFixed(3);
      li.append(score, ' ', await text(r.ids[i]));
      list.append(li);
      if (list.children.length === 10) break;
    }
    list.dataset.for = String(id);
    await memory();
  };

  const input = $('q');
  input.disabled = false;
  input.addEventListener('input', () => {
    const needle = input.value.trim().toLowerCase();
    const ul = $('candidates');
    ul.replaceChildren();
    if (needle.length < 2) return;
    let shown = 0;
    for (let i = 0; i < passages.length && shown < 8; i++) {
      if (!passages[i].toLowerCase().includes(needle)) continue;
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.textContent = passages[i].length > 160 ? `${passages[i].slice(0, 160)}…` : passages[i];
      b.dataset.id = String(i);
      b.addEventListener('click', () => show(i));
      li.append(b);
      ul.append(li);
      shown++;
    }
  });
  document.body.dataset.ready = 'true';
}

main().catch((e) => {
  status(`Error: ${e.code ? `${e.code}: ` : ''}${e.message}`);
  document.body.dataset.ready = 'error';
  console.error(e);
});
