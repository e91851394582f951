//! The one error type of the text index.

/// Errors from building, querying and loading a text index.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TextError {
    /// `k` must be at least 1.
    #[error("k must be at least 1")]
    ZeroK,
    /// The id is already in the index.
    #[error("id {0} is already in the index")]
    DuplicateId(u64),
    /// The id is not in the index (never added, or deleted).
    #[error("id {0} is not in the index")]
    UnknownId(u64),
    /// A batch's ids and texts differ in number.
    #[error("batch has {ids} ids but {texts} texts")]
    BatchShape {
        /// Number of ids.
        ids: usize,
        /// Number of texts.
        texts: usize,
    },
    /// One text is longer than the index takes.
    #[error("text {index} has {bytes} bytes; at most {max} are taken")]
    TextTooLarge {
        /// Position in the batch.
        index: usize,
        /// Its length in bytes.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// Parameters out of range.
    #[error("invalid parameters: {0}")]
    InvalidParams(String),
    /// The index is full: document slots are 32-bit.
    #[error("the index is full ({0} slots); compact it or use another index")]
    Full(usize),
    /// A batch is in progress; other changes wait for it.
    #[error("busy: {0}")]
    Busy(String),
    /// The bytes do not start with the text snapshot magic.
    #[error("not an elex text snapshot (bad magic)")]
    BadMagic,
    /// The snapshot's format version is not one this build reads.
    #[error("unsupported text snapshot version {found} (this build reads up to {supported})")]
    UnsupportedVersion {
        /// Version in the header.
        found: u16,
        /// Newest version this build reads.
        supported: u16,
    },
    /// The bytes end before the snapshot does.
    #[error("text snapshot truncated: needs {needed} bytes, has {got}")]
    Truncated {
        /// Bytes the header promises.
        needed: u64,
        /// Bytes given.
        got: u64,
    },
    /// The checksum does not match the bytes.
    #[error("text snapshot checksum mismatch: the bytes were damaged")]
    ChecksumMismatch,
    /// The bytes pass the checksum but break an invariant.
    #[error("corrupt text snapshot: {0}")]
    Corrupt(String),
}

/// An op-log record or a snapshot body read short: the bytes are corrupt.
impl From<elex_store::Truncated> for TextError {
    fn from(e: elex_store::Truncated) -> TextError {
        TextError::Corrupt(format!("a record ends early ({e})"))
    }
}
