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
