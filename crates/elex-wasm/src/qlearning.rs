//! `QLearner`: batch TD updates from typed arrays, acting, snapshots, and a persistent learner
//! (`QLearner.open`) whose updates and actions are logged like a persistent index's.

use std::cell::{RefCell, RefMut};
use std::rc::Rc;

use crate::args;
use crate::error::{js_error, q_error};
use crate::persist::{self, Durable};
#[cfg(feature = "full")]
use crate::{error::type_error, persist::OpenOptions, task::Queue};
use elex_qlearning::{Learner, LearnerConfig, Policy, Schedule, Seed};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// The most Q-values a learner made from JS may hold (256 MB of f32): beyond, a failed
/// allocation would abort the module instead of returning an error.
const MAX_JS_VALUES: usize = 1 << 26;
/// The most transitions a [`TransitionBatch`] holds.
const MAX_BATCH: u32 = 1 << 24;

/// A tabular Q-learner (Q-learning rule) over `states × actions`.
#[wasm_bindgen]
pub struct QLearner {
    inner: Rc<RefCell<Learner>>,
    /// Set for a learner from `QLearner.open`.
    durable: Option<Rc<Durable<Learner>>>,
}

impl QLearner {
    fn wrap(l: Learner) -> QLearner {
        QLearner {
            inner: Rc::new(RefCell::new(l)),
            durable: None,
        }
    }

    fn write(&self, what: &str) -> Result<RefMut<'_, Learner>, JsValue> {
        if let Some(d) = &self.durable {
            d.check_writable(what)?;
        }
        self.inner.try_borrow_mut().map_err(|_| {
            js_error(
                "BUSY",
                format!("{what}: the learner is in use by an operation in progress"),
                false,
            )
        })
    }

    fn log(&self, f: impl FnOnce(&mut elex_qlearning::LearnerLog)) {
        if let Some(d) = &self.durable {
            d.record(f);
        }
    }
}

durable_methods!(QLearner, "learner");

#[wasm_bindgen]
impl QLearner {
    /// A learner with every value 0; `seed` (a non-negative safe integer) drives the
    /// exploration of `act`. `states · actions` is limited (`INVALID_TABLE` beyond).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "number")] states: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] actions: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] alpha: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] gamma: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] seed: JsValue,
    ) -> Result<QLearner, JsValue> {
        crate::set_panic_hook();
        let states = args::integer(&states, "states", 1.0, f64::from(u32::MAX))? as usize;
        let actions = args::integer(&actions, "actions", 1.0, f64::from(u32::MAX))? as usize;
        let alpha = args::number(&alpha, "alpha")? as f32;
        let gamma = args::number(&gamma, "gamma")? as f32;
        let seed = args::integer(&seed, "seed", 0.0, args::MAX_SAFE)?;
        if states.saturating_mul(actions) > MAX_JS_VALUES {
            return Err(crate::error::js_error(
                "INVALID_TABLE",
                format!(
                    "{states} states x {actions} actions is more than the {MAX_JS_VALUES} values a learner in the browser may hold"
                ),
                true,
            ));
        }
        let mut cfg = LearnerConfig::new(states, actions);
        (cfg.alpha, cfg.gamma, cfg.seed) = (alpha, gamma, Seed::Fixed(seed));
        Learner::new(cfg).map(QLearner::wrap).map_err(q_error)
    }

    /// Applies a batch given as parallel typed arrays, in order; returns the mean absolute TD
    /// error. A bad entry rejects the whole batch and changes nothing.
    #[wasm_bindgen(js_name = updateBatch)]
    pub fn update_batch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Uint32Array | number[]")] states: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint32Array | number[]")] actions: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] rewards: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint32Array | number[]")] next_states: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | number[]")] dones: JsValue,
    ) -> Result<f32, JsValue> {
        let states = args::u32s(&states, "states", u32::MAX)?;
        let actions = args::u32s(&actions, "actions", u32::MAX)?;
        let rewards = args::f32s(&rewards, "rewards")?;
        let next_states = args::u32s(&next_states, "nextStates", u32::MAX)?;
        let dones: Vec<u8> = args::u32s(&dones, "dones", 1)?
            .into_iter()
            .map(|d| d as u8)
            .collect();
        let td = self
            .write("updateBatch")?
            .update_batch_arrays(&states, &actions, &rewards, &next_states, &dones)
            .map(|s| s.mean_abs_td)
            .map_err(q_error)?;
        self.log(|l| l.update(&states, &actions, &rewards, &next_states, &dones));
        Ok(td)
    }

    /// Applies the first `len` transitions of a [`TransitionBatch`] in place (no copies);
    /// `len` above the batch's capacity is a `RangeError` (`BATCH_SHAPE`).
    #[wasm_bindgen(js_name = updateFrom)]
    pub fn update_from(
        &self,
        batch: &TransitionBatch,
        #[wasm_bindgen(unchecked_param_type = "number")] len: JsValue,
    ) -> Result<f32, JsValue> {
        let n = args::integer(&len, "len", 0.0, args::MAX_SAFE)? as usize;
        if n > batch.states.len() {
            return Err(crate::error::js_error(
                "BATCH_SHAPE",
                format!(
                    "len {n} is more than the batch's capacity of {}",
                    batch.states.len()
                ),
                true,
            ));
        }
        let (s, a, r, s2, d) = (
            &batch.states[..n],
            &batch.actions[..n],
            &batch.rewards[..n],
            &batch.next_states[..n],
            &batch.dones[..n],
        );
        let td = self
            .write("updateFrom")?
            .update_batch_arrays(s, a, r, s2, d)
            .map(|s| s.mean_abs_td)
            .map_err(q_error)?;
        self.log(|l| l.update(s, a, r, s2, d));
        Ok(td)
    }

    /// An ε-greedy action (`epsilon` in [0, 1]; 0 is greedy).
    pub fn act(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number")] state: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] epsilon: JsValue,
    ) -> Result<u32, JsValue> {
        let state = args::integer(&state, "state", 0.0, f64::from(u32::MAX))? as u32;
        let epsilon = args::finite(&epsilon, "epsilon", 0.0, 1.0)? as f32;
        let a = self
            .write("act")?
            .act(state, &Policy::EpsilonGreedy(Schedule::Constant(epsilon)))
            .map_err(q_error)?;
        self.log(|l| l.act(state, epsilon));
        Ok(a)
    }

    /// `Q(state, action)`.
    pub fn value(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number")] state: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] action: JsValue,
    ) -> Result<f32, JsValue> {
        let state = args::integer(&state, "state", 0.0, f64::from(u32::MAX))? as u32;
        let action = args::integer(&action, "action", 0.0, f64::from(u32::MAX))? as u32;
        self.inner
            .try_borrow()
            .map_err(|_| js_error("BUSY", "value: the learner is in use".into(), false))?
            .value(state, action)
            .map_err(q_error)
    }

    /// The learner as a snapshot.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Result<Vec<u8>, JsValue> {
        self.inner
            .try_borrow()
            .map(|l| l.to_bytes())
            .map_err(|_| js_error("BUSY", "toBytes: the learner is in use".into(), false))
    }

    /// A learner from a snapshot; corrupt bytes are an error.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
    ) -> Result<QLearner, JsValue> {
        let bytes = args::bytes(&bytes, "bytes")?;
        Learner::from_bytes(&bytes)
            .map(QLearner::wrap)
            .map_err(q_error)
    }

    /// Saves the snapshot under `key` in the IndexedDB database `dbName` (one transaction:
    /// whole or not at all).
    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn save(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] db_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> js_sys::Promise {
        let bytes = self.inner.borrow().to_bytes();
        let names = args::db_key(&db_name, &key);
        wasm_bindgen_futures::future_to_promise(async move {
            let (db_name, key) = names?;
            crate::idb::save_snapshot(&db_name, &key, &bytes).await?;
            Ok(JsValue::from(bytes.len() as f64))
        })
    }

    /// Loads a snapshot saved with `save` (`NOT_FOUND`, or the snapshot's own error codes).
    #[wasm_bindgen(unchecked_return_type = "Promise<QLearner>")]
    pub fn load(
        #[wasm_bindgen(unchecked_param_type = "string")] db_name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> js_sys::Promise {
        let names = args::db_key(&db_name, &key);
        wasm_bindgen_futures::future_to_promise(async move {
            let (db_name, key) = names?;
            let bytes = crate::idb::load_snapshot(&db_name, &key).await?;
            Learner::from_bytes(&bytes)
                .map(|l| JsValue::from(QLearner::wrap(l)))
                .map_err(q_error)
        })
    }

    #[cfg(feature = "full")]
    /// Opens the persistent learner `name` in the IndexedDB database `dbName`, or creates it
    /// from `states`, `actions`, `alpha`, `gamma` and `seed` (see `QLearnerOpenOptions`).
    /// Updates and actions are applied at once and logged (the calls of one task in one
    /// transaction); `flush()` resolves when they are durable. The layout, checkpoints,
    /// recovery and the one writer across tabs are those of `HnswIndex.open`.
    #[wasm_bindgen(unchecked_return_type = "Promise<QLearner>")]
    pub fn open(
        #[wasm_bindgen(unchecked_param_type = "QLearnerOpenOptions")] options: JsValue,
    ) -> js_sys::Promise {
        crate::set_panic_hook();
        wasm_bindgen_futures::future_to_promise(async move {
            let (opts, shape) = learner_open_options(&options)?;
            let (inner, durable) = persist::open(
                opts,
                || match shape {
                    Some((s, a, alpha, gamma, seed)) => QLearner::new(s, a, alpha, gamma, seed)
                        .map(|q| {
                            Rc::try_unwrap(q.inner)
                                .map(RefCell::into_inner)
                                .unwrap_or_else(|rc| rc.borrow().clone())
                        }),
                    None => Err(type_error(
                        "INVALID_OPTIONS",
                        "open options: `states`, `actions`, `alpha`, `gamma` and `seed` are \
                         needed to create a new learner",
                    )),
                },
                Rc::new(Queue::default()),
            )
            .await?;
            Ok(QLearner {
                inner,
                durable: Some(durable),
            }
            .into())
        })
    }
}

#[wasm_bindgen(typescript_custom_section)]
const QLEARNER_OPEN_OPTIONS: &str = r#"
/** Options of `QLearner.open`: where the learner lives, and its shape when it is created. */
export interface QLearnerOpenOptions {
    dbName: string;
    name: string;
    states?: number;
    actions?: number;
    alpha?: number;
    gamma?: number;
    seed?: number;
    recover?: boolean;
    checkpointShare?: number;
    durability?: "strict" | "relaxed";
}
"#;

#[cfg(feature = "full")]
/// The shape of a new learner (`states`, `actions`, `alpha`, `gamma`, `seed`) as given.
type Shape = (JsValue, JsValue, JsValue, JsValue, JsValue);

#[cfg(feature = "full")]
fn learner_open_options(options: &JsValue) -> Result<(OpenOptions, Option<Shape>), JsValue> {
    const SHAPE: [&str; 5] = ["states", "actions", "alpha", "gamma", "seed"];
    let mut known = crate::hnsw::OPEN_KEYS.to_vec();
    known.extend(SHAPE);
    crate::error::check_keys(options, "open options", &known)?;
    let opts = crate::hnsw::place_options(options)?;
    let get = |k: &str| js_sys::Reflect::get(options, &k.into()).unwrap_or(JsValue::UNDEFINED);
    let given: Vec<JsValue> = SHAPE.iter().map(|k| get(k)).collect();
    let shape = if given.iter().all(JsValue::is_undefined) {
        None
    } else {
        let [s, a, al, g, sd]: [JsValue; 5] = given.try_into().map_err(|_| JsValue::NULL)?;
        Some((s, a, al, g, sd))
    };
    Ok((opts, shape))
}

/// Transition columns that live in wasm memory: JS writes them through typed-array views
/// (`batch.states`, `batch.actions`, `batch.rewards`, `batch.nextStates`, `batch.dones`) and
/// [`QLearner::update_from`] reads them in place, so a batch crosses no copy. Each getter returns
/// a fresh view; a view kept across a growth of the module's memory is detached (its `length`
/// becomes 0), so take the views right before writing, or check `batch.viewValid(view)`.
#[wasm_bindgen]
pub struct TransitionBatch {
    states: Vec<u32>,
    actions: Vec<u32>,
    rewards: Vec<f32>,
    next_states: Vec<u32>,
    dones: Vec<u8>,
}

fn memory() -> js_sys::ArrayBuffer {
    let m: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    m.buffer().unchecked_into()
}

#[wasm_bindgen]
impl TransitionBatch {
    /// Room for `capacity` transitions (at most 2^24), all zero.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "number")] capacity: JsValue,
    ) -> Result<TransitionBatch, JsValue> {
        let n = args::integer(&capacity, "capacity", 0.0, f64::from(MAX_BATCH))? as usize;
        Ok(TransitionBatch {
            states: vec![0; n],
            actions: vec![0; n],
            rewards: vec![0.0; n],
            next_states: vec![0; n],
            dones: vec![0; n],
        })
    }

    /// Transitions the columns hold.
    #[wasm_bindgen(getter)]
    pub fn capacity(&self) -> u32 {
        self.states.len() as u32
    }

    /// A view of the `states` column (valid until the module's memory grows).
    #[wasm_bindgen(getter)]
    pub fn states(&self) -> js_sys::Uint32Array {
        js_sys::Uint32Array::new_with_byte_offset_and_length(
            &memory(),
            self.states.as_ptr() as u32,
            self.states.len() as u32,
        )
    }

    /// A view of the `actions` column.
    #[wasm_bindgen(getter)]
    pub fn actions(&self) -> js_sys::Uint32Array {
        js_sys::Uint32Array::new_with_byte_offset_and_length(
            &memory(),
            self.actions.as_ptr() as u32,
            self.actions.len() as u32,
        )
    }

    /// A view of the `rewards` column.
    #[wasm_bindgen(getter)]
    pub fn rewards(&self) -> js_sys::Float32Array {
        js_sys::Float32Array::new_with_byte_offset_and_length(
            &memory(),
            self.rewards.as_ptr() as u32,
            self.rewards.len() as u32,
        )
    }

    /// A view of the `nextStates` column.
    #[wasm_bindgen(getter, js_name = nextStates)]
    pub fn next_states(&self) -> js_sys::Uint32Array {
        js_sys::Uint32Array::new_with_byte_offset_and_length(
            &memory(),
            self.next_states.as_ptr() as u32,
            self.next_states.len() as u32,
        )
    }

    /// A view of the `dones` column (non-zero = terminal).
    #[wasm_bindgen(getter)]
    pub fn dones(&self) -> js_sys::Uint8Array {
        js_sys::Uint8Array::new_with_byte_offset_and_length(
            &memory(),
            self.dones.as_ptr() as u32,
            self.dones.len() as u32,
        )
    }

    /// Whether a view taken from this batch still reads and writes its column (false once the
    /// module's memory has grown since the view was taken).
    #[wasm_bindgen(js_name = viewValid)]
    pub fn view_valid(&self, view: &JsValue) -> bool {
        let len = js_sys::Reflect::get(view, &"length".into())
            .ok()
            .and_then(|l| l.as_f64());
        len == Some(self.states.len() as f64)
    }
}
