//! Snapshots: round trips for every storage, determinism, the same bytes on every platform
//! (golden checksum, checked natively, under qemu on aarch64 and in wasm), and every kind of
//! damage reported as an error without a panic.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;
use common::*;
use elex_hnsw::{Filter, HEADER_LEN, Hnsw, HnswError, HnswParams, Metric, Storage, checksum64};

fn build(metric: Metric, storage: Storage, keep: bool, seed: u64, n: usize, dims: usize) -> Hnsw {
    let mut p = HnswParams::new(dims, metric).with_m(8);
    p.storage = storage;
    p.keep_f32 = keep;
    p.seed = seed;
    p.ef_construction = 64;
    let mut idx = Hnsw::new(p).unwrap();
    let data = clustered(seed, n, dims, 8, 0.4);
    let ids: Vec<u64> = (0..n as u64).map(|i| i * 3 + 1).collect();
    idx.insert_batch(&ids, &data, |_, _| {}).unwrap();
    idx
}

/// At 40 dimensions, where wasm searches of f32 (and, in the relaxed build, of i8 with f32
/// copies) walk on codes a loaded index makes again from its vectors.
#[test]
fn round_trip_every_metric_and_storage() {
    for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
        for (storage, keep) in [
            (Storage::F32, false),
            (Storage::F16, false),
            (Storage::I8, false),
            (Storage::I8, true),
            (Storage::Q4, false),
            (Storage::Q4, true),
        ] {
            let mut idx = build(metric, storage, keep, 11, 400, 40);
            for id in [1u64, 31, 301] {
                idx.delete(id).unwrap();
            }
            let bytes = idx.to_bytes();
            let back = Hnsw::from_bytes(&bytes).unwrap();
            assert_eq!(back.to_bytes(), bytes, "{metric:?} {storage:?}");
            assert_eq!(
                (back.len(), back.deleted_count(), back.params()),
                (idx.len(), 3, idx.params())
            );
            let mut streamed = Vec::new();
            assert_eq!(idx.write_to(&mut streamed).unwrap(), bytes.len() as u64);
            assert_eq!(streamed, bytes);
            for q in clustered(12, 5, 40, 8, 0.4).chunks_exact(40) {
                assert_eq!(back.search(q, 5).unwrap(), idx.search(q, 5).unwrap());
            }
            assert_eq!(back.get(4).unwrap(), idx.get(4).unwrap());
            assert!(!back.contains(31));
            // A loaded index keeps growing exactly like the original.
            let (mut a, mut b) = (idx, back);
            let v = clustered(13, 1, 40, 8, 0.4);
            a.insert(99_999, &v).unwrap();
            b.insert(99_999, &v).unwrap();
            assert_eq!(a.to_bytes(), b.to_bytes());
        }
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = build(Metric::Cosine, Storage::F32, false, 5, 300, 16).to_bytes();
    let b = build(Metric::Cosine, Storage::F32, false, 5, 300, 16).to_bytes();
    let c = build(Metric::Cosine, Storage::F32, false, 6, 300, 16).to_bytes();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

/// The same seed and inputs give the same bytes on x86_64 (any ISA), aarch64 and wasm32 with or
/// without simd128: the kernels' canonical order and the integer level generator make every
/// distance and every level identical. The constant was computed once and is checked everywhere.
#[test]
fn snapshot_bytes_are_identical_across_platforms() {
    let mut got = Vec::new();
    for (metric, storage) in [
        (Metric::Cosine, Storage::F32),
        (Metric::L2, Storage::F16),
        (Metric::Dot, Storage::I8),
        (Metric::L2, Storage::Q4),
    ] {
        let mut idx = build(metric, storage, false, 2024, 600, 37);
        idx.delete(7).unwrap();
        got.push(checksum64(&idx.to_bytes()));
    }
    println!("snapshot checksums: {got:#018x?}");
    assert_eq!(got, GOLDEN);
}
const GOLDEN: [u64; 4] = [
    0x466e_363e_9802_532d,
    0x72aa_521d_bcfa_68e8,
    0x6cfe_aba5_98e9_ecc0,
    0xde74_deea_37dc_f8a6,
];

/// Every ISA this host has (AVX-512's four-row kernels included, where the CPU has them) builds
/// the same bytes as the scalar kernels for every metric and storage, at a length with a tail
/// after the last 32-lane block, and answers queries with the same bits, which are the bits of
/// the distances computed one at a time.
#[test]
fn every_isa_builds_the_same_bytes_and_answers_the_same_bits() {
    use elex_simd::{Isa, Kernels};
    for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
        for storage in [Storage::F32, Storage::F16, Storage::I8, Storage::Q4] {
            let (n, dims, seed) = (300, 45, 77);
            let data = clustered(seed, n, dims, 8, 0.4);
            let ids: Vec<u64> = (0..n as u64).collect();
            let make = |isa: Isa| {
                let mut p = HnswParams::new(dims, metric).with_m(8);
                p.storage = storage;
                p.seed = seed;
                p.ef_construction = 64;
                let mut idx = Hnsw::with_kernels(p, Kernels::force(isa).unwrap()).unwrap();
                idx.insert_batch(&ids, &data, |_, _| {}).unwrap();
                idx.delete(5).unwrap();
                idx
            };
            let want = make(Isa::Scalar);
            let q = &data[dims * 17..dims * 18];
            let hits = |idx: &Hnsw| -> Vec<(u64, u32)> {
                idx.search(q, 10)
                    .unwrap()
                    .iter()
                    .map(|h| (h.id, h.distance.to_bits()))
                    .collect()
            };
            for isa in Kernels::available() {
                let got = make(isa);
                let ctx = format!("{isa:?} {metric:?} {storage:?}");
                assert_eq!(got.to_bytes(), want.to_bytes(), "{ctx}");
                let h = hits(&got);
                assert_eq!(h, hits(&want), "{ctx}");
                // The walk's distances (four per call) are the one-at-a-time distances.
                let ids: Vec<u64> = h.iter().map(|x| x.0).collect();
                let one: Vec<u32> = got
                    .distances(q, &ids)
                    .unwrap()
                    .iter()
                    .map(|d| d.unwrap().to_bits())
                    .collect();
                assert_eq!(h.iter().map(|x| x.1).collect::<Vec<_>>(), one, "{ctx}");
            }
        }
    }
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = build(Metric::L2, Storage::F16, false, 3, 120, 8).to_bytes();
    for cut in 0..bytes.len() {
        match Hnsw::from_bytes(&bytes[..cut]) {
            Err(HnswError::Truncated { .. }) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn every_flipped_byte_is_an_error() {
    let bytes = build(Metric::Cosine, Storage::I8, true, 4, 100, 8).to_bytes();
    for at in 0..bytes.len() {
        let mut b = bytes.clone();
        b[at] ^= 0x5a;
        assert!(Hnsw::from_bytes(&b).is_err(), "flip at {at} loaded");
    }
}

#[test]
fn header_damage_gets_the_right_error() {
    let bytes = build(Metric::Dot, Storage::F32, false, 5, 50, 8).to_bytes();
    let mut b = bytes.clone();
    b[0] = b'X';
    assert_eq!(Hnsw::from_bytes(&b).unwrap_err(), HnswError::BadMagic);
    let mut b = bytes.clone();
    b[8..10].copy_from_slice(&9u16.to_le_bytes());
    assert_eq!(
        Hnsw::from_bytes(&b).unwrap_err(),
        HnswError::UnsupportedVersion {
            found: 9,
            supported: 1
        }
    );
    let mut b = bytes.clone();
    b[HEADER_LEN + 3] ^= 1;
    assert!(matches!(
        Hnsw::from_bytes(&b),
        Err(HnswError::ChecksumMismatch { .. })
    ));
    // A header that claims a huge index is refused before anything is allocated.
    let mut b = bytes.clone();
    b[20..24].copy_from_slice(&(u32::MAX - 1).to_le_bytes());
    b[16..20].copy_from_slice(&65_536u32.to_le_bytes());
    assert!(matches!(
        Hnsw::from_bytes(&b),
        Err(HnswError::Corrupt(_) | HnswError::TooLarge(_))
    ));
    let mut b = bytes.clone();
    b[80..88].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        Hnsw::from_bytes(&b),
        Err(HnswError::Truncated { .. } | HnswError::TooLarge(_))
    ));
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(
        Hnsw::from_bytes(&long),
        Err(HnswError::Corrupt(_))
    ));
    assert!(matches!(
        Hnsw::from_bytes(&[]),
        Err(HnswError::Truncated { .. })
    ));
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(77);
    let valid = build(Metric::L2, Storage::F32, false, 6, 40, 4).to_bytes();
    for i in 0..2000 {
        let mut b: Vec<u8> = if i % 2 == 0 {
            (0..rng.below(400)).map(|_| rng.next_u64() as u8).collect()
        } else {
            valid.clone()
        };
        if i % 2 == 1 {
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(b.len());
                b[at] = rng.next_u64() as u8;
            }
        }
        let _ = Hnsw::from_bytes(&b);
    }
}

#[test]
fn an_empty_index_round_trips() {
    let idx = Hnsw::new(HnswParams::new(5, Metric::L2)).unwrap();
    let back = Hnsw::from_bytes(&idx.to_bytes()).unwrap();
    assert!(back.is_empty());
    assert_eq!(
        back.search(&[0.0; 5], 1).unwrap_err(),
        HnswError::KTooLarge { k: 1, len: 0 }
    );
    assert!(back.exact_search(&[0.0; 5], 1, Filter::None).is_err());
}

/// Found by the fuzzer: an upper-level link to a node without that level made a later search
/// read outside the node's upper block. The reader now rejects it. (The file was a crash
/// artifact of a fuzz build, which ignores checksums, so the checksum is re-sealed here.)
#[test]
fn an_upper_link_to_a_lower_node_is_corrupt() {
    let mut b = include_bytes!("corpus/upper-link-to-lower-node.bin").to_vec();
    let mut sealed = b[..88].to_vec();
    sealed.extend_from_slice(&b[HEADER_LEN..]);
    let sum = checksum64(&sealed);
    b[88..96].copy_from_slice(&sum.to_le_bytes());
    match Hnsw::from_bytes(&b) {
        Err(HnswError::Corrupt(msg)) => assert!(msg.contains("link at level"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

/// The chunked writer gives exactly `to_bytes`, and the chunked reader loads any split of it
/// (down to one byte at a time) to the same index; damage is reported the same way however the
/// bytes are cut.
#[test]
fn snapshots_in_chunks_are_the_same_bytes() {
    use elex_hnsw::SnapshotReader;
    for (storage, keep) in [
        (Storage::F32, false),
        (Storage::F16, false),
        (Storage::I8, true),
        (Storage::Q4, true),
    ] {
        let mut idx = build(Metric::Cosine, storage, keep, 21, 150, 12);
        idx.delete(4).unwrap();
        let whole = idx.to_bytes();
        for max in [1, 7, 64, 4096, 1 << 20] {
            let mut w = idx.snapshot_writer();
            let mut body = Vec::new();
            while w.next_chunk(&idx, &mut body, max).unwrap() {}
            let mut bytes = w.header(&idx).unwrap().to_vec();
            bytes.extend_from_slice(&body);
            assert_eq!(bytes.len() as u64, w.total_len());
            assert_eq!(bytes, whole, "{storage:?}, chunks of {max}");
        }
        let mut rng = Rng(9);
        for split in [1usize, 3, 8, 1000] {
            let mut r = SnapshotReader::new(&whole[..HEADER_LEN], whole.len() as u64).unwrap();
            let mut at = HEADER_LEN;
            while at < whole.len() {
                let n = (1 + rng.below(split)).min(whole.len() - at);
                r.feed(&whole[at..at + n]).unwrap();
                at += n;
            }
            assert_eq!(r.finish().unwrap().to_bytes(), whole);
        }
        // A flipped body byte: a checksum mismatch whether fed whole or byte by byte.
        let mut bad = whole.clone();
        bad[HEADER_LEN + 200] ^= 0x40;
        let mut r = SnapshotReader::new(&bad[..HEADER_LEN], bad.len() as u64).unwrap();
        for b in &bad[HEADER_LEN..] {
            r.feed(std::slice::from_ref(b)).unwrap();
        }
        assert!(matches!(
            r.finish(),
            Err(HnswError::ChecksumMismatch { .. })
        ));
        // Stopping early is a truncation; feeding past the body an error.
        let mut r = SnapshotReader::new(&whole[..HEADER_LEN], whole.len() as u64).unwrap();
        r.feed(&whole[HEADER_LEN..whole.len() - 1]).unwrap();
        assert!(matches!(r.finish(), Err(HnswError::Truncated { .. })));
        let mut r = SnapshotReader::new(&whole[..HEADER_LEN], whole.len() as u64).unwrap();
        r.feed(&whole[HEADER_LEN..]).unwrap();
        assert!(r.feed(&[0]).is_err());
    }
    // A writer refuses to go on once the index changed under it.
    let mut idx = build(Metric::L2, Storage::F32, false, 3, 50, 4);
    let mut w = idx.snapshot_writer();
    let mut out = Vec::new();
    w.next_chunk(&idx, &mut out, 16).unwrap();
    idx.insert(9_999_999, &[0.5; 4]).unwrap();
    assert!(matches!(
        w.next_chunk(&idx, &mut out, 16),
        Err(HnswError::Busy(_))
    ));
}
