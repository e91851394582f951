//! Persistent indexes (`HnswIndex.open`): the IndexedDB adapter around the durable layout of
//! `elex-store` and the op log of `elex-hnsw`.
//!
//! Every mutation is applied in memory and its operation appended to a pending log; the
//! operations of one task go out as one log record in one transaction (committed from a
//! microtask, after the task's synchronous code). `flush()` resolves once every earlier record
//! is committed. A checkpoint copies the index (one short step), writes the copy as a new
//! generation of pages in time slices while the index keeps taking writes, then switches the
//! manifest in one transaction. Opening reads the manifest, the pages and the log, and replays
//! the log in time slices. One tab or worker is the writer (a Web Lock); the others follow
//! the writer's commits (BroadcastChannel) and take over when it closes.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use elex_hnsw::{HEADER_LEN, Hnsw, Op, OpLog, SnapshotReader, decode_ops};
use elex_store::{DEFAULT_PAGE_BYTES, Kind, LogScan, Manifest, StoreError};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::error::{hnsw_error, js_error};
use crate::task::{DEFAULT_SLICE_MS, Queue, Slicer};

#[wasm_bindgen(module = "/js/durable.js")]
extern "C" {
    /// The IndexedDB side of one persistent object (`js/durable.js`).
    #[derive(Clone)]
    pub(crate) type DurableStore;
    #[wasm_bindgen(catch, static_method_of = DurableStore, js_name = open)]
    async fn open_store(
        db_name: &str,
        name: &str,
        durability: &str,
        on_news: &js_sys::Function,
        on_writer: &js_sys::Function,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn writer(this: &DurableStore) -> bool;
    #[wasm_bindgen(catch, method, js_name = readManifest)]
    async fn read_manifest(this: &DurableStore) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, js_name = readPage)]
    async fn read_page(
        this: &DurableStore,
        generation: f64,
        index: u32,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, js_name = readLog)]
    async fn read_log(this: &DurableStore, from: f64) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method)]
    fn append(this: &DurableStore, seq: f64, bytes: &js_sys::Uint8Array) -> js_sys::Promise;
    #[wasm_bindgen(catch, method)]
    async fn flushed(this: &DurableStore) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, js_name = putPage)]
    async fn put_page(
        this: &DurableStore,
        generation: f64,
        index: u32,
        bytes: &js_sys::Uint8Array,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, js_name = switchTo)]
    async fn switch_to(
        this: &DurableStore,
        manifest: &js_sys::Uint8Array,
        generation: f64,
        log_start: f64,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, js_name = truncateLog)]
    async fn truncate_log(this: &DurableStore, from: f64) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method)]
    fn close(this: &DurableStore);
}

/// Damaged pages or manifest: `CORRUPT`; a broken log: `DATA_LOST` (both name what).
pub(crate) fn store_error(e: StoreError) -> JsValue {
    let code = match &e {
        StoreError::LogLost { .. } => "DATA_LOST",
        StoreError::Version { .. } => "UNSUPPORTED_VERSION",
        StoreError::Damaged { .. } => "CORRUPT",
    };
    js_error(code, e.to_string(), false)
}

/// Bytes moved between JS and wasm memory per step.
const CHUNK_BYTES: usize = 1 << 20;
/// The log never triggers a checkpoint below this many bytes (tiny indexes would otherwise
/// checkpoint on every commit).
const MIN_CHECKPOINT_LOG: u64 = 1 << 20;

/// A JS callback kept alive by the index.
type Callback = Closure<dyn FnMut(JsValue)>;

/// How a persistent index was opened.
pub(crate) struct OpenOptions {
    pub db_name: String,
    pub name: String,
    pub recover: bool,
    /// A checkpoint starts by itself when the log passes this share of the snapshot's size
    /// (`f64::INFINITY`: never).
    pub checkpoint_share: f64,
    pub durability: String,
    pub page_bytes: usize,
}

/// What a recovering open dropped.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Recovered {
    pub lost: u64,
    pub first_lost: Option<u64>,
}

/// The persistent side of one `HnswIndex`.
pub(crate) struct Durable {
    inner: Rc<RefCell<Hnsw>>,
    queue: Rc<Queue>,
    store: DurableStore,
    opts: OpenOptions,
    pending: RefCell<OpLog>,
    scheduled: Cell<bool>,
    writable: Cell<bool>,
    closed: Cell<bool>,
    next_seq: Cell<u64>,
    generation: Cell<u64>,
    snapshot_len: Cell<u64>,
    /// Bytes of log records since the current checkpoint.
    log_bytes: Cell<u64>,
    /// Bytes handed to IndexedDB since open (records, pages, manifests).
    written: Cell<f64>,
    checkpoints: Cell<u32>,
    running: RefCell<Option<js_sys::Promise>>,
    /// Catch-up requested while one runs (a follower).
    dirty: Cell<bool>,
    catching_up: Cell<bool>,
    pub(crate) recovered: Recovered,
    /// The JS callbacks (news, promotion); dropped on close to end the reference cycle.
    callbacks: RefCell<Vec<Callback>>,
    slot: Rc<RefCell<Option<Rc<Durable>>>>,
}

fn closed_error(what: &str) -> JsValue {
    js_error(
        "CLOSED",
        format!("{what}: the index was closed; open it again"),
        false,
    )
}

fn u8s(bytes: &[u8]) -> js_sys::Uint8Array {
    js_sys::Uint8Array::from(bytes)
}

impl Durable {
    /// Refuses a mutation on a follower (`READ_ONLY`) or a closed index (`CLOSED`), before
    /// anything changes.
    pub(crate) fn check_writable(&self, what: &str) -> Result<(), JsValue> {
        if self.closed.get() {
            return Err(closed_error(what));
        }
        if !self.writable.get() {
            return Err(js_error(
                "READ_ONLY",
                format!(
                    "{what}: another tab or worker is the writer of \"{}\"; this one follows \
                     its commits and becomes the writer when that one closes (see `readOnly`)",
                    self.opts.name
                ),
                false,
            ));
        }
        Ok(())
    }

    pub(crate) fn writable(&self) -> bool {
        self.writable.get() && !self.closed.get()
    }

    /// Appends an applied mutation to the pending record; the record goes out after the
    /// current task's synchronous code.
    pub(crate) fn record(self: &Rc<Self>, f: impl FnOnce(&mut OpLog)) {
        f(&mut self.pending.borrow_mut());
        if !self.scheduled.replace(true) {
            let me = self.clone();
            wasm_bindgen_futures::spawn_local(async move {
                me.commit();
            });
        }
    }

    /// Sends the pending operations as the next log record (its transaction starts now).
    fn commit(self: &Rc<Self>) {
        self.scheduled.set(false);
        let (ops, payload) = self.pending.borrow_mut().take();
        if ops == 0 || self.closed.get() {
            return;
        }
        let seq = self.next_seq.get();
        let bytes = elex_store::log_record(Kind::Hnsw, seq, ops, &payload);
        drop(payload);
        self.next_seq.set(seq + 1);
        self.log_bytes
            .set(self.log_bytes.get() + bytes.len() as u64);
        self.written.set(self.written.get() + bytes.len() as f64);
        let _ = self.store.append(seq as f64, &u8s(&bytes));
        self.maybe_checkpoint();
    }

    /// Starts a checkpoint when the log has grown past its share of the snapshot.
    fn maybe_checkpoint(self: &Rc<Self>) {
        let limit = (self.opts.checkpoint_share * self.snapshot_len.get() as f64)
            .max(MIN_CHECKPOINT_LOG as f64);
        if self.running.borrow().is_some() || (self.log_bytes.get() as f64) < limit {
            return;
        }
        let _ = self.start_checkpoint();
    }

    /// Resolves when every mutation made so far is durable.
    pub(crate) async fn flush(self: &Rc<Self>) -> Result<(), JsValue> {
        if self.closed.get() {
            return Err(closed_error("flush"));
        }
        self.commit();
        self.store.flushed().await.map(|_| ())
    }

    /// Logs a committed batch and resolves once it is durable. A batch larger than the log's
    /// share of the snapshot is made durable by a checkpoint instead of a log record.
    pub(crate) async fn log_batch(
        self: &Rc<Self>,
        ids: &[u64],
        vectors: &[f32],
    ) -> Result<(), JsValue> {
        let bytes = (ids.len() * 8 + vectors.len() * 4) as f64;
        let limit = (self.opts.checkpoint_share * self.snapshot_len.get() as f64)
            .max(DEFAULT_PAGE_BYTES as f64);
        if bytes > limit {
            self.commit();
            return self.checkpoint().await;
        }
        self.pending.borrow_mut().batch(ids, vectors);
        self.flush().await
    }

    /// A checkpoint now (after any running one), resolved when its manifest is switched.
    pub(crate) async fn checkpoint(self: &Rc<Self>) -> Result<(), JsValue> {
        if self.closed.get() {
            return Err(closed_error("checkpoint"));
        }
        if !self.writable.get() {
            self.check_writable("checkpoint")?;
        }
        loop {
            let running = self.running.borrow().clone();
            match running {
                Some(p) => {
                    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
                }
                None => break,
            }
        }
        let p = self.start_checkpoint();
        wasm_bindgen_futures::JsFuture::from(p).await.map(|_| ())
    }

    fn start_checkpoint(self: &Rc<Self>) -> js_sys::Promise {
        let me = self.clone();
        let p = wasm_bindgen_futures::future_to_promise(async move {
            let r = me.write_checkpoint().await;
            me.running.replace(None);
            r.map(|_| JsValue::UNDEFINED)
        });
        self.running.replace(Some(p.clone()));
        p
    }

    async fn write_checkpoint(self: &Rc<Self>) -> Result<(), JsValue> {
        // The copy and the log position it stands for are taken together, between operations.
        let (copy, log_start, covered) = {
            let _turn = self.queue.join().await;
            if self.closed.get() {
                return Err(closed_error("checkpoint"));
            }
            self.commit();
            let copy = self
                .inner
                .try_borrow()
                .map_err(|_| crate::hnsw::busy("checkpoint"))?
                .try_clone()
                .map_err(hnsw_error)?;
            (copy, self.next_seq.get(), self.log_bytes.get())
        };
        let generation = self.generation.get() + 1;
        let m = write_pages(
            &self.store,
            &copy,
            generation,
            log_start,
            self.opts.page_bytes,
            &self.written,
        )
        .await?;
        drop(copy);
        let manifest = m.to_bytes();
        self.store
            .switch_to(&u8s(&manifest), generation as f64, log_start as f64)
            .await?;
        self.written.set(self.written.get() + manifest.len() as f64);
        self.generation.set(generation);
        self.snapshot_len.set(m.snapshot_len);
        self.log_bytes
            .set(self.log_bytes.get().saturating_sub(covered));
        self.checkpoints.set(self.checkpoints.get() + 1);
        Ok(())
    }

    /// Figures for `storageStats()`.
    pub(crate) fn stats(&self) -> Result<JsValue, JsValue> {
        let o = js_sys::Object::new();
        let set = |k: &str, v: f64| js_sys::Reflect::set(&o, &k.into(), &v.into());
        set("generation", self.generation.get() as f64)?;
        set("nextSeq", self.next_seq.get() as f64)?;
        set("logBytes", self.log_bytes.get() as f64)?;
        set("snapshotBytes", self.snapshot_len.get() as f64)?;
        set("bytesWritten", self.written.get())?;
        set("checkpoints", f64::from(self.checkpoints.get()))?;
        Ok(o.into())
    }

    /// Flushes, gives up the writer's lock, and closes the database connection.
    pub(crate) async fn close(self: &Rc<Self>) -> Result<(), JsValue> {
        if self.closed.get() {
            return Ok(());
        }
        let flushed = if self.writable.get() {
            self.flush().await
        } else {
            Ok(())
        };
        let running = self.running.borrow().clone();
        if let Some(p) = running {
            let _ = wasm_bindgen_futures::JsFuture::from(p).await;
        }
        self.closed.set(true);
        self.writable.set(false);
        self.store.close();
        self.slot.replace(None);
        self.callbacks.borrow_mut().clear();
        flushed
    }

    /// A follower: applies what the writer committed since the last catch-up (or reloads the
    /// checkpoint when the records it needs were folded into a newer one).
    async fn catch_up(self: Rc<Self>) {
        self.dirty.set(true);
        if self.catching_up.replace(true) {
            return;
        }
        while self.dirty.replace(false) && !self.closed.get() {
            let _turn = self.queue.join().await;
            if let Err(e) = self.catch_up_once().await {
                web_log(&format!(
                    "elex: following \"{}\" failed: {e:?}",
                    self.opts.name
                ));
            }
        }
        self.catching_up.set(false);
    }

    async fn catch_up_once(self: &Rc<Self>) -> Result<(), JsValue> {
        let raw = self.store.read_manifest().await?;
        if raw.is_undefined() {
            return Ok(());
        }
        let m = Manifest::from_bytes(&bytes_of(&raw, "the manifest")?, Kind::Hnsw)
            .map_err(store_error)?;
        if m.generation != self.generation.get()
            && (self.generation.get() == 0 || m.log_start > self.next_seq.get())
        {
            // The records after our position were folded into a newer checkpoint: reload.
            let mut slicer = Slicer::new(DEFAULT_SLICE_MS);
            let h = read_pages(&self.store, &m, &mut slicer).await?;
            *self
                .inner
                .try_borrow_mut()
                .map_err(|_| crate::hnsw::busy("follow"))? = h;
            self.generation.set(m.generation);
            self.snapshot_len.set(m.snapshot_len);
            self.next_seq.set(m.log_start);
            self.log_bytes.set(0);
        }
        let mut slicer = Slicer::new(DEFAULT_SLICE_MS);
        let end = replay_log(
            &self.store,
            &self.inner,
            self.next_seq.get(),
            true,
            &mut slicer,
        )
        .await?;
        self.next_seq.set(end.next_seq);
        self.log_bytes.set(self.log_bytes.get() + end.bytes);
        if m.generation > self.generation.get() {
            self.generation.set(m.generation);
            self.snapshot_len.set(m.snapshot_len);
        }
        Ok(())
    }

    /// This follower became the writer: catch up, then accept writes.
    async fn promote(self: Rc<Self>) {
        let _turn = self.queue.join().await;
        if self.closed.get() {
            return;
        }
        if let Err(e) = self.catch_up_once().await {
            web_log(&format!(
                "elex: taking over \"{}\" failed: {e:?}",
                self.opts.name
            ));
            return;
        }
        self.writable.set(true);
    }
}

fn web_log(msg: &str) {
    web_sys_console_warn(msg);
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn web_sys_console_warn(s: &str);
}

fn bytes_of(v: &JsValue, what: &str) -> Result<Vec<u8>, JsValue> {
    v.dyn_ref::<js_sys::Uint8Array>()
        .map(|a| a.to_vec())
        .ok_or_else(|| {
            store_error(StoreError::Damaged {
                what: what.to_string(),
                reason: if v.is_undefined() {
                    "missing".into()
                } else {
                    "not bytes".into()
                },
            })
        })
}

/// Writes `h` as checkpoint `generation`: pages of `page_bytes`, each in its own transaction,
/// in time slices (page 0, which starts with the snapshot header, goes last: the header is
/// known only once the body is written).
async fn write_pages(
    store: &DurableStore,
    h: &Hnsw,
    generation: u64,
    log_start: u64,
    page_bytes: usize,
    written: &Cell<f64>,
) -> Result<Manifest, JsValue> {
    let mut w = h.snapshot_writer();
    let total = w.total_len();
    let m = Manifest::new(Kind::Hnsw, generation, total, page_bytes, log_start);
    let put = |i: u32, payload: &[u8]| {
        let framed = elex_store::page(Kind::Hnsw, generation, i, m.pages, payload);
        written.set(written.get() + framed.len() as f64);
        let bytes = u8s(&framed);
        async move { store.put_page(generation as f64, i, &bytes).await }
    };
    let mut slicer = Slicer::new(DEFAULT_SLICE_MS);
    let page_len = |i: u32| {
        let r = m.page_range(i);
        (r.end - r.start) as usize
    };
    let mut buf: Vec<u8> = vec![0; HEADER_LEN];
    let mut page0: Option<Vec<u8>> = None;
    let mut index = 0u32;
    let mut chunk = Vec::with_capacity(CHUNK_BYTES);
    loop {
        chunk.clear();
        let more = w
            .next_chunk(h, &mut chunk, CHUNK_BYTES)
            .map_err(hnsw_error)?;
        buf.extend_from_slice(&chunk);
        while index < m.pages && buf.len() >= page_len(index) {
            let rest = buf.split_off(page_len(index));
            let full = std::mem::replace(&mut buf, rest);
            if index == 0 {
                page0 = Some(full);
            } else {
                put(index, &full).await?;
            }
            index += 1;
            slicer.pause().await;
        }
        if !more {
            break;
        }
        slicer.pause().await;
    }
    if index != m.pages || !buf.is_empty() {
        return Err(hnsw_error(elex_hnsw::HnswError::Corrupt(format!(
            "the snapshot writer gave {} pages where {} were expected",
            index, m.pages
        ))));
    }
    let mut page0 = page0.unwrap_or_default();
    let header = w.header(h).map_err(hnsw_error)?;
    page0[..HEADER_LEN].copy_from_slice(&header);
    put(0, &page0).await?;
    Ok(m)
}

/// Reads and checks the pages of `m` into an index, in time slices.
async fn read_pages(
    store: &DurableStore,
    m: &Manifest,
    slicer: &mut Slicer,
) -> Result<Hnsw, JsValue> {
    let mut reader: Option<SnapshotReader> = None;
    for i in 0..m.pages {
        let what = format!(
            "page {i} of {} of checkpoint generation {}",
            m.pages, m.generation
        );
        let raw = store.read_page(m.generation as f64, i).await?;
        let bytes = bytes_of(&raw, &what)?;
        let payload = elex_store::read_page(&bytes, Kind::Hnsw, m.generation, i, m.pages)
            .map_err(store_error)?;
        let expected = m.page_range(i);
        if payload.len() as u64 != expected.end - expected.start {
            return Err(store_error(StoreError::Damaged {
                what,
                reason: format!(
                    "{} payload bytes where the manifest expects {}",
                    payload.len(),
                    expected.end - expected.start
                ),
            }));
        }
        let mut rest = payload;
        if reader.is_none() {
            let head = &rest[..rest.len().min(HEADER_LEN)];
            reader = Some(SnapshotReader::new(head, m.snapshot_len).map_err(hnsw_error)?);
            rest = &rest[head.len()..];
        }
        let r = reader.as_mut().expect("set above");
        for piece in rest.chunks(CHUNK_BYTES) {
            r.feed(piece).map_err(hnsw_error)?;
            slicer.pause().await;
        }
    }
    reader
        .ok_or_else(|| {
            store_error(StoreError::Damaged {
                what: "the checkpoint".into(),
                reason: "no pages".into(),
            })
        })?
        .finish()
        .map_err(hnsw_error)
}

/// What a replay reached.
struct Replayed {
    next_seq: u64,
    lost: u64,
    first_lost: Option<u64>,
    bytes: u64,
}

/// Replays the log from `from` onto `inner`, record by record, each whole or not at all.
async fn replay_log(
    store: &DurableStore,
    inner: &Rc<RefCell<Hnsw>>,
    from: u64,
    recover: bool,
    slicer: &mut Slicer,
) -> Result<Replayed, JsValue> {
    let pair: js_sys::Array = store.read_log(from as f64).await?.unchecked_into();
    let seqs: js_sys::Array = pair.get(0).unchecked_into();
    let records: js_sys::Array = pair.get(1).unchecked_into();
    let mut scan = LogScan::new(Kind::Hnsw, from);
    let mut bytes = 0u64;
    for i in 0..seqs.length() {
        let seq = seqs.get(i).as_f64().unwrap_or(-1.0);
        if !(seq >= 0.0 && seq.fract() == 0.0) {
            continue;
        }
        let raw = records.get(i);
        let data = raw
            .dyn_ref::<js_sys::Uint8Array>()
            .map(|a| a.to_vec())
            .unwrap_or_default();
        let Some(record) = scan.next(seq as u64, &data) else {
            continue;
        };
        let dims = inner
            .try_borrow()
            .map_err(|_| crate::hnsw::busy("replay"))?
            .dims();
        let ops = match decode_ops(record.payload, record.ops, dims) {
            Ok(ops) => ops,
            Err(e) => {
                scan.reject(record.seq, e.to_string());
                continue;
            }
        };
        if let Err(e) = inner
            .try_borrow()
            .map_err(|_| crate::hnsw::busy("replay"))?
            .check_ops(&ops)
        {
            scan.reject(record.seq, e.to_string());
            continue;
        }
        for op in ops {
            apply_sliced(inner, op, slicer).await?;
        }
        bytes += data.len() as u64;
        slicer.pause().await;
    }
    let end = scan.finish(recover).map_err(store_error)?;
    Ok(Replayed {
        next_seq: end.next_seq,
        lost: end.lost,
        first_lost: end.first_lost,
        bytes,
    })
}

/// Applies a checked operation; batches and compactions in time slices, as the calls that
/// logged them ran.
async fn apply_sliced(
    inner: &Rc<RefCell<Hnsw>>,
    op: Op,
    slicer: &mut Slicer,
) -> Result<(), JsValue> {
    let busy = || crate::hnsw::busy("replay");
    match op {
        Op::Batch { ids, vectors } => {
            let mut b = inner
                .try_borrow_mut()
                .map_err(|_| busy())?
                .begin_batch(ids, vectors)
                .map_err(hnsw_error)?;
            loop {
                inner
                    .try_borrow_mut()
                    .map_err(|_| busy())?
                    .step_batch(&mut b, || slicer.expired())
                    .map_err(hnsw_error)?;
                if b.is_complete() {
                    break;
                }
                slicer.pause().await;
            }
            inner
                .try_borrow_mut()
                .map_err(|_| busy())?
                .commit_batch(b)
                .map_err(hnsw_error)
        }
        Op::Compact => {
            let mut c = inner
                .try_borrow()
                .map_err(|_| busy())?
                .begin_compaction()
                .map_err(hnsw_error)?;
            loop {
                let done = {
                    let h = inner.try_borrow().map_err(|_| busy())?;
                    c.step(&h, || slicer.expired()).map_err(hnsw_error)?
                };
                if done {
                    break;
                }
                slicer.pause().await;
            }
            inner
                .try_borrow_mut()
                .map_err(|_| busy())?
                .finish_compaction(c)
                .map_err(hnsw_error)
        }
        op => inner
            .try_borrow_mut()
            .map_err(|_| busy())?
            .apply_op(&op)
            .map_err(hnsw_error),
    }
}

/// Opens (or creates, from `create`) the persistent index `opts.name` in `opts.db_name`.
pub(crate) async fn open(
    opts: OpenOptions,
    create: impl FnOnce() -> Result<Hnsw, JsValue>,
    queue: Rc<Queue>,
) -> Result<(Rc<RefCell<Hnsw>>, Rc<Durable>), JsValue> {
    let slot: Rc<RefCell<Option<Rc<Durable>>>> = Rc::default();
    let news = {
        let slot = slot.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_msg: JsValue| {
            let d = slot.borrow().clone();
            if let Some(d) = d {
                wasm_bindgen_futures::spawn_local(d.catch_up());
            }
        })
    };
    let promoted = {
        let slot = slot.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_msg: JsValue| {
            let d = slot.borrow().clone();
            if let Some(d) = d {
                wasm_bindgen_futures::spawn_local(d.promote());
            }
        })
    };
    let store: DurableStore = DurableStore::open_store(
        &opts.db_name,
        &opts.name,
        &opts.durability,
        news.as_ref().unchecked_ref(),
        promoted.as_ref().unchecked_ref(),
    )
    .await?
    .unchecked_into();
    let result = load(&store, &opts, create).await;
    let (h, m, replayed) = match result {
        Ok(x) => x,
        Err(e) => {
            store.close();
            return Err(e);
        }
    };
    let writer = store.writer();
    let inner = Rc::new(RefCell::new(h));
    let durable = Rc::new(Durable {
        inner: inner.clone(),
        queue,
        store: store.clone(),
        pending: RefCell::default(),
        scheduled: Cell::new(false),
        writable: Cell::new(writer),
        closed: Cell::new(false),
        next_seq: Cell::new(replayed.next_seq),
        generation: Cell::new(m.map_or(0, |m| m.generation)),
        snapshot_len: Cell::new(m.map_or(0, |m| m.snapshot_len)),
        log_bytes: Cell::new(replayed.bytes),
        written: Cell::new(0.0),
        checkpoints: Cell::new(0),
        running: RefCell::new(None),
        dirty: Cell::new(false),
        catching_up: Cell::new(false),
        recovered: Recovered {
            lost: replayed.lost,
            first_lost: replayed.first_lost,
        },
        callbacks: RefCell::new(vec![news, promoted]),
        slot: slot.clone(),
        opts,
    });
    slot.replace(Some(durable.clone()));
    if writer {
        let setup = async {
            if let Some(first) = replayed.first_lost {
                // Recovered: the dropped records go, so new ones continue the intact log.
                store.truncate_log(first as f64).await?;
            }
            if m.is_none() {
                // A new index: its first checkpoint records the options.
                durable.checkpoint().await?;
            }
            Ok::<(), JsValue>(())
        };
        if let Err(e) = setup.await {
            let _ = durable.close().await;
            return Err(e);
        }
    }
    Ok((inner, durable))
}

async fn load(
    store: &DurableStore,
    opts: &OpenOptions,
    create: impl FnOnce() -> Result<Hnsw, JsValue>,
) -> Result<(Hnsw, Option<Manifest>, Replayed), JsValue> {
    let raw = store.read_manifest().await?;
    let mut slicer = Slicer::new(DEFAULT_SLICE_MS);
    if raw.is_undefined() {
        let empty = Replayed {
            next_seq: 0,
            lost: 0,
            first_lost: None,
            bytes: 0,
        };
        return Ok((create()?, None, empty));
    }
    let m =
        Manifest::from_bytes(&bytes_of(&raw, "the manifest")?, Kind::Hnsw).map_err(store_error)?;
    let h = read_pages(store, &m, &mut slicer).await?;
    let inner = Rc::new(RefCell::new(h));
    let replayed = replay_log(store, &inner, m.log_start, opts.recover, &mut slicer).await?;
    let h = Rc::try_unwrap(inner)
        .map_err(|_| crate::hnsw::busy("open"))?
        .into_inner();
    Ok((h, Some(m), replayed))
}
