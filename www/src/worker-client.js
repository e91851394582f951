// `elex/worker`: the same classes and method names as `elex`, run in one dedicated module
// worker, every method returning a promise. Arguments are copied to the worker (structured
// clone) unless wrapped in `transfer(typedArray)`, which moves the buffer instead (the page's
// array is then detached); results are transferred back (never copied twice). Errors cross with
// their `name`, `message` and `code`. A function passed as `onProgress` is called on the page;
// if it throws, the batch is rolled back in the worker and the promise rejects with that error
// (a batch that finished in the worker before the cancellation reached it stays, and resolves).
//
//   import { open } from 'elex/worker';
//   const elex = await open();                         // { flavour?, simd?, wasm?, worker?, core? }
//   const index = await elex.HnswIndex.create({ dims: 384 });
//   await index.addBatch(ids, vectors, (done, total) => bar.value = done / total);
//   const { ids: near, scores } = await index.search(query, 10);
//   const n = await index.size;                        // getters are promises too

const GETTERS = {
  HnswIndex: ['size', 'dims', 'deletedCount', 'persistent', 'readOnly', 'recovered'],
  AdaptiveCache: ['bytes', 'budget'],
  QLearner: ['persistent', 'readOnly', 'recovered'],
  TextIndex: ['size', 'deletedCount', 'termCount', 'persistent', 'readOnly', 'recovered'],
};
const STATICS = {
  HnswIndex: ['fromBytes', 'restore', 'load', 'open'],
  AdaptiveCache: ['open'],
  QLearner: ['fromBytes', 'load', 'open'],
  TextIndex: ['fromBytes', 'restore', 'load', 'open'],
};

const TRANSFER = Symbol('elex.transfer');
const HANDLE = Symbol('elex.handle');

/** Marks a typed array (or ArrayBuffer) to be moved to the worker instead of copied. */
export function transfer(view) {
  return { [TRANSFER]: view };
}

function rebuildError(e) {
  const Ctor = e.name === 'RangeError' ? RangeError : e.name === 'TypeError' ? TypeError : Error;
  const err = new Ctor(e.message);
  if (e.code !== undefined) err.code = e.code;
  return err;
}

class Connection {
  constructor(worker) {
    this.worker = worker;
    this.next = 1;
    this.pending = new Map();
    worker.onmessage = (ev) => this.receive(ev.data);
    worker.onerror = (ev) => {
      const err = Object.assign(new Error(`elex worker failed: ${ev.message || 'error'}`), { code: 'WORKER_FAILED' });
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
  }

  receive(msg) {
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.progress) {
      if (p.progress && !p.threw) {
        try {
          p.progress(...msg.progress);
        } catch (e) {
          p.threw = { error: e };
          this.worker.postMessage({ cancel: msg.id });
        }
      }
      return;
    }
    this.pending.delete(msg.id);
    if (p.threw && !msg.ok) p.reject(p.threw.error);
    else if (msg.ok) p.resolve(this.wrap(msg.value));
    else p.reject(rebuildError(msg.error));
  }

  wrap(value) {
    if (value && typeof value === 'object' && value.__elexHandle) return proxy(this, value.cls, value.__elexHandle);
    return value;
  }

  call(msg, args = []) {
    const id = this.next++;
    const transfers = [];
    let progress = null;
    const encoded = args.map((a) => {
      if (typeof a === 'function') { progress = a; return { __elexCallback: true }; }
      if (a && typeof a === 'object' && a[HANDLE] !== undefined) return { __elexRef: a[HANDLE] };
      if (a && typeof a === 'object' && a[TRANSFER]) {
        const v = a[TRANSFER];
        transfers.push(ArrayBuffer.isView(v) ? v.buffer : v);
        return v;
      }
      if (a && typeof a === 'object' && !ArrayBuffer.isView(a) && typeof a.onProgress === 'function') {
        progress = a.onProgress;
        return { ...a, onProgress: { __elexCallback: true } };
      }
      return a;
    });
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, progress });
      try {
        this.worker.postMessage({ ...msg, id, args: encoded }, transfers);
      } catch (e) {
        this.pending.delete(id);
        reject(Object.assign(e, { code: e.code ?? 'DATA_CLONE' }));
      }
    });
  }
}

function proxy(conn, cls, handle) {
  const getters = new Set(GETTERS[cls] || []);
  return new Proxy(Object.create(null), {
    get(_, prop) {
      if (prop === HANDLE) return handle;
      if (typeof prop !== 'string' || prop === 'then') return undefined;
      if (getters.has(prop)) return conn.call({ op: 'get', handle, method: prop });
      if (prop === 'free') return () => conn.call({ op: 'free', handle });
      return (...args) => conn.call({ op: 'call', handle, method: prop }, args);
    },
  });
}

function classProxy(conn, cls) {
  const statics = {};
  for (const name of STATICS[cls] || []) statics[name] = (...args) => conn.call({ op: 'static', cls, method: name }, args);
  /** `await X.create(...args)`: the worker's `new X(...args)`. */
  statics.create = (...args) => conn.call({ op: 'new', cls }, args);
  return Object.freeze(statics);
}

/**
 * Starts a dedicated module worker running elex and resolves to its API: `HnswIndex`,
 * `AdaptiveCache`, `QLearner` and `TextIndex` (create with `await X.create(options)`, statics as
 * in `elex`), `hybridSearch(vectorIndex, textIndex, query)`,
 * `flavour`, `transfer` and `terminate()`. `options.worker` supplies your own Worker (for
 * bundlers that need the worker URL spelled out); `flavour`, `simd` and `wasm` go to `init` in the worker.
 */
export async function open(options = {}) {
  const worker = options.worker ?? new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const conn = new Connection(worker);
  const init = {};
  if (options.flavour !== undefined) init.flavour = options.flavour;
  if (options.simd !== undefined) init.simd = options.simd;
  if (options.wasm !== undefined) init.wasm = options.wasm;
  if (options.core) init.core = true;
  const { flavour, build } = await conn.call({ op: 'init', options: init });
  return Object.freeze({
    flavour,
    build,
    HnswIndex: classProxy(conn, 'HnswIndex'),
    AdaptiveCache: classProxy(conn, 'AdaptiveCache'),
    QLearner: classProxy(conn, 'QLearner'),
    TextIndex: classProxy(conn, 'TextIndex'),
    /** `hybridSearch(vectorIndex, textIndex, query)` over two objects of this worker. */
    hybridSearch: (vectorIndex, textIndex, query) => conn.call({ op: 'fn', method: 'hybridSearch' }, [vectorIndex, textIndex, query]),
    transfer,
    terminate: () => worker.terminate(),
  });
}
