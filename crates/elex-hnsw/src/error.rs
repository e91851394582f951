//! The one error type of the index: every bad input and every bad snapshot maps to a variant.

/// Errors from building, querying, and loading an index.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HnswError {
    /// A vector's length is not the index's dimension.
    #[error("dimension mismatch: the index has {expected} dimensions, the vector has {got}")]
    DimensionMismatch {
        /// The index's dimension.
        expected: usize,
        /// The vector's length.
        got: usize,
    },
    /// A component is NaN or infinite.
    #[error("component {index} of the vector is NaN or infinite")]
    NonFinite {
        /// Position of the first bad component.
        index: usize,
    },
    /// Cosine similarity is undefined for the zero vector.
    #[error("the zero vector has no direction, so it cannot be stored or searched under cosine")]
    ZeroVector,
    /// A finite component or norm too large for the index's storage or metric (f16 holds
    /// up to 65504; under L2 and dot the squared norm must leave distances finite).
    #[error("value too large: {0}")]
    ValueTooLarge(String),
    /// `k` must be at least 1.
    #[error("k must be at least 1")]
    ZeroK,
    /// More neighbours were asked for than the index holds.
    #[error("k = {k} is larger than the {len} live vectors in the index")]
    KTooLarge {
        /// The requested k.
        k: usize,
        /// Live vectors.
        len: usize,
    },
    /// The search breadth must be at least k.
    #[error("ef = {ef} is smaller than k = {k}")]
    EfTooSmall {
        /// The requested ef.
        ef: usize,
        /// The requested k.
        k: usize,
    },
    /// The id is already in the index.
    #[error("id {0} is already in the index")]
    DuplicateId(u64),
    /// The id is not in the index (never inserted, or deleted).
    #[error("id {0} is not in the index")]
    UnknownId(u64),
    /// A batch's flat data length is not `ids.len() * dims`.
    #[error("batch has {ids} ids but {values} values for {dims} dimensions")]
    BatchShape {
        /// Number of ids.
        ids: usize,
        /// Number of values.
        values: usize,
        /// The index's dimension.
        dims: usize,
    },
    /// Parameters out of range.
    #[error("invalid parameters: {0}")]
    InvalidParams(String),
    /// The index is full: internal ids are 32-bit.
    #[error("the index is full ({0} slots); compact it or use another index")]
    Full(usize),
    /// The bytes do not start with the snapshot magic.
    #[error("not an elex HNSW snapshot (bad magic)")]
    BadMagic,
    /// The snapshot's format version is not one this build reads.
    #[error("unsupported snapshot version {found} (this build reads up to {supported})")]
    UnsupportedVersion {
        /// Version in the header.
        found: u16,
        /// Newest version this build reads.
        supported: u16,
    },
    /// The bytes end before the snapshot does.
    #[error("snapshot truncated: needs {needed} bytes, has {got}")]
    Truncated {
        /// Bytes the header says the snapshot has.
        needed: u64,
        /// Bytes given.
        got: u64,
    },
    /// The header describes a snapshot larger than this build accepts.
    #[error("snapshot too large: {0}")]
    TooLarge(String),
    /// The checksum over the snapshot does not match.
    #[error("snapshot checksum mismatch: stored {stored:#018x}, computed {computed:#018x}")]
    ChecksumMismatch {
        /// Checksum in the header.
        stored: u64,
        /// Checksum of the bytes.
        computed: u64,
    },
    /// The snapshot is well-formed but its contents are inconsistent.
    #[error("corrupt snapshot: {0}")]
    Corrupt(String),
    /// The operation conflicts with one in progress (an open batch, a compaction).
    #[error("busy: {0}")]
    Busy(String),
    /// Memory for the operation could not be allocated (nothing was changed).
    #[error("out of memory: {0}")]
    OutOfMemory(String),
    /// Writing a snapshot to a stream failed.
    #[error("i/o error while writing a snapshot: {0}")]
    Io(String),
    /// A budgeted index's codes and links need more than its budget (nothing was changed).
    #[error("budget of {budget} bytes is too small: the codes and links need at least {minimum}")]
    BudgetTooSmall {
        /// The budget.
        budget: u64,
        /// The bytes the index needs without any hot rows.
        minimum: u64,
    },
    /// A budgeted index's row store failed (nothing was changed).
    #[error("row store: {0}")]
    RowStore(String),
}

/// An op-log record read short: the record is corrupt.
impl From<elex_store::Truncated> for HnswError {
    fn from(e: elex_store::Truncated) -> HnswError {
        HnswError::Corrupt(format!("an operation ends past its record ({e})"))
    }
}
