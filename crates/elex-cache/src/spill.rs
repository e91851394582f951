//! The spill tier: the store trait, an in-memory store, and [`TieredCache`], which drives a cache
//! and a synchronous store together.
//!
//! The protocol between a cache and any store, synchronous or not, is four calls on
//! [`Cache`]: [`take_spills`](Cache::take_spills) hands over a batch of [`SpillOp`]s (victims and
//! deletes, in order) before anything is dropped; [`restore_spills`](Cache::restore_spills) gives
//! a batch back when the store failed (nothing is lost: the victims wait in the outbox and stay
//! readable); [`get`](Cache::get) answers [`Lookup::Spilled`](crate::Lookup) for a key the store
//! holds, and [`complete_reload`](Cache::complete_reload) /
//! [`reload_missing`](Cache::reload_missing) finish that miss. None of them blocks, so an
//! asynchronous store (IndexedDB in the wasm crate) runs the same protocol with promises; the
//! [`SpillStore`] trait below is its synchronous form, which [`TieredCache`] drives.

use std::collections::HashMap;
use std::hash::Hash;

use crate::cache::{Cache, CacheConfig, Lookup, Relief, SpillOp, Stats};
use crate::weigher::Weigher;
use crate::{CacheError, StoreErrorKind};

/// A synchronous second tier for victims.
pub trait SpillStore<K, V> {
    /// Applies a batch in order. On error the store may have applied a prefix (each op stands
    /// alone, so a prefix is consistent); the cache keeps the whole batch and retries it.
    fn apply(&mut self, ops: &[SpillOp<K, V>]) -> Result<(), CacheError>;
    /// The stored version and value of a key, if any. A record that fails its checksum reads as
    /// `None` (a miss), never as a wrong value.
    fn load(&mut self, key: &K) -> Result<Option<(u64, V)>, CacheError>;
    /// Every stored key with its version and weight (to rebuild the spilled-key index on reopen).
    fn index(&mut self) -> Result<Vec<(K, u64, u64)>, CacheError>;
}

/// A store in memory, for tests: it can be told to fail, to see that failures lose nothing.
#[derive(Clone, Debug)]
pub struct MemoryStore<K, V> {
    records: HashMap<K, (u64, u64, V)>,
    fail: Option<StoreErrorKind>,
    /// Batches applied so far.
    pub batches: u64,
}

impl<K, V> Default for MemoryStore<K, V> {
    fn default() -> Self {
        MemoryStore {
            records: HashMap::new(),
            fail: None,
            batches: 0,
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> MemoryStore<K, V> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every call fail with this kind until `None` is set again.
    pub fn set_failure(&mut self, kind: Option<StoreErrorKind>) {
        self.fail = kind;
    }

    /// The stored value of a key (ignores injected failures).
    pub fn peek(&self, key: &K) -> Option<&V> {
        self.records.get(key).map(|r| &r.2)
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn check(&self) -> Result<(), CacheError> {
        match self.fail {
            Some(kind) => Err(CacheError::store(kind, "memory store told to fail")),
            None => Ok(()),
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> SpillStore<K, V> for MemoryStore<K, V> {
    fn apply(&mut self, ops: &[SpillOp<K, V>]) -> Result<(), CacheError> {
        self.check()?;
        self.batches += 1;
        for op in ops {
            match op {
                SpillOp::Put {
                    key,
                    version,
                    weight,
                    value,
                } => {
                    let newer = self.records.get(key).is_some_and(|r| r.0 > *version);
                    if !newer {
                        self.records
                            .insert(key.clone(), (*version, *weight, value.clone()));
                    }
                }
                SpillOp::Delete { key, version } => {
                    if self.records.get(key).is_some_and(|r| r.0 <= *version) {
                        self.records.remove(key);
                    }
                }
            }
        }
        Ok(())
    }

    fn load(&mut self, key: &K) -> Result<Option<(u64, V)>, CacheError> {
        self.check()?;
        Ok(self.records.get(key).map(|(v, _, val)| (*v, val.clone())))
    }

    fn index(&mut self) -> Result<Vec<(K, u64, u64)>, CacheError> {
        self.check()?;
        Ok(self
            .records
            .iter()
            .map(|(k, (v, w, _))| (k.clone(), *v, *w))
            .collect())
    }
}

/// A cache and a synchronous store driven together: after every operation the outbox goes to
/// the store, and a lookup of a spilled key reloads it.
pub struct TieredCache<K, V, W, S> {
    cache: Cache<K, V, W>,
    store: S,
}

impl<K: Hash + Eq + Clone, V, W: Weigher<K, V>, S: SpillStore<K, V>> TieredCache<K, V, W, S> {
    /// Opens a cache over a store, indexing what the store already holds.
    pub fn open(config: CacheConfig, weigher: W, mut store: S) -> Result<Self, CacheError> {
        let mut cache = Cache::new(config, weigher)?;
        cache.restore_index(store.index()?);
        Ok(TieredCache { cache, store })
    }

    /// The cache.
    pub fn cache(&self) -> &Cache<K, V, W> {
        &self.cache
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, mutably (for tests that inject failures).
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.cache.stats()
    }

    /// Sends the outbox to the store. On failure the victims stay in memory and the error is
    /// returned.
    pub fn flush(&mut self) -> Result<(), CacheError> {
        let ops = self.cache.take_spills();
        if ops.is_empty() {
            return Ok(());
        }
        match self.store.apply(&ops) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.cache.restore_spills(ops);
                Err(e)
            }
        }
    }

    /// Inserts or replaces. The put itself always takes effect in memory when its input is
    /// valid; a store failure while spilling the victims is returned but loses nothing.
    pub fn put(&mut self, key: K, value: V) -> Result<(), CacheError> {
        let put = self.cache.put(key, value);
        // Flushed either way: a rejected put still lets earlier victims reach the store.
        let flushed = self.flush();
        put?;
        flushed
    }

    /// Looks up a key, reloading it from the store when it was spilled.
    ///
    /// A reload that lands in the outbox (an entry heavier than a since-shrunk budget, or one
    /// the policy rejects at once) is returned from there and reaches the store with the next
    /// operation.
    pub fn get(&mut self, key: &K) -> Result<Option<&V>, CacheError> {
        let version = match self.cache.get(key) {
            Lookup::Hit(_) => None,
            Lookup::Miss => return Ok(None),
            Lookup::Spilled { version } => Some(version),
        };
        if let Some(version) = version {
            match self.store.load(key)? {
                Some((v, value)) => {
                    self.cache.complete_reload(key, v, value)?;
                    if v != version {
                        return Ok(None);
                    }
                }
                None => self.cache.reload_missing(key, version),
            }
        }
        // An entry heavier than the current budget is rejected at once and waits in the outbox:
        // it is returned from there and spills with the next operation.
        if self.cache.is_resident(key) {
            self.flush()?;
        }
        Ok(self.cache.peek(key))
    }

    /// Removes a key from memory and the store.
    pub fn delete(&mut self, key: &K) -> Result<bool, CacheError> {
        let known = self.cache.delete(key);
        self.flush()?;
        Ok(known)
    }

    /// Changes the budget (victims spill).
    pub fn set_budget(&mut self, budget: u64) -> Result<(), CacheError> {
        let set = self.cache.set_budget(budget);
        let flushed = self.flush();
        set?;
        flushed
    }

    /// A pressure sample and, over the threshold, an eviction of the configured share.
    pub fn relieve(&mut self, host_pressure: f64) -> Result<Relief, CacheError> {
        let r = self.cache.relieve(host_pressure);
        self.flush()?;
        Ok(r)
    }

    /// Spills everything resident and returns the store (a clean close: a reopen finds every
    /// entry). If the store fails, the cache comes back with the error, holding everything.
    #[allow(clippy::type_complexity)]
    pub fn close(mut self) -> Result<S, Box<(Self, CacheError)>> {
        self.cache.evict_all();
        match self.flush() {
            Ok(()) => Ok(self.store),
            Err(e) => Err(Box::new((self, e))),
        }
    }

    /// Drops the memory tier without spilling (a crash): only what the store holds survives.
    pub fn crash(self) -> S {
        self.store
    }

    /// Checks the cache's invariants; for tests and fuzzing.
    #[cfg(any(test, fuzzing))]
    pub fn validate(&self) -> Result<(), String> {
        self.cache.validate()
    }
}

/// How keys and values are written to a byte store.
pub trait Codec: Sized {
    /// Appends the encoding.
    fn encode(&self, out: &mut Vec<u8>);
    /// Decodes; `None` if the bytes are not a valid encoding.
    fn decode(bytes: &[u8]) -> Option<Self>;
}

impl Codec for u64 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        Some(u64::from_le_bytes(bytes.try_into().ok()?))
    }
}

impl Codec for u32 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        Some(u32::from_le_bytes(bytes.try_into().ok()?))
    }
}

impl Codec for Vec<u8> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        Some(bytes.to_vec())
    }
}

impl Codec for String {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        String::from_utf8(bytes.to_vec()).ok()
    }
}
