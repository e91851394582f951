//! The persistent methods every persisted class exposes (`flush`, `checkpoint`, `close`,
//! `persistent`, `readOnly`, `recovered`, `storageStats`), written once. Each class keeps its
//! `durable: Option<Rc<Durable<T>>>` (set by its `open`) and invokes [`durable_methods!`]
//! beside its main `impl`; wasm-bindgen exports the second `impl` block as methods of the same
//! class, with these docs in the TypeScript declarations. The bodies call `persist`'s
//! functions, which the core build (no IndexedDB) answers as for an in-memory object.

/// Adds the persistent methods to `$class` (a `#[wasm_bindgen]` struct with a `durable`
/// field); `$what` names the object in messages ("index", "text index", "learner").
macro_rules! durable_methods {
    ($class:ident, $what:literal) => {
        #[wasm_bindgen]
        impl $class {
            /// Resolves when every write made so far is durable (its log record committed, or
            /// the checkpoint that covers it). Immediate in memory.
            #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
            pub fn flush(&self) -> js_sys::Promise {
                crate::persist::flush_promise(self.durable.clone())
            }

            /// Writes the object as a new generation of checkpoint pages, then switches to it
            /// and drops the log it covers. `NOT_PERSISTENT` in memory.
            #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
            pub fn checkpoint(&self) -> js_sys::Promise {
                crate::persist::checkpoint_promise(
                    self.durable.clone(),
                    concat!(
                        "this ",
                        $what,
                        " lives in memory only (use ",
                        stringify!($class),
                        ".open for a persistent one)"
                    ),
                )
            }

            /// Flushes, gives up the writer's role (another tab may take it) and closes the
            /// database connection; later writes fail with `CLOSED`, reads keep working.
            /// Nothing to do in memory.
            #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
            pub fn close(&self) -> js_sys::Promise {
                crate::persist::close_promise(self.durable.clone())
            }

            /// Whether the object is kept in IndexedDB (made by `open`).
            #[wasm_bindgen(getter)]
            pub fn persistent(&self) -> bool {
                self.durable.is_some()
            }

            /// Whether writes are refused here: another tab or worker is the writer (or the
            /// object was closed). False in memory.
            #[wasm_bindgen(getter, js_name = readOnly)]
            pub fn read_only(&self) -> bool {
                crate::persist::read_only(self.durable.as_ref())
            }

            /// After `open({ recover: true })` over a damaged log: `{ lost, firstLost }` (log
            /// records dropped, and the first of them); `null` when nothing was lost.
            #[wasm_bindgen(getter, unchecked_return_type = "Recovered | null")]
            pub fn recovered(&self) -> Result<JsValue, JsValue> {
                crate::persist::recovered(self.durable.as_ref())
            }

            /// The persistent side's figures: `{ generation, nextSeq, logBytes, snapshotBytes,
            /// bytesWritten, checkpoints }`; `null` in memory.
            #[wasm_bindgen(js_name = storageStats, unchecked_return_type = "StorageStats | null")]
            pub fn storage_stats(&self) -> Result<JsValue, JsValue> {
                crate::persist::stats(self.durable.as_ref())
            }
        }
    };
}
