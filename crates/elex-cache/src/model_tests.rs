//! Property test: random operation sequences against a map model, with `validate()` after each.
//!
//! Guarantees checked: resident bytes <= budget whenever an op returns; a read returns the latest
//! value or nothing, never an older one; no value is lost while the store works (every key the
//! model holds reads back); every eviction is spilled (`dropped` stays 0); store failures lose
//! nothing held in memory; a clean reopen finds every entry; a crash loses only what was in memory.

use std::collections::{HashMap, HashSet};

use crate::{
    BytesWeigher, CacheConfig, CacheError, MemoryStore, Policy, StoreErrorKind, TieredCache,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Put(u8, u16),
    Get(u8),
    Delete(u8),
    Pressure(u8),
    Budget(u16),
    Reopen,
    Crash,
    StoreFails(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..40, 1u16..400).prop_map(|(k, n)| Op::Put(k, n)),
        8 => (0u8..40).prop_map(Op::Get),
        2 => (0u8..40).prop_map(Op::Delete),
        2 => (0u8..=100).prop_map(Op::Pressure),
        1 => (100u16..4000).prop_map(Op::Budget),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
        1 => any::<bool>().prop_map(Op::StoreFails),
    ]
}

type Tiered = TieredCache<u64, Vec<u8>, BytesWeigher, MemoryStore<u64, Vec<u8>>>;

fn config(policy: Policy, budget: u64) -> CacheConfig {
    CacheConfig {
        policy,
        ..CacheConfig::with_budget(budget)
    }
}

fn value(key: u64, serial: u64, len: u16) -> Vec<u8> {
    let mut v = vec![0u8; usize::from(len)];
    let tag = (key << 32) ^ serial;
    for (i, b) in v.iter_mut().enumerate() {
        *b = (tag >> ((i % 8) * 8)) as u8 ^ i as u8;
    }
    v
}

fn run(policy: Policy, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let weigher = BytesWeigher { overhead: 16 };
    let mut budget = 2_000u64;
    let mut t: Tiered = TieredCache::open(config(policy, budget), weigher, MemoryStore::new())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut model: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut failing = false;
    let mut serial = 0u64;
    let mut dropped_before = 0u64;
    for op in ops {
        match op.clone() {
            Op::Put(k, n) => {
                serial += 1;
                let v = value(u64::from(k), serial, n);
                let too_big = u64::from(n) + 16 > budget;
                match t.put(u64::from(k), v.clone()) {
                    Ok(()) => {
                        prop_assert!(!too_big);
                        model.insert(u64::from(k), v);
                    }
                    Err(CacheError::EntryTooLarge { .. }) => prop_assert!(too_big),
                    Err(CacheError::Store { .. }) => {
                        prop_assert!(failing);
                        model.insert(u64::from(k), v);
                    }
                    Err(e) => prop_assert!(false, "unexpected {e}"),
                }
            }
            Op::Get(k) => match t.get(&u64::from(k)) {
                Ok(got) => prop_assert_eq!(got, model.get(&u64::from(k)), "key {}", k),
                Err(CacheError::Store { .. }) => prop_assert!(failing),
                Err(e) => prop_assert!(false, "unexpected {e}"),
            },
            Op::Delete(k) => match t.delete(&u64::from(k)) {
                Ok(known) => {
                    prop_assert_eq!(known, model.remove(&u64::from(k)).is_some());
                }
                Err(CacheError::Store { .. }) => {
                    prop_assert!(failing);
                    model.remove(&u64::from(k));
                }
                Err(e) => prop_assert!(false, "unexpected {e}"),
            },
            Op::Pressure(p) => {
                let before = t.cache().bytes();
                match t.relieve(f64::from(p) / 100.0) {
                    Ok(r) => {
                        if r.pressure >= 0.85 {
                            prop_assert!(r.share >= 0.3);
                            prop_assert!(before == 0 || r.bytes > 0);
                        } else {
                            prop_assert_eq!(r.bytes, 0);
                        }
                    }
                    Err(_) => prop_assert!(failing),
                }
            }
            Op::Budget(b) => {
                budget = u64::from(b);
                if let Err(e) = t.set_budget(budget) {
                    prop_assert!(failing, "unexpected {e}");
                }
            }
            Op::Reopen => match t.close() {
                Ok(mut store) => {
                    // Close succeeds on a failing store only with nothing to spill; opening
                    // reads the index, so the failure is lifted for it and set again after.
                    store.set_failure(None);
                    t = TieredCache::open(config(policy, budget), weigher, store)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    t.store_mut()
                        .set_failure(failing.then_some(StoreErrorKind::QuotaExceeded));
                    dropped_before = 0;
                    prop_assert_eq!(t.cache().known_len(), model.len());
                }
                Err(back) => {
                    prop_assert!(failing);
                    t = back.0;
                }
            },
            Op::Crash => {
                if failing {
                    continue; // a crash with a failing store would lose the outbox: not modelled
                }
                // Lost: what lived only in memory (resident, and not also held by the store).
                let in_memory: HashSet<u64> = model
                    .iter()
                    .filter(|(k, v)| t.store().peek(k) != Some(v))
                    .map(|(k, _)| *k)
                    .collect();
                let mut store = t.crash();
                store.set_failure(None);
                t = TieredCache::open(config(policy, budget), weigher, store)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                dropped_before = 0;
                model.retain(|k, _| !in_memory.contains(k));
                prop_assert_eq!(t.cache().known_len(), model.len());
            }
            Op::StoreFails(f) => {
                failing = f;
                t.store_mut()
                    .set_failure(f.then_some(StoreErrorKind::QuotaExceeded));
                if !f {
                    // Recovery: the outbox drains at the next flush.
                    t.flush().map_err(|e| TestCaseError::fail(e.to_string()))?;
                }
            }
        }
        t.validate().map_err(TestCaseError::fail)?;
        prop_assert!(t.cache().bytes() <= t.cache().budget());
        prop_assert_eq!(t.stats().dropped, dropped_before, "an entry was dropped");
        prop_assert_eq!(t.stats().lost, 0);
        prop_assert_eq!(t.stats().stale_reloads, 0);
        if !failing && !matches!(op, Op::Get(_)) {
            prop_assert_eq!(t.cache().pending().0, 0, "the outbox drains after each op");
        }
    }
    // Finally every model key reads back with its latest value.
    t.store_mut().set_failure(None);
    t.flush().map_err(|e| TestCaseError::fail(e.to_string()))?;
    for (k, v) in &model {
        let got = t.get(k).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(got, Some(v), "key {} lost", k);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("ELEX_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn tinylfu_against_a_model(ops in proptest::collection::vec(op(), 1..200)) {
        run(Policy::TinyLfu, ops)?;
    }

    #[test]
    fn s3fifo_against_a_model(ops in proptest::collection::vec(op(), 1..200)) {
        run(Policy::S3Fifo, ops)?;
    }

    #[test]
    fn lru_against_a_model(ops in proptest::collection::vec(op(), 1..200)) {
        run(Policy::Lru, ops)?;
    }
}
