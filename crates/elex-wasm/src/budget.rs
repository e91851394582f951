//! `BudgetedIndex`: an HNSW index under a byte budget in the browser. The codes and links
//! (`elex_hnsw::BudgetedHnsw`) stay in wasm memory; the exact rows live in IndexedDB (store
//! `rows`, `js/rows.js`) with a hot set in memory under the rest of the budget. A search walks
//! the codes, reads the rows the hot set lacks in one transaction, and re-ranks: it is async.
//!
//! Durability: a batch's rows are committed to IndexedDB (in transactions of a few MB) before
//! its vectors are linked (a failed write rolls the batch back); the codes and links are saved by `save()` (a snapshot in
//! pieces, as `saveIndexedDb` writes) and reopened by `open`. Rows past the saved index's slots
//! (a batch added after the last save) are unused and overwritten by the next batches.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use elex_hnsw::{
    BudgetedHnsw, BudgetedOp, BundleHeader, BundleReader, Filter, Hnsw, Replay, RowPrecision,
    RowStore,
};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::args;
use crate::error::{check_keys, hnsw_error, js_error, type_error};
use crate::hnsw::{MAX_K, SearchResult, batch_args, busy, index_params, promise, slice_options};
use crate::idb;
use crate::task::{Queue, Slicer, step_in_slices};

#[wasm_bindgen(module = "/js/rows.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = rowsOpen)]
    async fn rows_open(db_name: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = logAppend)]
    fn log_append(
        db: &JsValue,
        name: &str,
        seq: f64,
        bytes: &js_sys::Uint8Array,
    ) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(js_name = logAppendQuiet)]
    fn log_append_quiet(
        db: &JsValue,
        name: &str,
        seq: f64,
        bytes: &js_sys::Uint8Array,
    ) -> js_sys::Promise;
    #[wasm_bindgen(catch, js_name = logRead)]
    async fn log_read(db: &JsValue, name: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = logTrim)]
    async fn log_trim(db: &JsValue, name: &str, seq: f64) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = holdIndex)]
    async fn hold_index(db_name: &str, name: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = rowsPlace)]
    async fn rows_place(
        db: &JsValue,
        db_name: &str,
        name: &str,
        kind: &str,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = rowsHas)]
    async fn rows_has(db: &JsValue, store: &str, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = bundleChunks)]
    fn bundle_chunks(source: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = putPiece)]
    async fn put_piece(
        db: &JsValue,
        store: &str,
        key: &str,
        i: u32,
        bytes: &js_sys::Uint8Array,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = putManifest)]
    async fn put_manifest(
        db: &JsValue,
        store: &str,
        key: &str,
        n: u32,
        total: f64,
    ) -> Result<JsValue, JsValue>;
}

/// Where the exact rows are (`rowsPlace` in js/rows.js): IndexedDB or an OPFS file.
#[wasm_bindgen]
extern "C" {
    #[derive(Clone)]
    type RowsPlace;
    /// Writes rows `first..` (`bytes` holds whole rows); resolves once they are durable.
    #[wasm_bindgen(method, catch)]
    async fn put(
        this: &RowsPlace,
        first: u32,
        row_bytes: u32,
        bytes: &js_sys::Uint8Array,
    ) -> Result<JsValue, JsValue>;
    /// The rows of `slots`, back to back (a Uint8Array).
    #[wasm_bindgen(method, catch)]
    async fn get(
        this: &RowsPlace,
        slots: &js_sys::Uint32Array,
        row_bytes: u32,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method)]
    fn close(this: &RowsPlace);
}

/// The `rowStore` option: "indexeddb" (default) or "opfs"; `None` when not given.
fn row_store_of(v: &JsValue) -> Result<Option<&'static str>, JsValue> {
    if v.is_undefined() {
        return Ok(None);
    }
    match v.as_string().as_deref() {
        Some("indexeddb") => Ok(Some("indexeddb")),
        Some("opfs") => Ok(Some("opfs")),
        _ => Err(type_error(
            "INVALID_OPTIONS",
            "rowStore: use \"indexeddb\" or \"opfs\"",
        )),
    }
}

/// The meta record: the rows' precision (1 f32, 2 f16), then where they are (0 IndexedDB,
/// 1 OPFS; absent in records of older builds: IndexedDB).
fn meta_bytes(f16: bool, store: &str) -> [u8; 2] {
    [if f16 { 2 } else { 1 }, u8::from(store == "opfs")]
}

/// Bytes of rows per IndexedDB transaction of `addBatch`.
const PUT_BYTES: usize = 4 << 20;

/// Rows encoded per step of `addBatch` (a few hundred KB).
const ROWS_PER_STEP: usize = 256;

/// The keys of `BudgetedIndexOptions` that are not index options.
const BUDGET_KEYS: [&str; 6] = [
    "dbName",
    "name",
    "budgetBytes",
    "precision",
    "rerank",
    "rowStore",
];

/// Where a batch's rows go: the binding encodes them itself and puts them in IndexedDB; this
/// store only records the first slot they belong at. Reads go through `plan` / `finish`.
#[derive(Default)]
struct HandedRows {
    pending: Option<u32>,
}

impl RowStore for HandedRows {
    fn append(&mut self, first: u32, _rows: &[u8]) -> Result<(), String> {
        self.pending = Some(first);
        Ok(())
    }
    fn read(&mut self, _: &[u32], _: &mut Vec<u8>) -> Result<(), String> {
        Err("rows are read from IndexedDB by the binding".into())
    }
    fn truncate(&mut self, _: u32) -> Result<(), String> {
        self.pending = None;
        Ok(())
    }
}

type Inner = BudgetedHnsw<HandedRows>;

/// A budgeted index's change log: every committed batch and every delete since the last save,
/// one record each (`BudgetedOp`), so a reload (or a crash) loses nothing that resolved.
#[derive(Default)]
struct ChangeLog {
    next: Cell<u64>,
    writes: RefCell<Vec<js_sys::Promise>>,
}

impl ChangeLog {
    /// The next record's number (taken).
    fn take_seq(&self) -> f64 {
        let seq = self.next.get();
        self.next.set(seq + 1);
        seq as f64
    }

    /// Starts writing `op` as the next record; the promise resolves once it is durable.
    fn append(
        &self,
        db: &JsValue,
        name: &str,
        op: &BudgetedOp,
    ) -> Result<js_sys::Promise, JsValue> {
        let mut bytes = Vec::new();
        op.encode(&mut bytes);
        log_append(
            db,
            name,
            self.take_seq(),
            &js_sys::Uint8Array::from(&bytes[..]),
        )
    }

    /// Starts writing `op` as the next record without waiting ([`ChangeLog::settle`] does).
    fn append_later(&self, db: &JsValue, name: &str, op: &BudgetedOp) {
        let mut bytes = Vec::new();
        op.encode(&mut bytes);
        let seq = self.take_seq();
        let p = log_append_quiet(db, name, seq, &js_sys::Uint8Array::from(&bytes[..]));
        self.writes.borrow_mut().push(p);
    }

    /// Waits for the writes in flight; the first error, if any.
    async fn settle(&self) -> Result<(), JsValue> {
        let writes = std::mem::take(&mut *self.writes.borrow_mut());
        let mut first = Ok(());
        for w in writes {
            let r = wasm_bindgen_futures::JsFuture::from(w).await?;
            if !r.is_null() && first.is_ok() {
                first = Err(r);
            }
        }
        first
    }
}

/// Runs `opening` holding the index's Web Lock (taken first: nothing is read for an index
/// another tab or worker holds); the lock is released again if `opening` fails, and kept by
/// the index it makes otherwise.
async fn under_lock<F>(
    db_name: &str,
    name: &str,
    opening: impl FnOnce(js_sys::Function) -> F,
) -> Result<JsValue, JsValue>
where
    F: std::future::Future<Output = Result<BudgetedIndex, JsValue>>,
{
    let release: js_sys::Function = hold_index(db_name, name).await?.unchecked_into();
    let opened = opening(release.clone()).await;
    if opened.is_err() {
        let _ = release.call0(&JsValue::UNDEFINED);
    }
    opened.map(Into::into)
}

/// The database connection and the place of the rows (the connection closed again if the
/// place cannot be opened).
async fn open_rows(
    db_name: &str,
    name: &str,
    store: &str,
) -> Result<(JsValue, RowsPlace), JsValue> {
    let db = rows_open(db_name).await?;
    match rows_place(&db, db_name, name, store).await {
        Ok(r) => Ok((db, r.unchecked_into())),
        Err(e) => {
            idb::close(&db);
            Err(e)
        }
    }
}

/// Saves a new index as it is (its options, no vectors) and drops any log of that name.
async fn start_fresh(
    inner: &Rc<RefCell<Inner>>,
    db: &JsValue,
    db_name: &str,
    name: &str,
    store: &str,
) -> Result<(), JsValue> {
    log_trim(db, name, f64::INFINITY).await?;
    let (bytes, f16) = {
        let h = inner.try_borrow().map_err(|_| busy("open"))?;
        (h.index().to_bytes(), h_is_f16(&h))
    };
    idb::save_snapshot(db_name, &meta_key(name), &meta_bytes(f16, store)).await?;
    idb::save_snapshot(db_name, &snapshot_key(name), &bytes).await
}

/// Replays `name`'s log onto the index just loaded (records it already reflects are skipped):
/// batches re-linked in time slices from their rows; returns the next record's number.
async fn replay_log(
    inner: &Rc<RefCell<Inner>>,
    db: &JsValue,
    name: &str,
    rows: &RowsPlace,
) -> Result<u64, JsValue> {
    let records: js_sys::Array = log_read(db, name).await?.unchecked_into();
    let mut slicer = Slicer::new(crate::task::DEFAULT_SLICE_MS);
    let mut next = 0u64;
    for rec in records.iter() {
        let rec: js_sys::Array = rec.unchecked_into();
        let seq = rec.get(0).as_f64().unwrap_or(0.0) as u64;
        let bytes: js_sys::Uint8Array = rec.get(1).unchecked_into();
        let op = BudgetedOp::decode(&bytes.to_vec()).map_err(hnsw_error)?;
        let step = inner
            .try_borrow()
            .map_err(|_| busy("open"))?
            .replay(&op)
            .map_err(hnsw_error)?;
        match (step, &op) {
            (Replay::Rows { first, n }, BudgetedOp::Batch { ids, .. }) => {
                // In pieces of a few MB, each read, re-linked and committed on its own: decoding
                // and checking a large batch whole would be a long task. Each piece's slots
                // follow the last's, so the pieces make the same index the batch made.
                let rb = inner.try_borrow().map_err(|_| busy("open"))?.row_bytes();
                let per = (PUT_BYTES / rb.max(1)).max(1) as u32;
                let mut at = 0u32;
                while at < n {
                    let end = (at + per).min(n);
                    let slots: Vec<u32> = (first + at..first + end).collect();
                    let piece: js_sys::Uint8Array = rows
                        .get(&js_sys::Uint32Array::from(&slots[..]), rb as u32)
                        .await?
                        .unchecked_into();
                    let part = &ids[at as usize..end as usize];
                    let batch = inner
                        .try_borrow_mut()
                        .map_err(|_| busy("open"))?
                        .begin_replay(first + at, part, &piece.to_vec())
                        .map_err(hnsw_error)?;
                    let batch = step_in_slices(inner, batch, part.len(), None, &mut slicer).await?;
                    inner
                        .try_borrow_mut()
                        .map_err(|_| busy("open"))?
                        .commit_batch(batch)
                        .map_err(hnsw_error)?;
                    at = end;
                    slicer.pause().await;
                }
            }
            (Replay::Delete(id), _) => {
                inner
                    .try_borrow_mut()
                    .map_err(|_| busy("open"))?
                    .delete(id)
                    .map_err(hnsw_error)?;
            }
            _ => {}
        }
        next = seq + 1;
        slicer.pause().await;
    }
    Ok(next)
}

/// An HNSW index under a byte budget: 4-bit codes (default) and links in memory, exact rows in
/// IndexedDB. See `BudgetedIndexOptions`; `BudgetedIndex.open(options)` creates or reopens.
#[wasm_bindgen]
pub struct BudgetedIndex {
    inner: Rc<RefCell<Inner>>,
    db: JsValue,
    rows: RowsPlace,
    /// "indexeddb" or "opfs".
    store: &'static str,
    /// The change log since the last save: the next record's number, and the writes of
    /// deletes still in flight.
    log: Rc<ChangeLog>,
    /// Releases the index's Web Lock (one tab or worker at a time).
    release: js_sys::Function,
    db_name: String,
    name: String,
    queue: Rc<Queue>,
}

/// The snapshot key of a budgeted index's codes and links.
fn snapshot_key(name: &str) -> String {
    format!("budgeted/{name}")
}

/// The record that says which precision the rows have (outside the snapshot's `key#piece`
/// names, which a save replaces).
fn meta_key(name: &str) -> String {
    format!("budgeted-meta/{name}")
}

#[wasm_bindgen(typescript_custom_section)]
const TS_BUDGET: &str = r#"
/** Options of `BudgetedIndex.open`: where it lives, its budget, and (for a new index) the
 * options of `HnswIndexOptions` (storage defaults to "q4"; keepF32 is not allowed: the exact
 * rows are in IndexedDB). */
export interface BudgetedIndexOptions extends Partial<HnswIndexOptions> {
  dbName: string;
  name: string;
  /** Bytes of wasm memory the index may hold: codes, links, ids and the hot rows. */
  budgetBytes: number;
  /** Precision of the exact rows: "f32" (default) or "f16" (half the IndexedDB bytes). */
  precision?: "f32" | "f16";
  /** Candidates re-ranked over their exact rows per search (default 20, at least k). */
  rerank?: number;
  /** Where the exact rows live: "indexeddb" (default; anywhere) or "opfs" (a file in the origin
   * private file system read through a synchronous access handle: far cheaper reads, but only
   * in a dedicated worker, and one open index per file). A saved index keeps its choice. */
  rowStore?: "indexeddb" | "opfs";
}

/** Counters of a budgeted index's searches. */
export interface BudgetStats {
  queries: number;
  hotHits: number;
  rowsRead: number;
  bytesRead: number;
  hitRatio: number;
}
"#;

fn precision_of(v: &JsValue) -> Result<RowPrecision, JsValue> {
    if v.is_undefined() {
        return Ok(RowPrecision::F32);
    }
    match v.as_string().as_deref() {
        Some("f32") => Ok(RowPrecision::F32),
        Some("f16") => Ok(RowPrecision::F16),
        _ => Err(type_error(
            "INVALID_OPTIONS",
            "precision: use \"f32\" or \"f16\"",
        )),
    }
}

fn get(o: &JsValue, k: &str) -> JsValue {
    js_sys::Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

type Place = (String, String, u64, Option<u64>, Option<&'static str>);

/// Where a budgeted index lives and what it may hold, from the options of `open` and
/// `importBundle`: `dbName`, `name`, `budgetBytes`, and the optional `rerank` and `rowStore`.
fn place_options(options: &JsValue) -> Result<Place, JsValue> {
    let db_name = args::string(&get(options, "dbName"), "dbName")?;
    let name = args::string(&get(options, "name"), "name")?;
    let budget = args::integer(
        &get(options, "budgetBytes"),
        "budgetBytes",
        1.0,
        2f64.powi(53),
    )?;
    let rerank = args::opt_integer(&get(options, "rerank"), "rerank", 1.0, MAX_K)?;
    let store = row_store_of(&get(options, "rowStore"))?;
    Ok((db_name, name, budget, rerank, store))
}

#[wasm_bindgen]
impl BudgetedIndex {
    /// Creates the index `name` in IndexedDB database `dbName` (saved at once, empty), or
    /// reopens the one there: its last save, then its change log replayed (every resolved
    /// `addBatch`, every flushed `delete`), in time slices. Index options, if given, must match
    /// the saved ones. `BUDGET_TOO_SMALL` when the codes and links alone need more than
    /// `budgetBytes` (the error names the minimum).
    #[wasm_bindgen(unchecked_return_type = "Promise<BudgetedIndex>")]
    pub fn open(
        #[wasm_bindgen(unchecked_param_type = "BudgetedIndexOptions")] options: JsValue,
    ) -> js_sys::Promise {
        crate::set_panic_hook();
        let parsed = (|| {
            if !options.is_object() {
                return Err(type_error("INVALID_OPTIONS", "open options: not an object"));
            }
            let (db_name, name, budget, rerank, store) = place_options(&options)?;
            let precision = precision_of(&get(&options, "precision"))?;
            // The rest are index options, checked now even when the index exists.
            let rest = js_sys::Object::new();
            for entry in js_sys::Object::entries(options.unchecked_ref()).iter() {
                let pair: js_sys::Array = entry.unchecked_into();
                let key = pair.get(0).as_string().unwrap_or_default();
                if !BUDGET_KEYS.contains(&key.as_str()) {
                    js_sys::Reflect::set(&rest, &key.into(), &pair.get(1))?;
                }
            }
            let has = |k: &str| js_sys::Reflect::has(&rest, &k.into()).unwrap_or(false);
            // Which of dims, metric and storage were given (each must match a saved index).
            let given = (has("dims"), has("metric"), has("storage"));
            if !given.2 {
                js_sys::Reflect::set(&rest, &"storage".into(), &"q4".into())?;
            }
            if !given.0 {
                js_sys::Reflect::set(&rest, &"dims".into(), &1.0.into())?;
            }
            let params = index_params(rest.into())?;
            if params.keep_f32 {
                return Err(type_error(
                    "INVALID_OPTIONS",
                    "open options: keepF32 is not an option of a budgeted index (its exact rows are in IndexedDB)",
                ));
            }
            Ok::<_, JsValue>((
                db_name, name, budget, precision, rerank, params, given, store,
            ))
        })();
        promise(async move {
            let (db_name, name, budget, precision, rerank, params, given, store) = parsed?;
            under_lock(&db_name.clone(), &name.clone(), |release| async move {
            let saved = match idb::load_record(&db_name, &snapshot_key(&name)).await {
                Ok(bytes) => Some(bytes),
                Err(e) if code_of(&e).as_deref() == Some("NOT_FOUND") => None,
                Err(e) => return Err(e),
            };
            let fresh = saved.is_none();
            let (index, precision, store) = match saved {
                Some(bytes) => {
                    // Decoded in time slices: a million vectors' codes are 385 MB.
                    let index =
                        crate::hnsw::read_hnsw(&bytes, None, crate::task::DEFAULT_SLICE_MS).await?;
                    let p = index.params();
                    if (given.0 && p.dims != params.dims)
                        || (given.1 && p.metric != params.metric)
                        || (given.2 && p.storage != params.storage)
                    {
                        return Err(js_error(
                            "INVALID_OPTIONS",
                            format!(
                                "open options: the saved index has dims {}, metric {:?}, storage {:?}",
                                p.dims, p.metric, p.storage
                            ),
                            true,
                        ));
                    }
                    let meta = idb::load_snapshot(&db_name, &meta_key(&name)).await?;
                    let stored = match meta.first() {
                        Some(2) => RowPrecision::F16,
                        _ => RowPrecision::F32,
                    };
                    let saved_store = if meta.get(1) == Some(&1) {
                        "opfs"
                    } else {
                        "indexeddb"
                    };
                    if store.is_some_and(|s| s != saved_store) {
                        return Err(js_error(
                            "INVALID_OPTIONS",
                            format!(
                                "open options: the saved index keeps its rows in {saved_store}"
                            ),
                            true,
                        ));
                    }
                    (index, stored, saved_store)
                }
                None => {
                    if !given.0 {
                        return Err(js_error(
                            "NOT_FOUND",
                            format!(
                                "no budgeted index \"{name}\" in \"{db_name}\" and no dims to create it"
                            ),
                            false,
                        ));
                    }
                    (
                        Hnsw::new(params).map_err(hnsw_error)?,
                        precision,
                        store.unwrap_or("indexeddb"),
                    )
                }
            };
            let mut inner =
                BudgetedHnsw::from_index(index, precision, budget, HandedRows::default())
                    .map_err(hnsw_error)?;
            if let Some(r) = rerank {
                inner.set_rerank(r as usize).map_err(hnsw_error)?;
            }
            let (db, rows) = open_rows(&db_name, &name, store).await?;
            let inner = Rc::new(RefCell::new(inner));
            let started = if fresh {
                // A new index is saved at once (empty), so its options survive a reload
                // before the first save; a log left by an earlier index of this name goes.
                start_fresh(&inner, &db, &db_name, &name, store)
                    .await
                    .map(|()| 0)
            } else {
                replay_log(&inner, &db, &name, &rows).await
            };
            let next = match started {
                Ok(n) => n,
                Err(e) => {
                    rows.close();
                    idb::close(&db);
                    return Err(e);
                }
            };
            let log = Rc::new(ChangeLog::default());
            log.next.set(next);
            Ok(BudgetedIndex {
                inner,
                db,
                rows,
                store,
                log,
                release,
                db_name,
                name,
                queue: Rc::new(Queue::default()),
            })
            })
            .await
        })
    }

    /// Adds a batch, whole or not at all: validated by the core's validator (in slices), its
    /// exact rows committed to IndexedDB, its vectors linked in slices. `BUDGET_TOO_SMALL` (the
    /// error names the budget needed) when the codes and links would outgrow the budget.
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
        let turn = self.queue.join();
        let inner = self.inner.clone();
        let rows = self.rows.clone();
        let (db, name, log) = (self.db.clone(), self.name.clone(), self.log.clone());
        promise(async move {
            let _turn = turn.await;
            let (ids, data, progress, slice_ms) = parsed?;
            let total = ids.len();
            let mut slicer = Slicer::new(slice_ms);
            let data = data.copy_in(&mut slicer).await?;
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
            // The exact rows, encoded in slices.
            let (dims, row_bytes) = {
                let h = inner.try_borrow().map_err(|_| busy("addBatch"))?;
                (h.index().dims().max(1), h.row_bytes())
            };
            let mut encoded = Vec::new();
            args::reserve(&mut encoded, total * row_bytes, "rows")?;
            for chunk in data.chunks(ROWS_PER_STEP * dims) {
                inner
                    .try_borrow()
                    .map_err(|_| busy("addBatch"))?
                    .encode_rows(chunk, &mut encoded)
                    .map_err(hnsw_error)?;
                slicer.pause().await;
            }
            let (batch, first) = {
                let mut h = inner.try_borrow_mut().map_err(|_| busy("addBatch"))?;
                let b = h
                    .begin_encoded_batch(ids.clone(), data, check, &encoded)
                    .map_err(hnsw_error)?;
                let first = h.rows_mut().pending.take().unwrap_or_default();
                (b, first)
            };
            slicer.pause().await;
            let row_bytes = row_bytes as u32;
            // The rows first: a batch whose rows did not reach IndexedDB never goes in. They go
            // in pieces of a few MB (each copy out of wasm memory a short task); a piece written
            // before a failed one is unused, as rows past the index's slots are.
            let mut put = Ok(JsValue::UNDEFINED);
            let step = (PUT_BYTES / row_bytes as usize).max(1) * row_bytes as usize;
            for (i, piece) in encoded.chunks(step).enumerate() {
                let at = first + (i * step / row_bytes as usize) as u32;
                put = rows
                    .put(at, row_bytes, &js_sys::Uint8Array::from(piece))
                    .await;
                if put.is_err() {
                    break;
                }
            }
            drop(encoded);
            if let Err(e) = put {
                if let Ok(mut h) = inner.try_borrow_mut() {
                    let _ = h.rollback_batch(batch);
                }
                return Err(e);
            }
            let batch =
                step_in_slices(&inner, batch, total, progress.as_ref(), &mut slicer).await?;
            // The budget is checked before the batch's record is written, so a batch whose
            // record is durable commits; a record that cannot be written rolls the batch back.
            let fits = inner
                .try_borrow_mut()
                .map_err(|_| busy("addBatch"))?
                .check_fits()
                .map_err(hnsw_error);
            let op = BudgetedOp::Batch {
                first: batch.first(),
                ids,
            };
            let logged = match fits.and_then(|()| log.append(&db, &name, &op)) {
                Ok(p) => wasm_bindgen_futures::JsFuture::from(p).await.map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(e) = logged {
                if let Ok(mut h) = inner.try_borrow_mut() {
                    let _ = h.rollback_batch(batch);
                }
                return Err(e);
            }
            inner
                .try_borrow_mut()
                .map_err(|_| busy("addBatch"))?
                .commit_batch(batch)
                .map_err(hnsw_error)?;
            Ok((total as f64).into())
        })
    }

    /// The `k` nearest: the walk over the codes (breadth `ef`, default the index's efSearch),
    /// then the best `rerank` re-ranked over their exact rows, read from IndexedDB where the
    /// hot set lacks them (one transaction). `allow` restricts the ids searched.
    #[wasm_bindgen(unchecked_return_type = "Promise<SearchResult>")]
    pub fn search(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Float32Array | Float64Array | number[]")]
        query: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] k: JsValue,
        #[wasm_bindgen(
            unchecked_optional_param_type = "{ ef?: number, allow?: Float64Array | number[] }"
        )]
        options: Option<JsValue>,
    ) -> js_sys::Promise {
        let planned = (|| {
            let k = args::integer(&k, "k", 1.0, MAX_K)? as usize;
            let mut q = Vec::new();
            args::f32s_into(&query, "query", &mut q)?;
            let o = options.unwrap_or(JsValue::UNDEFINED);
            let (ef, allow) = if o.is_undefined() {
                (None, None)
            } else {
                check_keys(&o, "search options", &["ef", "allow"])?;
                let ef = args::opt_integer(&get(&o, "ef"), "ef", 1.0, MAX_K)?;
                let a = get(&o, "allow");
                let allow = if a.is_undefined() {
                    None
                } else {
                    Some(args::ids(&a, "allow")?)
                };
                (ef, allow)
            };
            let mut h = self.inner.try_borrow_mut().map_err(|_| busy("search"))?;
            let ef = ef
                .map(|e| e as usize)
                .unwrap_or(h.index().params().ef_search)
                .max(k);
            let filter = match &allow {
                Some(ids) => Filter::Allow(ids),
                None => Filter::None,
            };
            let plan = h.plan(&q, k, ef, filter).map_err(hnsw_error)?;
            Ok::<_, JsValue>((plan, h.row_bytes() as u32, h.index().params().metric))
        })();
        let inner = self.inner.clone();
        let rows = self.rows.clone();
        promise(async move {
            let (plan, rb, metric) = planned?;
            let slots = js_sys::Uint32Array::from(plan.missing());
            let fetched: js_sys::Uint8Array = rows.get(&slots, rb).await?.unchecked_into();
            let hits = inner
                .try_borrow_mut()
                .map_err(|_| busy("search"))?
                .finish(plan, &fetched.to_vec())
                .map_err(hnsw_error)?;
            Ok(SearchResult::from_distances(
                hits.iter().map(|h| h.id as f64).collect(),
                hits.iter().map(|h| h.distance).collect(),
                metric,
            )
            .into_js())
        })
    }

    /// Removes a vector; `UNKNOWN_ID` if it is not there, `BUSY` during an `addBatch`.
    pub fn delete(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number")] id: JsValue,
    ) -> Result<(), JsValue> {
        let id = args::id(&id)?;
        self.queue.check_idle("delete")?;
        let slot = {
            let mut h = self.inner.try_borrow_mut().map_err(|_| busy("delete"))?;
            let slot = h.slot_of(id);
            h.delete(id).map_err(hnsw_error)?;
            slot
        };
        // Its record is written in the background: `flush()` resolves once it is durable.
        if let Some(slot) = slot {
            self.log
                .append_later(&self.db, &self.name, &BudgetedOp::Delete { id, slot });
        }
        Ok(())
    }

    /// Resolves once every change so far is durable (a delete's record is written after
    /// `delete` returns; an `addBatch` resolves once its own is).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn flush(&self) -> js_sys::Promise {
        let turn = self.queue.join();
        let log = self.log.clone();
        promise(async move {
            let _turn = turn.await;
            log.settle().await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Saves the codes and links (the rows are in their store already), whole or not at all,
    /// and trims the change log it makes redundant. Not needed for durability: every resolved
    /// `addBatch` and every flushed `delete` is in the log, replayed by `open`; saving keeps
    /// that replay short. The snapshot is written in time slices (see `SliceOptions`;
    /// `onProgress` gets bytes written and the total), about a megabyte a step.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn save(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "SliceOptions")] options: Option<JsValue>,
    ) -> js_sys::Promise {
        let parsed = crate::hnsw::slice_options(&options.unwrap_or(JsValue::UNDEFINED));
        let turn = self.queue.join();
        let inner = self.inner.clone();
        let (db_name, name) = (self.db_name.clone(), self.name.clone());
        let store = self.store;
        let (db, log) = (self.db.clone(), self.log.clone());
        promise(async move {
            let _turn = turn.await;
            let (progress, slice_ms) = parsed?;
            // Every record below `upto` is reflected in the bytes taken now; they go once the
            // snapshot is saved (a crash in between replays them, and replaying skips them).
            let upto = log.next.get();
            let f16 = h_is_f16(&*inner.try_borrow().map_err(|_| busy("save"))?);
            // Written in steps of about a megabyte with pauses between (no long task however
            // large the index); the queue is held, so nothing changes it meanwhile.
            let bytes = crate::hnsw::write_snapshot(
                &inner,
                |h: &Inner| h.index(),
                None,
                progress,
                slice_ms,
            )
            .await?;
            // A delete whose record failed is in this snapshot: its error does not matter now.
            let _ = log.settle().await;
            idb::save_snapshot(&db_name, &meta_key(&name), &meta_bytes(f16, store)).await?;
            idb::save_record(&db_name, &snapshot_key(&name), &bytes, false).await?;
            log_trim(&db, &name, upto as f64).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Creates the index `name` from a bundle (`elex-bench budget --export`, or
    /// `exportBundle()`): a `Response`, a `ReadableStream`, a `Uint8Array` or an
    /// `ArrayBuffer`, read as a stream; its rows go to IndexedDB as they arrive (in
    /// transactions of a few MB), `onProgress(bytesDone, bytesTotal)` after each. Refused
    /// (`INVALID_OPTIONS`) when an index of that name is saved there; `BUDGET_TOO_SMALL` as soon
    /// as the codes are in and do not fit; a damaged or short bundle is `CHECKSUM_MISMATCH`,
    /// `TRUNCATED`, `BAD_MAGIC` or `CORRUPT` and saves nothing.
    #[wasm_bindgen(js_name = importBundle, unchecked_return_type = "Promise<BudgetedIndex>")]
    pub fn import_bundle(
        #[wasm_bindgen(
            unchecked_param_type = "{ dbName: string, name: string, budgetBytes: number, rerank?: number }"
        )]
        options: JsValue,
        #[wasm_bindgen(
            unchecked_param_type = "Response | ReadableStream<Uint8Array> | Uint8Array | ArrayBuffer"
        )]
        source: JsValue,
        #[wasm_bindgen(
            unchecked_optional_param_type = "((done: number, total: number) => void) | SliceOptions"
        )]
        progress: Option<JsValue>,
    ) -> js_sys::Promise {
        crate::set_panic_hook();
        let parsed = (|| {
            check_keys(
                &options,
                "import options",
                &["dbName", "name", "budgetBytes", "rerank", "rowStore"],
            )?;
            let (db_name, name, budget, rerank, store) = place_options(&options)?;
            let (progress, slice_ms) = slice_options(&progress.unwrap_or(JsValue::UNDEFINED))?;
            let chunks = bundle_chunks(&source)?;
            Ok::<_, JsValue>((
                db_name, name, budget, rerank, store, progress, slice_ms, chunks,
            ))
        })();
        promise(async move {
            let (db_name, name, budget, rerank, store, progress, slice_ms, chunks) = parsed?;
            let store = store.unwrap_or("indexeddb");
            under_lock(&db_name.clone(), &name.clone(), |release| async move {
                let (db, rows) = open_rows(&db_name, &name, store).await?;
                let place = (&db, db_name.as_str(), name.as_str(), &rows, store);
                match import_into(place, budget, rerank, progress, slice_ms, chunks).await {
                    Ok(inner) => Ok(BudgetedIndex {
                        inner: Rc::new(RefCell::new(inner)),
                        db,
                        rows,
                        store,
                        log: Rc::new(ChangeLog::default()),
                        release,
                        db_name,
                        name,
                        queue: Rc::new(Queue::default()),
                    }),
                    Err(e) => {
                        rows.close();
                        idb::close(&db);
                        Err(e)
                    }
                }
            })
            .await
        })
    }

    /// The index as a bundle (what `importBundle` reads): its codes and links, and every row
    /// read back from IndexedDB.
    #[wasm_bindgen(js_name = exportBundle, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn export_bundle(&self) -> js_sys::Promise {
        let turn = self.queue.join();
        let inner = self.inner.clone();
        let rows = self.rows.clone();
        promise(async move {
            let _turn = turn.await;
            let header = {
                let h = inner.try_borrow().map_err(|_| busy("exportBundle"))?;
                BundleHeader {
                    precision: h.precision(),
                    row_bytes: h.row_bytes() as u32,
                    rows: h.index().len_slots() as u64,
                    snapshot_len: h.index().snapshot_writer().total_len(),
                }
            };
            let total = header.total_len().unwrap_or(u64::MAX);
            // Built in a JS array piece by piece, with pauses: the snapshot in steps of about a
            // megabyte, the rows as IndexedDB hands them over (no long task, and no second copy
            // of the whole bundle in wasm memory).
            let out = crate::hnsw::new_bytes(total, "a bundle (export natively past 4 GiB)")?;
            let head = header.encode();
            out.subarray(0, head.len() as u32).copy_from(&head);
            let out = crate::hnsw::write_snapshot(
                &inner,
                |h: &Inner| h.index(),
                Some((out, head.len() as u32)),
                None,
                crate::task::DEFAULT_SLICE_MS,
            )
            .await?;
            let mut at = (head.len() as u64 + header.snapshot_len) as u32;
            let rb = header.row_bytes as usize;
            let per = (PUT_BYTES / rb.max(1)).max(1) as u32;
            let mut sum = elex_hnsw::Checksum::new();
            let mut piece = Vec::new();
            let mut first = 0u32;
            while (first as u64) < header.rows {
                let last = (first + per).min(header.rows as u32);
                let slots: Vec<u32> = (first..last).collect();
                let got: js_sys::Uint8Array = rows
                    .get(&js_sys::Uint32Array::from(&slots[..]), rb as u32)
                    .await?
                    .unchecked_into();
                if got.length() as usize != (last - first) as usize * rb {
                    return Err(js_error(
                        "ROW_STORE",
                        format!(
                            "the row store gave {} bytes for rows {first}..{last} of {rb} bytes",
                            got.length()
                        ),
                        false,
                    ));
                }
                piece.resize(got.length() as usize, 0);
                got.copy_to(&mut piece);
                sum.update(&piece);
                out.set(&got, at);
                at += got.length();
                first = last;
            }
            let end = sum.finish().to_le_bytes();
            out.subarray(at, at + end.len() as u32).copy_from(&end);
            Ok(out.into())
        })
    }

    /// Live vectors.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> Result<usize, JsValue> {
        Ok(self.inner.try_borrow().map_err(|_| busy("size"))?.len())
    }

    /// Bytes held in wasm memory: codes, links, ids and hot rows. Never above the budget.
    #[wasm_bindgen(js_name = memoryBytes)]
    pub fn memory_bytes(&self) -> Result<f64, JsValue> {
        Ok(self
            .inner
            .try_borrow()
            .map_err(|_| busy("memoryBytes"))?
            .memory_bytes() as f64)
    }

    /// The smallest budget the index fits in now (codes, links and ids; no hot rows).
    #[wasm_bindgen(js_name = minimumBytes)]
    pub fn minimum_bytes(&self) -> Result<f64, JsValue> {
        Ok(self
            .inner
            .try_borrow()
            .map_err(|_| busy("minimumBytes"))?
            .minimum_bytes() as f64)
    }

    /// The budget in bytes.
    #[wasm_bindgen(getter, js_name = budgetBytes)]
    pub fn budget_bytes(&self) -> Result<f64, JsValue> {
        Ok(self
            .inner
            .try_borrow()
            .map_err(|_| busy("budgetBytes"))?
            .budget() as f64)
    }

    /// Changes the budget (the hot set shrinks or grows); `BUDGET_TOO_SMALL` below the minimum.
    #[wasm_bindgen(js_name = setBudget)]
    pub fn set_budget(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number")] bytes: JsValue,
    ) -> Result<(), JsValue> {
        let b = args::integer(&bytes, "budgetBytes", 1.0, 2f64.powi(53))?;
        self.inner
            .try_borrow_mut()
            .map_err(|_| busy("setBudget"))?
            .set_budget(b)
            .map_err(hnsw_error)
    }

    /// Search counters: queries, rows from the hot set and from IndexedDB, bytes read.
    #[wasm_bindgen(unchecked_return_type = "BudgetStats")]
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        let s = self.inner.try_borrow().map_err(|_| busy("stats"))?.stats();
        let o = js_sys::Object::new();
        let set = |k: &str, v: f64| js_sys::Reflect::set(&o, &k.into(), &v.into());
        set("queries", s.queries as f64)?;
        set("hotHits", s.hot_hits as f64)?;
        set("rowsRead", s.rows_read as f64)?;
        set("bytesRead", s.bytes_read as f64)?;
        set("hitRatio", s.hit_ratio())?;
        Ok(o.into())
    }

    /// Where the exact rows live: "indexeddb" or "opfs".
    #[wasm_bindgen(getter, js_name = rowStore)]
    pub fn row_store(&self) -> String {
        self.store.into()
    }

    /// Closes the IndexedDB connection and the rows file and lets another tab or worker open
    /// the index (what is not saved is in the change log).
    pub fn close(&self) {
        self.rows.close();
        idb::close(&self.db);
        let _ = self.release.call0(&JsValue::UNDEFINED);
    }
}

/// Whether the rows are f16 (two bytes per component).
fn h_is_f16(h: &Inner) -> bool {
    h.precision() == RowPrecision::F16
}

/// The `code` of a JS error, if any.
fn code_of(e: &JsValue) -> Option<String> {
    js_sys::Reflect::get(e, &"code".into()).ok()?.as_string()
}

/// Reads a bundle from `chunks` into IndexedDB under `name` (see `importBundle`).
async fn import_into(
    (db, db_name, name, rows, store): (&JsValue, &str, &str, &RowsPlace, &str),
    budget: u64,
    rerank: Option<u64>,
    progress: Option<js_sys::Function>,
    slice_ms: f64,
    chunks: JsValue,
) -> Result<Inner, JsValue> {
    if rows_has(db, idb::SNAPSHOTS, &snapshot_key(name))
        .await?
        .is_truthy()
    {
        return Err(js_error(
            "INVALID_OPTIONS",
            format!(
                "importBundle: an index named \"{name}\" is saved in \"{db_name}\": import under another name"
            ),
            false,
        ));
    }
    // A log left without its index (none is saved under this name) is not this index's.
    log_trim(db, name, f64::INFINITY).await?;
    let read = js_sys::Reflect::get(&chunks, &"read".into())?
        .dyn_into::<js_sys::Function>()
        .map_err(|_| type_error("INVALID_ARGUMENT", "importBundle: no reader"))?;
    let mut slicer = Slicer::new(slice_ms);
    let mut reader = BundleReader::new();
    let (mut pending, mut snapshot) = (Vec::new(), Vec::new());
    let mut inner: Option<Inner> = None;
    let (mut next, mut pieces) = (0u32, 0u32);
    let mut done = 0u64;
    let key = snapshot_key(name);
    loop {
        let p: js_sys::Promise = read.call0(&chunks)?.unchecked_into();
        let chunk = wasm_bindgen_futures::JsFuture::from(p).await?;
        if chunk.is_null() || chunk.is_undefined() {
            break;
        }
        let chunk = chunk
            .dyn_into::<js_sys::Uint8Array>()
            .map_err(|_| type_error("INVALID_ARGUMENT", "importBundle: a chunk is not bytes"))?;
        // Large chunks are taken a megabyte at a time, each a short step.
        let len = chunk.length();
        let mut at = 0u32;
        while at < len {
            let n = (len - at).min(1 << 20);
            let bytes = chunk.subarray(at, at + n).to_vec();
            at += n;
            done += u64::from(n);
            reader
                .feed(&bytes, &mut snapshot, &mut pending)
                .map_err(hnsw_error)?;
            slicer.pause().await;
        }
        // The snapshot's pieces are saved as they come (the record is made whole by its
        // manifest, written last), the rows in transactions of a few MB.
        let complete = reader.snapshot_complete();
        if snapshot.len() >= PUT_BYTES || (complete && !snapshot.is_empty()) {
            put_piece(
                db,
                idb::SNAPSHOTS,
                &key,
                pieces,
                &js_sys::Uint8Array::from(&snapshot[..]),
            )
            .await?;
            pieces += 1;
            snapshot.clear();
        }
        if inner.is_none() && complete {
            let index = reader.take_index().map_err(hnsw_error)?;
            let precision = reader.header().map_or(RowPrecision::F32, |h| h.precision);
            let mut b = BudgetedHnsw::from_index(index, precision, budget, HandedRows::default())
                .map_err(hnsw_error)?;
            if let Some(r) = rerank {
                b.set_rerank(r as usize).map_err(hnsw_error)?;
            }
            inner = Some(b);
            slicer.pause().await;
        }
        let rb = reader.header().map_or(1, |h| h.row_bytes.max(1) as usize);
        while pending.len() >= PUT_BYTES.max(rb) {
            let take = (PUT_BYTES / rb * rb).max(rb);
            rows.put(next, rb as u32, &js_sys::Uint8Array::from(&pending[..take]))
                .await?;
            next += (take / rb) as u32;
            pending.drain(..take);
        }
        if let (Some(f), Some(h)) = (&progress, reader.header()) {
            let total = h.total_len().unwrap_or(0) as f64;
            f.call2(&JsValue::NULL, &(done as f64).into(), &total.into())?;
        }
    }
    let rb = reader.header().map_or(1, |h| h.row_bytes.max(1) as usize);
    if !pending.is_empty() {
        rows.put(next, rb as u32, &js_sys::Uint8Array::from(&pending[..]))
            .await?;
    }
    let header = reader.header().copied();
    reader.finish().map_err(hnsw_error)?;
    let (Some(inner), Some(h)) = (inner, header) else {
        return Err(hnsw_error(elex_hnsw::HnswError::Truncated {
            needed: 40,
            got: done,
        }));
    };
    let f16 = h.precision == RowPrecision::F16;
    idb::save_snapshot(db_name, &meta_key(name), &meta_bytes(f16, store)).await?;
    put_manifest(db, idb::SNAPSHOTS, &key, pieces, h.snapshot_len as f64).await?;
    Ok(inner)
}

impl crate::task::Stepped for Inner {
    type Batch = elex_hnsw::BudgetedBatch;
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
