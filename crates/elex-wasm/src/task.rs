//! Long work without long tasks, and one mutation at a time.
//!
//! [`Slicer`] runs work in slices of a time budget (measured with `performance.now`) and
//! yields to the event loop between them, so the page keeps responding however large the
//! batch. [`Queue`] serializes the asynchronous operations on one object: each waits for the
//! previous one to settle (a promise chain), so two `addBatch` calls in flight are applied one
//! after the other, each whole or not at all. While an operation is queued or running,
//! synchronous mutators refuse with `BUSY` instead of slipping in between its slices.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use crate::error::js_error;

#[wasm_bindgen(module = "/js/task.js")]
extern "C" {
    /// Milliseconds from a monotonic clock.
    pub(crate) fn now() -> f64;
    #[wasm_bindgen(js_name = yieldNow)]
    async fn yield_now() -> JsValue;
}

/// The default slice: a few milliseconds, well under the 50 ms of a long task.
pub(crate) const DEFAULT_SLICE_MS: f64 = 8.0;

/// Runs work in time slices.
pub(crate) struct Slicer {
    budget_ms: f64,
    start: f64,
}

impl Slicer {
    /// Slices of `budget_ms` (`f64::INFINITY`: never yield).
    pub(crate) fn new(budget_ms: f64) -> Slicer {
        Slicer {
            budget_ms,
            start: now(),
        }
    }

    /// Whether this slice's time is up (the `stop` closure of the core's step functions).
    pub(crate) fn expired(&self) -> bool {
        self.budget_ms.is_finite() && now() - self.start >= self.budget_ms
    }

    /// Yields to the event loop if the slice's time is up, and starts the next slice.
    pub(crate) async fn pause(&mut self) {
        if self.expired() {
            yield_now().await;
            self.start = now();
        }
    }
}

/// The operations of one object, one at a time.
#[derive(Default)]
pub(crate) struct Queue {
    tail: RefCell<Option<js_sys::Promise>>,
    active: Cell<usize>,
}

/// The right to run: held by the running operation, handed on when dropped.
pub(crate) struct Turn {
    queue: Rc<Queue>,
    resolve: Option<js_sys::Function>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(r) = self.resolve.take() {
            let _ = r.call0(&JsValue::UNDEFINED);
        }
        self.queue
            .active
            .set(self.queue.active.get().saturating_sub(1));
    }
}

impl Queue {
    /// Whether an operation is running or waiting.
    pub(crate) fn busy(&self) -> bool {
        self.active.get() > 0
    }

    /// `BUSY` while an operation is running or waiting: for synchronous mutators.
    pub(crate) fn check_idle(&self, what: &str) -> Result<(), JsValue> {
        if self.busy() {
            return Err(js_error(
                "BUSY",
                format!(
                    "{what}: an asynchronous operation on this object is in progress \
                     (await it first, or use the worker API, which queues every call)"
                ),
                false,
            ));
        }
        Ok(())
    }

    /// Joins the queue now (so the object counts as busy from this call on); the returned
    /// future resolves when the previous operations have settled.
    pub(crate) fn join(self: &Rc<Self>) -> impl std::future::Future<Output = Turn> + 'static {
        self.active.set(self.active.get() + 1);
        let mut resolve = None;
        let mine = js_sys::Promise::new(&mut |res, _| resolve = Some(res));
        let prev = self.tail.replace(Some(mine));
        let turn = Turn {
            queue: self.clone(),
            resolve,
        };
        async move {
            if let Some(prev) = prev {
                let _ = wasm_bindgen_futures::JsFuture::from(prev).await;
            }
            turn
        }
    }
}

/// An index whose batches go in by steps: what [`step_in_slices`] drives for the bindings'
/// `addBatch` (the vector index, the budgeted index, the text index).
pub(crate) trait Stepped {
    type Batch;
    /// Inserts until `stop()` says so or the batch is in; how many are in.
    fn step(
        &mut self,
        b: &mut Self::Batch,
        stop: &mut dyn FnMut() -> bool,
    ) -> Result<usize, JsValue>;
    /// Undoes an open batch exactly.
    fn rollback(&mut self, b: Self::Batch);
    fn is_complete(b: &Self::Batch) -> bool;
}

/// Steps `batch` to its end in time slices, calling `progress(done, total)` after each. If a
/// step fails, the object is busy, or `progress` throws, the batch is rolled back and the error
/// returned; otherwise the complete batch, for the caller to commit.
pub(crate) async fn step_in_slices<T: Stepped>(
    inner: &RefCell<T>,
    mut batch: T::Batch,
    total: usize,
    progress: Option<&js_sys::Function>,
    slicer: &mut Slicer,
) -> Result<T::Batch, JsValue> {
    loop {
        let stepped = inner
            .try_borrow_mut()
            .map_err(|_| crate::hnsw::busy("addBatch"))
            .and_then(|mut t| t.step(&mut batch, &mut || slicer.expired()));
        let reported = stepped.and_then(|done| match progress {
            Some(f) => f
                .call2(
                    &JsValue::NULL,
                    &(done as f64).into(),
                    &(total as f64).into(),
                )
                .map(|_| ()),
            None => Ok(()),
        });
        if let Err(e) = reported {
            if let Ok(mut t) = inner.try_borrow_mut() {
                t.rollback(batch);
            }
            return Err(e);
        }
        if T::is_complete(&batch) {
            return Ok(batch);
        }
        slicer.pause().await;
    }
}
