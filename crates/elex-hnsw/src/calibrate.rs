//! `ef` chosen by a target recall.
//!
//! A [`Calibration`] measures, on queries drawn from the index's own data, the recall@k a search
//! delivers at each `ef` of a fixed ladder; [`Hnsw::search_target`] then searches with the
//! `ef` at which that curve, straight between its measured points, reaches the target. The
//! sample queries are stored vectors (decoded; their f32 copies when kept), each asked
//! leave-one-out: its own node is excluded from both the exact answer (brute force over the
//! stored vectors, or the f32 copies when kept, like [`Hnsw::exact_search`]) and the search's
//! results, so a sample behaves like a query that is not in the index; the search also never
//! walks through it (it would lead straight to its own neighbours and overstate the recall:
//! 0.91 instead of 0.77 at ef 10 on a docs-50k slice).
//!
//! Cost: per sample one brute-force pass over the index (scanned in chunks, so a step in a
//! browser stays short at any size) and one search per ladder step up to the first `ef` that
//! finds the whole exact answer (larger steps are counted as exact). A
//! calibration is made on first use and refreshed when the live count has grown or shrunk by
//! [`REFRESH_FACTOR`] since ([`Calibration::is_stale`]); [`CalibrationRun`] makes one in steps.

use std::collections::BinaryHeap;

use crate::search::{Cand, Scratch};
use crate::{Filter, Hit, Hnsw, HnswError, NodeId};
use elex_simd::SplitMix64;

/// Nodes the exact pass of a sample scans between two checks of `stop`: a step stays short
/// however large the index (a whole pass over 1M vectors would be a long task in a browser).
const SCAN_CHUNK: usize = 2048;

/// The `ef` values measured, smallest first.
pub const EF_LADDER: [usize; 14] = [
    10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024,
];
/// Sample queries of a calibration made by [`Hnsw::search_target`].
pub const DEFAULT_SAMPLES: usize = 200;
/// A calibration is refreshed once the live count has changed by this factor (either way).
pub const REFRESH_FACTOR: f64 = 2.0;

/// Recall@k by `ef` on sample queries drawn from the index.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    k: usize,
    len: usize,
    samples: usize,
    /// `(ef, mean recall@k)`, ef ascending.
    points: Vec<(usize, f64)>,
    distance_evals: u64,
}

impl Calibration {
    /// The `k` asked for (recall is measured at `k`, or at the live count less one when that is
    /// smaller).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Live vectors when it was made.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it was made on an empty index.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sample queries used.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// `(ef, mean recall@k)` for each `ef` measured, ascending.
    pub fn points(&self) -> &[(usize, f64)] {
        &self.points
    }

    /// Distance evaluations it took (brute force and searches): its cost.
    pub fn distance_evals(&self) -> u64 {
        self.distance_evals
    }

    /// Whether the index has grown or shrunk by [`REFRESH_FACTOR`] or more since (`live`
    /// vectors now).
    pub fn is_stale(&self, live: usize) -> bool {
        let (now, then) = (live as f64, self.len.max(1) as f64);
        now >= then * REFRESH_FACTOR || now * REFRESH_FACTOR <= then
    }

    /// The `ef` for `target`, at least `k`: where the straight line between the two measured
    /// points around the target reaches it (rounded up), the first measured `ef` when that
    /// one reaches it already, the largest measured when none does.
    ///
    /// Recall grows with `ef` and flattens, so between two measured points the curve lies
    /// about on or above the line, and the `ef` the line gives reaches the target on the
    /// samples; without it a target just above a measured point got the next step of the
    /// ladder (docs-50k: 0.94 delivered for a target of 0.90).
    pub fn ef_for(&self, target: f64, k: usize) -> usize {
        let at = self.points.iter().position(|&(_, r)| r >= target);
        let ef = match at {
            None => self.points.last().map_or(k, |&(ef, _)| ef),
            Some(0) => self.points[0].0,
            Some(i) => {
                let ((e0, r0), (e1, r1)) = (self.points[i - 1], self.points[i]);
                // r0 < target <= r1, so the fraction is in (0, 1].
                let f = (target - r0) / (r1 - r0);
                // (Less a hair, so that a step which is whole but for rounding stays whole.)
                let step = (f * e1.saturating_sub(e0) as f64 - 1e-9).ceil() as usize;
                (e0 + step.max(1)).min(e1)
            }
        };
        ef.max(k)
    }
}

/// A calibration being made in steps (one sample query per step); the index must not change
/// until it is finished.
#[derive(Debug)]
pub struct CalibrationRun {
    /// The k asked for, and the k measured (at most the live count less one).
    k: usize,
    k_measured: usize,
    slots: usize,
    len: usize,
    queries: Vec<NodeId>,
    next: usize,
    ladder: Vec<usize>,
    /// Sum over samples of recall at each ladder step.
    sums: Vec<f64>,
    evals: u64,
    scratch: Scratch,
    hits: Vec<Hit>,
    /// The exact pass of the current sample, while it is under way.
    exact: Option<Exact>,
}

/// A sample's exact pass: its query, how many nodes were scanned, the best `k + 1` so far.
#[derive(Debug)]
struct Exact {
    q: Vec<f32>,
    scanned: usize,
    best: BinaryHeap<Cand>,
}

impl CalibrationRun {
    /// Runs sample queries until `stop()` says so (checked after every 2,048 nodes of a
    /// sample's exact pass and after each sample) or all are done; returns whether all are
    /// done.
    pub fn step(
        &mut self,
        index: &Hnsw,
        mut stop: impl FnMut() -> bool,
    ) -> Result<bool, HnswError> {
        if index.len_slots() != self.slots || index.len() != self.len || index.batch_open() {
            return Err(HnswError::Busy(
                "the index changed while it was being calibrated".into(),
            ));
        }
        while self.next < self.queries.len() {
            let n = self.queries[self.next];
            if !self.scan(index, n, &mut stop)? {
                return Ok(false);
            }
            self.sample(index, n)?;
            self.next += 1;
            if stop() {
                break;
            }
        }
        Ok(self.next == self.queries.len())
    }

    /// Share of the sample queries done, 0..=1.
    pub fn progress(&self) -> f64 {
        if self.queries.is_empty() {
            return 1.0;
        }
        let part = self
            .exact
            .as_ref()
            .map_or(0.0, |e| 0.9 * e.scanned as f64 / self.slots.max(1) as f64);
        (self.next as f64 + part) / self.queries.len() as f64
    }

    /// Advances sample `n`'s exact pass (the `k + 1` nearest live vectors by the distance a
    /// search ranks by at the end, as [`Hnsw::exact_search`]) until it is done (true) or
    /// `stop()` says so between chunks (false).
    fn scan(
        &mut self,
        index: &Hnsw,
        n: NodeId,
        stop: &mut impl FnMut() -> bool,
    ) -> Result<bool, HnswError> {
        let s = &mut self.scratch;
        let e = match &mut self.exact {
            Some(e) => e,
            None => {
                let q = index.store.decode(&index.space.k, n);
                index.space.prepare(&q, &mut s.prep)?;
                index.space.encode(&s.prep, &mut s.q);
                self.exact.insert(Exact {
                    q,
                    scanned: 0,
                    best: BinaryHeap::new(),
                })
            }
        };
        let (keep, slots) = (self.k_measured + 1, index.len_slots());
        loop {
            let end = (e.scanned + SCAN_CHUNK).min(slots);
            for m in (e.scanned..end).map(|i| NodeId(i as u32)) {
                if index.tombs.is_deleted(m) {
                    continue;
                }
                let c = Cand {
                    d: index.final_dist(s, m),
                    id: m,
                };
                if e.best.len() < keep {
                    e.best.push(c);
                } else if e.best.peek().is_some_and(|w| c < *w) {
                    e.best.pop();
                    e.best.push(c);
                }
            }
            e.scanned = end;
            if end == slots {
                return Ok(true);
            }
            if stop() {
                return Ok(false);
            }
        }
    }

    /// Sample `n`, its exact pass done: the recall of each ladder step.
    fn sample(&mut self, index: &Hnsw, n: NodeId) -> Result<(), HnswError> {
        let (k, id) = (self.k_measured, index.ids.id(n));
        let Some(exact) = self.exact.take() else {
            return Ok(());
        };
        let q = exact.q;
        let truth: Vec<u64> = exact
            .best
            .into_sorted_vec()
            .iter()
            .map(|c| index.ids.id(c.id))
            .filter(|&x| x != id)
            .take(k)
            .collect();
        self.evals += index.len() as u64;
        let mut exact_from = self.ladder.len();
        self.scratch.state.skip = Some(n);
        for (i, &ef) in self.ladder.iter().enumerate() {
            let s = &mut self.scratch;
            let r = index.search_into(&q, k + 1, ef.max(k + 1), Filter::None, s, &mut self.hits);
            if let Err(e) = r {
                self.scratch.state.skip = None;
                return Err(e);
            }
            let found = self
                .hits
                .iter()
                .filter(|h| h.id != id)
                .take(k)
                .filter(|h| truth.contains(&h.id))
                .count();
            self.sums[i] += found as f64 / truth.len().max(1) as f64;
            if found == truth.len() {
                exact_from = i + 1;
                break;
            }
        }
        self.scratch.state.skip = None;
        for s in &mut self.sums[exact_from..] {
            *s += 1.0;
        }
        self.evals += self.scratch.take_distance_evals();
        Ok(())
    }

    /// The calibration, once every step is done.
    pub fn finish(self) -> Result<Calibration, HnswError> {
        if self.next < self.queries.len() {
            return Err(HnswError::Busy("the calibration is not finished".into()));
        }
        let s = self.queries.len().max(1) as f64;
        Ok(Calibration {
            k: self.k,
            len: self.len,
            samples: self.queries.len(),
            points: self
                .ladder
                .iter()
                .zip(&self.sums)
                .map(|(&ef, &sum)| (ef, sum / s))
                .collect(),
            distance_evals: self.evals,
        })
    }
}

impl Hnsw {
    /// Starts a calibration of recall@`k` on `samples` live vectors drawn with the index's seed
    /// (all of them when fewer), at `k` capped so that each sample has `k` other vectors.
    pub fn begin_calibration(&self, samples: usize, k: usize) -> Result<CalibrationRun, HnswError> {
        self.check_idle("calibrate")?;
        if k == 0 {
            return Err(HnswError::ZeroK);
        }
        let len = self.len();
        let k_measured = k.min(len.saturating_sub(1));
        let queries = if k_measured == 0 {
            Vec::new()
        } else {
            self.draw(samples)
        };
        let top = EF_LADDER
            .iter()
            .position(|&ef| ef >= len)
            .map_or(EF_LADDER.len(), |i| i + 1);
        let ladder = EF_LADDER[..top].to_vec();
        Ok(CalibrationRun {
            k,
            k_measured,
            slots: self.len_slots(),
            len,
            queries,
            next: 0,
            sums: vec![0.0; ladder.len()],
            ladder,
            evals: 0,
            scratch: self.scratch(),
            hits: Vec::new(),
            exact: None,
        })
    }

    /// `samples` distinct live nodes other than the entry point (from which every search
    /// starts, so it cannot be left out of one), all of them when fewer, drawn with a generator
    /// seeded from the index's seed and size: the same index draws the same samples.
    fn draw(&self, samples: usize) -> Vec<NodeId> {
        let entry = self.graph.entry();
        let live = self.len();
        if live <= samples + 1 {
            return self.live_nodes().filter(|&n| Some(n) != entry).collect();
        }
        let mut rng = SplitMix64(self.p.seed ^ (live as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let slots = self.len_slots() as u64;
        let mut picked = std::collections::HashSet::with_capacity(samples);
        let mut out = Vec::with_capacity(samples);
        while out.len() < samples {
            let n = NodeId((rng.next_u64() % slots) as u32);
            if !self.tombs.is_deleted(n) && Some(n) != entry && picked.insert(n) {
                out.push(n);
            }
        }
        out
    }

    /// Makes a calibration in one go and keeps it (see [`Hnsw::search_target`]).
    pub fn calibrate(&self, samples: usize, k: usize) -> Result<Calibration, HnswError> {
        let mut run = self.begin_calibration(samples, k)?;
        run.step(self, || false)?;
        let c = run.finish()?;
        self.set_calibration(Some(c.clone()));
        Ok(c)
    }

    /// The calibration kept, if any (possibly stale: see [`Calibration::is_stale`]).
    pub fn calibration(&self) -> Option<Calibration> {
        self.calibration
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Keeps `c` (made by a [`CalibrationRun`] on this index) for [`Hnsw::search_target`].
    pub fn set_calibration(&self, c: Option<Calibration>) {
        *self
            .calibration
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = c;
    }

    /// The `ef` a search for `k` neighbours at `target` recall uses, from the kept calibration;
    /// `None` when there is none or it is stale.
    pub fn ef_for_target(&self, target: f64, k: usize) -> Result<Option<usize>, HnswError> {
        check_target(target)?;
        Ok(self
            .calibration()
            .filter(|c| !c.is_stale(self.len()))
            .map(|c| c.ef_for(target, k)))
    }

    /// The `k` nearest live vectors, searched with the `ef` at which recall@k measured on the
    /// index's own data reaches `target` (in `(0, 1]`; [`Calibration::ef_for`]). Calibrates
    /// first when no fresh calibration is kept ([`DEFAULT_SAMPLES`] queries, recall@`max(k,
    /// 10)`).
    pub fn search_target(
        &self,
        query: &[f32],
        k: usize,
        target: f64,
    ) -> Result<Vec<Hit>, HnswError> {
        let ef = match self.ef_for_target(target, k)? {
            Some(ef) => ef,
            None => self
                .calibrate(DEFAULT_SAMPLES, k.max(10))?
                .ef_for(target, k),
        };
        self.search_filtered(query, k, ef, Filter::None)
    }
}

/// A target recall is a number in `(0, 1]`.
pub(crate) fn check_target(target: f64) -> Result<(), HnswError> {
    if target > 0.0 && target <= 1.0 {
        Ok(())
    } else {
        Err(HnswError::InvalidParams(format!(
            "target recall must be in (0, 1], got {}",
            elex_simd::Short(target)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::Calibration;

    fn curve(points: &[(usize, f64)]) -> Calibration {
        Calibration {
            k: 10,
            len: 1000,
            samples: 100,
            points: points.to_vec(),
            distance_evals: 0,
        }
    }

    #[test]
    fn ef_is_interpolated_between_the_points_around_the_target() {
        let c = curve(&[(10, 0.80), (16, 0.88), (24, 0.92), (32, 0.96), (48, 0.99)]);
        // Reached at the first point: that ef.
        assert_eq!(c.ef_for(0.5, 10), 10);
        assert_eq!(c.ef_for(0.80, 10), 10);
        // 0.90 is halfway from 0.88 (ef 16) to 0.92 (ef 24): ef 20.
        assert_eq!(c.ef_for(0.90, 10), 20);
        // A point reached exactly is its ef; just above a point, one more.
        assert_eq!(c.ef_for(0.92, 10), 24);
        assert_eq!(c.ef_for(0.9201, 10), 25);
        // Rounded up: 0.95 is 3/4 of the way from 24 to 32, 0.97 1/3 of the way to 48.
        assert_eq!(c.ef_for(0.95, 10), 30);
        assert_eq!(c.ef_for(0.97, 10), 38);
        // Never reached: the largest measured; never below k.
        assert_eq!(c.ef_for(1.0, 10), 48);
        assert_eq!(c.ef_for(0.5, 64), 64);
        // Larger targets never get a smaller ef.
        let efs: Vec<usize> = (1..=100)
            .map(|t| c.ef_for(f64::from(t) / 100.0, 10))
            .collect();
        assert!(efs.windows(2).all(|w| w[0] <= w[1]), "{efs:?}");
        // An empty calibration gives k.
        assert_eq!(curve(&[]).ef_for(0.9, 10), 10);
    }
}
