//! Plays byte-coded operation sequences on a tiered cache (memory store with injectable
//! failures) against a map model; `validate()` after every op. Any panic or model mismatch is a
//! finding.
#![no_main]

use std::collections::HashMap;

use elex_cache::{
    BytesWeigher, CacheConfig, CacheError, MemoryStore, Policy, StoreErrorKind, TieredCache,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&head, ops)) = data.split_first() else {
        return;
    };
    let policy = [Policy::TinyLfu, Policy::S3Fifo, Policy::Lru][usize::from(head % 3)];
    let weigher = BytesWeigher { overhead: 8 };
    let mut budget = 64 + u64::from(head) * 8;
    let config = |b: u64| CacheConfig {
        policy,
        ..CacheConfig::with_budget(b)
    };
    let mut t = TieredCache::open(config(budget), weigher, MemoryStore::<u64, Vec<u8>>::new())
        .expect("valid config");
    let mut model: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut failing = false;
    let mut serial = 0u8;
    for op in ops.chunks_exact(3) {
        let key = u64::from(op[1] % 32);
        match op[0] % 8 {
            0 | 1 => {
                serial = serial.wrapping_add(1);
                let v = vec![serial; usize::from(op[2])];
                match t.put(key, v.clone()) {
                    Ok(()) => {
                        model.insert(key, v);
                    }
                    Err(CacheError::Store { .. }) if failing => {
                        model.insert(key, v);
                    }
                    Err(CacheError::EntryTooLarge { .. }) | Err(CacheError::ZeroWeight) => {}
                    Err(e) => panic!("put: {e}"),
                }
            }
            2 | 3 => match t.get(&key) {
                Ok(got) => assert_eq!(got, model.get(&key), "stale or lost read"),
                Err(CacheError::Store { .. }) if failing => {}
                Err(e) => panic!("get: {e}"),
            },
            4 => match t.delete(&key) {
                Ok(known) => assert_eq!(known, model.remove(&key).is_some()),
                Err(CacheError::Store { .. }) if failing => {
                    model.remove(&key);
                }
                Err(e) => panic!("delete: {e}"),
            },
            5 => {
                let _ = t.relieve(f64::from(op[2]) / 255.0);
            }
            6 => {
                budget = 1 + u64::from(op[2]) * 4;
                let _ = t.set_budget(budget);
            }
            _ => {
                failing = op[2] % 2 == 1;
                t.store_mut()
                    .set_failure(failing.then_some(StoreErrorKind::QuotaExceeded));
            }
        }
        if let Err(e) = t.validate() {
            panic!("invariant: {e}");
        }
        assert_eq!(t.stats().dropped, 0);
        assert!(t.cache().bytes() <= t.cache().budget());
    }
    t.store_mut().set_failure(None);
    t.flush().expect("a working store takes the outbox");
    for (k, v) in &model {
        assert_eq!(t.get(k).expect("working store"), Some(v), "lost key {k}");
    }
});
