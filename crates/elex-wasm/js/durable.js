// The IndexedDB side of elex's persistent objects (HnswIndex.open): where the bytes framed by
// the core crate `elex-store` are kept, one writer per object across tabs, and the news that
// followers need. The format, checksums and recovery decisions live in Rust; this file only
// stores, fetches, locks and broadcasts.
//
// Layout in database `dbName` (schema 2, see idb.js), for object `name`:
//   meta  [name]             the manifest (current checkpoint generation, log start)
//   pages [name, gen, i]     page i of checkpoint generation gen
//   log   [name, seq]        op log record seq
//
// One writer: the tab (or worker) holding the Web Lock `elex:<dbName>/<name>`. The others are
// followers: they queue for the lock and, meanwhile, replay what the writer commits (it posts
// `{ seq }` after each log commit and `{ gen }` after each checkpoint on a BroadcastChannel of
// the same name). Without the Locks API (Node) every opener is a writer.

import { idbOpen, transaction, done, mapError, dataLossOf } from './idb.js';

const keyRange = (lo, hi) => IDBKeyRange.bound(lo, hi);

function request(store, method, ...args) {
  return new Promise((resolve, reject) => {
    let req;
    try {
      req = store[method](...args);
    } catch (e) {
      reject(mapError(e, `${method} on ${store.name}`));
      return;
    }
    req.onsuccess = () => resolve(req.result);
    req.onerror = (ev) => { ev.preventDefault(); reject(mapError(req.error, `${method} on ${store.name}`)); };
  });
}

export class DurableStore {
  /// Opens `dbName`, and tries to become the writer of `name` (without waiting). `onNews(msg)`
  /// is called with the writer's messages while this one follows; `onWriter()` when this one
  /// becomes the writer after waiting for the lock.
  static async open(dbName, name, durability, onNews, onWriter) {
    const db = await idbOpen(dbName, 2);
    const s = new DurableStore(db, dbName, name, durability);
    s.dataLoss = dataLossOf(db) || null;
    await s.lock(onWriter);
    if (typeof BroadcastChannel === 'function') {
      s.channel = new BroadcastChannel(s.lockName);
      s.channel.onmessage = (ev) => { if (!s.writer && !s.closed) onNews(ev.data); };
    }
    return s;
  }

  constructor(db, dbName, name, durability) {
    this.db = db;
    this.dbName = dbName;
    this.name = name;
    this.lockName = `elex:${dbName}/${name}`;
    this.options = { durability };
    this.writer = false;
    this.closed = false;
    this.tail = Promise.resolve();
    this.failure = null;
    this.release = null;
    this.abort = null;
    this.channel = null;
  }

  async lock(onWriter) {
    const locks = globalThis.navigator && globalThis.navigator.locks;
    if (!locks) {
      this.writer = true;
      return;
    }
    const held = (lock) => new Promise((resolve) => { this.release = resolve; }).then(() => lock);
    let got = false;
    await new Promise((resolve, reject) => {
      locks.request(this.lockName, { ifAvailable: true }, (lock) => {
        if (!lock) { resolve(); return null; }
        got = true;
        resolve();
        return held(lock);
      }).catch(reject);
    });
    this.writer = got;
    if (got) return;
    // Follow, and queue for the lock: when the writer closes (or its tab does), this one
    // takes over.
    this.abort = typeof AbortController === 'function' ? new AbortController() : null;
    locks.request(this.lockName, this.abort ? { signal: this.abort.signal } : {}, (lock) => {
      if (this.closed) return null;
      this.writer = true;
      onWriter();
      return held(lock);
    }).catch(() => { /* aborted by close() */ });
  }

  async readManifest() {
    const tx = transaction(this.db, 'meta', 'readonly');
    return request(tx.objectStore('meta'), 'get', this.name);
  }

  /// Pages 0..count of generation `gen`, requested together in one transaction (IndexedDB
  /// pipelines them), in order; a missing page is `undefined`.
  async readPages(gen, count) {
    const tx = transaction(this.db, 'pages', 'readonly');
    const os = tx.objectStore('pages');
    const out = [];
    for (let i = 0; i < count; i++) out.push(request(os, 'get', [this.name, gen, i]));
    return Promise.all(out);
  }

  /// The log records from `from` on, in order: `[seqs, records]`.
  async readLog(from) {
    const tx = transaction(this.db, 'log', 'readonly');
    const os = tx.objectStore('log');
    const range = keyRange([this.name, from], [this.name, Infinity]);
    const [keys, values] = await Promise.all([
      request(os, 'getAllKeys', range),
      request(os, 'getAll', range),
    ]);
    return [keys.map((k) => k[1]), values];
  }

  /// Appends log record `seq` in a transaction of its own, issued now (IndexedDB runs
  /// read-write transactions on one store in the order they were created). The first failure
  /// sticks: every later flush rejects with it.
  append(seq, bytes) {
    const p = (async () => {
      const tx = transaction(this.db, 'log', 'readwrite', this.options);
      const finished = done(tx, `appending log record ${seq}`);
      tx.objectStore('log').put(bytes, [this.name, seq]);
      await finished;
    })();
    const tail = this.tail;
    this.tail = Promise.all([tail, p]).then(() => {
      if (this.channel) this.channel.postMessage({ seq: seq + 1 });
    });
    this.tail.catch((e) => { if (!this.failure) this.failure = e; });
    return this.tail;
  }

  /// Resolves when every record appended so far is committed.
  async flushed() {
    await this.tail.catch(() => {});
    if (this.failure) throw this.failure;
  }

  async putPage(gen, i, bytes) {
    const tx = transaction(this.db, 'pages', 'readwrite', this.options);
    const finished = done(tx, `writing page ${i} of checkpoint ${gen}`);
    tx.objectStore('pages').put(bytes, [this.name, gen, i]);
    await finished;
  }

  /// The checkpoint's switch, in one transaction: the manifest now names generation `gen`;
  /// every other generation's pages and the log records below `logStart` go.
  async switchTo(manifest, gen, logStart) {
    const tx = transaction(this.db, ['meta', 'pages', 'log'], 'readwrite', this.options);
    const finished = done(tx, `switching to checkpoint ${gen}`);
    try {
      tx.objectStore('meta').put(manifest, this.name);
      const pages = tx.objectStore('pages');
      pages.delete(keyRange([this.name, -Infinity], [this.name, gen - 1, Infinity]));
      pages.delete(keyRange([this.name, gen + 1], [this.name, Infinity]));
      if (logStart > 0) tx.objectStore('log').delete(keyRange([this.name, -Infinity], [this.name, logStart - 1]));
    } catch (e) {
      try { tx.abort(); } catch (_) { /* finished */ }
      throw mapError(e, `switching to checkpoint ${gen}`);
    }
    await finished;
    if (this.channel) this.channel.postMessage({ gen });
  }

  /// Deletes the log records from `from` on (after a recovery dropped them).
  async truncateLog(from) {
    const tx = transaction(this.db, 'log', 'readwrite', this.options);
    const finished = done(tx, 'truncating the log');
    tx.objectStore('log').delete(keyRange([this.name, from], [this.name, Infinity]));
    await finished;
  }

  /// Deletes every record of this object (used by `HnswIndex.destroy`).
  async destroy() {
    const tx = transaction(this.db, ['meta', 'pages', 'log'], 'readwrite', this.options);
    const finished = done(tx, `deleting ${this.name}`);
    tx.objectStore('meta').delete(this.name);
    tx.objectStore('pages').delete(keyRange([this.name, -Infinity], [this.name, Infinity]));
    tx.objectStore('log').delete(keyRange([this.name, -Infinity], [this.name, Infinity]));
    await finished;
  }

  /// Hands the writer's lock on without closing (a takeover that could not catch up): this
  /// one stays a reader.
  giveUp() {
    this.writer = false;
    if (this.release) { this.release(); this.release = null; }
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    if (this.abort) this.abort.abort();
    if (this.release) this.release();
    if (this.channel) this.channel.close();
    this.db.close();
  }
}
