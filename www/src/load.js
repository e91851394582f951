// elex's loader, shared by `elex` (the full build) and `elex/core` (vector index, text index and
// hybrid search only): picks the relaxed-SIMD, simd128 or scalar WebAssembly build of one of them
// and initializes it once per flavour. Works in browsers (main thread and workers, with
// a bundler or as plain `<script type="module">`: it imports nothing by bare name), bundlers that
// understand `new URL(..., import.meta.url)` (Vite, webpack 5, Rollup with a URL plugin) and
// Node. The glue and .wasm paths are written out in `index.js` and `core.js` (bundlers follow
// only literal paths).

// The smallest module that uses a simd128 instruction (the check wasm-feature-detect makes):
// a runtime that validates it runs the simd build.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

// f() = lane 0 of i32x4.relaxed_dot_i8x16_i7x16_add_s(splat(-3), splat(5), splat(1 in each byte)):
// the relaxed build needs it to validate and to return 0x01010101 - 60 (Node 20 behind its flag
// returns another value).
const v128 = (byte) => [253, 12, ...new Array(16).fill(byte)];
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 127, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 64, 1, 62, 0,
  ...v128(253), ...v128(5), ...v128(1), 253, 147, 2, 253, 27, 0, 11,
]);

async function detectSimd() {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}

async function detectRelaxedSimd() {
  try {
    const { instance } = await WebAssembly.instantiate(RELAXED_PROBE);
    return instance.exports.f() === 0x01010101 - 60;
  } catch {
    return false;
  }
}

const FLAVOURS = ['relaxed', 'simd', 'scalar'];

/** The fastest flavour this runtime runs correctly. */
async function detectFlavour() {
  if (await detectRelaxedSimd()) return 'relaxed';
  return (await detectSimd()) ? 'simd' : 'scalar';
}

const isNode =
  typeof process !== 'undefined' && process.versions != null && process.versions.node != null &&
  typeof window === 'undefined';

/**
 * `init` and the detections over one build: `builds[flavour]` gives `glue()` (the wasm-bindgen
 * module, imported) and `wasm()` (the .wasm file's URL).
 */
export function loader(builds) {
  const loaded = new Map();

  async function load(flavour, wasm) {
    const build = builds[flavour];
    const mod = await build.glue();
    let input = wasm;
    if (input === undefined) {
      const url = build.wasm();
      if (isNode) {
        // Node's fetch cannot read file: URLs; read the bytes instead.
        const fsName = 'node:fs/promises';
        const { readFile } = await import(/* @vite-ignore */ fsName);
        input = await readFile(url);
      } else {
        input = url;
      }
    }
    await mod.default({ module_or_path: input });
    harden(mod);
    const api = { ...mod };
    // Free functions (hybridSearch) get codes for the glue's errors too.
    for (const [name, value] of Object.entries(api)) {
      if (typeof value === 'function' && name !== 'default' && !/^class\b/.test(Function.prototype.toString.call(value))) {
        api[name] = wrap(value);
      }
    }
    return Object.freeze({ ...api, flavour, build: builds.name });
  }

  // `init` as documented in index.js; `simd: true` forces 'simd', `false` 'scalar'.
  function init(options = {}) {
    let forced = options.flavour;
    if (forced !== undefined && !FLAVOURS.includes(forced)) {
      // Not String(forced): a huge array or a throwing toString.
      const got = typeof forced === 'string' ? forced.slice(0, 40) : typeof forced;
      const e = new TypeError(`init: flavour must be one of ${FLAVOURS.join(', ')}, got ${got}`);
      e.code = 'INVALID_ARGUMENT';
      return Promise.reject(e);
    }
    if (forced === undefined && options.simd !== undefined) forced = options.simd ? 'simd' : 'scalar';
    const key = forced ?? 'auto';
    if (!loaded.has(key)) {
      loaded.set(
        key,
        (async () => load(forced ?? (await detectFlavour()), options.wasm))(),
      );
    }
    return loaded.get(key);
  }

  return { init, simdSupported: detectSimd, relaxedSimdSupported: detectRelaxedSimd };
}

// The glue wasm-bindgen generates throws a few errors of its own before or instead of the Rust
// code (a method called on an object after `free()`, re-entrant use of an object, an argument
// of the wrong class); they get a stable `code` like every other error. Rejections are left
// alone: a promise rejects with a coded error from Rust or with the caller's own error (an
// `onProgress` that threw).
function withCode(e) {
  if (e === null || typeof e !== 'object' || e.code !== undefined) return e;
  const msg = String(e.message ?? e);
  if (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) {
    e.code = 'WASM_TRAP'; // a bug in elex: please report it with the call that caused it
  } else if (/null pointer passed to rust/i.test(msg)) {
    e.code = 'FREED';
  } else if (/recursive use of an object|already (mutably )?borrowed/i.test(msg)) {
    e.code = 'BUSY';
  } else {
    e.code = 'INVALID_ARGUMENT';
  }
  return e;
}

function wrap(fn) {
  return function (...args) {
    try {
      return fn.apply(this, args);
    } catch (e) {
      throw withCode(e);
    }
  };
}

const hardened = new WeakSet();
function harden(mod) {
  for (const value of Object.values(mod)) {
    if (typeof value !== 'function' || !value.prototype || hardened.has(value)) continue;
    hardened.add(value);
    for (const target of [value.prototype, value]) {
      for (const name of Object.getOwnPropertyNames(target)) {
        if (name === 'constructor' || name === 'prototype' || name === 'length' || name === 'name') continue;
        const d = Object.getOwnPropertyDescriptor(target, name);
        if (!d || !d.configurable) continue;
        if (typeof d.value === 'function') d.value = wrap(d.value);
        if (d.get) d.get = wrap(d.get);
        if (d.set) d.set = wrap(d.set);
        Object.defineProperty(target, name, d);
      }
    }
  }
}
