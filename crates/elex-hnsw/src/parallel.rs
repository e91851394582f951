//! The parallel build: a batch inserted in rounds, each round's graph searches spread over
//! threads.
//!
//! A round appends its nodes (ids, levels from the index's seeded generator, codes) in order,
//! then plans every node's links on the graph as it was before the round ([`Hnsw::plan_links`],
//! read-only, so the round's nodes are shared among threads), then writes the plans in node
//! order ([`Hnsw::apply_links`]: reverse links and their shrinking, one thread). A round's
//! nodes do not see each other, so a round is kept to 1/64 of the nodes already in the graph
//! (at most 1,024): while the graph is small, rounds are single nodes and the build is the
//! sequential one. Round sizes depend on the index only, never on the thread count, so the
//! same batch gives the same bytes on 1 thread or 16; they differ from
//! [`Hnsw::insert_batch`]'s (whose nodes each see every earlier one), which stays the
//! deterministic reference.

use std::num::NonZeroUsize;

use crate::batch::PendingBatch;
use crate::index::MAX_SLOTS;
use crate::search::{LinkPlan, Scratch};
use crate::{Hnsw, HnswError, NodeId};

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
        while b.done < total {
            let first = self.len_slots();
            let n = round_len(first).min(total - b.done);
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
            let per = n.div_ceil(threads);
            let index: &Hnsw = self;
            let data = &b.data[b.done * d..(b.done + n) * d];
            let prepared = b.prepared;
            let planned: Result<(), HnswError> = std::thread::scope(|scope| {
                let jobs: Vec<_> = plans
                    .chunks_mut(per)
                    .zip(scratches.iter_mut())
                    .enumerate()
                    .map(|(t, (chunk, s))| {
                        scope.spawn(move || -> Result<(), HnswError> {
                            for (j, plan) in chunk.iter_mut().enumerate() {
                                let i = t * per + j;
                                index.prepare_as(
                                    &data[i * d..(i + 1) * d],
                                    prepared,
                                    &mut s.prep,
                                )?;
                                index.space.encode(&s.prep, &mut s.q);
                                let node = NodeId((first + i) as u32);
                                index.plan_links(node, s.q.view(), &mut s.state, plan);
                            }
                            Ok(())
                        })
                    })
                    .collect();
                jobs.into_iter()
                    .try_for_each(|j| j.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            });
            planned?;
            // Written in node order: the same graph whatever the number of threads.
            let st = &mut scratches[0].state;
            for (i, plan) in plans.iter().enumerate() {
                self.apply_links(NodeId((first + i) as u32), plan, st);
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
