//! Persistent objects (`HnswIndex.open`, `QLearner.open`): the IndexedDB adapter around the
//! durable layout of `elex-store` and the op logs of `elex-hnsw` and `elex-qlearning`.
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

use elex_hnsw::{Hnsw, Op, OpLog, SnapshotReader, decode_ops};
use elex_qlearning::{Learner, LearnerLog, LearnerOp, decode_learner_ops};
use elex_store::{DEFAULT_PAGE_BYTES, Kind, LogScan, Manifest, StoreError};
use elex_text::{TextLog, TextOp, decode_text_ops};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::error::{hnsw_error, js_error, q_error, text_error};
use crate::task::{DEFAULT_SLICE_MS, Queue, Slicer, Turn};

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
    /// What the browser reported deleting when the database was opened (Chromium deletes a
    /// backing store it finds corrupt), or null.
    #[wasm_bindgen(method, getter, js_name = dataLoss)]
    fn data_loss(this: &DurableStore) -> Option<String>;
    #[wasm_bindgen(catch, method, js_name = readManifest)]
    async fn read_manifest(this: &DurableStore) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, method, js_name = readPages)]
    async fn read_pages(
        this: &DurableStore,
        generation: f64,
        count: u32,
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
    #[wasm_bindgen(method, js_name = giveUp)]
    fn give_up(this: &DurableStore);
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
/// The log never triggers a checkpoint below this many bytes (tiny objects would otherwise
/// checkpoint on every commit).
const MIN_CHECKPOINT_LOG: u64 = 1 << 20;

/// How a persistent object was opened.
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
#[derive(Clone, Debug, Default)]
pub(crate) struct Recovered {
    pub lost: u64,
    pub first_lost: Option<u64>,
    /// The browser's own report of deleting the database (everything was lost).
    pub browser_loss: Option<String>,
}

/// A JS callback kept alive by the object.
type Callback = Closure<dyn FnMut(JsValue)>;

/// What the durable layer needs from a persisted object: its kind, how its snapshot is cut into
/// pages and read back, and how its log records are decoded, checked and applied.
pub(crate) trait Persisted: Sized + 'static {
    /// Stored in every header.
    const KIND: Kind;
    /// The encoder of its operations.
    type Log: Default;
    /// A decoded operation.
    type Op;
    /// The pending operations' count and bytes (the log starts empty again).
    fn take_log(log: &mut Self::Log) -> (u32, Vec<u8>);
    /// An independent copy to checkpoint while the original takes writes.
    fn copy(&self) -> Result<Self, JsValue>;
    /// Writes the snapshot through `pages`, in time slices.
    async fn write_snapshot(&self, pages: PageSpec<'_>) -> Result<Manifest, JsValue>;
    /// Reads the snapshot back from checked pages, in time slices.
    async fn read_snapshot(pages: PageReader) -> Result<Self, JsValue>;
    /// A record's operations, decoded and checked against the current state (`Err`: the
    /// reason the record cannot be applied).
    fn decode(&self, payload: &[u8], ops: u32) -> Result<Vec<Self::Op>, String>;
    /// Applies checked operations.
    async fn apply(
        cell: &Rc<RefCell<Self>>,
        ops: Vec<Self::Op>,
        slicer: &mut Slicer,
    ) -> Result<(), JsValue>;
}

/// The persistent side of one object.
pub(crate) struct Durable<T: Persisted> {
    inner: Rc<RefCell<T>>,
    queue: Rc<Queue>,
    store: DurableStore,
    opts: OpenOptions,
    pending: RefCell<T::Log>,
    pending_ops: Cell<bool>,
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
    slot: Slot<T>,
}

type Slot<T> = Rc<RefCell<Option<Rc<Durable<T>>>>>;

fn closed_error(what: &str) -> JsValue {
    js_error(
        "CLOSED",
        format!("{what}: this object was closed; open it again"),
        false,
    )
}

fn busy(what: &str) -> JsValue {
    js_error(
        "BUSY",
        format!("{what}: the object is in use by an operation in progress"),
        false,
    )
}

fn u8s(bytes: &[u8]) -> js_sys::Uint8Array {
    js_sys::Uint8Array::from(bytes)
}

impl<T: Persisted> Durable<T> {
    /// Refuses a mutation on a follower (`READ_ONLY`) or a closed object (`CLOSED`), before
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
    pub(crate) fn record(self: &Rc<Self>, f: impl FnOnce(&mut T::Log)) {
        f(&mut self.pending.borrow_mut());
        self.pending_ops.set(true);
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
        if !self.pending_ops.replace(false) {
            return;
        }
        let (ops, payload) = T::take_log(&mut self.pending.borrow_mut());
        if ops == 0 || self.closed.get() {
            return;
        }
        let seq = self.next_seq.get();
        let bytes = elex_store::log_record(T::KIND, seq, ops, &payload);
        drop(payload);
        self.next_seq.set(seq + 1);
        self.log_bytes
            .set(self.log_bytes.get() + bytes.len() as u64);
        self.written.set(self.written.get() + bytes.len() as f64);
        let _ = self.store.append(seq as f64, &u8s(&bytes));
        self.maybe_checkpoint();
    }

    /// The log's size that starts a checkpoint.
    fn log_limit(&self, floor: u64) -> f64 {
        (self.opts.checkpoint_share * self.snapshot_len.get() as f64).max(floor as f64)
    }

    /// Starts a checkpoint when the log has grown past its share of the snapshot.
    fn maybe_checkpoint(self: &Rc<Self>) {
        if self.running.borrow().is_some()
            || (self.log_bytes.get() as f64) < self.log_limit(MIN_CHECKPOINT_LOG)
        {
            return;
        }
        // Nobody awaits a checkpoint started here: a failure is reported, and the log simply
        // goes on (the next commit tries again).
        let p = self.start_checkpoint();
        let name = self.opts.name.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = wasm_bindgen_futures::JsFuture::from(p).await {
                console_warn(&format!("elex: a checkpoint of \"{name}\" failed: {e:?}"));
            }
        });
    }

    /// Resolves when every mutation made so far is durable.
    pub(crate) async fn flush(self: &Rc<Self>) -> Result<(), JsValue> {
        if self.closed.get() {
            return Err(closed_error("flush"));
        }
        self.commit();
        self.store.flushed().await.map(|_| ())
    }

    /// A checkpoint now (after any running one), resolved when its manifest is switched.
    pub(crate) async fn checkpoint(self: &Rc<Self>) -> Result<(), JsValue> {
        self.check_writable("checkpoint")?;
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

    /// Starts a checkpoint; `running` holds it until it settles (the future first runs on a
    /// later microtask, after `running` is set here).
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
                .map_err(|_| busy("checkpoint"))?
                .copy()?;
            (copy, self.next_seq.get(), self.log_bytes.get())
        };
        let generation = self.generation.get() + 1;
        let spec = PageSpec {
            store: &self.store,
            kind: T::KIND,
            generation,
            log_start,
            page_bytes: self.opts.page_bytes,
            written: &self.written,
        };
        let m = copy.write_snapshot(spec).await?;
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

    /// `{ lost, firstLost }` after a recovering open that dropped records, else `null`.
    pub(crate) fn recovered_js(&self) -> Result<JsValue, JsValue> {
        let r = &self.recovered;
        if r.first_lost.is_none() && r.browser_loss.is_none() {
            return Ok(JsValue::NULL);
        }
        let o = js_sys::Object::new();
        js_sys::Reflect::set(&o, &"lost".into(), &(r.lost as f64).into())?;
        js_sys::Reflect::set(
            &o,
            &"firstLost".into(),
            &r.first_lost.map_or(JsValue::NULL, |f| (f as f64).into()),
        )?;
        if let Some(m) = &r.browser_loss {
            js_sys::Reflect::set(&o, &"browserDataLoss".into(), &m.into())?;
        }
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
                console_warn(&format!(
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
        let m =
            Manifest::from_bytes(&bytes_of(&raw, "the manifest")?, T::KIND).map_err(store_error)?;
        if m.generation != self.generation.get()
            && (self.generation.get() == 0 || m.log_start > self.next_seq.get())
        {
            // The records after our position were folded into a newer checkpoint: reload.
            let fresh = T::read_snapshot(PageReader::open(&self.store, T::KIND, m).await?).await?;
            *self.inner.try_borrow_mut().map_err(|_| busy("follow"))? = fresh;
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
            // Writing on from a state that missed records would fork the log: stay a reader
            // and let another tab or worker take the lock.
            console_warn(&format!(
                "elex: taking over \"{}\" failed, staying read-only: {e:?}",
                self.opts.name
            ));
            self.store.give_up();
            return;
        }
        self.writable.set(true);
    }
}

impl<T: Persisted> Durable<T> {
    /// Logs a committed batch of about `bytes` (through `log`) and resolves once it is
    /// durable. `turn` is the batch's turn in the object's queue: the record is issued before
    /// the turn is handed on (records go out in the order the operations were applied), the
    /// wait for its commit after. A batch larger than the log's share of the snapshot is made
    /// durable by a checkpoint instead of a log record (taken after the turn is handed on: a
    /// checkpoint waits for the queue).
    pub(crate) async fn log_batch(
        self: &Rc<Self>,
        bytes: usize,
        log: impl FnOnce(&mut T::Log),
        turn: Turn,
    ) -> Result<(), JsValue> {
        if bytes as f64 > self.log_limit(DEFAULT_PAGE_BYTES as u64) {
            self.commit();
            drop(turn);
            return self.checkpoint().await;
        }
        log(&mut self.pending.borrow_mut());
        self.pending_ops.set(true);
        self.commit();
        drop(turn);
        self.flush().await
    }
}

// ---- the persistent methods every class exposes (one body, three classes) -------------

/// `flush()`: resolves when every mutation so far is durable; at once for an in-memory object.
pub(crate) fn flush_promise<T: Persisted>(d: Option<Rc<Durable<T>>>) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        if let Some(d) = d {
            d.flush().await?;
        }
        Ok(JsValue::UNDEFINED)
    })
}

/// `checkpoint()`; `NOT_PERSISTENT` ("checkpoint: " + `in_memory`) for an in-memory object.
pub(crate) fn checkpoint_promise<T: Persisted>(
    d: Option<Rc<Durable<T>>>,
    in_memory: &'static str,
) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        match d {
            Some(d) => d.checkpoint().await.map(|_| JsValue::UNDEFINED),
            None => Err(js_error(
                "NOT_PERSISTENT",
                format!("checkpoint: {in_memory}"),
                false,
            )),
        }
    })
}

/// `close()`: flushes and gives up the writer's role; nothing for an in-memory object.
pub(crate) fn close_promise<T: Persisted>(d: Option<Rc<Durable<T>>>) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        if let Some(d) = d {
            d.close().await?;
        }
        Ok(JsValue::UNDEFINED)
    })
}

/// `readOnly`: false for an in-memory object.
pub(crate) fn read_only<T: Persisted>(d: Option<&Rc<Durable<T>>>) -> bool {
    d.is_some_and(|d| !d.writable())
}

/// `recovered`: `null` for an in-memory object.
pub(crate) fn recovered<T: Persisted>(d: Option<&Rc<Durable<T>>>) -> Result<JsValue, JsValue> {
    d.map_or(Ok(JsValue::NULL), |d| d.recovered_js())
}

/// `storageStats()`: `null` for an in-memory object.
pub(crate) fn stats<T: Persisted>(d: Option<&Rc<Durable<T>>>) -> Result<JsValue, JsValue> {
    d.map_or(Ok(JsValue::NULL), |d| d.stats())
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn console_warn(s: &str);
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

/// Where a checkpoint's pages go.
pub(crate) struct PageSpec<'a> {
    store: &'a DurableStore,
    kind: Kind,
    generation: u64,
    log_start: u64,
    page_bytes: usize,
    written: &'a Cell<f64>,
}

/// Cuts a snapshot of known length into checked pages, each written in its own transaction.
/// With `head_len > 0`, page 0 is written last, with its first `head_len` bytes given to
/// [`PageWriter::finish`] (a snapshot whose header is known only after its body).
pub(crate) struct PageWriter<'a> {
    spec: PageSpec<'a>,
    m: Manifest,
    buf: Vec<u8>,
    page0: Option<Vec<u8>>,
    head_len: usize,
    index: u32,
    slicer: Slicer,
}

impl<'a> PageWriter<'a> {
    pub(crate) fn new(spec: PageSpec<'a>, total: u64, head_len: usize) -> PageWriter<'a> {
        let m = Manifest::new(
            spec.kind,
            spec.generation,
            total,
            spec.page_bytes,
            spec.log_start,
        );
        PageWriter {
            spec,
            m,
            buf: vec![0; head_len],
            page0: None,
            head_len,
            index: 0,
            slicer: Slicer::new(DEFAULT_SLICE_MS),
        }
    }

    fn page_len(&self, i: u32) -> usize {
        let r = self.m.page_range(i);
        (r.end - r.start) as usize
    }

    async fn put(&self, i: u32, payload: &[u8]) -> Result<(), JsValue> {
        let s = &self.spec;
        let framed = elex_store::page(s.kind, s.generation, i, self.m.pages, payload);
        s.written.set(s.written.get() + framed.len() as f64);
        s.store
            .put_page(s.generation as f64, i, &u8s(&framed))
            .await
            .map(|_| ())
    }

    /// Appends snapshot bytes; full pages go out.
    pub(crate) async fn push(&mut self, bytes: &[u8]) -> Result<(), JsValue> {
        self.buf.extend_from_slice(bytes);
        while self.index < self.m.pages && self.buf.len() >= self.page_len(self.index) {
            let rest = self.buf.split_off(self.page_len(self.index));
            let full = std::mem::replace(&mut self.buf, rest);
            if self.index == 0 && self.head_len > 0 {
                self.page0 = Some(full);
            } else {
                self.put(self.index, &full).await?;
            }
            self.index += 1;
            self.slicer.pause().await;
        }
        Ok(())
    }

    /// Writes the deferred page 0 with `head` over its start; the manifest to switch to.
    pub(crate) async fn finish(mut self, head: &[u8]) -> Result<Manifest, JsValue> {
        if self.index != self.m.pages || !self.buf.is_empty() || head.len() != self.head_len {
            return Err(js_error(
                "CORRUPT",
                format!(
                    "the snapshot gave {} pages where {} were expected",
                    self.index, self.m.pages
                ),
                false,
            ));
        }
        if let Some(mut p0) = self.page0.take() {
            p0[..head.len()].copy_from_slice(head);
            self.put(0, &p0).await?;
        }
        Ok(self.m)
    }
}

/// The checked pages of a checkpoint, in order (all requested at once).
pub(crate) struct PageReader {
    m: Manifest,
    pages: js_sys::Array,
    next: u32,
}

impl PageReader {
    async fn open(store: &DurableStore, kind: Kind, m: Manifest) -> Result<PageReader, JsValue> {
        debug_assert_eq!(kind, m.kind);
        let pages: js_sys::Array = store
            .read_pages(m.generation as f64, m.pages)
            .await?
            .unchecked_into();
        Ok(PageReader { m, pages, next: 0 })
    }

    /// The snapshot's length.
    pub(crate) fn total(&self) -> u64 {
        self.m.snapshot_len
    }

    /// The next page's checked payload; `None` after the last.
    pub(crate) fn next_page(&mut self) -> Result<Option<Payload>, JsValue> {
        let (m, i) = (&self.m, self.next);
        if i >= m.pages {
            return Ok(None);
        }
        self.next += 1;
        let what = format!(
            "page {i} of {} of checkpoint generation {}",
            m.pages, m.generation
        );
        let bytes = bytes_of(&self.pages.get(i), &what)?;
        self.pages.set(i, JsValue::UNDEFINED);
        let len = elex_store::read_page(&bytes, m.kind, m.generation, i, m.pages)
            .map_err(store_error)?
            .len();
        let expected = m.page_range(i);
        if len as u64 != expected.end - expected.start {
            return Err(store_error(StoreError::Damaged {
                what,
                reason: format!(
                    "{len} payload bytes where the manifest expects {}",
                    expected.end - expected.start
                ),
            }));
        }
        Ok(Some(Payload(bytes)))
    }
}

/// A checked page as read (header included); derefs to its payload.
pub(crate) struct Payload(Vec<u8>);

impl std::ops::Deref for Payload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0[elex_store::PAGE_HEADER..]
    }
}

impl Persisted for Hnsw {
    const KIND: Kind = Kind::Hnsw;
    type Log = OpLog;
    type Op = Op;

    fn take_log(log: &mut OpLog) -> (u32, Vec<u8>) {
        log.take()
    }

    fn copy(&self) -> Result<Self, JsValue> {
        self.try_clone().map_err(hnsw_error)
    }

    async fn write_snapshot(&self, spec: PageSpec<'_>) -> Result<Manifest, JsValue> {
        let mut w = self.snapshot_writer();
        let mut out = PageWriter::new(spec, w.total_len(), elex_hnsw::HEADER_LEN);
        let mut chunk = Vec::with_capacity(CHUNK_BYTES);
        loop {
            chunk.clear();
            let more = w
                .next_chunk(self, &mut chunk, CHUNK_BYTES)
                .map_err(hnsw_error)?;
            out.push(&chunk).await?;
            if !more {
                break;
            }
            out.slicer.pause().await;
        }
        let header = w.header(self).map_err(hnsw_error)?;
        out.finish(&header).await
    }

    async fn read_snapshot(mut pages: PageReader) -> Result<Self, JsValue> {
        let total = pages.total();
        let mut slicer = Slicer::new(DEFAULT_SLICE_MS);
        let mut reader: Option<SnapshotReader> = None;
        while let Some(page) = pages.next_page()? {
            let mut rest = &page[..];
            if reader.is_none() {
                let head = &rest[..rest.len().min(elex_hnsw::HEADER_LEN)];
                reader = Some(SnapshotReader::new(head, total).map_err(hnsw_error)?);
                rest = &rest[head.len()..];
            }
            let r = reader.as_mut().expect("set above");
            for piece in rest.chunks(CHUNK_BYTES) {
                r.feed(piece).map_err(hnsw_error)?;
                slicer.pause().await;
            }
        }
        reader
            .ok_or_else(|| js_error("CORRUPT", "the checkpoint has no pages".into(), false))?
            .finish()
            .map_err(hnsw_error)
    }

    fn decode(&self, payload: &[u8], ops: u32) -> Result<Vec<Op>, String> {
        let ops = decode_ops(payload, ops, self.dims()).map_err(|e| e.to_string())?;
        self.check_ops(&ops).map_err(|e| e.to_string())?;
        Ok(ops)
    }

    async fn apply(
        inner: &Rc<RefCell<Hnsw>>,
        ops: Vec<Op>,
        slicer: &mut Slicer,
    ) -> Result<(), JsValue> {
        for op in ops {
            apply_hnsw_op(inner, op, slicer).await?;
        }
        Ok(())
    }
}

/// Applies a checked operation; batches and compactions in time slices, as the calls that
/// logged them ran.
async fn apply_hnsw_op(
    inner: &Rc<RefCell<Hnsw>>,
    op: Op,
    slicer: &mut Slicer,
) -> Result<(), JsValue> {
    let busy = || busy("replay");
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

/// Writes a snapshot held whole in memory (a learner's, a text index's) as checkpoint pages.
async fn write_whole(spec: PageSpec<'_>, bytes: &[u8]) -> Result<Manifest, JsValue> {
    let mut out = PageWriter::new(spec, bytes.len() as u64, 0);
    for piece in bytes.chunks(CHUNK_BYTES) {
        out.push(piece).await?;
    }
    out.finish(&[]).await
}

/// A checkpoint's pages, read into one buffer (the snapshots written by [`write_whole`]).
fn read_whole(pages: &mut PageReader) -> Result<Vec<u8>, JsValue> {
    let mut bytes = Vec::new();
    while let Some(page) = pages.next_page()? {
        bytes.extend_from_slice(&page);
    }
    Ok(bytes)
}

impl Persisted for Learner {
    const KIND: Kind = Kind::Learner;
    type Log = LearnerLog;
    type Op = LearnerOp;

    fn take_log(log: &mut LearnerLog) -> (u32, Vec<u8>) {
        log.take()
    }

    fn copy(&self) -> Result<Self, JsValue> {
        Ok(self.clone())
    }

    async fn write_snapshot(&self, spec: PageSpec<'_>) -> Result<Manifest, JsValue> {
        let bytes = self.to_bytes();
        write_whole(spec, &bytes).await
    }

    async fn read_snapshot(mut pages: PageReader) -> Result<Self, JsValue> {
        let bytes = read_whole(&mut pages)?;
        Learner::from_bytes(&bytes).map_err(q_error)
    }

    fn decode(&self, payload: &[u8], ops: u32) -> Result<Vec<LearnerOp>, String> {
        let ops = decode_learner_ops(payload, ops).map_err(|e| e.to_string())?;
        self.check_ops(&ops).map_err(|e| e.to_string())?;
        Ok(ops)
    }

    async fn apply(
        inner: &Rc<RefCell<Learner>>,
        ops: Vec<LearnerOp>,
        _slicer: &mut Slicer,
    ) -> Result<(), JsValue> {
        inner
            .try_borrow_mut()
            .map_err(|_| busy("replay"))?
            .apply_ops(&ops)
            .map_err(q_error)
    }
}

impl Persisted for elex_text::TextIndex {
    const KIND: Kind = Kind::Text;
    type Log = TextLog;
    type Op = TextOp;

    fn take_log(log: &mut TextLog) -> (u32, Vec<u8>) {
        log.take()
    }

    fn copy(&self) -> Result<Self, JsValue> {
        self.try_clone().map_err(text_error)
    }

    async fn write_snapshot(&self, spec: PageSpec<'_>) -> Result<Manifest, JsValue> {
        let mut slicer = Slicer::new(DEFAULT_SLICE_MS);
        let mut w = self.snapshot_writer();
        while !w.step(self, || slicer.expired()).map_err(text_error)? {
            slicer.pause().await;
        }
        let bytes = w.finish(self);
        write_whole(spec, &bytes).await
    }

    async fn read_snapshot(mut pages: PageReader) -> Result<Self, JsValue> {
        let bytes = read_whole(&mut pages)?;
        let mut slicer = Slicer::new(DEFAULT_SLICE_MS);
        let mut l = elex_text::SnapshotLoader::new(bytes).map_err(text_error)?;
        while !l.step(|| slicer.expired()).map_err(text_error)? {
            slicer.pause().await;
        }
        l.finish().map_err(text_error)
    }

    fn decode(&self, payload: &[u8], ops: u32) -> Result<Vec<TextOp>, String> {
        let ops = decode_text_ops(payload, ops).map_err(|e| e.to_string())?;
        self.check_ops(&ops).map_err(|e| e.to_string())?;
        Ok(ops)
    }

    async fn apply(
        inner: &Rc<RefCell<Self>>,
        ops: Vec<TextOp>,
        _slicer: &mut Slicer,
    ) -> Result<(), JsValue> {
        inner
            .try_borrow_mut()
            .map_err(|_| busy("replay"))?
            .apply_ops(&ops)
            .map_err(text_error)
    }
}

/// What a replay reached.
struct Replayed {
    next_seq: u64,
    lost: u64,
    first_lost: Option<u64>,
    bytes: u64,
}

/// Replays the log from `from` onto `inner`, record by record, each whole or not at all.
async fn replay_log<T: Persisted>(
    store: &DurableStore,
    inner: &Rc<RefCell<T>>,
    from: u64,
    recover: bool,
    slicer: &mut Slicer,
) -> Result<Replayed, JsValue> {
    let pair: js_sys::Array = store.read_log(from as f64).await?.unchecked_into();
    let seqs: js_sys::Array = pair.get(0).unchecked_into();
    let records: js_sys::Array = pair.get(1).unchecked_into();
    let mut scan = LogScan::new(T::KIND, from);
    let mut bytes = 0u64;
    for i in 0..seqs.length() {
        let seq = seqs.get(i).as_f64().unwrap_or(-1.0);
        if !(seq >= 0.0 && seq.fract() == 0.0) {
            continue;
        }
        let data = records
            .get(i)
            .dyn_ref::<js_sys::Uint8Array>()
            .map(|a| a.to_vec())
            .unwrap_or_default();
        let Some(record) = scan.next(seq as u64, &data) else {
            continue;
        };
        let decoded = inner
            .try_borrow()
            .map_err(|_| busy("replay"))?
            .decode(record.payload, record.ops);
        match decoded {
            Ok(ops) => T::apply(inner, ops, slicer).await?,
            Err(reason) => {
                scan.reject(record.seq, reason);
                continue;
            }
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

/// Opens (or creates, from `create`) the persistent object `opts.name` in `opts.db_name`.
pub(crate) async fn open<T: Persisted>(
    opts: OpenOptions,
    create: impl FnOnce() -> Result<T, JsValue>,
    queue: Rc<Queue>,
) -> Result<(Rc<RefCell<T>>, Rc<Durable<T>>), JsValue> {
    let slot: Slot<T> = Rc::default();
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
    // The browser deleted the database it found corrupt (Chromium): everything is gone. That is
    // an error to report, not an empty index to start silently.
    let browser_loss = store.data_loss();
    if let (Some(msg), false) = (&browser_loss, opts.recover) {
        store.close();
        return Err(js_error(
            "DATA_LOST",
            format!(
                "the browser deleted IndexedDB database \"{}\" when it was opened ({msg}): \
                 \"{}\" and everything else in it are lost; open with recover: true to start \
                 again empty",
                opts.db_name, opts.name
            ),
            false,
        ));
    }
    let (value, m, replayed) = match load(&store, &opts, create).await {
        Ok(x) => x,
        Err(e) => {
            store.close();
            return Err(e);
        }
    };
    let writer = store.writer();
    let durable = Rc::new(Durable {
        inner: value.clone(),
        queue,
        store: store.clone(),
        pending: RefCell::default(),
        pending_ops: Cell::new(false),
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
            browser_loss,
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
                // A new object: its first checkpoint records its settings.
                durable.checkpoint().await?;
            }
            Ok::<(), JsValue>(())
        };
        if let Err(e) = setup.await {
            let _ = durable.close().await;
            return Err(e);
        }
    }
    Ok((value, durable))
}

#[allow(clippy::type_complexity)]
async fn load<T: Persisted>(
    store: &DurableStore,
    opts: &OpenOptions,
    create: impl FnOnce() -> Result<T, JsValue>,
) -> Result<(Rc<RefCell<T>>, Option<Manifest>, Replayed), JsValue> {
    let raw = store.read_manifest().await?;
    if raw.is_undefined() {
        let empty = Replayed {
            next_seq: 0,
            lost: 0,
            first_lost: None,
            bytes: 0,
        };
        return Ok((Rc::new(RefCell::new(create()?)), None, empty));
    }
    let m = Manifest::from_bytes(&bytes_of(&raw, "the manifest")?, T::KIND).map_err(store_error)?;
    let value = T::read_snapshot(PageReader::open(store, T::KIND, m).await?).await?;
    let inner = Rc::new(RefCell::new(value));
    let mut slicer = Slicer::new(DEFAULT_SLICE_MS);
    let replayed = replay_log(store, &inner, m.log_start, opts.recover, &mut slicer).await?;
    Ok((inner, Some(m), replayed))
}
