// The demo's engine, in a module Web Worker: the embedding model (transformers.js over
// onnxruntime-web's plain wasm build, every file served by the demo itself), the persistent
// vector and text indexes (`HnswIndex.open`, `TextIndex.open`), the passage store (IndexedDB),
// a byte-budgeted cache of passage texts and a cache of embeddings keyed by a hash of the text.
// The page sends { id, op, args } and gets { id, result } or { id, error }; progress and news
// come as { event, ... }.
import * as ort from 'onnxruntime-web/wasm';
import { init } from 'elex';

const DB = 'elex-demo';
const TEXTS_DB = 'elex-demo-texts';
const NOTE_BASE = 1_000_000; // notes get ids from here on; passages are 0..n-1
const MB = 1024 * 1024;
const EMBED_BUDGET = 2 * MB;
const NOTES = new BroadcastChannel('elex-demo-notes'); // the writer's notes, for the other tabs
const RPC = new BroadcastChannel('elex-demo-rpc'); // notes a read-only tab forwards to the writer

let elex;
let vectors; // HnswIndex (persistent)
let text; // TextIndex (persistent)
let textCache; // AdaptiveCache: passage texts under what the budget leaves
let embedCache; // AdaptiveCache: embeddings by content hash, spilling to IndexedDB
let extractor; // the transformers.js pipeline
let store; // IndexedDB: passage and note texts
let budgetBytes = 72 * MB;
let base; // the page's folder: data/, models/ and ort/ are under it
const counts = { embedHits: 0, embedMisses: 0, textFromStore: 0 };
const timings = {};

const emit = (event, data) => postMessage({ event, ...data });

// --- IndexedDB: the passage store ---------------------------------------------------------
function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}
function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
  });
}
async function openStore() {
  const open = indexedDB.open(TEXTS_DB, 1);
  open.onupgradeneeded = () => {
    open.result.createObjectStore('texts');
    open.result.createObjectStore('meta');
  };
  return req(open);
}
const getMeta = (key) => req(store.transaction('meta').objectStore('meta').get(key));
async function putTexts(first, list) {
  const tx = store.transaction(['texts'], 'readwrite', { durability: 'relaxed' });
  const os = tx.objectStore('texts');
  for (let i = 0; i < list.length; i++) os.put(list[i], first + i);
  await done(tx);
}

// --- the model ----------------------------------------------------------------------------
async function loadModel() {
  const t = performance.now();
  // Paths on the page's origin (transformers.js wants a path, not a URL, for local models).
  const ortPath = new URL('ort/', base).pathname;
  ort.env.wasm.wasmPaths = ortPath;
  // Threads where the page is cross-origin isolated (SharedArrayBuffer), one otherwise.
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  globalThis[Symbol.for('onnxruntime')] = ort;
  const { pipeline, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = new URL('models/', base).pathname;
  env.backends.onnx.wasm.wasmPaths = ortPath;
  extractor = await pipeline('feature-extraction', 'all-MiniLM-L6-v2', {
    dtype: 'q8',
    device: 'auto',
    session_options: { executionProviders: ['wasm'] },
  });
  timings.modelLoadMs = performance.now() - t;
  timings.threads = ort.env.wasm.numThreads;
}

async function hashOf(s) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)));
  let hex = '';
  for (const b of d) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/** The embedding of `s`, from the cache when the same text was embedded before. */
async function embed(s, { useCache = true, count = true } = {}) {
  const key = `e:${await hashOf(s)}`;
  const hit = useCache ? await embedCache.get(key) : undefined;
  if (hit !== undefined) {
    if (count) counts.embedHits++;
    return { vector: hit, cached: true };
  }
  const out = await extractor(s, { pooling: 'mean', normalize: true });
  const vector = new Float32Array(out.data);
  if (useCache) {
    if (count) counts.embedMisses++;
    await embedCache.put(key, vector, vector.byteLength + key.length);
  }
  return { vector, cached: false };
}

// --- opening and the first visit's build ---------------------------------------------------
async function build(meta) {
  const started = performance.now();
  const n = meta.n;
  emit('progress', { stage: 'download', done: 0, total: 1 });
  const [passages, vecs] = await Promise.all([
    fetch(new URL('data/passages.json', base)).then((r) => r.json()),
    fetch(new URL('data/vectors.f32', base)).then((r) => r.arrayBuffer()).then((b) => new Float32Array(b)),
  ]);
  if (passages.length !== n || vecs.length !== n * meta.dims) throw new Error('demo data does not match meta.json');
  // Weights of the stages in the progress bar.
  const share = { texts: 0.05, text: 0.1, vectors: 0.85 };
  const report = (stage, base, part, d, total) =>
    emit('progress', { stage, done: base + part * (d / total), total: 1 });

  const CHUNK = 5000;
  if ((await getMeta('textsStored')) !== n) {
    for (let i = 0; i < n; i += CHUNK) {
      await putTexts(i, passages.slice(i, i + CHUNK));
      report('texts', 0, share.texts, Math.min(n, i + CHUNK), n);
    }
    const tx = store.transaction('meta', 'readwrite');
    tx.objectStore('meta').put(n, 'textsStored');
    await done(tx);
  }
  // Each chunk is one durable batch: a reload in the middle resumes where it stopped.
  for (let i = text.size; i < n; i += CHUNK) {
    const end = Math.min(n, i + CHUNK);
    const ids = Float64Array.from({ length: end - i }, (_, j) => i + j);
    await text.addBatch(ids, passages.slice(i, end), (d) =>
      report('text', share.texts, share.text, i + d, n));
  }
  for (let i = vectors.size; i < n; i += CHUNK) {
    const end = Math.min(n, i + CHUNK);
    const ids = Float64Array.from({ length: end - i }, (_, j) => i + j);
    await vectors.addBatch(ids, vecs.subarray(i * meta.dims, end * meta.dims), (d) =>
      report('vectors', share.texts + share.text, share.vectors, i + d, n));
  }
  emit('progress', { stage: 'checkpoint', done: 1, total: 1 });
  await Promise.all([text.checkpoint(), vectors.checkpoint()]);
  const tx = store.transaction('meta', 'readwrite');
  tx.objectStore('meta').put(n, 'built');
  await done(tx);
  timings.buildMs = performance.now() - started;
}

async function start({ budget, baseUrl }) {
  const t = performance.now();
  if (budget !== undefined) budgetBytes = budget;
  base = new URL(baseUrl);
  elex = await init();
  store = await openStore();
  const meta = await (await fetch(new URL('data/meta.json', base))).json();
  const modelLoading = loadModel();
  // Notes are few: the app checkpoints them itself (below), not after every chunk of the build.
  vectors = await elex.HnswIndex.open({
    dbName: DB, name: 'passages-vectors', dims: meta.dims, metric: 'cosine', storage: 'i8',
    m: 16, efConstruction: 100, efSearch: 64, seed: 42, checkpointShare: Infinity,
  });
  text = await elex.TextIndex.open({
    dbName: DB, name: 'passages-text', stem: true, stopWords: true, checkpointShare: Infinity,
  });
  let source = 'indexeddb';
  if ((await getMeta('built')) !== meta.n) {
    if (vectors.readOnly) throw Object.assign(new Error('another tab is building the index; reload when it is done'), { code: 'BUSY' });
    source = 'built';
    await build(meta);
  }
  timings.openMs = performance.now() - t;
  embedCache = await elex.AdaptiveCache.open({ budgetBytes: EMBED_BUDGET, dbName: `${DB}-embeddings` });
  if (!vectors.readOnly) {
    await modelLoading;
    await repairNotes();
  }
  // The passage texts get what the budget leaves after the indexes and the embedding cache
  // (1 MB kept for notes), at least 1 MB.
  const textBudget = Math.max(MB, budgetBytes - indexBytes() - EMBED_BUDGET - MB);
  textCache = new elex.AdaptiveCache({ budgetBytes: textBudget });
  await modelLoading;
  timings.readyMs = performance.now() - t;
  return { source, n: meta.n, flavour: elex.flavour, readOnly: vectors.readOnly, timings, memory: memory() };
}

const indexBytes = () => vectors.memoryBytes() + text.memoryBytes();

function memory() {
  const ts = textCache.stats();
  const es = embedCache.stats();
  return {
    budget: budgetBytes,
    vectorBytes: vectors.memoryBytes(),
    textIndexBytes: text.memoryBytes(),
    textCache: { bytes: textCache.bytes, budget: textCache.budget, resident: ts.resident, hits: ts.hits, misses: ts.misses, dropped: ts.dropped, fromStore: counts.textFromStore },
    embedCache: { bytes: embedCache.bytes, budget: embedCache.budget, resident: es.resident, spilled: es.spilled, reloads: es.reloads, hits: counts.embedHits, misses: counts.embedMisses },
    used: indexBytes() + textCache.bytes + embedCache.bytes,
    size: vectors.size,
    readOnly: vectors.readOnly,
  };
}

// --- asking ---------------------------------------------------------------------------------
/** The texts of `ids`: from the cache, the rest from the passage store in one transaction. */
async function passages(ids) {
  const out = new Array(ids.length);
  const missing = [];
  for (let i = 0; i < ids.length; i++) {
    out[i] = await textCache.get(`t:${ids[i]}`);
    if (out[i] === undefined) missing.push(i);
  }
  if (missing.length > 0) {
    counts.textFromStore += missing.length;
    const os = store.transaction('texts').objectStore('texts');
    const got = await Promise.all(missing.map((i) => req(os.get(ids[i]))));
    for (let j = 0; j < missing.length; j++) {
      const i = missing[j];
      out[i] = got[j] ?? '';
      const key = `t:${ids[i]}`;
      await textCache.put(key, out[i], 2 * out[i].length + key.length);
    }
  }
  return out;
}

// What the text index makes of a word (its terms), remembered for the words seen recently.
const wordTerms = new Map();
function termsOf(word) {
  let t = wordTerms.get(word);
  if (t === undefined) {
    if (wordTerms.size >= 20_000) wordTerms.clear();
    t = text.terms(word);
    wordTerms.set(word, t);
  }
  return t;
}

/** [start, end) ranges of the words in `s` that make one of the query's terms. */
function marks(s, terms) {
  const out = [];
  for (const m of s.matchAll(/[\p{L}\p{N}_]+/gu)) {
    if (termsOf(m[0]).some((t) => terms.has(t))) out.push([m.index, m.index + m[0].length]);
  }
  return out;
}

/** `cache: false` embeds even a text seen before (the benchmark's repeated questions). */
async function ask({ q, k = 5, cache = true }) {
  if (typeof q !== 'string' || q.trim() === '') throw Object.assign(new Error('type a question'), { code: 'INVALID_ARGUMENT' });
  const t0 = performance.now();
  const { vector, cached } = await embed(q, { useCache: cache });
  const t1 = performance.now();
  const r = elex.hybridSearch(vectors, text, { vector, text: q, k });
  const ids = Array.from(r.ids);
  const scores = Array.from(r.scores);
  const t2 = performance.now();
  const texts = await passages(ids);
  const t3 = performance.now();
  const terms = new Set(text.terms(q));
  const results = [];
  for (let i = 0; i < ids.length; i++) {
    const s = texts[i];
    results.push({ id: ids[i], score: scores[i], text: s, marks: marks(s, terms), note: ids[i] >= NOTE_BASE });
  }
  const t4 = performance.now();
  return { results, cached, timing: { embed: t1 - t0, search: t2 - t1, fetch: t3 - t2, highlight: t4 - t3 }, memory: memory() };
}

// --- notes ------------------------------------------------------------------------------------
async function notes() {
  const range = IDBKeyRange.lowerBound(NOTE_BASE);
  const tx = store.transaction('texts');
  const [keys, values] = await Promise.all([
    req(tx.objectStore('texts').getAllKeys(range)),
    req(tx.objectStore('texts').getAll(range)),
  ]);
  return keys.map((id, i) => ({ id, text: values[i] }));
}

const NOTE_MAX = 4000; // characters

// Notes are added one at a time (a note of this tab and one handed over by another tab would
// otherwise take the same id).
let noteQueue = Promise.resolve();
function addNoteHere(s) {
  const added = noteQueue.then(() => addNoteNow(s));
  noteQueue = added.catch(() => {});
  return added;
}

async function addNoteNow(s) {
  const last = await req(store.transaction('texts').objectStore('texts').openKeyCursor(IDBKeyRange.lowerBound(NOTE_BASE), 'prev'));
  const id = last ? last.key + 1 : NOTE_BASE;
  const { vector } = await embed(s);
  // The text first: a tab that sees the id in an index finds its text.
  const tx = store.transaction('texts', 'readwrite');
  tx.objectStore('texts').put(s, id);
  await done(tx);
  await indexNote(id, s, vector);
  // The app's own checkpoint policy (the indexes were opened with checkpointShare Infinity).
  for (const ix of [vectors, text]) {
    const st = ix.storageStats();
    if (st.logBytes > Math.max(MB, st.snapshotBytes / 2)) await ix.checkpoint();
  }
  NOTES.postMessage({ id }); // the other tabs
  emit('note', { id }); // this one (a note handed over by another tab lands here too)
  return { id };
}

/** Adds a stored note to whichever index lacks it, and makes that durable. */
async function indexNote(id, s, vector) {
  if (!vectors.has(id)) vectors.add(id, vector ?? (await embed(s)).vector);
  if (!text.has(id)) text.add(id, s);
  await Promise.all([vectors.flush(), text.flush()]);
}

/** A note whose text was stored but which a closed or crashed tab left out of an index. */
async function repairNotes() {
  for (const { id, text: s } of await notes()) {
    if (!vectors.has(id) || !text.has(id)) await indexNote(id, s);
  }
}

let rpcSeq = 0;
const rpcWaiting = new Map();
async function addNote({ text: s }) {
  if (typeof s !== 'string' || s.trim() === '') throw Object.assign(new Error('write something first'), { code: 'INVALID_ARGUMENT' });
  if (s.length > NOTE_MAX) throw Object.assign(new Error(`a note holds at most ${NOTE_MAX} characters, not ${s.length}`), { code: 'INVALID_ARGUMENT' });
  if (!vectors.readOnly) return addNoteHere(s.trim());
  // Another tab writes: hand the note to it and wait for its answer.
  const reqId = `${Math.random().toString(36).slice(2)}-${++rpcSeq}`;
  const answer = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      rpcWaiting.delete(reqId);
      reject(Object.assign(new Error('the writing tab did not answer'), { code: 'TIMEOUT' }));
    }, 15_000);
    rpcWaiting.set(reqId, { resolve, reject, timer });
  });
  RPC.postMessage({ kind: 'add', reqId, text: s.trim() });
  return answer;
}
RPC.onmessage = async ({ data }) => {
  if (data.kind === 'add') {
    if (!vectors || vectors.readOnly) return;
    try {
      RPC.postMessage({ kind: 'added', reqId: data.reqId, result: await addNoteHere(data.text) });
    } catch (e) {
      RPC.postMessage({ kind: 'added', reqId: data.reqId, error: { message: e.message, code: e.code } });
    }
  } else if (data.kind === 'added' && rpcWaiting.has(data.reqId)) {
    const w = rpcWaiting.get(data.reqId);
    rpcWaiting.delete(data.reqId);
    clearTimeout(w.timer);
    if (data.error) w.reject(Object.assign(new Error(data.error.message), { code: data.error.code }));
    else w.resolve(data.result);
  }
};
NOTES.onmessage = ({ data }) => emit('note', { id: data.id });

/** One side alone or another fusion, for the test's comparison of hybrid with each side. */
async function compare({ q, mode = 'rrf', alpha = 0.5, k = 10, depth }) {
  const { vector } = await embed(q, { count: false });
  const query = { k, depth };
  if (mode !== 'text') query.vector = vector;
  if (mode !== 'vector') query.text = q;
  if (mode === 'alpha') query.fusion = { alpha };
  const r = elex.hybridSearch(vectors, text, query);
  return Array.from(r.ids);
}

const OPS = { compare, start, ask, addNote, notes, memory: async () => memory() };
onmessage = async ({ data }) => {
  const { id, op, args } = data;
  try {
    if (!(op in OPS)) throw new Error(`unknown op ${op}`);
    postMessage({ id, result: await OPS[op](args) });
  } catch (e) {
    postMessage({ id, error: { message: String(e?.message ?? e), code: e?.code } });
  }
};
