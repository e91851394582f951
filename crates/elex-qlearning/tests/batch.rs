//! The batch update equals applying the transitions one at a time with a plain scalar reference
//! (written here independently of the crate), bit for bit, also when a batch repeats (s, a) pairs
//! and reads rows it wrote; and bad input rejects the whole batch.
#![cfg(not(target_arch = "wasm32"))]

use elex_qlearning::*;
use elex_simd::{Isa, Kernels};
use proptest::prelude::*;

/// The obvious sequential Q-learning update.
fn reference(q: &mut [f32], actions: usize, batch: &[Transition], alpha: f32, gamma: f32) {
    for t in batch {
        let row = &q[t.next_state as usize * actions..(t.next_state as usize + 1) * actions];
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let next = if t.done { 0.0 } else { max };
        let i = t.state as usize * actions + t.action as usize;
        q[i] += alpha * (t.reward + gamma * next - q[i]);
    }
}

fn transition(states: u32, actions: u32) -> impl Strategy<Value = Transition> {
    (
        0..states,
        0..actions,
        -10.0f32..10.0,
        0..states,
        any::<bool>(),
    )
        .prop_map(|(s, a, r, n, d)| Transition {
            state: s,
            action: a,
            reward: r,
            next_state: n,
            done: d,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn batch_equals_sequential_reference(
        actions in prop::sample::select(vec![1usize, 3, 4, 16, 17, 64]),
        // Few states so batches revisit the same (s, a) and read rows they wrote.
        batch in prop::collection::vec(transition(5, 1), 0..200),
        alpha in 0.01f32..1.0,
        gamma in 0.0f32..=1.0,
    ) {
        let batch: Vec<Transition> =
            batch.iter().enumerate().map(|(i, t)| Transition { action: (i % actions) as u32, ..*t }).collect();
        for isa in Kernels::available() {
            let mut cfg = LearnerConfig::new(5, actions);
            (cfg.alpha, cfg.gamma, cfg.initial) = (alpha, gamma, 0.25);
            let mut l = Learner::with_kernels(cfg, Kernels::force(isa).unwrap()).unwrap();
            let mut q = vec![0.25f32; 5 * actions];
            reference(&mut q, actions, &batch, alpha, gamma);
            let stats = l.update_batch(&batch).unwrap();
            prop_assert_eq!(stats.updates, batch.len());
            let got: Vec<f32> = l.table().values().collect();
            prop_assert_eq!(&got, &q, "{:?}", isa);
            // The same batch as parallel arrays gives the same table.
            let mut l2 = Learner::with_kernels(LearnerConfig { alpha, gamma, initial: 0.25, ..LearnerConfig::new(5, actions) }, Kernels::force(isa).unwrap()).unwrap();
            let cols = |f: fn(&Transition) -> u32| batch.iter().map(f).collect::<Vec<u32>>();
            let rewards: Vec<f32> = batch.iter().map(|t| t.reward).collect();
            let dones: Vec<u8> = batch.iter().map(|t| t.done as u8).collect();
            l2.update_batch_arrays(&cols(|t| t.state), &cols(|t| t.action), &rewards, &cols(|t| t.next_state), &dones).unwrap();
            prop_assert_eq!(l2.table(), l.table());
        }
    }
}

#[test]
fn a_bad_transition_rejects_the_whole_batch() {
    let mut l = Learner::new(LearnerConfig::new(4, 3)).unwrap();
    let ok = Transition {
        state: 1,
        action: 2,
        reward: 1.0,
        next_state: 3,
        done: false,
    };
    let before = l.to_bytes();
    for (bad, err) in [
        (
            Transition { state: 4, ..ok },
            QError::StateOutOfRange {
                state: 4,
                states: 4,
            },
        ),
        (
            Transition {
                next_state: 9,
                ..ok
            },
            QError::StateOutOfRange {
                state: 9,
                states: 4,
            },
        ),
        (
            Transition { action: 3, ..ok },
            QError::ActionOutOfRange {
                action: 3,
                actions: 3,
            },
        ),
        (
            Transition {
                reward: f32::NAN,
                ..ok
            },
            QError::NonFiniteReward { index: 1 },
        ),
        (
            Transition {
                reward: f32::INFINITY,
                ..ok
            },
            QError::NonFiniteReward { index: 1 },
        ),
    ] {
        assert_eq!(l.update_batch(&[ok, bad, ok]).unwrap_err(), err);
        assert_eq!(l.to_bytes(), before, "a rejected batch changed the table");
    }
    assert_eq!(l.update_batch(&[]).unwrap(), BatchStats::default());
    assert!(matches!(
        l.update_batch_arrays(&[0], &[0, 1], &[1.0], &[0], &[0]),
        Err(QError::BatchShape(_))
    ));
    assert_eq!(l.to_bytes(), before);
}

#[test]
fn parameters_are_checked() {
    let bad = |f: &dyn Fn(&mut LearnerConfig)| {
        let mut c = LearnerConfig::new(4, 2);
        f(&mut c);
        Learner::new(c).unwrap_err()
    };
    assert_eq!(bad(&|c| c.gamma = 1.5), QError::GammaOutOfRange(1.5));
    assert_eq!(bad(&|c| c.gamma = -0.1), QError::GammaOutOfRange(-0.1));
    assert_eq!(bad(&|c| c.alpha = 0.0), QError::AlphaOutOfRange(0.0));
    assert_eq!(bad(&|c| c.alpha = 1.01), QError::AlphaOutOfRange(1.01));
    assert!(matches!(
        bad(&|c| c.alpha = f32::NAN),
        QError::AlphaOutOfRange(_)
    ));
    assert!(matches!(bad(&|c| c.states = 0), QError::InvalidTable(_)));
    assert!(matches!(
        bad(&|c| c.initial = f32::NAN),
        QError::InvalidTable(_)
    ));
    assert!(matches!(
        bad(&|c| c.rule = Rule::ExpectedSarsa { epsilon: 2.0 }),
        QError::InvalidPolicy(_)
    ));
    let mut l = Learner::new(LearnerConfig::new(4, 2)).unwrap();
    assert_eq!(l.set_alpha(2.0), Err(QError::AlphaOutOfRange(2.0)));
    assert_eq!(
        l.set_gamma(f32::NAN).unwrap_err().to_string(),
        "gamma must be in [0, 1], got NaN"
    );
    assert!(matches!(
        l.act(9, &Policy::Greedy),
        Err(QError::StateOutOfRange { .. })
    ));
    assert!(matches!(
        l.act(0, &Policy::Softmax { temperature: 0.0 }),
        Err(QError::InvalidPolicy(_))
    ));
    assert!(matches!(
        l.act(0, &Policy::EpsilonGreedy(Schedule::Constant(1.5))),
        Err(QError::InvalidPolicy(_))
    ));
}

#[test]
fn scalar_and_simd_learners_agree() {
    let batch: Vec<Transition> = (0..1000u32)
        .map(|i| Transition {
            state: i % 13,
            action: (i * 7) % 16,
            reward: (i % 5) as f32 - 2.0,
            next_state: (i * 3) % 13,
            done: i % 11 == 0,
        })
        .collect();
    let run = |isa| {
        let mut l = Learner::with_kernels(LearnerConfig::new(13, 16), Kernels::force(isa).unwrap())
            .unwrap();
        l.update_batch(&batch).unwrap();
        l.to_bytes()
    };
    let scalar = run(Isa::Scalar);
    for isa in Kernels::available() {
        assert_eq!(run(isa), scalar, "{isa:?}");
    }
}
