//! Fusing two ranked lists over one id space (vector hits and text hits) into one.
//!
//! - [`Fusion::Rrf`]: reciprocal rank fusion, `sum 1 / (c + rank)` over the lists an id is in
//!   (rank from 1; `c = 60` as in Cormack et al. 2009). Needs no score calibration.
//! - [`Fusion::Alpha`]: each list's scores scaled to 0..=1 by its own minimum and maximum (an id
//!   missing from a list gets 0 there), then `alpha * vector + (1 - alpha) * text`.
//!
//! Ties go to the id that ranks higher in the vector list, then in the text list.

use std::collections::HashMap;

use crate::TextError;

/// How two lists become one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fusion {
    /// Reciprocal rank fusion with this constant (60 is the usual choice).
    Rrf(f32),
    /// Weighted sum of min-max scaled scores; the weight of the vector side, in 0..=1.
    Alpha(f32),
}

impl Fusion {
    /// Checks the parameter's range.
    pub fn validate(&self) -> Result<(), TextError> {
        match *self {
            Fusion::Rrf(c) if !(c.is_finite() && c >= 0.0) => Err(TextError::InvalidParams(
                format!("rrf constant must be finite and >= 0, got {c}"),
            )),
            Fusion::Alpha(a) if !(a.is_finite() && (0.0..=1.0).contains(&a)) => Err(
                TextError::InvalidParams(format!("alpha must be in 0..=1, got {a}")),
            ),
            _ => Ok(()),
        }
    }
}

/// Min and max of the scores, or (0, 0) for an empty list.
fn range(list: &[(u64, f32)]) -> (f32, f32) {
    list.iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &(_, s)| {
            (lo.min(s), hi.max(s))
        })
}

fn scaled(s: f32, (lo, hi): (f32, f32)) -> f32 {
    if hi > lo { (s - lo) / (hi - lo) } else { 1.0 }
}

/// The `k` best of the two lists (each best first, scores higher is better) fused.
pub fn fuse(
    vector: &[(u64, f32)],
    text: &[(u64, f32)],
    fusion: Fusion,
    k: usize,
) -> Result<Vec<(u64, f32)>, TextError> {
    fusion.validate()?;
    if k == 0 {
        return Err(TextError::ZeroK);
    }
    // id -> (fused score, order of first appearance)
    let mut acc: HashMap<u64, (f32, usize)> = HashMap::with_capacity(vector.len() + text.len());
    let (vr, tr) = (range(vector), range(text));
    for (side, list) in [vector, text].into_iter().enumerate() {
        for (rank, &(id, s)) in list.iter().enumerate() {
            let add = match fusion {
                Fusion::Rrf(c) => 1.0 / (c + rank as f32 + 1.0),
                Fusion::Alpha(a) if side == 0 => a * scaled(s, vr),
                Fusion::Alpha(a) => (1.0 - a) * scaled(s, tr),
            };
            let order = acc.len();
            acc.entry(id).or_insert((0.0, order)).0 += add;
        }
    }
    let mut out: Vec<(u64, f32, usize)> = acc.into_iter().map(|(id, (s, o))| (id, s, o)).collect();
    out.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    out.truncate(k);
    Ok(out.into_iter().map(|(id, s, _)| (id, s)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrf_rewards_agreement() {
        let v = [(1, 0.9), (2, 0.8), (3, 0.7)];
        let t = [(3, 12.0), (4, 11.0), (1, 2.0)];
        let f = fuse(&v, &t, Fusion::Rrf(60.0), 10).unwrap();
        let ids: Vec<u64> = f.iter().map(|x| x.0).collect();
        assert_eq!(ids, [1, 3, 2, 4]);
        assert!((f[0].1 - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-7);
    }

    #[test]
    fn alpha_ends_are_the_lists_themselves() {
        let v = [(1, 0.9), (2, 0.7), (3, 0.1)];
        let t = [(3, 9.0), (2, 5.0), (4, 1.0)];
        let ids = |a| -> Vec<u64> {
            fuse(&v, &t, Fusion::Alpha(a), 3)
                .unwrap()
                .iter()
                .map(|x| x.0)
                .collect()
        };
        assert_eq!(ids(1.0), [1, 2, 3]);
        // At 0 the text list decides; its last (scaled to 0) ties with ids it lacks.
        assert_eq!(ids(0.0), [3, 2, 1]);
        assert_eq!(ids(0.5), [2, 1, 3]);
        assert!(fuse(&v, &t, Fusion::Alpha(1.5), 3).is_err());
        assert!(fuse(&v, &t, Fusion::Rrf(f32::NAN), 3).is_err());
    }
}
