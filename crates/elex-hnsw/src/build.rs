//! Building and repairing the graph: insertion (Algorithms 1 and 4 of the paper), the
//! neighbour-selection heuristic, and deletion with neighbour repair.

use crate::graph::MAX_LEVEL;
use crate::index::{BUILD_ON_I8_MIN_DIMS, MAX_SLOTS};
use crate::search::{Cand, LinkPlan, Scratch, State};
use crate::store::{AnyRows, Rows, View};
use crate::{Hnsw, HnswError, NodeId};

impl Hnsw {
    pub(crate) fn random_level(&mut self) -> u8 {
        let mut l = 0;
        while l < MAX_LEVEL && self.rng.next_u64() < self.level_threshold {
            l += 1;
        }
        l
    }

    /// Inserts one vector under caller id `id`.
    pub fn insert(&mut self, id: u64, vector: &[f32]) -> Result<NodeId, HnswError> {
        self.check_idle("insert")?;
        self.check_vector(vector)?;
        if self.ids.contains(id) {
            return Err(HnswError::DuplicateId(id));
        }
        let mut s = self.take_scratch();
        let r = self.insert_unchecked(id, vector, false, &mut s);
        self.put_scratch(s);
        r
    }

    /// Replaces the vector of a live id (the old node becomes a tombstone).
    pub fn update(&mut self, id: u64, vector: &[f32]) -> Result<NodeId, HnswError> {
        self.check_idle("update")?;
        self.check_vector(vector)?;
        if !self.ids.contains(id) {
            return Err(HnswError::UnknownId(id));
        }
        self.delete(id)?;
        self.insert(id, vector)
    }

    /// `vector` has passed `check_vector`, `id` is new; `prepared`: it is in the metric's form
    /// already (a row read back from a budgeted index's store), taken as is.
    pub(crate) fn insert_unchecked(
        &mut self,
        id: u64,
        vector: &[f32],
        prepared: bool,
        s: &mut Scratch,
    ) -> Result<NodeId, HnswError> {
        let slots = self.len_slots();
        if slots >= MAX_SLOTS {
            return Err(HnswError::Full(slots));
        }
        // One vector at a time grows the arrays by an eighth, not by doubling: an index loaded
        // at its exact size would otherwise take twice its memory for the first add.
        if self.ids.at_capacity() {
            self.reserve_exact((slots / 8).max(16))?;
        }
        self.prepare_as(vector, prepared, &mut s.prep)?;
        self.space.encode(&s.prep, &mut s.q);
        let level = self.random_level();
        let node = self.push_node(id, level, &s.q, &s.prep);
        self.link(node, s);
        Ok(node)
    }

    /// `vector` in the metric's form: prepared now, or copied when it is already.
    pub(crate) fn prepare_as(
        &self,
        vector: &[f32],
        prepared: bool,
        out: &mut Vec<f32>,
    ) -> Result<(), HnswError> {
        if prepared {
            out.clear();
            out.extend_from_slice(vector);
            Ok(())
        } else {
            self.space.prepare(vector, out)
        }
    }

    /// Links a pushed node into the graph (Algorithm 1). `s.q` holds its encoding.
    pub(crate) fn link(&mut self, node: NodeId, s: &mut Scratch) {
        let mut plan = std::mem::take(&mut s.plan);
        self.plan_links(node, s.q.view(), &mut s.state, &mut plan);
        self.apply_links(node, &plan, &mut s.state);
        s.plan = plan;
    }

    /// The searches and selections of Algorithm 1 for a pushed node whose encoding is `qv`:
    /// the links it gets at each level, written into `plan`. Reads the index only, so the
    /// parallel build plans many nodes at once.
    pub(crate) fn plan_links(
        &self,
        node: NodeId,
        qv: View<'_>,
        st: &mut State,
        plan: &mut LinkPlan,
    ) {
        if self.space.dims >= BUILD_ON_I8_MIN_DIMS
            && let Some(r) = self.store.nav_rows_of(&self.space, node)
        {
            return self.plan_links_on(&r, node, Some(qv), st, plan);
        }
        match self.store.rows(&self.space, qv) {
            Some(AnyRows::F32(r)) => self.plan_links_on(&r, node, None, st, plan),
            Some(AnyRows::F16(r)) => self.plan_links_on(&r, node, None, st, plan),
            Some(AnyRows::I8(r)) => self.plan_links_on(&r, node, None, st, plan),
            Some(AnyRows::Q4(r)) => self.plan_links_on(&r, node, None, st, plan),
            None => plan.clear(),
        }
    }

    /// [`Hnsw::plan_links`] walking on `rows`; `rerank`: the node's encoding, when `rows` are
    /// the walking codes and each layer's candidates are re-ranked on the stored vectors before
    /// the heuristic picks from them (the next layer still starts from the walk's distances).
    fn plan_links_on<R: Rows>(
        &self,
        rows: &R,
        node: NodeId,
        rerank: Option<View<'_>>,
        st: &mut State,
        plan: &mut LinkPlan,
    ) {
        plan.clear();
        let level = self.graph.level(node);
        let Some(entry) = self.graph.entry() else {
            return;
        };
        let max_level = self.graph.max_level();
        let mut ep = Cand {
            d: rows.dist(entry),
            id: entry,
        };
        for l in (level + 1..=max_level).rev() {
            ep = self.greedy_in(rows, ep, l, st);
        }
        st.eps.clear();
        st.eps.push(ep);
        for l in (0..=level.min(max_level)).rev() {
            let eps = std::mem::take(&mut st.eps);
            self.search_layer_in(
                rows,
                &eps,
                self.p.ef_construction,
                l,
                st,
                |n, idx: &Hnsw| !idx.tombs.is_deleted(n),
            );
            st.eps = eps;
            // The next layer's entry points may come in any order; the heuristic needs them
            // sorted, on the distances it picks by.
            if rerank.is_some() {
                st.drain();
            } else {
                st.drain_sorted();
            }
            st.eps.clear();
            st.eps.extend_from_slice(&st.w);
            if st.eps.is_empty() {
                st.eps.push(ep);
            }
            if let Some(qv) = rerank {
                self.rescore(qv, &mut st.w);
                crate::search::sort_cands(&mut st.w);
            }
            let mut sel = std::mem::take(&mut st.sel);
            self.select(&st.w, self.p.m, &mut sel, &mut st.evals);
            plan.push(l, &sel);
            st.sel = sel;
        }
    }

    /// Writes a plan made by [`Hnsw::plan_links`] (on the graph as it is now, or as it was
    /// before other nodes of the same parallel round were applied): the node's links and their
    /// reverse links, then the entry point if the node rises above it.
    pub(crate) fn apply_links(&mut self, node: NodeId, plan: &LinkPlan, st: &mut State) {
        let level = self.graph.level(node);
        let Some(entry) = self.graph.entry() else {
            self.graph.set_entry(Some(node), level);
            return;
        };
        for (l, sel) in plan.levels() {
            self.connect(node, l, sel, st);
        }
        if level > self.graph.max_level() || self.tombs.is_deleted(entry) {
            self.graph.set_entry(Some(node), level);
        }
    }

    /// Sets `node`'s links at `level` to `sel` and adds the reverse links, shrinking any
    /// neighbour that overflows with the heuristic.
    fn connect(&mut self, node: NodeId, level: u8, sel: &[NodeId], st: &mut State) {
        self.set_links(node, level, sel);
        let cap = self.graph.cap(level);
        for &e in sel {
            let mut links = self.graph.links(e, level);
            if links.clone().any(|x| x == node) {
                continue;
            }
            if links.len() < cap {
                let mut v = std::mem::take(&mut st.tmp_sel);
                v.clear();
                v.extend(&mut links);
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
    fn shrink(&mut self, e: NodeId, level: u8, extra: &[NodeId], st: &mut State) {
        let mut out = std::mem::take(&mut st.tmp_sel);
        self.reselect(e, level, extra, st, &mut out);
        self.set_links(e, level, &out);
        st.tmp_sel = out;
    }

    /// What [`Hnsw::shrink`] would set `e`'s links at `level` to, written into `out`; reads
    /// the index only (the parallel build re-selects many nodes at once).
    pub(crate) fn reselect(
        &self,
        e: NodeId,
        level: u8,
        extra: &[NodeId],
        st: &mut State,
        out: &mut Vec<NodeId>,
    ) {
        st.batch.clear();
        for x in self.graph.links(e, level).chain(extra.iter().copied()) {
            if x != e && !self.tombs.is_deleted(x) {
                st.batch.push(x);
            }
        }
        st.evals += st.batch.len() as u64;
        st.tmp.clear();
        st.tmp
            .extend(st.batch.iter().map(|&id| Cand { d: 0.0, id }));
        self.rescore(self.store.view(e), &mut st.tmp);
        crate::search::sort_cands(&mut st.tmp);
        st.tmp.dedup_by_key(|c| c.id);
        let tmp = std::mem::take(&mut st.tmp);
        self.select(&tmp, self.graph.cap(level), out, &mut st.evals);
        st.tmp = tmp;
    }

    /// The neighbour-selection heuristic (Algorithm 4, without extending or keeping pruned
    /// candidates): walking candidates nearest first, keep one only if it is closer to the base
    /// than to every neighbour kept so far. `cands` is sorted nearest first.
    fn select(&self, cands: &[Cand], m: usize, out: &mut Vec<NodeId>, evals: &mut u64) {
        out.clear();
        for c in cands {
            if out.len() >= m {
                break;
            }
            let good = match self.store.rows(&self.space, self.store.view(c.id)) {
                Some(AnyRows::F32(r)) => all_farther(&r, out, c.d, evals),
                Some(AnyRows::F16(r)) => all_farther(&r, out, c.d, evals),
                Some(AnyRows::I8(r)) => all_farther(&r, out, c.d, evals),
                Some(AnyRows::Q4(r)) => all_farther(&r, out, c.d, evals),
                None => true,
            };
            if good {
                out.push(c.id);
            }
        }
    }

    /// Deletes a live id: its node becomes a tombstone (still traversed, never returned) and
    /// every neighbour that linked to it re-selects its links from its own links plus the
    /// deleted node's, so paths through the hole stay short.
    pub fn delete(&mut self, id: u64) -> Result<(), HnswError> {
        self.check_idle("delete")?;
        let node = self.ids.remove(id).ok_or(HnswError::UnknownId(id))?;
        self.tombs.mark(node);
        let mut s = self.take_scratch();
        let st = &mut s.state;
        for level in 0..=self.graph.level(node) {
            let hole: Vec<NodeId> = self.graph.links(node, level).collect();
            for &nb in &hole {
                if self.tombs.is_deleted(nb) || !self.graph.links(nb, level).any(|x| x == node) {
                    continue;
                }
                // nb's candidates: its links (the tombstone is skipped) plus the tombstone's links.
                self.shrink(nb, level, &hole, st);
            }
        }
        self.put_scratch(s);
        if self.graph.entry() == Some(node) {
            self.replace_entry();
        }
        Ok(())
    }

    /// After the entry point is deleted: the live node with the highest level (first on ties).
    fn replace_entry(&mut self) {
        let best = self
            .live_nodes()
            .max_by_key(|&n| (self.graph.level(n), std::cmp::Reverse(n)));
        match best {
            Some(n) => self.graph.set_entry(Some(n), self.graph.level(n)),
            None => self.graph.set_entry(None, 0),
        }
    }
}

/// Whether every node of `kept` is at least `d` from the rows' query (the heuristic's test),
/// four distances per call; stops at the first group with a closer one.
fn all_farther<R: Rows>(rows: &R, kept: &[NodeId], d: f32, evals: &mut u64) -> bool {
    let mut groups = kept.chunks_exact(4);
    for g in &mut groups {
        *evals += 4;
        if rows.dist4([g[0], g[1], g[2], g[3]]).iter().any(|&x| x < d) {
            return false;
        }
    }
    for &x in groups.remainder() {
        *evals += 1;
        if rows.dist(x) < d {
            return false;
        }
    }
    true
}
