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
