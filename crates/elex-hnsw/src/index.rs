//! The index: the components it composes, and what it does with them as a whole (creation,
//! copies, sizes, room, rollback). Insertion, linking and repair live in `build`; searches and
//! the filter cost model in `query`; snapshots in `snapshot` and `stream`.
//!
//! Components, each owning its arrays, reserve, memory accounting, snapshot sections and
//! invariants: the [`Graph`] (levels, links per level, entry point), the [`IdMap`] (caller ids
//! both ways), the [`Tombstones`] and the [`VectorStore`] (encodings and f32 copies). Internal
//! ids are [`NodeId`]s; every component holds one entry per node, so `slots` agree across them.

use crate::batch::Undo;
use crate::calibrate::Calibration;
use crate::graph::Graph;
use crate::ids::IdMap;
use crate::search::Scratch;
use crate::store::{Space, VectorStore};
use crate::tombstones::Tombstones;
use crate::{HnswError, HnswParams, NodeId, Storage};
use elex_simd::Kernels;
use elex_simd::SplitMix64;
use std::sync::{Mutex, PoisonError};

/// Largest accepted parameters (also the snapshot reader's sanity limits).
pub(crate) const MAX_DIMS: usize = 1 << 16;
pub(crate) const MAX_M: usize = 1 << 10;
/// Most nodes an index holds (internal ids are u32, `u32::MAX` meaning none).
pub(crate) const MAX_SLOTS: usize = u32::MAX as usize - 1;

/// An HNSW index over caller ids (`u64`).
pub struct Hnsw {
    pub(crate) p: HnswParams,
    pub(crate) space: Space,
    /// A node climbs one more level while a draw is below this (`P = exp(−1/m_L)`).
    pub(crate) level_threshold: u64,
    pub(crate) rng: SplitMix64,
    pub(crate) graph: Graph,
    pub(crate) ids: IdMap,
    pub(crate) tombs: Tombstones,
    pub(crate) store: VectorStore,
    pool: Mutex<Vec<Scratch>>,
    /// The undo log of the open batch, if any (see the `batch` module).
    pub(crate) undo: Option<Undo>,
    /// The serial of the last batch opened here (serials are unique in the process).
    pub(crate) batch_serial: u64,
    /// Recall by `ef`, for searches by target recall (see the `calibrate` module).
    pub(crate) calibration: Mutex<Option<Calibration>>,
}

impl std::fmt::Debug for Hnsw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hnsw")
            .field("params", &self.p)
            .field("len", &self.len())
            .field("deleted", &self.tombs.count())
            .field("max_level", &self.graph.max_level())
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
        return bad(format!(
            "ml must be positive and finite, got {}",
            elex_simd::Short(p.ml)
        ));
    }
    Ok(())
}

/// Fewest dimensions at which an f32 index walks on i8 codes by default. Natively a 384-d f32
/// row is 24 cache lines and its codes 6: walking on them searched docs-50k at 1.7x the QPS at
/// the same recall per ef (within 0.0003); a 50-d row is 4 lines, and on GloVe-50 the walk on
/// codes (and the re-rank it needs) was 0.8x. In wasm (4-lane float kernels without fused
/// multiply-add, no prefetch) the walk on codes won at both: 1.5x on docs-50k, 1.14-1.24x on
/// GloVe-50 (same recall per ef); below 32 dimensions it was not measured.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) const WALK_ON_I8_MIN_DIMS: usize = 128;
/// See the native value.
#[cfg(target_arch = "wasm32")]
pub(crate) const WALK_ON_I8_MIN_DIMS: usize = 32;

/// Fewest dimensions at which an index with walking codes also links new nodes by walking on
/// them (the `ef_construction` candidates re-ranked on the f32 vectors, the heuristic on those):
/// the same on every target, so a snapshot's bytes stay the same everywhere. On docs-50k it
/// built in 0.76x the time (9.5 s against 12.4), recall per ef within 0.001. Picking the links
/// on the codes too built in 0.64x, but lost up to 0.0045 of recall per ef: not kept.
pub(crate) const BUILD_ON_I8_MIN_DIMS: usize = 128;

/// The components of an index, as a snapshot restores them.
pub(crate) struct Parts {
    pub graph: Graph,
    pub ids: IdMap,
    pub tombs: Tombstones,
    pub store: VectorStore,
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
        let parts = Parts {
            graph: Graph::new(params.m, params.m0),
            ids: IdMap::default(),
            tombs: Tombstones::default(),
            store: VectorStore::new(params.dims, params.storage, params.keep_f32),
        };
        let rng = SplitMix64(params.seed);
        let threshold = level_threshold(params.m, params.ml);
        Ok(Hnsw::from_parts(params, kernels, rng, threshold, parts))
    }

    /// An index of the given components (a new one, a copy, or one read from a snapshot).
    pub(crate) fn from_parts(
        p: HnswParams,
        k: Kernels,
        rng: SplitMix64,
        level_threshold: u64,
        mut parts: Parts,
    ) -> Hnsw {
        // An f32 index of 128 or more dimensions (32 in wasm) walks its graph on i8 codes of
        // its vectors (derived, so built here for a snapshot's vectors too).
        let slots = parts.ids.slots();
        parts
            .store
            .set_navigation(&k, p.dims >= WALK_ON_I8_MIN_DIMS, slots);
        Hnsw {
            space: Space {
                k,
                metric: p.metric,
                dims: p.dims,
            },
            level_threshold,
            rng,
            graph: parts.graph,
            ids: parts.ids,
            tombs: parts.tombs,
            store: parts.store,
            pool: Mutex::new(Vec::new()),
            undo: None,
            batch_serial: 0,
            calibration: Mutex::new(None),
            p,
        }
    }

    /// An independent copy of the index (a checkpoint serializes the copy while the original
    /// keeps taking writes). `Busy` while a batch is open: a half-inserted batch is no state
    /// to copy.
    pub fn try_clone(&self) -> Result<Hnsw, HnswError> {
        self.check_idle("copy the index")?;
        let parts = Parts {
            graph: self.graph.clone(),
            ids: self.ids.clone(),
            tombs: self.tombs.clone(),
            store: self.store.clone(),
        };
        let mut copy = Hnsw::from_parts(
            self.p.clone(),
            self.space.k,
            SplitMix64(self.rng.0),
            self.level_threshold,
            parts,
        );
        copy.batch_serial = self.batch_serial;
        copy.set_calibration(self.calibration());
        Ok(copy)
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
        self.ids.slots() - self.tombs.count()
    }

    /// Whether no live vector is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether searches walk the graph on codes of the vectors and re-rank their `ef`
    /// candidates on the vectors themselves: the default of an f32 index of 128 or more
    /// dimensions, 32 or more in wasm. The codes are i8 (a quarter of the vectors' bytes more);
    /// in the relaxed-SIMD wasm build searches walk on 4-bit codes kept besides (3/8 more in
    /// all), inserts still on the i8 ones.
    /// Distances returned are the f32 ones. Other storage kinds walk on what they store, but
    /// for i8 storage with f32 copies in the relaxed-SIMD wasm build: its searches walk on
    /// 4-bit codes of the copies (an eighth of their bytes more), its inserts on the i8 vectors.
    pub fn walks_on_i8(&self) -> bool {
        self.store.navigates()
    }

    /// Turns [`Hnsw::walks_on_i8`] on or off for this index (an f32 index, any number of
    /// dimensions; and the 4-bit walk of an i8 index with f32 copies where there is one; not
    /// kept in a snapshot: a loaded index takes the default). Off, searches walk on the stored
    /// vectors, as the build does.
    pub fn set_walk_on_i8(&mut self, on: bool) {
        let slots = self.ids.slots();
        self.store.set_navigation(&self.space.k, on, slots);
    }

    /// Internal slots, tombstones included (what [`Hnsw::compact`] reclaims).
    pub fn len_slots(&self) -> usize {
        self.ids.slots()
    }

    /// Tombstones awaiting compaction.
    pub fn deleted_count(&self) -> usize {
        self.tombs.count()
    }

    /// Whether `id` is a live vector.
    pub fn contains(&self, id: u64) -> bool {
        self.ids.contains(id)
    }

    /// The internal id of a live caller id.
    pub fn node_id(&self, id: u64) -> Option<NodeId> {
        self.ids.node(id)
    }

    /// Every node, tombstones included.
    pub(crate) fn nodes(&self) -> impl Iterator<Item = NodeId> + use<> {
        (0..self.ids.slots() as u32).map(NodeId)
    }

    /// The live nodes, in insertion order.
    pub(crate) fn live_nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.nodes().filter(|&n| !self.tombs.is_deleted(n))
    }

    /// Caller ids of the live vectors, in insertion order.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.live_nodes().map(|n| self.ids.id(n))
    }

    /// Heap bytes held by the index (vectors, graph, id map, tombstones), by capacity.
    pub fn memory_bytes(&self) -> usize {
        self.store.heap_bytes()
            + self.graph.heap_bytes()
            + self.ids.heap_bytes()
            + self.tombs.heap_bytes()
    }

    /// [`Hnsw::memory_bytes`] per live vector.
    pub fn bytes_per_vector(&self) -> f64 {
        self.memory_bytes() as f64 / self.len().max(1) as f64
    }

    /// A fresh search scratch for [`Hnsw::search_into`].
    pub fn scratch(&self) -> Scratch {
        Scratch::new(self.p.storage)
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

    /// Sets `n`'s links at `level`, first saving the old block in the open batch's undo log.
    pub(crate) fn set_links(&mut self, n: NodeId, level: u8, links: &[NodeId]) {
        if let Some(u) = &mut self.undo {
            u.note(n, level, self.graph.block(n, level));
        }
        self.graph.set_links(n, level, links);
    }

    /// Appends a node: its id, level, encoding and (when kept) f32 copy, with no links yet.
    pub(crate) fn push_node(
        &mut self,
        id: u64,
        level: u8,
        e: &crate::store::Encoded,
        prep: &[f32],
    ) -> NodeId {
        let node = self.ids.push(id);
        self.graph.push(level);
        self.tombs.push(node);
        self.store.push(&self.space.k, e, prep);
        node
    }

    /// Room for `n` more nodes in every component, without growth slack (upper levels
    /// excepted: their size is only known per node); an allocation that fails is an error,
    /// not an abort.
    pub(crate) fn reserve_exact(&mut self, n: usize) -> Result<(), HnswError> {
        let d = self.p.dims;
        let oom =
            |_| HnswError::OutOfMemory(format!("no room for {n} more vectors of {d} dimensions"));
        self.graph.reserve_exact(n).map_err(oom)?;
        self.ids.reserve_exact(n).map_err(oom)?;
        self.tombs.reserve_exact(n).map_err(oom)?;
        self.store.reserve_exact(n).map_err(oom)
    }

    /// Drops every node from `slots` on (the rollback of a batch that appended them; their
    /// upper blocks start at `upper_len`).
    pub(crate) fn truncate_nodes(&mut self, slots: usize, upper_len: usize) {
        self.ids.truncate(slots);
        self.graph.truncate(slots, upper_len);
        self.tombs.truncate(slots);
        self.store.truncate(slots);
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.graph.shrink_to_fit();
        self.ids.shrink_to_fit();
        self.tombs.shrink_to_fit();
        self.store.shrink_to_fit();
    }
}
