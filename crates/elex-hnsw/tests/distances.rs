//! `Hnsw::distances`: the distance of given ids to a query equals what exact search reports for
//! them, for every storage (over the f32 copies when kept); ids not live are `None`.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use elex_hnsw::{Filter, Hnsw, HnswParams, Metric, Storage};

#[test]
fn distances_of_ids_equal_exact_search() {
    let dims = 12;
    let vectors: Vec<f32> = (0..200 * dims)
        .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
        .collect();
    let ids: Vec<u64> = (0..200).map(|i| i * 3 + 1).collect();
    for (storage, keep) in [
        (Storage::F32, false),
        (Storage::I8, false),
        (Storage::I8, true),
        (Storage::F16, false),
        (Storage::Q4, false),
        (Storage::Q4, true),
    ] {
        for metric in [Metric::Cosine, Metric::L2, Metric::Dot] {
            let mut p = HnswParams::new(dims, metric);
            p.storage = storage;
            p.keep_f32 = keep;
            let mut h = Hnsw::new(p).unwrap();
            h.insert_batch(&ids, &vectors, |_, _| {}).unwrap();
            h.delete(4).unwrap();
            let q: Vec<f32> = (0..dims).map(|j| (j as f32 * 0.37).sin()).collect();
            let exact = h.exact_search(&q, h.len(), Filter::None).unwrap();
            let asked: Vec<u64> = exact.iter().map(|x| x.id).chain([4, 2, 999]).collect();
            let got = h.distances(&q, &asked).unwrap();
            for (hit, d) in exact.iter().zip(&got) {
                assert_eq!(
                    Some(hit.distance),
                    *d,
                    "{storage:?} keep {keep} {metric:?} id {}",
                    hit.id
                );
            }
            assert_eq!(&got[exact.len()..], &[None, None, None]);
            assert!(h.distances(&q[1..], &[1]).is_err());
        }
    }
}
