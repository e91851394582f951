//! Criterion benches: a get-or-put on a Zipf(1.0) key stream per policy (`ops/<policy>`), and one
//! adaptive eviction of 10% of 100,000 entries into the spill outbox (`evict_10pct/<policy>`).
//! A fixed SEED; the p99 of the eviction comes from `cargo run --release -p elex-cache --example
//! evict_p99`.
#![allow(missing_docs)]

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use elex_cache::{BytesWeigher, Cache, CacheConfig, Lookup, Policy, UnitWeigher};
use elex_simd::SplitMix64;
use std::hint::black_box;

const SEED: u64 = 0x5eed;

/// Zipf(1.0) over `n` keys by inverse transform on the harmonic CDF.
fn zipf_keys(n: usize, count: usize) -> Vec<u64> {
    let mut cdf = Vec::with_capacity(n);
    let mut acc = 0.0f64;
    for r in 1..=n {
        acc += 1.0 / r as f64;
        cdf.push(acc);
    }
    let mut rng = SplitMix64(SEED);
    (0..count)
        .map(|_| {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * acc;
            cdf.partition_point(|&c| c < u) as u64
        })
        .collect()
}

fn filled(policy: Policy) -> Cache<u64, Vec<u8>, BytesWeigher> {
    let w = BytesWeigher { overhead: 64 };
    let mut c = Cache::new(
        CacheConfig {
            policy,
            ..CacheConfig::with_budget(100_000 * 128)
        },
        w,
    )
    .unwrap();
    for k in 0..100_000u64 {
        c.put(k, vec![k as u8; 64]).unwrap();
    }
    c
}

fn benches(c: &mut Criterion) {
    let keys = zipf_keys(100_000, 200_000);
    let mut g = c.benchmark_group("ops");
    g.throughput(Throughput::Elements(keys.len() as u64));
    for policy in [Policy::TinyLfu, Policy::S3Fifo, Policy::Lru] {
        g.bench_function(BenchmarkId::from_parameter(policy.name()), |b| {
            b.iter_batched(
                || {
                    Cache::new(
                        CacheConfig {
                            policy,
                            allow_drop: true,
                            ..CacheConfig::with_budget(10_000)
                        },
                        UnitWeigher,
                    )
                    .unwrap()
                },
                |mut cache| {
                    for &k in &keys {
                        if !matches!(cache.get(&k), Lookup::Hit(_)) {
                            cache.put(k, k).unwrap();
                        }
                    }
                    black_box(cache.len())
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
    let mut g = c.benchmark_group("evict_10pct");
    g.sample_size(20);
    for policy in [Policy::TinyLfu, Policy::S3Fifo, Policy::Lru] {
        g.bench_function(BenchmarkId::from_parameter(policy.name()), |b| {
            b.iter_batched(
                || filled(policy),
                |mut cache| {
                    let r = cache.evict_share(0.10);
                    black_box(r);
                    cache
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(all, benches);
criterion_main!(all);
