//! Ghost keys: fingerprints of recently evicted keys, bounded FIFO, for S3-FIFO's "seen before".

use std::collections::{HashMap, VecDeque};

use crate::hash::FoldBuild;

#[derive(Clone, Debug, Default)]
pub(crate) struct Ghost {
    fifo: VecDeque<u64>,
    counts: HashMap<u64, u32, FoldBuild>,
}

impl Ghost {
    pub(crate) fn insert(&mut self, fp: u64, capacity: usize) {
        self.fifo.push_back(fp);
        *self.counts.entry(fp).or_insert(0) += 1;
        while self.fifo.len() > capacity.max(1) {
            if let Some(old) = self.fifo.pop_front() {
                self.forget(old);
            }
        }
    }

    fn forget(&mut self, fp: u64) {
        if let Some(c) = self.counts.get_mut(&fp) {
            *c -= 1;
            if *c == 0 {
                self.counts.remove(&fp);
            }
        }
    }

    /// Whether the fingerprint is a ghost; a hit removes it (it is about to become resident).
    pub(crate) fn take(&mut self, fp: u64) -> bool {
        // The FIFO keeps the stale copy; `forget` on expiry tolerates a missing count.
        self.counts.remove(&fp).is_some()
    }
}
