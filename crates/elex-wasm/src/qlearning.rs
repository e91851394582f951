//! `QLearner`: batch TD updates from typed arrays, acting, snapshots.

use crate::args;
use crate::error::q_error;
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
    inner: Learner,
}

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
        Learner::new(cfg)
            .map(|inner| QLearner { inner })
            .map_err(q_error)
    }

    /// Applies a batch given as parallel typed arrays, in order; returns the mean absolute TD
    /// error. A bad entry rejects the whole batch and changes nothing.
    #[wasm_bindgen(js_name = updateBatch)]
    pub fn update_batch(
        &mut self,
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
        self.inner
            .update_batch_arrays(&states, &actions, &rewards, &next_states, &dones)
            .map(|s| s.mean_abs_td)
            .map_err(q_error)
    }

    /// Applies the first `len` transitions of a [`TransitionBatch`] in place (no copies);
    /// `len` above the batch's capacity is a `RangeError` (`BATCH_SHAPE`).
    #[wasm_bindgen(js_name = updateFrom)]
    pub fn update_from(
        &mut self,
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
        self.inner
            .update_batch_arrays(
                &batch.states[..n],
                &batch.actions[..n],
                &batch.rewards[..n],
                &batch.next_states[..n],
                &batch.dones[..n],
            )
            .map(|s| s.mean_abs_td)
            .map_err(q_error)
    }

    /// An ε-greedy action (`epsilon` in [0, 1]; 0 is greedy).
    pub fn act(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "number")] state: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] epsilon: JsValue,
    ) -> Result<u32, JsValue> {
        let state = args::integer(&state, "state", 0.0, f64::from(u32::MAX))? as u32;
        let epsilon = args::finite(&epsilon, "epsilon", 0.0, 1.0)? as f32;
        self.inner
            .act(state, &Policy::EpsilonGreedy(Schedule::Constant(epsilon)))
            .map_err(q_error)
    }

    /// `Q(state, action)`.
    pub fn value(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number")] state: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] action: JsValue,
    ) -> Result<f32, JsValue> {
        let state = args::integer(&state, "state", 0.0, f64::from(u32::MAX))? as u32;
        let action = args::integer(&action, "action", 0.0, f64::from(u32::MAX))? as u32;
        self.inner.value(state, action).map_err(q_error)
    }

    /// The learner as a snapshot.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.inner.to_bytes()
    }

    /// A learner from a snapshot; corrupt bytes are an error.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
    ) -> Result<QLearner, JsValue> {
        let bytes = args::bytes(&bytes, "bytes")?;
        Learner::from_bytes(&bytes)
            .map(|inner| QLearner { inner })
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
        let bytes = self.inner.to_bytes();
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
                .map(|inner| JsValue::from(QLearner { inner }))
                .map_err(q_error)
        })
    }
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
