//! Learning against known optima (dynamic programming over Gymnasium's transition tables):
//! CliffWalking's greedy return is -13; FrozenLake 4x4 and 8x8 (slippery) reach the success
//! rates the issue asks for, checked exactly (policy evaluation) and over 10,000 episodes.
//! Every run is seeded; the seed is printed.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;
use common::*;
use elex_qlearning::*;
use elex_simd::SplitMix64;

const SEED: u64 = 1;

/// Episodes of ε-greedy experience (ε from 1 down to 0.05); each episode is applied as one batch,
/// then a batch of 64 transitions replayed from a ring of 100,000; α drops 4x halfway.
fn train(env: &Env, episodes: usize, max_steps: usize, cfg: LearnerConfig) -> Learner {
    let alpha = cfg.alpha;
    let mut l = Learner::new(cfg).unwrap();
    let mut rng = SplitMix64(SEED ^ 0x5eed);
    let policy = Policy::EpsilonGreedy(Schedule::Linear {
        start: 1.0,
        end: 0.05,
        steps: episodes as u64 * 30,
    });
    let mut traj = TrajectoryBuffer::new();
    let mut replay = ReplayBuffer::new(100_000, SEED);
    let mut sample = Vec::new();
    for ep in 0..episodes {
        traj.clear();
        let mut s = env.start;
        for _ in 0..max_steps {
            let a = l.act(s as u32, &policy).unwrap() as usize;
            let (s2, r, done) = env.step(&mut rng, s, a);
            traj.push(Transition {
                state: s as u32,
                action: a as u32,
                reward: r,
                next_state: s2 as u32,
                done,
            });
            s = s2;
            if done {
                break;
            }
        }
        l.update_batch(traj.steps()).unwrap();
        traj.steps().iter().for_each(|t| replay.push(*t));
        replay.sample_into(64, &mut sample);
        l.update_batch(&sample).unwrap();
        if ep == episodes / 2 {
            l.set_alpha(alpha / 4.0).unwrap();
        }
    }
    l
}

fn greedy_policy(l: &mut Learner, states: usize) -> Vec<usize> {
    (0..states)
        .map(|s| l.greedy(s as u32).unwrap() as usize)
        .collect()
}

/// Success rate of a policy over `episodes` simulated episodes of at most `horizon` steps.
fn simulate(env: &Env, pi: &[usize], episodes: usize, horizon: usize) -> f64 {
    let mut rng = SplitMix64(SEED ^ 0xe7a1);
    let mut wins = 0;
    for _ in 0..episodes {
        let mut s = env.start;
        for _ in 0..horizon {
            let (s2, r, done) = env.step(&mut rng, s, pi[s]);
            s = s2;
            if done {
                wins += usize::from(r > 0.0);
                break;
            }
        }
    }
    wins as f64 / episodes as f64
}

#[test]
fn cliff_walking_greedy_return_is_minus_13() {
    let env = cliff_walking();
    for rule in [
        Rule::QLearning,
        Rule::ExpectedSarsa { epsilon: 0.1 },
        Rule::DoubleQ,
    ] {
        let mut cfg = LearnerConfig::new(48, 4);
        (cfg.alpha, cfg.gamma, cfg.rule, cfg.seed) = (0.5, 1.0, rule, Seed::Fixed(SEED));
        let mut l = Learner::new(cfg).unwrap();
        let mut rng = SplitMix64(SEED);
        // Double Q-learning splits the updates over two tables and each table evaluates the
        // other's argmax, so both must see the edge path: it needs more episodes and more
        // exploration (with ε = 0.1 it settles on -17 after 3,000 episodes, -15 after 20,000).
        let (episodes, eps) = if rule == Rule::DoubleQ {
            (3000, 0.3)
        } else {
            (500, 0.1)
        };
        let policy = Policy::EpsilonGreedy(Schedule::Constant(eps));
        for _ in 0..episodes {
            let mut s = env.start;
            for _ in 0..1000 {
                let a = l.act(s as u32, &policy).unwrap() as usize;
                let (s2, r, done) = env.step(&mut rng, s, a);
                l.update(&Transition {
                    state: s as u32,
                    action: a as u32,
                    reward: r,
                    next_state: s2 as u32,
                    done,
                })
                .unwrap();
                s = s2;
                if done {
                    break;
                }
            }
        }
        let (mut s, mut ret) = (env.start, 0.0);
        for _ in 0..100 {
            let a = l.greedy(s as u32).unwrap() as usize;
            let (s2, r, done) = env.step(&mut rng, s, a);
            ret += r;
            s = s2;
            if done {
                break;
            }
        }
        println!("seed {SEED}: CliffWalking {rule:?}: greedy return {ret}");
        match rule {
            // Expected SARSA learns the value of its ε-greedy target: the safer path, still
            // reaching the goal; Q-learning and double Q learn the optimal edge path.
            Rule::ExpectedSarsa { .. } => {
                assert!((-17.0..=-13.0).contains(&ret), "{rule:?}: {ret}")
            }
            _ => assert_eq!(ret, -13.0, "{rule:?}"),
        }
    }
}

fn check_lake(map: &[&str], horizon: usize, episodes: usize, min: f64, rule: Rule) {
    let env = frozen_lake(map);
    let optimum = success_within(&env, horizon, None);
    let mut cfg = LearnerConfig::new(env.states, 4);
    (cfg.alpha, cfg.gamma, cfg.rule, cfg.seed) = (0.05, 0.995, rule, Seed::Fixed(SEED));
    let mut l = train(&env, episodes, horizon, cfg);
    let pi = greedy_policy(&mut l, env.states);
    let exact = success_within(&env, horizon, Some(&pi));
    let simulated = simulate(&env, &pi, 10_000, horizon);
    println!(
        "seed {SEED}: FrozenLake {}x{} {rule:?}: greedy success within {horizon} steps: exact {exact:.4}, \
         10,000 episodes {simulated:.4} (optimum {optimum:.4})",
        map.len(),
        map.len()
    );
    assert!(
        exact >= min && simulated >= min,
        "{exact:.4} / {simulated:.4} < {min}"
    );
}

#[test]
fn frozen_lake_4x4_reaches_0_72() {
    for rule in [
        Rule::QLearning,
        Rule::ExpectedSarsa { epsilon: 0.05 },
        Rule::DoubleQ,
    ] {
        check_lake(&LAKE_4X4, 100, 20_000, 0.72, rule);
    }
}

#[test]
fn frozen_lake_8x8_reaches_0_88() {
    check_lake(&LAKE_8X8, 200, 100_000, 0.88, Rule::QLearning);
}

#[test]
fn the_optima_match_the_published_values() {
    assert!((success_within(&frozen_lake(&LAKE_4X4), 100, None) - 0.7442).abs() < 5e-5);
    assert!((success_within(&frozen_lake(&LAKE_8X8), 200, None) - 0.9132).abs() < 5e-5);
}
