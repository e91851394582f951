//! The parallel build (native only: threads): the same bytes on any number of threads, recall
//! as high as the sequential build's, all-or-nothing batches through the one validator, and a
//! batch begun sequentially finished in parallel.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use elex_hnsw::{Filter, Hnsw, HnswError, HnswParams, Metric, Storage};
use std::num::NonZeroUsize;

const DIMS: usize = 24;

fn params(metric: Metric, storage: Storage) -> HnswParams {
    let mut p = HnswParams::new(DIMS, metric).with_m(12);
    p.storage = storage;
    p.keep_f32 = storage == Storage::Q4;
    p.ef_construction = 100;
    p.seed = 5;
    p
}

fn threads(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

#[test]
fn the_same_bytes_on_one_thread_or_several() {
    let n = 6000;
    let data = clustered(11, n, DIMS, 20, 0.4);
    let ids: Vec<u64> = (0..n as u64).map(|i| i * 3 + 7).collect();
    for (metric, storage) in [
        (Metric::Cosine, Storage::F32),
        (Metric::L2, Storage::I8),
        (Metric::Dot, Storage::Q4),
    ] {
        let mut snapshots = Vec::new();
        for t in [1, 2, 5] {
            let mut idx = Hnsw::new(params(metric, storage)).unwrap();
            idx.insert_batch_parallel(&ids, &data, threads(t), |_, _| {})
                .unwrap();
            assert_eq!(idx.len(), n);
            snapshots.push(idx.to_bytes());
        }
        assert!(
            snapshots.windows(2).all(|w| w[0] == w[1]),
            "{metric:?} {storage:?}"
        );
    }
}

#[test]
fn recall_matches_the_sequential_build() {
    let n = 8000;
    let data = clustered(21, n, DIMS, 40, 0.35);
    let queries = clustered(22, 100, DIMS, 40, 0.35);
    let ids: Vec<u64> = (0..n as u64).collect();
    for metric in [Metric::Cosine, Metric::L2] {
        let mut seq = Hnsw::new(params(metric, Storage::F32)).unwrap();
        seq.insert_batch(&ids, &data, |_, _| {}).unwrap();
        let mut par = Hnsw::new(params(metric, Storage::F32)).unwrap();
        par.insert_batch_parallel(&ids, &data, threads(3), |_, _| {})
            .unwrap();
        // The parallel graph is a different one (a round's nodes do not see each other).
        assert_ne!(seq.to_bytes(), par.to_bytes());
        for ef in [16, 64, 256] {
            let (rs, rp) = (
                mean_recall(&seq, metric, &data, &queries, DIMS, ef),
                mean_recall(&par, metric, &data, &queries, DIMS, ef),
            );
            println!("{metric:?} ef {ef}: sequential {rs:.3}, parallel {rp:.3}");
            assert!(
                rp >= rs - 0.01,
                "{metric:?} ef {ef}: parallel {rp:.3} vs {rs:.3}"
            );
        }
        assert!(mean_recall(&par, metric, &data, &queries, DIMS, 256) >= 0.95);
    }
}

#[test]
fn a_bad_batch_changes_nothing_and_a_good_one_adds_to_an_index() {
    let data = clustered(31, 3000, DIMS, 10, 0.4);
    let ids: Vec<u64> = (0..3000).collect();
    let mut idx = Hnsw::new(params(Metric::Cosine, Storage::F32)).unwrap();
    idx.insert_batch_parallel(&ids[..1000], &data[..1000 * DIMS], threads(2), |_, _| {})
        .unwrap();
    let before = idx.to_bytes();
    // A duplicate id, a NaN, a short buffer: refused whole by the validator, nothing inserted.
    let mut dup = ids[1000..2000].to_vec();
    dup[500] = 3;
    let e = idx.insert_batch_parallel(&dup, &data[1000 * DIMS..2000 * DIMS], threads(2), |_, _| {});
    assert!(matches!(e, Err(HnswError::DuplicateId(3))), "{e:?}");
    let mut nan = data[1000 * DIMS..2000 * DIMS].to_vec();
    nan[700 * DIMS + 3] = f32::NAN;
    assert!(
        idx.insert_batch_parallel(&ids[1000..2000], &nan, threads(2), |_, _| {})
            .is_err()
    );
    assert!(
        idx.insert_batch_parallel(&ids[1000..2000], &data[..10], threads(2), |_, _| {})
            .is_err()
    );
    assert_eq!(idx.to_bytes(), before);
    assert_eq!(idx.len(), 1000);

    // A batch begun and stepped sequentially, finished in parallel, with progress reported.
    let mut b = idx
        .begin_batch(ids[1000..3000].to_vec(), data[1000 * DIMS..].to_vec())
        .unwrap();
    let mut steps = 0;
    idx.step_batch(&mut b, || {
        steps += 1;
        steps == 300
    })
    .unwrap();
    assert_eq!(b.done(), 300);
    let mut seen = Vec::new();
    let done = idx
        .step_batch_parallel(&mut b, threads(2), |d, t| seen.push((d, t)))
        .unwrap();
    assert_eq!(done, 2000);
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(seen.last(), Some(&(2000, 2000)));
    idx.commit_batch(b).unwrap();
    assert_eq!(idx.len(), 3000);
    for i in (0..3000).step_by(97) {
        let q = &data[i * DIMS..(i + 1) * DIMS];
        let hits = idx.search_filtered(q, 1, 64, Filter::None).unwrap();
        assert_eq!(hits[0].id, i as u64, "vector {i} finds itself");
    }

    // Rolled back after a parallel step: the index is what it was.
    let before = idx.to_bytes();
    let more = clustered(32, 500, DIMS, 10, 0.4);
    let mut b = idx.begin_batch((5000..5500).collect(), more).unwrap();
    idx.step_batch_parallel(&mut b, threads(2), |_, _| {})
        .unwrap();
    assert_eq!(idx.len(), 3500);
    idx.rollback_batch(b).unwrap();
    assert_eq!(idx.to_bytes(), before);
}

#[test]
fn a_parallel_batch_after_every_node_was_deleted_links_every_vector() {
    let data = clustered(41, 3000, DIMS, 10, 0.4);
    let mut idx = Hnsw::new(params(Metric::L2, Storage::F32)).unwrap();
    let old: Vec<u64> = (0..1000).collect();
    idx.insert_batch(&old, &data[..1000 * DIMS], |_, _| {})
        .unwrap();
    for id in old {
        idx.delete(id).unwrap();
    }
    assert_eq!(idx.len(), 0);
    // 1,000 slots but no entry point: the first round must still be a single node.
    let ids: Vec<u64> = (1000..3000).collect();
    idx.insert_batch_parallel(&ids, &data[1000 * DIMS..], threads(2), |_, _| {})
        .unwrap();
    for i in (1000..3000).step_by(7) {
        let q = &data[i * DIMS..(i + 1) * DIMS];
        let hits = idx.search_filtered(q, 1, 64, Filter::None).unwrap();
        assert_eq!(hits[0].id, i as u64, "vector {i} finds itself");
    }
}
