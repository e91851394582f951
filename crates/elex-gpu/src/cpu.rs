//! The CPU oracle: exact k-nearest neighbours by brute force on elex-simd's kernels, on as many
//! threads as asked. Same inputs as the GPU path (normalized for cosine, f16-rounded for f16
//! storage), same order: smaller distance first, equal distances by smaller id.

use elex_hnsw::{Hit, Metric};
use elex_simd::Kernels;

/// Exact top-k of every query against `base` (row-major, `dims` per row).
pub fn exact_knn(
    base: &[f32],
    queries: &[f32],
    dims: usize,
    k: usize,
    metric: Metric,
    threads: usize,
) -> Vec<Vec<Hit>> {
    let kernels = Kernels::detect();
    let nq = queries.len() / dims.max(1);
    let threads = threads.clamp(1, nq.max(1));
    let mut out: Vec<Vec<Hit>> = vec![Vec::new(); nq];
    let per = nq.div_ceil(threads);
    std::thread::scope(|s| {
        for (chunk_i, chunk) in out.chunks_mut(per.max(1)).enumerate() {
            let kernels = &kernels;
            s.spawn(move || {
                let mut scored: Vec<(f32, u64)> = Vec::with_capacity(base.len() / dims);
                for (j, slot) in chunk.iter_mut().enumerate() {
                    let qi = chunk_i * per + j;
                    let q = &queries[qi * dims..(qi + 1) * dims];
                    scored.clear();
                    for (id, row) in base.chunks_exact(dims).enumerate() {
                        let d = match metric {
                            Metric::Cosine => 1.0 - kernels.dot_f32(q, row).unwrap_or(0.0),
                            Metric::Dot => -kernels.dot_f32(q, row).unwrap_or(0.0),
                            Metric::L2 => kernels.l2sq_f32(q, row).unwrap_or(0.0),
                        };
                        scored.push((d, id as u64));
                    }
                    let cmp =
                        |a: &(f32, u64), b: &(f32, u64)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
                    let kk = k.min(scored.len());
                    if kk < scored.len() {
                        scored.select_nth_unstable_by(kk, cmp);
                    }
                    scored.truncate(kk);
                    scored.sort_by(cmp);
                    *slot = scored
                        .iter()
                        .map(|&(distance, id)| Hit { id, distance })
                        .collect();
                }
            });
        }
    });
    out
}
