//! Top-k by BM25: block-max WAND over the query terms' postings, and the exhaustive
//! term-at-a-time scan it must agree with.
//!
//! Block-max WAND (Ding and Suel, SIGIR 2011) keeps one cursor per query term, ordered by the
//! slot they point at. The pivot is the first cursor at which the terms' whole-list bounds add
//! up past the current k-th best score: no slot before the pivot's can enter the top k. The
//! bounds of the blocks holding the pivot slot then decide between scoring it and jumping past
//! the end of the nearest block. Scores are summed in the query's term order both here and in
//! the exhaustive scan, so the two return identical lists, ties (equal scores go to the lower
//! slot, that is the earlier-added document) included.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::postings::{BLOCK, Postings};
use crate::{TextError, TextHit, TextIndex};

/// Longest query (distinct known terms) that runs block-max WAND. Measured natively on
/// docs-50k (`examples/build_time.rs`): WAND was 1.5x the exhaustive scan's speed on 3-word
/// queries and 0.66x on 8-word ones (its per-document cursor work outgrows what it skips).
pub const WAND_MAX_TERMS: usize = 4;

/// Work done by one search, to compare the pruned walk with the exhaustive one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// Postings of the query terms (what a full scan touches).
    pub postings: u64,
    /// Postings whose contribution was computed.
    pub scored: u64,
}

/// A query term: its postings and its weight (idf times how often the query repeats it).
struct QueryTerm<'a> {
    postings: &'a Postings,
    weight: f32,
}

/// BM25 of one posting, Lucene form, in f32 like the reference.
#[derive(Clone, Copy)]
struct Scorer {
    k1: f32,
    b: f32,
    avg: f32,
}

impl Scorer {
    #[inline]
    fn tfc(&self, tf: u32, len: u32) -> f32 {
        let tf = tf as f32;
        tf / (self.k1 * ((1.0 - self.b) + self.b * len as f32 / self.avg) + tf)
    }

    /// An upper bound of `tfc` over postings with frequency at most `tf` and length at least
    /// `len`, with a margin for rounding.
    #[inline]
    fn bound(&self, tf: u32, len: u32) -> f64 {
        f64::from(self.tfc(tf, len)) * (1.0 + 1e-5)
    }
}

/// A result candidate ordered so that the heap's top is the one to drop first: lower score,
/// then higher slot.
#[derive(Clone, Copy, PartialEq)]
struct Entry {
    score: f32,
    slot: u32,
}

impl Eq for Entry {}

impl Ord for Entry {
    fn cmp(&self, o: &Self) -> Ordering {
        o.score.total_cmp(&self.score).then(self.slot.cmp(&o.slot))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// The k best, by score then slot.
struct TopK {
    k: usize,
    heap: BinaryHeap<Entry>,
}

impl TopK {
    fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(4096) + 1),
        }
    }

    /// The score a new candidate (always at a higher slot than those held) must beat.
    fn threshold(&self) -> f64 {
        if self.heap.len() < self.k {
            f64::NEG_INFINITY
        } else {
            self.heap
                .peek()
                .map_or(f64::NEG_INFINITY, |e| f64::from(e.score))
        }
    }

    fn offer(&mut self, e: Entry) {
        if self.heap.len() < self.k {
            self.heap.push(e);
        } else if let Some(mut top) = self.heap.peek_mut()
            && e < *top
        {
            *top = e;
        }
    }

    fn sorted(self) -> Vec<Entry> {
        // Ascending by `Ord`: best first.
        self.heap.into_sorted_vec()
    }
}

/// A cursor over one term's postings.
struct Cursor<'a> {
    term: usize,
    p: &'a Postings,
    weight: f32,
    /// Bound of the whole list (weight included).
    bound: f64,
    pos: usize,
    /// Block the shallow pointer is at (never behind `pos`'s block).
    block: usize,
}

impl Cursor<'_> {
    #[inline]
    fn slot(&self) -> u32 {
        self.p.slots.get(self.pos).copied().unwrap_or(u32::MAX)
    }

    /// Moves the block pointer to the block that would hold `target`.
    #[inline]
    fn shallow(&mut self, target: u32) {
        while self.block < self.p.blocks.len() && self.p.blocks[self.block].last < target {
            self.block += 1;
        }
    }

    /// Moves to the first posting at or after `target`.
    fn seek(&mut self, target: u32) {
        self.block = self.block.max(self.pos / BLOCK);
        self.shallow(target);
        if self.block >= self.p.blocks.len() {
            self.pos = self.p.slots.len();
            return;
        }
        let start = self.pos.max(self.block * BLOCK);
        let end = ((self.block + 1) * BLOCK).min(self.p.slots.len());
        self.pos = start + self.p.slots[start..end].partition_point(|&s| s < target);
    }

    /// Bound of the current block, or 0 past the end.
    #[inline]
    fn block_bound(&self, scorer: &Scorer) -> f64 {
        self.p.blocks.get(self.block).map_or(0.0, |b| {
            f64::from(self.weight) * scorer.bound(b.max_tf, b.min_len)
        })
    }

    /// Last slot of the current block.
    #[inline]
    fn block_last(&self) -> u32 {
        self.p.blocks.get(self.block).map_or(u32::MAX, |b| b.last)
    }
}

impl TextIndex {
    /// The query's known terms with their weights, in first-seen order.
    fn query_terms(&self, query: &str) -> Vec<QueryTerm<'_>> {
        let mut counts: Vec<(u32, u32)> = Vec::new();
        self.tokenizer.for_each_term(query, |term| {
            if let Some(&t) = self.terms.get(term) {
                match counts.iter_mut().find(|(x, _)| *x == t) {
                    Some((_, c)) => *c += 1,
                    None => counts.push((t, 1)),
                }
            }
        });
        let n = self.len() as f64;
        counts
            .into_iter()
            .filter(|&(t, _)| self.postings[t as usize].len() > 0)
            .map(|(t, c)| {
                let p = &self.postings[t as usize];
                let df = p.len() as f64;
                let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln() as f32;
                QueryTerm {
                    postings: p,
                    weight: idf * c as f32,
                }
            })
            .collect()
    }

    fn scorer(&self) -> Scorer {
        Scorer {
            k1: self.options.k1,
            b: self.options.b,
            avg: (self.avg_len() as f32).max(f32::MIN_POSITIVE),
        }
    }

    /// Allowed slots, from caller ids (unknown ids are skipped).
    fn allowed(&self, allow: Option<&[u64]>) -> Option<Vec<bool>> {
        allow.map(|ids| {
            let mut bits = vec![false; self.ids.len()];
            for id in ids {
                if let Some(&s) = self.slot_of.get(id) {
                    bits[s as usize] = true;
                }
            }
            bits
        })
    }

    fn hits(&self, entries: Vec<Entry>) -> Vec<TextHit> {
        entries
            .into_iter()
            .map(|e| TextHit {
                id: self.ids[e.slot as usize],
                score: e.score,
            })
            .collect()
    }

    /// The `k` best documents for `query` (fewer if fewer match), best first; with `allow`,
    /// only among those ids.
    pub fn search(
        &self,
        query: &str,
        k: usize,
        allow: Option<&[u64]>,
    ) -> Result<Vec<TextHit>, TextError> {
        self.search_with_stats(query, k, allow).map(|(h, _)| h)
    }

    /// [`search`](Self::search), and the work it did. Queries of up to [`WAND_MAX_TERMS`]
    /// distinct terms run block-max WAND; longer ones the exhaustive scan, which measured faster
    /// for them (see the constant). Both return the same list.
    pub fn search_with_stats(
        &self,
        query: &str,
        k: usize,
        allow: Option<&[u64]>,
    ) -> Result<(Vec<TextHit>, SearchStats), TextError> {
        if k == 0 {
            return Err(TextError::ZeroK);
        }
        let terms = self.query_terms(query);
        if terms.len() > WAND_MAX_TERMS {
            let postings = terms.iter().map(|t| t.postings.len() as u64).sum();
            let stats = SearchStats {
                postings,
                scored: postings,
            };
            return Ok((self.exhaustive(&terms, k, allow), stats));
        }
        Ok(self.wand(&terms, k, allow))
    }

    /// The top k by block-max WAND whatever the query's length (tests and benchmarks; use
    /// [`search`](Self::search)).
    pub fn search_wand(
        &self,
        query: &str,
        k: usize,
        allow: Option<&[u64]>,
    ) -> Result<(Vec<TextHit>, SearchStats), TextError> {
        if k == 0 {
            return Err(TextError::ZeroK);
        }
        Ok(self.wand(&self.query_terms(query), k, allow))
    }

    fn wand(
        &self,
        terms: &[QueryTerm<'_>],
        k: usize,
        allow: Option<&[u64]>,
    ) -> (Vec<TextHit>, SearchStats) {
        let allowed = self.allowed(allow);
        let scorer = self.scorer();
        let mut stats = SearchStats {
            postings: terms.iter().map(|t| t.postings.len() as u64).sum(),
            scored: 0,
        };
        let mut cursors: Vec<Cursor<'_>> = terms
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let (tf, len) = t.postings.bounds();
                Cursor {
                    term: i,
                    p: t.postings,
                    weight: t.weight,
                    bound: f64::from(t.weight) * scorer.bound(tf, len),
                    pos: 0,
                    block: 0,
                }
            })
            .collect();
        let mut top = TopK::new(k);
        let mut contrib = vec![0f32; cursors.len()];
        loop {
            // Few cursors, nearly sorted after each step: insertion sort.
            for i in 1..cursors.len() {
                let mut j = i;
                while j > 0 && cursors[j - 1].slot() > cursors[j].slot() {
                    cursors.swap(j - 1, j);
                    j -= 1;
                }
            }
            let theta = top.threshold();
            // The pivot: the first cursor where the list bounds pass the threshold.
            let mut acc = 0.0;
            let mut pivot = None;
            for (i, c) in cursors.iter().enumerate() {
                if c.slot() == u32::MAX {
                    break;
                }
                acc += c.bound;
                if acc > theta {
                    pivot = Some(i);
                    break;
                }
            }
            let Some(mut p) = pivot else { break };
            let d = cursors[p].slot();
            while p + 1 < cursors.len() && cursors[p + 1].slot() == d {
                p += 1;
            }
            let mut block_sum = 0.0;
            for c in &mut cursors[..=p] {
                c.shallow(d);
                block_sum += c.block_bound(&scorer);
            }
            if block_sum > theta {
                if cursors[0].slot() == d {
                    if allowed.as_ref().is_none_or(|a| a[d as usize]) {
                        let len = self.lens[d as usize];
                        for c in &cursors[..=p] {
                            contrib[c.term] = c.weight * scorer.tfc(c.p.tfs[c.pos], len);
                        }
                        stats.scored += p as u64 + 1;
                        let mut score = 0f32;
                        for x in &mut contrib {
                            if *x != 0.0 {
                                score += *x;
                                *x = 0.0;
                            }
                        }
                        top.offer(Entry { score, slot: d });
                    }
                    for c in &mut cursors[..=p] {
                        c.pos += 1;
                    }
                } else {
                    for c in &mut cursors[..p] {
                        if c.slot() < d {
                            c.seek(d);
                        }
                    }
                }
            } else {
                // Nothing up to the end of the nearest block can enter: jump past it.
                let mut next = cursors.get(p + 1).map_or(u32::MAX, Cursor::slot);
                for c in &cursors[..=p] {
                    next = next.min(c.block_last().saturating_add(1));
                }
                for c in &mut cursors[..=p] {
                    if c.slot() < next {
                        c.seek(next);
                    }
                }
            }
        }
        (self.hits(top.sorted()), stats)
    }

    /// The same top k as [`search`](Self::search), by scoring every posting of every query term
    /// (the reference the pruned walk is tested against, and its baseline in benchmarks).
    pub fn search_exhaustive(
        &self,
        query: &str,
        k: usize,
        allow: Option<&[u64]>,
    ) -> Result<Vec<TextHit>, TextError> {
        if k == 0 {
            return Err(TextError::ZeroK);
        }
        Ok(self.exhaustive(&self.query_terms(query), k, allow))
    }

    fn exhaustive(&self, terms: &[QueryTerm<'_>], k: usize, allow: Option<&[u64]>) -> Vec<TextHit> {
        let allowed = self.allowed(allow);
        let scorer = self.scorer();
        let mut acc = vec![0f32; self.ids.len()];
        let mut hit = vec![false; self.ids.len()];
        for t in terms {
            for (&s, &tf) in t.postings.slots.iter().zip(&t.postings.tfs) {
                acc[s as usize] += t.weight * scorer.tfc(tf, self.lens[s as usize]);
                hit[s as usize] = true;
            }
        }
        let mut top = TopK::new(k);
        for (s, (&score, &h)) in acc.iter().zip(&hit).enumerate() {
            if h && allowed.as_ref().is_none_or(|a| a[s]) {
                top.offer(Entry {
                    score,
                    slot: s as u32,
                });
            }
        }
        self.hits(top.sorted())
    }

    /// BM25 scores of `query` for the given ids (0 for a live id without a query term; `None`
    /// for an id not in the index).
    pub fn scores(&self, query: &str, ids: &[u64]) -> Vec<Option<f32>> {
        let terms = self.query_terms(query);
        let scorer = self.scorer();
        ids.iter()
            .map(|id| {
                let s = *self.slot_of.get(id)?;
                let len = self.lens[s as usize];
                let mut score = 0f32;
                for t in &terms {
                    if let Ok(i) = t.postings.slots.binary_search(&s) {
                        score += t.weight * scorer.tfc(t.postings.tfs[i], len);
                    }
                }
                Some(score)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::{TextIndex, TextOptions, TokenizerOptions};

    /// Documents of equal length holding `a` `tfs[i]` times.
    fn index(tfs: &[usize]) -> TextIndex {
        let mut ix = TextIndex::new(TextOptions {
            tokenizer: TokenizerOptions {
                stem: false,
                stop_words: false,
            },
            ..TextOptions::default()
        })
        .unwrap();
        for (i, &tf) in tfs.iter().enumerate() {
            let words: Vec<&str> = (0..10).map(|j| if j < tf { "a" } else { "pad" }).collect();
            ix.add(i as u64, &words.join(" ")).unwrap();
        }
        ix
    }

    #[test]
    fn a_skipped_block_lands_on_the_next_blocks_first_document() {
        // Block 0 holds the best so far, block 1 cannot beat it and is skipped, and the first
        // document of block 2 is the best of all.
        let mut tfs = vec![1; 200];
        tfs[0] = 3;
        tfs[128] = 5;
        let ix = index(&tfs);
        let (hits, stats) = ix.search_with_stats("a", 1, None).unwrap();
        assert_eq!(hits[0].id, 128);
        assert!(stats.scored < 200, "block 1 was skipped: {stats:?}");
        assert_eq!(hits, ix.search_exhaustive("a", 1, None).unwrap());
    }

    #[test]
    fn ties_go_to_the_earlier_document() {
        let ix = index(&[2, 1, 2, 2, 1]);
        let ids: Vec<u64> = ix
            .search("a", 2, None)
            .unwrap()
            .iter()
            .map(|h| h.id)
            .collect();
        assert_eq!(ids, [0, 2]);
    }
}
