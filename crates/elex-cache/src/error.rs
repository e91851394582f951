//! The one error type of the cache and its spill tier.

/// Errors from configuring the cache, inserting into it, and spilling to or reloading from a store.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CacheError {
    /// A budget of zero bytes can hold nothing.
    #[error("the byte budget must be at least 1")]
    ZeroBudget,
    /// The entry alone is heavier than the whole budget.
    #[error("the entry weighs {weight} bytes, more than the whole budget of {budget} bytes")]
    EntryTooLarge {
        /// The entry's weight.
        weight: u64,
        /// The budget.
        budget: u64,
    },
    /// The weigher said an entry weighs nothing, which would let the cache grow without bound.
    #[error("the weigher returned 0 bytes for an entry; every entry must weigh at least 1 byte")]
    ZeroWeight,
    /// The weigher gave a different weight for the same key and value than before.
    #[error(
        "the weigher is inconsistent: the entry weighed {recorded} bytes when stored and {now} now"
    )]
    WeigherInconsistent {
        /// Weight recorded when the entry was stored.
        recorded: u64,
        /// Weight the weigher reports now.
        now: u64,
    },
    /// Configuration out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The spill store failed; the victims stay in memory, queued for the next attempt.
    #[error("spill store failed ({kind:?}): {message}")]
    Store {
        /// What kind of failure.
        kind: StoreErrorKind,
        /// The store's own words.
        message: String,
    },
}

/// The kinds of spill-store failure, stable across stores (the wasm crate maps IndexedDB's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The store is out of space (disk full, IndexedDB quota exceeded).
    QuotaExceeded,
    /// The store is closed or blocked.
    Closed,
    /// An I/O error.
    Io,
    /// A record failed its checksum or could not be decoded.
    Corrupt,
}

impl CacheError {
    /// A store error of the given kind.
    pub fn store(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        CacheError::Store {
            kind,
            message: message.into(),
        }
    }
}
