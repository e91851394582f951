//! `HnswIndex`: the vector index for JS. Options come through serde-wasm-bindgen; vectors go in
//! as `Float32Array`s (copied once into wasm memory, where the index keeps them); results come
//! back as typed arrays. Ids are JS numbers (non-negative safe integers).

use std::cell::RefCell;
use std::rc::Rc;

use elex_hnsw::{Filter, Hnsw, HnswParams, Metric, Storage};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

use crate::error::{hnsw_error, js_error, type_error};
use crate::idb;

/// Vectors per chunk of `addBatch` between yields to the event loop.
const CHUNK: usize = 2_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IndexOptions {
    dims: usize,
    metric: Option<String>,
    storage: Option<String>,
    m: Option<usize>,
    ef_construction: Option<usize>,
    ef_search: Option<usize>,
    seed: Option<f64>,
    keep_f32: Option<bool>,
}

#[wasm_bindgen(typescript_custom_section)]
const TS_OPTIONS: &str = r#"
/** Options of `new HnswIndex(options)`. */
export interface HnswIndexOptions {
  /** Components per vector. */
  dims: number;
  /** Distance: "cosine" (default), "dot" or "l2" (squared Euclidean). */
  metric?: "cosine" | "dot" | "l2";
  /** Storage per component: "f32" (default), "f16" or "i8". */
  storage?: "f32" | "f16" | "i8";
  /** Links per node (HNSW's M, default 16). */
  m?: number;
  /** Build breadth (default 200). */
  efConstruction?: number;
  /** Search breadth (default 64; raised to k when smaller). */
  efSearch?: number;
  /** Seed of the level draws: the same seed and input give the same index (default 42). */
  seed?: number;
  /** Keep exact f32 copies for re-ranking i8 / f16 results. */
  keepF32?: boolean;
}
"#;

fn id_of(x: f64) -> Result<u64, JsValue> {
    if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= 9_007_199_254_740_991.0 {
        Ok(x as u64)
    } else {
        Err(js_error(
            "INVALID_ID",
            format!("id {x} is not a non-negative safe integer"),
            true,
        ))
    }
}

/// Search results: ids and scores as typed arrays, nearest first.
#[wasm_bindgen]
#[derive(Debug)]
pub struct SearchResult {
    ids: Vec<f64>,
    distances: Vec<f32>,
    metric: Metric,
}

#[wasm_bindgen]
impl SearchResult {
    /// Ids, nearest first.
    #[wasm_bindgen(getter)]
    pub fn ids(&self) -> Vec<f64> {
        self.ids.clone()
    }

    /// Similarity, higher is closer: cosine similarity, dot product, or minus the squared L2
    /// distance.
    #[wasm_bindgen(getter)]
    pub fn scores(&self) -> Vec<f32> {
        self.distances
            .iter()
            .map(|&d| match self.metric {
                Metric::Cosine => 1.0 - d,
                Metric::Dot | Metric::L2 => -d,
            })
            .collect()
    }

    /// Distances, smaller is closer (`1 - cos`, `-dot`, squared L2).
    #[wasm_bindgen(getter)]
    pub fn distances(&self) -> Vec<f32> {
        self.distances.clone()
    }

    /// Number of results.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.ids.len()
    }
}

/// An HNSW vector index.
#[wasm_bindgen]
pub struct HnswIndex {
    inner: Rc<RefCell<Hnsw>>,
}

#[wasm_bindgen]
impl HnswIndex {
    /// An empty index; see `HnswIndexOptions`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "HnswIndexOptions")] options: JsValue,
    ) -> Result<HnswIndex, JsValue> {
        crate::set_panic_hook();
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
        let o: IndexOptions = serde_wasm_bindgen::from_value(options)
            .map_err(|e| type_error("INVALID_OPTIONS", format!("index options: {e}")))?;
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
            s => {
                return Err(js_error(
                    "INVALID_OPTIONS",
                    format!("storage \"{s}\": use f32, f16 or i8"),
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
            p.seed = id_of(s)?;
        }
        p.keep_f32 = o.keep_f32.unwrap_or(false);
        Hnsw::new(p)
            .map(|h| HnswIndex {
                inner: Rc::new(RefCell::new(h)),
            })
            .map_err(hnsw_error)
    }

    /// Adds one vector.
    pub fn add(&self, id: f64, vector: &[f32]) -> Result<(), JsValue> {
        let id = id_of(id)?;
        self.inner
            .borrow_mut()
            .insert(id, vector)
            .map(|_| ())
            .map_err(hnsw_error)
    }

    /// Adds `ids.length` vectors laid out one after another in `vectors`. Returns a promise;
    /// every 2,000 vectors it calls `onProgress(done, total)` and yields to the event loop. The
    /// whole batch is validated first: a bad vector rejects it before anything is added.
    #[wasm_bindgen(js_name = addBatch)]
    pub fn add_batch(
        &self,
        ids: &[f64],
        vectors: &[f32],
        on_progress: Option<js_sys::Function>,
    ) -> js_sys::Promise {
        let inner = self.inner.clone();
        let parsed: Result<Vec<u64>, JsValue> = ids.iter().map(|&x| id_of(x)).collect();
        let vectors = vectors.to_vec();
        wasm_bindgen_futures::future_to_promise(async move {
            let ids = parsed?;
            let dims = inner.borrow().dims();
            if vectors.len() != ids.len() * dims {
                return Err(hnsw_error(elex_hnsw::HnswError::BatchShape {
                    ids: ids.len(),
                    values: vectors.len(),
                    dims,
                }));
            }
            {
                // Validate the whole batch first, so a bad vector adds nothing.
                let h = inner.borrow();
                let cosine = h.params().metric == Metric::Cosine;
                let mut seen = std::collections::HashSet::with_capacity(ids.len());
                for (id, v) in ids.iter().zip(vectors.chunks_exact(dims.max(1))) {
                    if h.contains(*id) || !seen.insert(*id) {
                        return Err(hnsw_error(elex_hnsw::HnswError::DuplicateId(*id)));
                    }
                    if let Some(index) = v.iter().position(|x| !x.is_finite()) {
                        return Err(hnsw_error(elex_hnsw::HnswError::NonFinite { index }));
                    }
                    if cosine && v.iter().all(|&x| x == 0.0) {
                        return Err(hnsw_error(elex_hnsw::HnswError::ZeroVector));
                    }
                }
            }
            let total = ids.len();
            let mut done = 0;
            for (chunk_ids, chunk) in ids.chunks(CHUNK).zip(vectors.chunks(CHUNK * dims.max(1))) {
                inner
                    .borrow_mut()
                    .insert_batch(chunk_ids, chunk, |_, _| {})
                    .map_err(hnsw_error)?;
                done += chunk_ids.len();
                if let Some(f) = &on_progress {
                    f.call2(
                        &JsValue::NULL,
                        &JsValue::from(done as f64),
                        &JsValue::from(total as f64),
                    )?;
                }
                if done < total {
                    idb::yield_now().await;
                }
            }
            Ok(JsValue::from(done as f64))
        })
    }

    /// The `k` nearest vectors (`ef` defaults to the index's efSearch, at least `k`).
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: Option<usize>,
    ) -> Result<SearchResult, JsValue> {
        self.search_with(query, k, ef, Filter::None)
    }

    /// The `k` nearest among the ids in `allow`.
    #[wasm_bindgen(js_name = searchFiltered)]
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        allow: &[f64],
        ef: Option<usize>,
    ) -> Result<SearchResult, JsValue> {
        let allow: Vec<u64> = allow.iter().map(|&x| id_of(x)).collect::<Result<_, _>>()?;
        self.search_with(query, k, ef, Filter::Allow(&allow))
    }

    fn search_with(
        &self,
        query: &[f32],
        k: usize,
        ef: Option<usize>,
        filter: Filter<'_>,
    ) -> Result<SearchResult, JsValue> {
        let h = self.inner.borrow();
        let ef = ef.unwrap_or(h.params().ef_search).max(k);
        let hits = h
            .search_filtered(query, k, ef, filter)
            .map_err(hnsw_error)?;
        Ok(SearchResult {
            ids: hits.iter().map(|x| x.id as f64).collect(),
            distances: hits.iter().map(|x| x.distance).collect(),
            metric: h.params().metric,
        })
    }

    /// Removes a vector; `UNKNOWN_ID` if it is not there.
    pub fn delete(&self, id: f64) -> Result<(), JsValue> {
        let id = id_of(id)?;
        self.inner.borrow_mut().delete(id).map_err(hnsw_error)
    }

    /// Live vectors.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.inner.borrow().len()
    }

    /// Components per vector.
    #[wasm_bindgen(getter)]
    pub fn dims(&self) -> usize {
        self.inner.borrow().dims()
    }

    /// Bytes the index holds in wasm memory.
    #[wasm_bindgen(js_name = memoryBytes)]
    pub fn memory_bytes(&self) -> usize {
        self.inner.borrow().memory_bytes()
    }

    /// The versioned, checksummed snapshot.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.inner.borrow().to_bytes()
    }

    /// Restores a snapshot; corrupt or truncated bytes are errors (nothing half-loaded).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<HnswIndex, JsValue> {
        crate::set_panic_hook();
        Hnsw::from_bytes(bytes)
            .map(|h| HnswIndex {
                inner: Rc::new(RefCell::new(h)),
            })
            .map_err(hnsw_error)
    }

    /// Saves the snapshot under `key` in the IndexedDB database `dbName`, in one transaction: it
    /// commits whole or not at all, so an interrupted save leaves the previous snapshot. The
    /// snapshot is taken when `save` is called.
    pub fn save(&self, db_name: String, key: String) -> js_sys::Promise {
        let bytes = self.inner.borrow().to_bytes();
        wasm_bindgen_futures::future_to_promise(async move {
            idb::save_snapshot(&db_name, &key, &bytes).await?;
            Ok(JsValue::from(bytes.len() as f64))
        })
    }

    /// Loads the snapshot saved under `key` (`NOT_FOUND` if none; `CHECKSUM_MISMATCH`,
    /// `TRUNCATED`, `BAD_MAGIC`... for a damaged record).
    #[wasm_bindgen(unchecked_return_type = "Promise<HnswIndex>")]
    pub fn load(db_name: String, key: String) -> js_sys::Promise {
        wasm_bindgen_futures::future_to_promise(async move {
            load_index(&db_name, &key).await.map(JsValue::from)
        })
    }
}

/// [`HnswIndex::load`] for Rust callers.
pub(crate) async fn load_index(db_name: &str, key: &str) -> Result<HnswIndex, JsValue> {
    let bytes = idb::load_snapshot(db_name, key).await?;
    HnswIndex::from_bytes(&bytes)
}

/// Test hook: a save whose transaction is aborted after the write was issued (as when a tab
/// closes mid-save).
#[doc(hidden)]
pub async fn save_aborted(index: &HnswIndex, db_name: &str, key: &str) -> Result<(), JsValue> {
    let bytes = index.inner.borrow().to_bytes();
    let db = idb::open(db_name, 1).await?;
    let value: JsValue = js_sys::Uint8Array::from(&bytes[..]).into();
    let r = idb::put(&db, idb::SNAPSHOTS, key, &value, true).await;
    idb::close(&db);
    r.map(|_| ())
}
