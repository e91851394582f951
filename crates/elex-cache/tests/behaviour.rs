//! Behaviour through the public API: errors, policies, pressure, the async spill protocol, and the
//! file store's crash consistency.

use std::cell::Cell;
use std::path::PathBuf;

use elex_cache::{
    BytesWeigher, Cache, CacheConfig, CacheError, FileStore, Lookup, MemoryStore, Policy, SpillOp,
    SpillStore, StoreErrorKind, TieredCache, Trend, UnitWeigher,
};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("elex-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn cfg(budget: u64, policy: Policy) -> CacheConfig {
    CacheConfig {
        policy,
        ..CacheConfig::with_budget(budget)
    }
}

#[test]
fn bad_input_gets_typed_errors() {
    assert!(matches!(
        Cache::<u64, Vec<u8>, _>::new(CacheConfig::with_budget(0), BytesWeigher::default()),
        Err(CacheError::ZeroBudget)
    ));
    let mut c = Cache::new(CacheConfig::with_budget(100), BytesWeigher { overhead: 0 }).unwrap();
    assert_eq!(
        c.put(1u64, vec![0u8; 101]),
        Err(CacheError::EntryTooLarge {
            weight: 101,
            budget: 100
        })
    );
    assert_eq!(c.put(1u64, vec![]), Err(CacheError::ZeroWeight));
    c.put(2, vec![1; 10]).unwrap();
    assert_eq!(c.set_budget(0), Err(CacheError::ZeroBudget));
    assert_eq!(
        c.peek(&2),
        Some(&vec![1; 10]),
        "a rejected op loses nothing"
    );
    let mut p = CacheConfig::with_budget(10);
    p.pressure.shares[0] = 2.0;
    assert!(matches!(
        Cache::<u64, u64, _>::new(p, UnitWeigher),
        Err(CacheError::InvalidConfig(_))
    ));
}

#[test]
fn a_lying_weigher_is_caught_on_reload() {
    // Weighs 10 the first time it sees a value, 20 after: the reload sees the change.
    let calls = Cell::new(0u32);
    let weigher = |_: &u64, _: &u64| {
        calls.set(calls.get() + 1);
        if calls.get() == 1 { 10 } else { 20 }
    };
    let mut c = Cache::new(cfg(15, Policy::Lru), weigher).unwrap();
    c.put(1, 7).unwrap();
    assert_eq!(c.evict_share(1.0), (1, 10));
    let ops = c.take_spills();
    assert_eq!(ops.len(), 1);
    let Lookup::Spilled { version } = c.get(&1) else {
        panic!("spilled")
    };
    assert_eq!(
        c.complete_reload(&1, version, 7),
        Err(CacheError::WeigherInconsistent {
            recorded: 10,
            now: 20
        })
    );
    assert!(c.contains(&1), "the key stays known (in the store)");
}

#[test]
fn lru_evicts_least_recent_and_counts_drops_only_when_allowed() {
    let mut c = Cache::new(
        CacheConfig {
            allow_drop: true,
            ..cfg(3, Policy::Lru)
        },
        UnitWeigher,
    )
    .unwrap();
    for k in 0..3u64 {
        c.put(k, k).unwrap();
    }
    assert!(matches!(c.get(&0), Lookup::Hit(&0)));
    c.put(3, 3).unwrap();
    assert!(!c.contains(&1), "1 was the least recently used");
    assert!(c.contains(&0) && c.contains(&2) && c.contains(&3));
    assert_eq!(c.stats().dropped, 1);
    assert_eq!(c.stats().evictions, 1);

    // Without allow_drop the victim waits in the outbox and stays readable.
    let mut c = Cache::new(cfg(2, Policy::Lru), UnitWeigher).unwrap();
    for k in 0..3u64 {
        c.put(k, k * 10).unwrap();
    }
    assert_eq!(c.stats().dropped, 0);
    assert_eq!(c.pending(), (1, 1));
    assert_eq!(c.peek(&0), Some(&0));
    assert!(
        matches!(c.get(&0), Lookup::Hit(&0)),
        "taken back from the outbox"
    );
    assert!(c.bytes() <= 2);
}

/// A hot set that keeps being used survives a long scan of one-time keys under W-TinyLFU and
/// S3-FIFO; under LRU the scan flushes it (each hot key returns only every 1,000 requests, five
/// times the cache).
#[test]
fn scan_resistance() {
    for (policy, resistant) in [
        (Policy::TinyLfu, true),
        (Policy::S3Fifo, true),
        (Policy::Lru, false),
    ] {
        let mut c = Cache::new(
            CacheConfig {
                allow_drop: true,
                ..cfg(200, policy)
            },
            UnitWeigher,
        )
        .unwrap();
        for _ in 0..20 {
            for k in 0..100u64 {
                if !matches!(c.get(&k), Lookup::Hit(_)) {
                    c.put(k, k).unwrap();
                }
            }
        }
        for (i, k) in (1_000..11_000u64).enumerate() {
            c.put(k, k).unwrap();
            if i % 10 == 0 {
                let hot = (i as u64 / 10) % 100;
                if !matches!(c.get(&hot), Lookup::Hit(_)) {
                    c.put(hot, hot).unwrap();
                }
            }
        }
        let kept = (0..100u64).filter(|k| c.is_resident(k)).count();
        if resistant {
            assert!(kept >= 80, "{policy:?} kept {kept} of 100 hot keys");
        } else {
            assert!(kept <= 20, "LRU kept {kept}");
        }
    }
}

#[test]
fn pressure_evicts_the_configured_share_and_reports_the_trend() {
    let mut c = Cache::new(cfg(1_000, Policy::TinyLfu), UnitWeigher).unwrap();
    for k in 0..900u64 {
        c.put(k, k).unwrap();
    }
    // Fill 0.9, threshold 0.85: 30%.
    let r = c.relieve(0.0);
    assert_eq!(r.share, 0.3);
    assert_eq!(r.bytes, 270);
    assert_eq!(c.bytes(), 630);
    // Below the threshold nothing happens.
    let r = c.relieve(0.5);
    assert_eq!((r.share, r.bytes), (0.0, 0));
    // The host reports 0.97: 50%.
    let r = c.relieve(0.97);
    assert_eq!(r.share, 0.5);
    assert_eq!(r.bytes, 315);
    assert_eq!(c.stats().spilled, 585);
    assert_eq!(c.stats().dropped, 0);
    assert_eq!(c.pending().0, 585, "every victim waits for the store");
    // Rising samples (the host's, above the fill, below the threshold) read as growing.
    for i in 0..16 {
        c.relieve(0.4 + 0.025 * f64::from(i));
    }
    assert_eq!(c.monitor().trend(), Trend::Growing);
    // A lower threshold uses the lower levels: fill 0.5 -> 10%.
    let mut low = cfg(100, Policy::Lru);
    low.pressure.threshold = 0.1;
    let mut c = Cache::new(low, UnitWeigher).unwrap();
    for k in 0..50u64 {
        c.put(k, k).unwrap();
    }
    let r = c.relieve(0.0);
    assert_eq!((r.share, r.bytes), (0.1, 5));
}

/// The protocol an asynchronous store runs: take a batch, fail, give it back; reads in between
/// find the value; a stale store answer is refused.
#[test]
fn async_protocol_loses_nothing() {
    let mut c = Cache::new(cfg(2, Policy::Lru), UnitWeigher).unwrap();
    for k in 0..4u64 {
        c.put(k, k + 100).unwrap();
    }
    let batch = c.take_spills();
    assert_eq!(batch.len(), 2);
    assert!(batch.iter().all(|op| matches!(op, SpillOp::Put { .. })));
    // While the batch is in flight the keys read as spilled.
    let Lookup::Spilled { version } = c.get(&0) else {
        panic!("in flight")
    };
    // The write fails (quota): the batch comes back and the values are readable again.
    c.restore_spills(batch);
    assert_eq!(c.stats().spill_failures, 1);
    assert_eq!(c.pending().0, 2);
    assert!(matches!(c.get(&0), Lookup::Hit(&100)));
    // A store answering with another version is refused.
    let batch = c.take_spills();
    let mut store = MemoryStore::new();
    store.apply(&batch).unwrap();
    let Lookup::Spilled { version: v1 } = c.get(&1) else {
        panic!("stored")
    };
    assert_ne!(v1, version);
    assert_eq!(c.complete_reload(&1, v1 + 1000, 0).unwrap(), None);
    assert_eq!(c.stats().stale_reloads, 1);
    // The right version is accepted.
    let (v, val) = store.load(&1).unwrap().unwrap();
    assert_eq!(c.complete_reload(&1, v, val).unwrap(), Some(&101));
    // An update after the spill queues a delete of the stored version.
    c.put(1, 7).unwrap();
    assert!(
        c.take_spills()
            .iter()
            .any(|op| matches!(op, SpillOp::Delete { key: 1, version } if *version == v))
    );
    // A missing record is forgotten and counted, not served.
    let mut c2 = Cache::new(cfg(1, Policy::Lru), UnitWeigher).unwrap();
    c2.put(5u64, 5u64).unwrap();
    c2.put(6, 6).unwrap();
    c2.take_spills();
    let Lookup::Spilled { version } = c2.get(&5) else {
        panic!()
    };
    c2.reload_missing(&5, version);
    assert_eq!(c2.stats().lost, 1);
    assert!(matches!(c2.get(&5), Lookup::Miss));
}

#[test]
fn tiered_cache_keeps_victims_through_a_full_disk() {
    let mut t = TieredCache::open(
        cfg(300, Policy::TinyLfu),
        BytesWeigher { overhead: 0 },
        MemoryStore::<u64, Vec<u8>>::new(),
    )
    .unwrap();
    for k in 0..10u64 {
        t.put(k, vec![k as u8; 50]).unwrap();
    }
    t.store_mut()
        .set_failure(Some(StoreErrorKind::QuotaExceeded));
    let mut failures = 0;
    for k in 10..20u64 {
        match t.put(k, vec![k as u8; 50]) {
            Ok(()) => {}
            Err(CacheError::Store { kind, .. }) => {
                assert_eq!(kind, StoreErrorKind::QuotaExceeded);
                failures += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(failures > 0);
    assert!(t.cache().bytes() <= 300);
    assert_eq!(t.stats().dropped, 0);
    t.store_mut().set_failure(None);
    t.flush().unwrap();
    for k in 0..20u64 {
        assert_eq!(t.get(&k).unwrap(), Some(&vec![k as u8; 50]), "key {k}");
    }
}

#[test]
fn file_store_survives_reopen_torn_tail_and_corruption() {
    let dir = temp_dir("file");
    let weigher = BytesWeigher { overhead: 0 };
    {
        let store = FileStore::<u64, Vec<u8>>::open(&dir).unwrap();
        let mut t = TieredCache::open(cfg(200, Policy::Lru), weigher, store).unwrap();
        for k in 0..20u64 {
            t.put(k, vec![k as u8; 40]).unwrap();
        }
        t.put(3, vec![33; 40]).unwrap();
        t.delete(&4).unwrap();
        let store = t.close().map_err(|b| b.1).unwrap();
        assert_eq!(store.len(), 19);
    }
    // A torn append: half a record at the end.
    let log = dir.join("spill.log");
    let good_len = std::fs::metadata(&log).unwrap().len();
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(b"ELXR\x01\0\0\0partial record").unwrap();
    }
    let store = FileStore::<u64, Vec<u8>>::open(&dir).unwrap();
    assert_eq!(store.open_report().torn_bytes, 22);
    assert_eq!(std::fs::metadata(&log).unwrap().len(), good_len, "cut back");
    let mut t = TieredCache::open(cfg(200, Policy::Lru), weigher, store).unwrap();
    assert_eq!(
        t.get(&3).unwrap(),
        Some(&vec![33; 40]),
        "newest version wins"
    );
    assert_eq!(t.get(&4).unwrap(), None, "the delete held");
    for k in (0..20u64).filter(|k| *k != 3 && *k != 4) {
        assert_eq!(t.get(&k).unwrap(), Some(&vec![k as u8; 40]), "key {k}");
    }
    let store = t.close().map_err(|b| b.1).unwrap();
    drop(store);
    // Damage one byte inside the last record's value: it reads as a miss, the rest is intact.
    let mut bytes = std::fs::read(&log).unwrap();
    let n = bytes.len();
    bytes[n - 20] ^= 0xff;
    std::fs::write(&log, &bytes).unwrap();
    let mut store = FileStore::<u64, Vec<u8>>::open(&dir).unwrap();
    // Replay stops at the damaged record (it is the tail), so its key is simply not indexed.
    assert!(store.open_report().torn_bytes > 0);
    let idx = store.index().unwrap();
    assert_eq!(idx.len(), 18);
    for (k, _, _) in idx {
        assert!(store.load(&k).unwrap().is_some());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn file_store_reads_a_record_damaged_after_open_as_a_miss() {
    let dir = temp_dir("damage");
    let mut store = FileStore::<u64, Vec<u8>>::open(&dir).unwrap();
    let ops: Vec<SpillOp<u64, Vec<u8>>> = (0..3u64)
        .map(|k| SpillOp::Put {
            key: k,
            version: k + 1,
            weight: 8,
            value: vec![k as u8; 8],
        })
        .collect();
    store.apply(&ops).unwrap();
    // Flip a byte of the first record's value on disk behind the store's back.
    let log = dir.join("spill.log");
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[32 + 8 + 2] ^= 1;
    std::fs::write(&log, &bytes).unwrap();
    assert_eq!(store.load(&0).unwrap(), None);
    assert_eq!(store.corrupt_reads(), 1);
    assert_eq!(store.load(&1).unwrap(), Some((2, vec![1u8; 8])));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn file_store_compacts_and_keeps_versions() {
    let dir = temp_dir("compact");
    let mut store = FileStore::<u64, Vec<u8>>::open(&dir).unwrap();
    store.set_durable(false);
    let mut version = 0;
    for round in 0..60u64 {
        let ops: Vec<SpillOp<u64, Vec<u8>>> = (0..50u64)
            .map(|k| {
                version += 1;
                SpillOp::Put {
                    key: k,
                    version,
                    weight: 1000,
                    value: vec![(round % 251) as u8; 1000],
                }
            })
            .collect();
        store.apply(&ops).unwrap();
    }
    // 60 x 50 records of ~1 KB were written (3 MB); compaction keeps the log near 1 MiB.
    assert!(
        store.file_len() < (5 << 20) / 4,
        "compaction ran: {}",
        store.file_len()
    );
    drop(store);
    let mut store = FileStore::<u64, Vec<u8>>::open(&dir).unwrap();
    assert_eq!(store.len(), 50);
    for k in 0..50u64 {
        let (v, val) = store.load(&k).unwrap().unwrap();
        assert_eq!(val, vec![59u8; 1000]);
        assert_eq!(v, 59 * 50 + k + 1);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Zipf(1.0) ranks over `n` keys.
fn zipf(n: usize, count: usize, seed: u64) -> Vec<u64> {
    let mut cdf = Vec::with_capacity(n);
    let mut acc = 0.0f64;
    for r in 1..=n {
        acc += 1.0 / r as f64;
        cdf.push(acc);
    }
    let mut rng = elex_simd::SplitMix64(seed);
    (0..count)
        .map(|_| {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * acc;
            cdf.partition_point(|&c| c < u) as u64
        })
        .collect()
}

fn hit_ratio(policy: Policy, trace: &[u64], capacity: u64, from: usize) -> f64 {
    let mut c = Cache::new(
        CacheConfig {
            allow_drop: true,
            ..cfg(capacity, policy)
        },
        UnitWeigher,
    )
    .unwrap();
    let mut hits = 0;
    for (i, &k) in trace.iter().enumerate() {
        if matches!(c.get(&k), Lookup::Hit(_)) {
            hits += usize::from(i >= from);
        } else {
            c.put(k, k).unwrap();
        }
    }
    hits as f64 / (trace.len() - from) as f64
}

/// On a stationary Zipf stream W-TinyLFU beats LRU clearly; when the hot set is replaced
/// mid-stream it adapts and still does at least as well as LRU after the move (the shift
/// detector's job: without it, old counts kept the new hot set out).
#[test]
fn tinylfu_beats_lru_and_follows_a_moved_hot_set() {
    let n = 20_000;
    let before = zipf(n, 100_000, 1);
    let tiny = hit_ratio(Policy::TinyLfu, &before, 2_000, 0);
    let lru = hit_ratio(Policy::Lru, &before, 2_000, 0);
    assert!(
        tiny > lru * 1.05,
        "stationary: tinylfu {tiny:.4} vs lru {lru:.4}"
    );
    // The same popularity over a new set of keys (a different permutation).
    let after: Vec<u64> = zipf(n, 100_000, 2)
        .into_iter()
        .map(|r| 1_000_000 + (r * 7_919) % n as u64)
        .collect();
    let trace: Vec<u64> = before.iter().chain(&after).copied().collect();
    let tiny = hit_ratio(Policy::TinyLfu, &trace, 2_000, 100_000);
    let lru = hit_ratio(Policy::Lru, &trace, 2_000, 100_000);
    assert!(
        tiny >= lru,
        "after the move: tinylfu {tiny:.4} vs lru {lru:.4}"
    );
}
