// The IndexedDB adapter of elex-wasm: promise wrappers over the raw API, one transaction per
// call, errors mapped to stable codes. Works wherever `globalThis.indexedDB` exists (windows,
// workers, Node with fake-indexeddb).

// Schema 2 added the stores of persistent objects (durable.js): `meta` (manifests), `pages`
// (checkpoint pages) and `log` (op log records); schema 3 `rows` (the exact rows of budgeted
// indexes, rows.js). Every connection opens at least this version, so old databases are
// upgraded in place and no two parts of elex ask for different versions.
const STORES = ['snapshots', 'spill', 'meta', 'pages', 'log', 'rows'];
const SCHEMA = 3;

export function coded(code, message, cause) {
  const e = new Error(message);
  e.code = code;
  if (cause) e.cause = cause;
  return e;
}

export function mapError(err, what) {
  const name = err && err.name;
  const msg = `${what}: ${err && err.message ? err.message : String(err)}`;
  switch (name) {
    case 'QuotaExceededError': return coded('QUOTA_EXCEEDED', msg, err);
    case 'InvalidStateError': return coded('DB_CLOSED', msg, err);
    case 'VersionError': return coded('DB_VERSION', msg, err);
    case 'AbortError': return coded('ABORTED', msg, err);
    case 'DataCloneError': return coded('DATA_CLONE', msg, err);
    default: return coded('IDB_ERROR', msg, err);
  }
}

const dataLoss = new WeakMap();

/// What the browser reported losing when `db` was opened (see idbOpen), or undefined.
export function dataLossOf(db) {
  return dataLoss.get(db);
}

export function idbOpen(name, version) {
  version = Math.max(version || 1, SCHEMA);
  return new Promise((resolve, reject) => {
    const factory = globalThis.indexedDB;
    if (!factory) {
      reject(coded('NO_INDEXEDDB', 'IndexedDB is not available in this environment'));
      return;
    }
    let req;
    try {
      req = factory.open(name, version);
    } catch (e) {
      reject(mapError(e, `opening ${name}`));
      return;
    }
    req.onupgradeneeded = (ev) => {
      const db = req.result;
      // Chromium deletes a backing store it finds corrupt and says so here (dataLoss "total"):
      // remembered, so a persistent object can report the loss instead of starting empty.
      if (ev && ev.dataLoss && ev.dataLoss !== 'none') {
        dataLoss.set(db, `${ev.dataLoss}${ev.dataLossMessage ? `: ${ev.dataLossMessage}` : ''}`);
      }
      for (const s of STORES) if (!db.objectStoreNames.contains(s)) db.createObjectStore(s);
    };
    req.onsuccess = () => {
      const db = req.result;
      // Another tab upgrading the schema: step aside instead of blocking it.
      db.onversionchange = () => db.close();
      resolve(db);
    };
    req.onerror = () => reject(mapError(req.error, `opening ${name}`));
    req.onblocked = () =>
      reject(coded('DB_BLOCKED', `opening ${name}: blocked by another open connection`));
  });
}

/// Every read-write transaction also names `meta`, so the browser runs them one at a time per
/// database (IndexedDB serializes transactions whose scopes overlap). Chromium needs that to
/// survive a crash. Its read-write transactions reach the disk before they commit (LevelDB
/// "scopes" write the changes and an undo log at the first read after a write, which every
/// `put` makes), and at the next start it reverts each uncommitted one after taking that one's
/// locks. A damaged profile from the crash trials held two uncommitted at once (a checkpoint
/// page beside a log record, both locking the database); Chromium called it corrupt ("Unknown
/// corruption") and deleted every database of the origin. That followed 8 of 138 SIGKILLs of
/// the whole browser while elex let such transactions overlap; none of 205 since.
export function transaction(db, store, mode, options) {
  if (mode === 'readwrite' && db.objectStoreNames.contains('meta')) {
    const names = typeof store === 'string' ? [store] : [...store];
    if (!names.includes('meta')) store = [...names, 'meta'];
  }
  try {
    return db.transaction(store, mode, options);
  } catch (e) {
    throw mapError(e, `transaction on ${store}`);
  }
}

export function done(tx, what) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ? mapError(tx.error, what) : coded('ABORTED', `${what}: aborted`));
    tx.onerror = (ev) => ev.preventDefault();
  });
}

export async function idbGet(db, store, key) {
  const tx = transaction(db, store, 'readonly');
  return new Promise((resolve, reject) => {
    let req;
    try {
      req = tx.objectStore(store).get(key);
    } catch (e) {
      reject(mapError(e, `reading ${key}`));
      return;
    }
    req.onsuccess = () => resolve(req.result);
    req.onerror = (ev) => { ev.preventDefault(); reject(mapError(req.error, `reading ${key}`)); };
  });
}

const SLICE_MS = 8;
const clock = () => (globalThis.performance ? performance.now() : Date.now());

/// Issues `request(i)` for every `i` below `n` inside `tx`, in slices of SLICE_MS: a slice that
/// runs out of time hangs the next one on the success callback of its last request (a later
/// task, inside the same transaction). `last` runs after the final request is issued. The first
/// failure aborts the transaction; the result is the transaction's commit, rejected with that
/// failure (coded) if there was one.
export function issueInSlices(tx, finished, n, request, what, last) {
  let failure = null;
  let i = 0;
  const issue = () => {
    const t0 = clock();
    try {
      while (i < n) {
        const req = request(i++);
        if (i < n && clock() - t0 >= SLICE_MS) {
          req.addEventListener('success', issue, { once: true });
          return;
        }
      }
      if (last) last();
    } catch (e) {
      failure = mapError(e, what);
      try { tx.abort(); } catch (_) { /* already finished */ }
    }
  };
  issue();
  if (failure) return Promise.reject(failure);
  return finished.catch((e) => { throw failure ?? e; });
}

/// A spill batch in one transaction. `ops` is the cache's outbox in order: [key, record] for a
/// victim (record = {v: version, w: weight, d: data}) or [key, null, version] for "delete if the
/// stored version is at most `version`". Ops on one key collapse to the last one first (each
/// key holds one record), so a conditional delete never races a later write of the same key.
/// Requests are issued in slices (`issueInSlices`), so a burst of thousands of victims never
/// blocks the page in one long task.
export async function idbSpill(db, store, ops) {
  const last = new Map();
  for (const op of ops) last.set(op[0], op);
  const items = [...last.values()];
  const tx = transaction(db, store, 'readwrite');
  const finished = done(tx, `spilling ${items.length} entries`);
  const os = tx.objectStore(store);
  return issueInSlices(tx, finished, items.length, (i) => {
    const [key, record, version] = items[i];
    if (record) return os.put(record, key);
    const r = os.get(key);
    r.onsuccess = () => {
      if (r.result && r.result.v <= version) os.delete(key);
    };
    return r;
  }, 'spilling');
}

/// A large value written as records of at most `chunkBytes` in one transaction: `key` holds a
/// manifest `{ elexChunks: n, bytes }`, `key#0` .. `key#(n-1)` the pieces (pieces of an earlier,
/// longer value are deleted in the same transaction). Each piece is cloned on its own, and the
/// requests go out in slices (`issueInSlices`), so an 85 MB snapshot is no single 85 MB clone and
/// no long task, and the write still commits whole or not at all. `abort` (tests) aborts the
/// transaction after the writes were issued, as a closed tab would.
export async function idbPutChunked(db, store, key, bytes, chunkBytes, abort) {
  const n = Math.ceil(bytes.length / chunkBytes);
  const tx = transaction(db, store, 'readwrite');
  const finished = done(tx, `writing ${key}`);
  const os = tx.objectStore(store);
  try {
    os.delete(IDBKeyRange.bound(`${key}#`, `${key}#\uffff`));
    os.put({ elexChunks: n, bytes: bytes.length }, key);
  } catch (e) {
    try { tx.abort(); } catch (_) { /* already finished */ }
    throw mapError(e, `writing ${key}`);
  }
  return issueInSlices(
    tx,
    finished,
    n,
    (i) => os.put(bytes.slice(i * chunkBytes, Math.min(bytes.length, (i + 1) * chunkBytes)), `${key}#${i}`),
    `writing ${key}`,
    abort ? () => tx.abort() : null,
  );
}

/// Reads a value written by `idbPutChunked` (or a plain record: returned as it is; `undefined`
/// when there is none), in one transaction, a piece per task. A missing or wrong-sized piece is
/// a coded error (CORRUPT, TRUNCATED), never a half-read value.
export async function idbGetChunked(db, store, key) {
  const tx = transaction(db, store, 'readonly');
  const os = tx.objectStore(store);
  const get = (k) => new Promise((resolve, reject) => {
    let req;
    try {
      req = os.get(k);
    } catch (e) {
      reject(mapError(e, `reading ${k}`));
      return;
    }
    req.onsuccess = () => resolve(req.result);
    req.onerror = (ev) => { ev.preventDefault(); reject(mapError(req.error, `reading ${k}`)); };
  });
  const head = await get(key);
  if (!head || typeof head !== 'object' || typeof head.elexChunks !== 'number') return head;
  const { elexChunks: n, bytes: total } = head;
  if (!(Number.isInteger(n) && n >= 0 && Number.isInteger(total) && total >= 0)) {
    throw coded('CORRUPT', `the manifest under ${key} is damaged`);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const piece = await get(`${key}#${i}`);
    if (!(piece instanceof Uint8Array)) throw coded('CORRUPT', `piece ${i} of ${n} of ${key} is missing`);
    if (at + piece.length > total) throw coded('CORRUPT', `the pieces of ${key} hold more than its ${total} bytes`);
    out.set(piece, at);
    at += piece.length;
  }
  if (at !== total) throw coded('TRUNCATED', `the pieces of ${key} hold ${at} of its ${total} bytes`);
  return out;
}

/// Every key of a store with its record's version and weight (to rebuild the spilled-key index).
export async function idbIndex(db, store) {
  const tx = transaction(db, store, 'readonly');
  return new Promise((resolve, reject) => {
    const out = [];
    const req = tx.objectStore(store).openCursor();
    req.onsuccess = () => {
      const c = req.result;
      if (!c) { resolve(out); return; }
      if (c.value && typeof c.value.v === 'number') out.push([c.key, c.value.v, c.value.w]);
      c.continue();
    };
    req.onerror = (ev) => { ev.preventDefault(); reject(mapError(req.error, 'indexing')); };
  });
}

export function idbClose(db) {
  db.close();
}

/// Throws a coded DATA_CLONE error if IndexedDB could not store `value` (a function, a symbol,
/// a DOM node, ...): the structured clone IndexedDB uses is tried here, at `put`, so the
/// failure reaches the caller that made it instead of a later spill.
export function checkStorable(value) {
  const t = typeof value;
  if (t === 'string' || t === 'number' || t === 'boolean' || t === 'bigint' || value == null) return;
  if (value instanceof Uint8Array && !(value.buffer instanceof (globalThis.SharedArrayBuffer || Uint8Array))) return;
  if (t === 'function' || t === 'symbol') {
    throw coded('DATA_CLONE', `a ${t} cannot be stored in IndexedDB`);
  }
  if (typeof globalThis.structuredClone !== 'function') return;
  try {
    globalThis.structuredClone(value);
  } catch (e) {
    throw coded('DATA_CLONE', `the value cannot be stored in IndexedDB: ${e && e.message ? e.message : e}`, e);
  }
}
