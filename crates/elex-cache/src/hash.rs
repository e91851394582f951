//! A small, fast, deterministic hasher for the key map and the policy's fingerprints: a
//! multiply-rotate over 8-byte words with a folded 128-bit multiply at the end, so the low bits
//! (which pick the bucket) depend on every input bit.

use std::hash::{BuildHasher, Hasher};

const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// The hasher.
#[derive(Clone, Copy, Default)]
pub(crate) struct FoldHasher {
    h: u64,
}

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.h = (self.h.rotate_left(5) ^ x).wrapping_mul(K);
    }

    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }

    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }

    fn finish(&self) -> u64 {
        fold(self.h)
    }
}

/// The folded multiply: high and low halves of a 128-bit product, xor-ed.
pub(crate) fn fold(x: u64) -> u64 {
    let p = u128::from(x ^ 0x2d35_8dcc_aa6c_78a5).wrapping_mul(u128::from(K | 1));
    (p as u64) ^ ((p >> 64) as u64)
}

/// Builds [`FoldHasher`]s.
#[derive(Clone, Copy, Default)]
pub(crate) struct FoldBuild;

impl BuildHasher for FoldBuild {
    type Hasher = FoldHasher;
    fn build_hasher(&self) -> FoldHasher {
        FoldHasher::default()
    }
}

/// The 64-bit fingerprint of a key (for sketches and ghosts).
pub(crate) fn fingerprint<Q: std::hash::Hash + ?Sized>(key: &Q) -> u64 {
    FoldBuild.hash_one(key)
}
