//! Policies, schedules, buffers and snapshots.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use elex_qlearning::*;

fn learner(rule: Rule) -> Learner {
    let mut cfg = LearnerConfig::new(3, 4);
    cfg.rule = rule;
    cfg.seed = Seed::Fixed(9);
    let mut l = Learner::new(cfg).unwrap();
    let batch: Vec<Transition> = (0..40u32)
        .map(|i| Transition {
            state: i % 3,
            action: i % 4,
            reward: (i % 4) as f32,
            next_state: (i + 1) % 3,
            done: i % 9 == 0,
        })
        .collect();
    l.update_batch(&batch).unwrap();
    l
}

#[test]
fn schedules_decay_as_documented() {
    let lin = Schedule::Linear {
        start: 1.0,
        end: 0.1,
        steps: 10,
    };
    assert_eq!(
        (lin.at(0), lin.at(5), lin.at(10), lin.at(1000)),
        (1.0, 0.55, 0.1, 0.1)
    );
    let exp = Schedule::Exponential {
        start: 1.0,
        end: 0.0,
        decay: 0.5,
    };
    assert_eq!((exp.at(0), exp.at(1), exp.at(3)), (1.0, 0.5, 0.125));
    assert_eq!(Schedule::Constant(0.2).at(77), 0.2);
}

#[test]
fn policies_pick_as_documented() {
    let mut l = Learner::new(LearnerConfig::new(1, 4)).unwrap();
    let t = |a, r| Transition {
        state: 0,
        action: a,
        reward: r,
        next_state: 0,
        done: true,
    };
    l.update_batch(&[t(0, 1.0), t(1, 3.0), t(2, 3.0), t(3, 2.0)])
        .unwrap();
    // Greedy: the first of the equal best values.
    assert_eq!(l.act(0, &Policy::Greedy).unwrap(), 1);
    // ε = 0 is greedy, ε = 1 uniform.
    let mut counts = [0usize; 4];
    for _ in 0..4000 {
        assert_eq!(
            l.act(0, &Policy::EpsilonGreedy(Schedule::Constant(0.0)))
                .unwrap(),
            1
        );
        counts[l
            .act(0, &Policy::EpsilonGreedy(Schedule::Constant(1.0)))
            .unwrap() as usize] += 1;
    }
    assert!(
        counts.iter().all(|&c| (800..1200).contains(&c)),
        "{counts:?}"
    );
    // Softmax follows exp(Q / T): Q = [0.1, 0.3, 0.3, 0.2] after one α = 0.1 step each.
    let mut soft = [0usize; 4];
    for _ in 0..20_000 {
        soft[l.act(0, &Policy::Softmax { temperature: 0.1 }).unwrap() as usize] += 1;
    }
    let w: Vec<f64> = [0.1f64, 0.3, 0.3, 0.2]
        .iter()
        .map(|q| (q / 0.1).exp())
        .collect();
    let total: f64 = w.iter().sum();
    for a in 0..4 {
        let expected = w[a] / total * 20_000.0;
        assert!(
            (soft[a] as f64 - expected).abs() < 0.1 * expected + 60.0,
            "{soft:?}"
        );
    }
    assert_eq!(l.steps(), 1 + 4000 * 2 + 20_000);
}

#[test]
fn replay_and_trajectory_buffers() {
    let t = |i: u32| Transition {
        state: i,
        action: 0,
        reward: i as f32,
        next_state: i,
        done: false,
    };
    let mut r = ReplayBuffer::new(3, 1);
    let mut out = vec![t(99)];
    r.sample_into(5, &mut out);
    assert!(out.is_empty());
    for i in 0..5 {
        r.push(t(i));
    }
    assert_eq!((r.len(), r.capacity()), (3, 3));
    r.sample_into(300, &mut out);
    assert_eq!(out.len(), 300);
    assert!(
        out.iter().all(|x| (2..5).contains(&x.state)),
        "the two oldest were evicted"
    );
    for s in 2..5 {
        assert!(out.iter().any(|x| x.state == s));
    }
    let mut traj = TrajectoryBuffer::new();
    traj.push(t(1));
    traj.push(t(2));
    traj.end_episode();
    traj.end_episode();
    traj.push(t(3));
    traj.end_episode();
    let eps: Vec<usize> = traj.episodes().map(|e| e.len()).collect();
    assert_eq!(eps, vec![2, 1]);
    assert_eq!(traj.returns(0.5), vec![1.0 + 0.5 * 2.0, 2.0, 3.0]);
}

#[test]
fn snapshots_round_trip_and_reject_damage() {
    for rule in [
        Rule::QLearning,
        Rule::ExpectedSarsa { epsilon: 0.2 },
        Rule::DoubleQ,
    ] {
        let mut l = learner(rule);
        let bytes = l.to_bytes();
        let mut back = Learner::from_bytes(&bytes).unwrap();
        assert_eq!(back.to_bytes(), bytes);
        assert_eq!(back.rule(), rule);
        // The random stream and schedule clock continue where they were.
        let p = Policy::EpsilonGreedy(Schedule::Constant(0.5));
        let a: Vec<u32> = (0..50).map(|i| l.act(i % 3, &p).unwrap()).collect();
        let b: Vec<u32> = (0..50).map(|i| back.act(i % 3, &p).unwrap()).collect();
        assert_eq!(a, b);
        for cut in 0..bytes.len() {
            assert!(Learner::from_bytes(&bytes[..cut]).is_err(), "cut {cut}");
        }
        for at in 0..bytes.len() {
            let mut d = bytes.clone();
            d[at] ^= 0x24;
            assert!(Learner::from_bytes(&d).is_err(), "flip {at}");
        }
    }
    let mut d = learner(Rule::QLearning).to_bytes();
    d[8] = 7;
    assert_eq!(
        Learner::from_bytes(&d).unwrap_err(),
        QError::UnsupportedVersion {
            found: 7,
            supported: 1
        }
    );
    assert_eq!(
        Learner::from_bytes(b"NOTQLRN!xxxxxxxx").unwrap_err(),
        QError::BadMagic
    );
}
