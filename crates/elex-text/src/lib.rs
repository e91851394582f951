//! Full-text search for elex.
//!
//! A [`TextIndex`] maps caller ids (`u64`, the same id space as the vector index) to texts. It
//! tokenizes them ([`Tokenizer`]: Unicode word boundaries, lower case, optional English stop words
//! and stemming, both off by default), keeps an inverted index, and ranks with BM25 in the Lucene form:
//!
//! ```text
//! score(d, q) = sum over query terms t of  idf(t) * tf / (tf + k1 * (1 - b + b * |d| / avgdl))
//! idf(t)      = ln(1 + (N - df + 0.5) / (df + 0.5))
//! ```
//!
//! with `k1 = 1.2`, `b = 0.75` by default, `N` and `avgdl` over the live documents and a query
//! term counted as often as it is repeated (the scores of PyPI `bm25s`, method `"lucene"`).
//! Top-k runs block-max WAND ([`TextIndex::search`]) and returns exactly what scoring every
//! matching document would ([`TextIndex::search_exhaustive`]): ties go to the earlier-added
//! document.
//!
//! Batches are all or nothing ([`TextIndex::add_batch`], or [`TextIndex::begin_batch`] and steps
//! for callers that yield between them). Deletes take effect at once, statistics included.
//! Snapshots ([`TextIndex::to_bytes`]) are versioned and checksummed.
//!
//! ```
//! use elex_text::{TextIndex, TextOptions, TokenizerOptions};
//! let mut index = TextIndex::new(TextOptions::default())?;
//! index.add_batch(&[1, 2], &["The quick brown fox", "A lazy dog sleeps"])?;
//! assert_eq!(index.search("fox", 10, None)?[0].id, 1);
//! // English stemming and stop words, for queries worded unlike the text:
//! let stemmed = TextOptions {
//!     tokenizer: TokenizerOptions { stem: true, stop_words: true },
//!     ..TextOptions::default()
//! };
//! let mut index = TextIndex::new(stemmed)?;
//! index.add_batch(&[1, 2], &["The quick brown fox", "A lazy dog sleeps"])?;
//! assert_eq!(index.search("sleeping dogs", 10, None)?[0].id, 2);
//! # Ok::<(), elex_text::TextError>(())
//! ```

#![forbid(unsafe_code)]

mod error;
pub mod fusion;
mod oplog;
mod postings;
mod search;
mod snapshot;
pub mod tokenize;

use std::collections::HashMap;

pub use error::TextError;
pub use fusion::{Chunks, Fusion, fuse, fuse_complete};
pub use oplog::{TextLog, TextOp, decode_text_ops};
pub use search::{SearchStats, WAND_MAX_TERMS};
pub use snapshot::{SnapshotLoader, SnapshotWriter};
pub use tokenize::{Tokenizer, TokenizerOptions};

use postings::Postings;

/// Longest text taken, in UTF-8 bytes.
pub const MAX_TEXT_BYTES: usize = 1 << 26;

/// Most document slots an index holds (slots are 32-bit; deleted ones count until a compaction).
pub const MAX_SLOTS: usize = u32::MAX as usize - 1;

/// Options of a text index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextOptions {
    /// How text becomes terms.
    pub tokenizer: TokenizerOptions,
    /// Term-frequency saturation (default 1.2; 0..=10).
    pub k1: f32,
    /// Length normalization (default 0.75; 0..=1).
    pub b: f32,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            tokenizer: TokenizerOptions::default(),
            k1: 1.2,
            b: 0.75,
        }
    }
}

impl TextOptions {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), TextError> {
        if !(self.k1.is_finite() && (0.0..=10.0).contains(&self.k1)) {
            return Err(TextError::InvalidParams(format!(
                "k1 must be in 0..=10, got {}",
                elex_simd::Short::from(self.k1)
            )));
        }
        if !(self.b.is_finite() && (0.0..=1.0).contains(&self.b)) {
            return Err(TextError::InvalidParams(format!(
                "b must be in 0..=1, got {}",
                elex_simd::Short::from(self.b)
            )));
        }
        Ok(())
    }
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextHit {
    /// The caller's id.
    pub id: u64,
    /// BM25 score, higher is better.
    pub score: f32,
}

/// Slot of a deleted document in `ids`.
const DELETED: u64 = u64::MAX;

/// A BM25 text index. Invariants: every live slot's terms are in the postings of exactly
/// those terms with its frequencies, and its length is their sum; deleted slots are in no
/// postings; `live`, `total_len` and `slot_of` describe the live slots.
#[derive(Debug)]
pub struct TextIndex {
    options: TextOptions,
    tokenizer: Tokenizer,
    /// Term -> term number.
    terms: HashMap<String, u32>,
    /// Term number -> term.
    term_text: Vec<String>,
    /// Term number -> postings.
    postings: Vec<Postings>,
    /// Slot -> caller id (`DELETED` once deleted).
    ids: Vec<u64>,
    /// Slot -> length in terms.
    lens: Vec<u32>,
    /// Slot -> its distinct term numbers: `fwd[fwd_at[s]..fwd_at[s + 1]]`.
    fwd: Vec<u32>,
    fwd_at: Vec<usize>,
    /// Caller id -> slot, live documents only.
    slot_of: HashMap<u64, u32>,
    /// Sum of the live documents' lengths.
    total_len: u64,
    /// Whether a stepped batch is open.
    batch_open: bool,
    /// Bumped by every change (snapshot writers check it between steps).
    generation: u64,
    /// Lower-case word -> its term number ([`STOP`] for a stop word): a memo of the tokenizer's
    /// stop-word check and stemming, which cost more than the rest of indexing together.
    word_terms: HashMap<String, u32>,
}

/// `word_terms` value of a stop word.
const STOP: u32 = u32::MAX;

/// A validated batch being added in steps: see [`TextIndex::begin_batch`].
#[derive(Debug)]
pub struct PendingBatch {
    ids: Vec<u64>,
    texts: Vec<String>,
    done: usize,
    slots_before: usize,
    terms_before: usize,
}

impl PendingBatch {
    /// Documents added so far.
    pub fn done(&self) -> usize {
        self.done
    }

    /// Documents in the batch.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether every document is added.
    pub fn is_complete(&self) -> bool {
        self.done == self.ids.len()
    }
}

impl TextIndex {
    /// An empty index.
    pub fn new(options: TextOptions) -> Result<TextIndex, TextError> {
        options.validate()?;
        Ok(TextIndex {
            options,
            tokenizer: Tokenizer::new(options.tokenizer),
            terms: HashMap::new(),
            term_text: Vec::new(),
            postings: Vec::new(),
            ids: Vec::new(),
            lens: Vec::new(),
            fwd: Vec::new(),
            fwd_at: vec![0],
            slot_of: HashMap::new(),
            total_len: 0,
            batch_open: false,
            generation: 0,
            word_terms: HashMap::new(),
        })
    }

    /// Its options.
    pub fn options(&self) -> TextOptions {
        self.options
    }

    /// Its tokenizer (what a query's words become).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Live documents.
    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    /// Whether no document is live.
    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    /// Deleted documents whose slots a compaction would free.
    pub fn deleted_count(&self) -> usize {
        self.ids.len() - self.slot_of.len()
    }

    /// Distinct terms with at least one live document.
    pub fn term_count(&self) -> usize {
        self.postings.iter().filter(|p| p.len() > 0).count()
    }

    /// Whether `id` is live.
    pub fn contains(&self, id: u64) -> bool {
        self.slot_of.contains_key(&id)
    }

    /// Number of live documents holding `term` (already a term: see [`Tokenizer::terms`]).
    pub fn doc_freq(&self, term: &str) -> usize {
        self.terms
            .get(term)
            .map_or(0, |&t| self.postings[t as usize].len())
    }

    /// Average live document length in terms (0 when empty).
    pub fn avg_len(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.total_len as f64 / self.len() as f64
        }
    }

    /// Approximate bytes held.
    pub fn memory_bytes(&self) -> usize {
        let terms: usize = self.term_text.iter().map(|t| t.capacity() + 24 + 8).sum();
        let postings: usize = self.postings.iter().map(|p| p.memory_bytes() + 72).sum();
        terms * 2
            + postings
            + self.ids.capacity() * 8
            + self.lens.capacity() * 4
            + self.fwd.capacity() * 4
            + self.fwd_at.capacity() * std::mem::size_of::<usize>()
            + self.slot_of.capacity() * 16
            + self
                .word_terms
                .keys()
                .map(|w| w.capacity() + 24 + 8)
                .sum::<usize>()
    }

    fn check_idle(&self, what: &str) -> Result<(), TextError> {
        if self.batch_open {
            return Err(TextError::Busy(format!("{what}: a batch is being added")));
        }
        Ok(())
    }

    /// Checks a batch without changing anything: the same number of ids and texts, no id
    /// twice or already present, every text within [`MAX_TEXT_BYTES`], room for the slots.
    /// The one validator of every way in ([`add`](Self::add), [`add_batch`](Self::add_batch),
    /// [`begin_batch`](Self::begin_batch)).
    pub fn validate_batch<S: AsRef<str>>(&self, ids: &[u64], texts: &[S]) -> Result<(), TextError> {
        if ids.len() != texts.len() {
            return Err(TextError::BatchShape {
                ids: ids.len(),
                texts: texts.len(),
            });
        }
        if self.ids.len() + ids.len() > MAX_SLOTS {
            return Err(TextError::Full(self.ids.len()));
        }
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        for (i, (&id, text)) in ids.iter().zip(texts).enumerate() {
            if id == DELETED {
                return Err(TextError::InvalidParams(format!(
                    "id {id} is reserved (largest u64)"
                )));
            }
            if self.slot_of.contains_key(&id) || !seen.insert(id) {
                return Err(TextError::DuplicateId(id));
            }
            let bytes = text.as_ref().len();
            if bytes > MAX_TEXT_BYTES {
                return Err(TextError::TextTooLarge {
                    index: i,
                    bytes,
                    max: MAX_TEXT_BYTES,
                });
            }
        }
        Ok(())
    }

    /// Adds one document.
    pub fn add(&mut self, id: u64, text: &str) -> Result<(), TextError> {
        self.add_batch(&[id], &[text])
    }

    /// Adds documents: all of them, or none and an error.
    pub fn add_batch<S: AsRef<str>>(&mut self, ids: &[u64], texts: &[S]) -> Result<(), TextError> {
        self.check_idle("add")?;
        self.validate_batch(ids, texts)?;
        for (&id, text) in ids.iter().zip(texts) {
            self.insert(id, text.as_ref());
        }
        Ok(())
    }

    /// Validates a batch and opens it for [`step_batch`](Self::step_batch); until it is
    /// committed or rolled back, other changes are `Busy`.
    pub fn begin_batch(
        &mut self,
        ids: Vec<u64>,
        texts: Vec<String>,
    ) -> Result<PendingBatch, TextError> {
        self.check_idle("addBatch")?;
        self.validate_batch(&ids, &texts)?;
        self.batch_open = true;
        Ok(PendingBatch {
            ids,
            texts,
            done: 0,
            slots_before: self.ids.len(),
            terms_before: self.term_text.len(),
        })
    }

    /// Adds more documents of the batch, at least one, until `stop()` says so or the batch is
    /// done; returns how many are added in all.
    pub fn step_batch(
        &mut self,
        batch: &mut PendingBatch,
        mut stop: impl FnMut() -> bool,
    ) -> usize {
        while batch.done < batch.ids.len() {
            let i = batch.done;
            let text = std::mem::take(&mut batch.texts[i]);
            self.insert(batch.ids[i], &text);
            batch.done += 1;
            if stop() {
                break;
            }
        }
        batch.done
    }

    /// Adds what is left of the batch and closes it.
    pub fn commit_batch(&mut self, mut batch: PendingBatch) {
        self.step_batch(&mut batch, || false);
        self.batch_open = false;
    }

    /// Removes what the batch added (the index is as before [`begin_batch`](Self::begin_batch))
    /// and closes it.
    pub fn rollback_batch(&mut self, batch: PendingBatch) {
        for slot in (batch.slots_before..self.ids.len()).rev() {
            self.remove_slot(slot as u32);
        }
        self.ids.truncate(batch.slots_before);
        self.lens.truncate(batch.slots_before);
        self.fwd_at.truncate(batch.slots_before + 1);
        self.fwd.truncate(self.fwd_at[batch.slots_before]);
        for t in self.term_text.drain(batch.terms_before..) {
            self.terms.remove(&t);
        }
        self.postings.truncate(batch.terms_before);
        let kept = batch.terms_before as u32;
        self.word_terms.retain(|_, t| *t < kept || *t == STOP);
        self.batch_open = false;
    }

    /// Adds a validated document at the next slot.
    fn insert(&mut self, id: u64, text: &str) {
        self.generation += 1;
        let slot = self.ids.len() as u32;
        let mut seen: Vec<u32> = Vec::new();
        let (terms, term_text, postings, words) = (
            &mut self.terms,
            &mut self.term_text,
            &mut self.postings,
            &mut self.word_terms,
        );
        let tokenizer = &self.tokenizer;
        tokenizer.for_each_word(text, |word| {
            let t = match words.get(word) {
                Some(&t) => t,
                None => {
                    let t = match tokenizer.term_of(word) {
                        None => STOP,
                        Some(term) => match terms.get(term.as_ref()) {
                            Some(&t) => t,
                            None => {
                                let t = term_text.len() as u32;
                                terms.insert(term.to_string(), t);
                                term_text.push(term.into_owned());
                                postings.push(Postings::default());
                                t
                            }
                        },
                    };
                    words.insert(word.to_owned(), t);
                    t
                }
            };
            if t != STOP {
                seen.push(t);
            }
        });
        // Frequencies: runs of equal term numbers once sorted.
        let len = u32::try_from(seen.len()).unwrap_or(u32::MAX);
        // A heap sort: a few dozen numbers, and far smaller in wasm than a quicksort.
        let seen = std::collections::BinaryHeap::from(seen).into_sorted_vec();
        self.ids.push(id);
        self.lens.push(len);
        let mut i = 0;
        while i < seen.len() {
            let t = seen[i];
            let run = seen[i..].iter().take_while(|&&x| x == t).count();
            self.postings[t as usize].push(slot, u32::try_from(run).unwrap_or(u32::MAX), len);
            self.fwd.push(t);
            i += run;
        }
        self.fwd_at.push(self.fwd.len());
        self.slot_of.insert(id, slot);
        self.total_len += u64::from(len);
    }

    /// Takes a slot out of the postings and the live statistics.
    fn remove_slot(&mut self, slot: u32) {
        self.generation += 1;
        let s = slot as usize;
        let id = self.ids[s];
        if id == DELETED {
            return;
        }
        for &t in &self.fwd[self.fwd_at[s]..self.fwd_at[s + 1]] {
            self.postings[t as usize].remove(slot, &self.lens);
        }
        self.slot_of.remove(&id);
        self.total_len -= u64::from(self.lens[s]);
        self.ids[s] = DELETED;
    }

    /// Deletes a document; `UnknownId` if it is not live. Scores reflect it at once.
    pub fn delete(&mut self, id: u64) -> Result<(), TextError> {
        self.check_idle("delete")?;
        let slot = *self.slot_of.get(&id).ok_or(TextError::UnknownId(id))?;
        self.remove_slot(slot);
        Ok(())
    }

    /// Takes the place of this index with `fresh`, the compacted copy a caller made in steps
    /// (a snapshot written with [`snapshot_writer`](Self::snapshot_writer) and read back with
    /// [`SnapshotLoader`]); snapshot writers of the old index then refuse to go on.
    pub fn replace_with_compacted(&mut self, mut fresh: TextIndex) -> Result<(), TextError> {
        self.check_idle("compact")?;
        fresh.generation = self.generation + 1;
        *self = fresh;
        Ok(())
    }

    /// Frees deleted slots and unused terms (renumbers the live documents in order: results
    /// and ties are unchanged).
    pub fn compact(&mut self) -> Result<(), TextError> {
        self.check_idle("compact")?;
        let mut fresh = TextIndex::from_bytes(&self.to_bytes())?;
        fresh.generation = self.generation + 1;
        *self = fresh;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_restores_the_index_exactly() {
        let mut ix = TextIndex::new(TextOptions::default()).unwrap();
        ix.add_batch(&[1, 2], &["alpha beta", "beta gamma gamma"])
            .unwrap();
        let before = ix.to_bytes();
        let terms = ix.term_text.len();
        let mut b = ix
            .begin_batch(vec![3, 4], vec!["delta beta".into(), "epsilon".into()])
            .unwrap();
        assert!(matches!(ix.add(9, "x"), Err(TextError::Busy(_))));
        ix.step_batch(&mut b, || true);
        assert!(ix.contains(3));
        ix.rollback_batch(b);
        assert_eq!(ix.to_bytes(), before);
        assert_eq!(ix.term_text.len(), terms);
        assert_eq!(ix.terms.len(), terms);
        ix.add(3, "delta").unwrap();
    }

    #[test]
    fn a_bad_batch_changes_nothing() {
        let mut ix = TextIndex::new(TextOptions::default()).unwrap();
        ix.add(1, "one").unwrap();
        let before = ix.to_bytes();
        assert_eq!(
            ix.add_batch(&[2, 3, 2], &["a", "b", "c"]),
            Err(TextError::DuplicateId(2))
        );
        assert_eq!(
            ix.add_batch(&[5, 1], &["a", "b"]),
            Err(TextError::DuplicateId(1))
        );
        assert!(matches!(
            ix.add_batch(&[5, 6], &["a"]),
            Err(TextError::BatchShape { .. })
        ));
        assert_eq!(ix.to_bytes(), before);
    }
}
