//! The parallel build: a batch inserted in rounds, each round's graph searches spread over
//! threads.
//!
//! A round appends its nodes (ids, levels from the index's seeded generator, codes) in order,
//! then plans every node's links on the graph as it was before the round ([`Hnsw::plan_links`],
//! read-only, so the round's nodes are shared among threads), writes them in node order, and
//! gathers the reverse links per neighbour: each neighbour's new list (the new nodes appended,
//! or all re-selected with the heuristic when they overflow it) is computed on threads too,
//! then written in a fixed order. A round's
//! nodes do not see each other, so a round is kept to 1/64 of the nodes already in the graph
//! (at most 1,024): while the graph is small, rounds are single nodes and the build is the
//! sequential one. Round sizes depend on the index only, never on the thread count, so the
//! same batch gives the same bytes on 1 thread or 16; they differ from
//! [`Hnsw::insert_batch`]'s (whose nodes each see every earlier one), which stays the
//! deterministic reference.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::batch::PendingBatch;
use crate::index::MAX_SLOTS;
use crate::search::{LinkPlan, Scratch};
use crate::{Hnsw, HnswError, NodeId};

/// Nodes a thread takes at a time (threads take the next chunk when done: searches differ in
/// cost, so fixed shares would leave one thread waiting).
const GRAIN: usize = 8;

/// Runs `work(chunk, state)` for every chunk in `0..chunks` on one thread per state, each
/// taking the next chunk when it is done; the first error, if any.
fn for_chunks<S: Send>(
    states: &mut [S],
    chunks: usize,
    work: impl Fn(usize, &mut S) -> Result<(), HnswError> + Sync,
) -> Result<(), HnswError> {
    let next = AtomicUsize::new(0);
    let (next, work) = (&next, &work);
    std::thread::scope(|scope| {
        let jobs: Vec<_> = states
            .iter_mut()
            .map(|s| {
                scope.spawn(move || {
                    loop {
                        let c = next.fetch_add(1, Ordering::Relaxed);
                        if c >= chunks {
                            return Ok(());
                        }
                        work(c, s)?;
                    }
                })
            })
            .collect();
        jobs.into_iter()
            .try_for_each(|j| j.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    })
}

/// Nodes in the round that starts when the graph holds `slots` nodes.
fn round_len(slots: usize) -> usize {
    (slots / 64).clamp(1, 1024)
}

impl Hnsw {
    /// Inserts the rest of an open batch (see [`Hnsw::begin_batch`]) on `threads` threads,
    /// calling `progress(done, total)` after every round; returns how many are in. On an error
    /// the batch stays open for [`Hnsw::rollback_batch`]. The graph differs from
    /// [`Hnsw::step_batch`]'s but not with the thread count (see the module's note).
    pub fn step_batch_parallel(
        &mut self,
        b: &mut PendingBatch,
        threads: NonZeroUsize,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<usize, HnswError> {
        self.check_batch(b)?;
        let threads = threads.get();
        let d = self.p.dims;
        let total = b.ids.len();
        let mut scratches: Vec<Scratch> = (0..threads).map(|_| self.scratch()).collect();
        let mut plans: Vec<LinkPlan> = Vec::new();
        // (neighbour, level, new node) of a round's reverse links; (neighbour, level, range).
        let mut incoming: Vec<(NodeId, u8, NodeId)> = Vec::new();
        let mut groups: Vec<(NodeId, u8, usize, usize)> = Vec::new();
        while b.done < total {
            let first = self.len_slots();
            // Without an entry point (an empty index, or every node deleted) the first node
            // goes in alone: it becomes the entry the next round's searches start from.
            let n = if self.graph.entry().is_some() {
                round_len(first).min(total - b.done)
            } else {
                1
            };
            if first + n > MAX_SLOTS {
                return Err(HnswError::Full(first));
            }
            if self.ids.capacity_left() < n {
                self.reserve_exact(n.max(first / 8))?;
            }
            // The round's nodes, appended in order (codes, levels, ids).
            let s = &mut scratches[0];
            for i in b.done..b.done + n {
                self.prepare_as(&b.data[i * d..(i + 1) * d], b.prepared, &mut s.prep)?;
                self.space.encode(&s.prep, &mut s.q);
                let level = self.random_level();
                self.push_node(b.ids[i], level, &s.q, &s.prep);
            }
            // Their links, planned on the graph as it was before the round.
            plans.resize_with(n, LinkPlan::default);
            let index: &Hnsw = self;
            let data = &b.data[b.done * d..(b.done + n) * d];
            let prepared = b.prepared;
            let chunks: Vec<Mutex<&mut [LinkPlan]>> =
                plans.chunks_mut(GRAIN).map(Mutex::new).collect();
            for_chunks(&mut scratches[..threads], chunks.len(), |c, s| {
                let mut chunk = chunks[c].lock().unwrap_or_else(PoisonError::into_inner);
                for (j, plan) in chunk.iter_mut().enumerate() {
                    let i = c * GRAIN + j;
                    index.prepare_as(&data[i * d..(i + 1) * d], prepared, &mut s.prep)?;
                    index.space.encode(&s.prep, &mut s.q);
                    let node = NodeId((first + i) as u32);
                    index.plan_links(node, s.q.view(), &mut s.state, plan);
                }
                Ok(())
            })?;
            drop(chunks);
            // Each node's own links and the entry point, in node order; the reverse links
            // gathered per neighbour and level (a round's nodes link to older nodes only).
            incoming.clear();
            for (i, plan) in plans.iter().enumerate() {
                self.apply_forward(NodeId((first + i) as u32), plan, &mut incoming);
            }
            incoming.sort_unstable_by_key(|&(e, l, n)| (l, e.0, n.0));
            groups.clear();
            let mut at = 0;
            while at < incoming.len() {
                let (e, l, _) = incoming[at];
                let end = at
                    + incoming[at..]
                        .iter()
                        .take_while(|x| x.0 == e && x.1 == l)
                        .count();
                groups.push((e, l, at, end));
                at = end;
            }
            // Every neighbour's new links, computed on threads (appended, or re-selected with
            // the heuristic when they overflow), then written in a fixed order.
            let index: &Hnsw = self;
            let (groups_ref, incoming_ref) = (&groups, &incoming);
            let parts = groups.len().div_ceil(GRAIN * 4);
            // Per part of the groups: their new links back to back, and where each ends.
            let relinked: Vec<Mutex<(Vec<NodeId>, Vec<usize>)>> =
                (0..parts).map(|_| Mutex::default()).collect();
            for_chunks(&mut scratches[..threads], parts, |c, s| {
                let (mut ids, mut ends) = (Vec::new(), Vec::new());
                let (mut extra, mut out) = (Vec::new(), Vec::new());
                let part = &groups_ref[c * GRAIN * 4..((c + 1) * GRAIN * 4).min(groups_ref.len())];
                for &(e, l, a, z) in part {
                    extra.clear();
                    extra.extend(incoming_ref[a..z].iter().map(|x| x.2));
                    index.relink(e, l, &extra, &mut s.state, &mut out);
                    ids.extend_from_slice(&out);
                    ends.push(ids.len());
                }
                *relinked[c].lock().unwrap_or_else(PoisonError::into_inner) = (ids, ends);
                Ok(())
            })?;
            let mut g = groups.iter();
            for part in relinked {
                let (ids, ends) = part.into_inner().unwrap_or_else(PoisonError::into_inner);
                let mut start = 0;
                for (&end, &(e, l, _, _)) in ends.iter().zip(&mut g) {
                    self.set_links(e, l, &ids[start..end]);
                    start = end;
                }
            }
            b.done += n;
            progress(b.done, total);
        }
        Ok(b.done)
    }

    /// Inserts a batch as [`Hnsw::insert_batch`] does (validated whole first; nothing inserted
    /// on an error), its graph searches on `threads` threads ([`Hnsw::step_batch_parallel`]).
    pub fn insert_batch_parallel(
        &mut self,
        ids: &[u64],
        data: &[f32],
        threads: NonZeroUsize,
        progress: impl FnMut(usize, usize),
    ) -> Result<(), HnswError> {
        let mut b = self.begin_batch(ids.to_vec(), data.to_vec())?;
        if let Err(e) = self.step_batch_parallel(&mut b, threads, progress) {
            self.rollback_batch(b)?;
            return Err(e);
        }
        self.commit_batch(b)
    }
}

impl Hnsw {
    /// A planned node's own links, and the entry point if it rises above it; its reverse links
    /// go to `incoming` as `(neighbour, level, node)`.
    fn apply_forward(
        &mut self,
        node: NodeId,
        plan: &LinkPlan,
        incoming: &mut Vec<(NodeId, u8, NodeId)>,
    ) {
        let level = self.graph.level(node);
        let Some(entry) = self.graph.entry() else {
            self.graph.set_entry(Some(node), level);
            return;
        };
        for (l, sel) in plan.levels() {
            self.set_links(node, l, sel);
            incoming.extend(sel.iter().map(|&e| (e, l, node)));
        }
        if level > self.graph.max_level() || self.tombs.is_deleted(entry) {
            self.graph.set_entry(Some(node), level);
        }
    }

    /// `e`'s links at `level` once `extra` (new nodes) link to it: appended while they fit,
    /// else re-selected from all with the heuristic.
    fn relink(
        &self,
        e: NodeId,
        level: u8,
        extra: &[NodeId],
        st: &mut crate::search::State,
        out: &mut Vec<NodeId>,
    ) {
        out.clear();
        out.extend(self.graph.links(e, level));
        if out.len() + extra.len() <= self.graph.cap(level) {
            out.extend_from_slice(extra);
        } else {
            self.reselect(e, level, extra, st, out);
        }
    }
}
