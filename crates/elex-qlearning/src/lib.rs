//! Tabular Q-learning with batched, SIMD-assisted TD updates.
//!
//! Strategy: the Q-table is one contiguous `Vec<f32>` of `states × stride` values, each row padded
//! to a multiple of 8 lanes so rows start on 32-byte boundaries of the table; the padding is
//! never read. A batch update validates the whole batch first (a bad transition rejects the batch
//! and changes nothing), then applies the transitions **in order**, each one seeing the table as
//! the previous ones left it: the result is exactly that of applying them one at a time, also when
//! a batch touches the same `(s, a)` or reads a row it wrote. The per-transition work that is
//! vector-shaped (the max or expectation over the next state's row) runs on elex-simd's kernels.
//!
//! Rules: Q-learning `Q(s,a) += α (r + γ max_a' Q(s',a') (1 − done) − Q(s,a))`; expected SARSA
//! (the expectation under an ε-greedy policy); double Q-learning (two tables, a seeded coin picks
//! which one learns, the other evaluates its argmax).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod buffer;
mod learner;
mod oplog;
mod policy;
mod snapshot;
mod table;

pub use buffer::{ReplayBuffer, TrajectoryBuffer};
pub use learner::{BatchStats, Learner, LearnerConfig, Rule, Seed};
pub use oplog::{LearnerLog, LearnerOp, decode_learner_ops};
pub use policy::{Policy, Schedule};
pub use snapshot::{FORMAT_VERSION, HEADER_LEN, MAGIC};
pub use table::QTable;

/// One step of experience.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transition {
    /// State the action was taken in.
    pub state: u32,
    /// The action.
    pub action: u32,
    /// Reward received.
    pub reward: f32,
    /// State reached.
    pub next_state: u32,
    /// Whether `next_state` is terminal (its value is not bootstrapped).
    pub done: bool,
}

/// Errors of the learner.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QError {
    /// A state index is outside the table.
    #[error("state {state} is out of range (the table has {states} states)")]
    StateOutOfRange {
        /// The bad state.
        state: u32,
        /// States in the table.
        states: usize,
    },
    /// An action index is outside the table.
    #[error("action {action} is out of range (the table has {actions} actions)")]
    ActionOutOfRange {
        /// The bad action.
        action: u32,
        /// Actions in the table.
        actions: usize,
    },
    /// A reward is NaN or infinite.
    #[error("reward of transition {index} is NaN or infinite")]
    NonFiniteReward {
        /// Position in the batch.
        index: usize,
    },
    /// The discount must lie in `[0, 1]`.
    #[error("gamma must be in [0, 1], got {0}")]
    GammaOutOfRange(f32),
    /// The learning rate must lie in `(0, 1]`.
    #[error("alpha must be in (0, 1], got {0}")]
    AlphaOutOfRange(f32),
    /// A policy parameter is out of range.
    #[error("invalid policy: {0}")]
    InvalidPolicy(String),
    /// Table shape or initial value out of range.
    #[error("invalid table: {0}")]
    InvalidTable(String),
    /// The arrays of a struct-of-arrays batch differ in length.
    #[error("batch arrays differ in length: {0}")]
    BatchShape(String),
    /// The bytes are not a Q-learning snapshot.
    #[error("not an elex Q-learning snapshot (bad magic)")]
    BadMagic,
    /// The snapshot's version is not one this build reads.
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
    /// The checksum does not match.
    #[error("snapshot checksum mismatch")]
    ChecksumMismatch,
    /// The snapshot is well-formed but inconsistent.
    #[error("corrupt snapshot: {0}")]
    Corrupt(String),
    /// The operating system gave no randomness for seeding.
    #[error("no entropy for seeding: {0}")]
    Entropy(String),
}

/// An op-log record read short: the record is corrupt.
impl From<elex_store::Truncated> for QError {
    fn from(e: elex_store::Truncated) -> QError {
        QError::Corrupt(format!("an operation ends past its record ({e})"))
    }
}
