//! The GPU kNN against the CPU oracle, on whatever adapter wgpu finds (lavapipe in CI:
//! `WGPU_BACKEND=vulkan`). These tests need an adapter and fail without one.

use elex_gpu::{Gpu, GpuError, GpuKnn, GpuStorage, Hit, Metric, cpu, prepare, tolerance};
use elex_simd::SplitMix64;

fn gpu() -> Gpu {
    match Gpu::new_blocking() {
        Ok(g) => {
            eprintln!("adapter: {}", g.adapter());
            g
        }
        Err(e) => panic!("{e}"),
    }
}

fn random(n: usize, dims: usize, seed: u64) -> Vec<f32> {
    let mut r = SplitMix64(seed);
    (0..n * dims).map(|_| r.next_f32() * 2.0 - 1.0).collect()
}

/// Checks GPU hits against the CPU's: the distance at every rank agrees within the tolerance,
/// every returned id's true distance is the one reported, and where the CPU's distances are
/// separated from their neighbours by more than twice the tolerance the ids are identical.
fn check(
    metric: Metric,
    base: &[f32],
    queries: &[f32],
    dims: usize,
    gpu_hits: &[Vec<Hit>],
    cpu_hits: &[Vec<Hit>],
) {
    assert_eq!(gpu_hits.len(), cpu_hits.len());
    let mut exact_ids = 0;
    for (qi, (g, c)) in gpu_hits.iter().zip(cpu_hits).enumerate() {
        assert_eq!(g.len(), c.len(), "query {qi}");
        let q = &queries[qi * dims..(qi + 1) * dims];
        for (r, (gh, ch)) in g.iter().zip(c).enumerate() {
            let row = &base[ch.id as usize * dims..(ch.id as usize + 1) * dims];
            let tol = tolerance(metric, q, row);
            assert!(
                (gh.distance - ch.distance).abs() <= tol,
                "query {qi} rank {r}: gpu {} cpu {} (tolerance {tol})",
                gh.distance,
                ch.distance
            );
            let grow = &base[gh.id as usize * dims..(gh.id as usize + 1) * dims];
            let truth = cpu::exact_knn(grow, q, dims, 1, metric, 1)[0][0].distance;
            assert!((truth - gh.distance).abs() <= tolerance(metric, q, grow));
            let prev = r.checked_sub(1).map(|p| c[p].distance);
            let next = c.get(r + 1).map(|h| h.distance);
            let separated = prev.is_none_or(|p| ch.distance - p > 2.0 * tol)
                && next.is_none_or(|n| n - ch.distance > 2.0 * tol);
            if separated {
                assert_eq!(gh.id, ch.id, "query {qi} rank {r}");
                exact_ids += 1;
            }
        }
    }
    assert!(exact_ids > 0);
}

#[test]
fn matches_the_cpu_on_every_metric_and_storage_across_blocks() {
    let gpu = gpu();
    // 9,000 rows: two blocks of 8,192 and 808; 37 dims: padding to 40.
    let (n, dims, nq, k) = (9_000, 37, 40, 10);
    let base = random(n, dims, 1);
    let queries = random(nq, dims, 2);
    for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
        for storage in [GpuStorage::F32, GpuStorage::F16] {
            let knn = GpuKnn::upload(&gpu, &base, dims, metric, storage).unwrap();
            let got = knn.search_blocking(&queries, k).unwrap();
            let q = knn.prepare_queries(&queries).unwrap();
            let held = prepare(&base, dims, metric, storage).unwrap();
            let want = cpu::exact_knn(&held, &q, dims, k, metric, 2);
            check(metric, &held, &q, dims, &got, &want);
            // Block boundaries do not matter: some winners lie in the second block.
            assert!(
                got.iter().flatten().any(|h| h.id >= 8_192),
                "{metric:?} {storage:?}"
            );
        }
    }
}

/// Integer-valued vectors make every sum exact on both sides: many distances tie, and the ids
/// must then be identical, ordered by the documented rule (smaller id first).
#[test]
fn exact_ties_follow_the_documented_order() {
    let gpu = gpu();
    let (n, dims, nq, k) = (2_000, 8, 25, 32);
    let mut r = SplitMix64(7);
    let ints = |count: usize, r: &mut SplitMix64| -> Vec<f32> {
        (0..count).map(|_| r.below(5) as f32 - 2.0).collect()
    };
    let base = ints(n * dims, &mut r);
    let queries = ints(nq * dims, &mut r);
    for metric in [Metric::Dot, Metric::L2] {
        let knn = GpuKnn::upload(&gpu, &base, dims, metric, GpuStorage::F32).unwrap();
        let got = knn.search_blocking(&queries, k).unwrap();
        let want = cpu::exact_knn(&base, &queries, dims, k, metric, 1);
        assert_eq!(got, want, "{metric:?}");
        // Ties are common here, so the rule was exercised.
        let ties = want
            .iter()
            .flat_map(|h| h.windows(2))
            .filter(|w| w[0].distance == w[1].distance)
            .count();
        assert!(ties > 100, "only {ties} ties");
        let f16 = GpuKnn::upload(&gpu, &base, dims, metric, GpuStorage::F16).unwrap();
        assert_eq!(
            f16.search_blocking(&queries, k).unwrap(),
            want,
            "f16 {metric:?}"
        );
    }
}

#[test]
fn bad_input_gets_typed_errors() {
    let gpu = gpu();
    let base = random(100, 4, 3);
    let knn = GpuKnn::upload(&gpu, &base, 4, Metric::Cosine, GpuStorage::F32).unwrap();
    let q = random(2, 4, 4);
    assert!(matches!(
        knn.search_blocking(&q, 0),
        Err(GpuError::BadK { .. })
    ));
    assert!(matches!(
        knn.search_blocking(&q, 33),
        Err(GpuError::BadK { .. })
    ));
    assert!(matches!(
        knn.search_blocking(&q[..7], 3),
        Err(GpuError::Shape {
            expected: 4,
            got: 7
        })
    ));
    let mut nan = q.clone();
    nan[5] = f32::NAN;
    assert_eq!(
        knn.search_blocking(&nan, 3),
        Err(GpuError::NonFinite { index: 5 })
    );
    assert_eq!(
        knn.search_blocking(&[0.0; 4], 3),
        Err(GpuError::ZeroVector(0))
    );
    let small = GpuKnn::upload(&gpu, &base[..8], 4, Metric::L2, GpuStorage::F32).unwrap();
    assert!(matches!(
        small.search_blocking(&q, 3),
        Err(GpuError::BadK { n: 2, .. })
    ));
    assert!(matches!(
        GpuKnn::upload(&gpu, &[], 4, Metric::L2, GpuStorage::F32),
        Err(GpuError::Empty)
    ));
    assert!(matches!(
        GpuKnn::upload(&gpu, &base, 0, Metric::L2, GpuStorage::F32),
        Err(GpuError::Empty)
    ));
}

/// Ground truth for an HNSW index: the GPU's exact neighbours equal the index's own exact search.
#[test]
fn ground_truth_for_an_hnsw_index() {
    let gpu = gpu();
    let dims = 16;
    let base = random(1_500, dims, 5);
    let mut index = elex_hnsw::Hnsw::new(elex_hnsw::HnswParams::new(dims, Metric::L2)).unwrap();
    let ids: Vec<u64> = (0..1_500u64).map(|i| i * 3 + 1).collect();
    index.insert_batch(&ids, &base, |_, _| {}).unwrap();
    let (knn, row_ids) = GpuKnn::from_index(&gpu, &index, GpuStorage::F32).unwrap();
    let queries = random(10, dims, 6);
    let got = knn.search_blocking(&queries, 10).unwrap();
    for (qi, hits) in got.iter().enumerate() {
        let q = &queries[qi * dims..(qi + 1) * dims];
        let want = index.exact_search(q, 10, elex_hnsw::Filter::None).unwrap();
        let got_ids: Vec<u64> = hits.iter().map(|h| row_ids[h.id as usize]).collect();
        let want_ids: Vec<u64> = want.iter().map(|h| h.id).collect();
        assert_eq!(got_ids, want_ids, "query {qi}");
    }
}
