//! Queries: search (Algorithm 5 of the paper), filtered search, exact search, distances to
//! given ids.
//!
//! Filtered search picks between two plans by a cost model: brute force over the allowed set
//! costs one distance per allowed vector; a graph search that only accepts allowed vectors
//! visits about `ef · m0 / selectivity` nodes, because the result list fills at the rate allowed
//! nodes are met (the search widens by itself: it keeps expanding while fewer than `ef` allowed
//! results are held). Brute force is taken when it is cheaper, which is always the case at 1%
//! selectivity on realistic sizes, so recall there is exact.

use crate::search::{Cand, Near, Scratch, State};
use crate::store::{AnyRows, CodeRows, Rows, SEARCH_ON_U4, View};
use crate::tombstones::bit;
use crate::{Filter, FilterPlan, Hit, Hnsw, HnswError, Metric, NodeId};
use std::collections::HashSet;

/// Distances computed per kernel call in the search loop (the four-row kernels), and so how
/// many neighbours' vectors are prefetched ahead of it; a batch's last few go one at a time,
/// each prefetching the next.
const GROUP: usize = 4;

/// How many standard deviations of the walking codes' rounding error a candidate's walk
/// distance may lie beyond the `k`-th best final distance and still be re-ranked.
const RERANK_Z: f32 = 4.0;

/// Which nodes a filtered search may return, called through a pointer: both filters share one
/// copy of the search (each closure type would compile all of it again, about 17 KB of wasm,
/// for a call per result kept; the unfiltered search keeps its own, inlined test).
type Accept<'a> = &'a dyn Fn(NodeId, &Hnsw) -> bool;

impl Hnsw {
    /// Greedy descent on one upper layer (ef = 1).
    pub(crate) fn greedy_in<R: Rows>(
        &self,
        rows: &R,
        mut cur: Cand,
        level: u8,
        st: &mut State,
    ) -> Cand {
        loop {
            let mut changed = false;
            // In wasm, the rows of all the node's links loaded first, as in the search loop
            // (Node, relaxed build, 7 interleaved rounds, same results: docs-50k 50K 1.02 /
            // 1.02 / 1.02 at ef 16 / 32 / 64, GloVe-50 100K 1.05 / 1.02 / 1.03 at ef 32 / 64 /
            // 96, 10K 1.03 / 0.99 / 1.01).
            #[cfg(target_arch = "wasm32")]
            rows.touch_all(self.graph.links(cur.id, level));
            for nb in self.graph.links(cur.id, level) {
                if st.skip == Some(nb) {
                    continue;
                }
                let d = rows.dist(nb);
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
    pub(crate) fn search_layer_in<R: Rows, F: Fn(NodeId, &Hnsw) -> bool>(
        &self,
        rows: &R,
        eps: &[Cand],
        ef: usize,
        level: u8,
        st: &mut State,
        accept: F,
    ) {
        st.new_visit(self.len_slots());
        st.cand.clear();
        st.res.clear();
        for &ep in eps {
            if st.visit(ep.id) {
                st.cand.push(Near::new(ep));
                if accept(ep.id, self) {
                    st.res.push(ep);
                }
            }
        }
        while st.res.len() > ef {
            st.res.pop();
        }
        // The loop keeps what it touches per neighbour in locals (the visited bytes and the
        // search's stamp, the batch of unvisited neighbours taken out of `st` and sized to the
        // level's cap, the distance count), so a store to the visited bytes or the batch does
        // not make it reload them from `st` (wasm's engines keep locals in registers; a field
        // behind `st` is a memory load).
        let mut batch = std::mem::take(&mut st.batch);
        let cap = self.graph.cap(level);
        if batch.len() < cap {
            batch.resize(cap, NodeId(0));
        }
        let (stamps, stamp) = st.visited.parts();
        let mut evals = 0u64;
        while let Some(c) = st.cand.pop() {
            if st.res.len() >= ef && c.farther_than(st.res.worst()) {
                break;
            }
            // Collect the unvisited neighbours first, then compute their distances while the
            // next one's vector is being prefetched.
            if let Some(next) = st.cand.peek() {
                self.graph.prefetch(next.id(), level);
            }
            let mut count = 0;
            // Without a branch on whether a neighbour was visited (half are, at random): each
            // is stamped and written to the next slot, which only an unvisited one keeps. A
            // node has at most `cap` links, so every one has a slot.
            for nb in self.graph.links(c.id(), level) {
                if let (Some(s), Some(slot)) = (stamps.get_mut(nb.idx()), batch.get_mut(count)) {
                    let fresh = *s != stamp;
                    *s = stamp;
                    *slot = nb;
                    if count < GROUP && fresh {
                        rows.prefetch(nb);
                    }
                    count += usize::from(fresh);
                }
            }
            let found = &batch[..count];
            evals += count as u64;
            // In wasm, which has no prefetch, a load from each cache line of every unvisited
            // neighbour's row before the first distance, so their misses overlap (Node,
            // relaxed build, 7 interleaved rounds, on top of the re-rank's: docs-50k 50K
            // 1.04-1.08x QPS, 10K 0.98-1.03x, GloVe-50 100K 1.03-1.11x; the simd build, both:
            // docs-50k 50K 1.10-1.14x). Natively the rows are prefetched as they are queued.
            #[cfg(target_arch = "wasm32")]
            rows.touch_all(found.iter().copied());
            // Four distances per kernel call (they do not depend on the heaps, so the heaps
            // see them in the same order as one at a time), the rest one by one.
            let mut i = 0;
            while i < count {
                let mut d = [0.0; GROUP];
                let take = if let Some(&[a, b, c, e]) = found.get(i..i + GROUP) {
                    for &next in found.iter().skip(i + GROUP).take(GROUP) {
                        rows.prefetch(next);
                    }
                    d = rows.dist4([a, b, c, e]);
                    GROUP
                } else {
                    if let Some(&next) = found.get(i + 1) {
                        rows.prefetch(next);
                    }
                    d[0] = rows.dist(found[i]);
                    1
                };
                for (&d, &nb) in d.iter().zip(&found[i..]).take(take) {
                    if st.res.len() < ef || d < st.res.worst() {
                        st.cand.push(Near::new(Cand { d, id: nb }));
                        if accept(nb, self) {
                            st.res.keep(Cand { d, id: nb }, ef);
                        }
                    }
                }
                i += take;
            }
        }
        st.evals += evals;
        st.batch = batch;
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
        if self.store.navigates() {
            self.space.encode(&s.prep, &mut s.nav_q);
        }
        // Each plan falls back to exact search when the graph yields fewer than k results
        // while more exist: after many deletes with a small `m`, a region can be cut off from
        // the entry point, and a search must still return every live vector it is asked for.
        match filter {
            Filter::None => {
                let live = |n: NodeId, idx: &Hnsw| !idx.tombs.is_deleted(n);
                // In wasm, through the filters' pointer: one copy of the search loops for all
                // searches (the unfiltered copy was 18 KB of the wasm, 2.9 KB Brotli, and the
                // call per result kept cost nothing measurable: Node, simd build, 5 interleaved
                // rounds, docs-50k 50K 1.03-1.04x and GloVe-50 100K 0.95-1.21x the inlined
                // test's QPS). Natively the unfiltered search keeps its inlined test.
                #[cfg(target_arch = "wasm32")]
                let live = &live as Accept<'_>;
                self.graph_search(s, ef, live);
                if s.state.res.len() < k {
                    self.brute(s, ef, self.live_nodes());
                }
            }
            Filter::Allow(ids) => {
                s.state.set_allowed(
                    self.len_slots(),
                    ids.iter().filter_map(|&id| self.ids.node(id)),
                );
                let mut short = true;
                if !self.use_brute(plan, ef, s.state.allowed.len()) {
                    // The bits leave the scratch for the search, which borrows it mutably.
                    let bits = std::mem::take(&mut s.state.allow);
                    let allowed =
                        |n: NodeId, idx: &Hnsw| !idx.tombs.is_deleted(n) && bit(&bits, n.0);
                    self.graph_search(s, ef, &allowed as Accept<'_>);
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
                    let passes =
                        |n: NodeId, idx: &Hnsw| !idx.tombs.is_deleted(n) && pred(idx.ids.id(n));
                    self.graph_search(s, ef, &passes as Accept<'_>);
                    short = s.state.res.len() < k;
                }
                if short {
                    self.brute(s, ef, self.live_nodes().filter(|&n| pred(self.ids.id(n))));
                }
            }
        }
        self.finish(s, k, out);
        Ok(())
    }

    /// The query's walk from the entry point down to level 0, where it keeps the `ef` nearest
    /// accepted nodes in `st.res`: on the walking codes when the index has them (`finish`
    /// re-ranks), else on the stored vectors.
    fn graph_search<F: Fn(NodeId, &Hnsw) -> bool>(&self, s: &mut Scratch, ef: usize, accept: F) {
        let (q, st) = (&s.q, &mut s.state);
        st.res.clear();
        if SEARCH_ON_U4 {
            // The query's i8 encoding: against the walking codes, or the i8 store's own.
            let q8 = if self.store.navigates() { &s.nav_q } else { q };
            let codes = match self.store.nav4_rows(&self.space, q8, &mut s.nav_q4) {
                Some(r) => CodeRows::U4(r),
                None => match self.store.nav_rows(&self.space, &s.nav_q) {
                    Some(r) => CodeRows::I8(r),
                    None => match self.store.rows(&self.space, q.view()) {
                        Some(AnyRows::I8(r)) => CodeRows::I8(r),
                        // The other kinds (f32 below 32 dimensions or with the walk off, f16,
                        // q4) through one more copy of the loops.
                        Some(r) => return self.walk(&r, ef, st, accept),
                        None => return,
                    },
                },
            };
            return self.walk(&codes, ef, st, accept);
        }
        if let Some(r) = self.store.nav_rows(&self.space, &s.nav_q) {
            return self.walk(&r, ef, st, accept);
        }
        match self.store.rows(&self.space, q.view()) {
            Some(AnyRows::F32(r)) => self.walk(&r, ef, st, accept),
            Some(AnyRows::F16(r)) => self.walk(&r, ef, st, accept),
            Some(AnyRows::I8(r)) => self.walk(&r, ef, st, accept),
            Some(AnyRows::Q4(r)) => self.walk(&r, ef, st, accept),
            None => {}
        }
    }

    fn walk<R: Rows, F: Fn(NodeId, &Hnsw) -> bool>(
        &self,
        rows: &R,
        ef: usize,
        st: &mut State,
        accept: F,
    ) {
        let Some(entry) = self.graph.entry() else {
            return;
        };
        let mut ep = Cand {
            d: rows.dist(entry),
            id: entry,
        };
        st.evals += 1;
        for l in (1..=self.graph.max_level()).rev() {
            ep = self.greedy_in(rows, ep, l, st);
        }
        st.eps.clear();
        st.eps.push(ep);
        let eps = std::mem::take(&mut st.eps);
        self.search_layer_in(rows, &eps, ef, 0, st, accept);
        st.eps = eps;
    }

    /// Exact distances over `nodes`, keeping the `ef` nearest in `st.res`.
    fn brute(&self, s: &mut Scratch, ef: usize, nodes: impl Iterator<Item = NodeId>) {
        let (q, st) = (&s.q, &mut s.state);
        let qv = q.view();
        st.res.clear();
        for n in nodes {
            if self.tombs.is_deleted(n) {
                continue;
            }
            let d = self.space.dist(qv, self.store.view(n));
            st.evals += 1;
            if st.res.len() < ef || st.res.beats_worst(Cand { d, id: n }) {
                st.res.keep(Cand { d, id: n }, ef);
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
        let n = self.len_slots();
        if n == 0 {
            return 0;
        }
        let step = (n / 512).max(1);
        let (mut seen, mut pass) = (0usize, 0usize);
        for node in self.nodes().step_by(step) {
            if !self.tombs.is_deleted(node) {
                seen += 1;
                pass += usize::from(pred(self.ids.id(node)));
            }
        }
        (pass as f64 / seen.max(1) as f64 * self.len() as f64).ceil() as usize
    }

    /// Writes the best `k` of `st.res`, re-ranking first when the walk ranked by something else
    /// (over the f32 copies when kept, else over the f32 vectors when the walk was on their
    /// codes; see [`Hnsw::rerank`]): the heap drains unsorted, and without a re-rank only the
    /// best `k` are sorted (their order depends on the keys only).
    fn finish(&self, s: &mut Scratch, k: usize, out: &mut Vec<Hit>) {
        s.state.drain();
        if self.store.keeps_f32() || self.store.navigates() {
            self.rerank(s, k);
        } else {
            crate::search::sort_best(&mut s.state.w, k);
        }
        out.extend(s.state.w.iter().take(k).map(|c| Hit {
            id: self.ids.id(c.id),
            distance: c.d,
        }));
    }

    /// Re-ranks the walk's candidates by their final distances, leaving the best `k` first in
    /// `w`, sorted. The `k` nearest by walk distance are re-ranked first; of the others, only
    /// those whose walk distance is within [`RERANK_Z`] standard deviations of their codes'
    /// rounding error of the farthest of those `k` (which bounds the `k`-th final distance).
    fn rerank(&self, s: &mut Scratch, k: usize) {
        let (prep, q, w) = (&s.prep, &s.q, &mut s.state.w);
        // The walk's query codes: each component within half their step of the query's.
        let q8 = if self.store.navigates() { &s.nav_q } else { q };
        let (qs, qn) = match q8.view() {
            View::I8 { scale, norm_sq, .. } => (scale, norm_sq),
            _ => (f32::INFINITY, f32::INFINITY),
        };
        // Rounding errors uniform in half a step either side (variance step² / 12): the dot
        // product's error has variance (|q|² sₓ² + |x|² s_q²) / 12; L2 counts it twice.
        let per_sd = match self.space.metric {
            Metric::L2 => 2.0,
            Metric::Cosine | Metric::Dot => 1.0,
        } * RERANK_Z
            / 12f32.sqrt();
        crate::search::sort_cands(w);
        let head = k.min(w.len());
        let rows = || self.store.final_rows(&self.space, prep, q.view());
        self.rescore_rows(rows(), &mut w[..head]);
        let kth = w[..head].iter().fold(f32::NEG_INFINITY, |m, c| m.max(c.d));
        let mut kept = head;
        for i in head..w.len() {
            let c = w[i];
            let far = self
                .store
                .walk_step(c.id)
                .is_some_and(|(sx, nx)| c.d - per_sd * (qn * sx * sx + nx * qs * qs).sqrt() > kth);
            if !far {
                w[kept] = c;
                kept += 1;
            }
        }
        w.truncate(kept);
        self.rescore_rows(rows(), &mut w[head..]);
        crate::search::sort_cands(w);
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
        let pass = |n: NodeId| {
            let id = self.ids.id(n);
            match filter {
                Filter::None => true,
                Filter::Allow(_) => allow.as_ref().is_some_and(|a| a.contains(&id)),
                Filter::Predicate(p) => p(id),
            }
        };
        let mut all: Vec<Cand> = self
            .live_nodes()
            .filter(|&n| pass(n))
            .map(|n| Cand {
                d: self.final_dist(&s, n),
                id: n,
            })
            .collect();
        crate::search::sort_cands(&mut all);
        Ok(all
            .iter()
            .take(k)
            .map(|c| Hit {
                id: self.ids.id(c.id),
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
        Ok(ids
            .iter()
            .map(|&id| Some(self.final_dist(&s, self.ids.node(id)?)))
            .collect())
    }

    /// Sets each candidate's distance to the query `q` (encoded in the storage kind) over the
    /// stored vectors (not inlined: the build's two callers share it).
    #[inline(never)]
    pub(crate) fn rescore(&self, q: View<'_>, w: &mut [Cand]) {
        self.rescore_rows(self.store.rows(&self.space, q), w);
    }

    /// Sets each candidate's distance to the query over `rows` (the stored vectors against the
    /// query encoded in the storage kind, or the f32 copies), four per kernel call: the bits of
    /// [`Space::dist`] one at a time.
    fn rescore_rows(&self, rows: Option<AnyRows<'_>>, w: &mut [Cand]) {
        fn each<R: Rows>(rows: &R, w: &mut [Cand]) {
            // In wasm, a load from each cache line of every row first, so the rows come from
            // memory together, not one after another as the kernel reaches them (Node,
            // docs-50k 50K, relaxed build, 7 interleaved rounds: 1.08-1.10x QPS at ef 16-64,
            // 10K 1.01-1.02x). Natively a prefetch of every row's first lines did not help.
            #[cfg(target_arch = "wasm32")]
            rows.touch_all(w.iter().map(|c| c.id));
            let mut groups = w.chunks_exact_mut(4);
            for g in &mut groups {
                let d = rows.dist4([g[0].id, g[1].id, g[2].id, g[3].id]);
                for (c, d) in g.iter_mut().zip(d) {
                    c.d = d;
                }
            }
            for c in groups.into_remainder() {
                c.d = rows.dist(c.id);
            }
        }
        match rows {
            Some(AnyRows::F32(r)) => each(&r, w),
            Some(AnyRows::F16(r)) => each(&r, w),
            Some(AnyRows::I8(r)) => each(&r, w),
            Some(AnyRows::Q4(r)) => each(&r, w),
            None => w.iter_mut().for_each(|c| c.d = f32::INFINITY),
        }
    }

    /// The exact distance from a prepared query to `n`'s f32 copy (kept: `keep_f32`).
    #[inline]
    fn exact_dist(&self, prep: &[f32], n: NodeId) -> f32 {
        self.store
            .exact(n)
            .map_or(f32::INFINITY, |x| self.space.dist_f32(prep, x))
    }

    /// The distance a search ranks by at the end: over the f32 copies when kept, else the
    /// stored encodings. `s` holds the prepared and encoded query.
    pub(crate) fn final_dist(&self, s: &Scratch, n: NodeId) -> f32 {
        if self.store.keeps_f32() {
            self.exact_dist(&s.prep, n)
        } else {
            self.space.dist(s.q.view(), self.store.view(n))
        }
    }

    /// The stored vector of a live id, decoded to f32 (normalized under cosine; `s·q` under i8).
    pub fn get(&self, id: u64) -> Result<Vec<f32>, HnswError> {
        let n = self.ids.node(id).ok_or(HnswError::UnknownId(id))?;
        Ok(self.store.decode(&self.space.k, n))
    }
}
