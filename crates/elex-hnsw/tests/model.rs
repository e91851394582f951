//! Property test: random sequences of insert, update, delete, compact and snapshot round trips
//! agree with a plain map model (len, contains, get, results only live ids, exact search).
#![cfg(not(target_arch = "wasm32"))]

use elex_hnsw::{Filter, Hnsw, HnswParams, Metric, Storage};
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
enum Op {
    Insert(u8, [i8; 3]),
    Update(u8, [i8; 3]),
    Delete(u8),
    Compact,
    Reload,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<u8>(), any::<[i8; 3]>()).prop_map(|(i, v)| Op::Insert(i % 40, v)),
        2 => (any::<u8>(), any::<[i8; 3]>()).prop_map(|(i, v)| Op::Update(i % 40, v)),
        3 => any::<u8>().prop_map(|i| Op::Delete(i % 40)),
        1 => Just(Op::Compact),
        1 => Just(Op::Reload),
    ]
}

fn vec3(v: [i8; 3]) -> [f32; 3] {
    [v[0] as f32, v[1] as f32, v[2] as f32 + 0.5]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn index_agrees_with_a_map(ops in prop::collection::vec(op(), 1..120), storage in 0u8..4) {
        let storage = [Storage::F32, Storage::F16, Storage::I8, Storage::Q4][storage as usize];
        let mut p = HnswParams::new(3, Metric::L2).with_m(4);
        p.storage = storage;
        p.ef_construction = 16;
        let mut idx = Hnsw::new(p).unwrap();
        let mut model: BTreeMap<u64, [f32; 3]> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Insert(id, v) => {
                    let r = idx.insert(id as u64, &vec3(v));
                    prop_assert_eq!(r.is_ok(), !model.contains_key(&(id as u64)));
                    model.entry(id as u64).or_insert(vec3(v));
                }
                Op::Update(id, v) => {
                    let r = idx.update(id as u64, &vec3(v));
                    prop_assert_eq!(r.is_ok(), model.contains_key(&(id as u64)));
                    if let Some(x) = model.get_mut(&(id as u64)) { *x = vec3(v); }
                }
                Op::Delete(id) => {
                    prop_assert_eq!(idx.delete(id as u64).is_ok(), model.remove(&(id as u64)).is_some());
                }
                Op::Compact => idx.compact().unwrap(),
                Op::Reload => idx = Hnsw::from_bytes(&idx.to_bytes()).unwrap(),
            }
            prop_assert_eq!(idx.len(), model.len());
            for (id, v) in &model {
                prop_assert!(idx.contains(*id));
                let got = idx.get(*id).unwrap();
                // i8: half a quantization step (scale = max|v| / 127); f16: half an ulp, relative.
                let max_abs = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
                let tol = |b: f32| match storage {
                    Storage::I8 => max_abs / 254.0 * 1.001,
                    // q4: sixteen levels for three components; a loose bound on purpose.
                    Storage::Q4 => max_abs * 0.5,
                    Storage::F16 => b.abs() / 2048.0,
                    Storage::F32 => 0.0,
                };
                prop_assert!(got.iter().zip(v).all(|(a, b)| (a - b).abs() <= tol(*b)), "{:?} vs {:?}", got, v);
            }
            if !model.is_empty() {
                let k = model.len().min(5);
                let hits = idx.search(&[0.0, 0.0, 0.0], k).unwrap();
                prop_assert_eq!(hits.len(), k);
                prop_assert!(hits.iter().all(|h| model.contains_key(&h.id)));
                let exact = idx.exact_search(&[0.0, 0.0, 0.0], k, Filter::None).unwrap();
                prop_assert!(exact.iter().all(|h| model.contains_key(&h.id)));
            }
        }
    }
}
