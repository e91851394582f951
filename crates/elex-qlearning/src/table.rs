//! The Q-table: `states × stride` contiguous f32 values; `stride` is `actions` rounded up to 8
//! lanes, so every row starts 32 bytes after the previous one. Padding lanes stay 0 and are never
//! part of a row slice.

use crate::QError;

/// Lanes a row is padded to.
pub(crate) const ROW_LANES: usize = 8;
/// Largest table accepted (values), to keep sizes within 32-bit wasm memory.
pub(crate) const MAX_VALUES: usize = 1 << 28;

/// A dense table of action values.
#[derive(Clone, Debug, PartialEq)]
pub struct QTable {
    states: usize,
    actions: usize,
    stride: usize,
    pub(crate) q: Vec<f32>,
}

impl QTable {
    /// A table with every value set to `initial`.
    pub fn new(states: usize, actions: usize, initial: f32) -> Result<QTable, QError> {
        if states == 0 || actions == 0 {
            return Err(QError::InvalidTable(format!(
                "{states} states x {actions} actions"
            )));
        }
        if !initial.is_finite() {
            return Err(QError::InvalidTable(format!(
                "initial value {initial} is not finite"
            )));
        }
        let stride = actions.div_ceil(ROW_LANES) * ROW_LANES;
        let values = states.checked_mul(stride).filter(|&v| v <= MAX_VALUES);
        let values = values.ok_or(QError::InvalidTable(format!(
            "{states} x {actions} is too large"
        )))?;
        let mut q = vec![0.0; values];
        for row in q.chunks_exact_mut(stride) {
            row[..actions].fill(initial);
        }
        Ok(QTable {
            states,
            actions,
            stride,
            q,
        })
    }

    /// Number of states.
    pub fn states(&self) -> usize {
        self.states
    }

    /// Number of actions.
    pub fn actions(&self) -> usize {
        self.actions
    }

    /// Distance between row starts, in values.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// The action values of one state.
    pub fn row(&self, state: u32) -> Result<&[f32], QError> {
        let s = self.check_state(state)?;
        Ok(self.row_at(s))
    }

    /// `Q(s, a)`.
    pub fn get(&self, state: u32, action: u32) -> Result<f32, QError> {
        let i = self.index(state, action)?;
        Ok(self.q[i])
    }

    /// Sets `Q(s, a)`; `value` must be finite.
    pub fn set(&mut self, state: u32, action: u32, value: f32) -> Result<(), QError> {
        let i = self.index(state, action)?;
        if !value.is_finite() {
            return Err(QError::InvalidTable(format!("value {value} is not finite")));
        }
        self.q[i] = value;
        Ok(())
    }

    /// Every value, row by row, without padding.
    pub fn values(&self) -> impl Iterator<Item = f32> + '_ {
        self.q
            .chunks_exact(self.stride)
            .flat_map(|r| r[..self.actions].iter().copied())
    }

    #[inline]
    pub(crate) fn row_at(&self, s: usize) -> &[f32] {
        &self.q[s * self.stride..s * self.stride + self.actions]
    }

    pub(crate) fn check_state(&self, state: u32) -> Result<usize, QError> {
        if (state as usize) < self.states {
            Ok(state as usize)
        } else {
            Err(QError::StateOutOfRange {
                state,
                states: self.states,
            })
        }
    }

    pub(crate) fn check_action(&self, action: u32) -> Result<usize, QError> {
        if (action as usize) < self.actions {
            Ok(action as usize)
        } else {
            Err(QError::ActionOutOfRange {
                action,
                actions: self.actions,
            })
        }
    }

    #[inline]
    pub(crate) fn index(&self, state: u32, action: u32) -> Result<usize, QError> {
        Ok(self.check_state(state)? * self.stride + self.check_action(action)?)
    }
}
