//! Gymnasium's CliffWalking-v0 and FrozenLake-v1 as transition tables, with dynamic programming
//! for their optimal values.
#![allow(dead_code)]

use elex_simd::SplitMix64;

/// One outcome of an action: (probability, next state, reward, terminated).
pub type Outcome = (f64, usize, f32, bool);

/// `P[s][a] = [Outcome]`, as Gymnasium builds it.
pub struct Env {
    pub states: usize,
    pub actions: usize,
    pub start: usize,
    pub p: Vec<Vec<Vec<Outcome>>>,
}

impl Env {
    /// Samples one step.
    pub fn step(&self, rng: &mut SplitMix64, s: usize, a: usize) -> (usize, f32, bool) {
        let outcomes = &self.p[s][a];
        let mut u = rng.next_f32() as f64;
        for &(prob, s2, r, done) in outcomes {
            if u < prob {
                return (s2, r, done);
            }
            u -= prob;
        }
        let &(_, s2, r, done) = outcomes.last().unwrap();
        (s2, r, done)
    }
}

/// CliffWalking 4 x 12: actions up, right, down, left; -1 a step; the cliff costs -100 and sends
/// the agent back to the start (not terminal); reaching the goal ends the episode.
pub fn cliff_walking() -> Env {
    let (rows, cols) = (4i32, 12i32);
    let start = 36;
    let mut p = vec![vec![Vec::new(); 4]; 48];
    for (s, ps) in p.iter_mut().enumerate() {
        let (r, c) = (s as i32 / cols, s as i32 % cols);
        for (pa, (dr, dc)) in ps.iter_mut().zip([(-1, 0), (0, 1), (1, 0), (0, -1)]) {
            let (nr, nc) = ((r + dr).clamp(0, rows - 1), (c + dc).clamp(0, cols - 1));
            let ns = (nr * cols + nc) as usize;
            let out = if (37..=46).contains(&ns) {
                (1.0, start, -100.0, false)
            } else {
                (1.0, ns, -1.0, ns == 47)
            };
            pa.push(out);
        }
    }
    Env {
        states: 48,
        actions: 4,
        start,
        p,
    }
}

pub const LAKE_4X4: [&str; 4] = ["SFFF", "FHFH", "FFFH", "HFFG"];
pub const LAKE_8X8: [&str; 8] = [
    "SFFFFFFF", "FFFFFFFF", "FFFHFFFF", "FFFFFHFF", "FFFHFFFF", "FHHFFFHF", "FHFFHFHF", "FFFHFFFG",
];

/// FrozenLake, slippery: actions left, down, right, up; the intended move or either
/// perpendicular one, each with probability 1/3; reward 1 on reaching G; H and G end the episode.
pub fn frozen_lake(map: &[&str]) -> Env {
    let (rows, cols) = (map.len() as i32, map[0].len() as i32);
    let cell = |s: usize| map[s / cols as usize].as_bytes()[s % cols as usize];
    let n = (rows * cols) as usize;
    let mut p = vec![vec![Vec::new(); 4]; n];
    for (s, ps) in p.iter_mut().enumerate() {
        for (a, pa) in ps.iter_mut().enumerate() {
            if matches!(cell(s), b'H' | b'G') {
                pa.push((1.0, s, 0.0, true));
                continue;
            }
            for b in [(a + 3) % 4, a, (a + 1) % 4] {
                let (r, c) = (s as i32 / cols, s as i32 % cols);
                let (dr, dc) = [(0, -1), (1, 0), (0, 1), (-1, 0)][b];
                let (nr, nc) = ((r + dr).clamp(0, rows - 1), (c + dc).clamp(0, cols - 1));
                let ns = (nr * cols + nc) as usize;
                let t = cell(ns);
                pa.push((
                    1.0 / 3.0,
                    ns,
                    if t == b'G' { 1.0 } else { 0.0 },
                    matches!(t, b'H' | b'G'),
                ));
            }
        }
    }
    Env {
        states: n,
        actions: 4,
        start: 0,
        p,
    }
}

/// Probability of reaching the goal within `horizon` steps from the start: optimal over all
/// (time-dependent) policies when `policy` is None, else for the given stationary policy.
pub fn success_within(env: &Env, horizon: usize, policy: Option<&[usize]>) -> f64 {
    let mut v = vec![0.0f64; env.states];
    for _ in 0..horizon {
        let prev = v.clone();
        for s in 0..env.states {
            let value = |a: usize| -> f64 {
                env.p[s][a]
                    .iter()
                    .map(|&(pr, s2, r, done)| pr * (r as f64 + if done { 0.0 } else { prev[s2] }))
                    .sum()
            };
            v[s] = match policy {
                Some(pi) => value(pi[s]),
                None => (0..env.actions).map(value).fold(f64::MIN, f64::max),
            };
        }
    }
    v[env.start]
}
