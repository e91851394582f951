//! wasm-bindgen bindings of elex: marshalling, error mapping and the IndexedDB adapters; every
//! algorithm lives in the core crates. Errors reach JS as `Error`s (`RangeError` for
//! out-of-range input, `TypeError` for malformed options) with a stable `code` string.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(all(test, target_arch = "wasm32"))]
mod browser_tests;
mod cache;
mod error;
mod hnsw;
mod idb;
mod qlearning;

pub use cache::AdaptiveCache;
pub use hnsw::{HnswIndex, SearchResult};
pub use qlearning::{QLearner, TransitionBatch};

#[doc(hidden)]
pub use hnsw::save_aborted;

/// The module's `WebAssembly.Memory`, for typed-array views over wasm-side buffers
/// (see [`TransitionBatch`]).
#[wasm_bindgen::prelude::wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> wasm_bindgen::JsValue {
    wasm_bindgen::memory()
}

/// Panics (bugs) show their message in the console instead of "unreachable".
pub(crate) fn set_panic_hook() {
    console_error_panic_hook::set_once();
}
