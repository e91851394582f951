//! wasm-bindgen bindings of elex: marshalling and error mapping only; every algorithm lives in
//! the core crates. Errors reach JS as `Error`s (`RangeError` for out-of-range input) with a
//! stable `code` string.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod qlearning;

pub use qlearning::{QLearner, TransitionBatch};

/// The module's `WebAssembly.Memory`, for typed-array views over wasm-side buffers
/// (see [`TransitionBatch`]).
#[wasm_bindgen::prelude::wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> wasm_bindgen::JsValue {
    wasm_bindgen::memory()
}
