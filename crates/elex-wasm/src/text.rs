//! `TextIndex`: BM25 full-text search for JS, and `hybridSearch`, which fuses a vector search
//! and a text search over one id space. The ranking, the batch validator and the fusion live in
//! `elex-text`; this module converts arguments and runs `addBatch` in time slices through the
//! index's queue (as `HnswIndex` does).

use std::cell::{Ref, RefCell, RefMut};
use std::rc::Rc;

use elex_text::{Chunks, Fusion, TextOptions, TokenizerOptions};
use serde::Deserialize;
use tsify_next::Tsify;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::args;
use crate::error::{js_error, text_error, type_error};
use crate::hnsw::{HnswIndex, SearchResult, slice_options};
use crate::idb;
#[cfg(feature = "full")]
use crate::persist;
use crate::persist::Durable;
use crate::task::{DEFAULT_SLICE_MS, Queue, Slicer, step_in_slices};

/// Options of `new TextIndex(options)` (the typings' source, as `HnswIndexOptions`; read by hand).
#[derive(Deserialize, Tsify, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TextIndexOptions {
    /// Reduce English words to their stems (Snowball English: `running` -> `run`); default false.
    #[tsify(optional)]
    stem: Option<bool>,
    /// Skip common English words (`the`, `of`, ...); default false.
    #[tsify(optional)]
    stop_words: Option<bool>,
    /// BM25 term-frequency saturation, 0..=10 (default 1.2).
    #[tsify(optional)]
    k1: Option<f32>,
    /// BM25 length normalization, 0..=1 (default 0.75).
    #[tsify(optional)]
    b: Option<f32>,
}

/// The most results a call may ask for.
const MAX_K: f64 = (1u64 << 31) as f64;

/// Texts read from a JS array per step of `addBatch`.
const READ_TEXTS: u32 = 1024;

/// A BM25 full-text index over caller ids (the same ids as an `HnswIndex`, for hybrid search).
#[wasm_bindgen]
pub struct TextIndex {
    inner: Rc<RefCell<elex_text::TextIndex>>,
    queue: Rc<Queue>,
    /// Set for an index from `TextIndex.open`.
    durable: Option<Rc<Durable<elex_text::TextIndex>>>,
}

fn busy(what: &str) -> JsValue {
    js_error(
        "BUSY",
        format!("{what}: the text index is in use by an operation in progress"),
        false,
    )
}

impl TextIndex {
    fn wrap(t: elex_text::TextIndex) -> TextIndex {
        TextIndex {
            inner: Rc::new(RefCell::new(t)),
            queue: Rc::default(),
            durable: None,
        }
    }

    fn check_persist(&self, what: &str) -> Result<(), JsValue> {
        match &self.durable {
            Some(d) => d.check_writable(what),
            None => Ok(()),
        }
    }

    fn read(&self) -> Result<Ref<'_, elex_text::TextIndex>, JsValue> {
        self.inner
            .try_borrow()
            .map_err(|_| busy("the text index is being changed"))
    }

    fn write(&self, what: &str) -> Result<RefMut<'_, elex_text::TextIndex>, JsValue> {
        self.queue.check_idle(what)?;
        self.inner.try_borrow_mut().map_err(|_| busy(what))
    }

    fn search_with(
        &self,
        query: &JsValue,
        k: &JsValue,
        allow: Option<&[u64]>,
    ) -> Result<SearchResult, JsValue> {
        let query = args::string(query, "query")?;
        let k = args::integer(k, "k", 1.0, MAX_K)? as usize;
        let hits = self.read()?.search(&query, k, allow).map_err(text_error)?;
        Ok(SearchResult::from_scores(
            hits.iter().map(|h| h.id as f64).collect(),
            hits.iter().map(|h| h.score).collect(),
        ))
    }
}

/// The core options from `TextIndexOptions` (every key checked).
fn text_options(options: JsValue) -> Result<TextOptions, JsValue> {
    let o: TextIndexOptions = if options.is_undefined() {
        TextIndexOptions::default()
    } else {
        crate::error::check_keys(
            &options,
            "text index options",
            &["stem", "stopWords", "k1", "b"],
        )?;
        let f = args::Fields {
            obj: &options,
            what: "text index options",
        };
        TextIndexOptions {
            stem: f.boolean("stem")?,
            stop_words: f.boolean("stopWords")?,
            k1: f.number("k1")?.map(|x| x as f32),
            b: f.number("b")?.map(|x| x as f32),
        }
    };
    let d = TextOptions::default();
    let opts = TextOptions {
        tokenizer: TokenizerOptions {
            stem: o.stem.unwrap_or(d.tokenizer.stem),
            stop_words: o.stop_words.unwrap_or(d.tokenizer.stop_words),
        },
        k1: o.k1.unwrap_or(d.k1),
        b: o.b.unwrap_or(d.b),
    };
    Ok(opts)
}

/// The strings of a JS array, read in time slices (a 50,000-passage array is no single long
/// task).
async fn read_texts(v: &JsValue, slicer: &mut Slicer) -> Result<Vec<String>, JsValue> {
    let a = v
        .dyn_ref::<js_sys::Array>()
        .ok_or_else(|| args::wrong_type("texts", "an Array of strings", v))?;
    let len = a.length();
    let mut out = Vec::new();
    args::reserve(&mut out, len as usize, "texts")?;
    let mut at = 0;
    while at < len {
        if a.length() != len {
            return Err(js_error(
                "INVALID_ARGUMENT",
                "texts changed (its length) while it was being read".into(),
                false,
            ));
        }
        let end = (at + READ_TEXTS).min(len);
        for i in at..end {
            let x = a.get(i);
            out.push(
                x.as_string()
                    .ok_or_else(|| args::wrong_type(&format!("texts[{i}]"), "a string", &x))?,
            );
        }
        at = end;
        slicer.pause().await;
    }
    Ok(out)
}

durable_methods!(TextIndex, "text index");

#[wasm_bindgen]
impl TextIndex {
    /// An empty text index; see `TextIndexOptions`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "TextIndexOptions")] options: Option<
            JsValue,
        >,
    ) -> Result<TextIndex, JsValue> {
        crate::set_panic_hook();
        let opts = text_options(options.unwrap_or(JsValue::UNDEFINED))?;
        elex_text::TextIndex::new(opts)
            .map(TextIndex::wrap)
            .map_err(text_error)
    }

    /// Adds one text. `BUSY` while an `addBatch` on this index is in progress.
    pub fn add(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] text: JsValue,
    ) -> Result<(), JsValue> {
        let id = args::id(&id)?;
        let text = args::string(&text, "text")?;
        self.check_persist("add")?;
        self.write("add")?.add(id, &text).map_err(text_error)?;
        if let Some(d) = &self.durable {
            d.record(|log| log.add(id, &text));
        }
        Ok(())
    }

    /// Adds `ids.length` texts; resolves to the number added. Validated whole first, then
    /// indexed in slices of a few milliseconds (third argument: `onProgress(done, total)` or
    /// `SliceOptions`); if `onProgress` throws, the batch is rolled back exactly.
    #[wasm_bindgen(js_name = addBatch, unchecked_return_type = "Promise<number>")]
    pub fn add_batch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Float64Array | number[]")] ids: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string[]")] texts: JsValue,
        #[wasm_bindgen(
            unchecked_optional_param_type = "((done: number, total: number) => void) | SliceOptions"
        )]
        options: Option<JsValue>,
    ) -> js_sys::Promise {
        let parsed = (|| {
            let ids = args::ids(&ids, "ids")?;
            let (progress, slice_ms) = slice_options(&options.unwrap_or(JsValue::UNDEFINED))?;
            Ok::<_, JsValue>((ids, progress, slice_ms))
        })();
        let writable = self.check_persist("addBatch");
        let durable = self.durable.clone();
        let turn = self.queue.join();
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let turn = turn.await;
            writable?;
            let (ids, progress, slice_ms) = parsed?;
            let mut slicer = Slicer::new(slice_ms);
            let texts = read_texts(&texts, &mut slicer).await?;
            let total = ids.len();
            let logged = durable.as_ref().map(|_| (ids.clone(), texts.clone()));
            let batch = inner
                .try_borrow_mut()
                .map_err(|_| busy("addBatch"))?
                .begin_batch(ids, texts)
                .map_err(text_error)?;
            let batch =
                step_in_slices(&inner, batch, total, progress.as_ref(), &mut slicer).await?;
            inner
                .try_borrow_mut()
                .map_err(|_| busy("addBatch"))?
                .commit_batch(batch);
            if let (Some(d), Some((ids, texts))) = (&durable, logged) {
                let bytes = ids.len() * 12 + texts.iter().map(String::len).sum::<usize>();
                d.log_batch(bytes, |log| log.batch(&ids, &texts), turn)
                    .await?;
            }
            Ok(JsValue::from(total as f64))
        })
    }

    /// The `k` best texts for `query` by BM25 (fewer when fewer hold a query word).
    #[wasm_bindgen(unchecked_return_type = "SearchResult")]
    pub fn search(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] query: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] k: JsValue,
    ) -> Result<JsValue, JsValue> {
        self.search_with(&query, &k, None)
            .map(SearchResult::into_js)
    }

    /// The `k` best among the ids in `allow`.
    #[wasm_bindgen(js_name = searchFiltered, unchecked_return_type = "SearchResult")]
    pub fn search_filtered(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] query: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] k: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Float64Array | number[]")] allow: JsValue,
    ) -> Result<JsValue, JsValue> {
        let allow = args::ids(&allow, "allow")?;
        self.search_with(&query, &k, Some(&allow))
            .map(SearchResult::into_js)
    }

    /// The terms the index makes of `text` (lower case; stop words dropped and stems taken when
    /// configured): what a query matches on, for highlighting.
    pub fn terms(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] text: JsValue,
    ) -> Result<Vec<String>, JsValue> {
        let text = args::string(&text, "text")?;
        Ok(self.read()?.tokenizer().terms(&text))
    }

    /// Removes a text; `UNKNOWN_ID` if it is not there. Scores reflect it at once.
    pub fn delete(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number")] id: JsValue,
    ) -> Result<(), JsValue> {
        let id = args::id(&id)?;
        self.check_persist("delete")?;
        self.write("delete")?.delete(id).map_err(text_error)?;
        if let Some(d) = &self.durable {
            d.record(|log| log.delete(id));
        }
        Ok(())
    }

    /// Whether `id` is a live text.
    pub fn has(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number")] id: JsValue,
    ) -> Result<bool, JsValue> {
        let id = args::id(&id)?;
        Ok(self.read()?.contains(id))
    }

    /// Frees the slots and terms deletes leave (results are unchanged), in time slices (see
    /// `SliceOptions`; `onProgress` gets the share read back, 0 to 1): a compacted copy is
    /// written and read back while searches keep answering from the index, then swapped in.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn compact(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "SliceOptions")] options: Option<JsValue>,
    ) -> js_sys::Promise {
        let parsed = slice_options(&options.unwrap_or(JsValue::UNDEFINED));
        let writable = self.check_persist("compact");
        let turn = self.queue.join();
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let _turn = turn.await;
            writable?;
            let (progress, slice_ms) = parsed?;
            let bytes = write_snapshot(&inner, None, slice_ms).await?;
            let fresh = read_snapshot(bytes, progress, slice_ms).await?;
            inner
                .try_borrow_mut()
                .map_err(|_| busy("compact"))?
                .replace_with_compacted(fresh)
                .map_err(text_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    #[cfg(feature = "full")]
    /// Opens the persistent text index `name` in the IndexedDB database `dbName`, or creates
    /// it from the other options (those of `new TextIndex`; see `TextOpenOptions`). Adds and
    /// deletes are applied at once and logged; the layout, `flush`, checkpoints, recovery and
    /// the one writer across tabs are those of `HnswIndex.open`.
    #[wasm_bindgen(unchecked_return_type = "Promise<TextIndex>")]
    pub fn open(
        #[wasm_bindgen(unchecked_param_type = "TextOpenOptions")] options: JsValue,
    ) -> js_sys::Promise {
        crate::set_panic_hook();
        wasm_bindgen_futures::future_to_promise(async move {
            let (place, create) = crate::hnsw::split_open_options(&options)?;
            let has = |k: &str| js_sys::Reflect::has(&create, &k.into()).unwrap_or(false);
            let given = [has("stem"), has("stopWords"), has("k1"), has("b")];
            let opts = text_options(create.into())?;
            let queue: Rc<Queue> = Rc::default();
            let (inner, durable) = persist::open(
                place,
                || elex_text::TextIndex::new(opts).map_err(text_error),
                queue.clone(),
            )
            .await?;
            // An existing index keeps its settings; options given must agree with them.
            let stored = inner.borrow().options();
            let clash = (given[0] && stored.tokenizer.stem != opts.tokenizer.stem)
                || (given[1] && stored.tokenizer.stop_words != opts.tokenizer.stop_words)
                || (given[2] && stored.k1 != opts.k1)
                || (given[3] && stored.b != opts.b);
            if clash {
                let _ = durable.close().await;
                return Err(js_error(
                    "INVALID_OPTIONS",
                    format!("open options: the stored text index has options {stored:?}"),
                    false,
                ));
            }
            Ok(TextIndex {
                inner,
                queue,
                durable: Some(durable),
            }
            .into())
        })
    }

    /// Live texts.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.inner.try_borrow().map_or(0, |t| t.len())
    }

    /// Deleted texts whose slots `compact` would free.
    #[wasm_bindgen(getter, js_name = deletedCount)]
    pub fn deleted_count(&self) -> usize {
        self.inner.try_borrow().map_or(0, |t| t.deleted_count())
    }

    /// Distinct terms held.
    #[wasm_bindgen(getter, js_name = termCount)]
    pub fn term_count(&self) -> usize {
        self.inner.try_borrow().map_or(0, |t| t.term_count())
    }

    /// Bytes the index holds in wasm memory (approximate).
    #[wasm_bindgen(js_name = memoryBytes)]
    pub fn memory_bytes(&self) -> Result<f64, JsValue> {
        Ok(self.read()?.memory_bytes() as f64)
    }

    /// The versioned, checksummed snapshot. `BUSY` while a batch is being added.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Result<Vec<u8>, JsValue> {
        self.queue.check_idle("toBytes")?;
        Ok(self.read()?.to_bytes())
    }

    /// An index from `toBytes` output; damaged bytes are an error (nothing half-loaded).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
    ) -> Result<TextIndex, JsValue> {
        crate::set_panic_hook();
        let bytes = args::bytes(&bytes, "bytes")?;
        elex_text::TextIndex::from_bytes(&bytes)
            .map(TextIndex::wrap)
            .map_err(text_error)
    }

    /// The snapshot (the bytes of `toBytes`), written in time slices (see `SliceOptions`;
    /// `onProgress` gets bytes written and an estimate of the total). Taken after the operations
    /// already queued on the index.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn snapshot(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "SliceOptions")] options: Option<JsValue>,
    ) -> js_sys::Promise {
        let parsed = slice_options(&options.unwrap_or(JsValue::UNDEFINED));
        let turn = self.queue.join();
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let _turn = turn.await;
            let (progress, slice_ms) = parsed?;
            let bytes = write_snapshot(&inner, progress, slice_ms).await?;
            Ok(js_sys::Uint8Array::from(&bytes[..]).into())
        })
    }

    /// An index from a snapshot (a `Uint8Array`), read in time slices: the asynchronous
    /// `fromBytes`.
    #[wasm_bindgen(unchecked_return_type = "Promise<TextIndex>")]
    pub fn restore(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "SliceOptions")] options: Option<JsValue>,
    ) -> js_sys::Promise {
        crate::set_panic_hook();
        let parsed = slice_options(&options.unwrap_or(JsValue::UNDEFINED))
            .and_then(|o| Ok((args::bytes(&bytes, "bytes")?, o)));
        wasm_bindgen_futures::future_to_promise(async move {
            let (bytes, (progress, slice_ms)) = parsed?;
            read_snapshot(bytes, progress, slice_ms)
                .await
                .map(|t| JsValue::from(TextIndex::wrap(t)))
        })
    }

    /// Saves the snapshot under `key` in the IndexedDB database `dbName` (in pieces, one
    /// transaction: whole or not at all); resolves to its size. The snapshot is taken after the
    /// operations already queued on the index, in time slices.
    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn save(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] db_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> js_sys::Promise {
        let names = args::db_key(&db_name, &key);
        let turn = self.queue.join();
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let turn = turn.await;
            let (db_name, key) = names?;
            let bytes = write_snapshot(&inner, None, DEFAULT_SLICE_MS).await?;
            drop(turn);
            idb::save_snapshot(&db_name, &key, &bytes).await?;
            Ok(JsValue::from(bytes.len() as f64))
        })
    }

    /// Loads the snapshot saved under `key` (`NOT_FOUND` if none), read in time slices.
    #[wasm_bindgen(unchecked_return_type = "Promise<TextIndex>")]
    pub fn load(
        #[wasm_bindgen(unchecked_param_type = "string")] db_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> js_sys::Promise {
        crate::set_panic_hook();
        let names = args::db_key(&db_name, &key);
        wasm_bindgen_futures::future_to_promise(async move {
            let (db_name, key) = names?;
            load_text_index(&db_name, &key).await.map(JsValue::from)
        })
    }
}

/// `inner`'s snapshot, written in time slices.
async fn write_snapshot(
    inner: &Rc<RefCell<elex_text::TextIndex>>,
    progress: Option<js_sys::Function>,
    slice_ms: f64,
) -> Result<Vec<u8>, JsValue> {
    let mut slicer = Slicer::new(slice_ms);
    let mut w = inner
        .try_borrow()
        .map_err(|_| busy("snapshot"))?
        .snapshot_writer();
    loop {
        let done = {
            let t = inner.try_borrow().map_err(|_| busy("snapshot"))?;
            w.step(&t, || slicer.expired()).map_err(text_error)?
        };
        if let Some(f) = &progress {
            let (at, total) = w.progress();
            f.call2(&JsValue::NULL, &(at as f64).into(), &(total as f64).into())?;
        }
        if done {
            break;
        }
        slicer.pause().await;
    }
    let t = inner.try_borrow().map_err(|_| busy("snapshot"))?;
    Ok(w.finish(&t))
}

/// An index from snapshot bytes, read in time slices.
async fn read_snapshot(
    bytes: Vec<u8>,
    progress: Option<js_sys::Function>,
    slice_ms: f64,
) -> Result<elex_text::TextIndex, JsValue> {
    let mut slicer = Slicer::new(slice_ms);
    let mut l = elex_text::SnapshotLoader::new(bytes).map_err(text_error)?;
    slicer.pause().await;
    loop {
        let done = l.step(|| slicer.expired()).map_err(text_error)?;
        if let Some(f) = &progress {
            f.call2(&JsValue::NULL, &l.progress().into(), &1.0.into())?;
        }
        if done {
            break;
        }
        slicer.pause().await;
    }
    l.finish().map_err(text_error)
}

/// The text index saved under `key` in `db_name`, read in time slices.
pub(crate) async fn load_text_index(db_name: &str, key: &str) -> Result<TextIndex, JsValue> {
    let bytes = idb::load_snapshot(db_name, key).await?;
    read_snapshot(bytes, None, DEFAULT_SLICE_MS)
        .await
        .map(TextIndex::wrap)
}

#[wasm_bindgen(typescript_custom_section)]
const TS_TEXT_OPEN: &str = r#"
/** Options of `TextIndex.open`: where the index lives (as in `HnswOpenOptions`), plus
 * `TextIndexOptions` used when it is created. */
export interface TextOpenOptions extends TextIndexOptions {
    dbName: string;
    name: string;
    recover?: boolean;
    checkpointShare?: number;
    durability?: "strict" | "relaxed";
}
"#;

#[wasm_bindgen(typescript_custom_section)]
const TS_HYBRID: &str = r#"
/** What `hybridSearch` looks for. */
export interface HybridQuery {
  /** The query's embedding (searched in the vector index); omit for text alone. */
  vector?: Float32Array | Float64Array | number[];
  /** The query's words (searched in the text index); omit for vectors alone. */
  text?: string;
  /** Results wanted. */
  k: number;
  /** `'rrf'` (default: reciprocal rank fusion, constant 60), `{ rrf: c }`, or `{ alpha }`:
   * `alpha * vector + (1 - alpha) * text` over min-max scaled scores, each candidate scored on
   * both sides (the side that did not return it computes its score). */
  fusion?: 'rrf' | { rrf: number } | { alpha: number };
  /** Candidates taken from each side before fusing (default max(k, 50)). */
  depth?: number;
  /** Search breadth of the vector side (default the index's efSearch, at least `depth`). */
  ef?: number;
  /** Only these ids, on both sides. */
  allow?: Float64Array | number[];
  /** Documents embedded in chunks: the vector index holds chunk `c` of document `d` under the
   * id `d * 2 ** chunkBits + c` (0 to 8 bits; default 0, one vector per document). The vector
   * side takes `depth * 2 ** min(chunkBits, 3)` chunk hits, keeps each document at its best
   * chunk, and a document's vector score is its best chunk's; `allow` and the results name
   * documents (`allow.length * 2 ** chunkBits` at most 65,536). */
  chunkBits?: number;
}
"#;

fn field(o: &JsValue, k: &str) -> JsValue {
    js_sys::Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

fn fusion_of(v: &JsValue) -> Result<Fusion, JsValue> {
    if v.is_undefined() || v.as_string().as_deref() == Some("rrf") {
        return Ok(Fusion::Rrf(60.0));
    }
    if v.is_object() && !v.is_function() {
        crate::error::check_keys(v, "fusion", &["rrf", "alpha"])?;
        let (rrf, alpha) = (field(v, "rrf"), field(v, "alpha"));
        let f = match (rrf.is_undefined(), alpha.is_undefined()) {
            (false, true) => Fusion::Rrf(args::finite(&rrf, "fusion.rrf", 0.0, 1e9)? as f32),
            (true, false) => Fusion::Alpha(args::finite(&alpha, "fusion.alpha", 0.0, 1.0)? as f32),
            _ => {
                return Err(type_error(
                    "INVALID_OPTIONS",
                    "fusion: give exactly one of rrf and alpha",
                ));
            }
        };
        return Ok(f);
    }
    Err(args::wrong_type(
        "fusion",
        "'rrf', { rrf: number } or { alpha: number }",
        v,
    ))
}

/// Vector and text search over one id space, fused (see `HybridQuery`): each side returns its
/// `depth` best (among `allow`, when given), and the fusion ranks their union. Ids should name
/// the same item in both indexes.
#[wasm_bindgen(js_name = hybridSearch, unchecked_return_type = "SearchResult")]
pub fn hybrid_search(
    vector_index: &HnswIndex,
    text_index: &TextIndex,
    #[wasm_bindgen(unchecked_param_type = "HybridQuery")] query: JsValue,
) -> Result<JsValue, JsValue> {
    crate::error::check_keys(
        &query,
        "hybrid query",
        &[
            "vector",
            "text",
            "k",
            "fusion",
            "depth",
            "ef",
            "allow",
            "chunkBits",
        ],
    )?;
    let k = args::integer(&field(&query, "k"), "k", 1.0, MAX_K)? as usize;
    let fusion = fusion_of(&field(&query, "fusion"))?;
    let chunks = args::opt_integer(
        &field(&query, "chunkBits"),
        "chunkBits",
        0.0,
        f64::from(Chunks::MAX_BITS),
    )?
    .map_or(Ok(Chunks::default()), |b| Chunks::new(b as u32))
    .map_err(text_error)?;
    let depth = args::opt_integer(&field(&query, "depth"), "depth", 1.0, MAX_K)?
        .map_or(k.max(50), |d| d as usize)
        .max(k);
    let allow = field(&query, "allow");
    let allow = if allow.is_undefined() {
        None
    } else {
        Some(args::ids(&allow, "allow")?)
    };
    let (vector, text) = (field(&query, "vector"), field(&query, "text"));
    if vector.is_undefined() && text.is_undefined() {
        return Err(type_error(
            "INVALID_ARGUMENT",
            "hybrid query: give a vector, a text or both",
        ));
    }
    let depth_js = JsValue::from(depth as f64);
    // The vector side's allow-list names chunks: every chunk id of every allowed document, at
    // most MAX_CHUNK_IDS of them (each is looked up in the index: a larger list would be a long
    // task on the page; a filter by document in the core would lift this bound).
    const MAX_CHUNK_IDS: u64 = 1 << 16;
    let vector_allow: Option<std::borrow::Cow<[u64]>> = match (&allow, chunks.bits()) {
        (Some(a), b) if b > 0 => {
            if (a.len() as u64) << b > MAX_CHUNK_IDS {
                return Err(args::out_of_range(
                    "allow",
                    format!(
                        "has {} ids; with chunkBits {b} at most {} are taken",
                        a.len(),
                        MAX_CHUNK_IDS >> b
                    ),
                ));
            }
            Some(
                a.iter()
                    .filter(|&&d| chunks.fits(d, args::MAX_SAFE as u64))
                    .flat_map(|&d| chunks.ids(d))
                    .collect::<Vec<u64>>()
                    .into(),
            )
        }
        (a, _) => a.as_deref().map(Into::into),
    };
    let vector_hits = if vector.is_undefined() {
        Vec::new()
    } else {
        // Chunked documents: enough chunk hits for about `depth` documents (a document's
        // chunks tend to come together), each document kept at its best chunk.
        let wanted = depth.saturating_mul(1 << chunks.bits().min(3));
        let ef = field(&query, "ef");
        let ef = if ef.is_undefined() {
            JsValue::from(vector_index.ef_search()?.max(wanted) as f64)
        } else {
            ef
        };
        // Ask for no more than the index holds (the vector side errs on k > size).
        let size = vector_index.size();
        if size == 0 {
            Vec::new()
        } else {
            let kk = JsValue::from(wanted.min(size) as f64);
            let mut hits = chunks.to_docs(
                vector_index
                    .search_with(&vector, &kk, &ef, vector_allow.as_deref())?
                    .pairs(),
            );
            hits.truncate(depth);
            hits
        }
    };
    let text_hits = if text.is_undefined() {
        Vec::new()
    } else {
        text_index
            .search_with(&text, &depth_js, allow.as_deref())?
            .pairs()
    };
    // Alpha fusion judges every candidate on both sides: the scores a side did not return are
    // computed for it (rank fusion needs none).
    let query_vector = match fusion {
        Fusion::Alpha(_) if !vector.is_undefined() => Some(args::f32s(&vector, "vector")?),
        _ => None,
    };
    let query_text = text.as_string();
    let fused = elex_text::fuse_complete(
        &vector_hits,
        &text_hits,
        fusion,
        k,
        |ids| match &query_vector {
            Some(q) if chunks.bits() == 0 => vector_index
                .scores_of(q, ids)
                .unwrap_or_else(|_| vec![None; ids.len()]),
            // A document's vector score is its best chunk's: every chunk of every document in
            // one call (the query is prepared once), then the best of each document's run.
            Some(q) => {
                let fits: Vec<bool> = ids
                    .iter()
                    .map(|&d| chunks.fits(d, args::MAX_SAFE as u64))
                    .collect();
                let of: Vec<u64> = ids
                    .iter()
                    .zip(&fits)
                    .filter(|&(_, &f)| f)
                    .flat_map(|(&d, _)| chunks.ids(d))
                    .collect();
                let scores = vector_index.scores_of(q, &of).unwrap_or_default();
                let mut runs = scores.chunks(1 << chunks.bits());
                fits.iter()
                    .map(|&f| {
                        f.then(|| Chunks::best(runs.next().unwrap_or_default().iter().copied()))
                            .flatten()
                    })
                    .collect()
            }
            None => vec![None; ids.len()],
        },
        |ids| match (&query_text, text_index.read()) {
            (Some(t), Ok(ix)) => ix.scores(t, ids),
            _ => vec![None; ids.len()],
        },
    )
    .map_err(text_error)?;
    Ok(SearchResult::from_scores(
        fused.iter().map(|x| x.0 as f64).collect(),
        fused.iter().map(|x| x.1).collect(),
    )
    .into_js())
}

impl crate::task::Stepped for elex_text::TextIndex {
    type Batch = elex_text::PendingBatch;
    fn step(
        &mut self,
        b: &mut Self::Batch,
        stop: &mut dyn FnMut() -> bool,
    ) -> Result<usize, JsValue> {
        Ok(self.step_batch(b, stop))
    }
    fn rollback(&mut self, b: Self::Batch) {
        self.rollback_batch(b);
    }
    fn is_complete(b: &Self::Batch) -> bool {
        b.is_complete()
    }
}
