//! The cache core: one single-threaded shard that takes no locks (quick_cache's shard is the
//! model). It owns the entries, the policy, the spilled-key index and the outbox of spill
//! operations; it never talks to a store itself.
//!
//! Every key the cache knows is in one place at a time:
//! - resident (in the slab, on a policy list), weighed against the budget;
//! - pending (a victim in the outbox, waiting to be handed to the spill store; still readable);
//! - stored (the store holds it; the index keeps its version and weight so a miss knows to reload).
//!
//! Versions: every put takes a fresh version from a counter that only grows (also across reopen).
//! A reload is accepted only when the store's version equals the index's, and an update or delete
//! of a key the store holds queues a delete of that version, so an older spilled value can never
//! come back. Nothing is lost uncounted: every eviction is either spilled (queued, or already in
//! the store) or, only when the caller allowed it, counted as dropped.

use std::collections::HashMap;
use std::hash::Hash;

use crate::CacheError;
use crate::hash::{FoldBuild, fingerprint};
use crate::policy::{Policy, PolicyState, Slab};
use crate::pressure::{PressureConfig, PressureMonitor, Trend};
use crate::weigher::Weigher;

/// How a cache is set up.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheConfig {
    /// Hard budget in bytes (as the weigher counts them) for resident entries.
    pub budget_bytes: u64,
    /// Eviction policy.
    pub policy: Policy,
    /// Drop victims (counted in [`Stats::dropped`]) instead of queueing them for a spill store.
    /// Off by default: a cache without a store then keeps victims in its outbox until the caller
    /// takes them.
    pub allow_drop: bool,
    /// Pressure levels and shares.
    pub pressure: PressureConfig,
}

impl CacheConfig {
    /// A config with this budget and the defaults (W-TinyLFU, no drops, default pressure levels).
    pub fn with_budget(budget_bytes: u64) -> Self {
        CacheConfig {
            budget_bytes,
            policy: Policy::default(),
            allow_drop: false,
            pressure: PressureConfig::default(),
        }
    }
}

/// Counters. `evictions == spilled + dropped` always holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Lookups answered from memory (resident or pending).
    pub hits: u64,
    /// Lookups of keys the cache does not know.
    pub misses: u64,
    /// Lookups of keys in the store (the caller reloads).
    pub spilled_lookups: u64,
    /// Values reloaded from the store.
    pub reloads: u64,
    /// Puts (inserts and updates).
    pub puts: u64,
    /// Deletes of known keys.
    pub deletes: u64,
    /// Entries evicted from memory (budget, pressure, or close).
    pub evictions: u64,
    /// Evicted entries handed to the spill tier (queued, or already held by the store).
    pub spilled: u64,
    /// Evicted entries dropped without a spill (only with `allow_drop`, or `discard_pending`).
    pub dropped: u64,
    /// Spill batches the store failed to take (their entries stayed in the outbox).
    pub spill_failures: u64,
    /// Reloads refused because the store returned another version than the index holds.
    pub stale_reloads: u64,
    /// Stored keys the store could not return (torn or missing record), forgotten and counted.
    pub lost: u64,
    /// Pressure reliefs that evicted something.
    pub reliefs: u64,
}

/// One operation for the spill store, in the order it must be applied.
#[derive(Clone, Debug, PartialEq)]
pub enum SpillOp<K, V> {
    /// Store this version of the entry (replacing any older one).
    Put {
        /// The key.
        key: K,
        /// Its version.
        version: u64,
        /// Its weight (kept so a reopened cache can index it without reading the value).
        weight: u64,
        /// The value.
        value: V,
    },
    /// Remove the key's record if its version is at most `version`.
    Delete {
        /// The key.
        key: K,
        /// The newest version to remove.
        version: u64,
    },
}

impl<K, V> SpillOp<K, V> {
    /// The op's key.
    pub fn key(&self) -> &K {
        match self {
            SpillOp::Put { key, .. } | SpillOp::Delete { key, .. } => key,
        }
    }
}

/// What a lookup found.
#[derive(Debug, PartialEq)]
pub enum Lookup<'a, V> {
    /// The value, from memory.
    Hit(&'a V),
    /// The store holds this version: reload it and hand it to [`Cache::complete_reload`].
    Spilled {
        /// The version to reload.
        version: u64,
    },
    /// Unknown key.
    Miss,
}

/// What one pressure relief did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Relief {
    /// The pressure sample (max of fill and the host's pressure).
    pub pressure: f64,
    /// Share of bytes evicted (0 below the threshold).
    pub share: f64,
    /// Entries evicted.
    pub entries: u64,
    /// Bytes evicted.
    pub bytes: u64,
    /// The trend after this sample.
    pub trend: Trend,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loc {
    /// In the slab: resident, or pending in the outbox (the entry's `pending` flag says which).
    Slot(u32),
    /// Held by the store only.
    Stored { version: u64, weight: u64 },
}

/// One outbox item: an evicted slot (its entry stays in the slab until taken) or a delete.
#[derive(Clone, Debug)]
enum Out<K> {
    Evicted(u32),
    Delete { key: K, version: u64 },
}

/// A byte-budgeted cache of `K -> V` with a spill outbox. See the module docs.
pub struct Cache<K, V, W> {
    budget: u64,
    allow_drop: bool,
    weigher: W,
    map: HashMap<K, Loc, FoldBuild>,
    slab: Slab<K, V>,
    policy: PolicyState,
    outbox: Vec<Option<Out<K>>>,
    pending_entries: usize,
    pending_bytes: u64,
    next_version: u64,
    monitor: PressureMonitor,
    external_pressure: f64,
    stats: Stats,
    /// Scratch for [`Cache::evict_share`], kept to avoid allocating per eviction.
    victims: Vec<u32>,
}

impl<K: Hash + Eq + Clone, V, W: Weigher<K, V>> Cache<K, V, W> {
    /// An empty cache.
    pub fn new(config: CacheConfig, weigher: W) -> Result<Self, CacheError> {
        if config.budget_bytes == 0 {
            return Err(CacheError::ZeroBudget);
        }
        Ok(Cache {
            budget: config.budget_bytes,
            allow_drop: config.allow_drop,
            weigher,
            map: HashMap::with_hasher(FoldBuild),
            slab: Slab::new(),
            policy: PolicyState::new(config.policy, config.budget_bytes),
            outbox: Vec::new(),
            pending_entries: 0,
            pending_bytes: 0,
            next_version: 1,
            monitor: PressureMonitor::new(config.pressure)?,
            external_pressure: 0.0,
            stats: Stats::default(),
            victims: Vec::new(),
        })
    }

    /// Adds keys the store already holds (when reopening over a store's index).
    pub fn restore_index(&mut self, entries: impl IntoIterator<Item = (K, u64, u64)>) {
        for (key, version, weight) in entries {
            self.next_version = self.next_version.max(version + 1);
            self.map
                .entry(key)
                .or_insert(Loc::Stored { version, weight });
        }
    }

    /// The budget in bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// The eviction policy.
    pub fn policy(&self) -> Policy {
        self.policy.policy()
    }

    /// Resident entries.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether no entry is resident.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of resident entries (always <= the budget when an operation returns).
    pub fn bytes(&self) -> u64 {
        self.slab.bytes()
    }

    /// Entries and bytes waiting in the outbox for the spill store.
    pub fn pending(&self) -> (usize, u64) {
        (self.pending_entries, self.pending_bytes)
    }

    /// Keys the store holds (the spilled-key index).
    pub fn stored_len(&self) -> usize {
        self.map
            .values()
            .filter(|l| matches!(l, Loc::Stored { .. }))
            .count()
    }

    /// Every key the cache knows: resident, pending or stored.
    pub fn known_len(&self) -> usize {
        self.map.len()
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The pressure monitor.
    pub fn monitor(&self) -> &PressureMonitor {
        &self.monitor
    }

    /// Whether the key is known (resident, pending or stored).
    pub fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    /// Whether the key is resident.
    pub fn is_resident(&self, key: &K) -> bool {
        match self.map.get(key) {
            Some(Loc::Slot(i)) => !self.slab.get(*i).pending,
            _ => false,
        }
    }

    fn weigh(&self, key: &K, value: &V) -> Result<u64, CacheError> {
        let weight = self.weigher.weigh(key, value);
        if weight == 0 {
            return Err(CacheError::ZeroWeight);
        }
        if weight > self.budget {
            return Err(CacheError::EntryTooLarge {
                weight,
                budget: self.budget,
            });
        }
        Ok(weight)
    }

    fn queue_delete(&mut self, key: K, version: u64) {
        self.outbox.push(Some(Out::Delete { key, version }));
    }

    /// Takes a pending slot out of the outbox (it becomes an unlinked, non-pending entry).
    fn unpend(&mut self, i: u32) {
        let e = self.slab.get_mut(i);
        debug_assert!(e.pending);
        e.pending = false;
        let (pos, weight) = (e.out_pos, e.weight);
        self.outbox[pos as usize] = None;
        self.pending_entries -= 1;
        self.pending_bytes -= weight;
    }

    /// Inserts or replaces. The new value is resident when this returns unless the policy
    /// rejected it at once, in which case it waits in the outbox (still readable).
    pub fn put(&mut self, key: K, value: V) -> Result<(), CacheError> {
        let weight = self.weigh(&key, &value)?;
        let version = self.next_version;
        self.next_version += 1;
        self.stats.puts += 1;
        match self.map.get(&key).copied() {
            Some(Loc::Slot(i)) => {
                let e = self.slab.get(i);
                let (pending, in_store, old) = (e.pending, e.in_store, e.version);
                if in_store {
                    self.queue_delete(key.clone(), old);
                }
                if pending {
                    self.unpend(i);
                    self.slab.release(i);
                    self.map.remove(&key);
                } else {
                    self.slab.replace(i, value, weight, version);
                    self.policy.on_hit(&mut self.slab, i, self.budget);
                    self.evict_to_fit();
                    return Ok(());
                }
            }
            Some(Loc::Stored { version: old, .. }) => self.queue_delete(key.clone(), old),
            None => {}
        }
        self.insert_resident(key, value, weight, version, false);
        Ok(())
    }

    fn insert_resident(&mut self, key: K, value: V, weight: u64, version: u64, in_store: bool) {
        let fp = fingerprint(&key);
        let i = self.slab.alloc(key.clone(), value, weight, version, fp);
        self.slab.get_mut(i).in_store = in_store;
        self.map.insert(key, Loc::Slot(i));
        self.link_fresh(i);
    }

    fn link_fresh(&mut self, i: u32) {
        self.policy.on_insert(&mut self.slab, i);
        self.evict_to_fit();
    }

    fn evict_to_fit(&mut self) {
        while self.slab.bytes() > self.budget {
            let Some(v) = self.policy.evict(&mut self.slab, self.budget) else {
                break;
            };
            self.evict_slot(v);
        }
    }

    /// Moves an unlinked victim to the outbox (no map access: the entry stays in its slot,
    /// flagged pending), or drops it when allowed.
    fn evict_slot(&mut self, i: u32) -> u64 {
        self.stats.evictions += 1;
        let weight = self.slab.weight_of(i);
        let e = self.slab.get(i);
        // A dropped entry is gone; one the store holds is never dropped (it only needs its map
        // entry turned to "stored", which `take_spills` does).
        if self.allow_drop && !e.in_store {
            self.stats.dropped += 1;
            let e = self.slab.release(i);
            self.map.remove(&e.key);
            return weight;
        }
        self.stats.spilled += 1;
        self.pend(i, weight);
        weight
    }

    /// Puts an unlinked slot in the outbox (the entry stays in its slot, flagged pending).
    fn pend(&mut self, i: u32, weight: u64) {
        let pos = self.outbox.len() as u32;
        let e = self.slab.get_mut(i);
        e.pending = true;
        e.out_pos = pos;
        self.outbox.push(Some(Out::Evicted(i)));
        self.pending_entries += 1;
        self.pending_bytes += weight;
    }

    /// Looks a key up. Resident: a hit. Pending: taken back from the outbox and made resident
    /// (a hit). Stored: the caller reloads it from the store (see [`Cache::complete_reload`]).
    pub fn get(&mut self, key: &K) -> Lookup<'_, V> {
        match self.map.get(key).copied() {
            Some(Loc::Slot(i)) => {
                self.stats.hits += 1;
                if self.slab.get(i).pending {
                    self.unpend(i);
                    self.link_fresh(i);
                } else {
                    self.policy.on_hit(&mut self.slab, i, self.budget);
                }
                Lookup::Hit(&self.slab.get(i).value)
            }
            Some(Loc::Stored { version, .. }) => {
                self.stats.spilled_lookups += 1;
                Lookup::Spilled { version }
            }
            None => {
                self.stats.misses += 1;
                Lookup::Miss
            }
        }
    }

    /// The value in memory (resident or pending), without touching the policy or the counters.
    pub fn peek(&self, key: &K) -> Option<&V> {
        match self.map.get(key)? {
            Loc::Slot(i) => Some(&self.slab.get(*i).value),
            Loc::Stored { .. } => None,
        }
    }

    /// Hands the cache a value the store returned for `key` at `version`. Returns the value now
    /// in memory: the reloaded one, or a newer one if the key changed meanwhile; `None` when the
    /// key was deleted meanwhile or the store returned another version than the index holds
    /// (counted in [`Stats::stale_reloads`]; never served).
    pub fn complete_reload(
        &mut self,
        key: &K,
        version: u64,
        value: V,
    ) -> Result<Option<&V>, CacheError> {
        match self.map.get(key).copied() {
            Some(Loc::Stored {
                version: want,
                weight,
            }) => {
                if want != version {
                    self.stats.stale_reloads += 1;
                    return Ok(None);
                }
                let now = self.weigher.weigh(key, &value);
                if now != weight {
                    return Err(CacheError::WeigherInconsistent {
                        recorded: weight,
                        now,
                    });
                }
                self.stats.reloads += 1;
                self.insert_resident(key.clone(), value, weight, version, true);
                Ok(self.peek(key))
            }
            Some(Loc::Slot(_)) => Ok(self.peek(key)),
            None => Ok(None),
        }
    }

    /// The store could not return `key` at `version` (missing or torn record): the key is
    /// forgotten and counted in [`Stats::lost`]. A no-op if the key moved on meanwhile.
    pub fn reload_missing(&mut self, key: &K, version: u64) {
        if let Some(Loc::Stored { version: want, .. }) = self.map.get(key).copied()
            && want == version
        {
            self.map.remove(key);
            self.stats.lost += 1;
        }
    }

    /// Removes a key wherever it is; returns whether it was known.
    pub fn delete(&mut self, key: &K) -> bool {
        let Some(loc) = self.map.remove(key) else {
            return false;
        };
        self.stats.deletes += 1;
        match loc {
            Loc::Slot(i) => {
                if self.slab.get(i).pending {
                    self.unpend(i);
                } else {
                    self.slab.unlink(i);
                }
                let e = self.slab.release(i);
                if e.in_store {
                    self.queue_delete(e.key, e.version);
                }
            }
            Loc::Stored { version, .. } => self.queue_delete(key.clone(), version),
        }
        true
    }
    /// Changes the budget, evicting (to the outbox) until the resident bytes fit.
    pub fn set_budget(&mut self, budget_bytes: u64) -> Result<(), CacheError> {
        if budget_bytes == 0 {
            return Err(CacheError::ZeroBudget);
        }
        self.budget = budget_bytes;
        self.evict_to_fit();
        Ok(())
    }

    /// Records a pressure sample — the larger of the fill (bytes / budget) and `host_pressure`
    /// (the host's own signal in `[0, 1]`, 0 if it has none) — and, at or above the threshold,
    /// evicts the configured share of the resident bytes (victims go to the outbox).
    pub fn relieve(&mut self, host_pressure: f64) -> Relief {
        if host_pressure.is_finite() {
            self.external_pressure = host_pressure.clamp(0.0, 1.0);
        }
        let fill = self.slab.bytes() as f64 / self.budget as f64;
        let pressure = fill.max(self.external_pressure);
        self.monitor.record(pressure);
        let config = self.monitor.config();
        let share = if pressure >= config.threshold {
            config.share(pressure)
        } else {
            0.0
        };
        let (entries, bytes) = self.evict_share(share);
        if entries > 0 {
            self.stats.reliefs += 1;
        }
        Relief {
            pressure,
            share,
            entries,
            bytes,
            trend: self.monitor.trend(),
        }
    }

    /// Evicts `share` of the resident bytes in policy order; returns entries and bytes evicted.
    pub fn evict_share(&mut self, share: f64) -> (u64, u64) {
        let share = if share.is_nan() {
            0.0
        } else {
            share.clamp(0.0, 1.0)
        };
        let total = self.slab.bytes();
        let goal = (total as f64 * share).ceil() as u64;
        // Two passes: the policy picks and unlinks victims (walking only the dense link array),
        // then the entries move to the outbox; the second pass's memory accesses are
        // independent, so they overlap (and are prefetched a few victims ahead).
        let mut victims = std::mem::take(&mut self.victims);
        victims.clear();
        let mut bytes = 0u64;
        while bytes < goal {
            let Some(v) = self.policy.evict(&mut self.slab, self.budget) else {
                break;
            };
            bytes += self.slab.weight_of(v);
            victims.push(v);
        }
        for (j, &v) in victims.iter().enumerate() {
            if let Some(&ahead) = victims.get(j + 8) {
                self.slab.prefetch(ahead);
            }
            self.evict_slot(v);
        }
        let entries = victims.len() as u64;
        self.victims = victims;
        (entries, bytes)
    }

    /// Evicts every resident entry to the outbox (before closing over a store).
    pub fn evict_all(&mut self) -> u64 {
        self.evict_share(1.0).0
    }

    /// Takes the outbox: the operations the spill store must apply, in order. Victims count as
    /// stored from now on (a victim the store already holds needs no write); if the store
    /// fails, give the batch back with [`Cache::restore_spills`].
    pub fn take_spills(&mut self) -> Vec<SpillOp<K, V>> {
        let mut ops = Vec::with_capacity(self.outbox.len());
        let outbox = std::mem::take(&mut self.outbox);
        for out in outbox.into_iter().flatten() {
            match out {
                Out::Evicted(i) => {
                    let e = self.slab.release(i);
                    let stored = Loc::Stored {
                        version: e.version,
                        weight: e.weight,
                    };
                    if let Some(loc) = self.map.get_mut(&e.key) {
                        *loc = stored;
                    }
                    if !e.in_store {
                        ops.push(SpillOp::Put {
                            key: e.key,
                            version: e.version,
                            weight: e.weight,
                            value: e.value,
                        });
                    }
                }
                Out::Delete { key, version } => ops.push(SpillOp::Delete { key, version }),
            }
        }
        self.pending_entries = 0;
        self.pending_bytes = 0;
        ops
    }

    /// Gives back a batch the store failed to apply: puts still current return to the outbox
    /// (readable, retried at the next take), deletes are queued again; superseded puts (the key
    /// was updated or deleted meanwhile) are discarded, since newer state exists.
    pub fn restore_spills(&mut self, ops: Vec<SpillOp<K, V>>) {
        self.stats.spill_failures += 1;
        // The failed batch goes before anything queued since, to keep the store's order.
        let later = std::mem::take(&mut self.outbox);
        for op in ops {
            match op {
                SpillOp::Put {
                    key,
                    version,
                    weight,
                    value,
                } => {
                    let current = matches!(
                        self.map.get(&key),
                        Some(Loc::Stored { version: v, .. }) if *v == version
                    );
                    if current {
                        let fp = fingerprint(&key);
                        let i = self.slab.alloc(key.clone(), value, weight, version, fp);
                        self.map.insert(key, Loc::Slot(i));
                        self.pend(i, weight);
                    }
                }
                SpillOp::Delete { key, version } => self.queue_delete(key, version),
            }
        }
        for out in later.into_iter().flatten() {
            if let Out::Evicted(i) = out {
                self.slab.get_mut(i).out_pos = self.outbox.len() as u32;
            }
            self.outbox.push(Some(out));
        }
    }

    /// Drops every pending victim without a spill (counted in [`Stats::dropped`]); for a caller
    /// that gives up on its store. Queued deletes stay.
    pub fn discard_pending(&mut self) -> u64 {
        let mut n = 0;
        for slot in &mut self.outbox {
            if let Some(Out::Evicted(i)) = slot {
                let e = self.slab.release(*i);
                self.map.remove(&e.key);
                *slot = None;
                n += 1;
            }
        }
        self.pending_entries = 0;
        self.pending_bytes = 0;
        self.stats.dropped += n;
        self.stats.spilled -= n;
        n
    }

    /// Checks every invariant; for tests and fuzzing.
    #[cfg(any(test, fuzzing))]
    pub fn validate(&self) -> Result<(), String> {
        self.slab.check()?;
        if self.slab.bytes() > self.budget {
            return Err(format!(
                "{} resident bytes exceed the budget of {}",
                self.slab.bytes(),
                self.budget
            ));
        }
        let (mut resident, mut pending, mut pending_bytes) = (0usize, 0usize, 0u64);
        for (key, loc) in &self.map {
            match *loc {
                Loc::Slot(i) => {
                    let e = self.slab.try_get(i).ok_or("a key points at a free slot")?;
                    if &e.key != key {
                        return Err("a slot location points at another key".into());
                    }
                    let now = self.weigher.weigh(&e.key, &e.value);
                    if now != e.weight {
                        return Err(format!("weigher now says {now}, recorded {}", e.weight));
                    }
                    if e.version >= self.next_version {
                        return Err("an entry's version is from the future".into());
                    }
                    if e.pending {
                        match self.outbox.get(e.out_pos as usize) {
                            Some(Some(Out::Evicted(j))) if *j == i => {}
                            _ => return Err("a pending entry is not in the outbox".into()),
                        }
                        pending += 1;
                        pending_bytes += e.weight;
                    } else {
                        resident += 1;
                    }
                }
                Loc::Stored { version, .. } => {
                    if version >= self.next_version {
                        return Err("a stored version is from the future".into());
                    }
                }
            }
        }
        if resident != self.slab.len() {
            return Err(format!(
                "{} resident keys but {} linked slots",
                resident,
                self.slab.len()
            ));
        }
        let queued = self
            .outbox
            .iter()
            .filter(|o| matches!(o, Some(Out::Evicted(_))))
            .count();
        if pending != self.pending_entries
            || queued != pending
            || pending_bytes != self.pending_bytes
        {
            return Err("pending counts disagree".into());
        }
        let s = self.stats;
        if s.evictions != s.spilled + s.dropped {
            return Err(format!(
                "{} evictions but {} spilled + {} dropped",
                s.evictions, s.spilled, s.dropped
            ));
        }
        Ok(())
    }
}
