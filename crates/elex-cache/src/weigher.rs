//! Weighers: how many bytes an entry costs. The cache records the weight at insertion, so a weigher
//! that later changes its mind cannot break the accounting; the reload path and `validate` re-weigh
//! and report a mismatch as [`CacheError::WeigherInconsistent`](crate::CacheError).

/// Gives each entry its weight in bytes (at least 1).
pub trait Weigher<K, V> {
    /// The entry's weight in bytes.
    fn weigh(&self, key: &K, value: &V) -> u64;
}

/// Every entry weighs 1: the budget becomes a count of entries.
#[derive(Clone, Copy, Debug, Default)]
pub struct UnitWeigher;

impl<K, V> Weigher<K, V> for UnitWeigher {
    fn weigh(&self, _key: &K, _value: &V) -> u64 {
        1
    }
}

/// Weighs byte buffers by their length plus a fixed per-entry overhead (key, bookkeeping).
#[derive(Clone, Copy, Debug)]
pub struct BytesWeigher {
    /// Bytes charged per entry on top of the value's length.
    pub overhead: u64,
}

impl Default for BytesWeigher {
    fn default() -> Self {
        BytesWeigher { overhead: 64 }
    }
}

impl<K, V: AsRef<[u8]>> Weigher<K, V> for BytesWeigher {
    fn weigh(&self, _key: &K, value: &V) -> u64 {
        value.as_ref().len() as u64 + self.overhead
    }
}

impl<K, V, F: Fn(&K, &V) -> u64> Weigher<K, V> for F {
    fn weigh(&self, key: &K, value: &V) -> u64 {
        self(key, value)
    }
}
