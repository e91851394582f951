//! Experience buffers: a ring buffer with uniform sampling (experience replay) and a buffer of
//! whole episodes with discounted returns.

use crate::Transition;
use elex_simd::SplitMix64;

/// A fixed-capacity ring of transitions; once full, each push replaces the oldest.
#[derive(Clone, Debug)]
pub struct ReplayBuffer {
    items: Vec<Transition>,
    capacity: usize,
    next: usize,
    rng: SplitMix64,
}

impl ReplayBuffer {
    /// An empty buffer (a capacity of 0 is raised to 1) sampling with a seeded stream.
    pub fn new(capacity: usize, seed: u64) -> ReplayBuffer {
        let capacity = capacity.max(1);
        ReplayBuffer {
            items: Vec::with_capacity(capacity),
            capacity,
            next: 0,
            rng: SplitMix64(seed),
        }
    }

    /// Adds a transition, evicting the oldest when full.
    pub fn push(&mut self, t: Transition) {
        if self.items.len() < self.capacity {
            self.items.push(t);
        } else {
            self.items[self.next] = t;
        }
        self.next = (self.next + 1) % self.capacity;
    }

    /// Transitions held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The most transitions held at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Fills `out` (cleared first) with `n` transitions drawn uniformly with replacement;
    /// nothing when the buffer is empty.
    pub fn sample_into(&mut self, n: usize, out: &mut Vec<Transition>) {
        out.clear();
        if self.items.is_empty() {
            return;
        }
        let len = self.items.len() as u32;
        out.extend((0..n).map(|_| self.items[self.rng.below(len) as usize]));
    }

    /// Forgets every transition.
    pub fn clear(&mut self) {
        self.items.clear();
        self.next = 0;
    }
}

/// Transitions grouped into episodes.
#[derive(Clone, Debug, Default)]
pub struct TrajectoryBuffer {
    steps: Vec<Transition>,
    ends: Vec<usize>,
}

impl TrajectoryBuffer {
    /// An empty buffer.
    pub fn new() -> TrajectoryBuffer {
        TrajectoryBuffer::default()
    }

    /// Appends a step to the current episode.
    pub fn push(&mut self, t: Transition) {
        self.steps.push(t);
    }

    /// Closes the current episode (a no-op when it is empty).
    pub fn end_episode(&mut self) {
        if self.steps.len() > self.ends.last().copied().unwrap_or(0) {
            self.ends.push(self.steps.len());
        }
    }

    /// Closed episodes, oldest first.
    pub fn episodes(&self) -> impl Iterator<Item = &[Transition]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(a, b)| &self.steps[a..b])
    }

    /// Every step, closed episodes and the open one, in order (a ready batch).
    pub fn steps(&self) -> &[Transition] {
        &self.steps
    }

    /// The discounted return from each step of each closed episode to its end.
    pub fn returns(&self, gamma: f32) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.ends.last().copied().unwrap_or(0));
        for ep in self.episodes() {
            let start = out.len();
            out.resize(start + ep.len(), 0.0);
            let mut g = 0.0f32;
            for (i, t) in ep.iter().enumerate().rev() {
                g = t.reward + gamma * g;
                out[start + i] = g;
            }
        }
        out
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.steps.clear();
        self.ends.clear();
    }
}
