//! The core build (`--no-default-features`, no `durable`): no persistent objects. `Durable`
//! cannot exist here (it holds `Infallible`), so every object is in memory, the persistent
//! methods answer as they do for an in-memory object, and the compiler drops the branches
//! that would log.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use crate::error::js_error;
use crate::task::Turn;

/// What a persisted object logs (its op log's encoder), as in the full build.
pub(crate) trait Persisted: 'static {
    type Log;
}

impl Persisted for elex_hnsw::Hnsw {
    type Log = elex_hnsw::OpLog;
}

impl Persisted for elex_text::TextIndex {
    type Log = elex_text::TextLog;
}

/// Never made in this build.
pub(crate) struct Durable<T: Persisted>(Infallible, PhantomData<T>);

impl<T: Persisted> Durable<T> {
    pub(crate) fn check_writable(&self, _what: &str) -> Result<(), JsValue> {
        match self.0 {}
    }

    pub(crate) fn record(self: &Rc<Self>, _f: impl FnOnce(&mut T::Log)) {
        match self.0 {}
    }

    pub(crate) async fn log_batch(
        self: &Rc<Self>,
        _bytes: usize,
        _log: impl FnOnce(&mut T::Log),
        _turn: Turn,
    ) -> Result<(), JsValue> {
        match self.0 {}
    }

    pub(crate) async fn flush(self: &Rc<Self>) -> Result<(), JsValue> {
        match self.0 {}
    }
}

/// `flush()` of an in-memory object: resolved.
pub(crate) fn flush_promise<T: Persisted>(_d: Option<Rc<Durable<T>>>) -> js_sys::Promise {
    js_sys::Promise::resolve(&JsValue::UNDEFINED)
}

/// `checkpoint()` of an in-memory object: `NOT_PERSISTENT`.
pub(crate) fn checkpoint_promise<T: Persisted>(
    _d: Option<Rc<Durable<T>>>,
    in_memory: &'static str,
) -> js_sys::Promise {
    js_sys::Promise::reject(&js_error(
        "NOT_PERSISTENT",
        format!("checkpoint: {in_memory}"),
        false,
    ))
}

/// `close()` of an in-memory object: nothing to do.
pub(crate) fn close_promise<T: Persisted>(_d: Option<Rc<Durable<T>>>) -> js_sys::Promise {
    js_sys::Promise::resolve(&JsValue::UNDEFINED)
}

pub(crate) fn read_only<T: Persisted>(_d: Option<&Rc<Durable<T>>>) -> bool {
    false
}

pub(crate) fn recovered<T: Persisted>(_d: Option<&Rc<Durable<T>>>) -> Result<JsValue, JsValue> {
    Ok(JsValue::NULL)
}

pub(crate) fn stats<T: Persisted>(_d: Option<&Rc<Durable<T>>>) -> Result<JsValue, JsValue> {
    Ok(JsValue::NULL)
}
