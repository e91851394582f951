//! The learner: one or two tables, the update rule, the batch update, acting.

use crate::{Policy, QError, QTable, Transition};
use elex_simd::{Kernels, SplitMix64};

/// Which TD target the learner uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    /// `r + γ max_a' Q(s', a')`.
    QLearning,
    /// `r + γ E_π[Q(s', ·)]` under the ε-greedy policy with this ε:
    /// `(1 − ε) max_a' Q(s', a') + ε mean_a' Q(s', a')`.
    ExpectedSarsa {
        /// The ε of the target policy, in `[0, 1]`.
        epsilon: f32,
    },
    /// Double Q-learning (van Hasselt 2010): a seeded coin picks the table that learns; the other
    /// evaluates the learner's argmax. Acting uses the sum of both tables.
    DoubleQ,
}

impl Rule {
    pub(crate) fn code(self) -> u8 {
        match self {
            Rule::QLearning => 0,
            Rule::ExpectedSarsa { .. } => 1,
            Rule::DoubleQ => 2,
        }
    }
}

/// Where the random stream starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seed {
    /// A fixed seed: runs are reproducible on every platform.
    Fixed(u64),
    /// A seed from the operating system (needs the `entropy` feature).
    Entropy,
}

/// How to build a [`Learner`].
#[derive(Clone, Debug, PartialEq)]
pub struct LearnerConfig {
    /// Number of states.
    pub states: usize,
    /// Number of actions.
    pub actions: usize,
    /// Learning rate α in `(0, 1]`.
    pub alpha: f32,
    /// Discount γ in `[0, 1]`.
    pub gamma: f32,
    /// Initial value of every `Q(s, a)` (optimistic values encourage exploration).
    pub initial: f32,
    /// The TD target.
    pub rule: Rule,
    /// The random stream of policies and of double Q-learning's coin.
    pub seed: Seed,
}

impl LearnerConfig {
    /// α = 0.1, γ = 0.99, Q = 0, Q-learning, seed 0.
    pub fn new(states: usize, actions: usize) -> LearnerConfig {
        LearnerConfig {
            states,
            actions,
            alpha: 0.1,
            gamma: 0.99,
            initial: 0.0,
            rule: Rule::QLearning,
            seed: Seed::Fixed(0),
        }
    }
}

/// What one batch update did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BatchStats {
    /// Transitions applied.
    pub updates: usize,
    /// Mean absolute TD error `|target − Q(s,a)|` before each update.
    pub mean_abs_td: f32,
}

/// A tabular learner.
#[derive(Clone, Debug)]
pub struct Learner {
    pub(crate) a: QTable,
    pub(crate) b: Option<QTable>,
    pub(crate) alpha: f32,
    pub(crate) gamma: f32,
    pub(crate) initial: f32,
    pub(crate) rule: Rule,
    pub(crate) seed: u64,
    pub(crate) rng: SplitMix64,
    pub(crate) steps: u64,
    k: Kernels,
    ones: Vec<f32>,
    combined: Vec<f32>,
}

pub(crate) fn check_alpha(alpha: f32) -> Result<(), QError> {
    if alpha > 0.0 && alpha <= 1.0 {
        Ok(())
    } else {
        Err(QError::AlphaOutOfRange(alpha))
    }
}

pub(crate) fn check_gamma(gamma: f32) -> Result<(), QError> {
    if (0.0..=1.0).contains(&gamma) {
        Ok(())
    } else {
        Err(QError::GammaOutOfRange(gamma))
    }
}

pub(crate) fn check_rule(rule: Rule) -> Result<(), QError> {
    match rule {
        Rule::ExpectedSarsa { epsilon } if !(0.0..=1.0).contains(&epsilon) => Err(
            QError::InvalidPolicy(format!("expected SARSA epsilon {epsilon} is not in [0, 1]")),
        ),
        _ => Ok(()),
    }
}

fn resolve(seed: Seed) -> Result<u64, QError> {
    match seed {
        Seed::Fixed(s) => Ok(s),
        #[cfg(feature = "entropy")]
        Seed::Entropy => getrandom::u64().map_err(|e| QError::Entropy(e.to_string())),
        #[cfg(not(feature = "entropy"))]
        Seed::Entropy => Err(QError::Entropy(
            "built without the `entropy` feature; pass Seed::Fixed".into(),
        )),
    }
}

impl Learner {
    /// A learner with the detected kernels.
    pub fn new(cfg: LearnerConfig) -> Result<Learner, QError> {
        Learner::with_kernels(cfg, Kernels::detect())
    }

    /// A learner on the given kernels (benches compare ISAs this way).
    pub fn with_kernels(cfg: LearnerConfig, k: Kernels) -> Result<Learner, QError> {
        check_alpha(cfg.alpha)?;
        check_gamma(cfg.gamma)?;
        check_rule(cfg.rule)?;
        let a = QTable::new(cfg.states, cfg.actions, cfg.initial)?;
        let b = (cfg.rule == Rule::DoubleQ).then(|| a.clone());
        let seed = resolve(cfg.seed)?;
        Ok(Learner::from_parts(
            a,
            b,
            cfg.alpha,
            cfg.gamma,
            cfg.initial,
            cfg.rule,
            seed,
            SplitMix64(seed),
            0,
            k,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        a: QTable,
        b: Option<QTable>,
        alpha: f32,
        gamma: f32,
        initial: f32,
        rule: Rule,
        seed: u64,
        rng: SplitMix64,
        steps: u64,
        k: Kernels,
    ) -> Learner {
        let n = a.actions();
        Learner {
            a,
            b,
            alpha,
            gamma,
            initial,
            rule,
            seed,
            rng,
            steps,
            k,
            ones: vec![1.0; n],
            combined: vec![0.0; n],
        }
    }

    /// The table acting reads (for double Q-learning, the first of the two).
    pub fn table(&self) -> &QTable {
        &self.a
    }

    /// The second table of double Q-learning.
    pub fn second_table(&self) -> Option<&QTable> {
        self.b.as_ref()
    }

    /// The update rule.
    pub fn rule(&self) -> Rule {
        self.rule
    }

    /// The ISA of the kernels.
    pub fn isa(&self) -> elex_simd::Isa {
        self.k.isa()
    }

    /// Learning rate.
    pub fn alpha(&self) -> f32 {
        self.alpha
    }

    /// Discount.
    pub fn gamma(&self) -> f32 {
        self.gamma
    }

    /// Sets the learning rate (for decaying schedules between batches).
    pub fn set_alpha(&mut self, alpha: f32) -> Result<(), QError> {
        check_alpha(alpha)?;
        self.alpha = alpha;
        Ok(())
    }

    /// Sets the discount.
    pub fn set_gamma(&mut self, gamma: f32) -> Result<(), QError> {
        check_gamma(gamma)?;
        self.gamma = gamma;
        Ok(())
    }

    /// Number of `act` calls so far (the clock of ε schedules).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The value used for acting: `Q(s, a)`, or `Q_A + Q_B` under double Q-learning.
    pub fn value(&self, state: u32, action: u32) -> Result<f32, QError> {
        let v = self.a.get(state, action)?;
        Ok(match &self.b {
            Some(b) => v + b.get(state, action)?,
            None => v,
        })
    }

    /// Applies one transition; returns the absolute TD error `|target − Q(s,a)|` before it.
    pub fn update(&mut self, t: &Transition) -> Result<f32, QError> {
        self.update_batch(std::slice::from_ref(t))
            .map(|s| s.mean_abs_td)
    }

    /// Applies a batch in order (see the crate docs for the semantics). The whole batch is
    /// checked first; on any error nothing is applied. An empty batch is a no-op.
    pub fn update_batch(&mut self, batch: &[Transition]) -> Result<BatchStats, QError> {
        self.run(batch.len(), |i| {
            let t = &batch[i];
            (t.state, t.action, t.reward, t.next_state, t.done)
        })
    }

    /// [`Learner::update_batch`] over parallel arrays (what the wasm binding passes from typed
    /// arrays): `dones[i] != 0` means terminal.
    pub fn update_batch_arrays(
        &mut self,
        states: &[u32],
        actions: &[u32],
        rewards: &[f32],
        next_states: &[u32],
        dones: &[u8],
    ) -> Result<BatchStats, QError> {
        let n = check_shape(states, actions, rewards, next_states, dones)?;
        self.run(n, |i| {
            (
                states[i],
                actions[i],
                rewards[i],
                next_states[i],
                dones[i] != 0,
            )
        })
    }

    /// Both batch forms: checks all `n` transitions (`get(i)` is transition `i`), then applies
    /// them in order. The Q-learning rule runs in a loop of its own over local copies (no
    /// per-step dispatch); other rules go through `apply`.
    #[inline]
    fn run(
        &mut self,
        n: usize,
        get: impl Fn(usize) -> (u32, u32, f32, u32, bool),
    ) -> Result<BatchStats, QError> {
        for i in 0..n {
            let (s, a, r, s2, _) = get(i);
            self.check(i, s, a, r, s2)?;
        }
        let mut abs = 0.0f64;
        if self.rule == Rule::QLearning {
            let (k, alpha, gamma) = (self.k, self.alpha, self.gamma);
            let table = &mut self.a;
            for i in 0..n {
                let (s, a, r, s2, done) = get(i);
                let td = q_step(
                    &k,
                    table,
                    alpha,
                    gamma,
                    s as usize,
                    a as usize,
                    r,
                    s2 as usize,
                    done,
                );
                abs += f64::from(td.abs());
            }
        } else {
            for i in 0..n {
                let (s, a, r, s2, done) = get(i);
                abs += f64::from(
                    self.apply(s as usize, a as usize, r, s2 as usize, done)
                        .abs(),
                );
            }
        }
        Ok(stats(n, abs))
    }

    /// The checks [`Learner::update_batch_arrays`] makes before it applies anything: equal
    /// lengths, states and actions in range, finite rewards.
    pub fn check_batch_arrays(
        &self,
        states: &[u32],
        actions: &[u32],
        rewards: &[f32],
        next_states: &[u32],
        dones: &[u8],
    ) -> Result<(), QError> {
        let n = check_shape(states, actions, rewards, next_states, dones)?;
        for i in 0..n {
            self.check(i, states[i], actions[i], rewards[i], next_states[i])?;
        }
        Ok(())
    }

    /// One comparison chain on the fast path; the error is only built when something is wrong.
    #[inline]
    fn check(&self, index: usize, s: u32, a: u32, r: f32, s2: u32) -> Result<(), QError> {
        let (states, actions) = (self.a.states() as u32, self.a.actions() as u32);
        if s < states && a < actions && s2 < states && r.is_finite() {
            return Ok(());
        }
        self.a.check_state(s)?;
        self.a.check_action(a)?;
        self.a.check_state(s2)?;
        Err(QError::NonFiniteReward { index })
    }

    /// One TD step on checked indices; returns the TD error before the step.
    #[inline]
    fn apply(&mut self, s: usize, a: usize, r: f32, s2: usize, done: bool) -> f32 {
        let (alpha, gamma, stride) = (self.alpha, self.gamma, self.a.stride());
        let i = s * stride + a;
        match self.rule {
            Rule::QLearning => q_step(&self.k, &mut self.a, alpha, gamma, s, a, r, s2, done),
            Rule::ExpectedSarsa { epsilon } => {
                let next = if done {
                    0.0
                } else {
                    let row = self.a.row_at(s2);
                    let max = self.k.max_f32(row).unwrap_or(0.0);
                    let sum = self.k.dot_f32(row, &self.ones).unwrap_or(0.0);
                    (1.0 - epsilon) * max + epsilon * sum / row.len() as f32
                };
                let q = &mut self.a.q[i];
                let td = r + gamma * next - *q;
                *q += alpha * td;
                td
            }
            Rule::DoubleQ => {
                let heads = self.rng.next_u64() & 1 == 0;
                let Some(b) = self.b.as_mut() else { return 0.0 };
                let (learn, judge) = if heads {
                    (&mut self.a, &*b)
                } else {
                    (b, &self.a)
                };
                let next = if done {
                    0.0
                } else {
                    let best = self.k.argmax_f32(learn.row_at(s2)).unwrap_or(0);
                    judge.row_at(s2)[best]
                };
                let q = &mut learn.q[i];
                let td = r + gamma * next - *q;
                *q += alpha * td;
                td
            }
        }
    }

    /// The greedy action (first of equal values); under double Q-learning, of `Q_A + Q_B`.
    pub fn greedy(&mut self, state: u32) -> Result<u32, QError> {
        let s = self.a.check_state(state)?;
        let k = self.k;
        Ok(k.argmax_f32(self.acting_row(s)).unwrap_or(0) as u32)
    }

    fn acting_row(&mut self, s: usize) -> &[f32] {
        match &self.b {
            None => self.a.row_at(s),
            Some(b) => {
                for ((c, x), y) in self
                    .combined
                    .iter_mut()
                    .zip(self.a.row_at(s))
                    .zip(b.row_at(s))
                {
                    *c = x + y;
                }
                &self.combined
            }
        }
    }

    /// Picks an action in `state` under `policy`, advancing the schedule clock by one.
    pub fn act(&mut self, state: u32, policy: &Policy) -> Result<u32, QError> {
        policy.validate()?;
        let s = self.a.check_state(state)?;
        let step = self.steps;
        self.steps += 1;
        let n = self.a.actions() as u32;
        match policy {
            Policy::Greedy => self.greedy(state),
            Policy::EpsilonGreedy(schedule) => {
                if self.rng.next_f32() < schedule.at(step) {
                    Ok(self.rng.below(n))
                } else {
                    self.greedy(state)
                }
            }
            Policy::Softmax { temperature } => {
                let t = *temperature;
                let u = self.rng.next_f32();
                let k = self.k;
                let row = self.acting_row(s);
                let max = k.max_f32(row).unwrap_or(0.0);
                let total: f32 = row.iter().map(|q| ((q - max) / t).exp()).sum();
                let mut pick = u * total;
                for (a, q) in row.iter().enumerate() {
                    pick -= ((q - max) / t).exp();
                    if pick < 0.0 {
                        return Ok(a as u32);
                    }
                }
                Ok(n - 1)
            }
        }
    }
}

/// One Q-learning step on checked indices; returns the TD error before it.
#[allow(clippy::too_many_arguments)]
#[inline]
fn q_step(
    k: &Kernels,
    t: &mut QTable,
    alpha: f32,
    gamma: f32,
    s: usize,
    a: usize,
    r: f32,
    s2: usize,
    done: bool,
) -> f32 {
    let (stride, width) = (t.stride(), t.actions());
    let next = if done {
        0.0
    } else {
        let row = s2 * stride;
        k.max_f32(&t.q[row..row + width]).unwrap_or(0.0)
    };
    let cell = &mut t.q[s * stride + a];
    let td = r + gamma * next - *cell;
    *cell += alpha * td;
    td
}

fn stats(n: usize, abs: f64) -> BatchStats {
    BatchStats {
        updates: n,
        mean_abs_td: if n == 0 { 0.0 } else { (abs / n as f64) as f32 },
    }
}

/// The batch's length, if its five arrays have one.
fn check_shape(
    states: &[u32],
    actions: &[u32],
    rewards: &[f32],
    next_states: &[u32],
    dones: &[u8],
) -> Result<usize, QError> {
    let n = states.len();
    if [actions.len(), rewards.len(), next_states.len(), dones.len()]
        .iter()
        .any(|&l| l != n)
    {
        return Err(QError::BatchShape(format!(
            "states {n}, actions {}, rewards {}, next_states {}, dones {}",
            actions.len(),
            rewards.len(),
            next_states.len(),
            dones.len()
        )));
    }
    Ok(n)
}
