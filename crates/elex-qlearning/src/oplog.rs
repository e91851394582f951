//! The learner's mutations as log entries: what a persistent learner appends to its op log
//! (framed, numbered and checksummed by `elex-store`) and replays on open. Replay makes the same
//! calls in the same order from the same checkpoint, so the replayed learner is byte-identical
//! to the one that wrote the log (`act` is logged too: it advances the exploration RNG and the
//! schedule clock).
//!
//! Encoding, little endian: a tag byte per operation, then
//! - `1` update: count `u32`, then count × (state `u32`, action `u32`, reward `f32`,
//!   next state `u32`, done `u8`);
//! - `2` act (ε-greedy, constant ε): state `u32`, epsilon `f32`.

use elex_store::{ByteReader, OpWriter};

use crate::{Learner, Policy, QError, Schedule};

/// One logged mutation.
#[derive(Clone, Debug, PartialEq)]
pub enum LearnerOp {
    /// [`Learner::update_batch_arrays`].
    Update {
        /// States.
        states: Vec<u32>,
        /// Actions.
        actions: Vec<u32>,
        /// Rewards.
        rewards: Vec<f32>,
        /// Next states.
        next_states: Vec<u32>,
        /// Terminal flags (non-zero: terminal).
        dones: Vec<u8>,
    },
    /// [`Learner::act`] under an ε-greedy policy with a constant ε.
    Act {
        /// The state.
        state: u32,
        /// ε in [0, 1].
        epsilon: f32,
    },
}

/// Operations being encoded for one log record.
#[derive(Debug, Default)]
pub struct LearnerLog(OpWriter);

impl LearnerLog {
    /// Appends a batch update (parallel arrays of one length).
    pub fn update(
        &mut self,
        states: &[u32],
        actions: &[u32],
        rewards: &[f32],
        next_states: &[u32],
        dones: &[u8],
    ) {
        let w = self
            .0
            .op(1)
            .len_u32(states.len())
            .reserve(states.len() * 17);
        for i in 0..states.len() {
            w.u32(states[i])
                .u32(actions[i])
                .f32(rewards[i])
                .u32(next_states[i])
                .u8(dones[i]);
        }
    }

    /// Appends an ε-greedy action.
    pub fn act(&mut self, state: u32, epsilon: f32) {
        self.0.op(2).u32(state).f32(epsilon);
    }

    /// Operations appended since the last [`take`](Self::take).
    pub fn len(&self) -> u32 {
        self.0.len()
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The operation count and encoded bytes; the log starts empty again.
    pub fn take(&mut self) -> (u32, Vec<u8>) {
        self.0.take()
    }
}

fn corrupt<T>(msg: impl Into<String>) -> Result<T, QError> {
    Err(QError::Corrupt(msg.into()))
}

/// Decodes a record's payload of `count` operations; every length is checked before anything
/// is allocated from it.
pub fn decode_learner_ops(payload: &[u8], count: u32) -> Result<Vec<LearnerOp>, QError> {
    let mut r = ByteReader::new(payload);
    let mut ops = Vec::new();
    for _ in 0..count {
        let op = match r.u8()? {
            1 => {
                let n = r.u32()? as usize;
                if !r.has_room(n, 17) {
                    return corrupt(format!(
                        "an update of {n} transitions does not fit its record"
                    ));
                }
                let mut op = LearnerOp::Update {
                    states: Vec::with_capacity(n),
                    actions: Vec::with_capacity(n),
                    rewards: Vec::with_capacity(n),
                    next_states: Vec::with_capacity(n),
                    dones: Vec::with_capacity(n),
                };
                if let LearnerOp::Update {
                    states,
                    actions,
                    rewards,
                    next_states,
                    dones,
                } = &mut op
                {
                    for _ in 0..n {
                        states.push(r.u32()?);
                        actions.push(r.u32()?);
                        rewards.push(r.f32()?);
                        next_states.push(r.u32()?);
                        dones.push(r.u8()?);
                    }
                }
                op
            }
            2 => LearnerOp::Act {
                state: r.u32()?,
                epsilon: r.f32()?,
            },
            t => return corrupt(format!("unknown operation tag {t}")),
        };
        ops.push(op);
    }
    if r.left() != 0 {
        return corrupt(format!(
            "{} bytes after the last of {count} operations",
            r.left()
        ));
    }
    Ok(ops)
}

impl Learner {
    /// Checks that `ops` would all apply (the checks the calls make), changing nothing.
    pub fn check_ops(&self, ops: &[LearnerOp]) -> Result<(), QError> {
        for op in ops {
            match op {
                LearnerOp::Update {
                    states,
                    actions,
                    rewards,
                    next_states,
                    dones,
                } => self.check_batch_arrays(states, actions, rewards, next_states, dones)?,
                LearnerOp::Act { state, epsilon } => {
                    Policy::EpsilonGreedy(Schedule::Constant(*epsilon)).validate()?;
                    self.table().row(*state)?;
                }
            }
        }
        Ok(())
    }

    /// Applies logged operations in order, whole or not at all (checked first).
    pub fn apply_ops(&mut self, ops: &[LearnerOp]) -> Result<(), QError> {
        self.check_ops(ops)?;
        for op in ops {
            match op {
                LearnerOp::Update {
                    states,
                    actions,
                    rewards,
                    next_states,
                    dones,
                } => {
                    self.update_batch_arrays(states, actions, rewards, next_states, dones)?;
                }
                LearnerOp::Act { state, epsilon } => {
                    self.act(*state, &Policy::EpsilonGreedy(Schedule::Constant(*epsilon)))?;
                }
            }
        }
        Ok(())
    }
}
