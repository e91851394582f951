//! An HNSW vector index (Malkov & Yashunin, "Efficient and robust approximate nearest neighbor
//! search using Hierarchical Navigable Small World graphs", TPAMI 2018).
//!
//! Strategy: level 0 of the graph is one flat `Vec<u32>` with a fixed stride (a count and `m0`
//! links per node), upper levels live in a second flat buffer, and the vectors in one contiguous
//! buffer of the storage kind (f32, f16 or i8). Distances come from `elex-simd`, whose float
//! reductions are bit-identical on every ISA; with the portable SplitMix64 level generator that
//! makes a seeded build byte-identical on x86_64, aarch64 and wasm32.
//!
//! Invariants: internal ids ([`NodeId`]) are dense and never reused until [`Hnsw::compact`];
//! deleted nodes stay in the graph as tombstones (traversed, never returned) after their
//! neighbours' links are repaired; every link points below `len_slots()`.
//!
//! Bad input is an [`HnswError`], never a panic; a failed call leaves the index as it was.
//!
//! ```
//! use elex_hnsw::{Filter, Hnsw, HnswParams, Metric, Storage};
//!
//! let mut params = HnswParams::new(3, Metric::Cosine);
//! params.storage = Storage::F16; // half the memory of f32
//! params.seed = 7; // same seed and inputs: same index, byte for byte, on every platform
//! let mut index = Hnsw::new(params)?;
//! index.insert(10, &[1.0, 0.0, 0.0])?;
//! index.insert(11, &[0.9, 0.1, 0.0])?;
//! index.insert(12, &[0.0, 1.0, 0.0])?;
//!
//! let hits = index.search(&[1.0, 0.05, 0.0], 2)?;
//! assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![10, 11]);
//!
//! // Only ids 11 and 12 may be returned.
//! let hits = index.search_filtered(&[1.0, 0.0, 0.0], 1, 16, Filter::Allow(&[11, 12]))?;
//! assert_eq!(hits[0].id, 11);
//!
//! index.delete(11)?;
//! let restored = Hnsw::from_bytes(&index.to_bytes())?;
//! assert_eq!(restored.len(), 2);
//! assert!(index.insert(12, &[0.0; 3]).is_err()); // duplicate id (and a zero vector)
//! # Ok::<(), elex_hnsw::HnswError>(())
//! ```
//!
//! Filtered search takes an allow-list of ids or a predicate and picks brute force over the
//! allowed set or a filtered graph search by a cost model ([`FilterPlan`]); with i8 or f16
//! storage, `keep_f32` keeps exact copies and re-ranks the `ef` candidates.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod batch;
mod build;
mod bundle;
mod calibrate;
mod error;
mod graph;
mod ids;
mod index;
mod oplog;
// Threads: native builds only (wasm32-unknown-unknown has none).
#[cfg(not(target_family = "wasm"))]
mod parallel;
mod query;
mod search;
mod section;
mod snapshot;
mod store;
mod stream;
mod tiered;
mod tombstones;

pub use batch::{BatchCheck, Compaction, PendingBatch};
pub use bundle::{BUNDLE_HEADER_LEN, BUNDLE_MAGIC, BUNDLE_VERSION, BundleHeader, BundleReader};
pub use calibrate::{Calibration, CalibrationRun, DEFAULT_SAMPLES, EF_LADDER, REFRESH_FACTOR};
pub use error::HnswError;
pub use index::Hnsw;
pub use oplog::{Op, OpLog, decode_ops};
pub use search::Scratch;
pub use stream::{SnapshotReader, SnapshotWriter};
#[cfg(not(target_arch = "wasm32"))]
pub use tiered::FileRows;
pub use tiered::{
    BudgetedBatch, BudgetedHnsw, BudgetedOp, DEFAULT_RERANK, HOT_ENTRY_OVERHEAD, MemoryRows, Plan,
    Replay, RowPrecision, RowStore, TierStats,
};

pub use elex_simd::{Checksum, checksum64};
pub use snapshot::{FORMAT_VERSION, HEADER_LEN, MAGIC};

/// Distance metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Cosine: vectors are normalized at insert; distance `1 − cos`.
    Cosine,
    /// Inner product; distance `−a·b` (larger products are closer). On vectors of unequal
    /// norms this is maximum-inner-product search, which needs a larger `ef` than cosine or L2
    /// for the same recall (on clustered test data: 0.86 at ef 64, 0.96 at 256). For unit
    /// vectors prefer [`Metric::Cosine`], which is the same ranking.
    Dot,
    /// Euclidean; distance is the squared L2 distance.
    L2,
}

/// How vectors are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Storage {
    /// 4 bytes per component, exact.
    F32,
    /// 2 bytes per component (IEEE half); queries are rounded to f16 too.
    F16,
    /// 1 byte per component plus 8 bytes per vector (scale and squared norm), symmetric
    /// per-vector quantization (see `elex_simd::Kernels::quantize_i8`).
    I8,
    /// Half a byte per component (16 bytes per started block of 32) plus 8 bytes per vector:
    /// 4-bit codes over sixteen non-uniform levels with one scale per vector (see
    /// `elex_simd::Kernels::quantize_q4`); queries are scored as i8 against them. Coarse on
    /// its own: pair it with `keep_f32` (or a budgeted exact tier) to re-rank.
    Q4,
}

impl Metric {
    pub(crate) fn code(self) -> u8 {
        match self {
            Metric::Cosine => 0,
            Metric::Dot => 1,
            Metric::L2 => 2,
        }
    }
    pub(crate) fn from_code(c: u8) -> Option<Metric> {
        [Metric::Cosine, Metric::Dot, Metric::L2]
            .into_iter()
            .find(|m| m.code() == c)
    }
}

impl Storage {
    pub(crate) fn code(self) -> u8 {
        match self {
            Storage::F32 => 0,
            Storage::F16 => 1,
            Storage::I8 => 2,
            Storage::Q4 => 3,
        }
    }
    pub(crate) fn from_code(c: u8) -> Option<Storage> {
        [Storage::F32, Storage::F16, Storage::I8, Storage::Q4]
            .into_iter()
            .find(|s| s.code() == c)
    }
}

/// An internal node id: dense, assigned in insertion order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

impl NodeId {
    /// No node.
    pub const INVALID: NodeId = NodeId(u32::MAX);

    /// As an index into per-node arrays.
    #[inline]
    pub(crate) fn idx(self) -> usize {
        self.0 as usize
    }

    /// A link as stored in the graph's blocks.
    #[inline]
    pub(crate) fn from_link(l: &u32) -> NodeId {
        NodeId(*l)
    }
}

/// Index parameters, named as in the paper.
#[derive(Clone, Debug, PartialEq)]
pub struct HnswParams {
    /// Vector dimension.
    pub dims: usize,
    /// Distance metric.
    pub metric: Metric,
    /// Storage kind.
    pub storage: Storage,
    /// `M`: neighbours selected per node and layer, and the link cap on layers above 0.
    pub m: usize,
    /// `M_max0`: the link cap on layer 0 (the paper recommends `2·M`).
    pub m0: usize,
    /// `efConstruction`: candidate list size while inserting.
    pub ef_construction: usize,
    /// `ef`: candidate list size while searching (raised to `k` when smaller).
    pub ef_search: usize,
    /// `m_L`: level normalization; the paper's choice is `1 / ln(M)`.
    pub ml: f64,
    /// Seed of the level generator: same seed and inputs, same index, on every platform.
    pub seed: u64,
    /// With f16 or i8 storage, also keep each vector in f32 and re-rank the `ef` candidates of a
    /// search exactly (costs 4 bytes per component more).
    pub keep_f32: bool,
}

impl Default for HnswParams {
    /// The paper's defaults: `M = 16`, `M_max0 = 2M`, `m_L = 1/ln M`, `efConstruction = 200`;
    /// cosine over f32; `dims` must still be set.
    fn default() -> Self {
        HnswParams {
            dims: 0,
            metric: Metric::Cosine,
            storage: Storage::F32,
            m: 16,
            m0: 32,
            ef_construction: 200,
            ef_search: 64,
            ml: 1.0 / 16f64.ln(),
            seed: 0x5eed_e1e7,
            keep_f32: false,
        }
    }
}

impl HnswParams {
    /// Defaults for `dims` dimensions under `metric`.
    pub fn new(dims: usize, metric: Metric) -> Self {
        HnswParams {
            dims,
            metric,
            ..Default::default()
        }
    }

    /// Sets `M`, `M_max0 = 2M` and `m_L = 1/ln M` together.
    pub fn with_m(mut self, m: usize) -> Self {
        self.m = m;
        self.m0 = 2 * m;
        self.ml = 1.0 / (m.max(2) as f64).ln();
        self
    }
}

/// One search result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    /// The caller's id.
    pub id: u64,
    /// Distance under the index's metric (smaller is closer): `1 − cos`, `−a·b`, or squared L2.
    pub distance: f32,
}

/// How a filtered search runs (see the `index` module docs for the cost model).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FilterPlan {
    /// Brute force when the allowed set is smaller than what a filtered graph search would
    /// visit, the graph otherwise.
    #[default]
    Auto,
    /// Always the graph: traverse every node, keep only allowed ones (ef widens by itself).
    Graph,
    /// Always exact distances over the allowed set.
    BruteForce,
}

/// Restricts a search to some ids.
#[derive(Clone, Copy, Default)]
pub enum Filter<'a> {
    /// Every live vector.
    #[default]
    None,
    /// Only these caller ids (unknown ids are ignored).
    Allow(&'a [u64]),
    /// Only ids for which the predicate holds.
    Predicate(&'a dyn Fn(u64) -> bool),
}

impl std::fmt::Debug for Filter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Filter::None => write!(f, "Filter::None"),
            Filter::Allow(ids) => write!(f, "Filter::Allow({} ids)", ids.len()),
            Filter::Predicate(_) => write!(f, "Filter::Predicate"),
        }
    }
}
