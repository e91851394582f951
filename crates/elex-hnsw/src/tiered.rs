//! A budgeted index: the graph walk's codes and links stay resident, the exact vectors live in
//! a tier: a hot set in memory under the rest of the budget (the cache's W-TinyLFU policy) and
//! the remainder in a [`RowStore`] (a file natively, IndexedDB in the browser), read in one
//! batch per query to re-rank the best `rerank` candidates of the codes.
//!
//! Invariants: [`BudgetedHnsw::memory_bytes`] (the index's bytes plus the hot set's) never
//! exceeds the budget when a call returns; the store holds one row per slot of the index
//! (`0..len_slots`), the prepared (normalized under cosine) vector in the chosen precision; a
//! batch is all or nothing across the index and the store.
//!
//! A search can be split where the store is asynchronous: [`BudgetedHnsw::plan`] walks the
//! graph and scores the hot candidates, the caller reads [`Plan::missing`] from its store, and
//! [`BudgetedHnsw::finish`] scores those rows and ranks. [`BudgetedHnsw::search`] does the three
//! with a synchronous store.

use crate::{BatchCheck, Filter, Hit, Hnsw, HnswError, HnswParams, NodeId, PendingBatch};
use elex_cache::{Cache, CacheConfig};
use elex_simd::f16;

/// Bytes charged per hot row on top of the row itself (its map entry and policy slot).
pub const HOT_ENTRY_OVERHEAD: u64 = 64;

/// Default number of code-ranked candidates re-ranked exactly. On docs-50k (q4, ef 64, 25% of
/// the f32 bytes) 20 and 40 both reach recall@10 0.986 and 10 reaches 0.944; every row read is
/// an IndexedDB get in the browser (about 45 us each in Chromium, after 0.5 ms per search).
pub const DEFAULT_RERANK: usize = 20;

/// Precision of the exact rows in the tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowPrecision {
    /// 4 bytes per component: the re-rank is exact.
    F32,
    /// 2 bytes per component (IEEE half): half the tier, distances within f16 rounding.
    F16,
}

impl RowPrecision {
    /// Bytes of one row of `dims` components.
    pub fn row_bytes(self, dims: usize) -> usize {
        match self {
            RowPrecision::F32 => dims * 4,
            RowPrecision::F16 => dims * 2,
        }
    }

    fn encode(self, v: &[f32], out: &mut Vec<u8>) {
        match self {
            RowPrecision::F32 => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            RowPrecision::F16 => v
                .iter()
                .for_each(|x| out.extend_from_slice(&f16::from_f32(*x).to_le_bytes())),
        }
    }

    fn decode(self, row: &[u8], out: &mut Vec<f32>) {
        out.clear();
        match self {
            RowPrecision::F32 => out.extend(
                row.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
            RowPrecision::F16 => out.extend(
                row.chunks_exact(2)
                    .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32()),
            ),
        }
    }
}

/// Where a budgeted index's exact rows live. Rows are addressed by slot (the node's internal
/// id, dense from 0) and written once, in slot order.
pub trait RowStore {
    /// Writes the rows of slots `first..first + n` (`rows` holds `n` rows back to back).
    fn append(&mut self, first: u32, rows: &[u8]) -> Result<(), String>;
    /// Appends the rows of `slots` (ascending, distinct, all written) to `out`, back to back.
    fn read(&mut self, slots: &[u32], out: &mut Vec<u8>) -> Result<(), String>;
    /// Forgets the rows from slot `slots` on (a batch that did not go in).
    fn truncate(&mut self, slots: u32) -> Result<(), String>;
}

/// Rows in memory: for tests, and as the reference a store is checked against.
#[derive(Clone, Debug, Default)]
pub struct MemoryRows {
    row_bytes: usize,
    bytes: Vec<u8>,
}

impl MemoryRows {
    /// An empty store of rows of `row_bytes` bytes.
    pub fn new(row_bytes: usize) -> MemoryRows {
        MemoryRows {
            row_bytes,
            bytes: Vec::new(),
        }
    }
}

impl MemoryRows {
    /// Rows held.
    pub fn rows(&self) -> usize {
        self.bytes.len() / self.row_bytes.max(1)
    }
}

impl RowStore for MemoryRows {
    fn append(&mut self, first: u32, rows: &[u8]) -> Result<(), String> {
        let at = first as usize * self.row_bytes;
        if at != self.bytes.len() || !rows.len().is_multiple_of(self.row_bytes.max(1)) {
            return Err(format!("append at slot {first}: rows out of order or torn"));
        }
        self.bytes.extend_from_slice(rows);
        Ok(())
    }
    fn read(&mut self, slots: &[u32], out: &mut Vec<u8>) -> Result<(), String> {
        for &s in slots {
            let at = s as usize * self.row_bytes;
            let row = self
                .bytes
                .get(at..at + self.row_bytes)
                .ok_or_else(|| format!("slot {s} has no row"))?;
            out.extend_from_slice(row);
        }
        Ok(())
    }
    fn truncate(&mut self, slots: u32) -> Result<(), String> {
        self.bytes
            .truncate((slots as usize * self.row_bytes).min(self.bytes.len()));
        Ok(())
    }
}

/// Rows in a file, slot `s` at byte `s · row_bytes` (native only).
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug)]
pub struct FileRows {
    file: std::fs::File,
    row_bytes: usize,
}

#[cfg(not(target_arch = "wasm32"))]
impl FileRows {
    /// Opens (creating if needed) the rows file at `path`, keeping what it holds.
    pub fn open(path: &std::path::Path, row_bytes: usize) -> std::io::Result<FileRows> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        Ok(FileRows { file, row_bytes })
    }

    /// Rows the file holds.
    pub fn rows(&self) -> std::io::Result<u64> {
        Ok(self.file.metadata()?.len() / self.row_bytes.max(1) as u64)
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl RowStore for FileRows {
    fn append(&mut self, first: u32, rows: &[u8]) -> Result<(), String> {
        use std::io::{Seek, SeekFrom, Write};
        let at = first as u64 * self.row_bytes as u64;
        self.file
            .seek(SeekFrom::Start(at))
            .and_then(|_| self.file.write_all(rows))
            .map_err(|e| format!("writing rows at slot {first}: {e}"))
    }
    fn read(&mut self, slots: &[u32], out: &mut Vec<u8>) -> Result<(), String> {
        use std::io::{Read, Seek, SeekFrom};
        let rb = self.row_bytes;
        for &s in slots {
            let start = out.len();
            out.resize(start + rb, 0);
            self.file
                .seek(SeekFrom::Start(s as u64 * rb as u64))
                .and_then(|_| self.file.read_exact(&mut out[start..]))
                .map_err(|e| format!("reading the row of slot {s}: {e}"))?;
        }
        Ok(())
    }
    fn truncate(&mut self, slots: u32) -> Result<(), String> {
        self.file
            .set_len(slots as u64 * self.row_bytes as u64)
            .map_err(|e| format!("truncating rows to {slots}: {e}"))
    }
}

/// Counters of a budgeted index's searches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TierStats {
    /// Searches finished.
    pub queries: u64,
    /// Candidates re-ranked from the hot set.
    pub hot_hits: u64,
    /// Rows read from the store.
    pub rows_read: u64,
    /// Bytes read from the store.
    pub bytes_read: u64,
}

impl TierStats {
    /// Share of re-ranked rows found in the hot set.
    pub fn hit_ratio(&self) -> f64 {
        let all = self.hot_hits + self.rows_read;
        if all == 0 {
            0.0
        } else {
            self.hot_hits as f64 / all as f64
        }
    }
}

/// A search between [`BudgetedHnsw::plan`] and [`BudgetedHnsw::finish`]: the rows to read.
#[derive(Clone, Debug)]
pub struct Plan {
    k: usize,
    prep: Vec<f32>,
    /// Candidates already scored exactly (hot rows): (distance, slot, id).
    scored: Vec<(f32, u32, u64)>,
    /// Candidates whose rows are to be read: (slot, id), ascending by slot.
    cold: Vec<(u32, u64)>,
    /// The slots of `cold`, for the store.
    missing: Vec<u32>,
}

impl Plan {
    /// The slots whose rows the caller reads (ascending), for [`BudgetedHnsw::finish`].
    pub fn missing(&self) -> &[u32] {
        &self.missing
    }
}

type HotSet = Cache<u32, Box<[u8]>, fn(&u32, &Box<[u8]>) -> u64>;

// The cache's weigher is called with `&V`, and `V` is `Box<[u8]>`.
#[allow(clippy::borrowed_box)]
fn weigh(_: &u32, row: &Box<[u8]>) -> u64 {
    row.len() as u64 + HOT_ENTRY_OVERHEAD
}

/// A batch open on a [`BudgetedHnsw`]: its rows are in the store, its vectors not yet linked.
pub struct BudgetedBatch {
    batch: PendingBatch,
    first: u32,
    /// A replayed batch: its rows were in the store before it and stay on a rollback.
    replayed: bool,
}

impl BudgetedBatch {
    /// Vectors linked so far.
    pub fn done(&self) -> usize {
        self.batch.done()
    }
    /// Vectors in the batch.
    pub fn total(&self) -> usize {
        self.batch.total()
    }
    /// Whether every vector is linked.
    pub fn is_complete(&self) -> bool {
        self.batch.is_complete()
    }
    /// The slot of the batch's first vector.
    pub fn first(&self) -> u32 {
        self.first
    }
}

/// An HNSW index under a byte budget, its exact vectors in a tier (see the module docs).
pub struct BudgetedHnsw<S> {
    index: Hnsw,
    rows: S,
    precision: RowPrecision,
    budget: u64,
    rerank: usize,
    hot: HotSet,
    stats: TierStats,
    scratch: Vec<f32>,
}

impl<S: RowStore> BudgetedHnsw<S> {
    /// An empty budgeted index. `params.keep_f32` must be off (the tier holds the exact
    /// vectors); q4 or i8 storage is what makes a budget go far.
    pub fn new(
        params: HnswParams,
        precision: RowPrecision,
        budget_bytes: u64,
        rows: S,
    ) -> Result<BudgetedHnsw<S>, HnswError> {
        BudgetedHnsw::from_index(Hnsw::new(params)?, precision, budget_bytes, rows)
    }

    /// A budgeted index over an existing index whose rows `rows` already holds (one per slot,
    /// as written by this type): how a saved index reopens.
    pub fn from_index(
        index: Hnsw,
        precision: RowPrecision,
        budget_bytes: u64,
        rows: S,
    ) -> Result<BudgetedHnsw<S>, HnswError> {
        if index.params().keep_f32 {
            return Err(HnswError::InvalidParams(
                "a budgeted index keeps its exact vectors in its tier: keep_f32 must be off".into(),
            ));
        }
        let minimum = index.memory_bytes() as u64;
        if minimum > budget_bytes {
            return Err(HnswError::BudgetTooSmall {
                budget: budget_bytes,
                minimum,
            });
        }
        let mut config = CacheConfig::with_budget((budget_bytes - minimum).max(1));
        config.allow_drop = true;
        let hot = Cache::new(config, weigh as fn(&u32, &Box<[u8]>) -> u64)
            .map_err(|e| HnswError::InvalidParams(e.to_string()))?;
        Ok(BudgetedHnsw {
            index,
            rows,
            precision,
            budget: budget_bytes,
            rerank: DEFAULT_RERANK,
            hot,
            stats: TierStats::default(),
            scratch: Vec::new(),
        })
    }

    /// The index of codes and links (to snapshot it, or to read its parameters).
    pub fn index(&self) -> &Hnsw {
        &self.index
    }

    /// The row store.
    pub fn rows(&self) -> &S {
        &self.rows
    }

    /// The row store, mutably: for stores that hand their rows on (the browser binding takes
    /// the rows a batch wrote and puts them in IndexedDB). Rows must stay one per slot.
    pub fn rows_mut(&mut self) -> &mut S {
        &mut self.rows
    }

    /// The budget in bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Bytes held: the index's (codes, links, ids) plus the hot rows'. Never above the budget.
    pub fn memory_bytes(&self) -> u64 {
        self.index.memory_bytes() as u64 + self.hot.bytes()
    }

    /// The smallest budget the index fits in now (its codes and links, no hot rows).
    pub fn minimum_bytes(&self) -> u64 {
        self.index.memory_bytes() as u64
    }

    /// Live vectors.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no vector is live.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Search counters since creation.
    pub fn stats(&self) -> TierStats {
        self.stats
    }

    /// Candidates re-ranked exactly per search (at least `k` of each search).
    pub fn rerank(&self) -> usize {
        self.rerank
    }

    /// Sets the re-rank depth (at least 1).
    pub fn set_rerank(&mut self, n: usize) -> Result<(), HnswError> {
        if n == 0 {
            return Err(HnswError::InvalidParams("rerank must be at least 1".into()));
        }
        self.rerank = n;
        Ok(())
    }

    /// Changes the budget; [`HnswError::BudgetTooSmall`] (nothing changed) below the minimum.
    pub fn set_budget(&mut self, budget_bytes: u64) -> Result<(), HnswError> {
        let minimum = self.minimum_bytes();
        if minimum > budget_bytes {
            return Err(HnswError::BudgetTooSmall {
                budget: budget_bytes,
                minimum,
            });
        }
        self.budget = budget_bytes;
        self.fit_hot();
        Ok(())
    }

    /// Gives the hot set what the index leaves of the budget.
    fn fit_hot(&mut self) {
        let left = self.budget.saturating_sub(self.minimum_bytes()).max(1);
        // Cannot fail: the budget is at least 1.
        let _ = self.hot.set_budget(left);
    }

    /// Inserts a batch, all or nothing: validated by the index's validator, rows written to the
    /// store, vectors linked; if the index then exceeds the budget even with its arrays at their
    /// exact size, the batch is rolled back, the rows forgotten, and
    /// [`HnswError::BudgetTooSmall`] names the budget the batch needs.
    pub fn insert_batch(&mut self, ids: &[u64], data: &[f32]) -> Result<(), HnswError> {
        let mut b = self.begin_batch(ids.to_vec(), data.to_vec())?;
        if let Err(e) = self.step_batch(&mut b, || false) {
            let _ = self.rollback_batch(b);
            return Err(e);
        }
        self.commit_batch(b)
    }

    /// [`BudgetedHnsw::insert_batch`] with the graph searches on `threads` threads (see
    /// [`Hnsw::step_batch_parallel`]); native builds only.
    #[cfg(not(target_family = "wasm"))]
    pub fn insert_batch_parallel(
        &mut self,
        ids: &[u64],
        data: &[f32],
        threads: std::num::NonZeroUsize,
        progress: impl FnMut(usize, usize),
    ) -> Result<(), HnswError> {
        let mut b = self.begin_batch(ids.to_vec(), data.to_vec())?;
        if let Err(e) = self
            .index
            .step_batch_parallel(&mut b.batch, threads, progress)
        {
            let _ = self.rollback_batch(b);
            return Err(e);
        }
        self.commit_batch(b)
    }

    /// One step of the core's validator (see [`Hnsw::validate_batch_step`]), for callers that
    /// validate in time slices before [`BudgetedHnsw::begin_checked_batch`].
    pub fn validate_batch_step(
        &self,
        ids: &[u64],
        data: &[f32],
        check: &mut BatchCheck,
        stop: impl FnMut() -> bool,
    ) -> Result<bool, HnswError> {
        self.index.validate_batch_step(ids, data, check, stop)
    }

    /// Validates a batch, writes its rows to the store and opens it in the index (nothing is
    /// linked yet): then [`BudgetedHnsw::step_batch`] and [`BudgetedHnsw::commit_batch`] (or
    /// [`BudgetedHnsw::rollback_batch`]).
    pub fn begin_batch(
        &mut self,
        ids: Vec<u64>,
        data: Vec<f32>,
    ) -> Result<BudgetedBatch, HnswError> {
        self.index.validate_batch(&ids, &data)?;
        self.open_batch(ids, data, None)
    }

    /// [`BudgetedHnsw::begin_batch`] for a batch already checked in steps.
    pub fn begin_checked_batch(
        &mut self,
        ids: Vec<u64>,
        data: Vec<f32>,
        check: BatchCheck,
    ) -> Result<BudgetedBatch, HnswError> {
        self.open_batch(ids, data, Some(check))
    }

    /// Appends the exact rows of vectors `data` (validated: see
    /// [`BudgetedHnsw::validate_batch_step`]) to `out`, prepared and in the rows' precision:
    /// what a batch writes to the store, for callers that encode in slices before
    /// [`BudgetedHnsw::begin_encoded_batch`].
    pub fn encode_rows(&self, data: &[f32], out: &mut Vec<u8>) -> Result<(), HnswError> {
        let dims = self.index.dims();
        let mut prep = Vec::with_capacity(dims);
        for v in data.chunks_exact(dims.max(1)) {
            self.index.space.prepare(v, &mut prep)?;
            self.precision.encode(&prep, out);
        }
        Ok(())
    }

    /// [`BudgetedHnsw::begin_checked_batch`] with the batch's rows already encoded by
    /// [`BudgetedHnsw::encode_rows`] (all of them, in order).
    pub fn begin_encoded_batch(
        &mut self,
        ids: Vec<u64>,
        data: Vec<f32>,
        check: BatchCheck,
        rows: &[u8],
    ) -> Result<BudgetedBatch, HnswError> {
        if rows.len() != ids.len() * self.row_bytes() {
            return Err(HnswError::RowStore(format!(
                "{} bytes of rows for {} vectors of {} bytes",
                rows.len(),
                ids.len(),
                self.row_bytes()
            )));
        }
        self.open_encoded(ids, data, Some(check), rows)
    }

    fn open_batch(
        &mut self,
        ids: Vec<u64>,
        data: Vec<f32>,
        check: Option<BatchCheck>,
    ) -> Result<BudgetedBatch, HnswError> {
        let mut rows = Vec::with_capacity(ids.len() * self.row_bytes());
        self.encode_rows(&data, &mut rows)?;
        self.open_encoded(ids, data, check, &rows)
    }

    fn open_encoded(
        &mut self,
        ids: Vec<u64>,
        data: Vec<f32>,
        check: Option<BatchCheck>,
        rows: &[u8],
    ) -> Result<BudgetedBatch, HnswError> {
        let first = self.index.len_slots() as u32;
        self.rows.append(first, rows).map_err(HnswError::RowStore)?;
        let opened = match check {
            Some(c) => self.index.begin_checked_batch(ids, data, c),
            None => self.index.begin_batch(ids, data),
        };
        match opened {
            Ok(batch) => Ok(BudgetedBatch {
                batch,
                first,
                replayed: false,
            }),
            Err(e) => {
                let _ = self.rows.truncate(first);
                Err(e)
            }
        }
    }

    /// Links vectors of an open batch until `stop()` or the end; returns how many are in.
    pub fn step_batch(
        &mut self,
        b: &mut BudgetedBatch,
        stop: impl FnMut() -> bool,
    ) -> Result<usize, HnswError> {
        self.index.step_batch(&mut b.batch, stop)
    }

    /// Closes a batch whose vectors are all in, if the index fits the budget (its arrays at
    /// their exact size if need be); otherwise rolls it back and returns
    /// [`HnswError::BudgetTooSmall`] with the budget the batch needs.
    pub fn commit_batch(&mut self, b: BudgetedBatch) -> Result<(), HnswError> {
        if !b.batch.is_complete() {
            return self.index.commit_batch(b.batch);
        }
        if let Err(e) = self.check_fits() {
            self.rollback_batch(b)?;
            return Err(e);
        }
        self.index.commit_batch(b.batch)?;
        self.fit_hot();
        Ok(())
    }

    /// Whether the index as it is (an open batch's vectors in) fits the budget, its arrays cut
    /// to their exact size if need be: `BudgetTooSmall` with the bytes it needs otherwise. A
    /// batch that passes this commits (a caller that must log the batch first asks here).
    pub fn check_fits(&mut self) -> Result<(), HnswError> {
        let mut need = self.index.memory_bytes() as u64;
        if need > self.budget {
            // Capacity beyond the contents (growth slack) is released before giving up, so the
            // minimum named is the contents' size, which the same batch needs again.
            self.index.shrink_to_fit();
            need = self.index.memory_bytes() as u64;
        }
        if need > self.budget {
            return Err(HnswError::BudgetTooSmall {
                budget: self.budget,
                minimum: need,
            });
        }
        Ok(())
    }

    /// Undoes an open batch: the index as before, the batch's rows forgotten.
    pub fn rollback_batch(&mut self, b: BudgetedBatch) -> Result<(), HnswError> {
        self.index.rollback_batch(b.batch)?;
        self.index.shrink_to_fit();
        if !b.replayed {
            let _ = self.rows.truncate(b.first);
        }
        Ok(())
    }

    /// Deletes a live id (its row stays in the store, unused; its hot row goes).
    pub fn delete(&mut self, id: u64) -> Result<(), HnswError> {
        let slot = self.index.node_id(id).ok_or(HnswError::UnknownId(id))?;
        self.index.delete(id)?;
        self.hot.delete(&slot.0);
        Ok(())
    }

    /// The `k` nearest live vectors that pass `filter`: the graph walk over the codes with
    /// breadth `ef` (raised to the re-rank depth), then the best `max(rerank, k)` re-ranked
    /// over their exact rows.
    pub fn search(
        &mut self,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Filter<'_>,
    ) -> Result<Vec<Hit>, HnswError> {
        let plan = self.plan(query, k, ef, filter)?;
        let mut fetched = Vec::with_capacity(plan.missing.len() * self.row_bytes());
        self.rows
            .read(&plan.missing, &mut fetched)
            .map_err(HnswError::RowStore)?;
        self.finish(plan, &fetched)
    }

    /// Bytes of one exact row.
    pub fn row_bytes(&self) -> usize {
        self.precision.row_bytes(self.index.dims())
    }

    /// Precision of the exact rows.
    pub fn precision(&self) -> RowPrecision {
        self.precision
    }

    /// The first half of a search: the walk, and the exact distances of the hot candidates.
    /// The caller reads [`Plan::missing`] and hands the rows to [`BudgetedHnsw::finish`].
    pub fn plan(
        &mut self,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Filter<'_>,
    ) -> Result<Plan, HnswError> {
        if k == 0 {
            return Err(HnswError::ZeroK);
        }
        if k > self.index.len() {
            return Err(HnswError::KTooLarge {
                k,
                len: self.index.len(),
            });
        }
        if ef < k {
            return Err(HnswError::EfTooSmall { ef, k });
        }
        let n = self.rerank.max(k).min(self.index.len());
        // The walk leaves the query in the metric's f32 form in the scratch: the re-rank's query.
        let mut s = self.index.take_scratch();
        let mut cands = Vec::with_capacity(n);
        let walked = self
            .index
            .search_into(query, n, ef.max(n), filter, &mut s, &mut cands);
        let prep = std::mem::take(&mut s.prep);
        self.index.put_scratch(s);
        walked?;
        let (mut scored, mut cold) = (Vec::new(), Vec::new());
        for h in cands {
            let Some(NodeId(slot)) = self.index.node_id(h.id) else {
                continue;
            };
            match self.hot.get(&slot) {
                elex_cache::Lookup::Hit(row) => {
                    self.precision.decode(row, &mut self.scratch);
                    let d = self.index.space.dist_f32(&prep, &self.scratch);
                    scored.push((d, slot, h.id));
                }
                _ => cold.push((slot, h.id)),
            }
        }
        cold.sort_unstable();
        let missing = cold.iter().map(|c| c.0).collect();
        Ok(Plan {
            k,
            prep,
            scored,
            cold,
            missing,
        })
    }

    /// The second half: `fetched` holds the rows of [`Plan::missing`], back to back. They are
    /// scored, offered to the hot set, and the best `k` returned (nearest first, ties by
    /// insertion order).
    pub fn finish(&mut self, plan: Plan, fetched: &[u8]) -> Result<Vec<Hit>, HnswError> {
        let rb = self.row_bytes();
        if fetched.len() != plan.cold.len() * rb {
            return Err(HnswError::RowStore(format!(
                "expected {} rows of {rb} bytes, got {} bytes",
                plan.cold.len(),
                fetched.len()
            )));
        }
        let Plan {
            k,
            prep,
            mut scored,
            cold,
            ..
        } = plan;
        self.stats.hot_hits += scored.len() as u64;
        for (&(slot, id), row) in cold.iter().zip(fetched.chunks_exact(rb.max(1))) {
            self.precision.decode(row, &mut self.scratch);
            let d = self.index.space.dist_f32(&prep, &self.scratch);
            scored.push((d, slot, id));
            // A row the policy turns away (or one larger than the hot budget) is not kept.
            let _ = self.hot.put(slot, row.into());
        }
        self.stats.rows_read += cold.len() as u64;
        self.stats.bytes_read += fetched.len() as u64;
        self.stats.queries += 1;
        // A candidate deleted (or rolled back) since the plan is not an answer.
        scored.retain(|&(_, slot, id)| self.index.node_id(id) == Some(NodeId(slot)));
        scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        Ok(scored
            .into_iter()
            .take(k)
            .map(|(distance, _, id)| Hit { id, distance })
            .collect())
    }
}

/// One logged change of a budgeted index, for a store that saves the codes and links now and
/// then and logs the changes in between (the browser's `BudgetedIndex`). A batch's rows are in
/// the row store before its record is written, so the record holds slots and ids only.
/// Replaying is idempotent: a record the saved index already reflects is skipped, so a crash
/// between saving and trimming the log loses nothing and doubles nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BudgetedOp {
    /// `ids` went in at slots `first..first + ids.len()`.
    Batch {
        /// The first slot.
        first: u32,
        /// The ids, in slot order.
        ids: Vec<u64>,
    },
    /// `id`, at `slot`, was deleted.
    Delete {
        /// The caller's id.
        id: u64,
        /// Its slot when deleted.
        slot: u32,
    },
}

/// What replaying a [`BudgetedOp`] needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replay {
    /// The index already reflects it.
    Skip,
    /// The rows of slots `first..first + n`, read from the row store, for
    /// [`BudgetedHnsw::replay_batch`].
    Rows {
        /// The first slot.
        first: u32,
        /// How many.
        n: u32,
    },
    /// A delete to apply with [`BudgetedHnsw::delete`].
    Delete(u64),
}

impl BudgetedOp {
    /// Appends the record's bytes: a tag (1 batch, 2 delete), then little-endian fields.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            BudgetedOp::Batch { first, ids } => {
                out.push(1);
                out.extend_from_slice(&first.to_le_bytes());
                out.extend_from_slice(&(ids.len() as u32).to_le_bytes());
                ids.iter()
                    .for_each(|id| out.extend_from_slice(&id.to_le_bytes()));
            }
            BudgetedOp::Delete { id, slot } => {
                out.push(2);
                out.extend_from_slice(&id.to_le_bytes());
                out.extend_from_slice(&slot.to_le_bytes());
            }
        }
    }

    /// Decodes one record; anything but exactly one well-formed record is `Corrupt`.
    pub fn decode(b: &[u8]) -> Result<BudgetedOp, HnswError> {
        let bad = || HnswError::Corrupt(format!("a budgeted log record of {} bytes", b.len()));
        let u32_at = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
        };
        let u64_at = |at: usize| -> Option<u64> {
            Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
        };
        match b.first() {
            Some(1) => {
                let first = u32_at(1).ok_or_else(bad)?;
                let n = u32_at(5).ok_or_else(bad)? as usize;
                if b.len() != 9 + n * 8 {
                    return Err(bad());
                }
                let ids = (0..n).map(|i| u64_at(9 + i * 8).unwrap_or(0)).collect();
                Ok(BudgetedOp::Batch { first, ids })
            }
            Some(2) if b.len() == 13 => Ok(BudgetedOp::Delete {
                id: u64_at(1).ok_or_else(bad)?,
                slot: u32_at(9).ok_or_else(bad)?,
            }),
            _ => Err(bad()),
        }
    }
}

impl<S: RowStore> BudgetedHnsw<S> {
    /// The slot of a live id.
    pub fn slot_of(&self, id: u64) -> Option<u32> {
        self.index.node_id(id).map(|n| n.0)
    }

    /// What replaying `op` on this index needs: nothing (already reflected), the batch's rows,
    /// or a delete. A batch that starts past the next slot means a record is missing: `Corrupt`.
    pub fn replay(&self, op: &BudgetedOp) -> Result<Replay, HnswError> {
        let slots = self.index.len_slots() as u64;
        match op {
            BudgetedOp::Batch { first, ids } => {
                let end = u64::from(*first) + ids.len() as u64;
                if end <= slots {
                    Ok(Replay::Skip)
                } else if u64::from(*first) == slots {
                    Ok(Replay::Rows {
                        first: *first,
                        n: ids.len() as u32,
                    })
                } else {
                    Err(HnswError::Corrupt(format!(
                        "the log's batch at slot {first} does not follow the index's {slots} slots"
                    )))
                }
            }
            BudgetedOp::Delete { id, slot } => Ok(if self.slot_of(*id) == Some(*slot) {
                Replay::Delete(*id)
            } else {
                Replay::Skip
            }),
        }
    }

    /// Re-inserts a logged batch from its rows (in the store, read back by the caller): the
    /// same ids at the same slots, all or nothing (`BudgetTooSmall` as for any batch). The
    /// store is not written: the rows are there already, and stay on an error.
    pub fn replay_batch(&mut self, first: u32, ids: &[u64], rows: &[u8]) -> Result<(), HnswError> {
        let mut b = self.begin_replay(first, ids, rows)?;
        if let Err(e) = self.step_batch(&mut b, || false) {
            let _ = self.rollback_batch(b);
            return Err(e);
        }
        self.commit_batch(b)
    }

    /// [`BudgetedHnsw::replay_batch`] opened as a batch, to link in steps
    /// ([`BudgetedHnsw::step_batch`], then [`BudgetedHnsw::commit_batch`]).
    pub fn begin_replay(
        &mut self,
        first: u32,
        ids: &[u64],
        rows: &[u8],
    ) -> Result<BudgetedBatch, HnswError> {
        let rb = self.row_bytes();
        if self.index.len_slots() != first as usize || rows.len() != ids.len() * rb {
            return Err(HnswError::Corrupt(format!(
                "a logged batch of {} rows at slot {first} for an index of {} slots ({} bytes of rows)",
                ids.len(),
                self.index.len_slots(),
                rows.len()
            )));
        }
        let mut data = Vec::with_capacity(ids.len() * self.index.dims());
        let mut row = Vec::new();
        for r in rows.chunks_exact(rb.max(1)) {
            self.precision.decode(r, &mut row);
            data.extend_from_slice(&row);
        }
        // The rows are the vectors in the metric's form: taken as is, so an f32 row gives the
        // same codes as the vector first inserted.
        let batch = self.index.begin_prepared_batch(ids.to_vec(), data)?;
        Ok(BudgetedBatch {
            batch,
            first,
            replayed: true,
        })
    }
}
