//! `AdaptiveCache`: elex-cache for JS, with IndexedDB as the spill tier. Values are bytes
//! (`Uint8Array`) or any structured-cloneable JS value; each is weighed in bytes (its length, or
//! the caller's figure, or the length of its JSON), plus the key. Victims are written to the
//! `spill` store of the cache's database in one transaction per operation before they leave
//! memory; a later `get` reloads them. A failed write (quota, closed database) rejects the
//! operation with its code and keeps the victims in memory, readable and retried next time.

use std::cell::RefCell;
use std::rc::Rc;

use elex_cache::{Cache, CacheConfig, Lookup, Policy, SpillOp, Weigher};
use serde::Deserialize;
use tsify_next::Tsify;
use wasm_bindgen::prelude::*;

use crate::args;
use crate::error::{cache_error, code_of, js_error, type_error};
use crate::idb;

/// A value and its weight (recorded when it was put).
#[derive(Clone)]
pub(crate) struct Entry {
    value: JsValue,
    weight: u64,
}

struct EntryWeigher;

impl Weigher<String, Entry> for EntryWeigher {
    fn weigh(&self, _key: &String, e: &Entry) -> u64 {
        e.weight
    }
}

type Core = Cache<String, Entry, EntryWeigher>;

/// Options of `new AdaptiveCache(options)`; the TypeScript interface is generated from it (read by
/// hand, as `HnswIndexOptions`).
#[derive(Deserialize, Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AdaptiveCacheOptions {
    /// Hard budget for the values held in memory, in bytes.
    budget_bytes: f64,
    /// Eviction policy: `tinylfu` (default), `s3fifo` or `lru`.
    #[tsify(optional, type = "\"tinylfu\" | \"s3fifo\" | \"lru\"")]
    policy: Option<String>,
    /// IndexedDB database for the spill tier; without one, victims are dropped (and counted).
    #[tsify(optional)]
    db_name: Option<String>,
    /// Pressure at which `relieve` evicts (default 0.85).
    #[tsify(optional)]
    threshold: Option<f64>,
}

struct State {
    core: Core,
    db_name: Option<String>,
    db: Option<JsValue>,
}

/// A byte-budgeted cache with an IndexedDB spill tier.
#[wasm_bindgen]
pub struct AdaptiveCache {
    state: Rc<RefCell<State>>,
}

fn key_overhead(key: &str) -> u64 {
    key.len() as u64 + 48
}

fn weigh(key: &str, value: &JsValue, bytes: &JsValue) -> Result<u64, JsValue> {
    idb::check_storable(value)?;
    let body = if !(bytes.is_undefined() || bytes.is_null()) {
        let b = args::number(bytes, "bytes")?;
        if !(0.0..=args::MAX_SAFE).contains(&b) {
            return Err(js_error(
                "INVALID_SIZE",
                format!("size {b} is not a byte count"),
                true,
            ));
        }
        b as u64
    } else if let Some(a) = value.dyn_ref::<js_sys::Uint8Array>() {
        u64::from(a.length())
    } else if let Some(s) = value.as_string() {
        2 * s.len() as u64
    } else {
        let json = js_sys::JSON::stringify(value).map_err(|_| {
            type_error(
                "NOT_WEIGHABLE",
                "the value cannot be sized (give its size in bytes)",
            )
        })?;
        2 * json.as_string().map_or(0, |s| s.len() as u64)
    };
    Ok(body + key_overhead(key))
}

/// Opens the database if needed; `None` when the cache has no spill tier.
async fn database(state: &Rc<RefCell<State>>) -> Result<Option<JsValue>, JsValue> {
    let (name, db) = {
        let s = state.borrow();
        (s.db_name.clone(), s.db.clone())
    };
    let Some(name) = name else { return Ok(None) };
    if let Some(db) = db {
        return Ok(Some(db));
    }
    let db = idb::open(&name, 1).await?;
    state.borrow_mut().db = Some(db.clone());
    Ok(Some(db))
}

/// Hands the outbox to IndexedDB in one transaction. On failure the batch goes back (the
/// values stay readable in memory) and the error is returned; a closed database is forgotten
/// so the next operation reopens it.
async fn flush(state: &Rc<RefCell<State>>) -> Result<(), JsValue> {
    let Some(db) = database(state).await? else {
        return Ok(());
    };
    let ops = state.borrow_mut().core.take_spills();
    if ops.is_empty() {
        return Ok(());
    }
    let arr = js_sys::Array::new();
    for op in &ops {
        let item = js_sys::Array::new();
        match op {
            SpillOp::Put {
                key,
                version,
                weight,
                value,
            } => {
                let rec = js_sys::Object::new();
                js_sys::Reflect::set(&rec, &"v".into(), &(*version as f64).into())?;
                js_sys::Reflect::set(&rec, &"w".into(), &(*weight as f64).into())?;
                js_sys::Reflect::set(&rec, &"d".into(), &value.value)?;
                item.push(&JsValue::from_str(key));
                item.push(&rec);
            }
            SpillOp::Delete { key, version } => {
                item.push(&JsValue::from_str(key));
                item.push(&JsValue::NULL);
                item.push(&(*version as f64).into());
            }
        }
        arr.push(&item);
    }
    match idb::spill(&db, idb::SPILL, &arr).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let mut s = state.borrow_mut();
            s.core.restore_spills(ops);
            if code_of(&e).as_deref() == Some("DB_CLOSED") {
                s.db = None;
            }
            Err(e)
        }
    }
}

/// Indexes what the cache's database already holds (for [`AdaptiveCache::open`]).
pub(crate) async fn open_cache(cache: AdaptiveCache) -> Result<AdaptiveCache, JsValue> {
    if let Some(db) = database(&cache.state).await? {
        let rows: js_sys::Array = idb::index(&db, idb::SPILL).await?.into();
        let mut entries = Vec::with_capacity(rows.length() as usize);
        for row in rows.iter() {
            let row: js_sys::Array = row.into();
            if let (Some(k), Some(v), Some(w)) = (
                row.get(0).as_string(),
                row.get(1).as_f64(),
                row.get(2).as_f64(),
            ) {
                entries.push((k, v as u64, w as u64));
            }
        }
        cache.state.borrow_mut().core.restore_index(entries);
    }
    Ok(cache)
}

fn spawn<F>(f: F) -> js_sys::Promise
where
    F: std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
{
    wasm_bindgen_futures::future_to_promise(f)
}

#[wasm_bindgen]
impl AdaptiveCache {
    /// A cache with a byte budget; see `AdaptiveCacheOptions`. With `dbName`, call
    /// `AdaptiveCache.open(options)` instead to also index what an earlier session spilled.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "AdaptiveCacheOptions")] options: JsValue,
    ) -> Result<AdaptiveCache, JsValue> {
        crate::set_panic_hook();
        crate::error::check_keys(
            &options,
            "cache options",
            &["budgetBytes", "policy", "dbName", "threshold"],
        )?;
        let f = crate::args::Fields {
            obj: &options,
            what: "cache options",
        };
        let o = AdaptiveCacheOptions {
            budget_bytes: f.number("budgetBytes")?.ok_or_else(|| {
                type_error(
                    "INVALID_OPTIONS",
                    "cache options: `budgetBytes` is required",
                )
            })?,
            policy: f.string("policy")?,
            db_name: f.string("dbName")?,
            threshold: f.number("threshold")?,
        };
        if !(o.budget_bytes.is_finite() && o.budget_bytes >= 0.0) {
            return Err(js_error(
                "INVALID_OPTIONS",
                "budgetBytes must be a byte count".into(),
                true,
            ));
        }
        let policy = match o.policy.as_deref() {
            None => Policy::default(),
            Some(p) => Policy::parse(p).ok_or_else(|| {
                js_error(
                    "INVALID_OPTIONS",
                    format!("policy \"{p}\": use tinylfu, s3fifo or lru"),
                    true,
                )
            })?,
        };
        let mut config = CacheConfig {
            policy,
            allow_drop: o.db_name.is_none(),
            ..CacheConfig::with_budget(o.budget_bytes as u64)
        };
        if let Some(t) = o.threshold {
            config.pressure.threshold = t;
        }
        let core = Cache::new(config, EntryWeigher).map_err(cache_error)?;
        Ok(AdaptiveCache {
            state: Rc::new(RefCell::new(State {
                core,
                db_name: o.db_name,
                db: None,
            })),
        })
    }

    /// Creates the cache and indexes what its database already holds from earlier sessions.
    #[wasm_bindgen(unchecked_return_type = "Promise<AdaptiveCache>")]
    pub fn open(
        #[wasm_bindgen(unchecked_param_type = "AdaptiveCacheOptions")] options: JsValue,
    ) -> js_sys::Promise {
        let made = AdaptiveCache::new(options);
        spawn(async move { open_cache(made?).await.map(JsValue::from) })
    }

    /// Stores a value (bytes or any structured-cloneable value; `bytes` overrides its weight).
    /// Resolves once the victims it pushed out are in IndexedDB.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn put(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        value: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] bytes: Option<JsValue>,
    ) -> js_sys::Promise {
        let state = self.state.clone();
        let weighed = args::string(&key, "key").and_then(|key| {
            weigh(&key, &value, &bytes.unwrap_or(JsValue::UNDEFINED)).map(|w| (key, w))
        });
        spawn(async move {
            let (key, weight) = weighed?;
            state
                .borrow_mut()
                .core
                .put(key, Entry { value, weight })
                .map_err(cache_error)?;
            flush(&state).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The value, from memory or reloaded from IndexedDB; `undefined` if unknown.
    #[wasm_bindgen(unchecked_return_type = "Promise<any>")]
    pub fn get(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> js_sys::Promise {
        let state = self.state.clone();
        let key = args::string(&key, "key");
        spawn(async move {
            let key = key?;
            let version = match state.borrow_mut().core.get(&key) {
                Lookup::Hit(e) => return Ok(e.value.clone()),
                Lookup::Miss => return Ok(JsValue::UNDEFINED),
                Lookup::Spilled { version } => version,
            };
            let db = database(&state)
                .await?
                .ok_or_else(|| js_error("NO_STORE", "spilled without a store".into(), false))?;
            let rec = idb::get(&db, idb::SPILL, &key).await?;
            let v = js_sys::Reflect::get(&rec, &"v".into())
                .ok()
                .and_then(|v| v.as_f64());
            let w = js_sys::Reflect::get(&rec, &"w".into())
                .ok()
                .and_then(|w| w.as_f64());
            let value = {
                let mut s = state.borrow_mut();
                match (rec.is_object(), v, w) {
                    (true, Some(v), Some(w)) => {
                        let d = js_sys::Reflect::get(&rec, &"d".into())?;
                        s.core
                            .complete_reload(
                                &key,
                                v as u64,
                                Entry {
                                    value: d,
                                    weight: w as u64,
                                },
                            )
                            .map_err(cache_error)?
                            .map(|e| e.value.clone())
                    }
                    _ => {
                        s.core.reload_missing(&key, version);
                        None
                    }
                }
            };
            flush(&state).await?;
            Ok(value.unwrap_or(JsValue::UNDEFINED))
        })
    }

    /// Removes a key from memory and IndexedDB; resolves to whether it was known.
    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn delete(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> js_sys::Promise {
        let state = self.state.clone();
        let key = args::string(&key, "key");
        spawn(async move {
            let key = key?;
            let known = state.borrow_mut().core.delete(&key);
            flush(&state).await?;
            Ok(JsValue::from_bool(known))
        })
    }

    /// Records a pressure sample (the host's, 0..1, against the cache's own fill) and, at or
    /// above the threshold, evicts a share of the bytes (10/20/30/50% by level) to IndexedDB.
    /// Resolves to `{pressure, share, entries, bytes, trend}`.
    /// `hostPressure` outside [0, 1] (or not a number) is a `RangeError` (`OUT_OF_RANGE`).
    pub fn relieve(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number")] host_pressure: JsValue,
    ) -> js_sys::Promise {
        let state = self.state.clone();
        let host_pressure = args::finite(&host_pressure, "hostPressure", 0.0, 1.0);
        spawn(async move {
            let host_pressure = host_pressure?;
            let r = state.borrow_mut().core.relieve(host_pressure);
            flush(&state).await?;
            let o = js_sys::Object::new();
            js_sys::Reflect::set(&o, &"pressure".into(), &r.pressure.into())?;
            js_sys::Reflect::set(&o, &"share".into(), &r.share.into())?;
            js_sys::Reflect::set(&o, &"entries".into(), &(r.entries as f64).into())?;
            js_sys::Reflect::set(&o, &"bytes".into(), &(r.bytes as f64).into())?;
            let trend = match r.trend {
                elex_cache::Trend::Growing => "growing",
                elex_cache::Trend::Stable => "stable",
                elex_cache::Trend::Shrinking => "shrinking",
            };
            js_sys::Reflect::set(&o, &"trend".into(), &trend.into())?;
            Ok(o.into())
        })
    }

    /// Retries handing waiting victims to IndexedDB (after a quota or closed-database error).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn flush(&self) -> js_sys::Promise {
        let state = self.state.clone();
        spawn(async move {
            flush(&state).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Bytes held in memory (always <= the budget).
    #[wasm_bindgen(getter)]
    pub fn bytes(&self) -> f64 {
        self.state.borrow().core.bytes() as f64
    }

    /// The budget in bytes.
    #[wasm_bindgen(getter)]
    pub fn budget(&self) -> f64 {
        self.state.borrow().core.budget() as f64
    }

    /// Counters: hits, misses, reloads, spilled, dropped, pending (waiting for IndexedDB), ...
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        let s = self.state.borrow();
        let st = s.core.stats();
        let o = js_sys::Object::new();
        let (pending, pending_bytes) = s.core.pending();
        for (k, v) in [
            ("hits", st.hits),
            ("misses", st.misses),
            ("spilledLookups", st.spilled_lookups),
            ("reloads", st.reloads),
            ("puts", st.puts),
            ("deletes", st.deletes),
            ("evictions", st.evictions),
            ("spilled", st.spilled),
            ("dropped", st.dropped),
            ("spillFailures", st.spill_failures),
            ("lost", st.lost),
            ("pending", pending as u64),
            ("pendingBytes", pending_bytes),
            ("resident", s.core.len() as u64),
            ("bytes", s.core.bytes()),
        ] {
            js_sys::Reflect::set(&o, &k.into(), &(v as f64).into())?;
        }
        Ok(o.into())
    }

    /// Closes the IndexedDB connection (the next operation that needs it reopens it).
    pub fn close(&self) {
        if let Some(db) = self.state.borrow_mut().db.take() {
            idb::close(&db);
        }
    }

    /// Test hook: closes the connection behind the cache's back (as another tab's upgrade
    /// would), so the next write meets a closed database.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __closeDatabaseBehindTheCache)]
    pub fn close_behind(&self) {
        if let Some(db) = &self.state.borrow().db {
            idb::close(db);
        }
    }
}
