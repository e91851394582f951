//! Reusable search state. A query reuses every buffer here, so after the first query of a given
//! index size and `ef` it allocates nothing: the visited set is a byte per node stamped with
//! the search's number (a new search bumps the number instead of clearing), and the heaps and
//! lists keep their capacity. The heaps hold integer keys, not floats.

use crate::store::Encoded;
use crate::{NodeId, Storage};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A candidate: distance and internal id. Ordered by distance, then id, so ties break the same
/// way on every platform.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Cand {
    pub d: f32,
    pub id: NodeId,
}

impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Cand {
    /// Distances are never NaN (`Space::dist` turns the NaN a query of huge values can produce
    /// into +inf), so plain comparisons order them; equal distances, `-0.0` and `+0.0` included,
    /// break by id. (`total_cmp` costs more in the heaps' inner loops.)
    #[inline]
    fn cmp(&self, o: &Self) -> Ordering {
        if self.d < o.d {
            Ordering::Less
        } else if self.d > o.d {
            Ordering::Greater
        } else {
            self.id.cmp(&o.id)
        }
    }
}

impl Cand {
    /// A `u64` that orders candidates exactly as [`Ord`] does: the distance's bits made
    /// monotonic (`-0.0` first turned into `+0.0`, which `Ord` treats as equal), then the id.
    /// Sorting by it compares integers without branches; distances are never NaN.
    #[inline]
    pub fn key(&self) -> u64 {
        u64::from(ordered(self.d)) << 32 | u64::from(self.id.0)
    }
}

/// A distance's bits made monotonic: `a < b` exactly when `ordered(a) < ordered(b)` (`-0.0` and
/// `+0.0` equal, as `<` has them); never NaN.
#[inline]
fn ordered(d: f32) -> u32 {
    monotonic((d + 0.0).to_bits())
}

/// A float's bits turned so that unsigned order is the floats' order (`-0.0` just below `+0.0`);
/// [`unmonotonic`] undoes it.
#[inline]
fn monotonic(b: u32) -> u32 {
    if b >> 31 == 1 { !b } else { b | 1 << 31 }
}

#[inline]
fn unmonotonic(o: u32) -> u32 {
    if o >> 31 == 1 { o & !(1 << 31) } else { !o }
}

/// Sorts candidates nearest first (ties by id), as `sort_unstable` would, by [`Cand::key`]:
/// insertion sort below [`SMALL_SORT`], above it a quicksort on the median of three with a
/// branchless partition, recursing into the smaller side (depth at most log₂ n). The std sort's
/// instance for candidates was 15 KB of wasm (sorting networks and unrolled partitions), more
/// than 2 KB Brotli of the core build, for lists of a search's `ef` or a build's `efC`.
pub(crate) fn sort_cands(mut c: &mut [Cand]) {
    while c.len() > SMALL_SORT {
        let p = partition(c);
        let (lo, hi) = c.split_at_mut(p);
        let hi = &mut hi[1..];
        if lo.len() < hi.len() {
            sort_cands(lo);
            c = hi;
        } else {
            sort_cands(hi);
            c = lo;
        }
    }
    for i in 1..c.len() {
        let x = c[i];
        let key = x.key();
        let mut j = i;
        while j > 0 && c[j - 1].key() > key {
            c[j] = c[j - 1];
            j -= 1;
        }
        c[j] = x;
    }
}

/// Below this many candidates [`sort_cands`] sorts by insertion.
const SMALL_SORT: usize = 16;

/// Moves the median of `v`'s first, middle and last candidates to the end as the pivot, then
/// everything below it before everything else; returns the pivot's final index. Each candidate
/// is swapped into place and the boundary moves when it is below (no branch on the
/// comparison). The pivot is in neither side, so each step shrinks the list; many equal keys
/// would make it quadratic, but a list's candidates have distinct ids.
fn partition(v: &mut [Cand]) -> usize {
    let last = v.len() - 1;
    let (a, b, c) = (v[0].key(), v[last / 2].key(), v[last].key());
    let mid = if (a < b) == (b < c) {
        last / 2
    } else if (b < a) == (a < c) {
        0
    } else {
        last
    };
    v.swap(mid, last);
    let pivot = v[last].key();
    let mut store = 0;
    for i in 0..last {
        let below = v[i].key() < pivot;
        v.swap(i, store);
        store += usize::from(below);
    }
    v.swap(store, last);
    store
}

/// Puts the `k` nearest candidates first, sorted as [`sort_cands`] would (the rest after them
/// in no order): the first `k` sorted, then each later one that beats the `k`-th inserted into
/// them (a search's `ef` results, of which it returns `k`). In wasm about 2% more QPS than
/// sorting all; `select_nth_unstable` was a little faster but added 1.5 KB to the package.
#[inline]
pub(crate) fn sort_best(c: &mut [Cand], k: usize) {
    let (best, rest) = c.split_at_mut(k.min(c.len()));
    sort_cands(best);
    for x in rest {
        let key = x.key();
        let Some(last) = best.last_mut() else {
            return;
        };
        if key < last.key() {
            std::mem::swap(x, last);
            for j in (1..best.len()).rev() {
                if best[j - 1].key() <= key {
                    break;
                }
                best.swap(j - 1, j);
            }
        }
    }
}

/// An entry of the candidate queue, a min-heap: the candidate's [`Cand::key`], so the heap
/// compares integers, not floats with branches (the queue needs the id and the order only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Near(u64);

impl Near {
    #[inline]
    pub fn new(c: Cand) -> Near {
        Near(c.key())
    }

    #[inline]
    pub fn id(self) -> NodeId {
        NodeId(self.0 as u32)
    }

    /// Whether the candidate is farther than `d` (`c.d > d`).
    #[inline]
    pub fn farther_than(self, d: f32) -> bool {
        (self.0 >> 32) as u32 > ordered(d)
    }
}

impl PartialOrd for Near {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Near {
    #[inline]
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.cmp(&self.0)
    }
}

/// The nodes one search has visited: a byte per node holding the number of the search that
/// last visited it, so a new search only bumps the number (and clears the bytes once every
/// 255 searches).
#[derive(Debug, Default)]
pub(crate) struct Visited {
    stamps: Vec<u8>,
    generation: u8,
}

impl Visited {
    /// Empties the set and sizes it for `n` nodes.
    fn reset(&mut self, n: usize) {
        if self.stamps.len() < n {
            self.stamps.resize(n, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamps.iter_mut().for_each(|s| *s = 0);
            self.generation = 1;
        }
    }

    /// The stamps and the current search's number (a node is visited when its stamp equals
    /// it), for a loop that keeps them in locals.
    #[inline]
    pub(crate) fn parts(&mut self) -> (&mut [u8], u8) {
        (&mut self.stamps, self.generation)
    }

    /// Adds `id`; returns whether it was not in the set (false for an id past the size).
    #[inline]
    fn insert(&mut self, id: NodeId) -> bool {
        match self.stamps.get_mut(id.idx()) {
            Some(s) if *s != self.generation => {
                *s = self.generation;
                true
            }
            _ => false,
        }
    }
}

/// The best results of a search so far, farthest on top: a max-heap of exact keys (the
/// distance's bits made monotonic, `-0.0` just below `+0.0`, then the id), so the heap compares
/// integers; a key decodes to the same bits. The order is [`Cand`]'s except that `-0.0` sorts
/// before `+0.0` at the same id.
#[derive(Debug)]
pub(crate) struct Results {
    heap: BinaryHeap<u64>,
    /// The farthest result's distance (`-inf` when there is none), kept beside the heap for
    /// the search loop's test.
    worst: f32,
}

impl Default for Results {
    fn default() -> Results {
        Results {
            heap: BinaryHeap::new(),
            worst: f32::NEG_INFINITY,
        }
    }
}

impl Results {
    #[inline]
    fn enc(c: Cand) -> u64 {
        u64::from(monotonic(c.d.to_bits())) << 32 | u64::from(c.id.0)
    }

    #[inline]
    fn dec(k: u64) -> Cand {
        Cand {
            d: f32::from_bits(unmonotonic((k >> 32) as u32)),
            id: NodeId(k as u32),
        }
    }

    #[inline]
    fn update_worst(&mut self) {
        self.worst = self
            .heap
            .peek()
            .map_or(f32::NEG_INFINITY, |&k| Self::dec(k).d);
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn clear(&mut self) {
        self.heap.clear();
        self.worst = f32::NEG_INFINITY;
    }

    #[inline]
    pub fn push(&mut self, c: Cand) {
        self.heap.push(Self::enc(c));
        self.update_worst();
    }

    pub fn pop(&mut self) -> Option<Cand> {
        let c = self.heap.pop().map(Self::dec);
        self.update_worst();
        c
    }

    /// The farthest result's distance; `-inf` when there are none.
    #[inline]
    pub fn worst(&self) -> f32 {
        self.worst
    }

    /// Whether `c` sorts before the farthest result.
    #[inline]
    pub fn beats_worst(&self, c: Cand) -> bool {
        self.heap.peek().is_some_and(|&w| Self::enc(c) < w)
    }

    /// Adds `c`, keeping at most `ef`: when full, `c` takes the place of the farthest (the
    /// caller has checked that `c` is nearer), one sift instead of a push and a pop.
    #[inline]
    pub fn keep(&mut self, c: Cand, ef: usize) {
        if self.heap.len() < ef {
            self.heap.push(Self::enc(c));
        } else if let Some(mut top) = self.heap.peek_mut() {
            *top = Self::enc(c);
        }
        self.update_worst();
    }

    pub fn drain(&mut self) -> impl Iterator<Item = Cand> + '_ {
        self.worst = f32::NEG_INFINITY;
        self.heap.drain().map(Self::dec)
    }
}

/// Per-layer search state.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) visited: Visited,
    /// Candidates to expand, nearest first.
    pub cand: BinaryHeap<Near>,
    /// Best results so far, worst on top.
    pub res: Results,
    /// Sorted results of the last layer (W in the paper).
    pub w: Vec<Cand>,
    /// Entry points for the next layer.
    pub eps: Vec<Cand>,
    /// Unvisited neighbours of the node being expanded.
    pub batch: Vec<NodeId>,
    /// Selected neighbours.
    pub sel: Vec<NodeId>,
    /// Candidate lists for shrinking a neighbour's links.
    pub tmp: Vec<Cand>,
    pub tmp_sel: Vec<NodeId>,
    /// Allow-list bits by internal id, and the ids set (to clear them again).
    pub allow: Vec<u64>,
    pub allowed: Vec<NodeId>,
    /// Distance evaluations since the counter was last reset.
    pub evals: u64,
    /// A node the search neither returns nor walks through (a calibration's sample query,
    /// which must not lead the search to its own neighbours).
    pub skip: Option<NodeId>,
}

impl State {
    /// Starts a new visit over `n` nodes.
    pub fn new_visit(&mut self, n: usize) {
        self.visited.reset(n);
        if let Some(n) = self.skip {
            self.visit(n);
        }
    }

    /// Marks `id` visited; returns whether it was new.
    #[inline]
    pub fn visit(&mut self, id: NodeId) -> bool {
        self.visited.insert(id)
    }

    /// Moves the result heap into `w`, sorted nearest first.
    pub fn drain_sorted(&mut self) {
        self.drain();
        sort_cands(&mut self.w);
    }

    /// Moves the result heap into `w` in no particular order (for a caller that re-ranks and
    /// sorts them anyway: the sorted order depends on the keys only).
    pub fn drain(&mut self) {
        self.w.clear();
        self.w.extend(self.res.drain());
    }

    pub fn set_allowed(&mut self, n: usize, ids: impl Iterator<Item = NodeId>) {
        let words = n.div_ceil(64);
        if self.allow.len() < words {
            self.allow.resize(words, 0);
        }
        for id in ids {
            let (w, b) = (id.idx() / 64, id.0 % 64);
            if self.allow[w] & (1 << b) == 0 {
                self.allow[w] |= 1 << b;
                self.allowed.push(id);
            }
        }
    }

    pub fn clear_allowed(&mut self) {
        for &id in &self.allowed {
            if let Some(w) = self.allow.get_mut(id.idx() / 64) {
                *w = 0;
            }
        }
        self.allowed.clear();
    }
}

/// Reusable per-query buffers: keep one per thread and pass it to
/// [`Hnsw::search_into`](crate::Hnsw::search_into) so queries allocate nothing after warm-up.
#[derive(Debug)]
pub struct Scratch {
    pub(crate) state: State,
    /// The query in the metric's f32 form (normalized under cosine).
    pub(crate) prep: Vec<f32>,
    /// The query encoded like stored vectors.
    pub(crate) q: Encoded,
    /// The query's i8 encoding, for an index that walks on i8 codes.
    pub(crate) nav_q: Encoded,
    /// Its codes padded to whole blocks of 32, for the 4-bit walking codes.
    pub(crate) nav_q4: Vec<i8>,
    /// The links an insertion is about to write.
    pub(crate) plan: LinkPlan,
}

/// The links a node being inserted gets, level by level, highest level first.
#[derive(Debug, Default, Clone)]
pub(crate) struct LinkPlan {
    /// `(level, end of its ids in `ids`)`.
    ends: Vec<(u8, usize)>,
    ids: Vec<NodeId>,
}

impl LinkPlan {
    pub fn clear(&mut self) {
        self.ends.clear();
        self.ids.clear();
    }

    pub fn push(&mut self, level: u8, sel: &[NodeId]) {
        self.ids.extend_from_slice(sel);
        self.ends.push((level, self.ids.len()));
    }

    /// Each level with its links, in the order pushed.
    pub fn levels(&self) -> impl Iterator<Item = (u8, &[NodeId])> {
        let mut start = 0;
        self.ends.iter().map(move |&(l, end)| {
            let s = &self.ids[start..end];
            start = end;
            (l, s)
        })
    }
}

impl Scratch {
    pub(crate) fn new(storage: Storage) -> Scratch {
        Scratch {
            state: State::default(),
            prep: Vec::new(),
            q: Encoded::new(storage),
            nav_q: Encoded::new(Storage::I8),
            nav_q4: Vec::new(),
            plan: LinkPlan::default(),
        }
    }

    /// Distance evaluations made by the searches that used this scratch since the last call.
    pub fn take_distance_evals(&mut self) -> u64 {
        std::mem::take(&mut self.state.evals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const DISTANCES: [f32; 12] = [
        f32::NEG_INFINITY,
        -3.5,
        -1e-30,
        -0.0,
        0.0,
        1e-40,
        1e-30,
        0.25,
        1.0,
        2.0,
        3.4e38,
        f32::INFINITY,
    ];

    fn cands() -> Vec<Cand> {
        DISTANCES
            .iter()
            .flat_map(|&d| [7, 3].map(|id| Cand { d, id: NodeId(id) }))
            .collect()
    }

    /// The results heap's keys decode to the same bits and order as `Cand` (but for `-0.0`
    /// below `+0.0`), and the queue's keys order as `Cand` and answer `farther_than` as `>`.
    #[test]
    fn integer_keys_keep_the_bits_and_the_order() {
        let all = cands();
        for &a in &all {
            let back = Results::dec(Results::enc(a));
            assert_eq!((back.d.to_bits(), back.id), (a.d.to_bits(), a.id));
            assert_eq!(Near::new(a).id(), a.id);
            for &b in &all {
                let zeros = a.d == 0.0 && b.d == 0.0 && a.d.to_bits() != b.d.to_bits();
                if !zeros {
                    assert_eq!(
                        Results::enc(a).cmp(&Results::enc(b)),
                        a.cmp(&b),
                        "{a:?} {b:?}"
                    );
                }
                assert_eq!(Near::new(a).cmp(&Near::new(b)), b.cmp(&a), "{a:?} {b:?}");
                assert_eq!(Near::new(a).farther_than(b.d), a.d > b.d, "{a:?} {b:?}");
            }
        }
    }

    /// The results heap keeps the `ef` nearest, whatever the order they come in, and its cached
    /// farthest distance follows every change.
    #[test]
    fn results_keep_the_nearest_and_know_the_farthest() {
        let all = cands();
        for ef in [1, 5, all.len()] {
            for rot in 0..all.len() {
                let mut r = Results::default();
                assert_eq!(r.worst(), f32::NEG_INFINITY);
                for &c in all.iter().cycle().skip(rot).take(all.len()) {
                    if r.len() < ef || r.beats_worst(c) {
                        r.keep(c, ef);
                    }
                    assert_eq!(
                        r.worst().to_bits(),
                        r.heap.peek().map(|&k| Results::dec(k).d).unwrap().to_bits()
                    );
                }
                let mut got: Vec<Cand> = r.drain().collect();
                sort_cands(&mut got);
                let mut want = all.clone();
                want.sort_by_key(|&c| Results::enc(c));
                want.truncate(ef);
                sort_cands(&mut want);
                assert_eq!(got, want, "ef {ef} rotation {rot}");
                assert_eq!(r.worst(), f32::NEG_INFINITY);
            }
        }
    }

    /// `sort_best` puts the `k` nearest first in `sort_cands`'s order, from any starting order
    /// (ties by id, signed zeros equal as in `Cand`), for `k` from 0 past the length.
    #[test]
    fn the_best_k_come_first_sorted() {
        let all = cands();
        let mut full = all.clone();
        sort_cands(&mut full);
        for rot in 0..all.len() {
            for k in [0, 1, 2, 7, all.len() - 1, all.len(), all.len() + 3] {
                let mut c: Vec<Cand> = all
                    .iter()
                    .cycle()
                    .skip(rot)
                    .take(all.len())
                    .copied()
                    .collect();
                c.reverse();
                sort_best(&mut c, k);
                let k = k.min(c.len());
                let keys = |v: &[Cand]| v.iter().map(Cand::key).collect::<Vec<_>>();
                assert_eq!(keys(&c[..k]), keys(&full[..k]), "k {k} rotation {rot}");
                let mut rest = c.clone();
                sort_cands(&mut rest);
                assert_eq!(keys(&rest), keys(&full), "nothing lost, k {k}");
            }
        }
    }

    /// `sort_cands` orders as the std sort by key does: lengths around the insertion sort's
    /// bound and larger, in random, sorted, reversed and organ-pipe orders, with repeated
    /// distances, repeated candidates and signed zeros.
    #[test]
    fn candidates_sort_as_the_std_sort_does() {
        let mut rng = elex_simd::SplitMix64(5);
        for n in [0, 1, 2, 3, 15, 16, 17, 18, 33, 100, 257, 1000, 5000] {
            for shape in 0..6 {
                let mut c: Vec<Cand> = (0..n)
                    .map(|i| {
                        let d = match shape {
                            0..=3 => rng.next_f32() * 4.0 - 2.0,
                            4 => DISTANCES[i % DISTANCES.len()],
                            _ => (i % 7) as f32,
                        };
                        // Shape 5 repeats whole candidates (ids modulo 3).
                        let id = if shape == 5 { i % 3 } else { i } as u32;
                        Cand { d, id: NodeId(id) }
                    })
                    .collect();
                match shape {
                    1 => c.sort_by_key(Cand::key),
                    2 => c.sort_by_key(|x| std::cmp::Reverse(x.key())),
                    3 => {
                        c.sort_by_key(Cand::key);
                        let back: Vec<Cand> = c[n / 2..].iter().rev().copied().collect();
                        c.truncate(n / 2);
                        c.extend(back);
                    }
                    _ => {}
                }
                let mut want = c.clone();
                want.sort_by_key(Cand::key);
                sort_cands(&mut c);
                let keys = |v: &[Cand]| v.iter().map(Cand::key).collect::<Vec<_>>();
                assert_eq!(keys(&c), keys(&want), "n {n} shape {shape}");
            }
        }
    }
}
