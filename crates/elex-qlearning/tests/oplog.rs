//! The learner's op log: updates and actions encoded, decoded and replayed onto a snapshot give
//! the learner that made them, byte for byte (for every rule); a record that would not apply
//! whole changes nothing; damaged payloads are errors, never panics.
#![cfg(not(target_arch = "wasm32"))]

use elex_qlearning::*;

fn mix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn learner(rule: Rule) -> Learner {
    let mut cfg = LearnerConfig::new(20, 4);
    cfg.seed = Seed::Fixed(3);
    cfg.rule = rule;
    Learner::new(cfg).unwrap()
}

fn play(l: &mut Learner, seed: u64, records: usize) -> Vec<(u32, Vec<u8>)> {
    let mut s = seed;
    let mut out = Vec::new();
    for _ in 0..records {
        let mut log = LearnerLog::default();
        for _ in 0..1 + mix(&mut s) % 3 {
            if mix(&mut s).is_multiple_of(3) {
                let (state, eps) = (
                    (mix(&mut s) % 20) as u32,
                    (mix(&mut s) % 100) as f32 / 100.0,
                );
                l.act(state, &Policy::EpsilonGreedy(Schedule::Constant(eps)))
                    .unwrap();
                log.act(state, eps);
            } else {
                let n = (mix(&mut s) % 30) as usize;
                let st: Vec<u32> = (0..n).map(|_| (mix(&mut s) % 20) as u32).collect();
                let ac: Vec<u32> = (0..n).map(|_| (mix(&mut s) % 4) as u32).collect();
                let rw: Vec<f32> = (0..n)
                    .map(|_| (mix(&mut s) % 200) as f32 / 10.0 - 10.0)
                    .collect();
                let nx: Vec<u32> = (0..n).map(|_| (mix(&mut s) % 20) as u32).collect();
                let dn: Vec<u8> = (0..n)
                    .map(|_| mix(&mut s).is_multiple_of(5) as u8)
                    .collect();
                l.update_batch_arrays(&st, &ac, &rw, &nx, &dn).unwrap();
                log.update(&st, &ac, &rw, &nx, &dn);
            }
        }
        out.push(log.take());
    }
    out
}

#[test]
fn a_replayed_log_gives_the_same_learner_byte_for_byte() {
    for rule in [
        Rule::QLearning,
        Rule::ExpectedSarsa { epsilon: 0.1 },
        Rule::DoubleQ,
    ] {
        for seed in 0..5 {
            let mut live = learner(rule);
            play(&mut live, seed + 100, 3);
            let checkpoint = live.to_bytes();
            let records = play(&mut live, seed, 20);
            let mut replayed = Learner::from_bytes(&checkpoint).unwrap();
            for (count, payload) in &records {
                let ops = decode_learner_ops(payload, *count).unwrap();
                replayed.apply_ops(&ops).unwrap();
            }
            assert_eq!(replayed.to_bytes(), live.to_bytes(), "{rule:?} seed {seed}");
        }
    }
}

#[test]
fn a_record_that_would_not_apply_whole_changes_nothing() {
    let mut l = learner(Rule::QLearning);
    play(&mut l, 1, 5);
    let before = l.to_bytes();
    let good = LearnerOp::Update {
        states: vec![1],
        actions: vec![1],
        rewards: vec![1.0],
        next_states: vec![2],
        dones: vec![0],
    };
    let bad = [
        vec![
            good.clone(),
            LearnerOp::Act {
                state: 20,
                epsilon: 0.1,
            },
        ],
        vec![
            good.clone(),
            LearnerOp::Act {
                state: 1,
                epsilon: 1.5,
            },
        ],
        vec![
            good.clone(),
            LearnerOp::Update {
                states: vec![1],
                actions: vec![4],
                rewards: vec![0.0],
                next_states: vec![0],
                dones: vec![0],
            },
        ],
        vec![LearnerOp::Update {
            states: vec![1, 2],
            actions: vec![1],
            rewards: vec![0.0],
            next_states: vec![0],
            dones: vec![0],
        }],
    ];
    for ops in &bad {
        assert!(l.apply_ops(ops).is_err(), "{ops:?}");
        assert_eq!(l.to_bytes(), before);
    }
}

#[test]
fn damaged_payloads_are_errors_never_panics() {
    let mut l = learner(Rule::DoubleQ);
    for (count, payload) in play(&mut l, 7, 10).iter().filter(|(_, p)| p.len() < 600) {
        for len in 0..payload.len() {
            assert!(decode_learner_ops(&payload[..len], *count).is_err());
        }
        for bit in 0..payload.len() * 8 {
            let mut p = payload.clone();
            p[bit / 8] ^= 1 << (bit % 8);
            let _ = decode_learner_ops(&p, *count);
        }
        assert!(decode_learner_ops(payload, count + 1).is_err());
    }
    let mut p = vec![1u8];
    p.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(decode_learner_ops(&p, 1).is_err());
}
