//! Criterion benches: one batch TD update of 100, 1,000 and 10,000 transitions with 4, 16 and 64
//! actions, on every ISA this host has (`Kernels::force`); ids `batch/<isa>/<actions>x<size>`.
//! 1,000 states, a fixed SEED, identical batches for every ISA.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use elex_qlearning::{Learner, LearnerConfig, Transition};
use elex_simd::{Kernels, SplitMix64};
use std::hint::black_box;

const SEED: u64 = 0x5eed;
const STATES: u32 = 1000;

fn batch(n: usize, actions: u32) -> Vec<Transition> {
    let mut r = SplitMix64(SEED);
    (0..n)
        .map(|_| Transition {
            state: r.below(STATES),
            action: r.below(actions),
            reward: r.next_f32() * 2.0 - 1.0,
            next_state: r.below(STATES),
            done: r.below(20) == 0,
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch");
    for actions in [4u32, 16, 64] {
        for size in [100usize, 1_000, 10_000] {
            let b = batch(size, actions);
            for isa in Kernels::available() {
                let cfg = LearnerConfig::new(STATES as usize, actions as usize);
                let mut l = Learner::with_kernels(cfg, Kernels::force(isa).unwrap()).unwrap();
                g.throughput(Throughput::Elements(size as u64));
                g.bench_function(
                    BenchmarkId::new(isa.name(), format!("{actions}x{size}")),
                    |bench| bench.iter(|| black_box(l.update_batch(black_box(&b)).unwrap())),
                );
            }
        }
    }
    g.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
