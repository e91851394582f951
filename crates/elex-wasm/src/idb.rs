//! The IndexedDB adapter: promise wrappers in `js/idb.js` (one transaction per call, errors
//! mapped to stable codes: QUOTA_EXCEEDED, DB_CLOSED, DB_BLOCKED, DB_VERSION, ABORTED,
//! NO_INDEXEDDB, IDB_ERROR), bound here.

use wasm_bindgen::prelude::*;

/// Object store of index and learner snapshots (a manifest under the key, the pieces under
/// `key#0`, `key#1`, ...; or one record, as earlier builds wrote).
pub(crate) const SNAPSHOTS: &str = "snapshots";
#[cfg(feature = "full")]
/// Object store of cache victims (`{v: version, w: weight, d: data}` per key).
pub(crate) const SPILL: &str = "spill";

#[wasm_bindgen(module = "/js/idb.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = idbOpen)]
    pub(crate) async fn open(name: &str, version: u32) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = idbGet)]
    pub(crate) async fn get(db: &JsValue, store: &str, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = idbSpill)]
    pub(crate) async fn spill(
        db: &JsValue,
        store: &str,
        ops: &js_sys::Array,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = idbIndex)]
    pub(crate) async fn index(db: &JsValue, store: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = idbClose)]
    pub(crate) fn close(db: &JsValue);
    #[wasm_bindgen(catch, js_name = idbPutChunked)]
    async fn put_chunked(
        db: &JsValue,
        store: &str,
        key: &str,
        bytes: &js_sys::Uint8Array,
        chunk_bytes: u32,
        abort: bool,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = idbGetChunked)]
    async fn get_chunked(db: &JsValue, store: &str, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = checkStorable)]
    pub(crate) fn check_storable(value: &JsValue) -> Result<(), JsValue>;
}

/// Pieces of a saved snapshot: a few MB each, so no single clone is large.
const PIECE_BYTES: u32 = 4 << 20;

/// Writes a snapshot under `key` in pieces, in one transaction (whole or nothing), and closes
/// the connection. `abort` (tests) aborts the transaction after the writes were issued.
pub(crate) async fn save_record(
    db_name: &str,
    key: &str,
    bytes: &js_sys::Uint8Array,
    abort: bool,
) -> Result<(), JsValue> {
    let db = open(db_name, 1).await?;
    let r = put_chunked(&db, SNAPSHOTS, key, bytes, PIECE_BYTES, abort).await;
    close(&db);
    r.map(|_| ())
}

/// [`save_record`] of bytes in wasm memory.
pub(crate) async fn save_snapshot(db_name: &str, key: &str, bytes: &[u8]) -> Result<(), JsValue> {
    save_record(db_name, key, &js_sys::Uint8Array::from(bytes), false).await
}

/// Reads a snapshot saved in pieces (or as one record, as earlier builds saved it) as a JS
/// `Uint8Array`; `NOT_FOUND` when the key holds none.
pub(crate) async fn load_record(db_name: &str, key: &str) -> Result<js_sys::Uint8Array, JsValue> {
    let db = open(db_name, 1).await?;
    let r = get_chunked(&db, SNAPSHOTS, key).await;
    close(&db);
    let v = r?;
    if v.is_undefined() {
        return Err(crate::error::js_error(
            "NOT_FOUND",
            format!("no snapshot under \"{key}\" in IndexedDB database \"{db_name}\""),
            false,
        ));
    }
    v.dyn_into::<js_sys::Uint8Array>().map_err(|_| {
        crate::error::js_error(
            "CORRUPT",
            format!("the record under \"{key}\" is not a snapshot (not bytes)"),
            false,
        )
    })
}

/// [`load_record`] copied into wasm memory.
pub(crate) async fn load_snapshot(db_name: &str, key: &str) -> Result<Vec<u8>, JsValue> {
    load_record(db_name, key).await.map(|a| a.to_vec())
}
