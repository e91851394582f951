// The module worker behind `elex/worker`: it loads elex, keeps the objects the page creates
// (index, caches, learners) by handle, and answers the page's calls. Every call on one object
// runs after the previous mutating call on it settled (a chain per object), so the page may fire
// calls without awaiting them; reads (search and friends) do not wait behind a batch. Results
// that are typed arrays are transferred to the page, not copied. `open({ core: true })` loads the
// core build (`elex/core`) here instead of the full one.
import { init } from './index.js';
import { init as initCore } from './core.js';

let elex = null;
const objects = new Map(); // handle -> { obj, cls, chain }
let nextHandle = 1;
const cancelled = new Set(); // call ids whose onProgress threw on the page

// Methods that only read: they run at once, beside a batch in flight.
const READS = new Set(['search', 'searchFiltered', 'has', 'memoryBytes', 'calibration', 'stats', 'value', 'get', 'terms', 'storageStats']);
const CLASSES = new Set(['HnswIndex', 'AdaptiveCache', 'QLearner', 'TextIndex']);
// Free functions the page may call; their object arguments arrive as handles.
const FUNCTIONS = new Set(['hybridSearch']);

function errorOf(e) {
  if (e && typeof e === 'object') {
    return { name: e.name || 'Error', message: String(e.message ?? e), code: e.code };
  }
  return { name: 'Error', message: String(e), code: undefined };
}

// A wasm object of a known class becomes a handle the page wraps; a search result (a plain
// object of typed arrays that are its own copies) is sent with its arrays transferred.
// (Classes are told apart by instanceof: a bundler may rename them.)
function isSearchResult(v) {
  return v !== null && typeof v === 'object' && v.ids instanceof Float64Array && v.scores instanceof Float32Array
    && v.distances instanceof Float32Array && typeof v.length === 'number';
}

function encode(value, transfer) {
  const cls = value && typeof value === 'object' ? [...CLASSES].find((c) => elex[c] && value instanceof elex[c]) : undefined;
  if (cls) {
    const handle = nextHandle++;
    objects.set(handle, { obj: value, cls, chain: Promise.resolve() });
    return { __elexHandle: handle, cls };
  }
  if (isSearchResult(value)) {
    transfer.push(value.ids.buffer, value.scores.buffer, value.distances.buffer);
    return value;
  }
  if (ArrayBuffer.isView(value)) transfer.push(value.buffer);
  return value;
}

// onProgress tokens become functions that report to the page, and throw once the page's own
// callback threw (so the batch rolls back, as on the main thread).
function decode(args, id) {
  const fn = () => (done, total) => {
    if (cancelled.has(id)) throw new Error('onProgress threw on the page');
    self.postMessage({ id, progress: [done, total] });
  };
  return args.map((a) => {
    if (a && a.__elexCallback) return fn();
    if (a && a.__elexRef !== undefined) {
      const entry = objects.get(a.__elexRef);
      if (!entry) throw Object.assign(new Error('an argument was freed'), { code: 'FREED' });
      return entry.obj;
    }
    if (a && typeof a === 'object' && a.onProgress && a.onProgress.__elexCallback) return { ...a, onProgress: fn() };
    return a;
  });
}

async function run(msg) {
  const { op, cls, handle, method, args = [], options } = msg;
  if (op === 'init') {
    const { core, ...rest } = options || {};
    elex = await (core ? initCore : init)(rest);
    return { flavour: elex.flavour, build: elex.build };
  }
  if (!elex) throw Object.assign(new Error('elex/worker: not initialized'), { code: 'NOT_INITIALIZED' });
  if (op === 'fn') {
    if (!FUNCTIONS.has(method)) throw Object.assign(new TypeError(`unknown function ${method}`), { code: 'INVALID_ARGUMENT' });
    return elex[method](...decode(args, msg.id));
  }
  if (op === 'new' || op === 'static') {
    if (!CLASSES.has(cls)) throw Object.assign(new TypeError(`unknown class ${cls}`), { code: 'INVALID_ARGUMENT' });
    const C = elex[cls];
    if (!C || (op === 'static' && typeof C[method] !== 'function')) {
      throw Object.assign(new TypeError(`${op === 'new' ? cls : `${cls}.${method}`} is not in elex's ${elex.build} build (the full build, elex, has it)`), { code: 'NOT_IN_BUILD' });
    }
    return op === 'new' ? new C(...decode(args, msg.id)) : C[method](...decode(args, msg.id));
  }
  const entry = objects.get(handle);
  if (!entry) throw Object.assign(new Error('the object was freed'), { code: 'FREED' });
  if (op === 'free') {
    objects.delete(handle);
    await entry.chain;
    entry.obj.free();
    return undefined;
  }
  if (op === 'get') return entry.obj[method];
  if (typeof entry.obj[method] !== 'function' || method.startsWith('_') || method === 'free' || method === 'constructor') {
    throw Object.assign(new TypeError(`${entry.cls} has no method ${String(method)}`), { code: 'INVALID_ARGUMENT' });
  }
  const call = () => entry.obj[method](...decode(args, msg.id));
  if (READS.has(method)) return call();
  const result = entry.chain.then(call);
  entry.chain = result.then(() => {}, () => {});
  return result;
}

self.onmessage = async (ev) => {
  const msg = ev.data;
  if (msg.cancel !== undefined) {
    cancelled.add(msg.cancel);
    return;
  }
  const transfer = [];
  try {
    const value = await run(msg);
    self.postMessage({ id: msg.id, ok: true, value: encode(value, transfer) }, transfer);
  } catch (e) {
    self.postMessage({ id: msg.id, ok: false, error: errorOf(e) });
  } finally {
    cancelled.delete(msg.id);
  }
};
