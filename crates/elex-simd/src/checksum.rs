//! The checksum of elex's persisted formats (HNSW and Q-learning snapshots): a streaming 64-bit
//! hash that detects corruption (any single changed 8-byte word always changes it). Not a
//! cryptographic hash: it guards against damage, not against an adversary.

/// Streaming 64-bit checksum: each little-endian 8-byte word goes through an invertible
/// xor-multiply-xorshift step, so any single changed word changes the result.
#[derive(Clone, Debug)]
pub struct Checksum {
    h: u64,
    pending: [u8; 8],
    n: usize,
    total: u64,
}

impl Checksum {
    /// A checksum of no bytes yet.
    pub fn new() -> Checksum {
        Checksum {
            h: 0x243f_6a88_85a3_08d3,
            pending: [0; 8],
            n: 0,
            total: 0,
        }
    }

    #[inline]
    fn word(&mut self, w: u64) {
        self.h = (self.h ^ w).wrapping_mul(0x9fb2_1c65_1e98_df25);
        self.h ^= self.h >> 29;
    }

    /// Feeds more bytes (any split of a stream gives the same result).
    pub fn update(&mut self, mut b: &[u8]) {
        self.total += b.len() as u64;
        if self.n > 0 {
            let take = (8 - self.n).min(b.len());
            self.pending[self.n..self.n + take].copy_from_slice(&b[..take]);
            self.n += take;
            b = &b[take..];
            if self.n < 8 {
                return;
            }
            self.word(u64::from_le_bytes(self.pending));
            self.n = 0;
        }
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.n = rest.len();
    }

    /// The checksum of everything fed, length included.
    pub fn finish(mut self) -> u64 {
        if self.n > 0 {
            let mut w = [0u8; 8];
            w[..self.n].copy_from_slice(&self.pending[..self.n]);
            self.word(u64::from_le_bytes(w));
        }
        let total = self.total;
        self.word(total);
        self.h
    }
}

/// The checksum of one byte string.
pub fn checksum64(bytes: &[u8]) -> u64 {
    let mut c = Checksum::new();
    c.update(bytes);
    c.finish()
}

impl Default for Checksum {
    fn default() -> Self {
        Checksum::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_split_gives_the_same_sum_and_one_changed_byte_changes_it() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = checksum64(&data);
        for cut in [0, 1, 7, 8, 9, 500, 999, 1000] {
            let mut c = Checksum::new();
            c.update(&data[..cut]);
            c.update(&data[cut..]);
            assert_eq!(c.finish(), whole);
        }
        for at in [0, 3, 8, 500, 999] {
            let mut d = data.clone();
            d[at] ^= 1;
            assert_ne!(checksum64(&d), whole);
        }
        assert_ne!(checksum64(&data[..999]), whole);
    }
}
