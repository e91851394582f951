// The exact rows of a budgeted index (`BudgetedIndex`) in IndexedDB: store `rows`, one record
// per row under the key [name, slot], the row's bytes as a Uint8Array of its own.
import { coded, done, idbOpen, issueInSlices, mapError, transaction } from './idb.js';

export function rowsOpen(dbName) {
  return idbOpen(dbName, 1);
}

/// Writes rows `first..first + n` (`bytes` holds n rows of `rowBytes`) in one transaction, the
/// requests issued in time slices; resolves once committed.
export function rowsPut(db, name, first, rowBytes, bytes) {
  const tx = transaction(db, 'rows', 'readwrite', { durability: 'strict' });
  const finished = done(tx, 'writing rows');
  const store = tx.objectStore('rows');
  const n = Math.floor(bytes.length / rowBytes);
  return issueInSlices(
    tx,
    finished,
    n,
    (i) => store.put(bytes.slice(i * rowBytes, (i + 1) * rowBytes), [name, first + i]),
    'writing rows',
  );
}

/// The rows of `slots` (a Uint32Array), back to back, read in one transaction. A row that is
/// missing or of another length is CORRUPT.
export function rowsGet(db, name, slots, rowBytes) {
  return new Promise((resolve, reject) => {
    const out = new Uint8Array(slots.length * rowBytes);
    if (slots.length === 0) {
      resolve(out);
      return;
    }
    let tx;
    try {
      tx = transaction(db, 'rows', 'readonly');
    } catch (e) {
      reject(e);
      return;
    }
    let failed = null;
    const store = tx.objectStore('rows');
    try {
      slots.forEach((slot, i) => {
        const req = store.get([name, slot]);
        req.onsuccess = () => {
          const v = req.result;
          if (!(v instanceof Uint8Array) || v.length !== rowBytes) {
            failed ??= coded('CORRUPT', `the row of slot ${slot} of "${name}" is missing or torn`);
            return;
          }
          out.set(v, i * rowBytes);
        };
        req.onerror = (ev) => {
          ev.preventDefault();
          failed ??= mapError(req.error, 'reading rows');
        };
      });
    } catch (e) {
      reject(mapError(e, 'reading rows'));
      return;
    }
    tx.oncomplete = () => (failed ? reject(failed) : resolve(out));
    tx.onabort = () => reject(failed ?? mapError(tx.error, 'reading rows'));
  });
}

/// The change log of a budgeted index: records in store `snapshots` under
/// `budgeted-log/<name>/<seq, 16 digits>` (the name escaped, so no name's range holds
/// another's). A record is durable once its promise resolves.
const logPrefix = (name) => `budgeted-log/${encodeURIComponent(name)}/`;
const logKey = (name, seq) => `${logPrefix(name)}${String(seq).padStart(16, '0')}`;

export function logAppend(db, name, seq, bytes) {
  let tx;
  try {
    tx = transaction(db, 'snapshots', 'readwrite', { durability: 'strict' });
  } catch (e) {
    return Promise.reject(e && e.code ? e : mapError(e, 'writing the log'));
  }
  const finished = done(tx, 'writing the log');
  try {
    tx.objectStore('snapshots').put(bytes, logKey(name, seq));
  } catch (e) {
    try { tx.abort(); } catch (_) { /* already finished */ }
    return Promise.reject(mapError(e, 'writing the log'));
  }
  return finished;
}

/// `logAppend` whose promise never rejects: it resolves to null, or to the error (for writes
/// nobody awaits at once: a rejection would be reported as unhandled).
export function logAppendQuiet(db, name, seq, bytes) {
  return logAppend(db, name, seq, bytes).then(() => null, (e) => e);
}

/// Every record of `name`'s log, oldest first: `[seq, Uint8Array][]`.
export function logRead(db, name) {
  return new Promise((resolve, reject) => {
    let keys, values;
    try {
      const store = transaction(db, 'snapshots', 'readonly').objectStore('snapshots');
      const range = IDBKeyRange.bound(logPrefix(name), `${logPrefix(name)}\uffff`);
      const k = store.getAllKeys(range);
      const v = store.getAll(range);
      k.onsuccess = () => { keys = k.result; };
      v.onsuccess = () => {
        values = v.result;
        const out = [];
        for (let i = 0; i < values.length; i++) {
          const seq = Number(keys[i].slice(logPrefix(name).length));
          if (!Number.isSafeInteger(seq) || !(values[i] instanceof Uint8Array)) {
            reject(coded('CORRUPT', `the log record ${keys[i]} is damaged`));
            return;
          }
          out.push([seq, values[i]]);
        }
        resolve(out);
      };
      k.onerror = v.onerror = (ev) => { ev.preventDefault(); reject(mapError(ev.target.error, 'reading the log')); };
    } catch (e) {
      reject(mapError(e, 'reading the log'));
    }
  });
}

/// Deletes `name`'s log records below `seq` (all of them for Infinity).
export function logTrim(db, name, seq) {
  let tx;
  try {
    tx = transaction(db, 'snapshots', 'readwrite');
  } catch (e) {
    return Promise.reject(e && e.code ? e : mapError(e, 'trimming the log'));
  }
  const finished = done(tx, 'trimming the log');
  try {
    const upper = Number.isFinite(seq) ? logKey(name, seq) : `${logPrefix(name)}\uffff`;
    tx.objectStore('snapshots').delete(IDBKeyRange.bound(logPrefix(name), upper, false, true));
  } catch (e) {
    try { tx.abort(); } catch (_) { /* already finished */ }
    return Promise.reject(mapError(e, 'trimming the log'));
  }
  return finished;
}

/// An exclusive Web Lock on one budgeted index while it is open (one writer of its log and
/// rows): resolves to the function that releases it, or rejects with BUSY when another tab or
/// worker holds it. Where there are no Web Locks (Node), a no-op.
export async function holdIndex(dbName, name) {
  const locks = globalThis.navigator && globalThis.navigator.locks;
  if (!locks) return () => {};
  let release;
  const held = new Promise((r) => { release = r; });
  const got = await new Promise((resolve, reject) => {
    locks.request(`elex-budgeted/${encodeURIComponent(dbName)}/${encodeURIComponent(name)}`, { ifAvailable: true }, (lock) => {
      resolve(lock !== null);
      return lock ? held : undefined;
    }).catch(reject);
  });
  if (!got) throw coded('BUSY', `the budgeted index "${name}" of "${dbName}" is open in another tab or worker: close it there first`);
  return () => release();
}

/// Where a budgeted index's exact rows live, with one interface for the binding:
/// `put(first, rowBytes, bytes)` (resolves once the rows are durable), `get(slots, rowBytes)`
/// (resolves to their bytes, back to back), `close()`.
///  - 'indexeddb' (the default): store `rows` of the index's database, anywhere;
///  - 'opfs': one file in the origin private file system, read and written through a
///    synchronous access handle: a few microseconds a row instead of an IndexedDB transaction,
///    but only in a dedicated worker (the handle holds the file: one open index per file).
export async function rowsPlace(db, dbName, name, kind) {
  if (kind !== 'opfs') {
    return {
      kind: 'indexeddb',
      put: (first, rowBytes, bytes) => rowsPut(db, name, first, rowBytes, bytes),
      get: (slots, rowBytes) => rowsGet(db, name, slots, rowBytes),
      close() {},
    };
  }
  const sync = typeof FileSystemFileHandle !== 'undefined' && 'createSyncAccessHandle' in FileSystemFileHandle.prototype;
  const worker = typeof WorkerGlobalScope !== 'undefined' && typeof window === 'undefined';
  if (!sync || !worker || !globalThis.navigator?.storage?.getDirectory) {
    throw coded('UNSUPPORTED', 'rowStore "opfs" needs a dedicated worker with the origin private file system (FileSystemSyncAccessHandle); use "indexeddb" here, or open the index in a worker');
  }
  let handle;
  try {
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('elex', { create: true });
    const file = await dir.getFileHandle(`${encodeURIComponent(dbName)}.${encodeURIComponent(name)}.rows`, { create: true });
    handle = await file.createSyncAccessHandle();
  } catch (e) {
    if (e && e.name === 'NoModificationAllowedError') {
      throw coded('BUSY', `the rows of "${name}" are open elsewhere (another worker or tab holds the file)`, e);
    }
    throw mapError(e, 'opening the rows file');
  }
  const fail = (e, what) => (e && e.code ? e : mapError(e, what));
  return {
    kind: 'opfs',
    async put(first, rowBytes, bytes) {
      try {
        const n = handle.write(bytes, { at: first * rowBytes });
        if (n !== bytes.length) throw coded('IO', `wrote ${n} of ${bytes.length} bytes of rows`);
        handle.flush();
      } catch (e) {
        throw fail(e, 'writing rows');
      }
    },
    async get(slots, rowBytes) {
      const out = new Uint8Array(slots.length * rowBytes);
      try {
        for (let i = 0; i < slots.length; i++) {
          const n = handle.read(out.subarray(i * rowBytes, (i + 1) * rowBytes), { at: slots[i] * rowBytes });
          if (n !== rowBytes) throw coded('CORRUPT', `the row of slot ${slots[i]} of "${name}" is missing or torn`);
        }
      } catch (e) {
        throw fail(e, 'reading rows');
      }
      return out;
    },
    close() {
      try { handle.close(); } catch (_) { /* already closed */ }
    },
  };
}

/// The chunks of a bundle source: a Response (its body), a ReadableStream of bytes, a
/// Uint8Array or an ArrayBuffer. `read()` resolves to the next Uint8Array, or null at the end.
export function bundleChunks(source) {
  if (typeof Response !== 'undefined' && source instanceof Response) {
    if (!source.ok) throw coded('IO', `importBundle: the response is HTTP ${source.status}`);
    if (!source.body) throw coded('INVALID_ARGUMENT', 'importBundle: the response has no body');
    source = source.body;
  }
  if (source instanceof ArrayBuffer) source = new Uint8Array(source);
  if (source instanceof Uint8Array) {
    let at = 0;
    const bytes = source;
    return {
      read: async () => {
        if (at >= bytes.length) return null;
        const c = bytes.subarray(at, at + (4 << 20));
        at += c.length;
        return c;
      },
    };
  }
  if (source && typeof source.getReader === 'function') {
    const r = source.getReader();
    return {
      read: async () => {
        let x;
        try {
          x = await r.read();
        } catch (e) {
          throw coded('IO', `importBundle: the stream failed: ${e && e.message}`, e);
        }
        if (x.done) return null;
        if (!(x.value instanceof Uint8Array)) throw coded('INVALID_ARGUMENT', 'importBundle: the stream gave something other than bytes');
        return x.value;
      },
    };
  }
  throw coded('INVALID_ARGUMENT', 'importBundle: the source must be a Response, a ReadableStream, a Uint8Array or an ArrayBuffer');
}

/// Whether a record exists under `key` in `store`.
export function rowsHas(db, store, key) {
  return new Promise((resolve, reject) => {
    let req;
    try {
      req = transaction(db, store, 'readonly').objectStore(store).count(key);
    } catch (e) {
      reject(mapError(e, `reading ${key}`));
      return;
    }
    req.onsuccess = () => resolve(req.result > 0);
    req.onerror = (ev) => { ev.preventDefault(); reject(mapError(req.error, `reading ${key}`)); };
  });
}

/// Piece `i` of a record saved in pieces (the layout `idbPutChunked` writes), in a transaction
/// of its own.
export function putPiece(db, store, key, i, bytes) {
  const tx = transaction(db, store, 'readwrite');
  const finished = done(tx, `writing ${key}#${i}`);
  try {
    tx.objectStore(store).put(bytes, `${key}#${i}`);
  } catch (e) {
    try { tx.abort(); } catch (_) { /* already finished */ }
    return Promise.reject(mapError(e, `writing ${key}#${i}`));
  }
  return finished;
}

/// The record that names `n` pieces of `total` bytes: written last, it makes them a record.
export function putManifest(db, store, key, n, total) {
  const tx = transaction(db, store, 'readwrite', { durability: 'strict' });
  const finished = done(tx, `writing ${key}`);
  try {
    tx.objectStore(store).put({ elexChunks: n, bytes: total }, key);
  } catch (e) {
    try { tx.abort(); } catch (_) { /* already finished */ }
    return Promise.reject(mapError(e, `writing ${key}`));
  }
  return finished;
}
