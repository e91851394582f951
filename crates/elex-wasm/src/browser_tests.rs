//! Tests in real headless Chromium with real IndexedDB (`wasm-bindgen-test-runner` with
//! `CHROMEDRIVER`; see scripts/test.sh). Each test uses its own database name.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use crate::error::code_of;
use crate::{AdaptiveCache, HnswIndex, TextIndex, idb};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
// Raw access opens whatever version the database has (elex upgrades it to its schema 2); a new
// database is created at version 1, as earlier builds did.
export function putRaw(dbName, key, bytes) {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(dbName);
    r.onupgradeneeded = () => { r.result.createObjectStore('snapshots'); r.result.createObjectStore('spill'); };
    r.onsuccess = () => {
      const db = r.result;
      const tx = db.transaction('snapshots', 'readwrite');
      tx.objectStore('snapshots').put(bytes, key);
      tx.oncomplete = () => { db.close(); resolve(); };
      tx.onabort = () => reject(tx.error);
    };
    r.onerror = () => reject(r.error);
  });
}
let saved = null;
export function failPutsWithQuota(on) {
  if (on) {
    saved = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function () {
      throw new DOMException('test: quota exceeded', 'QuotaExceededError');
    };
  } else if (saved) {
    IDBObjectStore.prototype.put = saved;
    saved = null;
  }
}
let holder = null;
export function holdOpen(dbName) {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(dbName, 1);
    r.onupgradeneeded = () => { r.result.createObjectStore('snapshots'); r.result.createObjectStore('spill'); };
    r.onsuccess = () => { holder = r.result; resolve(); };  // no onversionchange: it blocks upgrades
    r.onerror = () => reject(r.error);
  });
}
export function release() { if (holder) { holder.close(); holder = null; } }
function withStore(dbName, mode, f) {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(dbName);
    r.onsuccess = () => {
      const db = r.result;
      const tx = db.transaction('snapshots', mode);
      const out = f(tx.objectStore('snapshots'));
      tx.oncomplete = () => { db.close(); resolve(out.result); };
      tx.onabort = () => reject(tx.error);
    };
    r.onerror = () => reject(r.error);
  });
}
export function rawGet(dbName, key) { return withStore(dbName, 'readonly', (os) => os.get(key)); }
export function deleteRaw(dbName, key) { return withStore(dbName, 'readwrite', (os) => os.delete(key)); }
export function unique(prefix) { return prefix + '-' + Math.random().toString(36).slice(2); }
"#)]
extern "C" {
    #[wasm_bindgen(js_name = putRaw)]
    fn put_raw(db: &str, key: &str, bytes: &js_sys::Uint8Array) -> js_sys::Promise;
    #[wasm_bindgen(js_name = failPutsWithQuota)]
    fn fail_puts_with_quota(on: bool);
    #[wasm_bindgen(js_name = holdOpen)]
    fn hold_open(db: &str) -> js_sys::Promise;
    fn release();
    fn unique(prefix: &str) -> String;
    #[wasm_bindgen(js_name = rawGet)]
    fn raw_get(db: &str, key: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = deleteRaw)]
    fn delete_raw(db: &str, key: &str) -> js_sys::Promise;
}

fn f32a(v: &[f32]) -> JsValue {
    js_sys::Float32Array::from(v).into()
}

fn num(x: f64) -> JsValue {
    JsValue::from(x)
}

fn vectors(n: usize, dims: usize, seed: u64) -> Vec<f32> {
    let mut r = elex_simd::SplitMix64(seed);
    (0..n * dims).map(|_| r.next_f32() * 2.0 - 1.0).collect()
}

fn index(n: usize) -> HnswIndex {
    let opts = js_sys::JSON::parse(r#"{"dims": 16, "metric": "cosine", "seed": 7}"#).unwrap();
    let idx = HnswIndex::new(opts).unwrap();
    let v = vectors(n, 16, 1);
    for i in 0..n {
        idx.add(num(i as f64), f32a(&v[i * 16..(i + 1) * 16]))
            .unwrap();
    }
    idx
}

/// A search result's `ids` (the plain object's Float64Array).
fn ids_of(r: &JsValue) -> Vec<f64> {
    js_sys::Reflect::get(r, &"ids".into())
        .unwrap()
        .unchecked_into::<js_sys::Float64Array>()
        .to_vec()
}

/// A search result's `scores`.
fn scores_of(r: &JsValue) -> Vec<f32> {
    js_sys::Reflect::get(r, &"scores".into())
        .unwrap()
        .unchecked_into::<js_sys::Float32Array>()
        .to_vec()
}

async fn wait(p: js_sys::Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(p).await
}

/// Save, load: the loaded index answers exactly as the saved one.
#[wasm_bindgen_test]
async fn hnsw_save_and_load_round_trip() {
    let db = unique("hnsw-rt");
    let idx = index(300);
    wait(idx.save(db.clone().into(), "main".into()))
        .await
        .unwrap();
    let back = crate::hnsw::load_index(&db, "main").await.unwrap();
    assert_eq!(back.size(), 300);
    let q = vectors(1, 16, 9);
    let a = idx.search(f32a(&q), num(10.0), None).unwrap();
    let b = back.search(f32a(&q), num(10.0), None).unwrap();
    assert_eq!(ids_of(&a), ids_of(&b));
    assert_eq!(scores_of(&a), scores_of(&b));
    assert_eq!(idx.to_bytes().unwrap(), back.to_bytes().unwrap());
}

/// A save whose transaction aborts (a tab closed mid-save) leaves the previous snapshot.
#[wasm_bindgen_test]
async fn an_interrupted_save_leaves_the_previous_snapshot() {
    let db = unique("hnsw-abort");
    let idx = index(100);
    wait(idx.save(db.clone().into(), "main".into()))
        .await
        .unwrap();
    let v = vectors(50, 16, 3);
    for i in 0..50 {
        idx.add(num((1000 + i) as f64), f32a(&v[i * 16..(i + 1) * 16]))
            .unwrap();
    }
    let err = crate::save_aborted(&idx, &db, "main").await.unwrap_err();
    assert_eq!(code_of(&err).as_deref(), Some("ABORTED"));
    let back = crate::hnsw::load_index(&db, "main").await.unwrap();
    assert_eq!(back.size(), 100, "the previous snapshot, whole");
}

/// A damaged record is reported with the snapshot's error code, a missing one as NOT_FOUND.
#[wasm_bindgen_test]
async fn a_corrupt_record_is_reported_not_half_loaded() {
    let db = unique("hnsw-corrupt");
    let mut bytes = index(50).to_bytes().unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    wait(put_raw(
        &db,
        "flipped",
        &js_sys::Uint8Array::from(&bytes[..]),
    ))
    .await
    .unwrap();
    let err = wait(HnswIndex::load(db.clone().into(), "flipped".into()))
        .await
        .unwrap_err();
    assert_eq!(code_of(&err).as_deref(), Some("CHECKSUM_MISMATCH"));
    wait(put_raw(&db, "cut", &js_sys::Uint8Array::from(&bytes[..40])))
        .await
        .unwrap();
    let err = wait(HnswIndex::load(db.clone().into(), "cut".into()))
        .await
        .unwrap_err();
    assert_eq!(code_of(&err).as_deref(), Some("TRUNCATED"));
    let err = wait(HnswIndex::load(db.into(), "absent".into()))
        .await
        .unwrap_err();
    assert_eq!(code_of(&err).as_deref(), Some("NOT_FOUND"));
}

fn cache(db: &str, budget: u32) -> AdaptiveCache {
    let opts = js_sys::Object::new();
    js_sys::Reflect::set(&opts, &"budgetBytes".into(), &budget.into()).unwrap();
    js_sys::Reflect::set(&opts, &"dbName".into(), &db.into()).unwrap();
    js_sys::Reflect::set(&opts, &"policy".into(), &"lru".into()).unwrap();
    AdaptiveCache::new(opts.into()).unwrap()
}

fn payload(i: u32) -> js_sys::Uint8Array {
    let v: Vec<u8> = (0..200u32).map(|j| (i * 7 + j) as u8).collect();
    js_sys::Uint8Array::from(&v[..])
}

fn stat(c: &AdaptiveCache, name: &str) -> f64 {
    js_sys::Reflect::get(&c.stats().unwrap(), &name.into())
        .unwrap()
        .as_f64()
        .unwrap()
}

async fn get_bytes(c: &AdaptiveCache, key: String) -> Option<Vec<u8>> {
    let v = wait(c.get(key.into())).await.unwrap();
    v.dyn_into::<js_sys::Uint8Array>().ok().map(|a| a.to_vec())
}

/// Victims go to IndexedDB before they leave memory and come back on a miss; nothing dropped.
#[wasm_bindgen_test]
async fn cache_spills_to_indexeddb_and_reloads_with_nothing_lost() {
    let db = unique("cache-spill");
    let c = cache(&db, 2_000);
    for i in 0..60u32 {
        wait(c.put(format!("k{i}").into(), payload(i).into(), None))
            .await
            .unwrap();
        assert!(c.bytes() <= 2_000.0);
    }
    assert!(stat(&c, "spilled") > 40.0);
    assert_eq!(stat(&c, "dropped"), 0.0);
    assert_eq!(stat(&c, "pending"), 0.0, "every victim reached IndexedDB");
    // A JS value (not bytes) round-trips too.
    let obj = js_sys::JSON::parse(r#"{"text": "hello", "n": [1, 2, 3]}"#).unwrap();
    wait(c.put("obj".into(), obj, None)).await.unwrap();
    for i in 0..60u32 {
        assert_eq!(
            get_bytes(&c, format!("k{i}")).await,
            Some(payload(i).to_vec()),
            "k{i}"
        );
    }
    let o = wait(c.get("obj".into())).await.unwrap();
    assert_eq!(
        js_sys::JSON::stringify(&o).unwrap().as_string().unwrap(),
        r#"{"text":"hello","n":[1,2,3]}"#
    );
    assert!(stat(&c, "reloads") > 40.0);
    // An update makes the spilled version unreachable.
    wait(c.put("k0".into(), payload(999).into(), None))
        .await
        .unwrap();
    for i in 1..60u32 {
        get_bytes(&c, format!("k{i}")).await;
    }
    assert_eq!(
        get_bytes(&c, "k0".into()).await,
        Some(payload(999).to_vec())
    );
    // A later session finds what was spilled.
    c.close();
    let opts = js_sys::JSON::parse(&format!(
        r#"{{"budgetBytes": 2000, "dbName": "{db}", "policy": "lru"}}"#
    ))
    .unwrap();
    let again = crate::cache::open_cache(AdaptiveCache::new(opts).unwrap())
        .await
        .unwrap();
    let mut found = 0;
    for i in 1..60u32 {
        if let Some(b) = get_bytes(&again, format!("k{i}")).await {
            assert_eq!(b, payload(i).to_vec());
            found += 1;
        }
    }
    assert!(found > 40, "found {found}");
}

/// Quota exceeded while spilling: the operation rejects with QUOTA_EXCEEDED, the victims stay
/// readable in memory, and once space is back they reach IndexedDB.
#[wasm_bindgen_test]
async fn quota_exceeded_surfaces_and_loses_nothing() {
    let db = unique("cache-quota");
    let c = cache(&db, 1_000);
    for i in 0..4u32 {
        wait(c.put(format!("k{i}").into(), payload(i).into(), None))
            .await
            .unwrap();
    }
    fail_puts_with_quota(true);
    let mut rejected = 0;
    for i in 4..12u32 {
        if let Err(e) = wait(c.put(format!("k{i}").into(), payload(i).into(), None)).await {
            assert_eq!(code_of(&e).as_deref(), Some("QUOTA_EXCEEDED"));
            rejected += 1;
        }
        assert!(c.bytes() <= 1_000.0);
    }
    assert!(rejected > 0);
    assert!(stat(&c, "pending") > 0.0);
    assert!(stat(&c, "spillFailures") > 0.0);
    fail_puts_with_quota(false);
    wait(c.flush()).await.unwrap();
    assert_eq!(stat(&c, "pending"), 0.0);
    for i in 0..12u32 {
        assert_eq!(
            get_bytes(&c, format!("k{i}")).await,
            Some(payload(i).to_vec()),
            "k{i}"
        );
    }
    assert_eq!(stat(&c, "dropped"), 0.0);
}

/// The database closed behind the cache: DB_CLOSED, nothing lost, the next operation reopens.
#[wasm_bindgen_test]
async fn a_closed_database_surfaces_and_loses_nothing() {
    let db = unique("cache-closed");
    let c = cache(&db, 1_000);
    for i in 0..6u32 {
        wait(c.put(format!("k{i}").into(), payload(i).into(), None))
            .await
            .unwrap();
    }
    c.close_behind();
    let mut closed = 0;
    for i in 6..10u32 {
        if let Err(e) = wait(c.put(format!("k{i}").into(), payload(i).into(), None)).await {
            assert_eq!(code_of(&e).as_deref(), Some("DB_CLOSED"));
            closed += 1;
        }
    }
    assert!(closed > 0);
    wait(c.flush()).await.unwrap();
    for i in 0..10u32 {
        assert_eq!(
            get_bytes(&c, format!("k{i}")).await,
            Some(payload(i).to_vec()),
            "k{i}"
        );
    }
    assert_eq!(stat(&c, "dropped"), 0.0);
}

/// An upgrade blocked by another open connection is reported as DB_BLOCKED.
#[wasm_bindgen_test]
async fn a_blocked_database_is_reported() {
    let db = unique("blocked");
    wait(hold_open(&db)).await.unwrap();
    let err = idb::open(&db, 2).await.unwrap_err();
    assert_eq!(code_of(&err).as_deref(), Some("DB_BLOCKED"));
    release();
}

/// Bad input: typed errors with codes.
#[wasm_bindgen_test]
fn bad_input_gets_coded_errors() {
    let idx = index(5);
    let e = idx.add(num(1.0), f32a(&[0.0; 3])).unwrap_err();
    assert_eq!(code_of(&e).as_deref(), Some("DIMENSION_MISMATCH"));
    let e = idx.add(num(-1.0), f32a(&[0.5; 16])).unwrap_err();
    assert_eq!(code_of(&e).as_deref(), Some("INVALID_ID"));
    let e = idx.delete(num(77.0)).unwrap_err();
    assert_eq!(code_of(&e).as_deref(), Some("UNKNOWN_ID"));
    let e = idx
        .search(f32a(&[f32::NAN; 16]), num(3.0), None)
        .unwrap_err();
    assert_eq!(code_of(&e).as_deref(), Some("NON_FINITE"));
    let e = HnswIndex::new(js_sys::JSON::parse(r#"{"dims": 4, "metric": "hamming"}"#).unwrap())
        .err()
        .unwrap();
    assert_eq!(code_of(&e).as_deref(), Some("INVALID_OPTIONS"));
    let e = HnswIndex::from_bytes(js_sys::Uint8Array::from(&[1u8, 2, 3][..]).into())
        .err()
        .unwrap();
    assert!(code_of(&e).is_some());
}

fn ids(range: std::ops::Range<u32>) -> JsValue {
    js_sys::Float64Array::from(&range.map(f64::from).collect::<Vec<_>>()[..]).into()
}

/// Two batches in flight on one index, sharing an id: the first goes in whole, the second is
/// rejected whole (not half-applied); while they run, synchronous writes are BUSY and searches
/// answer; a save queued behind them holds exactly the first.
#[wasm_bindgen_test]
async fn concurrent_batches_are_each_all_or_nothing() {
    let db = unique("hnsw-batches");
    let idx = index(10);
    let opts = js_sys::JSON::parse(r#"{"sliceMs": 0.5}"#).unwrap();
    let a = idx.add_batch(
        ids(100..400),
        f32a(&vectors(300, 16, 21)),
        Some(opts.clone()),
    );
    // The second shares id 399 with the first.
    let b = idx.add_batch(ids(399..700), f32a(&vectors(301, 16, 22)), Some(opts));
    let busy = idx.add(num(5000.0), f32a(&[0.5; 16])).unwrap_err();
    assert_eq!(code_of(&busy).as_deref(), Some("BUSY"));
    assert!(idx.search(f32a(&[0.5; 16]), num(3.0), None).is_ok());
    let saved = idx.save(db.clone().into(), "main".into());
    assert_eq!(wait(a).await.unwrap().as_f64(), Some(300.0));
    let e = wait(b).await.unwrap_err();
    assert_eq!(code_of(&e).as_deref(), Some("DUPLICATE_ID"));
    wait(saved).await.unwrap();
    assert_eq!(idx.size(), 310);
    let back = crate::hnsw::load_index(&db, "main").await.unwrap();
    assert_eq!(back.size(), 310);
    assert_eq!(idx.to_bytes().unwrap(), back.to_bytes().unwrap());
    idx.add(num(5000.0), f32a(&[0.5; 16])).unwrap();
}

/// A throwing onProgress rolls the batch back exactly and rejects with the caller's error.
#[wasm_bindgen_test]
async fn a_throwing_progress_callback_rolls_the_batch_back() {
    let idx = index(50);
    let before = idx.to_bytes().unwrap();
    let f = js_sys::Function::new_with_args(
        "done",
        "if (done >= 20) throw Object.assign(new Error('mine'), { mark: 7 });",
    );
    let opts = js_sys::Object::new();
    js_sys::Reflect::set(&opts, &"onProgress".into(), &f).unwrap();
    js_sys::Reflect::set(&opts, &"sliceMs".into(), &num(0.01)).unwrap();
    let e = wait(idx.add_batch(
        ids(1000..1200),
        f32a(&vectors(200, 16, 5)),
        Some(opts.into()),
    ))
    .await
    .unwrap_err();
    let mark = js_sys::Reflect::get(&e, &"mark".into()).unwrap();
    assert_eq!(mark.as_f64(), Some(7.0), "the caller's own error");
    assert_eq!(
        idx.to_bytes().unwrap(),
        before,
        "nothing of the batch is left"
    );
    idx.add(num(1000.0), f32a(&[0.25; 16])).unwrap();
    assert_eq!(idx.size(), 51);
}

/// A snapshot larger than one piece (4 MB) is saved in pieces in one transaction and loads
/// back whole; a shorter save later leaves no stale pieces; a missing piece is CORRUPT, never a
/// half-loaded index.
#[wasm_bindgen_test]
async fn a_large_snapshot_is_saved_in_pieces() {
    let db = unique("hnsw-pieces");
    let opts =
        js_sys::JSON::parse(r#"{"dims": 1024, "metric": "l2", "m": 4, "efConstruction": 8}"#)
            .unwrap();
    let idx = HnswIndex::new(opts).unwrap();
    let n = 1300; // 1300 x 1024 x 4 bytes: 5.3 MB, two pieces
    wait(idx.add_batch(ids(0..n), f32a(&vectors(n as usize, 1024, 3)), None))
        .await
        .unwrap();
    let size = wait(idx.save(db.clone().into(), "big".into()))
        .await
        .unwrap();
    assert!(size.as_f64().unwrap() > 5e6);
    let back = crate::hnsw::load_index(&db, "big").await.unwrap();
    assert_eq!(back.to_bytes().unwrap(), idx.to_bytes().unwrap());
    // A smaller index saved under the same key: one piece, the old second piece is gone.
    let small = index(20);
    wait(small.save(db.clone().into(), "big".into()))
        .await
        .unwrap();
    let back = crate::hnsw::load_index(&db, "big").await.unwrap();
    assert_eq!(back.size(), 20);
    let stale = wait(raw_get(&db, "big#1")).await.unwrap();
    assert!(
        stale.is_undefined(),
        "the second piece of the earlier save is deleted"
    );
    // Damage: the first piece goes missing.
    wait(idx.save(db.clone().into(), "big".into()))
        .await
        .unwrap();
    wait(delete_raw(&db, "big#0")).await.unwrap();
    let e = wait(HnswIndex::load(db.into(), "big".into()))
        .await
        .unwrap_err();
    assert_eq!(code_of(&e).as_deref(), Some("CORRUPT"));
}

fn strings(v: &[String]) -> JsValue {
    v.iter()
        .map(|s| JsValue::from_str(s))
        .collect::<js_sys::Array>()
        .into()
}

fn passages(n: u32) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "passage {i} about topic{} and the word{} of note",
                i % 13,
                i % 7
            )
        })
        .collect()
}

/// A text index saved to real IndexedDB (in pieces, one transaction) loads back identical; a
/// damaged record is CHECKSUM_MISMATCH, nothing half-loaded.
#[wasm_bindgen_test]
async fn text_index_save_and_load_round_trip() {
    let db = unique("text-rt");
    let t = TextIndex::new(None).unwrap();
    wait(t.add_batch(ids(0..500), strings(&passages(500)), None))
        .await
        .unwrap();
    t.delete(num(3.0)).unwrap();
    wait(t.save(db.clone().into(), "words".into()))
        .await
        .unwrap();
    let back = crate::text::load_text_index(&db, "words").await.unwrap();
    assert_eq!(back.size(), 499);
    assert_eq!(back.to_bytes().unwrap(), t.to_bytes().unwrap());
    let a = t.search("topic4 word2".into(), num(10.0)).unwrap();
    let b = back.search("topic4 word2".into(), num(10.0)).unwrap();
    assert_eq!(ids_of(&a), ids_of(&b));
    let mut bytes = t.to_bytes().unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    wait(put_raw(&db, "bad", &js_sys::Uint8Array::from(&bytes[..])))
        .await
        .unwrap();
    let err = wait(TextIndex::load(db.into(), "bad".into()))
        .await
        .unwrap_err();
    assert_eq!(code_of(&err).as_deref(), Some("CHECKSUM_MISMATCH"));
}

/// Two text batches in flight land one after the other, each whole; a rejected one (a
/// duplicate id) changes nothing; hybrid search over both indexes answers from both sides.
#[wasm_bindgen_test]
async fn text_batches_are_all_or_nothing_and_hybrid_fuses() {
    let t = TextIndex::new(None).unwrap();
    let texts = passages(300);
    let first = t.add_batch(ids(0..150), strings(&texts[..150]), None);
    let second = t.add_batch(ids(150..300), strings(&texts[150..]), None);
    let dup = t.add_batch(ids(299..301), strings(&texts[..2]), None);
    wait(first).await.unwrap();
    wait(second).await.unwrap();
    let err = wait(dup).await.unwrap_err();
    assert_eq!(code_of(&err).as_deref(), Some("DUPLICATE_ID"));
    assert_eq!(t.size(), 300);
    let v = index(300);
    let q = f32a(&vectors(1, 16, 5));
    let query = js_sys::Object::new();
    js_sys::Reflect::set(&query, &"vector".into(), &q).unwrap();
    js_sys::Reflect::set(&query, &"text".into(), &"topic5".into()).unwrap();
    js_sys::Reflect::set(&query, &"k".into(), &num(10.0)).unwrap();
    let r = crate::hybrid_search(&v, &t, query.into()).unwrap();
    assert_eq!(js_sys::Reflect::get(&r, &"length".into()).unwrap(), 10);
    let text_ids = ids_of(&t.search("topic5".into(), num(50.0)).unwrap());
    let vector_ids = ids_of(&v.search(q, num(50.0), None).unwrap());
    assert!(
        ids_of(&r)
            .iter()
            .all(|id| text_ids.contains(id) || vector_ids.contains(id))
    );
}
