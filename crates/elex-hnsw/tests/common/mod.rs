//! Shared test data: seeded clustered vectors, brute-force truth, recall.
#![allow(dead_code)]

use elex_hnsw::{Filter, Hnsw, Metric};

/// The crate's portable PRNG with the helpers the tests want.
pub struct Rng(pub u64);
impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        let mut g = elex_simd::SplitMix64(self.0);
        let x = g.next_u64();
        self.0 = g.0;
        x
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Roughly normal (sum of 4 uniforms, centred).
    pub fn normal(&mut self) -> f32 {
        (self.unit() + self.unit() + self.unit() + self.unit() - 2.0) * 1.7
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// `n` vectors of `dims` around `clusters` random centres (flat, row-major).
pub fn clustered(seed: u64, n: usize, dims: usize, clusters: usize, spread: f32) -> Vec<f32> {
    let mut rng = Rng(seed);
    let centres: Vec<f32> = (0..clusters * dims).map(|_| rng.normal()).collect();
    let mut out = Vec::with_capacity(n * dims);
    for _ in 0..n {
        let c = rng.below(clusters);
        for d in 0..dims {
            out.push(centres[c * dims + d] + spread * rng.normal());
        }
    }
    out
}

pub fn dist(metric: Metric, a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    match metric {
        Metric::L2 => a
            .iter()
            .zip(b)
            .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
            .sum(),
        Metric::Dot => -dot,
        Metric::Cosine => {
            let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
            let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
            1.0 - dot / (na * nb)
        }
    }
}

/// Exact top-k ids (as u64 row numbers) among rows that pass `keep`, computed in f64.
pub fn truth(
    metric: Metric,
    data: &[f32],
    dims: usize,
    q: &[f32],
    k: usize,
    keep: impl Fn(u64) -> bool,
) -> Vec<u64> {
    let mut all: Vec<(f64, u64)> = data
        .chunks_exact(dims)
        .enumerate()
        .filter(|(i, _)| keep(*i as u64))
        .map(|(i, v)| (dist(metric, q, v), i as u64))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.into_iter().take(k).map(|x| x.1).collect()
}

pub fn recall(got: &[u64], want: &[u64]) -> f64 {
    let hits = got.iter().filter(|id| want.contains(id)).count();
    hits as f64 / want.len().max(1) as f64
}

/// Mean recall@10 of `idx` (ids are row numbers of `data`) over `queries` at `ef`, against the
/// exact top 10 among the rows it holds.
pub fn mean_recall(
    idx: &Hnsw,
    metric: Metric,
    data: &[f32],
    queries: &[f32],
    dims: usize,
    ef: usize,
) -> f64 {
    let qs: Vec<&[f32]> = queries.chunks_exact(dims).collect();
    let total: f64 = qs
        .iter()
        .map(|q| {
            let got: Vec<u64> = idx
                .search_filtered(q, 10, ef, Filter::None)
                .unwrap()
                .iter()
                .map(|h| h.id)
                .collect();
            recall(
                &got,
                &truth(metric, data, dims, q, 10, |id| idx.contains(id)),
            )
        })
        .sum();
    total / qs.len() as f64
}

/// Reads an fvecs file (native tests only).
#[cfg(not(target_arch = "wasm32"))]
pub fn read_fvecs(path: &std::path::Path, limit: usize) -> (usize, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let dims = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
    let row = 4 + 4 * dims;
    let n = (bytes.len() / row).min(limit);
    let mut out = Vec::with_capacity(n * dims);
    for r in 0..n {
        let b = &bytes[r * row + 4..(r + 1) * row];
        out.extend(
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap())),
        );
    }
    (dims, out)
}

/// `../shared/data/docs-50k` from the repository root.
#[cfg(not(target_arch = "wasm32"))]
pub fn docs_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/docs-50k")
}
