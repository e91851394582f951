//! `QLearner`: batch TD updates from typed arrays, acting, snapshots.

use crate::error::q_error;
use elex_qlearning::{Learner, LearnerConfig, Policy, Schedule, Seed};
use wasm_bindgen::prelude::*;

/// A tabular Q-learner (Q-learning rule) over `states × actions`.
#[wasm_bindgen]
pub struct QLearner {
    inner: Learner,
}

#[wasm_bindgen]
impl QLearner {
    /// A learner with every value 0; `seed` drives the exploration of `act`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        states: u32,
        actions: u32,
        alpha: f32,
        gamma: f32,
        seed: u32,
    ) -> Result<QLearner, JsValue> {
        let mut cfg = LearnerConfig::new(states as usize, actions as usize);
        (cfg.alpha, cfg.gamma, cfg.seed) = (alpha, gamma, Seed::Fixed(u64::from(seed)));
        Learner::new(cfg)
            .map(|inner| QLearner { inner })
            .map_err(q_error)
    }

    /// Applies a batch given as parallel typed arrays, in order; returns the mean absolute TD
    /// error. A bad entry rejects the whole batch and changes nothing.
    #[wasm_bindgen(js_name = updateBatch)]
    pub fn update_batch(
        &mut self,
        states: &[u32],
        actions: &[u32],
        rewards: &[f32],
        next_states: &[u32],
        dones: &[u8],
    ) -> Result<f32, JsValue> {
        self.inner
            .update_batch_arrays(states, actions, rewards, next_states, dones)
            .map(|s| s.mean_abs_td)
            .map_err(q_error)
    }

    /// Applies the first `len` transitions of a [`TransitionBatch`] in place (no copies).
    #[wasm_bindgen(js_name = updateFrom)]
    pub fn update_from(&mut self, batch: &TransitionBatch, len: u32) -> Result<f32, JsValue> {
        let n = (len as usize).min(batch.states.len());
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
    pub fn act(&mut self, state: u32, epsilon: f32) -> Result<u32, JsValue> {
        self.inner
            .act(state, &Policy::EpsilonGreedy(Schedule::Constant(epsilon)))
            .map_err(q_error)
    }

    /// `Q(state, action)`.
    pub fn value(&self, state: u32, action: u32) -> Result<f32, JsValue> {
        self.inner.value(state, action).map_err(q_error)
    }

    /// The learner as a snapshot.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.inner.to_bytes()
    }

    /// A learner from a snapshot; corrupt bytes are an error.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<QLearner, JsValue> {
        Learner::from_bytes(bytes)
            .map(|inner| QLearner { inner })
            .map_err(q_error)
    }

    /// Saves the snapshot under `key` in the IndexedDB database `dbName` (one transaction:
    /// whole or not at all).
    pub fn save(&self, db_name: String, key: String) -> js_sys::Promise {
        let bytes = self.inner.to_bytes();
        wasm_bindgen_futures::future_to_promise(async move {
            crate::idb::save_snapshot(&db_name, &key, &bytes).await?;
            Ok(JsValue::from(bytes.len() as f64))
        })
    }

    /// Loads a snapshot saved with `save` (`NOT_FOUND`, or the snapshot's own error codes).
    #[wasm_bindgen(unchecked_return_type = "Promise<QLearner>")]
    pub fn load(db_name: String, key: String) -> js_sys::Promise {
        wasm_bindgen_futures::future_to_promise(async move {
            let bytes = crate::idb::load_snapshot(&db_name, &key).await?;
            QLearner::from_bytes(&bytes).map(JsValue::from)
        })
    }
}

/// Transition columns that live in wasm memory: JS writes them through typed-array views
/// (`statesPtr()` and friends are byte offsets into the module's memory, `capacity` the length)
/// and [`QLearner::update_from`] reads them in place, so a batch crosses no copy. The buffers
/// never reallocate; views must be re-created if the memory grows (its `buffer` changes).
#[wasm_bindgen]
pub struct TransitionBatch {
    states: Vec<u32>,
    actions: Vec<u32>,
    rewards: Vec<f32>,
    next_states: Vec<u32>,
    dones: Vec<u8>,
}

#[wasm_bindgen]
impl TransitionBatch {
    /// Room for `capacity` transitions, all zero.
    #[wasm_bindgen(constructor)]
    pub fn new(capacity: u32) -> TransitionBatch {
        let n = capacity as usize;
        TransitionBatch {
            states: vec![0; n],
            actions: vec![0; n],
            rewards: vec![0.0; n],
            next_states: vec![0; n],
            dones: vec![0; n],
        }
    }

    /// Transitions the columns hold.
    #[wasm_bindgen(getter)]
    pub fn capacity(&self) -> u32 {
        self.states.len() as u32
    }

    /// Byte offset of the `states` column (u32).
    #[wasm_bindgen(js_name = statesPtr)]
    pub fn states_ptr(&self) -> usize {
        self.states.as_ptr() as usize
    }

    /// Byte offset of the `actions` column (u32).
    #[wasm_bindgen(js_name = actionsPtr)]
    pub fn actions_ptr(&self) -> usize {
        self.actions.as_ptr() as usize
    }

    /// Byte offset of the `rewards` column (f32).
    #[wasm_bindgen(js_name = rewardsPtr)]
    pub fn rewards_ptr(&self) -> usize {
        self.rewards.as_ptr() as usize
    }

    /// Byte offset of the `nextStates` column (u32).
    #[wasm_bindgen(js_name = nextStatesPtr)]
    pub fn next_states_ptr(&self) -> usize {
        self.next_states.as_ptr() as usize
    }

    /// Byte offset of the `dones` column (u8, non-zero = terminal).
    #[wasm_bindgen(js_name = donesPtr)]
    pub fn dones_ptr(&self) -> usize {
        self.dones.as_ptr() as usize
    }
}
