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
pub struct LearnerLog {
    bytes: Vec<u8>,
    ops: u32,
}

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
        let b = &mut self.bytes;
        b.push(1);
        b.extend_from_slice(&(states.len() as u32).to_le_bytes());
        b.reserve(states.len() * 17);
        for i in 0..states.len() {
            b.extend_from_slice(&states[i].to_le_bytes());
            b.extend_from_slice(&actions[i].to_le_bytes());
            b.extend_from_slice(&rewards[i].to_le_bytes());
            b.extend_from_slice(&next_states[i].to_le_bytes());
            b.push(dones[i]);
        }
        self.ops += 1;
    }

    /// Appends an ε-greedy action.
    pub fn act(&mut self, state: u32, epsilon: f32) {
        self.bytes.push(2);
        self.bytes.extend_from_slice(&state.to_le_bytes());
        self.bytes.extend_from_slice(&epsilon.to_le_bytes());
        self.ops += 1;
    }

    /// Operations appended since the last [`take`](Self::take).
    pub fn len(&self) -> u32 {
        self.ops
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.ops == 0
    }

    /// The operation count and encoded bytes; the log starts empty again.
    pub fn take(&mut self) -> (u32, Vec<u8>) {
        (
            std::mem::take(&mut self.ops),
            std::mem::take(&mut self.bytes),
        )
    }
}

fn corrupt<T>(msg: impl Into<String>) -> Result<T, QError> {
    Err(QError::Corrupt(msg.into()))
}

/// Decodes a record's payload of `count` operations; every length is checked before anything
/// is allocated from it.
pub fn decode_learner_ops(payload: &[u8], count: u32) -> Result<Vec<LearnerOp>, QError> {
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize| -> Result<&[u8], QError> {
        match at.checked_add(n).filter(|&e| e <= payload.len()) {
            Some(end) => {
                let s = &payload[*at..end];
                *at = end;
                Ok(s)
            }
            None => corrupt(format!(
                "an operation ends past its record ({n} bytes at {at})"
            )),
        }
    };
    let u32_at = |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().expect("4"));
    let mut ops = Vec::new();
    for _ in 0..count {
        let op = match take(&mut at, 1)?[0] {
            1 => {
                let n = u32_at(take(&mut at, 4)?, 0) as usize;
                let body = take(&mut at, n.saturating_mul(17))?;
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
                    for t in body.chunks_exact(17) {
                        states.push(u32_at(t, 0));
                        actions.push(u32_at(t, 4));
                        rewards.push(f32::from_bits(u32_at(t, 8)));
                        next_states.push(u32_at(t, 12));
                        dones.push(t[16]);
                    }
                }
                op
            }
            2 => {
                let s = take(&mut at, 8)?;
                LearnerOp::Act {
                    state: u32_at(s, 0),
                    epsilon: f32::from_bits(u32_at(s, 4)),
                }
            }
            t => return corrupt(format!("unknown operation tag {t}")),
        };
        ops.push(op);
    }
    if at != payload.len() {
        return corrupt(format!(
            "{} bytes after the last of {count} operations",
            payload.len() - at
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
