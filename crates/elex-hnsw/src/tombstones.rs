//! Tombstones: one bit per node, set when its vector is deleted (the node stays in the graph,
//! traversed but never returned, until a compaction).
//!
//! Invariants: the bitset has exactly `⌈slots/64⌉` words, no bit at or past `slots` is set, and
//! `count` is the number of set bits.

use crate::NodeId;
use crate::section::{Reserve, Section, Sink};

/// Which nodes are deleted.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tombstones {
    bits: Vec<u64>,
    count: usize,
}

impl Tombstones {
    /// Whether `n` is deleted (no lookup while nothing is: the common case in a search).
    #[inline]
    pub(crate) fn is_deleted(&self, n: NodeId) -> bool {
        self.count != 0 && bit(&self.bits, n.0)
    }

    /// Deleted nodes.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Marks `n` deleted (a live node).
    pub(crate) fn mark(&mut self, n: NodeId) {
        if !self.is_deleted(n) {
            self.bits[n.idx() / 64] |= 1 << (n.0 % 64);
            self.count += 1;
        }
    }

    /// Makes room for node `n`, appended live.
    pub(crate) fn push(&mut self, n: NodeId) {
        if n.idx() / 64 >= self.bits.len() {
            self.bits.push(0);
        }
    }

    /// Keeps the first `slots` nodes (the rollback of a batch, which deletes nothing).
    pub(crate) fn truncate(&mut self, slots: usize) {
        self.bits.truncate(slots.div_ceil(64));
        if let Some(last) = self.bits.last_mut() {
            let used = slots % 64;
            if used != 0 {
                *last &= (1u64 << used) - 1;
            }
        }
        self.count = self.bits.iter().map(|w| w.count_ones() as usize).sum();
    }

    /// Room for `n` more nodes.
    pub(crate) fn reserve_exact(&mut self, n: usize) -> Reserve {
        self.bits.try_reserve_exact(n.div_ceil(64))
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.bits.shrink_to_fit();
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.bits.capacity() * 8
    }

    // ---- snapshot: one section, the words; checked whole once read ----------------------

    pub(crate) fn section(&self) -> Section<'_> {
        Section::U64(&self.bits)
    }

    pub(crate) fn sink(&mut self) -> Sink<'_> {
        Sink::U64(&mut self.bits)
    }

    pub(crate) fn for_reading(slots: usize) -> Tombstones {
        Tombstones {
            bits: Vec::with_capacity(slots.div_ceil(64)),
            count: 0,
        }
    }

    /// Once read: no bit past `slots`, and exactly `count` bits set.
    pub(crate) fn check(&mut self, slots: u64, count: u64) -> Result<(), String> {
        let words = self.bits.len();
        let bits: u64 = self.bits.iter().map(|w| w.count_ones() as u64).sum();
        if bits != count
            || (!slots.is_multiple_of(64) && words > 0 && self.bits[words - 1] >> (slots % 64) != 0)
        {
            return Err("tombstone bits do not match the deleted count".into());
        }
        self.count = count as usize;
        Ok(())
    }
}

/// Bit `n` of a bitset.
#[inline]
pub(crate) fn bit(bits: &[u64], n: u32) -> bool {
    bits.get(n as usize / 64)
        .is_some_and(|w| w & (1 << (n % 64)) != 0)
}
