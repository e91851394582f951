//! `HnswIndex`: the vector index for JS. Options and every other argument are checked by `args`
//! where they enter; vectors are copied once into wasm memory, where the index keeps them;
//! results come back as typed arrays. Ids are JS numbers (non-negative safe integers).
//!
//! `addBatch` and `compact` run in time slices through the index's queue (see `task`): a batch
//! is validated whole by the core, inserted slice by slice, and committed, or rolled back
//! exactly when `onProgress` throws. Synchronous mutators (`add`, `delete`) refuse with `BUSY`
//! while such an operation is queued or running.

use std::cell::{Ref, RefCell, RefMut};
use std::rc::Rc;

use elex_hnsw::{Filter, Hnsw, HnswParams, Metric, Storage};
use serde::Deserialize;
use tsify_next::Tsify;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::args;
use crate::error::{hnsw_error, js_error, type_error};
use crate::idb;
use crate::persist::Durable;
#[cfg(feature = "full")]
use crate::persist::{self, OpenOptions};
use crate::task::{DEFAULT_SLICE_MS, Queue, Slicer, step_in_slices};

/// Options of `new HnswIndex(options)`. The TypeScript interface is generated from this struct
/// (tsify, through its serde attributes), so the typings cannot drift from what the constructor
/// reads (`read`, by hand: serde-wasm-bindgen and the float formatting of its errors cost the
/// package about 8 KB); a test checks that the defaults its comments state are those of the core.
#[derive(Deserialize, Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HnswIndexOptions {
    /// Components per vector.
    dims: usize,
    /// Distance: `cosine` (default), `dot` or `l2` (squared Euclidean).
    #[tsify(optional, type = "\"cosine\" | \"dot\" | \"l2\"")]
    metric: Option<String>,
    /// Storage per component: `f32` (default; from 32 dims it also keeps i8 codes of its
    /// vectors, a quarter more memory, that searches walk the graph on before re-ranking on the
    /// f32 vectors; the relaxed-SIMD build keeps 4-bit codes too, 3/8 more in all, and its
    /// searches walk on those), `f16`,
    /// `i8` or `q4` (4-bit codes: about 1/7 of f32 at 384 dims; pair it with `keepF32` to
    /// re-rank).
    #[tsify(optional, type = "\"f32\" | \"f16\" | \"i8\" | \"q4\"")]
    storage: Option<String>,
    /// Links per node (M in HNSW, default 16).
    #[tsify(optional)]
    m: Option<usize>,
    /// Build breadth (default 200).
    #[tsify(optional)]
    ef_construction: Option<usize>,
    /// Search breadth (default 64; raised to k when smaller).
    #[tsify(optional)]
    ef_search: Option<usize>,
    /// Seed of the level draws: the same seed and input give the same index (default 1592648167).
    #[tsify(optional)]
    seed: Option<f64>,
    /// Keep exact f32 copies for re-ranking i8 / f16 / q4 results.
    #[tsify(optional)]
    keep_f32: Option<bool>,
}

impl HnswIndexOptions {
    /// The fields of a JS options object (keys checked by the caller).
    fn read(options: &JsValue) -> Result<HnswIndexOptions, JsValue> {
        let f = args::Fields {
            obj: options,
            what: "index options",
        };
        Ok(HnswIndexOptions {
            dims: f.count("dims")?.ok_or_else(|| {
                type_error("INVALID_OPTIONS", "index options: `dims` is required")
            })?,
            metric: f.string("metric")?,
            storage: f.string("storage")?,
            m: f.count("m")?,
            ef_construction: f.count("efConstruction")?,
            ef_search: f.count("efSearch")?,
            seed: f.number("seed")?,
            keep_f32: f.boolean("keepF32")?,
        })
    }
}

/// A distance as a score (higher is better).
fn score_of(d: f32, metric: Metric) -> f32 {
    match metric {
        Metric::Cosine => 1.0 - d,
        Metric::Dot | Metric::L2 => -d,
    }
}

#[wasm_bindgen(module = "/js/result.js")]
extern "C" {
    /// A plain `{ ids, scores, distances, length }` object with copies of the three arrays.
    #[wasm_bindgen(js_name = searchResult)]
    fn search_result(ids: &[f64], scores: &[f32], distances: &[f32]) -> JsValue;
}

#[wasm_bindgen(typescript_custom_section)]
const TS_SEARCH_RESULT: &str = r#"
/** Search results, best first: the same shape for vector, text and hybrid results. A plain
 * object of typed arrays (copies: it holds no wasm memory and needs no `free()`). */
export interface SearchResult {
  /** Ids, best first. */
  readonly ids: Float64Array;
  /** Scores, higher is better: cosine similarity, dot product or minus the squared L2
   * distance for vectors; BM25 for text; the fused score for hybrid results. */
  readonly scores: Float32Array;
  /** Distances, smaller is better (`1 - cos`, `-dot`, squared L2; minus the score for text
   * and hybrid results). */
  readonly distances: Float32Array;
  /** Number of results. */
  readonly length: number;
}
"#;

/// Search results: ids, scores and distances, best first. The same shape for vector, text and
/// hybrid results; JS gets them as a plain object ([`SearchResult::into_js`]).
#[derive(Debug)]
pub struct SearchResult {
    ids: Vec<f64>,
    scores: Vec<f32>,
    distances: Vec<f32>,
}

impl SearchResult {
    /// Vector hits under `metric`: scores from distances.
    pub(crate) fn from_distances(ids: Vec<f64>, distances: Vec<f32>, metric: Metric) -> Self {
        let scores = distances.iter().map(|&d| score_of(d, metric)).collect();
        SearchResult {
            ids,
            scores,
            distances,
        }
    }

    /// Scored hits (text, fused): distances are the negated scores.
    pub(crate) fn from_scores(ids: Vec<f64>, scores: Vec<f32>) -> Self {
        let distances = scores.iter().map(|s| -s).collect();
        SearchResult {
            ids,
            scores,
            distances,
        }
    }

    /// (id, score) pairs, best first.
    pub(crate) fn pairs(&self) -> Vec<(u64, f32)> {
        self.ids
            .iter()
            .zip(&self.scores)
            .map(|(&i, &s)| (i as u64, s))
            .collect()
    }

    /// The JS object: `{ ids: Float64Array, scores: Float32Array, distances: Float32Array,
    /// length }`, copied out of wasm memory in one call.
    pub(crate) fn into_js(self) -> JsValue {
        search_result(&self.ids, &self.scores, &self.distances)
    }
}

/// Options of `addBatch` (a function alone is taken as `onProgress`).
#[wasm_bindgen(typescript_custom_section)]
const TS_BATCH_OPTIONS: &str = r#"
/** Options of `addBatch`, `compact` and the other sliced operations. */
export interface SliceOptions {
  /** Called after every slice with (done, total). If it throws, the batch is rolled back. */
  onProgress?: (done: number, total: number) => void;
  /** Milliseconds of work between yields to the event loop (default 8; Infinity: never yield). */
  sliceMs?: number;
}

/** The third argument of `search` / fourth of `searchFiltered` as an object. */
export interface SearchOptions {
  /** Search breadth (default the index's efSearch, at least k). */
  ef?: number;
  /** In (0, 1]: search with the ef at which the calibration's recall@k on the index's own data
   * reaches this (interpolated between its measured efs; `NOT_CALIBRATED` before
   * `calibrate()`). Not with `ef`. */
  targetRecall?: number;
}

/** Options of `calibrate`. */
export interface CalibrateOptions {
  /** Sample queries drawn from the index (default 200). */
  samples?: number;
  /** The k of the recall measured (default 10). */
  k?: number;
  /** Called after every slice with (done share, 1). */
  onProgress?: (done: number, total: number) => void;
  /** Milliseconds of work between yields (default 8). */
  sliceMs?: number;
}

/** Recall by ef on the index's own data, as `calibrate` measured it. */
export interface CalibrationInfo {
  samples: number;
  k: number;
  /** Live vectors when it was made. */
  size: number;
  /** Whether the live count has since doubled or halved (addBatch then makes it again). */
  stale: boolean;
  /** Its cost in distance evaluations. */
  distanceEvals: number;
  /** [ef, mean recall@k], ef ascending. */
  points: [number, number][];
}
"#;

/// `onProgress` and the slice budget from `addBatch`'s third argument.
pub(crate) fn slice_options(v: &JsValue) -> Result<(Option<js_sys::Function>, f64), JsValue> {
    slice_options_and(v, &[])
}

/// [`slice_options`] where the object may also hold the keys in `more`.
fn slice_options_and(
    v: &JsValue,
    more: &[&str],
) -> Result<(Option<js_sys::Function>, f64), JsValue> {
    if v.is_undefined() || v.is_null() || v.is_function() {
        return Ok((args::opt_function(v, "onProgress")?, DEFAULT_SLICE_MS));
    }
    let mut keys = vec!["onProgress", "sliceMs"];
    keys.extend_from_slice(more);
    crate::error::check_keys(v, "slice options", &keys)?;
    let get =
        |k: &str| js_sys::Reflect::get(v, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED);
    let f = args::opt_function(&get("onProgress"), "onProgress")?;
    let ms = get("sliceMs");
    let ms = if ms.is_undefined() {
        DEFAULT_SLICE_MS
    } else {
        let x = args::number(&ms, "sliceMs")?;
        if x.is_nan() || x <= 0.0 {
            return Err(args::out_of_range(
                "sliceMs",
                format!("must be > 0, got {}", args::num(x)),
            ));
        }
        x
    };
    Ok((f, ms))
}

/// The `ef` of a search: the third argument is an ef, or `{ ef }`, or `{ targetRecall }` (the
/// calibration's ef for it, `Calibration::ef_for`); at least `k`.
fn search_ef(h: &Hnsw, v: &JsValue, k: usize) -> Result<usize, JsValue> {
    if !v.is_object() {
        let ef = args::opt_integer(v, "ef", 1.0, MAX_K)?.map(|e| e as usize);
        return Ok(ef.unwrap_or(h.params().ef_search).max(k));
    }
    crate::error::check_keys(v, "search options", &["ef", "targetRecall"])?;
    let get =
        |key: &str| js_sys::Reflect::get(v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED);
    let ef = args::opt_integer(&get("ef"), "ef", 1.0, MAX_K)?.map(|e| e as usize);
    let target = get("targetRecall");
    if target.is_undefined() {
        return Ok(ef.unwrap_or(h.params().ef_search).max(k));
    }
    if ef.is_some() {
        return Err(type_error(
            "INVALID_OPTIONS",
            "search options: give ef or targetRecall, not both",
        ));
    }
    let t = args::number(&target, "targetRecall")?;
    if !(t > 0.0 && t <= 1.0) {
        return Err(args::out_of_range(
            "targetRecall",
            format!("must be in (0, 1], got {}", args::num(t)),
        ));
    }
    match h.calibration() {
        Some(c) => Ok(c.ef_for(t, k)),
        None => Err(js_error(
            "NOT_CALIBRATED",
            "a search by targetRecall needs a calibration: await index.calibrate() first".into(),
            false,
        )),
    }
}

/// Runs a calibration of `inner` in time slices and keeps it.
async fn calibrate_in_slices(
    inner: &Rc<RefCell<Hnsw>>,
    samples: usize,
    k: usize,
    slicer: &mut Slicer,
    progress: Option<&js_sys::Function>,
) -> Result<(), JsValue> {
    let mut run = inner
        .try_borrow()
        .map_err(|_| busy("calibrate"))?
        .begin_calibration(samples, k)
        .map_err(hnsw_error)?;
    loop {
        let done = {
            let h = inner.try_borrow().map_err(|_| busy("calibrate"))?;
            run.step(&h, || slicer.expired()).map_err(hnsw_error)?
        };
        if let Some(f) = progress {
            f.call2(&JsValue::NULL, &run.progress().into(), &1.0.into())?;
        }
        if done {
            break;
        }
        slicer.pause().await;
    }
    let c = run.finish().map_err(hnsw_error)?;
    inner
        .try_borrow()
        .map_err(|_| busy("calibrate"))?
        .set_calibration(Some(c));
    Ok(())
}

/// The kept calibration as `CalibrationInfo`, or `undefined`.
fn calibration_info(h: &Hnsw) -> JsValue {
    let Some(c) = h.calibration() else {
        return JsValue::UNDEFINED;
    };
    let o = js_sys::Object::new();
    let set = |key: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(key), &v);
    };
    set("samples", (c.samples() as f64).into());
    set("k", (c.k() as f64).into());
    set("size", (c.len() as f64).into());
    set("stale", c.is_stale(h.len()).into());
    set("distanceEvals", (c.distance_evals() as f64).into());
    let points = js_sys::Array::new();
    for &(ef, r) in c.points() {
        points.push(&js_sys::Array::of2(&(ef as f64).into(), &r.into()));
    }
    set("points", points.into());
    o.into()
}

/// The vectors of an `addBatch`: a JS `Float32Array` still to copy, or values already copied.
pub(crate) enum Vectors {
    Js(js_sys::Float32Array),
    Copied(Vec<f32>),
}

/// The arguments of an `addBatch` (`HnswIndex`'s and `BudgetedIndex`'s): the ids, the
/// vectors (a `Float32Array` is copied in slices later, other arrays are converted now), and
/// the progress callback and slice length.
pub(crate) type BatchArgs = (Vec<u64>, Vectors, Option<js_sys::Function>, f64);

/// Converts and checks an `addBatch`'s arguments where they enter (see [`BatchArgs`]).
pub(crate) fn batch_args(
    ids: &JsValue,
    vectors: &JsValue,
    options: Option<JsValue>,
) -> Result<BatchArgs, JsValue> {
    let ids = args::ids(ids, "ids")?;
    let data = match vectors.dyn_ref::<js_sys::Float32Array>() {
        Some(a) => Vectors::Js(a.clone()),
        None => Vectors::Copied(args::f32s(vectors, "vectors")?),
    };
    let (progress, slice_ms) = slice_options(&options.unwrap_or(JsValue::UNDEFINED))?;
    Ok((ids, data, progress, slice_ms))
}

/// Values copied into wasm memory per step (4 MB).
const COPY_VALUES: u32 = 1 << 20;

impl Vectors {
    /// The values in wasm memory, copied in slices (a 77 MB array is no single long task).
    pub(crate) async fn copy_in(self, slicer: &mut Slicer) -> Result<Vec<f32>, JsValue> {
        let a = match self {
            Vectors::Copied(v) => return Ok(v),
            Vectors::Js(a) => a,
        };
        let len = a.length();
        let mut out = Vec::new();
        args::reserve(&mut out, len as usize, "vectors")?;
        let mut at = 0;
        while at < len {
            // `subarray` of a detached array throws: check the length (0 once detached) first.
            if a.length() != len {
                return Err(changed("vectors"));
            }
            let n = (len - at).min(COPY_VALUES);
            let piece = a.subarray(at, at + n);
            out.resize((at + n) as usize, 0.0);
            piece.copy_to(&mut out[at as usize..]);
            at += n;
            slicer.pause().await;
        }
        Ok(out)
    }
}

/// A typed array detached or shrunk (transferred to a worker, its buffer resized) while it was
/// being read in slices.
fn changed(what: &str) -> JsValue {
    js_error(
        "INVALID_ARGUMENT",
        format!("{what} changed (detached or resized) while it was being read"),
        false,
    )
}

/// The most results or search breadth a call may ask for.
pub(crate) const MAX_K: f64 = (1u64 << 31) as f64;

/// An HNSW vector index.
#[wasm_bindgen]
pub struct HnswIndex {
    inner: Rc<RefCell<Hnsw>>,
    queue: Rc<Queue>,
    query: RefCell<Vec<f32>>,
    /// Set for an index from `HnswIndex.open`: its op log, checkpoints and writer role.
    durable: Option<Rc<Durable<Hnsw>>>,
}

impl HnswIndex {
    fn wrap(h: Hnsw) -> HnswIndex {
        HnswIndex {
            inner: Rc::new(RefCell::new(h)),
            queue: Rc::default(),
            query: RefCell::default(),
            durable: None,
        }
    }

    /// `READ_ONLY` on a follower, `CLOSED` after `close()`; nothing for an in-memory index.
    fn check_persist(&self, what: &str) -> Result<(), JsValue> {
        match &self.durable {
            Some(d) => d.check_writable(what),
            None => Ok(()),
        }
    }

    /// Scores (higher is better, as in `SearchResult`) of the given ids for `query`; `None` for
    /// ids not live.
    pub(crate) fn scores_of(
        &self,
        query: &[f32],
        ids: &[u64],
    ) -> Result<Vec<Option<f32>>, JsValue> {
        let h = self.read()?;
        let metric = h.params().metric;
        Ok(h.distances(query, ids)
            .map_err(hnsw_error)?
            .into_iter()
            .map(|d| d.map(|d| score_of(d, metric)))
            .collect())
    }

    /// The index's default search breadth.
    pub(crate) fn ef_search(&self) -> Result<usize, JsValue> {
        Ok(self.read()?.params().ef_search)
    }

    fn read(&self) -> Result<Ref<'_, Hnsw>, JsValue> {
        self.inner
            .try_borrow()
            .map_err(|_| busy("the index is being changed"))
    }

    fn write(&self, what: &str) -> Result<RefMut<'_, Hnsw>, JsValue> {
        self.queue.check_idle(what)?;
        self.inner.try_borrow_mut().map_err(|_| busy(what))
    }

    pub(crate) fn search_with(
        &self,
        query: &JsValue,
        k: &JsValue,
        ef: &JsValue,
        allow: Option<&[u64]>,
    ) -> Result<SearchResult, JsValue> {
        let h = self.read()?;
        let k = args::integer(k, "k", 1.0, MAX_K)? as usize;
        let ef = search_ef(&h, ef, k)?;
        let mut q = self.query.try_borrow_mut().map_err(|_| busy("search"))?;
        args::f32s_into(query, "query", &mut q)?;
        let filter = match allow {
            Some(ids) => Filter::Allow(ids),
            None => Filter::None,
        };
        let hits = h.search_filtered(&q, k, ef, filter).map_err(hnsw_error)?;
        Ok(SearchResult::from_distances(
            hits.iter().map(|x| x.id as f64).collect(),
            hits.iter().map(|x| x.distance).collect(),
            h.params().metric,
        ))
    }
}

/// The core parameters from `HnswIndexOptions` (every key checked).
pub(crate) fn index_params(options: JsValue) -> Result<HnswParams, JsValue> {
    crate::error::check_keys(
        &options,
        "index options",
        &[
            "dims",
            "metric",
            "storage",
            "m",
            "efConstruction",
            "efSearch",
            "seed",
            "keepF32",
        ],
    )?;
    let o = HnswIndexOptions::read(&options)?;
    let metric = match o.metric.as_deref().unwrap_or("cosine") {
        "cosine" => Metric::Cosine,
        "dot" => Metric::Dot,
        "l2" => Metric::L2,
        m => {
            return Err(js_error(
                "INVALID_OPTIONS",
                format!("metric \"{m}\": use cosine, dot or l2"),
                true,
            ));
        }
    };
    let mut p = HnswParams::new(o.dims, metric);
    p.storage = match o.storage.as_deref().unwrap_or("f32") {
        "f32" => Storage::F32,
        "f16" => Storage::F16,
        "i8" => Storage::I8,
        "q4" => Storage::Q4,
        s => {
            return Err(js_error(
                "INVALID_OPTIONS",
                format!("storage \"{s}\": use f32, f16, i8 or q4"),
                true,
            ));
        }
    };
    if let Some(m) = o.m {
        p = p.with_m(m);
    }
    if let Some(e) = o.ef_construction {
        p.ef_construction = e;
    }
    if let Some(e) = o.ef_search {
        p.ef_search = e;
    }
    if let Some(s) = o.seed {
        if !(s.is_finite() && s >= 0.0 && s.fract() == 0.0 && s <= args::MAX_SAFE) {
            return Err(js_error(
                "INVALID_OPTIONS",
                format!("seed {} is not a non-negative safe integer", args::num(s)),
                true,
            ));
        }
        p.seed = s as u64;
    }
    p.keep_f32 = o.keep_f32.unwrap_or(false);
    Ok(p)
}

#[wasm_bindgen(typescript_custom_section)]
const HNSW_OPEN_OPTIONS: &str = r#"
/** Options of `HnswIndex.open`: where the index lives, plus `HnswIndexOptions` used when it is
 * created (when it exists, `dims`, `metric` and `storage`, if given, must match it). */
export interface HnswOpenOptions extends Partial<HnswIndexOptions> {
    /** The IndexedDB database. */
    dbName: string;
    /** The index's name in that database (several indexes can share one). */
    name: string;
    /** Open a damaged log up to its last intact record instead of failing with DATA_LOST
     * (`recovered` then says what was dropped). Default false. */
    recover?: boolean;
    /** A checkpoint starts by itself when the log passes this share of the snapshot's size
     * (default 0.5; `Infinity`: only explicit `checkpoint()`). */
    checkpointShare?: number;
    /** IndexedDB transaction durability: "strict" (default: a commit is on disk when
     * `flush()` resolves) or "relaxed" (faster; survives a tab or browser crash, not
     * necessarily a power loss). */
    durability?: "strict" | "relaxed";
}
/** What a recovering open (`recover: true`) dropped: `lost` log records from `firstLost` on
 * (null when the log was whole), or, in `browserDataLoss`, the browser's report that it deleted
 * the whole database (Chromium does when it finds the database corrupt on open). */
export interface Recovered {
    lost: number;
    firstLost: number | null;
    browserDataLoss?: string;
}
/** The persistent side's figures (`storageStats()`). */
export interface StorageStats {
    /** The current checkpoint's generation. */
    generation: number;
    /** The number the next log record gets. */
    nextSeq: number;
    /** Bytes of log records since the checkpoint. */
    logBytes: number;
    /** Bytes of the checkpoint's snapshot. */
    snapshotBytes: number;
    /** Bytes handed to IndexedDB since open (records, pages, manifests). */
    bytesWritten: number;
    /** Checkpoints written since open. */
    checkpoints: number;
}
"#;

/// The keys of open options that say where a persistent object lives.
#[cfg(feature = "full")]
pub(crate) const OPEN_KEYS: [&str; 6] = [
    "dbName",
    "name",
    "recover",
    "checkpointShare",
    "durability",
    "pageBytes",
];

#[cfg(feature = "full")]
/// Where a persistent object lives, from its open options (the other keys are the caller's).
pub(crate) fn place_options(options: &JsValue) -> Result<OpenOptions, JsValue> {
    if !options.is_object() {
        return Err(type_error(
            "INVALID_OPTIONS",
            "open options must be an object",
        ));
    }
    let get = |k: &str| {
        js_sys::Reflect::get(options, &k.into())
            .ok()
            .filter(|v| !v.is_undefined())
    };
    let string = |k: &str| -> Result<String, JsValue> {
        match get(k).and_then(|v| v.as_string()) {
            Some(s) if !s.is_empty() && s.len() <= 1024 => Ok(s),
            _ => Err(type_error(
                "INVALID_OPTIONS",
                format!("open options: `{k}` must be a non-empty string (at most 1024 bytes)"),
            )),
        }
    };
    let db_name = string("dbName")?;
    let name = string("name")?;
    let recover = match get("recover") {
        None => false,
        Some(v) => v.as_bool().ok_or_else(|| {
            type_error(
                "INVALID_OPTIONS",
                "open options: `recover` must be a boolean",
            )
        })?,
    };
    let checkpoint_share = match get("checkpointShare") {
        None => 0.5,
        Some(v) => match v.as_f64() {
            Some(x) if x > 0.0 && !x.is_nan() => x,
            _ => {
                return Err(js_error(
                    "INVALID_OPTIONS",
                    "open options: `checkpointShare` must be a number above 0 (Infinity: never)"
                        .into(),
                    true,
                ));
            }
        },
    };
    let durability = match get("durability") {
        None => "strict".to_string(),
        Some(v) => match v.as_string().as_deref() {
            Some(d @ ("strict" | "relaxed")) => d.to_string(),
            _ => {
                return Err(type_error(
                    "INVALID_OPTIONS",
                    "open options: `durability` must be \"strict\" or \"relaxed\"",
                ));
            }
        },
    };
    let page_bytes = match get("pageBytes") {
        None => elex_store::DEFAULT_PAGE_BYTES,
        Some(v) => args::integer(&v, "pageBytes", 4096.0, f64::from(64u32 << 20))? as usize,
    };
    Ok(OpenOptions {
        db_name,
        name,
        recover,
        checkpoint_share,
        durability,
        page_bytes,
    })
}

#[cfg(feature = "full")]
/// Open options split into where the object lives and the rest (the object's own options,
/// which its constructor checks).
pub(crate) fn split_open_options(
    options: &JsValue,
) -> Result<(OpenOptions, js_sys::Object), JsValue> {
    let place = place_options(options)?;
    let rest = js_sys::Object::new();
    for entry in js_sys::Object::entries(options.unchecked_ref()).iter() {
        let pair: js_sys::Array = entry.unchecked_into();
        let key = pair.get(0).as_string().unwrap_or_default();
        if !OPEN_KEYS.contains(&key.as_str()) {
            js_sys::Reflect::set(&rest, &key.into(), &pair.get(1))?;
        }
    }
    Ok((place, rest))
}

#[cfg(feature = "full")]
/// Splits `HnswOpenOptions` into where the index lives and the index options.
fn open_options(options: &JsValue) -> Result<(OpenOptions, HnswParams, JsValue), JsValue> {
    let (place, create) = split_open_options(options)?;
    // The index options are checked now, even when the index exists (a typo is an error).
    let probe = js_sys::Object::assign(&js_sys::Object::new(), &create);
    if !js_sys::Reflect::has(&create, &"dims".into()).unwrap_or(false) {
        js_sys::Reflect::set(&probe, &"dims".into(), &1.0.into())?;
    }
    let params = index_params(probe.into())?;
    Ok((place, params, create.into()))
}

pub(crate) fn busy(what: &str) -> JsValue {
    js_error(
        "BUSY",
        format!("{what}: the index is in use by an operation in progress"),
        false,
    )
}

pub(crate) fn promise<F>(f: F) -> js_sys::Promise
where
    F: std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
{
    wasm_bindgen_futures::future_to_promise(f)
}

durable_methods!(HnswIndex, "index");

#[wasm_bindgen]
impl HnswIndex {
    /// An empty index; see `HnswIndexOptions`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "HnswIndexOptions")] options: JsValue,
    ) -> Result<HnswIndex, JsValue> {
        crate::set_panic_hook();
        Hnsw::new(index_params(options)?)
            .map(HnswIndex::wrap)
            .map_err(hnsw_error)
    }

    /// Adds one vector (`Float32Array`, `Float64Array` or an `Array` of numbers). `BUSY` while
    /// an `addBatch` or `compact` on this index is in progress.
    pub fn add(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Float32Array | Float64Array | number[]")]
        vector: JsValue,
    ) -> Result<(), JsValue> {
        let id = args::id(&id)?;
        let v = args::f32s(&vector, "vector")?;
        self.check_persist("add")?;
        self.write("add")?.insert(id, &v).map_err(hnsw_error)?;
        if let Some(d) = &self.durable {
            d.record(|log| log.add(id, &v));
        }
        Ok(())
    }

    /// Adds `ids.length` vectors laid out one after another in `vectors`; resolves to the
    /// number added. The third argument is `onProgress(done, total)` or `SliceOptions`. The
    /// batch is validated whole first (a bad vector or id rejects it before anything is
    /// added), then inserted in slices of a few milliseconds with yields to the event loop in
    /// between; searches between slices see the vectors added so far. If `onProgress` throws,
    /// the batch is rolled back exactly and the promise rejects with that error. Batches on
    /// one index run one after the other, each whole or not at all. A `Float32Array` is read
    /// (copied into wasm memory) in the first slices: leave it unchanged until the promise
    /// settles.
    #[wasm_bindgen(js_name = addBatch, unchecked_return_type = "Promise<number>")]
    pub fn add_batch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Float64Array | number[]")] ids: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Float32Array | Float64Array | number[]")]
        vectors: JsValue,
        #[wasm_bindgen(
            unchecked_optional_param_type = "((done: number, total: number) => void) | SliceOptions"
        )]
        options: Option<JsValue>,
    ) -> js_sys::Promise {
        let parsed = batch_args(&ids, &vectors, options);
        let writable = self.check_persist("addBatch");
        let durable = self.durable.clone();
        let turn = self.queue.join();
        let inner = self.inner.clone();
        promise(async move {
            let turn = turn.await;
            writable?;
            let (ids, data, progress, slice_ms) = parsed?;
            let total = ids.len();
            let mut slicer = Slicer::new(slice_ms);
            let data = data.copy_in(&mut slicer).await?;
            // The core's validator, in slices too.
            let mut check = elex_hnsw::BatchCheck::default();
            loop {
                let done = inner
                    .try_borrow()
                    .map_err(|_| busy("addBatch"))?
                    .validate_batch_step(&ids, &data, &mut check, || slicer.expired())
                    .map_err(hnsw_error)?;
                if done {
                    break;
                }
                slicer.pause().await;
            }
            // A persistent index logs the batch as given once it is committed.
            let logged = durable.as_ref().map(|_| (ids.clone(), data.clone()));
            let batch = inner
                .try_borrow_mut()
                .map_err(|_| busy("addBatch"))?
                .begin_checked_batch(ids, data, check)
                .map_err(hnsw_error)?;
            let batch =
                step_in_slices(&inner, batch, total, progress.as_ref(), &mut slicer).await?;
            inner
                .try_borrow_mut()
                .map_err(|_| busy("addBatch"))?
                .commit_batch(batch)
                .map_err(hnsw_error)?;
            // A calibration the batch made stale is made again (same samples and k), in slices.
            let stale = {
                let h = inner.try_borrow().map_err(|_| busy("addBatch"))?;
                h.calibration()
                    .filter(|c| c.is_stale(h.len()))
                    .map(|c| (c.samples().max(1), c.k()))
            };
            if let Some((samples, k)) = stale {
                calibrate_in_slices(&inner, samples, k, &mut slicer, None).await?;
            }
            if let (Some(d), Some((ids, data))) = (&durable, logged) {
                // Resolves once the batch is durable.
                let bytes = ids.len() * 9 + data.len() * 4;
                d.log_batch(bytes, |log| log.batch(&ids, &data), turn)
                    .await?;
            }
            Ok(JsValue::from(total as f64))
        })
    }

    /// The `k` nearest vectors (`ef` defaults to the index's efSearch, at least `k`).
    #[wasm_bindgen(unchecked_return_type = "SearchResult")]
    pub fn search(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Float32Array | Float64Array | number[]")]
        query: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] k: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number | SearchOptions")] ef: Option<
            JsValue,
        >,
    ) -> Result<JsValue, JsValue> {
        self.search_with(&query, &k, &ef.unwrap_or(JsValue::UNDEFINED), None)
            .map(SearchResult::into_js)
    }

    /// The `k` nearest among the ids in `allow`.
    #[wasm_bindgen(js_name = searchFiltered, unchecked_return_type = "SearchResult")]
    pub fn search_filtered(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Float32Array | Float64Array | number[]")]
        query: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] k: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Float64Array | number[]")] allow: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number | SearchOptions")] ef: Option<
            JsValue,
        >,
    ) -> Result<JsValue, JsValue> {
        let allow = args::ids(&allow, "allow")?;
        self.search_with(&query, &k, &ef.unwrap_or(JsValue::UNDEFINED), Some(&allow))
            .map(SearchResult::into_js)
    }

    /// Removes a vector; `UNKNOWN_ID` if it is not there. `BUSY` while an `addBatch` or
    /// `compact` is in progress.
    pub fn delete(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number")] id: JsValue,
    ) -> Result<(), JsValue> {
        let id = args::id(&id)?;
        self.check_persist("delete")?;
        self.write("delete")?.delete(id).map_err(hnsw_error)?;
        if let Some(d) = &self.durable {
            d.record(|log| log.delete(id));
        }
        Ok(())
    }

    /// Whether `id` is a live vector.
    pub fn has(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number")] id: JsValue,
    ) -> Result<bool, JsValue> {
        let id = args::id(&id)?;
        Ok(self.read()?.contains(id))
    }

    /// Rebuilds the graph without the tombstones deletes leave, in time slices (see
    /// `SliceOptions`); searches keep answering from the old graph until it is swapped in.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn compact(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "SliceOptions")] options: Option<JsValue>,
    ) -> js_sys::Promise {
        let parsed = slice_options(&options.unwrap_or(JsValue::UNDEFINED));
        let writable = self.check_persist("compact");
        let durable = self.durable.clone();
        let turn = self.queue.join();
        let inner = self.inner.clone();
        promise(async move {
            let _turn = turn.await;
            writable?;
            let (progress, slice_ms) = parsed?;
            let mut slicer = Slicer::new(slice_ms);
            let mut c = inner
                .try_borrow()
                .map_err(|_| busy("compact"))?
                .begin_compaction()
                .map_err(hnsw_error)?;
            loop {
                let done = {
                    let h = inner.try_borrow().map_err(|_| busy("compact"))?;
                    c.step(&h, || slicer.expired()).map_err(hnsw_error)?
                };
                if let Some(f) = &progress {
                    f.call2(&JsValue::NULL, &c.progress().into(), &1.0.into())?;
                }
                if done {
                    break;
                }
                slicer.pause().await;
            }
            inner
                .try_borrow_mut()
                .map_err(|_| busy("compact"))?
                .finish_compaction(c)
                .map_err(hnsw_error)?;
            if let Some(d) = &durable {
                d.record(|log| log.compact());
                d.flush().await?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    #[cfg(feature = "full")]
    /// Opens the persistent index `name` in the IndexedDB database `dbName`, or creates it
    /// from the other options (those of `new HnswIndex`). See `HnswOpenOptions` and the
    /// README's "Persistence" section: mutations are applied in memory and logged (the calls
    /// of one task in one transaction); `flush()` resolves when they are durable; checkpoints
    /// write the index as pages and start by themselves as the log grows. One tab or worker
    /// is the writer; in the others the index is read-only (`readOnly`), follows the writer's
    /// commits and becomes writable when the writer closes.
    #[wasm_bindgen(unchecked_return_type = "Promise<HnswIndex>")]
    pub fn open(
        #[wasm_bindgen(unchecked_param_type = "HnswOpenOptions")] options: JsValue,
    ) -> js_sys::Promise {
        crate::set_panic_hook();
        promise(async move {
            let (opts, params, create) = open_options(&options)?;
            let has = |k: &str| js_sys::Reflect::has(&create, &k.into()).unwrap_or(false);
            let given = (has("dims"), has("metric"), has("storage"));
            let queue: Rc<Queue> = Rc::default();
            let (inner, durable) = persist::open(
                opts,
                || {
                    if !given.0 {
                        return Err(type_error(
                            "INVALID_OPTIONS",
                            "open options: `dims` is needed to create a new index",
                        ));
                    }
                    Hnsw::new(params.clone()).map_err(hnsw_error)
                },
                queue.clone(),
            )
            .await?;
            // An existing index keeps its own settings; those given must agree with them.
            let stored = inner.borrow().params().clone();
            let clash = (given.0 && stored.dims != params.dims)
                || (given.1 && stored.metric != params.metric)
                || (given.2 && stored.storage != params.storage);
            if clash {
                let _ = durable.close().await;
                return Err(js_error(
                    "INVALID_OPTIONS",
                    format!(
                        "open options: the stored index has dims {}, metric {:?}, storage {:?}",
                        stored.dims, stored.metric, stored.storage
                    ),
                    false,
                ));
            }
            Ok(HnswIndex {
                inner,
                queue,
                query: RefCell::default(),
                durable: Some(durable),
            }
            .into())
        })
    }

    /// Live vectors.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.inner.try_borrow().map_or(0, |h| h.len())
    }

    /// Components per vector.
    #[wasm_bindgen(getter)]
    pub fn dims(&self) -> usize {
        self.inner.try_borrow().map_or(0, |h| h.dims())
    }

    /// Deleted vectors whose slots `compact` would reclaim.
    #[wasm_bindgen(getter, js_name = deletedCount)]
    pub fn deleted_count(&self) -> usize {
        self.inner.try_borrow().map_or(0, |h| h.deleted_count())
    }

    /// Measures recall@k by `ef` on sample queries drawn from the index's own vectors (see
    /// `search(q, k, { targetRecall })`), in time slices; resolves with the calibration, which
    /// the index keeps (and makes again at the end of an `addBatch` once the live count has
    /// doubled or halved since).
    pub fn calibrate(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "CalibrateOptions")] options: Option<
            JsValue,
        >,
    ) -> js_sys::Promise {
        let options = options.unwrap_or(JsValue::UNDEFINED);
        let parsed = (|| {
            let (progress, slice_ms) = slice_options_and(&options, &["samples", "k"])?;
            let get = |key: &str| {
                if options.is_object() {
                    js_sys::Reflect::get(&options, &JsValue::from_str(key))
                        .unwrap_or(JsValue::UNDEFINED)
                } else {
                    JsValue::UNDEFINED
                }
            };
            let samples = args::opt_integer(&get("samples"), "samples", 1.0, 100_000.0)?
                .map_or(elex_hnsw::DEFAULT_SAMPLES, |x| x as usize);
            let k = args::opt_integer(&get("k"), "k", 1.0, MAX_K)?.map_or(10, |x| x as usize);
            Ok::<_, JsValue>((progress, slice_ms, samples, k))
        })();
        let turn = self.queue.join();
        let inner = self.inner.clone();
        promise(async move {
            let _turn = turn.await;
            let (progress, slice_ms, samples, k) = parsed?;
            let mut slicer = Slicer::new(slice_ms);
            calibrate_in_slices(&inner, samples, k, &mut slicer, progress.as_ref()).await?;
            let h = inner.try_borrow().map_err(|_| busy("calibrate"))?;
            Ok(calibration_info(&h))
        })
    }

    /// The calibration the index keeps (`undefined` before `calibrate()`), with `stale` set once
    /// the live count has doubled or halved since it was made.
    #[wasm_bindgen(unchecked_return_type = "CalibrationInfo | undefined")]
    pub fn calibration(&self) -> Result<JsValue, JsValue> {
        Ok(calibration_info(&*self.read()?))
    }

    /// Bytes the index holds in wasm memory.
    #[wasm_bindgen(js_name = memoryBytes)]
    pub fn memory_bytes(&self) -> Result<f64, JsValue> {
        Ok(self.read()?.memory_bytes() as f64)
    }

    /// The versioned, checksummed snapshot. `BUSY` while a batch is being inserted (a snapshot
    /// never holds half a batch).
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Result<Vec<u8>, JsValue> {
        let h = self.read()?;
        if h.batch_open() {
            return Err(busy("toBytes"));
        }
        Ok(h.to_bytes())
    }

    /// Restores a snapshot (a `Uint8Array`); corrupt or truncated bytes are errors (nothing
    /// half-loaded).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
    ) -> Result<HnswIndex, JsValue> {
        crate::set_panic_hook();
        let bytes = args::bytes(&bytes, "bytes")?;
        Hnsw::from_bytes(&bytes)
            .map(HnswIndex::wrap)
            .map_err(hnsw_error)
    }

    /// The snapshot (the bytes of `toBytes`) written in time slices (see `SliceOptions`;
    /// `onProgress` gets bytes written and the total). Taken after the operations already
    /// queued on the index; the bytes go straight into a JS `Uint8Array`, a chunk at a time.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn snapshot(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "SliceOptions")] options: Option<JsValue>,
    ) -> js_sys::Promise {
        let parsed = slice_options(&options.unwrap_or(JsValue::UNDEFINED));
        let turn = self.queue.join();
        let inner = self.inner.clone();
        promise(async move {
            let _turn = turn.await;
            let (progress, slice_ms) = parsed?;
            write_snapshot(&inner, |h: &Hnsw| h, None, progress, slice_ms)
                .await
                .map(JsValue::from)
        })
    }

    /// Restores a snapshot (a `Uint8Array`) in time slices: the asynchronous `fromBytes`.
    #[wasm_bindgen(unchecked_return_type = "Promise<HnswIndex>")]
    pub fn restore(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "SliceOptions")] options: Option<JsValue>,
    ) -> js_sys::Promise {
        crate::set_panic_hook();
        let parsed = slice_options(&options.unwrap_or(JsValue::UNDEFINED)).and_then(|o| {
            let b = bytes
                .dyn_into::<js_sys::Uint8Array>()
                .map_err(|v| args::wrong_type("bytes", "a Uint8Array", &v))?;
            Ok((b, o))
        });
        promise(async move {
            let (bytes, (progress, slice_ms)) = parsed?;
            read_snapshot(&bytes, progress, slice_ms)
                .await
                .map(JsValue::from)
        })
    }

    /// Saves the snapshot under `key` in the IndexedDB database `dbName`, in one transaction: it
    /// commits whole or not at all, so an interrupted save leaves the previous snapshot. The
    /// snapshot is taken after the operations already queued on the index (a batch in flight
    /// is saved whole or not at all) and written in time slices; resolves to its size.
    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn save(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] db_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> js_sys::Promise {
        let names = args::db_key(&db_name, &key);
        let turn = self.queue.join();
        let inner = self.inner.clone();
        promise(async move {
            let turn = turn.await;
            let (db_name, key) = names?;
            let bytes = write_snapshot(&inner, |h: &Hnsw| h, None, None, DEFAULT_SLICE_MS).await?;
            drop(turn);
            idb::save_record(&db_name, &key, &bytes, false).await?;
            Ok(JsValue::from(f64::from(bytes.length())))
        })
    }

    /// Loads the snapshot saved under `key`, in time slices (`NOT_FOUND` if none;
    /// `CHECKSUM_MISMATCH`, `TRUNCATED`, `BAD_MAGIC`... for a damaged record).
    #[wasm_bindgen(unchecked_return_type = "Promise<HnswIndex>")]
    pub fn load(
        #[wasm_bindgen(unchecked_param_type = "string")] db_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> js_sys::Promise {
        let names = args::db_key(&db_name, &key);
        promise(async move {
            let (db_name, key) = names?;
            load_index(&db_name, &key).await.map(JsValue::from)
        })
    }
}

/// Bytes moved between JS and wasm memory per step of a sliced snapshot.
const CHUNK_BYTES: usize = 1 << 20;

/// A new JS `Uint8Array` of `total` bytes: `TOO_LARGE` past 4 GiB, `OUT_OF_MEMORY` when the
/// engine has no room (`what` names it in the message).
pub(crate) fn new_bytes(total: u64, what: &str) -> Result<js_sys::Uint8Array, JsValue> {
    if total > u64::from(u32::MAX) {
        return Err(js_error(
            "TOO_LARGE",
            format!("{what} of {total} bytes does not fit one Uint8Array"),
            false,
        ));
    }
    // Through Reflect.construct: a failed allocation is a caught RangeError, not an exception
    // unwinding through this function (which would leave the index's queue held).
    Ok(js_sys::Reflect::construct(
        &js_sys::Uint8Array::new_with_length(0).constructor(),
        &js_sys::Array::of1(&(total as f64).into()),
    )
    .map_err(|_| {
        js_error(
            "OUT_OF_MEMORY",
            format!("no memory for {what} of {total} bytes"),
            true,
        )
    })?
    .unchecked_into())
}

/// Writes the snapshot of the index `index` finds in `inner` in time slices, about a megabyte
/// per step, pausing between steps when `slice_ms` has passed: into a new JS `Uint8Array`, or
/// into `into`'s array from its byte offset on (a budgeted index's bundle, sized by the
/// caller from the same index). Returns the array. The caller holds the object's queue, so
/// nothing changes the index in between (and the writer would refuse it).
pub(crate) async fn write_snapshot<T>(
    inner: &Rc<RefCell<T>>,
    index: impl Fn(&T) -> &Hnsw,
    into: Option<(js_sys::Uint8Array, u32)>,
    progress: Option<js_sys::Function>,
    slice_ms: f64,
) -> Result<js_sys::Uint8Array, JsValue> {
    let mut w = index(&*inner.try_borrow().map_err(|_| busy("snapshot"))?).snapshot_writer();
    let total = w.total_len();
    let (out, base) = match into {
        Some(x) => x,
        None => (new_bytes(total, "a snapshot")?, 0),
    };
    let mut at = base + elex_hnsw::HEADER_LEN as u32;
    let mut chunk = Vec::with_capacity(CHUNK_BYTES);
    let mut slicer = Slicer::new(slice_ms);
    loop {
        chunk.clear();
        let more = {
            let h = inner.try_borrow().map_err(|_| busy("snapshot"))?;
            w.next_chunk(index(&h), &mut chunk, CHUNK_BYTES)
                .map_err(hnsw_error)?
        };
        out.subarray(at, at + chunk.len() as u32).copy_from(&chunk);
        at += chunk.len() as u32;
        if let Some(f) = &progress {
            f.call2(
                &JsValue::NULL,
                &f64::from(at - base).into(),
                &(total as f64).into(),
            )?;
        }
        if !more {
            break;
        }
        slicer.pause().await;
    }
    let header = {
        let h = inner.try_borrow().map_err(|_| busy("snapshot"))?;
        w.header(index(&h)).map_err(hnsw_error)?
    };
    out.subarray(base, base + header.len() as u32)
        .copy_from(&header);
    Ok(out)
}

/// Reads a snapshot from a JS `Uint8Array` in time slices.
async fn read_snapshot(
    bytes: &js_sys::Uint8Array,
    progress: Option<js_sys::Function>,
    slice_ms: f64,
) -> Result<HnswIndex, JsValue> {
    read_hnsw(bytes, progress, slice_ms)
        .await
        .map(HnswIndex::wrap)
}

/// The index in a snapshot held by a JS `Uint8Array`, decoded and checked in time slices.
pub(crate) async fn read_hnsw(
    bytes: &js_sys::Uint8Array,
    progress: Option<js_sys::Function>,
    slice_ms: f64,
) -> Result<Hnsw, JsValue> {
    // `subarray` of a detached array throws: every call below first checks the length (0 once
    // detached).
    let total = bytes.length();
    let head = if total == 0 {
        Vec::new()
    } else {
        bytes
            .subarray(0, total.min(elex_hnsw::HEADER_LEN as u32))
            .to_vec()
    };
    let mut r = elex_hnsw::SnapshotReader::new(&head, u64::from(total)).map_err(hnsw_error)?;
    let mut at = elex_hnsw::HEADER_LEN as u32;
    let mut chunk = vec![0u8; CHUNK_BYTES];
    let mut slicer = Slicer::new(slice_ms);
    while at < total {
        let n = (total - at).min(CHUNK_BYTES as u32);
        let buf = &mut chunk[..n as usize];
        if bytes.length() != total {
            return Err(changed("bytes"));
        }
        bytes.subarray(at, at + n).copy_to(buf);
        r.feed(buf).map_err(hnsw_error)?;
        at += n;
        if let Some(f) = &progress {
            f.call2(
                &JsValue::NULL,
                &f64::from(at).into(),
                &f64::from(total).into(),
            )?;
        }
        slicer.pause().await;
    }
    r.finish().map_err(hnsw_error)
}

/// [`HnswIndex::load`] for Rust callers.
pub(crate) async fn load_index(db_name: &str, key: &str) -> Result<HnswIndex, JsValue> {
    crate::set_panic_hook();
    let bytes = idb::load_record(db_name, key).await?;
    read_snapshot(&bytes, None, DEFAULT_SLICE_MS).await
}

/// Test hook: a save whose transaction is aborted after the write was issued (as when a tab
/// closes mid-save).
#[cfg(feature = "test-hooks")]
#[doc(hidden)]
pub async fn save_aborted(index: &HnswIndex, db_name: &str, key: &str) -> Result<(), JsValue> {
    let bytes = js_sys::Uint8Array::from(&index.inner.borrow().to_bytes()[..]);
    idb::save_record(db_name, key, &bytes, true).await
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use elex_hnsw::HnswParams;

    /// The typings state the core's defaults (they once said the seed was 42). tsify turns the
    /// options struct's doc comments into the typings, so the test reads them from this file.
    #[test]
    fn typings_state_the_core_defaults() {
        let src = include_str!("hnsw.rs");
        let start = src.find("struct HnswIndexOptions {").unwrap_or(0);
        let body = &src[start..start + src[start..].find('}').unwrap_or(0)];
        let lines: Vec<&str> = body.lines().map(str::trim).collect();
        let d = HnswParams::default();
        for (field, value) in [
            ("seed", d.seed as usize),
            ("m", d.m),
            ("ef_construction", d.ef_construction),
            ("ef_search", d.ef_search),
        ] {
            let at = lines
                .iter()
                .position(|l| l.starts_with(&format!("{field}:")))
                .unwrap_or(0);
            let doc = lines[..at]
                .iter()
                .rev()
                .find(|l| l.starts_with("///"))
                .copied()
                .unwrap_or_default();
            assert!(
                doc.contains(&format!("default {value}")),
                "{field}: the typings say {doc:?}, the core's default is {value}"
            );
        }
    }
}

impl crate::task::Stepped for Hnsw {
    type Batch = elex_hnsw::PendingBatch;
    fn step(
        &mut self,
        b: &mut Self::Batch,
        stop: &mut dyn FnMut() -> bool,
    ) -> Result<usize, JsValue> {
        self.step_batch(b, stop).map_err(hnsw_error)
    }
    fn rollback(&mut self, b: Self::Batch) {
        let _ = self.rollback_batch(b);
    }
    fn is_complete(b: &Self::Batch) -> bool {
        b.is_complete()
    }
}
