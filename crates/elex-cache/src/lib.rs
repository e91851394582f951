//! elex-cache: a byte-budgeted adaptive cache that spills to a second tier before it evicts.
//!
//! - A [`Cache`] maps `K -> V`; a [`Weigher`] gives each entry its bytes and the resident bytes
//!   never exceed the budget when an operation returns.
//! - Eviction is W-TinyLFU by default (the best of the candidates on the trace suite: see
//!   `run-benchmarks.sh`), with S3-FIFO and LRU selectable ([`Policy`]).
//! - A [`PressureMonitor`] keeps recent pressure samples and their [`Trend`];
//!   [`Cache::relieve`] evicts a configured share of bytes as pressure passes its levels.
//! - Victims are never dropped silently: they go to an outbox of [`SpillOp`]s that a spill store
//!   takes in batches ([`SpillStore`], [`MemoryStore`], [`FileStore`], or the wasm crate's
//!   IndexedDB store); a spilled-key index and versions make a later miss reload the right value
//!   and never an older one. [`TieredCache`] drives a cache and a synchronous store together.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cache;
mod error;
mod file_store;
mod ghost;
mod hash;
#[cfg(test)]
mod model_tests;
mod policy;
mod pressure;
mod sketch;
mod spill;
mod weigher;

pub use cache::{Cache, CacheConfig, Lookup, Relief, SpillOp, Stats};
pub use error::{CacheError, StoreErrorKind};
pub use file_store::{FileStore, OpenReport};
pub use policy::Policy;
pub use pressure::{PressureConfig, PressureMonitor, Trend};
pub use spill::{Codec, MemoryStore, SpillStore, TieredCache};
pub use weigher::{BytesWeigher, UnitWeigher, Weigher};
