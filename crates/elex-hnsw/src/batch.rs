//! All-or-nothing batches and resumable long work.
//!
//! A batch is checked whole by [`Hnsw::validate_batch`] (the one validator: the native
//! [`Hnsw::insert_batch`] and the JS binding both go through it), then inserted in steps that
//! the caller may interleave with other work (a browser yields to its event loop between
//! them). While a batch is open the index keeps an undo log: the first time a step rewrites the
//! links of a node that existed before the batch, the old links are saved. Rolling back
//! restores those links, truncates every per-node array to its length at the start and puts
//! the entry point and the level generator back, so the index is bit for bit what it was
//! (its snapshot bytes are identical). Other mutations are refused while a batch is open
//! ([`HnswError::Busy`]); searches may run between steps and see the vectors added so far.
//!
//! [`Compaction`] rebuilds the graph in steps the same way: the old index answers searches
//! until [`Hnsw::finish_compaction`] swaps the rebuilt one in.

use std::collections::{HashMap, HashSet};

use crate::index::MAX_SLOTS;
use crate::search::Scratch;
use crate::{Hnsw, HnswError, Metric, NodeId, Storage};
use elex_simd::SplitMix64;
use std::sync::atomic::{AtomicU64, Ordering};

/// Serials of batches, unique in the process: a batch is closed only on the index that opened it.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

/// What an open batch needs to undo itself.
#[derive(Debug)]
pub(crate) struct Undo {
    serial: u64,
    slots: usize,
    upper_len: usize,
    entry: Option<NodeId>,
    max_level: u8,
    rng: SplitMix64,
    /// Link blocks (count and every slot) of pre-batch nodes as they were before the batch
    /// first rewrote them.
    saved: HashMap<(NodeId, u8), Vec<u32>>,
}

impl Undo {
    /// Saves `n`'s link block at `level` before its first rewrite in this batch.
    pub(crate) fn note(&mut self, n: NodeId, level: u8, old: &[u32]) {
        if n.idx() < self.slots {
            self.saved.entry((n, level)).or_insert_with(|| old.to_vec());
        }
    }
}

/// An open batch: the validated input and how far its insertion got. Made by
/// [`Hnsw::begin_batch`], advanced by [`Hnsw::step_batch`], closed by [`Hnsw::commit_batch`]
/// or [`Hnsw::rollback_batch`].
#[derive(Debug)]
pub struct PendingBatch {
    serial: u64,
    pub(crate) ids: Vec<u64>,
    pub(crate) data: Vec<f32>,
    pub(crate) done: usize,
    /// The vectors are in the metric's form already ([`Hnsw::begin_prepared_batch`]).
    pub(crate) prepared: bool,
    scratch: Option<Scratch>,
}

impl PendingBatch {
    /// Vectors inserted so far.
    pub fn done(&self) -> usize {
        self.done
    }

    /// Vectors in the batch.
    pub fn total(&self) -> usize {
        self.ids.len()
    }

    /// Whether every vector is in.
    pub fn is_complete(&self) -> bool {
        self.done == self.ids.len()
    }
}

/// How far [`Hnsw::validate_batch_step`] got through a batch.
#[derive(Debug, Default)]
pub struct BatchCheck {
    seen: HashSet<u64>,
    next: usize,
    started: bool,
    /// `(ids, values)` of the batch being checked.
    shape: (usize, usize),
    /// `(slots, live)` of the index when the check started.
    index: (usize, usize),
}

impl BatchCheck {
    /// Vectors checked so far.
    pub fn checked(&self) -> usize {
        self.next
    }
}

/// A rebuild without tombstones, made by [`Hnsw::begin_compaction`] and advanced by
/// [`Compaction::step`]; the index it was made from must not change until
/// [`Hnsw::finish_compaction`].
#[derive(Debug)]
pub struct Compaction {
    fresh: Hnsw,
    next: u32,
    slots: usize,
    scratch: Scratch,
}

impl Compaction {
    /// Copies live nodes of `old` into the rebuilt graph until `stop()` says so (checked after
    /// every node) or all are in; returns whether all are in. `old` must be the index the
    /// compaction was begun on, unchanged since.
    pub fn step(&mut self, old: &Hnsw, mut stop: impl FnMut() -> bool) -> Result<bool, HnswError> {
        if old.len_slots() != self.slots {
            return Err(HnswError::Busy(
                "the index changed while it was being compacted".into(),
            ));
        }
        while (self.next as usize) < self.slots {
            let n = self.next;
            self.next += 1;
            if old.tombs.is_deleted(NodeId(n)) {
                continue;
            }
            old.copy_node_into(NodeId(n), &mut self.fresh, &mut self.scratch);
            if stop() {
                break;
            }
        }
        Ok(self.next as usize >= self.slots)
    }

    /// Share of the old slots visited, 0..=1.
    pub fn progress(&self) -> f64 {
        if self.slots == 0 {
            1.0
        } else {
            f64::from(self.next) / self.slots as f64
        }
    }
}

impl Hnsw {
    /// Checks a vector the caller wants stored: dimension, finite components, and under cosine
    /// at least one non-zero component. Every such vector can be stored (normalization scales
    /// by the largest component first, so no finite non-zero vector under- or overflows).
    ///
    /// Under L2 and dot the values are stored as given, so they must also fit: the squared
    /// norm at most `f32::MAX / 4` (then every distance between two stored vectors is finite),
    /// and with f16 storage every component within ±65504.
    pub fn check_vector(&self, v: &[f32]) -> Result<(), HnswError> {
        self.space.check(v)?;
        if self.p.metric == Metric::Cosine {
            if v.iter().all(|&x| x == 0.0) {
                return Err(HnswError::ZeroVector);
            }
            return Ok(());
        }
        let norm_sq: f64 = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
        if norm_sq > f64::from(f32::MAX) / 4.0 {
            return Err(HnswError::ValueTooLarge(format!(
                "the squared norm {} would overflow f32 distances (at most {})",
                elex_simd::Short(norm_sq),
                elex_simd::Short::from(f32::MAX / 4.0)
            )));
        }
        if self.p.storage == Storage::F16
            && let Some(i) = v.iter().position(|x| x.abs() > 65504.0)
        {
            return Err(HnswError::ValueTooLarge(format!(
                "component {i} = {} does not fit f16 storage (|x| <= 65504)",
                elex_simd::Short::from(v[i])
            )));
        }
        Ok(())
    }

    /// The batch validator: `data` holds `ids.len() · dims` values, every vector passes
    /// [`Hnsw::check_vector`], no id is in the index or twice in the batch, and the index has
    /// room. A batch that passes is inserted whole (nothing in insertion can fail after it).
    pub fn validate_batch(&self, ids: &[u64], data: &[f32]) -> Result<(), HnswError> {
        let mut c = BatchCheck::default();
        while !self.validate_batch_step(ids, data, &mut c, || false)? {}
        Ok(())
    }

    /// [`Hnsw::validate_batch`] in steps: checks vectors until `stop()` says so (checked after
    /// every vector) or all are checked; returns whether all are. The index must not change
    /// between steps (it is checked); hand the finished check to [`Hnsw::begin_checked_batch`].
    pub fn validate_batch_step(
        &self,
        ids: &[u64],
        data: &[f32],
        c: &mut BatchCheck,
        mut stop: impl FnMut() -> bool,
    ) -> Result<bool, HnswError> {
        let d = self.p.dims;
        if !c.started {
            if ids.len().checked_mul(d) != Some(data.len()) {
                return Err(HnswError::BatchShape {
                    ids: ids.len(),
                    values: data.len(),
                    dims: d,
                });
            }
            if self.len_slots() + ids.len() >= MAX_SLOTS {
                return Err(HnswError::Full(self.len_slots()));
            }
            *c = BatchCheck {
                seen: HashSet::with_capacity(ids.len()),
                next: 0,
                started: true,
                shape: (ids.len(), data.len()),
                index: (self.len_slots(), self.len()),
            };
        } else if c.index != (self.len_slots(), self.len()) || c.shape != (ids.len(), data.len()) {
            return Err(HnswError::Busy(
                "the index or the batch changed while the batch was being checked".into(),
            ));
        }
        while c.next < ids.len() {
            let (id, v) = (ids[c.next], &data[c.next * d..(c.next + 1) * d]);
            self.check_vector(v)?;
            if self.ids.contains(id) || !c.seen.insert(id) {
                return Err(HnswError::DuplicateId(id));
            }
            c.next += 1;
            if stop() {
                break;
            }
        }
        Ok(c.next == ids.len())
    }

    /// Whether a batch is open (other mutations are refused until it is committed or rolled
    /// back).
    pub fn batch_open(&self) -> bool {
        self.undo.is_some()
    }

    /// `Err(Busy)` while a batch is open.
    pub(crate) fn check_idle(&self, what: &str) -> Result<(), HnswError> {
        if self.undo.is_some() {
            return Err(HnswError::Busy(format!(
                "cannot {what} while a batch is being inserted"
            )));
        }
        Ok(())
    }

    /// Validates a batch and opens it: nothing is inserted yet. The index takes the vectors
    /// (no second copy) and reserves room for them.
    pub fn begin_batch(
        &mut self,
        ids: Vec<u64>,
        data: Vec<f32>,
    ) -> Result<PendingBatch, HnswError> {
        let serial = self.open_batch(&ids, &data)?;
        Ok(self.pending(serial, ids, data))
    }

    /// The handle of a batch just opened under `serial`.
    fn pending(&self, serial: u64, ids: Vec<u64>, data: Vec<f32>) -> PendingBatch {
        PendingBatch {
            serial,
            ids,
            data,
            done: 0,
            prepared: false,
            scratch: Some(self.scratch()),
        }
    }

    /// Validates, starts the undo log and reserves room; returns the batch's serial.
    fn open_batch(&mut self, ids: &[u64], data: &[f32]) -> Result<u64, HnswError> {
        self.check_idle("begin a batch")?;
        self.validate_batch(ids, data)?;
        self.open_checked(ids.len())
    }

    /// Opens a batch of `n` vectors that passed the validator: the undo log and the room.
    fn open_checked(&mut self, n: usize) -> Result<u64, HnswError> {
        self.check_idle("begin a batch")?;
        self.batch_serial = NEXT_SERIAL.fetch_add(1, Ordering::Relaxed);
        self.undo = Some(Undo {
            serial: self.batch_serial,
            slots: self.len_slots(),
            upper_len: self.graph.upper_len(),
            entry: self.graph.entry(),
            max_level: self.graph.max_level(),
            rng: self.rng,
            saved: HashMap::new(),
        });
        if let Err(e) = self.reserve_exact(n) {
            self.undo = None;
            return Err(e);
        }
        Ok(self.batch_serial)
    }

    /// [`Hnsw::begin_batch`] for vectors already in the metric's form (normalized under
    /// cosine): rows read back from a budgeted index's store, re-inserted bit for bit.
    pub(crate) fn begin_prepared_batch(
        &mut self,
        ids: Vec<u64>,
        data: Vec<f32>,
    ) -> Result<PendingBatch, HnswError> {
        let mut b = self.begin_batch(ids, data)?;
        b.prepared = true;
        Ok(b)
    }

    /// [`Hnsw::begin_batch`] for a batch already checked in steps
    /// ([`Hnsw::validate_batch_step`] returned true for these `ids` and `data` on this index,
    /// unchanged since).
    pub fn begin_checked_batch(
        &mut self,
        ids: Vec<u64>,
        data: Vec<f32>,
        check: BatchCheck,
    ) -> Result<PendingBatch, HnswError> {
        let done = check.started
            && check.next == ids.len()
            && check.shape == (ids.len(), data.len())
            && check.index == (self.len_slots(), self.len());
        if !done {
            return Err(HnswError::Busy(
                "the batch was not checked whole on this index as it is".into(),
            ));
        }
        let serial = self.open_checked(ids.len())?;
        Ok(self.pending(serial, ids, data))
    }

    /// Inserts `ids[*done..]` until `stop()` or the end. The batch is open and validated.
    #[allow(clippy::too_many_arguments)]
    fn insert_from(
        &mut self,
        ids: &[u64],
        data: &[f32],
        prepared: bool,
        done: &mut usize,
        s: &mut Scratch,
        mut stop: impl FnMut() -> bool,
    ) -> Result<(), HnswError> {
        let d = self.p.dims;
        while *done < ids.len() {
            let i = *done;
            self.insert_unchecked(ids[i], &data[i * d..(i + 1) * d], prepared, s)?;
            *done += 1;
            if stop() {
                break;
            }
        }
        Ok(())
    }

    pub(crate) fn check_batch(&self, b: &PendingBatch) -> Result<(), HnswError> {
        match &self.undo {
            Some(u) if u.serial == b.serial => Ok(()),
            _ => Err(HnswError::Busy(
                "that batch is not the one open on this index".into(),
            )),
        }
    }

    /// Inserts vectors of an open batch until `stop()` says so (checked after every vector) or
    /// all are in; returns how many are in.
    pub fn step_batch(
        &mut self,
        b: &mut PendingBatch,
        stop: impl FnMut() -> bool,
    ) -> Result<usize, HnswError> {
        self.check_batch(b)?;
        let mut s = b.scratch.take().unwrap_or_else(|| self.scratch());
        let result = self.insert_from(&b.ids, &b.data, b.prepared, &mut b.done, &mut s, stop);
        b.scratch = Some(s);
        result.map(|()| b.done)
    }

    /// Closes a batch whose vectors are all in.
    pub fn commit_batch(&mut self, b: PendingBatch) -> Result<(), HnswError> {
        self.check_batch(&b)?;
        if !b.is_complete() {
            return Err(HnswError::Busy(format!(
                "the batch has {} of {} vectors in; finish or roll it back",
                b.done,
                b.ids.len()
            )));
        }
        self.undo = None;
        if let Some(s) = b.scratch {
            self.put_scratch(s);
        }
        Ok(())
    }

    /// Undoes an open batch: the index is exactly as it was before [`Hnsw::begin_batch`].
    pub fn rollback_batch(&mut self, b: PendingBatch) -> Result<(), HnswError> {
        self.check_batch(&b)?;
        if let Some(s) = b.scratch {
            self.put_scratch(s);
        }
        self.undo_batch();
        Ok(())
    }

    /// Rolls the open batch back (the nodes it appended go, with their ids).
    fn undo_batch(&mut self) {
        let Some(u) = self.undo.take() else {
            return;
        };
        self.truncate_nodes(u.slots, u.upper_len);
        for ((n, level), block) in u.saved {
            self.graph.restore_block(n, level, &block);
        }
        self.graph.set_entry(u.entry, u.max_level);
        self.rng = u.rng;
    }

    /// Inserts `ids.len()` vectors laid out contiguously in `data` (`ids.len() · dims` values),
    /// calling `progress(done, total)` after every 1% (and at the end). The whole batch is
    /// validated first ([`Hnsw::validate_batch`]): on any error nothing is inserted.
    pub fn insert_batch(
        &mut self,
        ids: &[u64],
        data: &[f32],
        mut progress: impl FnMut(usize, usize),
    ) -> Result<(), HnswError> {
        self.open_batch(ids, data)?;
        let step = (ids.len() / 100).max(1);
        let total = ids.len();
        let mut s = self.take_scratch();
        let mut done = 0;
        while done < total {
            if let Err(e) = self.insert_from(ids, data, false, &mut done, &mut s, || true) {
                self.put_scratch(s);
                self.undo_batch();
                return Err(e);
            }
            if done % step == 0 || done == total {
                progress(done, total);
            }
        }
        self.put_scratch(s);
        self.undo = None;
        Ok(())
    }

    /// Starts rebuilding the graph without tombstones (see [`Hnsw::compact`]).
    pub fn begin_compaction(&self) -> Result<Compaction, HnswError> {
        self.check_idle("compact")?;
        let fresh = Hnsw::with_kernels(self.p.clone(), self.space.k)?;
        Ok(Compaction {
            scratch: fresh.scratch(),
            fresh,
            next: 0,
            slots: self.len_slots(),
        })
    }

    /// Swaps in a finished rebuild.
    pub fn finish_compaction(&mut self, mut c: Compaction) -> Result<(), HnswError> {
        self.check_idle("compact")?;
        if !c.step(self, || false)? {
            return Err(HnswError::Busy("the compaction is not finished".into()));
        }
        c.fresh.shrink_to_fit();
        // The same live vectors: the calibration still describes the rebuilt graph's scale.
        c.fresh.set_calibration(self.calibration());
        *self = c.fresh;
        Ok(())
    }

    /// Rebuilds the graph from the live vectors (in insertion order, levels re-drawn from the
    /// seed), dropping tombstones and reclaiming their memory. Stored encodings are copied, not
    /// re-quantized. Deterministic: the same live set gives the same index. Refused while a
    /// batch is open.
    pub fn compact(&mut self) -> Result<(), HnswError> {
        let c = self.begin_compaction()?;
        self.finish_compaction(c)
    }

    /// Appends live node `n` of `self` to `fresh` and links it.
    fn copy_node_into(&self, n: NodeId, fresh: &mut Hnsw, s: &mut Scratch) {
        self.store.load(&self.space.k, n, &mut s.q, &mut s.prep);
        let level = fresh.random_level();
        let node = fresh.push_node(self.ids.id(n), level, &s.q, &s.prep);
        fresh.link(node, s);
    }
}
