//! `ef` by target recall: a calibration on the index's own data picks an `ef` whose recall on
//! held-out queries is close to the target; it is refreshed when the index doubles; bad
//! targets are errors.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;
use common::*;
use elex_hnsw::{Filter, Hnsw, HnswError, HnswParams, Metric};

fn build(metric: Metric, data: &[f32], dims: usize, m: usize) -> Hnsw {
    let mut p = HnswParams::new(dims, metric).with_m(m);
    p.ef_construction = 64;
    p.seed = 11;
    let mut idx = Hnsw::new(p).unwrap();
    let ids: Vec<u64> = (0..(data.len() / dims) as u64).collect();
    idx.insert_batch(&ids, data, |_, _| {}).unwrap();
    idx
}

/// For each target, the calibrated ef delivers a held-out recall within 0.03 below the
/// target (or better), and a higher target never gets a smaller ef.
fn check_targets(
    idx: &Hnsw,
    metric: Metric,
    data: &[f32],
    queries: &[f32],
    dims: usize,
    what: &str,
) {
    let c = idx.calibrate(200, 10).unwrap();
    println!(
        "{what}: calibration {:?}, {} distance evaluations",
        c.points(),
        c.distance_evals()
    );
    assert_eq!(c.samples(), 200);
    let mut last_ef = 0;
    for target in [0.9, 0.95, 0.99] {
        let ef = idx.ef_for_target(target, 10).unwrap().unwrap();
        let r = mean_recall(idx, metric, data, queries, dims, ef);
        println!("{what}: target {target}: ef {ef}, held-out recall@10 {r:.3}");
        assert!(
            r >= target - 0.03,
            "{what}: target {target}, ef {ef}: recall {r:.3}"
        );
        assert!(ef >= last_ef);
        last_ef = ef;
    }
    // The searches by target use those efs.
    let q = &queries[..dims];
    let ef = idx.ef_for_target(0.95, 10).unwrap().unwrap();
    assert_eq!(
        idx.search_target(q, 10, 0.95).unwrap(),
        idx.search_filtered(q, 10, ef, Filter::None).unwrap()
    );
}

#[test]
fn calibrated_ef_meets_targets_on_clustered_data() {
    let dims = 32;
    // A sparse graph (M = 6) on spread-out clusters: recall climbs over several ef steps.
    // Queries from the same clusters (the same draw), not inserted.
    let all = clustered(3, 4150, dims, 40, 0.6);
    let (data, queries) = all.split_at(4000 * dims);
    let idx = build(Metric::L2, data, dims, 6);
    check_targets(
        &idx,
        Metric::L2,
        data,
        queries,
        dims,
        "clustered 4000x32 L2 M6",
    );
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn calibrated_ef_meets_targets_on_a_docs_50k_slice() {
    let (dims, data) = read_fvecs(&docs_dir().join("base.fvecs"), 5000);
    let (_, queries) = read_fvecs(&docs_dir().join("query.fvecs"), 150);
    let idx = build(Metric::Cosine, &data, dims, 8);
    check_targets(
        &idx,
        Metric::Cosine,
        &data,
        &queries,
        dims,
        "docs-50k[..5000] M8",
    );
}

#[test]
fn a_calibration_is_made_on_first_use_and_refreshed_when_the_index_doubles() {
    let dims = 16;
    let data = clustered(5, 2400, dims, 12, 0.4);
    let mut idx = build(Metric::Cosine, &data[..1000 * dims], dims, 8);
    assert!(idx.calibration().is_none());
    assert_eq!(idx.ef_for_target(0.95, 10).unwrap(), None);
    idx.search_target(&data[..dims], 10, 0.95).unwrap();
    let c = idx.calibration().unwrap();
    assert_eq!((c.len(), c.k()), (1000, 10));
    assert!(idx.ef_for_target(0.95, 10).unwrap().is_some());
    // Grown by 1.9x: kept; past 2x: stale, and the next search by target recalibrates.
    let ids: Vec<u64> = (1000..1900).collect();
    idx.insert_batch(&ids, &data[1000 * dims..1900 * dims], |_, _| {})
        .unwrap();
    assert_eq!(idx.calibration().unwrap().len(), 1000);
    assert!(idx.ef_for_target(0.95, 10).unwrap().is_some());
    let ids: Vec<u64> = (1900..2400).collect();
    idx.insert_batch(&ids, &data[1900 * dims..], |_, _| {})
        .unwrap();
    assert_eq!(idx.ef_for_target(0.95, 10).unwrap(), None);
    idx.search_target(&data[..dims], 10, 0.95).unwrap();
    assert_eq!(idx.calibration().unwrap().len(), 2400);
    // A copy keeps it; the same index and seed draw the same samples.
    let copy = idx.try_clone().unwrap();
    assert_eq!(copy.calibration(), idx.calibration());
    assert_eq!(copy.calibrate(200, 10).unwrap(), idx.calibration().unwrap());
}

#[test]
fn bad_targets_and_small_indexes() {
    let dims = 4;
    let data = clustered(6, 5, dims, 2, 0.5);
    let idx = build(Metric::L2, &data, dims, 4);
    for bad in [0.0, -0.5, 1.01, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            idx.search_target(&data[..dims], 1, bad),
            Err(HnswError::InvalidParams(_))
        ));
    }
    assert!(matches!(
        idx.search_target(&data[..dims], 0, 0.9),
        Err(HnswError::ZeroK)
    ));
    assert!(matches!(
        idx.search_target(&data[..dims], 6, 0.9),
        Err(HnswError::KTooLarge { .. })
    ));
    // Five vectors: every sample has four others; the answer is exact.
    let hits = idx.search_target(&data[..dims], 5, 1.0).unwrap();
    assert_eq!(hits.len(), 5);
    assert_eq!(hits[0].id, 0);
    // An empty index calibrates to nothing and a one-vector index finds its vector.
    let mut one = Hnsw::new(HnswParams::new(dims, Metric::L2)).unwrap();
    let empty = one.calibrate(10, 10).unwrap();
    assert!(empty.points().iter().all(|&(_, r)| r == 0.0));
    // It keeps the k asked for, so it can be made again at that k once the index grows.
    assert_eq!(empty.k(), 10);
    one.insert(9, &data[..dims]).unwrap();
    assert_eq!(one.search_target(&data[..dims], 1, 0.99).unwrap()[0].id, 9);
    for (i, v) in data.chunks_exact(dims).enumerate().skip(1) {
        one.insert(i as u64, v).unwrap();
    }
    assert!(one.calibration().unwrap().is_stale(one.len()));
    let again = one
        .begin_calibration(empty.samples().max(1), empty.k())
        .unwrap();
    assert!(again.progress() < 1.0);
}

#[test]
fn a_calibration_in_steps_refuses_an_index_that_changed() {
    let dims = 8;
    let data = clustered(7, 300, dims, 4, 0.5);
    let mut idx = build(Metric::L2, &data[..200 * dims], dims, 8);
    let mut run = idx.begin_calibration(50, 10).unwrap();
    let mut steps = 0;
    while !run.step(&idx, || true).unwrap() {
        steps += 1;
    }
    assert_eq!(steps, 49);
    assert_eq!(run.progress(), 1.0);
    let whole = idx.calibrate(50, 10).unwrap();
    assert_eq!(run.finish().unwrap(), whole);
    let mut run = idx.begin_calibration(50, 10).unwrap();
    idx.insert(1000, &data[200 * dims..201 * dims]).unwrap();
    assert!(matches!(run.step(&idx, || false), Err(HnswError::Busy(_))));
}

#[test]
fn a_sample_s_exact_pass_is_split_across_steps_and_gives_the_same_calibration() {
    let dims = 8;
    let data = clustered(8, 5000, dims, 10, 0.5);
    let idx = build(Metric::Cosine, &data, dims, 8);
    let mut run = idx.begin_calibration(3, 10).unwrap();
    let (mut steps, mut last) = (0, 0.0);
    while !run.step(&idx, || true).unwrap() {
        steps += 1;
        // Progress moves inside a sample too.
        assert!(run.progress() > last && run.progress() < 1.0);
        last = run.progress();
    }
    // 5,000 nodes scanned 2,048 at a time: three chunks (two pauses) and a pause after each
    // sample but the last.
    assert_eq!(steps, 3 * 2 + 2);
    assert_eq!(run.finish().unwrap(), idx.calibrate(3, 10).unwrap());
}
