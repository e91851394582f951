//! Reusable search state. A query reuses every buffer here, so after the first query of a given
//! index size and `ef` it allocates nothing: the visited set is a generation-stamped array (a new
//! query bumps the generation instead of clearing), and the heaps and lists keep their capacity.

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
        let b = (self.d + 0.0).to_bits();
        let ordered = if b >> 31 == 1 { !b } else { b | 1 << 31 };
        u64::from(ordered) << 32 | u64::from(self.id.0)
    }
}

/// Sorts candidates nearest first (ties by id), as `sort_unstable` would, by [`Cand::key`].
#[inline]
pub(crate) fn sort_cands(c: &mut [Cand]) {
    c.sort_unstable_by_key(Cand::key);
}

/// Min-heap adapter for the candidate queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Near(pub Cand);
impl PartialOrd for Near {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Near {
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.cmp(&self.0)
    }
}

/// Per-layer search state.
#[derive(Debug, Default)]
pub(crate) struct State {
    stamps: Vec<u32>,
    generation: u32,
    /// Candidates to expand, nearest first.
    pub cand: BinaryHeap<Near>,
    /// Best results so far, worst on top.
    pub res: BinaryHeap<Cand>,
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
        if self.stamps.len() < n {
            self.stamps.resize(n, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamps.iter_mut().for_each(|s| *s = 0);
            self.generation = 1;
        }
        if let Some(n) = self.skip {
            self.visit(n);
        }
    }

    /// Marks `id` visited; returns whether it was new.
    #[inline]
    pub fn visit(&mut self, id: NodeId) -> bool {
        match self.stamps.get_mut(id.idx()) {
            Some(s) if *s != self.generation => {
                *s = self.generation;
                true
            }
            _ => false,
        }
    }

    /// Moves the result heap into `w`, sorted nearest first.
    pub fn drain_sorted(&mut self) {
        self.w.clear();
        self.w.extend(self.res.drain());
        sort_cands(&mut self.w);
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
            plan: LinkPlan::default(),
        }
    }

    /// Distance evaluations made by the searches that used this scratch since the last call.
    pub fn take_distance_evals(&mut self) -> u64 {
        std::mem::take(&mut self.state.evals)
    }
}
