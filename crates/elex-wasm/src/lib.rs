//! wasm-bindgen bindings of elex: marshalling, error mapping and the IndexedDB adapters; every
//! algorithm lives in the core crates. Errors reach JS as `Error`s (`RangeError` for
//! out-of-range input, `TypeError` for malformed options) with a stable `code` string.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[macro_use]
mod durable_methods;

mod args;
#[cfg(all(test, target_arch = "wasm32", feature = "test-hooks"))]
mod browser_tests;
#[cfg(feature = "full")]
mod budget;
#[cfg(feature = "full")]
mod cache;
mod error;
mod hnsw;
mod idb;
#[cfg(feature = "full")]
mod persist;
#[cfg(not(feature = "full"))]
#[path = "persist_off.rs"]
mod persist;
#[cfg(feature = "full")]
mod qlearning;
mod task;
mod text;

#[cfg(feature = "full")]
pub use budget::BudgetedIndex;
#[cfg(feature = "full")]
pub use cache::AdaptiveCache;
pub use hnsw::HnswIndex;
#[cfg(feature = "full")]
pub use qlearning::{QLearner, TransitionBatch};
pub use text::{TextIndex, hybrid_search};

#[cfg(feature = "test-hooks")]
#[doc(hidden)]
pub use hnsw::save_aborted;

/// Panics (bugs) show their message in the console instead of "unreachable".
pub(crate) fn set_panic_hook() {
    console_error_panic_hook::set_once();
}
