//! Behaviour policies and exploration schedules.

use crate::QError;

/// How ε changes with the number of actions taken.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// Always ε.
    Constant(f32),
    /// From `start` to `end` linearly over `steps` actions, then `end`.
    Linear {
        /// ε at step 0.
        start: f32,
        /// ε from `steps` on.
        end: f32,
        /// Length of the ramp.
        steps: u64,
    },
    /// `end + (start − end) · decayᵗ`.
    Exponential {
        /// ε at step 0.
        start: f32,
        /// The limit.
        end: f32,
        /// Factor per step, in `(0, 1]`.
        decay: f32,
    },
}

impl Schedule {
    /// ε at step `t`.
    pub fn at(&self, t: u64) -> f32 {
        match *self {
            Schedule::Constant(e) => e,
            Schedule::Linear { start, end, steps } => {
                if steps == 0 || t >= steps {
                    end
                } else {
                    start + (end - start) * (t as f32 / steps as f32)
                }
            }
            Schedule::Exponential { start, end, decay } => {
                end + (start - end) * decay.powf(t as f32)
            }
        }
    }

    fn validate(&self) -> Result<(), QError> {
        let unit = |x: f32| (0.0..=1.0).contains(&x);
        let ok = match *self {
            Schedule::Constant(e) => unit(e),
            Schedule::Linear { start, end, .. } => unit(start) && unit(end),
            Schedule::Exponential { start, end, decay } => {
                unit(start) && unit(end) && decay > 0.0 && decay <= 1.0
            }
        };
        if ok {
            Ok(())
        } else {
            Err(QError::InvalidPolicy(format!(
                "{self:?}: ε must be in [0, 1], decay in (0, 1]"
            )))
        }
    }
}

/// How [`Learner::act`](crate::Learner::act) picks an action.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Policy {
    /// The first action of highest value.
    Greedy,
    /// A uniformly random action with probability ε (from the schedule), greedy otherwise.
    EpsilonGreedy(Schedule),
    /// Boltzmann: `P(a) ∝ exp(Q(s, a) / temperature)`.
    Softmax {
        /// Positive and finite; small is greedy, large is uniform.
        temperature: f32,
    },
}

impl Policy {
    pub(crate) fn validate(&self) -> Result<(), QError> {
        match self {
            Policy::Greedy => Ok(()),
            Policy::EpsilonGreedy(s) => s.validate(),
            Policy::Softmax { temperature } if temperature.is_finite() && *temperature > 0.0 => {
                Ok(())
            }
            Policy::Softmax { temperature } => Err(QError::InvalidPolicy(format!(
                "softmax temperature {temperature} must be positive and finite"
            ))),
        }
    }
}
