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
    idx.compact();
    assert_eq!((idx.len(), idx.len_slots()), (1, 1));
}
