//! A 4-bit count-min sketch of recent access frequency (TinyLFU's "how popular is this key").
//!
//! Each 64-bit word holds 16 counters; a key's four counters come from four independent mixes of
//! its fingerprint. Counters saturate at 15, and after `sample` increments every counter is halved
//! (the "reset" that ages old popularity out). The table grows with the number of resident entries.

use crate::hash::fold;

#[derive(Clone, Debug)]
pub(crate) struct Sketch {
    table: Vec<u64>,
    mask: usize,
    additions: u64,
    sample: u64,
}

const SEEDS: [u64; 4] = [
    0xc3a5_c85c_97cb_3127,
    0xb492_b66f_be98_f273,
    0x9ae1_6a3b_2f90_404f,
    0xcbf2_9ce4_8422_2325,
];

impl Sketch {
    pub(crate) fn new(entries: usize) -> Self {
        let words = entries.max(16).next_power_of_two();
        Sketch {
            table: vec![0; words],
            mask: words - 1,
            additions: 0,
            sample: 10 * entries.max(16) as u64,
        }
    }

    /// Grows the table (and forgets the counts) when the cache holds more entries than it covers.
    pub(crate) fn ensure(&mut self, entries: usize) {
        if entries > self.table.len() && self.table.len() < (1 << 26) {
            *self = Sketch::new(entries);
        }
        // Age over ten times the entries the cache holds (TinyLFU's sample size).
        self.sample = self.sample.max(10 * entries as u64);
    }

    fn slot(&self, fp: u64, i: usize) -> (usize, u32) {
        let h = fold(fp ^ SEEDS[i]);
        ((h as usize) & self.mask, ((h >> 60) as u32) * 4)
    }

    pub(crate) fn frequency(&self, fp: u64) -> u8 {
        (0..4)
            .map(|i| {
                let (w, shift) = self.slot(fp, i);
                ((self.table[w] >> shift) & 15) as u8
            })
            .min()
            .unwrap_or(0)
    }

    /// Halves every counter.
    pub(crate) fn age(&mut self) {
        for w in &mut self.table {
            *w = (*w >> 1) & 0x7777_7777_7777_7777;
        }
        self.additions /= 2;
    }

    pub(crate) fn increment(&mut self, fp: u64) {
        let mut added = false;
        for i in 0..4 {
            let (w, shift) = self.slot(fp, i);
            if (self.table[w] >> shift) & 15 < 15 {
                self.table[w] += 1 << shift;
                added = true;
            }
        }
        if added {
            self.additions += 1;
            if self.additions >= self.sample {
                self.age();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_ages() {
        let mut s = Sketch::new(64);
        for _ in 0..5 {
            s.increment(42);
        }
        s.increment(7);
        assert!(s.frequency(42) >= 5);
        assert!(s.frequency(7) >= 1);
        for _ in 0..40 {
            s.increment(42);
        }
        assert_eq!(s.frequency(42), 15);
        // Ageing: enough other additions halve every counter.
        for k in 0..2_000u64 {
            s.increment(1_000 + k);
        }
        assert!(s.frequency(42) < 15);
    }
}
