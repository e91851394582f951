//! Bad input gets a typed error, never a panic, and a failed call changes nothing.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;
use common::*;
use elex_hnsw::{Filter, Hnsw, HnswError, HnswParams, Metric, Storage};

fn small(metric: Metric) -> Hnsw {
    let mut idx = Hnsw::new(HnswParams::new(4, metric)).unwrap();
    let data = clustered(1, 20, 4, 3, 0.5);
    let ids: Vec<u64> = (0..20).collect();
    idx.insert_batch(&ids, &data, |_, _| {}).unwrap();
    idx
}

#[test]
fn vectors_are_checked() {
    let mut idx = small(Metric::Cosine);
    let before = idx.to_bytes();
    assert_eq!(
        idx.insert(100, &[1.0; 3]).unwrap_err(),
        HnswError::DimensionMismatch {
            expected: 4,
            got: 3
        }
    );
    assert_eq!(
        idx.insert(100, &[1.0, f32::NAN, 0.0, 0.0]).unwrap_err(),
        HnswError::NonFinite { index: 1 }
    );
    assert_eq!(
        idx.insert(100, &[1.0, 0.0, f32::INFINITY, 0.0])
            .unwrap_err(),
        HnswError::NonFinite { index: 2 }
    );
    assert_eq!(
        idx.insert(100, &[0.0; 4]).unwrap_err(),
        HnswError::ZeroVector
    );
    assert_eq!(
        idx.insert(3, &[1.0; 4]).unwrap_err(),
        HnswError::DuplicateId(3)
    );
    assert_eq!(
        idx.search(&[1.0; 5], 1).unwrap_err(),
        HnswError::DimensionMismatch {
            expected: 4,
            got: 5
        }
    );
    assert_eq!(
        idx.search(&[f32::NAN; 4], 1).unwrap_err(),
        HnswError::NonFinite { index: 0 }
    );
    assert_eq!(idx.search(&[0.0; 4], 1).unwrap_err(), HnswError::ZeroVector);
    assert_eq!(idx.to_bytes(), before, "failed calls changed the index");
    // Zero vectors are fine under L2 and dot.
    let mut l2 = small(Metric::L2);
    l2.insert(100, &[0.0; 4]).unwrap();
    assert_eq!(l2.search(&[0.0; 4], 1).unwrap()[0].id, 100);
}

#[test]
fn k_and_ef_are_checked() {
    let idx = small(Metric::L2);
    let q = [0.1; 4];
    assert_eq!(idx.search(&q, 0).unwrap_err(), HnswError::ZeroK);
    assert_eq!(
        idx.search(&q, 21).unwrap_err(),
        HnswError::KTooLarge { k: 21, len: 20 }
    );
    assert_eq!(
        idx.search_filtered(&q, 5, 4, Filter::None).unwrap_err(),
        HnswError::EfTooSmall { ef: 4, k: 5 }
    );
    assert_eq!(idx.search(&q, 20).unwrap().len(), 20);
}

#[test]
fn unknown_ids_are_errors() {
    let mut idx = small(Metric::Dot);
    assert_eq!(idx.delete(500).unwrap_err(), HnswError::UnknownId(500));
    assert_eq!(idx.get(500).unwrap_err(), HnswError::UnknownId(500));
    assert_eq!(
        idx.update(500, &[1.0; 4]).unwrap_err(),
        HnswError::UnknownId(500)
    );
    idx.delete(5).unwrap();
    assert_eq!(idx.delete(5).unwrap_err(), HnswError::UnknownId(5));
    assert_eq!(idx.get(5).unwrap_err(), HnswError::UnknownId(5));
}

#[test]
fn a_bad_batch_inserts_nothing() {
    let mut idx = small(Metric::L2);
    let before = idx.to_bytes();
    let good = clustered(2, 3, 4, 1, 0.5);
    let mut nan = good.clone();
    nan[9] = f32::NAN;
    assert_eq!(
        idx.insert_batch(&[50, 51, 52], &nan, |_, _| {})
            .unwrap_err(),
        HnswError::NonFinite { index: 1 }
    );
    assert_eq!(
        idx.insert_batch(&[50, 51, 50], &good, |_, _| {})
            .unwrap_err(),
        HnswError::DuplicateId(50)
    );
    assert_eq!(
        idx.insert_batch(&[50, 51, 19], &good, |_, _| {})
            .unwrap_err(),
        HnswError::DuplicateId(19)
    );
    assert_eq!(
        idx.insert_batch(&[50, 51], &good, |_, _| {}).unwrap_err(),
        HnswError::BatchShape {
            ids: 2,
            values: 12,
            dims: 4
        }
    );
    assert_eq!(idx.to_bytes(), before);
    let mut calls = Vec::new();
    idx.insert_batch(&[50, 51, 52], &good, |done, total| {
        calls.push((done, total))
    })
    .unwrap();
    assert_eq!(calls, vec![(1, 3), (2, 3), (3, 3)]);
    assert_eq!(idx.len(), 23);
}

#[test]
fn parameters_are_checked() {
    let bad = |f: &dyn Fn(&mut HnswParams)| {
        let mut p = HnswParams::new(8, Metric::L2);
        f(&mut p);
        matches!(Hnsw::new(p), Err(HnswError::InvalidParams(_)))
    };
    assert!(bad(&|p| p.dims = 0));
    assert!(bad(&|p| p.m = 1));
    assert!(bad(&|p| p.m0 = 4));
    assert!(bad(&|p| p.ef_construction = 0));
    assert!(bad(&|p| p.ml = f64::NAN));
    assert!(!bad(&|p| p.storage = Storage::I8));
}

#[test]
fn update_replaces_and_deletes_are_never_returned() {
    let mut idx = small(Metric::L2);
    let far = [50.0, 50.0, 50.0, 50.0];
    idx.update(7, &far).unwrap();
    assert_eq!(idx.get(7).unwrap(), far.to_vec());
    assert_eq!(idx.search(&far, 1).unwrap()[0].id, 7);
    assert_eq!(idx.len(), 20);
    for id in 0..19 {
        idx.delete(id).unwrap();
    }
    let hits = idx.search(&[0.0; 4], 1).unwrap();
    assert_eq!(hits[0].id, 19);
    idx.delete(19).unwrap();
    assert!(idx.is_empty());
    assert_eq!(
        idx.search(&[0.0; 4], 1).unwrap_err(),
        HnswError::KTooLarge { k: 1, len: 0 }
    );
    idx.insert(1000, &[1.0; 4]).unwrap();
    assert_eq!(idx.search(&[0.0; 4], 1).unwrap()[0].id, 1000);
    idx.compact().unwrap();
    assert_eq!((idx.len(), idx.len_slots()), (1, 1));
}

#[test]
fn cosine_accepts_every_finite_non_zero_vector() {
    // Squares that underflow (1e-40 is subnormal in f32) or overflow (3e38) are still valid
    // directions: stored and found like their scaled copies, in one batch with normal vectors.
    let mut idx = small(Metric::Cosine);
    let tiny = [1e-40f32, 1e-40, 0.0, 0.0];
    let huge = [3e38f32, 0.0, 3e38, 0.0];
    let mixed = [f32::MAX, -f32::MAX, f32::MIN_POSITIVE, 1.0];
    let data: Vec<f32> = [tiny, huge, mixed].concat();
    idx.insert_batch(&[100, 101, 102], &data, |_, _| {})
        .unwrap();
    assert_eq!(idx.len(), 23);
    for (id, v) in [(100, tiny), (101, huge), (102, mixed)] {
        let hit = idx.search(&v, 1).unwrap()[0];
        assert_eq!(hit.id, id);
        assert!(hit.distance.abs() < 1e-5, "{id}: {}", hit.distance);
        let stored = idx.get(id).unwrap();
        let norm: f32 = stored.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{id}: norm {norm}");
    }
    // Equal large components are the direction (1, 1, 1, 1)/2.
    let mut eq = small(Metric::Cosine);
    eq.insert(200, &[1e38; 4]).unwrap();
    assert!(eq.get(200).unwrap().iter().all(|&x| (x - 0.5).abs() < 1e-6));
}

#[test]
fn a_rolled_back_batch_leaves_the_index_bit_for_bit() {
    for storage in [Storage::F32, Storage::F16, Storage::I8, Storage::Q4] {
        let mut p = HnswParams::new(8, Metric::Cosine);
        p.storage = storage;
        p.keep_f32 = storage != Storage::F32;
        let mut idx = Hnsw::new(p).unwrap();
        let data = clustered(5, 300, 8, 4, 0.3);
        let ids: Vec<u64> = (0..300).collect();
        idx.insert_batch(&ids, &data, |_, _| {}).unwrap();
        idx.delete(7).unwrap();
        let before = idx.to_bytes();
        let more = clustered(6, 200, 8, 4, 0.3);
        let more_ids: Vec<u64> = (1000..1200).collect();
        let mut b = idx.begin_batch(more_ids.clone(), more.clone()).unwrap();
        let mut n = 0;
        idx.step_batch(&mut b, || {
            n += 1;
            n == 150
        })
        .unwrap();
        assert_eq!(b.done(), 150);
        assert_eq!(idx.len(), 299 + 150);
        // While the batch is open, other mutations are refused and searches see it.
        assert!(matches!(
            idx.insert(5000, &more[..8]),
            Err(HnswError::Busy(_))
        ));
        assert!(matches!(idx.delete(3), Err(HnswError::Busy(_))));
        assert!(matches!(idx.compact(), Err(HnswError::Busy(_))));
        assert!(idx.search(&more[..8], 1).is_ok());
        idx.rollback_batch(b).unwrap();
        let after = idx.to_bytes();
        let diff: Vec<usize> = (0..before.len().min(after.len()))
            .filter(|&i| before[i] != after[i])
            .take(10)
            .collect();
        assert_eq!((after.len(), &diff), (before.len(), &vec![]), "{storage:?}");
        assert_eq!(after, before, "{storage:?}: rollback is exact");
        assert!(!idx.contains(1000));
        // The same batch then goes in whole, and gives the same index as inserting it directly.
        let mut twin = Hnsw::from_bytes(&before).unwrap();
        twin.insert_batch(&more_ids, &more, |_, _| {}).unwrap();
        let mut b = idx.begin_batch(more_ids, more).unwrap();
        while !b.is_complete() {
            idx.step_batch(&mut b, || true).unwrap();
        }
        idx.commit_batch(b).unwrap();
        assert_eq!(idx.to_bytes(), twin.to_bytes());
        idx.delete(3).unwrap();
    }
}

#[test]
fn a_batch_is_closed_only_on_its_own_index() {
    let mut a = small(Metric::L2);
    let mut b = small(Metric::L2);
    let v = clustered(2, 2, 4, 1, 0.5);
    let ba = a.begin_batch(vec![90, 91], v.clone()).unwrap();
    let mut bb = b.begin_batch(vec![90, 91], v).unwrap();
    assert!(matches!(
        a.step_batch(&mut bb, || false),
        Err(HnswError::Busy(_))
    ));
    assert!(matches!(a.commit_batch(bb), Err(HnswError::Busy(_))));
    assert!(
        matches!(a.commit_batch(ba), Err(HnswError::Busy(_))),
        "incomplete"
    );
}

#[test]
fn compaction_in_steps_equals_compact() {
    let mut idx = small(Metric::L2);
    for id in [1, 4, 9] {
        idx.delete(id).unwrap();
    }
    let mut whole = Hnsw::from_bytes(&idx.to_bytes()).unwrap();
    whole.compact().unwrap();
    let mut c = idx.begin_compaction().unwrap();
    while !c.step(&idx, || true).unwrap() {}
    assert!((c.progress() - 1.0).abs() < 1e-12);
    idx.finish_compaction(c).unwrap();
    assert_eq!(idx.to_bytes(), whole.to_bytes());
    assert_eq!(idx.deleted_count(), 0);
}

#[test]
fn huge_k_is_an_error_not_an_allocation() {
    let idx = small(Metric::L2);
    for k in [21, 1 << 30, usize::MAX] {
        assert!(matches!(
            idx.search_filtered(&[0.0; 4], k, k, Filter::None),
            Err(HnswError::KTooLarge { .. })
        ));
    }
}

#[test]
fn a_batch_checked_in_steps_is_the_same_batch() {
    use elex_hnsw::BatchCheck;
    let mut idx = small(Metric::Cosine);
    let data = clustered(8, 50, 4, 2, 0.3);
    let ids: Vec<u64> = (500..550).collect();
    let mut twin = Hnsw::from_bytes(&idx.to_bytes()).unwrap();
    twin.insert_batch(&ids, &data, |_, _| {}).unwrap();
    let mut c = BatchCheck::default();
    let mut steps = 0;
    while !idx
        .validate_batch_step(&ids, &data, &mut c, || true)
        .unwrap()
    {
        steps += 1;
    }
    assert_eq!((steps, c.checked()), (49, 50));
    let mut b = idx
        .begin_checked_batch(ids.clone(), data.clone(), c)
        .unwrap();
    idx.step_batch(&mut b, || false).unwrap();
    idx.commit_batch(b).unwrap();
    assert_eq!(idx.to_bytes(), twin.to_bytes());
    // An unfinished check, or one of an index that changed since, is refused.
    let more: Vec<u64> = (600..650).collect();
    let mut c = BatchCheck::default();
    idx.validate_batch_step(&more, &data, &mut c, || true)
        .unwrap();
    assert!(matches!(
        idx.begin_checked_batch(more.clone(), data.clone(), c),
        Err(HnswError::Busy(_))
    ));
    let mut c = BatchCheck::default();
    while !idx
        .validate_batch_step(&more, &data, &mut c, || false)
        .unwrap()
    {}
    idx.delete(3).unwrap();
    assert!(matches!(
        idx.begin_checked_batch(more.clone(), data.clone(), c),
        Err(HnswError::Busy(_))
    ));
    // A bad vector met in a later step is the same error as whole.
    let mut bad = data.clone();
    bad[45 * 4] = f32::NAN;
    let mut c = BatchCheck::default();
    let r = loop {
        match idx.validate_batch_step(&more, &bad, &mut c, || true) {
            Ok(true) => break Ok(()),
            Ok(false) => {}
            Err(e) => break Err(e),
        }
    };
    assert_eq!(r, Err(HnswError::NonFinite { index: 0 }));
    assert_eq!(c.checked(), 45);
}
