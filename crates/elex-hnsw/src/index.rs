//! The index: insertion (Algorithms 1, 2 and 4 of the paper), search (Algorithm 5), filtered
//! search, deletion with neighbour repair, update, and compaction.
//!
//! Filtered search picks between two plans by a cost model: brute force over the allowed set
//! costs one distance per allowed vector; a graph search that only accepts allowed vectors
//! visits about `ef · m0 / selectivity` nodes, because the result list fills at the rate allowed
//! nodes are met (the search widens by itself: it keeps expanding while fewer than `ef` allowed
//! results are held). Brute force is taken when it is cheaper, which is always the case at 1%
//! selectivity on realistic sizes, so recall there is exact.

use crate::batch::Undo;
use crate::search::{Cand, Near, Scratch, State};
use crate::store::{Encoded, Space, Vectors, View};
use crate::{Filter, FilterPlan, Hit, HnswError, HnswParams, NodeId, Storage};
use elex_simd::Kernels;
use elex_simd::SplitMix64;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

pub(crate) const INVALID: u32 = u32::MAX;
/// How many neighbours ahead of the distance loop vectors are prefetched.
const AHEAD: usize = 1;
/// Highest level a node can draw.
pub(crate) const MAX_LEVEL: u8 = 16;
/// Largest accepted parameters (also the snapshot reader's sanity limits).
pub(crate) const MAX_DIMS: usize = 1 << 16;
pub(crate) const MAX_M: usize = 1 << 10;

/// Bit `n` of a bitset.
#[inline]
pub(crate) fn bit(bits: &[u64], n: u32) -> bool {
    bits.get(n as usize / 64)
        .is_some_and(|w| w & (1 << (n % 64)) != 0)
}

/// An HNSW index over caller ids (`u64`).
pub struct Hnsw {
    pub(crate) p: HnswParams,
    pub(crate) space: Space,
    /// A node climbs one more level while a draw is below this (`P = exp(−1/m_L)`).
    pub(crate) level_threshold: u64,
    pub(crate) rng: SplitMix64,
    pub(crate) vectors: Vectors,
    /// f32 copies (prepared form) when `keep_f32` and storage is quantized.
    pub(crate) raw: Vec<f32>,
    pub(crate) level0: Vec<u32>,
    pub(crate) upper: Vec<u32>,
    pub(crate) upper_off: Vec<u32>,
    pub(crate) levels: Vec<u8>,
    pub(crate) ext: Vec<u64>,
    pub(crate) map: HashMap<u64, u32>,
    pub(crate) deleted: Vec<u64>,
    pub(crate) n_deleted: usize,
    pub(crate) entry: u32,
    pub(crate) max_level: u8,
    pool: Mutex<Vec<Scratch>>,
    /// The undo log of the open batch, if any (see the `batch` module).
    pub(crate) undo: Option<Undo>,
    /// The serial of the last batch opened here (serials are unique in the process).
    pub(crate) batch_serial: u64,
}

impl std::fmt::Debug for Hnsw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hnsw")
            .field("params", &self.p)
            .field("len", &self.len())
            .field("deleted", &self.n_deleted)
            .field("max_level", &self.max_level)
            .field("isa", &self.space.k.isa())
            .finish()
    }
}

/// `P(level ≥ 1) = exp(−1/m_L)` as a threshold on a uniform u64. For the paper's `m_L = 1/ln M`
/// this is exactly `1/M`, computed in integers so it is the same on every platform.
pub(crate) fn level_threshold(m: usize, ml: f64) -> u64 {
    let default_ml = 1.0 / (m as f64).ln();
    if (ml - default_ml).abs() <= 1e-9 * default_ml {
        u64::MAX / m as u64
    } else {
        ((-1.0 / ml).exp() * 18_446_744_073_709_551_615.0) as u64
    }
}

pub(crate) fn validate_params(p: &HnswParams) -> Result<(), HnswError> {
    let bad = |s: String| Err(HnswError::InvalidParams(s));
    if p.dims == 0 || p.dims > MAX_DIMS {
        return bad(format!("dims must be in 1..={MAX_DIMS}, got {}", p.dims));
    }
    if p.m < 2 || p.m > MAX_M {
        return bad(format!("m must be in 2..={MAX_M}, got {}", p.m));
    }
    if p.m0 < p.m || p.m0 > 2 * MAX_M {
        return bad(format!("m0 must be in m..={}, got {}", 2 * MAX_M, p.m0));
    }
    if p.ef_construction == 0 || p.ef_search == 0 {
        return bad("ef_construction and ef_search must be at least 1".into());
    }
    if !(p.ml.is_finite() && p.ml > 0.0) {
        return bad(format!("ml must be positive and finite, got {}", p.ml));
    }
    Ok(())
}

impl Hnsw {
    /// A new empty index; kernels are detected for this CPU.
    pub fn new(params: HnswParams) -> Result<Hnsw, HnswError> {
        Hnsw::with_kernels(params, Kernels::detect())
    }

    /// A new empty index on the given kernels (for benches comparing ISAs).
    pub fn with_kernels(mut params: HnswParams, kernels: Kernels) -> Result<Hnsw, HnswError> {
        validate_params(&params)?;
        // f32 storage is already exact: there is nothing to keep beside it.
        params.keep_f32 &= params.storage != Storage::F32;
        Ok(Hnsw {
            space: Space {
                k: kernels,
                metric: params.metric,
                dims: params.dims,
            },
            level_threshold: level_threshold(params.m, params.ml),
            rng: SplitMix64(params.seed),
            vectors: Vectors::new(params.storage),
            raw: Vec::new(),
            level0: Vec::new(),
            upper: Vec::new(),
            upper_off: Vec::new(),
            levels: Vec::new(),
            ext: Vec::new(),
            map: HashMap::new(),
            deleted: Vec::new(),
            n_deleted: 0,
            entry: INVALID,
            max_level: 0,
            pool: Mutex::new(Vec::new()),
            undo: None,
            batch_serial: 0,
            p: params,
        })
    }

    /// An independent copy of the index (a checkpoint serializes the copy while the original
    /// keeps taking writes). `Busy` while a batch is open: a half-inserted batch is no state
    /// to copy.
    pub fn try_clone(&self) -> Result<Hnsw, HnswError> {
        self.check_idle("copy the index")?;
        Ok(Hnsw {
            p: self.p.clone(),
            space: Space {
                k: self.space.k,
                metric: self.space.metric,
                dims: self.space.dims,
            },
            level_threshold: self.level_threshold,
            rng: SplitMix64(self.rng.0),
            vectors: self.vectors.clone(),
            raw: self.raw.clone(),
            level0: self.level0.clone(),
            upper: self.upper.clone(),
            upper_off: self.upper_off.clone(),
            levels: self.levels.clone(),
            ext: self.ext.clone(),
            map: self.map.clone(),
            deleted: self.deleted.clone(),
            n_deleted: self.n_deleted,
            entry: self.entry,
            max_level: self.max_level,
            pool: Mutex::new(Vec::new()),
            undo: None,
            batch_serial: self.batch_serial,
        })
    }

    /// The same index computing distances with other kernels (for benches comparing ISAs;
    /// every ISA gives bit-identical distances, so results do not change).
    pub fn with_kernels_of(mut self, kernels: Kernels) -> Hnsw {
        self.space.k = kernels;
        self
    }

    /// The parameters the index was built with.
    pub fn params(&self) -> &HnswParams {
        &self.p
    }

    /// Vector dimension.
    pub fn dims(&self) -> usize {
        self.p.dims
    }

    /// The ISA the distance kernels run on.
    pub fn isa(&self) -> elex_simd::Isa {
        self.space.k.isa()
    }

    /// Live (not deleted) vectors.
    pub fn len(&self) -> usize {
        self.ext.len() - self.n_deleted
    }

    /// Whether no live vector is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Internal slots, tombstones included (what [`Hnsw::compact`] reclaims).
    pub fn len_slots(&self) -> usize {
        self.ext.len()
    }

    /// Tombstones awaiting compaction.
    pub fn deleted_count(&self) -> usize {
        self.n_deleted
    }

    /// Whether `id` is a live vector.
    pub fn contains(&self, id: u64) -> bool {
        self.map.contains_key(&id)
    }

    /// The internal id of a live caller id.
    pub fn node_id(&self, id: u64) -> Option<NodeId> {
        self.map.get(&id).map(|&n| NodeId(n))
    }

    fn live_nodes(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.ext.len() as u32).filter(|&n| !self.is_deleted(n))
    }

    /// Caller ids of the live vectors, in insertion order.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.ext.len() as u32)
            .filter(|&n| !self.is_deleted(n))
            .map(|n| self.ext[n as usize])
    }

    /// Heap bytes held by the index (vectors, graph, id map, tombstones), by capacity.
    pub fn memory_bytes(&self) -> usize {
        let map = self.map.capacity() * (std::mem::size_of::<(u64, u32)>() + 1);
        self.vectors.heap_bytes()
            + self.raw.capacity() * 4
            + (self.level0.capacity() + self.upper.capacity() + self.upper_off.capacity()) * 4
            + self.levels.capacity()
            + self.ext.capacity() * 8
            + self.deleted.capacity() * 8
            + map
    }

    /// [`Hnsw::memory_bytes`] per live vector.
    pub fn bytes_per_vector(&self) -> f64 {
        self.memory_bytes() as f64 / self.len().max(1) as f64
    }

    /// A fresh search scratch for [`Hnsw::search_into`].
    pub fn scratch(&self) -> Scratch {
        Scratch::new(self.p.storage)
    }

    // ---- graph storage ------------------------------------------------------------------

    #[inline]
    pub(crate) fn is_deleted(&self, n: u32) -> bool {
        bit(&self.deleted, n)
    }

    #[inline]
    fn stride0(&self) -> usize {
        1 + self.p.m0
    }

    #[inline]
    fn stride_up(&self) -> usize {
        1 + self.p.m
    }

    #[inline]
    fn block(&self, n: u32, level: u8) -> (usize, bool) {
        if level == 0 {
            (n as usize * self.stride0(), true)
        } else {
            (
                self.upper_off[n as usize] as usize + (level as usize - 1) * self.stride_up(),
                false,
            )
        }
    }

    #[inline]
    pub(crate) fn links(&self, n: u32, level: u8) -> &[u32] {
        let (s, zero) = self.block(n, level);
        let buf = if zero { &self.level0 } else { &self.upper };
        let c = buf[s] as usize;
        &buf[s + 1..s + 1 + c]
    }

    /// Hints that `n`'s link block at `level` will be read soon.
    #[inline]
    fn prefetch_links(&self, n: u32, level: u8) {
        let (s, zero) = self.block(n, level);
        let buf = if zero { &self.level0 } else { &self.upper };
        elex_simd::prefetch(buf.get(s..s + 1).unwrap_or(&[]), 1);
    }

    pub(crate) fn set_links(&mut self, n: u32, level: u8, links: &[u32]) {
        let (s, zero) = self.block(n, level);
        if let Some(u) = &mut self.undo {
            // The whole block, unused slots included: a rollback restores the bytes exactly.
            let (buf, stride) = if zero {
                (&self.level0, self.p.m0 + 1)
            } else {
                (&self.upper, self.p.m + 1)
            };
            u.note(n, level, &buf[s..s + stride]);
        }
        let buf = if zero {
            &mut self.level0
        } else {
            &mut self.upper
        };
        buf[s] = links.len() as u32;
        buf[s + 1..s + 1 + links.len()].copy_from_slice(links);
    }

    /// Writes back a link block saved by the undo log (count and every slot).
    pub(crate) fn restore_block(&mut self, n: u32, level: u8, block: &[u32]) {
        let (s, zero) = self.block(n, level);
        let buf = if zero {
            &mut self.level0
        } else {
            &mut self.upper
        };
        buf[s..s + block.len()].copy_from_slice(block);
    }

    fn cap(&self, level: u8) -> usize {
        if level == 0 { self.p.m0 } else { self.p.m }
    }

    #[inline]
    fn view(&self, n: u32) -> View<'_> {
        self.vectors.view(self.p.dims, n)
    }

    pub(crate) fn random_level(&mut self) -> u8 {
        let mut l = 0;
        while l < MAX_LEVEL && self.rng.next_u64() < self.level_threshold {
            l += 1;
        }
        l
    }

    pub(crate) fn take_scratch(&self) -> Scratch {
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        pool.pop().unwrap_or_else(|| self.scratch())
    }

    pub(crate) fn put_scratch(&self, s: Scratch) {
        self.pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(s);
    }

    // ---- insertion ----------------------------------------------------------------------

    /// Inserts one vector under caller id `id`.
    pub fn insert(&mut self, id: u64, vector: &[f32]) -> Result<NodeId, HnswError> {
        self.check_idle("insert")?;
        self.check_vector(vector)?;
        if self.map.contains_key(&id) {
            return Err(HnswError::DuplicateId(id));
        }
        let mut s = self.take_scratch();
        let r = self.insert_unchecked(id, vector, &mut s);
        self.put_scratch(s);
        r
    }

    /// Replaces the vector of a live id (the old node becomes a tombstone).
    pub fn update(&mut self, id: u64, vector: &[f32]) -> Result<NodeId, HnswError> {
        self.check_idle("update")?;
        self.check_vector(vector)?;
        if !self.map.contains_key(&id) {
            return Err(HnswError::UnknownId(id));
        }
        self.delete(id)?;
        self.insert(id, vector)
    }

    /// `vector` has passed `check_vector`, `id` is new.
    pub(crate) fn insert_unchecked(
        &mut self,
        id: u64,
        vector: &[f32],
        s: &mut Scratch,
    ) -> Result<NodeId, HnswError> {
        if self.ext.len() >= INVALID as usize - 1 {
            return Err(HnswError::Full(self.ext.len()));
        }
        // One vector at a time grows the arrays by an eighth, not by doubling: an index loaded
        // at its exact size would otherwise take twice its memory for the first add.
        if self.ext.len() == self.ext.capacity() {
            self.reserve_exact((self.ext.len() / 8).max(16))?;
        }
        self.space.prepare(vector, &mut s.prep)?;
        self.space.encode(&s.prep, &mut s.q);
        let level = self.random_level();
        let node = self.push_node(id, level, &s.q, &s.prep);
        self.link(node, s);
        Ok(NodeId(node))
    }

    pub(crate) fn push_node(&mut self, id: u64, level: u8, e: &Encoded, prep: &[f32]) -> u32 {
        let node = self.ext.len() as u32;
        self.ext.push(id);
        self.map.insert(id, node);
        self.levels.push(level);
        self.level0.extend(std::iter::repeat_n(0, self.stride0()));
        self.upper_off.push(self.upper.len() as u32);
        self.upper
            .extend(std::iter::repeat_n(0, level as usize * self.stride_up()));
        if (node as usize) / 64 >= self.deleted.len() {
            self.deleted.push(0);
        }
        self.vectors.push(e);
        if self.p.keep_f32 {
            self.raw.extend_from_slice(prep);
        }
        node
    }

    /// Links a pushed node into the graph (Algorithm 1). `s.q` holds its encoding.
    pub(crate) fn link(&mut self, node: u32, s: &mut Scratch) {
        let level = self.levels[node as usize];
        if self.entry == INVALID {
            self.entry = node;
            self.max_level = level;
            return;
        }
        let (q, st) = (&s.q, &mut s.state);
        let qv = q.view();
        let mut ep = Cand {
            d: self.space.dist(qv, self.view(self.entry)),
            id: self.entry,
        };
        for l in (level + 1..=self.max_level).rev() {
            ep = self.greedy(qv, ep, l, st);
        }
        st.eps.clear();
        st.eps.push(ep);
        for l in (0..=level.min(self.max_level)).rev() {
            let eps = std::mem::take(&mut st.eps);
            self.search_layer(qv, &eps, self.p.ef_construction, l, st, |n, idx: &Hnsw| {
                !idx.is_deleted(n)
            });
            st.eps = eps;
            st.drain_sorted();
            let mut sel = std::mem::take(&mut st.sel);
            self.select(&st.w, self.p.m, &mut sel, &mut st.evals);
            st.eps.clear();
            st.eps.extend_from_slice(&st.w);
            if st.eps.is_empty() {
                st.eps.push(ep);
            }
            // The graph is mutated below; `qv` borrows the scratch, not the index.
            self.connect(node, l, &sel, st);
            st.sel = sel;
        }
        if level > self.max_level || self.is_deleted(self.entry) {
            self.entry = node;
            self.max_level = level;
        }
    }

    /// Sets `node`'s links at `level` to `sel` and adds the reverse links, shrinking any
    /// neighbour that overflows with the heuristic.
    fn connect(&mut self, node: u32, level: u8, sel: &[u32], st: &mut State) {
        self.set_links(node, level, sel);
        let cap = self.cap(level);
        for &e in sel {
            let links = self.links(e, level);
            if links.contains(&node) {
                continue;
            }
            if links.len() < cap {
                let mut v = std::mem::take(&mut st.tmp_sel);
                v.clear();
                v.extend_from_slice(links);
                v.push(node);
                self.set_links(e, level, &v);
                st.tmp_sel = v;
            } else {
                self.shrink(e, level, &[node], st);
            }
        }
    }

    /// Re-selects `e`'s links at `level` from its current links plus `extra` (live nodes only, not
    /// `e` itself) with the heuristic: the overflow of `connect` and the repair of `delete`.
    fn shrink(&mut self, e: u32, level: u8, extra: &[u32], st: &mut State) {
        let ev = self.view(e);
        st.tmp.clear();
        for &x in self.links(e, level).iter().chain(extra) {
            if x != e && !self.is_deleted(x) {
                st.tmp.push(Cand {
                    d: self.space.dist(ev, self.view(x)),
                    id: x,
                });
                st.evals += 1;
            }
        }
        st.tmp.sort_unstable();
        st.tmp.dedup_by_key(|c| c.id);
        let tmp = std::mem::take(&mut st.tmp);
        let mut out = std::mem::take(&mut st.tmp_sel);
        self.select(&tmp, self.cap(level), &mut out, &mut st.evals);
        self.set_links(e, level, &out);
        st.tmp = tmp;
        st.tmp_sel = out;
    }

    /// The neighbour-selection heuristic (Algorithm 4, without extending or keeping pruned
    /// candidates): walking candidates nearest first, keep one only if it is closer to the base
    /// than to every neighbour kept so far. `cands` is sorted nearest first.
    fn select(&self, cands: &[Cand], m: usize, out: &mut Vec<u32>, evals: &mut u64) {
        out.clear();
        for c in cands {
            if out.len() >= m {
                break;
            }
            let cv = self.view(c.id);
            let mut good = true;
            for &r in out.iter() {
                *evals += 1;
                if self.space.dist(cv, self.view(r)) < c.d {
                    good = false;
                    break;
                }
            }
            if good {
                out.push(c.id);
            }
        }
    }

    // ---- search -------------------------------------------------------------------------

    /// Greedy descent on one upper layer (ef = 1).
    fn greedy(&self, q: View<'_>, mut cur: Cand, level: u8, st: &mut State) -> Cand {
        loop {
            let mut changed = false;
            for &nb in self.links(cur.id, level) {
                let d = self.space.dist(q, self.view(nb));
                st.evals += 1;
                if d < cur.d {
                    cur = Cand { d, id: nb };
                    changed = true;
                }
            }
            if !changed {
                return cur;
            }
        }
    }

    /// Algorithm 2: best-first search of one layer from `eps`, keeping the `ef` nearest nodes
    /// that `accept` takes in `st.res` (all nodes are traversed, accepted or not).
    fn search_layer<F: Fn(u32, &Hnsw) -> bool>(
        &self,
        q: View<'_>,
        eps: &[Cand],
        ef: usize,
        level: u8,
        st: &mut State,
        accept: F,
    ) {
        st.new_visit(self.ext.len());
        st.cand.clear();
        st.res.clear();
        for &ep in eps {
            if st.visit(ep.id) {
                st.cand.push(Near(ep));
                if accept(ep.id, self) {
                    st.res.push(ep);
                }
            }
        }
        while st.res.len() > ef {
            st.res.pop();
        }
        while let Some(Near(c)) = st.cand.pop() {
            if st.res.len() >= ef && st.res.peek().is_some_and(|w| c.d > w.d) {
                break;
            }
            // Collect the unvisited neighbours first, then compute their distances while the
            // next one's vector is being prefetched.
            if let Some(Near(next)) = st.cand.peek() {
                self.prefetch_links(next.id, level);
            }
            st.batch.clear();
            for &nb in self.links(c.id, level) {
                if st.visit(nb) {
                    if st.batch.len() < AHEAD {
                        self.vectors.prefetch(self.p.dims, nb);
                    }
                    st.batch.push(nb);
                }
            }
            for i in 0..st.batch.len() {
                let nb = st.batch[i];
                if let Some(&next) = st.batch.get(i + AHEAD) {
                    self.vectors.prefetch(self.p.dims, next);
                }
                let d = self.space.dist(q, self.view(nb));
                st.evals += 1;
                if st.res.len() < ef || st.res.peek().is_some_and(|w| d < w.d) {
                    st.cand.push(Near(Cand { d, id: nb }));
                    if accept(nb, self) {
                        st.res.push(Cand { d, id: nb });
                        if st.res.len() > ef {
                            st.res.pop();
                        }
                    }
                }
            }
        }
    }

    /// The `k` nearest live vectors, with `ef = max(ef_search, k)`.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>, HnswError> {
        self.search_filtered(query, k, self.p.ef_search.max(k), Filter::None)
    }

    /// The `k` nearest live vectors that pass `filter`, with an explicit `ef` (`ef ≥ k`).
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Filter<'_>,
    ) -> Result<Vec<Hit>, HnswError> {
        let mut s = self.take_scratch();
        // `k` is checked against the index's size in `search_into`: never reserve by it first.
        let mut out = Vec::with_capacity(k.min(self.len()));
        let r = self.search_into(query, k, ef, filter, &mut s, &mut out);
        self.put_scratch(s);
        r.map(|()| out)
    }

    /// The search with caller-held buffers: after warm-up it allocates nothing. Results go to
    /// `out` (cleared first), nearest first; ties break by insertion order.
    pub fn search_into(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Filter<'_>,
        s: &mut Scratch,
        out: &mut Vec<Hit>,
    ) -> Result<(), HnswError> {
        self.search_into_plan(query, k, ef, filter, FilterPlan::Auto, s, out)
    }

    /// [`Hnsw::search_into`] with an explicit plan for filtered searches.
    #[allow(clippy::too_many_arguments)]
    pub fn search_into_plan(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Filter<'_>,
        plan: FilterPlan,
        s: &mut Scratch,
        out: &mut Vec<Hit>,
    ) -> Result<(), HnswError> {
        out.clear();
        if k == 0 {
            return Err(HnswError::ZeroK);
        }
        if ef < k {
            return Err(HnswError::EfTooSmall { ef, k });
        }
        self.space.check(query)?;
        if k > self.len() {
            return Err(HnswError::KTooLarge { k, len: self.len() });
        }
        self.space.prepare(query, &mut s.prep)?;
        self.space.encode(&s.prep, &mut s.q);
        // Each plan falls back to exact search when the graph yields fewer than k results
        // while more exist: after many deletes with a small `m`, a region can be cut off from
        // the entry point, and a search must still return every live vector it is asked for.
        match filter {
            Filter::None => {
                self.graph_search(s, ef, |n, idx| !idx.is_deleted(n));
                if s.state.res.len() < k {
                    self.brute(s, ef, self.live_nodes());
                }
            }
            Filter::Allow(ids) => {
                s.state.set_allowed(
                    self.ext.len(),
                    ids.iter().filter_map(|id| self.map.get(id).copied()),
                );
                let mut short = true;
                if !self.use_brute(plan, ef, s.state.allowed.len()) {
                    // The bits leave the scratch for the search, which borrows it mutably.
                    let bits = std::mem::take(&mut s.state.allow);
                    self.graph_search(s, ef, |n, idx| !idx.is_deleted(n) && bit(&bits, n));
                    s.state.allow = bits;
                    short = s.state.res.len() < k;
                }
                if short {
                    let nodes = std::mem::take(&mut s.state.allowed);
                    self.brute(s, ef, nodes.iter().copied());
                    s.state.allowed = nodes;
                }
                s.state.clear_allowed();
            }
            Filter::Predicate(pred) => {
                let mut short = true;
                if !self.use_brute(plan, ef, self.estimate_allowed(pred)) {
                    self.graph_search(s, ef, |n, idx| {
                        !idx.is_deleted(n) && pred(idx.ext[n as usize])
                    });
                    short = s.state.res.len() < k;
                }
                if short {
                    self.brute(
                        s,
                        ef,
                        self.live_nodes().filter(|&n| pred(self.ext[n as usize])),
                    );
                }
            }
        }
        self.finish(s, k, out);
        Ok(())
    }

    fn graph_search<F: Fn(u32, &Hnsw) -> bool>(&self, s: &mut Scratch, ef: usize, accept: F) {
        let (q, st) = (&s.q, &mut s.state);
        st.res.clear();
        if self.entry == INVALID {
            return;
        }
        let qv = q.view();
        let mut ep = Cand {
            d: self.space.dist(qv, self.view(self.entry)),
            id: self.entry,
        };
        st.evals += 1;
        for l in (1..=self.max_level).rev() {
            ep = self.greedy(qv, ep, l, st);
        }
        st.eps.clear();
        st.eps.push(ep);
        let eps = std::mem::take(&mut st.eps);
        self.search_layer(qv, &eps, ef, 0, st, accept);
        st.eps = eps;
    }

    /// Exact distances over `nodes`, keeping the `ef` nearest in `st.res`.
    fn brute(&self, s: &mut Scratch, ef: usize, nodes: impl Iterator<Item = u32>) {
        let (q, st) = (&s.q, &mut s.state);
        let qv = q.view();
        st.res.clear();
        for n in nodes {
            if self.is_deleted(n) {
                continue;
            }
            let d = self.space.dist(qv, self.view(n));
            st.evals += 1;
            if st.res.len() < ef {
                st.res.push(Cand { d, id: n });
            } else if st.res.peek().is_some_and(|w| Cand { d, id: n } < *w) {
                st.res.pop();
                st.res.push(Cand { d, id: n });
            }
        }
    }

    fn use_brute(&self, plan: FilterPlan, ef: usize, allowed: usize) -> bool {
        match plan {
            FilterPlan::Auto => allowed <= self.brute_force_limit(ef, allowed),
            FilterPlan::Graph => false,
            FilterPlan::BruteForce => true,
        }
    }

    /// Brute force wins when the allowed set is smaller than the nodes a filtered graph search
    /// would visit (`ef · m0 / selectivity`, see the module docs).
    fn brute_force_limit(&self, ef: usize, allowed: usize) -> usize {
        let live = self.len().max(1);
        let selectivity = (allowed.max(1) as f64 / live as f64).min(1.0);
        let graph_cost = (ef * self.p.m0) as f64 / selectivity;
        graph_cost.min(live as f64) as usize
    }

    /// Live nodes that pass `pred`, estimated from up to 512 evenly spaced live nodes.
    fn estimate_allowed(&self, pred: &dyn Fn(u64) -> bool) -> usize {
        let n = self.ext.len();
        if n == 0 {
            return 0;
        }
        let step = (n / 512).max(1);
        let (mut seen, mut pass) = (0usize, 0usize);
        for node in (0..n).step_by(step) {
            if !self.is_deleted(node as u32) {
                seen += 1;
                pass += usize::from(pred(self.ext[node]));
            }
        }
        (pass as f64 / seen.max(1) as f64 * self.len() as f64).ceil() as usize
    }

    /// Sorts `st.res`, re-ranks exactly when f32 copies are kept, and writes the best `k`.
    fn finish(&self, s: &mut Scratch, k: usize, out: &mut Vec<Hit>) {
        s.state.drain_sorted();
        if !self.raw.is_empty() {
            let d = self.p.dims;
            for c in s.state.w.iter_mut() {
                let r = c.id as usize * d;
                c.d = self.space.dist_f32(&s.prep, &self.raw[r..r + d]);
            }
            s.state.w.sort_unstable();
        }
        out.extend(s.state.w.iter().take(k).map(|c| Hit {
            id: self.ext[c.id as usize],
            distance: c.d,
        }));
    }

    /// Exact k nearest live vectors by brute force over the stored vectors (the recall oracle;
    /// exact for f32 storage, exact over the f32 copies when kept).
    pub fn exact_search(
        &self,
        query: &[f32],
        k: usize,
        filter: Filter<'_>,
    ) -> Result<Vec<Hit>, HnswError> {
        if k == 0 {
            return Err(HnswError::ZeroK);
        }
        self.space.check(query)?;
        if k > self.len() {
            return Err(HnswError::KTooLarge { k, len: self.len() });
        }
        let mut s = self.scratch();
        self.space.prepare(query, &mut s.prep)?;
        self.space.encode(&s.prep, &mut s.q);
        let allow: Option<HashSet<u64>> = match filter {
            Filter::Allow(ids) => Some(ids.iter().copied().collect()),
            _ => None,
        };
        let pass = |n: u32| {
            let id = self.ext[n as usize];
            match filter {
                Filter::None => true,
                Filter::Allow(_) => allow.as_ref().is_some_and(|a| a.contains(&id)),
                Filter::Predicate(p) => p(id),
            }
        };
        let mut all: Vec<Cand> = (0..self.ext.len() as u32)
            .filter(|&n| !self.is_deleted(n) && pass(n))
            .map(|n| {
                let d = if self.raw.is_empty() {
                    self.space.dist(s.q.view(), self.view(n))
                } else {
                    let r = n as usize * self.p.dims;
                    self.space.dist_f32(&s.prep, &self.raw[r..r + self.p.dims])
                };
                Cand { d, id: n }
            })
            .collect();
        all.sort_unstable();
        Ok(all
            .iter()
            .take(k)
            .map(|c| Hit {
                id: self.ext[c.id as usize],
                distance: c.d,
            })
            .collect())
    }

    /// Distances from `query` to the given ids (`None` for an id not live), computed like the
    /// search's final ranking: over the f32 copies when kept, else the stored vectors. For
    /// fusing with another ranking that names ids this index did not return.
    pub fn distances(&self, query: &[f32], ids: &[u64]) -> Result<Vec<Option<f32>>, HnswError> {
        self.space.check(query)?;
        let mut s = self.scratch();
        self.space.prepare(query, &mut s.prep)?;
        self.space.encode(&s.prep, &mut s.q);
        let d = self.p.dims;
        Ok(ids
            .iter()
            .map(|id| {
                let n = *self.map.get(id)?;
                Some(if self.raw.is_empty() {
                    self.space.dist(s.q.view(), self.view(n))
                } else {
                    let r = n as usize * d;
                    self.space.dist_f32(&s.prep, &self.raw[r..r + d])
                })
            })
            .collect())
    }

    // ---- get, delete, compaction --------------------------------------------------------

    /// The stored vector of a live id, decoded to f32 (normalized under cosine; `s·q` under i8).
    pub fn get(&self, id: u64) -> Result<Vec<f32>, HnswError> {
        let n = *self.map.get(&id).ok_or(HnswError::UnknownId(id))?;
        let d = self.p.dims;
        if !self.raw.is_empty() {
            return Ok(self.raw[n as usize * d..(n as usize + 1) * d].to_vec());
        }
        let mut out = vec![0.0; d];
        self.vectors.decode(&self.space.k, d, n, &mut out);
        Ok(out)
    }

    /// Deletes a live id: its node becomes a tombstone (still traversed, never returned) and
    /// every neighbour that linked to it re-selects its links from its own links plus the
    /// deleted node's, so paths through the hole stay short.
    pub fn delete(&mut self, id: u64) -> Result<(), HnswError> {
        self.check_idle("delete")?;
        let node = self.map.remove(&id).ok_or(HnswError::UnknownId(id))?;
        self.deleted[node as usize / 64] |= 1 << (node % 64);
        self.n_deleted += 1;
        let mut s = self.take_scratch();
        let st = &mut s.state;
        for level in 0..=self.levels[node as usize] {
            let hole: Vec<u32> = self.links(node, level).to_vec();
            for &nb in &hole {
                if self.is_deleted(nb) || !self.links(nb, level).contains(&node) {
                    continue;
                }
                // nb's candidates: its links (the tombstone is skipped) plus the tombstone's links.
                self.shrink(nb, level, &hole, st);
            }
        }
        self.put_scratch(s);
        if self.entry == node {
            self.replace_entry();
        }
        Ok(())
    }

    /// After the entry point is deleted: the live node with the highest level (first on ties).
    fn replace_entry(&mut self) {
        let best = (0..self.ext.len() as u32)
            .filter(|&n| !self.is_deleted(n))
            .max_by_key(|&n| (self.levels[n as usize], std::cmp::Reverse(n)));
        match best {
            Some(n) => {
                self.entry = n;
                self.max_level = self.levels[n as usize];
            }
            None => {
                self.entry = INVALID;
                self.max_level = 0;
            }
        }
    }

    /// Room for `n` more nodes without growth slack (upper levels excepted: their size is
    /// only known per node); an allocation that fails is an error, not an abort.
    pub(crate) fn reserve_exact(&mut self, n: usize) -> Result<(), HnswError> {
        let d = self.p.dims;
        let oom =
            |_| HnswError::OutOfMemory(format!("no room for {n} more vectors of {d} dimensions"));
        self.level0
            .try_reserve_exact(n * self.stride0())
            .map_err(oom)?;
        self.upper_off.try_reserve_exact(n).map_err(oom)?;
        self.levels.try_reserve_exact(n).map_err(oom)?;
        self.ext.try_reserve_exact(n).map_err(oom)?;
        self.map.try_reserve(n).map_err(oom)?;
        self.deleted
            .try_reserve_exact(n.div_ceil(64))
            .map_err(oom)?;
        if self.p.keep_f32 {
            self.raw.try_reserve_exact(n * d).map_err(oom)?;
        }
        match &mut self.vectors {
            Vectors::F32(v) => v.try_reserve_exact(n * d).map_err(oom),
            Vectors::F16(v) => v.try_reserve_exact(n * d).map_err(oom),
            Vectors::I8 {
                codes,
                scale,
                norm_sq,
            } => {
                codes.try_reserve_exact(n * d).map_err(oom)?;
                scale.try_reserve_exact(n).map_err(oom)?;
                norm_sq.try_reserve_exact(n).map_err(oom)
            }
        }
    }

    /// Drops every node from `slots` on (the rollback of a batch that appended them).
    pub(crate) fn truncate_nodes(&mut self, slots: usize, upper_len: usize, deleted_words: usize) {
        let d = self.p.dims;
        self.ext.truncate(slots);
        self.levels.truncate(slots);
        self.level0.truncate(slots * self.stride0());
        self.upper_off.truncate(slots);
        self.upper.truncate(upper_len);
        self.deleted.truncate(deleted_words);
        if let Some(last) = self.deleted.last_mut() {
            let used = slots % 64;
            if used != 0 {
                *last &= (1u64 << used) - 1;
            }
        }
        if self.p.keep_f32 {
            self.raw.truncate(slots * d);
        }
        self.vectors.truncate(d, slots);
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.level0.shrink_to_fit();
        self.upper.shrink_to_fit();
        self.upper_off.shrink_to_fit();
        self.levels.shrink_to_fit();
        self.ext.shrink_to_fit();
        self.raw.shrink_to_fit();
        self.map.shrink_to_fit();
        self.deleted.shrink_to_fit();
        match &mut self.vectors {
            Vectors::F32(v) => v.shrink_to_fit(),
            Vectors::F16(v) => v.shrink_to_fit(),
            Vectors::I8 {
                codes,
                scale,
                norm_sq,
            } => {
                codes.shrink_to_fit();
                scale.shrink_to_fit();
                norm_sq.shrink_to_fit();
            }
        }
    }

    pub(crate) fn from_parts(p: HnswParams, rng: SplitMix64, parts: Parts) -> Hnsw {
        Hnsw {
            space: Space {
                k: Kernels::detect(),
                metric: p.metric,
                dims: p.dims,
            },
            level_threshold: parts.level_threshold,
            rng,
            vectors: parts.vectors,
            raw: parts.raw,
            level0: parts.level0,
            upper: parts.upper,
            upper_off: parts.upper_off,
            levels: parts.levels,
            map: parts.map,
            ext: parts.ext,
            deleted: parts.deleted,
            n_deleted: parts.n_deleted,
            entry: parts.entry,
            max_level: parts.max_level,
            pool: Mutex::new(Vec::new()),
            undo: None,
            batch_serial: 0,
            p,
        }
    }
}

/// Everything a snapshot restores besides the parameters.
pub(crate) struct Parts {
    pub level_threshold: u64,
    pub vectors: Vectors,
    pub raw: Vec<f32>,
    pub level0: Vec<u32>,
    pub upper: Vec<u32>,
    pub upper_off: Vec<u32>,
    pub levels: Vec<u8>,
    pub ext: Vec<u64>,
    pub map: HashMap<u64, u32>,
    pub deleted: Vec<u64>,
    pub n_deleted: usize,
    pub entry: u32,
    pub max_level: u8,
}
