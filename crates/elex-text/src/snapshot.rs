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
//!
//! Both directions run in steps for callers that yield between them ([`SnapshotWriter`],
//! [`SnapshotLoader`]); [`TextIndex::to_bytes`] and [`TextIndex::from_bytes`] are one step each.

use elex_simd::Checksum;
use elex_store::ByteReader;

use crate::postings::Postings;
use crate::tokenize::{MAX_TERM_BYTES, TokenizerOptions};
use crate::{DELETED, TextError, TextIndex, TextOptions};

const MAGIC: &[u8; 8] = b"ELEXTXT\0";
const VERSION: u16 = 1;
const HEADER: usize = 44;
const SUM_AT: usize = 36;

/// Documents between two looks at the `stop` closure.
const DOCS_PER_CHECK: usize = 1024;

/// A snapshot being written: [`TextIndex::snapshot_writer`], then [`step`](Self::step) until it
/// returns true, then [`finish`](Self::finish). The index must not change in between (each step
/// checks, and says `Busy` if it did).
#[derive(Debug)]
pub struct SnapshotWriter {
    generation: u64,
    /// Slot -> document number in the snapshot.
    number: Vec<u32>,
    out: Vec<u8>,
    next_term: usize,
    docs: u32,
    terms: u32,
}

impl SnapshotWriter {
    /// Writes more terms until `stop()` says so (at least one) or all are written; returns
    /// whether the body is complete.
    pub fn step(
        &mut self,
        ix: &TextIndex,
        mut stop: impl FnMut() -> bool,
    ) -> Result<bool, TextError> {
        if ix.generation != self.generation {
            return Err(TextError::Busy(
                "the index changed while its snapshot was written".into(),
            ));
        }
        while self.next_term < ix.term_text.len() {
            let (text, p) = (&ix.term_text[self.next_term], &ix.postings[self.next_term]);
            self.next_term += 1;
            if p.len() == 0 {
                continue;
            }
            self.terms += 1;
            self.out.push(text.len() as u8);
            self.out.extend_from_slice(text.as_bytes());
            self.out.extend_from_slice(&(p.len() as u32).to_le_bytes());
            for (&s, &tf) in p.slots.iter().zip(&p.tfs) {
                self.out
                    .extend_from_slice(&self.number[s as usize].to_le_bytes());
                self.out.extend_from_slice(&tf.to_le_bytes());
            }
            if stop() {
                break;
            }
        }
        Ok(self.next_term == ix.term_text.len())
    }

    /// Bytes written so far and an estimate of the total.
    pub fn progress(&self) -> (usize, usize) {
        (self.out.len(), self.out.capacity().max(self.out.len()))
    }

    /// The snapshot: the header and its checksum before the body.
    pub fn finish(mut self, ix: &TextIndex) -> Vec<u8> {
        let t = ix.options.tokenizer;
        let flags = u16::from(t.stem) | (u16::from(t.stop_words) << 1);
        let body_len = (self.out.len() - HEADER) as u64;
        let mut h = Vec::with_capacity(HEADER);
        h.extend_from_slice(MAGIC);
        h.extend_from_slice(&VERSION.to_le_bytes());
        h.extend_from_slice(&flags.to_le_bytes());
        h.extend_from_slice(&ix.options.k1.to_le_bytes());
        h.extend_from_slice(&ix.options.b.to_le_bytes());
        h.extend_from_slice(&self.docs.to_le_bytes());
        h.extend_from_slice(&self.terms.to_le_bytes());
        h.extend_from_slice(&body_len.to_le_bytes());
        let mut sum = Checksum::new();
        sum.update(&h);
        sum.update(&self.out[HEADER..]);
        h.extend_from_slice(&sum.finish().to_le_bytes());
        self.out[..HEADER].copy_from_slice(&h);
        self.out
    }
}

impl TextIndex {
    /// Starts a snapshot (live documents only: deleted ones and unused terms are dropped); the
    /// documents are written here, the terms by the steps.
    pub fn snapshot_writer(&self) -> SnapshotWriter {
        let size = HEADER
            + self.len() * 12
            + self
                .term_text
                .iter()
                .zip(&self.postings)
                .map(|(t, p)| {
                    if p.len() == 0 {
                        0
                    } else {
                        5 + t.len() + 8 * p.len()
                    }
                })
                .sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.resize(HEADER, 0);
        let mut number = vec![u32::MAX; self.ids.len()];
        let mut docs = 0u32;
        for (s, &id) in self.ids.iter().enumerate() {
            if id != DELETED {
                number[s] = docs;
                docs += 1;
                out.extend_from_slice(&id.to_le_bytes());
                out.extend_from_slice(&self.lens[s].to_le_bytes());
            }
        }
        SnapshotWriter {
            generation: self.generation,
            number,
            out,
            next_term: 0,
            docs,
            terms: 0,
        }
    }

    /// The snapshot's bytes, in one go.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = self.snapshot_writer();
        // The index cannot change during this call: the one step cannot fail.
        let _ = w.step(self, || false);
        w.finish(self)
    }

    /// An index from [`to_bytes`](Self::to_bytes) output, checked whole.
    pub fn from_bytes(bytes: &[u8]) -> Result<TextIndex, TextError> {
        let mut l = SnapshotLoader::new(bytes.to_vec())?;
        while !l.step(|| false)? {}
        l.finish()
    }
}

/// Where a [`SnapshotLoader`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Docs(usize),
    Terms(usize),
    Done,
}

/// A snapshot being read: [`new`](Self::new) checks the header and the checksum, then
/// [`step`](Self::step) until it returns true, then [`finish`](Self::finish). Any error leaves
/// nothing behind (the index is only handed out whole).
#[derive(Debug)]
pub struct SnapshotLoader {
    /// The whole snapshot, read from past its header.
    body: ByteReader<Vec<u8>>,
    ix: TextIndex,
    docs: usize,
    terms: usize,
    phase: Phase,
    /// Per document: distinct terms (for the forward index) and the frequencies' sum.
    distinct: Vec<u32>,
    tf_sum: Vec<u64>,
}

impl SnapshotLoader {
    /// Checks the header, the length and the checksum of `bytes`.
    pub fn new(bytes: Vec<u8>) -> Result<SnapshotLoader, TextError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(TextError::BadMagic);
        }
        if bytes.len() < HEADER {
            return Err(TextError::Truncated {
                needed: HEADER as u64,
                got: bytes.len() as u64,
            });
        }
        // The header's fields after the magic, in order (the header's length is checked above,
        // so none of these reads can come up short).
        let mut h = ByteReader::new(&bytes[MAGIC.len()..HEADER]);
        let (version, flags) = (h.u16()?, h.u16()?);
        let (k1, b) = (h.f32()?, h.f32()?);
        let (docs, terms) = (h.u32()? as usize, h.u32()? as usize);
        let (body_len, stored_sum) = (h.u64()?, h.u64()?);
        if version != VERSION {
            return Err(TextError::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
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
        let mut sum = Checksum::new();
        sum.update(&bytes[..SUM_AT]);
        sum.update(&bytes[HEADER..]);
        if sum.finish() != stored_sum {
            return Err(TextError::ChecksumMismatch);
        }
        if flags > 3 {
            return Err(TextError::Corrupt(format!("unknown flags {flags:#x}")));
        }
        let options = TextOptions {
            tokenizer: TokenizerOptions {
                stem: flags & 1 != 0,
                stop_words: flags & 2 != 0,
            },
            k1,
            b,
        };
        options
            .validate()
            .map_err(|e| TextError::Corrupt(e.to_string()))?;
        // Each document takes 12 bytes and each term at least 13: bound the counts by the body
        // before reserving anything.
        if docs
            .saturating_mul(12)
            .saturating_add(terms.saturating_mul(13))
            > bytes.len() - HEADER
        {
            return Err(TextError::Corrupt("counts larger than the body".into()));
        }
        let mut ix = TextIndex::new(options)?;
        ix.slot_of.reserve(docs);
        ix.ids.reserve(docs);
        ix.lens.reserve(docs);
        ix.terms.reserve(terms);
        ix.term_text.reserve(terms);
        ix.postings.reserve(terms);
        Ok(SnapshotLoader {
            body: ByteReader::starting_at(bytes, HEADER),
            ix,
            docs,
            terms,
            phase: Phase::Docs(0),
            distinct: vec![0; docs],
            tf_sum: vec![0; docs],
        })
    }

    /// Share of the body read, 0..=1.
    pub fn progress(&self) -> f64 {
        (self.body.at() - HEADER) as f64 / (self.body.total() - HEADER).max(1) as f64
    }

    /// Reads more (at least a little) until `stop()` says so or the body is read; returns
    /// whether it is.
    pub fn step(&mut self, mut stop: impl FnMut() -> bool) -> Result<bool, TextError> {
        loop {
            match self.phase {
                Phase::Docs(s) => {
                    let end = (s + DOCS_PER_CHECK).min(self.docs);
                    for s in s..end {
                        self.read_doc(s)?;
                    }
                    self.phase = if end == self.docs {
                        Phase::Terms(0)
                    } else {
                        Phase::Docs(end)
                    };
                }
                Phase::Terms(t) if t < self.terms => {
                    self.read_term(t)?;
                    self.phase = Phase::Terms(t + 1);
                }
                Phase::Terms(_) => {
                    if self.body.left() != 0 {
                        return Err(TextError::Corrupt("bytes left after the last term".into()));
                    }
                    self.forward_index()?;
                    self.phase = Phase::Done;
                }
                Phase::Done => return Ok(true),
            }
            if stop() {
                return Ok(self.phase == Phase::Done);
            }
        }
    }

    fn read_doc(&mut self, s: usize) -> Result<(), TextError> {
        let id = self.body.u64()?;
        if id == DELETED {
            return Err(TextError::Corrupt(format!(
                "document {s} has the reserved id"
            )));
        }
        let len = self.body.u32()?;
        let ix = &mut self.ix;
        if ix.slot_of.insert(id, s as u32).is_some() {
            return Err(TextError::Corrupt(format!("id {id} appears twice")));
        }
        ix.ids.push(id);
        ix.lens.push(len);
        ix.total_len += u64::from(len);
        Ok(())
    }

    fn read_term(&mut self, t: usize) -> Result<(), TextError> {
        let n = self.body.u8()? as usize;
        if n == 0 || n > MAX_TERM_BYTES {
            return Err(TextError::Corrupt(format!("term {t} has length {n}")));
        }
        let text = std::str::from_utf8(self.body.take(n)?)
            .map_err(|_| TextError::Corrupt(format!("term {t} is not UTF-8")))?
            .to_owned();
        let df = self.body.u32()? as usize;
        if df == 0 || df > self.docs || !self.body.has_room(df, 8) {
            return Err(TextError::Corrupt(format!("term {t} has {df} documents")));
        }
        if self.ix.terms.insert(text.clone(), t as u32).is_some() {
            return Err(TextError::Corrupt(format!("term {text:?} appears twice")));
        }
        let mut p = Postings::with_capacity(df);
        for _ in 0..df {
            let s = self.body.u32()?;
            let tf = self.body.u32()?;
            if s as usize >= self.docs || p.slots.last().is_some_and(|&l| l >= s) || tf == 0 {
                return Err(TextError::Corrupt(format!(
                    "term {text:?}: document {s} with frequency {tf} out of order or range"
                )));
            }
            p.push(s, tf, self.ix.lens[s as usize]);
            self.distinct[s as usize] += 1;
            self.tf_sum[s as usize] += u64::from(tf);
        }
        self.ix.term_text.push(text);
        self.ix.postings.push(p);
        Ok(())
    }

    /// Checks each document's frequencies against its length, then lays out the forward index
    /// by the counts and fills it term by term.
    fn forward_index(&mut self) -> Result<(), TextError> {
        let ix = &mut self.ix;
        let mut at = 0usize;
        ix.fwd_at.reserve(self.docs);
        for s in 0..self.docs {
            if self.tf_sum[s] != u64::from(ix.lens[s]) {
                return Err(TextError::Corrupt(format!(
                    "document {s}: frequencies add up to {}, its length is {}",
                    self.tf_sum[s], ix.lens[s]
                )));
            }
            at += self.distinct[s] as usize;
            ix.fwd_at.push(at);
        }
        ix.fwd = vec![0; at];
        let mut fill: Vec<usize> = ix.fwd_at[..self.docs].to_vec();
        for (t, p) in ix.postings.iter().enumerate() {
            for &s in &p.slots {
                ix.fwd[fill[s as usize]] = t as u32;
                fill[s as usize] += 1;
            }
        }
        Ok(())
    }

    /// The index, once [`step`](Self::step) returned true.
    pub fn finish(self) -> Result<TextIndex, TextError> {
        if self.phase != Phase::Done {
            return Err(TextError::Busy(
                "the snapshot is not read to its end".into(),
            ));
        }
        Ok(self.ix)
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
    fn stepped_writer_and_loader_equal_the_one_shot_ones() {
        let mut ix = TextIndex::new(TextOptions::default()).unwrap();
        let texts: Vec<String> = (0..3000)
            .map(|i| format!("doc {i} w{} v{}", i % 97, i % 13))
            .collect();
        let ids: Vec<u64> = (0..3000).collect();
        ix.add_batch(&ids, &texts).unwrap();
        ix.delete(7).unwrap();
        let mut w = ix.snapshot_writer();
        let mut steps = 0;
        while !w.step(&ix, || true).unwrap() {
            steps += 1;
        }
        let bytes = w.finish(&ix);
        assert!(steps > 10);
        assert_eq!(bytes, ix.to_bytes());
        let mut l = SnapshotLoader::new(bytes.clone()).unwrap();
        let mut steps = 0;
        while !l.step(|| true).unwrap() {
            steps += 1;
        }
        assert!(steps > 10);
        assert_eq!(l.finish().unwrap().to_bytes(), bytes);
        // A change between steps is refused.
        let mut w = ix.snapshot_writer();
        w.step(&ix, || true).unwrap();
        ix.add(9999, "late").unwrap();
        assert!(matches!(w.step(&ix, || true), Err(TextError::Busy(_))));
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
