//! Times one adaptive eviction of 10% of 100,000 entries (64-byte values) in a running cache: fill
//! to 100,000 entries, then repeatedly evict 10% into the spill outbox (timed), hand the batch
//! to a store (`take_spills`, timed apart), and put 10,000 new entries back. Prints p50, p99 and
//! max per policy.
//!
//! `cargo run --release -p elex-cache --example evict_p99 [runs]`

use std::time::Instant;

use elex_cache::{BytesWeigher, Cache, CacheConfig, Policy};

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    for policy in [Policy::TinyLfu, Policy::S3Fifo, Policy::Lru] {
        let mut c = Cache::new(
            CacheConfig {
                policy,
                ..CacheConfig::with_budget(120_000 * 128)
            },
            BytesWeigher { overhead: 64 },
        )
        .expect("valid config");
        let mut next = 0u64;
        for _ in 0..100_000 {
            c.put(next, vec![next as u8; 64]).expect("fits");
            next += 1;
        }
        let (mut evict, mut take) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            assert_eq!(c.len(), 100_000);
            let t = Instant::now();
            let (n, _) = c.evict_share(0.10);
            evict.push(t.elapsed().as_secs_f64() * 1e6);
            assert_eq!(n, 10_000);
            let t = Instant::now();
            let batch = c.take_spills();
            take.push(t.elapsed().as_secs_f64() * 1e6);
            assert_eq!(batch.len(), 10_000);
            drop(batch);
            for _ in 0..10_000 {
                c.put(next, vec![next as u8; 64]).expect("fits");
                next += 1;
            }
        }
        println!(
            "{:>8}: evict 10% of 100K: p50 {:.0} us, p99 {:.0} us, max {:.0} us; take_spills of the batch: p50 {:.0} us, p99 {:.0} us",
            policy.name(),
            pct(&mut evict, 0.5),
            pct(&mut evict, 0.99),
            pct(&mut evict, 1.0),
            pct(&mut take, 0.5),
            pct(&mut take, 0.99),
        );
    }
}
