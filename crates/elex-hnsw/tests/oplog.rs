//! The op log: operations encoded, decoded and replayed onto a snapshot give the index that
//! made them, byte for byte; a record that would not apply whole changes nothing; damaged
//! payloads are errors, never panics.

use elex_hnsw::{Hnsw, HnswError, HnswParams, Metric, Op, OpLog, Storage, decode_ops};

fn rng(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn vector(seed: &mut u64, dims: usize) -> Vec<f32> {
    (0..dims)
        .map(|_| (rng(seed) % 2000) as f32 / 1000.0 - 1.0 + 1e-3)
        .collect()
}

fn params(storage: Storage) -> HnswParams {
    let mut p = HnswParams::new(12, Metric::Cosine);
    p.storage = storage;
    p.keep_f32 = storage != Storage::F32;
    p.seed = 42;
    p
}

/// Random operations, applied to `live` as they are made and logged in records of a few ops.
fn play(live: &mut Hnsw, seed: u64, n_records: usize) -> Vec<(u32, Vec<u8>)> {
    let first_id = live
        .ids()
        .max()
        .map_or(1000, |m| m + 1)
        .max(live.len_slots() as u64 + 1000);
    let mut s = seed;
    let dims = live.dims();
    let mut next_id = first_id;
    let mut records = Vec::new();
    for _ in 0..n_records {
        let mut log = OpLog::default();
        for _ in 0..1 + rng(&mut s) % 4 {
            let ids: Vec<u64> = live.ids().collect();
            match rng(&mut s) % 10 {
                0..=3 => {
                    let v = vector(&mut s, dims);
                    live.insert(next_id, &v).unwrap();
                    log.add(next_id, &v);
                    next_id += 1;
                }
                4 | 5 => {
                    let n = 1 + (rng(&mut s) % 20) as usize;
                    let batch: Vec<u64> = (next_id..next_id + n as u64).collect();
                    let vs: Vec<f32> = (0..n).flat_map(|_| vector(&mut s, dims)).collect();
                    live.insert_batch(&batch, &vs, |_, _| {}).unwrap();
                    log.batch(&batch, &vs);
                    next_id += n as u64;
                }
                6 | 7 if !ids.is_empty() => {
                    let id = ids[(rng(&mut s) % ids.len() as u64) as usize];
                    live.delete(id).unwrap();
                    log.delete(id);
                }
                8 if !ids.is_empty() => {
                    let id = ids[(rng(&mut s) % ids.len() as u64) as usize];
                    let v = vector(&mut s, dims);
                    live.update(id, &v).unwrap();
                    log.update(id, &v);
                }
                9 if rng(&mut s).is_multiple_of(4) => {
                    live.compact().unwrap();
                    log.compact();
                }
                _ => {}
            }
        }
        records.push(log.take());
    }
    records
}

#[test]
fn a_replayed_log_gives_the_same_index_byte_for_byte() {
    for storage in [Storage::F32, Storage::F16, Storage::I8, Storage::Q4] {
        for seed in 0..6 {
            let mut live = Hnsw::new(params(storage)).unwrap();
            play(&mut live, seed * 7 + 1, 5);
            let checkpoint = live.to_bytes();
            let records = play(&mut live, seed, 30);
            let mut replayed = Hnsw::from_bytes(&checkpoint).unwrap();
            for (count, payload) in &records {
                let ops = decode_ops(payload, *count, replayed.dims()).unwrap();
                assert_eq!(ops.len(), *count as usize);
                replayed.apply_ops(&ops).unwrap();
            }
            assert_eq!(
                replayed.to_bytes(),
                live.to_bytes(),
                "storage {storage:?}, seed {seed}"
            );
        }
    }
}

#[test]
fn a_record_that_would_not_apply_whole_changes_nothing() {
    let mut h = Hnsw::new(params(Storage::F32)).unwrap();
    let mut s = 9;
    for id in 0..50 {
        h.insert(id, &vector(&mut s, 12)).unwrap();
    }
    let before = h.to_bytes();
    let v = vector(&mut s, 12);
    let bad: Vec<Vec<Op>> = vec![
        // The second add repeats the first's id.
        vec![
            Op::Add {
                id: 100,
                vector: v.clone(),
            },
            Op::Add {
                id: 100,
                vector: v.clone(),
            },
        ],
        // Deleting what an earlier op deleted.
        vec![Op::Delete { id: 3 }, Op::Delete { id: 3 }],
        // A batch whose last vector is bad.
        vec![
            Op::Delete { id: 4 },
            Op::Batch {
                ids: vec![200, 201],
                vectors: [v.clone(), vec![f32::NAN; 12]].concat(),
            },
        ],
        vec![Op::Update {
            id: 999,
            vector: v.clone(),
        }],
        vec![Op::Add {
            id: 300,
            vector: vec![1.0; 5],
        }],
        vec![Op::Batch {
            ids: vec![1],
            vectors: vec![],
        }],
    ];
    for ops in &bad {
        assert!(h.apply_ops(ops).is_err(), "{ops:?}");
        assert_eq!(h.to_bytes(), before);
    }
    // Re-adding an id deleted earlier in the same record is fine.
    h.apply_ops(&[Op::Delete { id: 5 }, Op::Add { id: 5, vector: v }])
        .unwrap();
    assert!(h.contains(5));
}

#[test]
fn damaged_payloads_are_errors_never_panics() {
    let mut h = Hnsw::new(params(Storage::I8)).unwrap();
    let records = play(&mut h, 3, 10);
    for (count, payload) in records.iter().filter(|(_, p)| p.len() < 2000) {
        for len in 0..payload.len() {
            assert!(decode_ops(&payload[..len], *count, 12).is_err());
        }
        for bit in 0..payload.len() * 8 {
            let mut p = payload.clone();
            p[bit / 8] ^= 1 << (bit % 8);
            // Either an error, or operations that decode (a flipped vector bit).
            let _ = decode_ops(&p, *count, 12);
        }
        assert!(decode_ops(payload, count + 1, 12).is_err());
        let mut longer = payload.clone();
        longer.push(4);
        assert!(matches!(
            decode_ops(&longer, *count, 12),
            Err(HnswError::Corrupt(_))
        ));
    }
    // A batch count far beyond its record is refused before anything is allocated.
    let mut p = vec![2u8];
    p.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(decode_ops(&p, 1, 384).is_err());
}

#[test]
fn a_copy_is_independent_and_refused_mid_batch() {
    let mut h = Hnsw::new(params(Storage::F16)).unwrap();
    play(&mut h, 5, 10);
    let copy = h.try_clone().unwrap();
    assert_eq!(copy.to_bytes(), h.to_bytes());
    let mut s = 1;
    h.insert(1, &vector(&mut s, 12)).unwrap();
    assert_ne!(copy.to_bytes(), h.to_bytes());
    assert!(!copy.contains(1));
    let b = h.begin_batch(vec![2], vector(&mut s, 12)).unwrap();
    assert!(matches!(h.try_clone(), Err(HnswError::Busy(_))));
    h.rollback_batch(b).unwrap();
}
