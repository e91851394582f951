//! An f32 index of 128 or more dimensions (32 in wasm) walks its graph on i8 codes of its vectors and
//! re-ranks on the vectors: the distances it returns are the f32 ones, its recall matches the
//! walk on f32, and the codes follow the vectors through rollbacks, deletes, compaction, clones
//! and snapshots (a copy whose codes are rebuilt from its vectors answers with the same bits).
//! From 128 dimensions (every target) inserts walk on the codes too.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;
use common::*;
use elex_hnsw::{Filter, Hit, Hnsw, HnswParams, Metric, Storage};

const SEED: u64 = 11;

fn index(metric: Metric, dims: usize, data: &[f32]) -> Hnsw {
    let mut p = HnswParams::new(dims, metric);
    p.seed = SEED;
    let mut idx = Hnsw::new(p).unwrap();
    let ids: Vec<u64> = (0..(data.len() / dims) as u64).collect();
    idx.insert_batch(&ids, data, |_, _| {}).unwrap();
    idx
}

fn answers(idx: &Hnsw, queries: &[f32], dims: usize, ef: usize) -> Vec<Vec<(u64, u32)>> {
    queries
        .chunks_exact(dims)
        .map(|q| {
            idx.search_filtered(q, 10, ef, Filter::None)
                .unwrap()
                .iter()
                .map(|h: &Hit| (h.id, h.distance.to_bits()))
                .collect()
        })
        .collect()
}

/// The same index with its walking codes dropped and quantized again from its vectors.
fn with_codes_rebuilt(idx: &Hnsw) -> Hnsw {
    let mut c = idx.try_clone().unwrap();
    c.set_walk_on_i8(false);
    assert!(!c.walks_on_i8());
    c.set_walk_on_i8(true);
    assert!(c.walks_on_i8());
    c
}

#[test]
fn an_f32_index_of_128_dims_walks_on_i8_and_returns_the_f32_distances() {
    let dims = 160;
    let data = clustered(SEED, 2000, dims, 20, 0.3);
    let queries = clustered(SEED + 1, 40, dims, 20, 0.3);
    for metric in [Metric::Cosine, Metric::L2, Metric::Dot] {
        // Inner product on un-normalized data needs a wider ef (see recall.rs): 0.90 at 256.
        let (ef, min) = if metric == Metric::Dot {
            (256, 0.88)
        } else {
            (64, 0.95)
        };
        let mut idx = index(metric, dims, &data);
        assert!(idx.walks_on_i8(), "{metric:?}");
        for q in queries.chunks_exact(dims) {
            let hits = idx.search_filtered(q, 10, ef, Filter::None).unwrap();
            let ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
            let exact = idx.distances(q, &ids).unwrap();
            for (h, d) in hits.iter().zip(&exact) {
                assert_eq!(
                    Some(h.distance.to_bits()),
                    d.map(f32::to_bits),
                    "{metric:?}"
                );
            }
            assert!(hits.windows(2).all(|w| w[0].distance <= w[1].distance));
        }
        let on_i8 = mean_recall(&idx, metric, &data, &queries, dims, ef);
        idx.set_walk_on_i8(false);
        let on_f32 = mean_recall(&idx, metric, &data, &queries, dims, ef);
        println!("{metric:?} ef {ef}: recall@10 walking on i8 {on_i8:.3}, on f32 {on_f32:.3}");
        assert!(on_i8 >= min, "{metric:?}: {on_i8:.3}");
        assert!(
            on_i8 >= on_f32 - 0.02,
            "{metric:?}: {on_i8:.3} vs {on_f32:.3}"
        );
    }
    // Below 128 dimensions (32 in wasm) the walk is on the f32 vectors, unless asked for.
    let (dims, data) = (24, clustered(SEED, 500, 24, 10, 0.3));
    let mut small = index(Metric::L2, dims, &data);
    assert!(!small.walks_on_i8());
    small.set_walk_on_i8(true);
    assert!(small.walks_on_i8());
    let queries = clustered(SEED + 1, 20, dims, 10, 0.3);
    assert!(mean_recall(&small, Metric::L2, &data, &queries, dims, 64) >= 0.95);
    // Other storage kinds walk on what they store.
    let mut p = HnswParams::new(160, Metric::Cosine);
    p.storage = Storage::F16;
    let mut f16 = Hnsw::new(p).unwrap();
    f16.set_walk_on_i8(true);
    assert!(!f16.walks_on_i8());
}

#[test]
fn walking_codes_follow_the_vectors_through_rollback_deletes_compaction_and_snapshots() {
    let dims = 128;
    let data = clustered(SEED + 2, 1600, dims, 16, 0.3);
    let queries = clustered(SEED + 3, 30, dims, 16, 0.3);
    let same = |idx: &Hnsw, stage: &str| {
        assert!(idx.walks_on_i8(), "{stage}");
        let rebuilt = with_codes_rebuilt(idx);
        assert_eq!(
            answers(idx, &queries, dims, 48),
            answers(&rebuilt, &queries, dims, 48),
            "{stage}: the codes kept differ from the vectors' codes"
        );
    };
    let mut idx = index(Metric::Cosine, dims, &data[..1000 * dims]);
    same(&idx, "built");
    let before = answers(&idx, &queries, dims, 48);

    // A batch rolled back half way leaves the index (codes included) as it was.
    let mut b = idx
        .begin_batch((1000..1600).collect(), data[1000 * dims..].to_vec())
        .unwrap();
    let mut n = 0;
    idx.step_batch(&mut b, || {
        n += 1;
        n == 250
    })
    .unwrap();
    idx.rollback_batch(b).unwrap();
    assert_eq!(idx.len(), 1000);
    assert_eq!(answers(&idx, &queries, dims, 48), before);
    same(&idx, "after a rollback");

    // One at a time (growth by an eighth), then deletes and an update.
    for (i, v) in data[1000 * dims..].chunks_exact(dims).enumerate() {
        idx.insert(1000 + i as u64, v).unwrap();
    }
    same(&idx, "after single inserts");
    for id in (0..1600).step_by(3) {
        idx.delete(id).unwrap();
    }
    idx.update(1, &data[7 * dims..8 * dims]).unwrap();
    same(&idx, "after deletes and an update");
    idx.compact().unwrap();
    same(&idx, "after compaction");

    // Snapshots hold no codes: the bytes are those of the same index walking on f32, and the
    // loaded index walks on codes again, answering with the same bits.
    let bytes = idx.to_bytes();
    let mut off = idx.try_clone().unwrap();
    off.set_walk_on_i8(false);
    assert_eq!(bytes, off.to_bytes());
    let loaded = Hnsw::from_bytes(&bytes).unwrap();
    same(&loaded, "loaded");
    assert_eq!(
        answers(&loaded, &queries, dims, 48),
        answers(&idx, &queries, dims, 48)
    );
    // A clone walks on its own copy of the codes.
    let clone = idx.try_clone().unwrap();
    assert_eq!(
        answers(&clone, &queries, dims, 48),
        answers(&idx, &queries, dims, 48)
    );
}

/// From 128 dimensions on every target, inserts walk on the codes too (each layer's candidates
/// re-ranked on the vectors before the heuristic picks the links): the graph searches as well as
/// one built walking on f32, and a loaded copy (codes rebuilt from its vectors) grows it into the
/// same bytes. Below 128 dimensions codes leave the graph as the f32 walk builds it, so wasm,
/// which walks on codes from 32, writes the same snapshot bytes as every other target.
#[test]
fn inserts_walk_on_codes_from_128_dims_and_snapshots_stay_the_same_everywhere() {
    let build = |dims: usize, data: &[f32], codes: bool| {
        let mut p = HnswParams::new(dims, Metric::Cosine);
        p.seed = SEED;
        let mut idx = Hnsw::new(p).unwrap();
        idx.set_walk_on_i8(codes);
        let ids: Vec<u64> = (0..(data.len() / dims) as u64).collect();
        idx.insert_batch(&ids, data, |_, _| {}).unwrap();
        idx
    };
    let dims = 160;
    let data = clustered(SEED, 2000, dims, 20, 0.3);
    let queries = clustered(SEED + 1, 40, dims, 20, 0.3);
    let mut on = build(dims, &data, true);
    let off = build(dims, &data, false);
    assert_ne!(
        on.to_bytes(),
        off.to_bytes(),
        "the codes picked the candidates"
    );
    // A loaded copy grows exactly like the original.
    let more = clustered(SEED + 2, 50, dims, 20, 0.3);
    let ids: Vec<u64> = (10_000..10_050).collect();
    let mut grown = on.try_clone().unwrap();
    let mut back = Hnsw::from_bytes(&on.to_bytes()).unwrap();
    assert!(back.walks_on_i8());
    grown.insert_batch(&ids, &more, |_, _| {}).unwrap();
    back.insert_batch(&ids, &more, |_, _| {}).unwrap();
    assert_eq!(grown.to_bytes(), back.to_bytes());
    // Searched the same way, both graphs find the same neighbours.
    on.set_walk_on_i8(false);
    for ef in [16, 64] {
        let with = mean_recall(&on, Metric::Cosine, &data, &queries, dims, ef);
        let without = mean_recall(&off, Metric::Cosine, &data, &queries, dims, ef);
        println!("ef {ef}: recall@10 of the graph built on codes {with:.3}, on f32 {without:.3}");
        assert!(with >= without - 0.02, "ef {ef}: {with:.3} vs {without:.3}");
    }
    let (dims, data) = (127, clustered(SEED, 600, 127, 10, 0.3));
    assert_eq!(
        build(dims, &data, true).to_bytes(),
        build(dims, &data, false).to_bytes()
    );
}

/// The re-rank leaves out candidates whose walk distance lies too far beyond the `k`-th final
/// distance for their codes' rounding error to bring them in. With `ef` as large as the index
/// the walk holds every node, so a search must answer exactly as the brute-force oracle does:
/// the same ids and distance bits (an f32 index walking on its codes, and an i8 one re-ranking
/// on f32 copies, which in the relaxed-SIMD wasm build walks on 4-bit codes of them). Not
/// under inner product, whose graph can leave a node without links to it (any `ef` misses it).
/// With no margin for the error (`RERANK_Z` 0) it fails.
#[test]
fn the_rerank_leaves_out_only_candidates_that_cannot_be_among_the_best() {
    let dims = if cfg!(target_arch = "wasm32") {
        40
    } else {
        160
    };
    let n = 500;
    let data = clustered(SEED + 5, n, dims, 4, 0.3);
    let queries = clustered(SEED + 6, 50, dims, 4, 0.3);
    for metric in [Metric::Cosine, Metric::L2] {
        for (storage, keep) in [(Storage::I8, true), (Storage::F32, false)] {
            let mut p = HnswParams::new(dims, metric);
            p.seed = SEED;
            p.storage = storage;
            p.keep_f32 = keep;
            let mut idx = Hnsw::new(p).unwrap();
            let ids: Vec<u64> = (0..n as u64).collect();
            idx.insert_batch(&ids, &data, |_, _| {}).unwrap();
            if storage == Storage::F32 {
                assert!(idx.walks_on_i8());
            }
            for q in queries.chunks_exact(dims) {
                let got = idx.search_filtered(q, 10, n, Filter::None).unwrap();
                let want = idx.exact_search(q, 10, Filter::None).unwrap();
                let bits = |h: &[Hit]| -> Vec<(u64, u32)> {
                    h.iter().map(|h| (h.id, h.distance.to_bits())).collect()
                };
                assert_eq!(bits(&got), bits(&want), "{metric:?} {storage:?}");
            }
        }
    }
}
