//! One term's postings: the documents (by slot, ascending) that hold it and how often, cut into
//! blocks of [`BLOCK`] entries that each keep the largest term frequency and the shortest
//! document inside them. From those two a block's best possible BM25 contribution is bounded
//! at query time (the score rises with the frequency and falls with the length), whatever the
//! collection's average length is by then.

/// Entries per block.
pub(crate) const BLOCK: usize = 64;

/// Bounds of one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Block {
    /// Slot of the block's last entry.
    pub last: u32,
    /// Largest term frequency in the block.
    pub max_tf: u32,
    /// Shortest document length in the block.
    pub min_len: u32,
}

/// The postings of one term. Invariants: `slots` strictly ascending, `tfs` the same length and
/// all at least 1, `blocks[i]` describes entries `i * BLOCK ..` (at most `BLOCK` of them).
#[derive(Debug, Clone, Default)]
pub(crate) struct Postings {
    pub slots: Vec<u32>,
    pub tfs: Vec<u32>,
    pub blocks: Vec<Block>,
}

impl Postings {
    /// Empty, with room for `n` documents.
    pub fn with_capacity(n: usize) -> Postings {
        Postings {
            slots: Vec::with_capacity(n),
            tfs: Vec::with_capacity(n),
            blocks: Vec::with_capacity(n.div_ceil(BLOCK)),
        }
    }

    /// Number of documents holding the term.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Appends a document whose slot is above every slot held.
    pub fn push(&mut self, slot: u32, tf: u32, len: u32) {
        debug_assert!(self.slots.last().is_none_or(|&s| s < slot));
        if self.slots.len().is_multiple_of(BLOCK) {
            self.blocks.push(Block {
                last: slot,
                max_tf: tf,
                min_len: len,
            });
        } else if let Some(b) = self.blocks.last_mut() {
            b.last = slot;
            b.max_tf = b.max_tf.max(tf);
            b.min_len = b.min_len.min(len);
        }
        self.slots.push(slot);
        self.tfs.push(tf);
    }

    /// Removes `slot` if held (its blocks and the ones after are recomputed); returns whether
    /// it was there.
    pub fn remove(&mut self, slot: u32, lens: &[u32]) -> bool {
        let Ok(at) = self.slots.binary_search(&slot) else {
            return false;
        };
        self.slots.remove(at);
        self.tfs.remove(at);
        self.rebuild_blocks_from(at / BLOCK, lens);
        true
    }

    /// Recomputes the blocks from block `first` on.
    pub fn rebuild_blocks_from(&mut self, first: usize, lens: &[u32]) {
        self.blocks.truncate(first);
        for (s, t) in self.slots[first * BLOCK..]
            .chunks(BLOCK)
            .zip(self.tfs[first * BLOCK..].chunks(BLOCK))
        {
            self.blocks.push(Block {
                last: *s.last().unwrap_or(&0),
                max_tf: t.iter().copied().max().unwrap_or(0),
                min_len: s.iter().map(|&x| lens[x as usize]).min().unwrap_or(0),
            });
        }
    }

    /// Largest frequency and shortest length over the whole list (for the term's bound).
    pub fn bounds(&self) -> (u32, u32) {
        self.blocks.iter().fold((0, u32::MAX), |(tf, len), b| {
            (tf.max(b.max_tf), len.min(b.min_len))
        })
    }

    /// Bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.slots.capacity() * 4
            + self.tfs.capacity() * 4
            + self.blocks.capacity() * std::mem::size_of::<Block>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: &Postings, lens: &[u32]) {
        let mut fresh = Postings::default();
        for (&s, &t) in p.slots.iter().zip(&p.tfs) {
            fresh.push(s, t, lens[s as usize]);
        }
        assert_eq!(p.blocks, fresh.blocks);
    }

    #[test]
    fn remove_keeps_blocks_exact() {
        let lens: Vec<u32> = (0..500).map(|i| 1 + (i * 7919) % 97).collect();
        let mut p = Postings::default();
        for s in (0..500u32).step_by(2) {
            p.push(s, 1 + s % 5, lens[s as usize]);
        }
        check(&p, &lens);
        for s in [0, 2, 130, 498, 64, 7] {
            let was = p.slots.contains(&s);
            assert_eq!(p.remove(s, &lens), was);
            check(&p, &lens);
        }
        assert_eq!(p.len(), 250 - 5);
    }
}
