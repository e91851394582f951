//! The text index's snapshot: versioned, checksummed, little endian.
//!
//! | offset | what | type |
//! |---|---|---|
//! | 0 | magic `ELEXTXT\0` | 8 bytes |
//! | 8 | format version (1) | u16 |
//! | 10 | flags: bit 0 stemming, bit 1 stop words | u16 |
//! | 12 | k1, b | f32, f32 |
//! | 20 | documents, terms | u32, u32 |
//! | 28 | body length in bytes | u64 |
//! | 36 | checksum of bytes 0..36 and the body (`elex_simd::Checksum`) | u64 |
//! | 44 | body | |
//!
//! Body: for each live document in slot order, its id (u64) and length (u32); then for each
//! term with live documents, its UTF-8 length (u8), bytes, document count (u32) and that many
//! (document number u32, frequency u32) pairs, document numbers ascending. Loading checks the
//! checksum and then every invariant (numbers in range and ascending, frequencies at least 1,
//! terms distinct and valid UTF-8, each document's frequencies adding up to its length), so a
//! snapshot either loads whole or is an error.

use elex_simd::Checksum;

use crate::postings::Postings;
use crate::tokenize::{MAX_TERM_BYTES, TokenizerOptions};
use crate::{DELETED, TextError, TextIndex, TextOptions};

const MAGIC: &[u8; 8] = b"ELEXTXT\0";
const VERSION: u16 = 1;
const HEADER: usize = 44;
const SUM_AT: usize = 36;

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TextError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| TextError::Corrupt("a record runs past the body".into()))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, TextError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, TextError> {
        let mut a = [0; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }

    fn u64(&mut self) -> Result<u64, TextError> {
        let mut a = [0; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl TextIndex {
    /// The snapshot's bytes (live documents only: deleted ones and unused terms are dropped).
    pub fn to_bytes(&self) -> Vec<u8> {
        // Live slots renumbered in order.
        let mut number = vec![u32::MAX; self.ids.len()];
        let mut docs = 0u32;
        let size = self.len() * 12
            + self
                .term_text
                .iter()
                .zip(&self.postings)
                .map(|(t, p)| 5 + t.len() + 8 * p.len())
                .sum::<usize>();
        let mut body = Vec::with_capacity(size);
        for (s, &id) in self.ids.iter().enumerate() {
            if id != DELETED {
                number[s] = docs;
                docs += 1;
                body.extend_from_slice(&id.to_le_bytes());
                body.extend_from_slice(&self.lens[s].to_le_bytes());
            }
        }
        let mut terms = 0u32;
        for (text, p) in self.term_text.iter().zip(&self.postings) {
            if p.len() == 0 {
                continue;
            }
            terms += 1;
            body.push(text.len() as u8);
            body.extend_from_slice(text.as_bytes());
            body.extend_from_slice(&(p.len() as u32).to_le_bytes());
            for (&s, &tf) in p.slots.iter().zip(&p.tfs) {
                body.extend_from_slice(&number[s as usize].to_le_bytes());
                body.extend_from_slice(&tf.to_le_bytes());
            }
        }
        let t = self.options.tokenizer;
        let flags = u16::from(t.stem) | (u16::from(t.stop_words) << 1);
        let mut out = Vec::with_capacity(HEADER + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&self.options.k1.to_le_bytes());
        out.extend_from_slice(&self.options.b.to_le_bytes());
        out.extend_from_slice(&docs.to_le_bytes());
        out.extend_from_slice(&terms.to_le_bytes());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        let mut sum = Checksum::new();
        sum.update(&out);
        sum.update(&body);
        out.extend_from_slice(&sum.finish().to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// An index from [`to_bytes`](Self::to_bytes) output, checked whole.
    pub fn from_bytes(bytes: &[u8]) -> Result<TextIndex, TextError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(TextError::BadMagic);
        }
        if bytes.len() < HEADER {
            return Err(TextError::Truncated {
                needed: HEADER as u64,
                got: bytes.len() as u64,
            });
        }
        let version = le_u16(bytes, 8);
        if version != VERSION {
            return Err(TextError::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
        let body_len = le_u64(bytes, 28);
        let needed = (HEADER as u64).saturating_add(body_len);
        if (bytes.len() as u64) < needed {
            return Err(TextError::Truncated {
                needed,
                got: bytes.len() as u64,
            });
        }
        if (bytes.len() as u64) > needed {
            return Err(TextError::Corrupt(format!(
                "{} bytes after the snapshot's end",
                bytes.len() as u64 - needed
            )));
        }
        let body = &bytes[HEADER..];
        let mut sum = Checksum::new();
        sum.update(&bytes[..SUM_AT]);
        sum.update(body);
        if sum.finish() != le_u64(bytes, SUM_AT) {
            return Err(TextError::ChecksumMismatch);
        }
        let flags = le_u16(bytes, 10);
        if flags > 3 {
            return Err(TextError::Corrupt(format!("unknown flags {flags:#x}")));
        }
        let options = TextOptions {
            tokenizer: TokenizerOptions {
                stem: flags & 1 != 0,
                stop_words: flags & 2 != 0,
            },
            k1: f32::from_le_bytes(le_u32(bytes, 12).to_le_bytes()),
            b: f32::from_le_bytes(le_u32(bytes, 16).to_le_bytes()),
        };
        options
            .validate()
            .map_err(|e| TextError::Corrupt(e.to_string()))?;
        let docs = le_u32(bytes, 20) as usize;
        let terms = le_u32(bytes, 24) as usize;
        // Each document takes 12 bytes and each term at least 6: bound the counts by the body
        // before reserving anything.
        if docs
            .saturating_mul(12)
            .saturating_add(terms.saturating_mul(6))
            > body.len()
        {
            return Err(TextError::Corrupt("counts larger than the body".into()));
        }
        let mut ix = TextIndex::new(options)?;
        ix.slot_of.reserve(docs);
        ix.ids.reserve(docs);
        ix.lens.reserve(docs);
        let mut r = Reader { b: body, at: 0 };
        for s in 0..docs {
            let id = r.u64()?;
            if id == DELETED {
                return Err(TextError::Corrupt(format!(
                    "document {s} has the reserved id"
                )));
            }
            let len = r.u32()?;
            if ix.slot_of.insert(id, s as u32).is_some() {
                return Err(TextError::Corrupt(format!("id {id} appears twice")));
            }
            ix.ids.push(id);
            ix.lens.push(len);
            ix.total_len += u64::from(len);
        }
        // Per document: how many terms it has (for the forward index) and their frequencies' sum.
        let mut distinct = vec![0u32; docs];
        let mut tf_sum = vec![0u64; docs];
        ix.terms.reserve(terms);
        ix.term_text.reserve(terms);
        ix.postings.reserve(terms);
        for t in 0..terms {
            let n = r.u8()? as usize;
            if n == 0 || n > MAX_TERM_BYTES {
                return Err(TextError::Corrupt(format!("term {t} has length {n}")));
            }
            let text = std::str::from_utf8(r.take(n)?)
                .map_err(|_| TextError::Corrupt(format!("term {t} is not UTF-8")))?
                .to_owned();
            let df = r.u32()? as usize;
            if df == 0 || df > docs || df * 8 > body.len() - r.at {
                return Err(TextError::Corrupt(format!("term {t} has {df} documents")));
            }
            if ix.terms.insert(text.clone(), t as u32).is_some() {
                return Err(TextError::Corrupt(format!("term {text:?} appears twice")));
            }
            let mut p = Postings::with_capacity(df);
            for _ in 0..df {
                let s = r.u32()?;
                let tf = r.u32()?;
                if s as usize >= docs || p.slots.last().is_some_and(|&l| l >= s) || tf == 0 {
                    return Err(TextError::Corrupt(format!(
                        "term {text:?}: document {s} with frequency {tf} out of order or range"
                    )));
                }
                p.push(s, tf, ix.lens[s as usize]);
                distinct[s as usize] += 1;
                tf_sum[s as usize] += u64::from(tf);
            }
            ix.term_text.push(text);
            ix.postings.push(p);
        }
        if r.at != body.len() {
            return Err(TextError::Corrupt("bytes left after the last term".into()));
        }
        // The forward index, laid out by the counts, then filled term by term.
        let mut at = 0usize;
        ix.fwd_at.reserve(docs);
        for s in 0..docs {
            if tf_sum[s] != u64::from(ix.lens[s]) {
                return Err(TextError::Corrupt(format!(
                    "document {s}: frequencies add up to {}, its length is {}",
                    tf_sum[s], ix.lens[s]
                )));
            }
            at += distinct[s] as usize;
            ix.fwd_at.push(at);
        }
        ix.fwd = vec![0; at];
        let mut fill: Vec<usize> = ix.fwd_at[..docs].to_vec();
        for (t, p) in ix.postings.iter().enumerate() {
            for &s in &p.slots {
                ix.fwd[fill[s as usize]] = t as u32;
                fill[s as usize] += 1;
            }
        }
        Ok(ix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TextIndex {
        let mut ix = TextIndex::new(TextOptions::default()).unwrap();
        ix.add_batch(
            &[10, 20, 30],
            &["red green blue", "green green yellow", "blue moon"],
        )
        .unwrap();
        ix.delete(20).unwrap();
        ix
    }

    #[test]
    fn round_trip_is_identical() {
        let ix = sample();
        let bytes = ix.to_bytes();
        let back = TextIndex::from_bytes(&bytes).unwrap();
        assert_eq!(back.to_bytes(), bytes);
        assert_eq!(back.len(), 2);
        assert_eq!(
            back.search("blue", 5, None).unwrap(),
            ix.search("blue", 5, None).unwrap()
        );
    }

    #[test]
    fn every_damaged_byte_is_an_error() {
        let bytes = sample().to_bytes();
        for i in 0..bytes.len() {
            for bit in [0x01u8, 0x80] {
                let mut b = bytes.clone();
                b[i] ^= bit;
                assert!(TextIndex::from_bytes(&b).is_err(), "byte {i} bit {bit:#x}");
            }
        }
        for n in 0..bytes.len() {
            assert!(TextIndex::from_bytes(&bytes[..n]).is_err());
        }
    }
}
