//! Criterion benches for the index: one search (k = 10, ef = 64) per ISA and storage kind on
//! 10,000 seeded clustered 128-d vectors, and building 2,000 vectors. Compare `search/<isa>`
//! with `search/scalar` for the SIMD speedup of a whole query.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use elex_hnsw::{Filter, Hnsw, HnswParams, Metric, Storage};
use elex_simd::Kernels;
use std::hint::black_box;

const SEED: u64 = 0x5eed;
const DIMS: usize = 128;

fn data(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let centres: Vec<f32> = (0..50 * DIMS).map(|_| next() * 4.0).collect();
    (0..n)
        .flat_map(|i| {
            let c = (i * 7919) % 50;
            centres[c * DIMS..(c + 1) * DIMS]
                .iter()
                .map(|x| x + next())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn build(storage: Storage, kernels: Kernels, base: &[f32]) -> Hnsw {
    let mut p = HnswParams::new(DIMS, Metric::Cosine);
    p.storage = storage;
    p.seed = SEED;
    let mut idx = Hnsw::with_kernels(p, kernels).unwrap();
    let ids: Vec<u64> = (0..(base.len() / DIMS) as u64).collect();
    idx.insert_batch(&ids, base, |_, _| {}).unwrap();
    idx
}

fn benches(c: &mut Criterion) {
    let base = data(SEED, 10_000);
    let queries = data(SEED + 1, 100);
    let mut g = c.benchmark_group("search");
    for storage in [Storage::F32, Storage::F16, Storage::I8] {
        let idx = build(storage, Kernels::detect(), &base);
        for isa in Kernels::available() {
            // Same graph, different kernels: load the snapshot with the forced ISA's distances.
            let k = Kernels::force(isa).unwrap();
            let forced = Hnsw::from_bytes(&idx.to_bytes())
                .unwrap()
                .with_kernels_of(k);
            let (mut s, mut out) = (forced.scratch(), Vec::new());
            let mut qi = 0;
            g.bench_function(
                BenchmarkId::new(format!("{storage:?}/{}", isa.name()), 10_000),
                |b| {
                    b.iter(|| {
                        let q = &queries[qi * DIMS..(qi + 1) * DIMS];
                        qi = (qi + 1) % 100;
                        forced
                            .search_into(black_box(q), 10, 64, Filter::None, &mut s, &mut out)
                            .unwrap();
                        black_box(out.len())
                    })
                },
            );
        }
    }
    g.finish();
    let small = data(SEED + 2, 2_000);
    let mut g = c.benchmark_group("build");
    g.sample_size(10);
    g.bench_function("f32/2000x128", |b| {
        b.iter(|| black_box(build(Storage::F32, Kernels::detect(), &small).len()))
    });
    g.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
