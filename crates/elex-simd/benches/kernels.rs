//! Criterion benches: every kernel on every ISA this host has (`Kernels::force`), dims 128, 384,
//! 768 and 1536. Bench ids are `<kernel>/<isa>/<dim>`; compare an ISA with `scalar` at one dim
//! for the SIMD/scalar ratio (`examples/ratio.rs` prints those ratios directly).
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use elex_simd::{Kernels, f16};
use std::hint::black_box;

const SEED: u64 = 0x5eed;
const DIMS: [usize; 4] = [128, 384, 768, 1536];

fn data(n: usize, salt: u64) -> Vec<f32> {
    let mut s = SEED ^ salt;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

fn kernels(c: &mut Criterion) {
    for isa in Kernels::available() {
        let k = Kernels::force(isa).unwrap();
        for dim in DIMS {
            let (a, b) = (data(dim, 1), data(dim, 2));
            let (ha, hb): (Vec<f16>, Vec<f16>) = (
                a.iter().map(|&x| f16::from_f32(x)).collect(),
                b.iter().map(|&x| f16::from_f32(x)).collect(),
            );
            let (mut qa, mut qb) = (vec![0i8; dim], vec![0i8; dim]);
            k.quantize_i8(&a, &mut qa).unwrap();
            k.quantize_i8(&b, &mut qb).unwrap();
            let id = |name: &str| (name.to_string(), BenchmarkId::new(isa.name(), dim));
            let mut run = |name: &str, f: &mut dyn FnMut()| {
                let (group, bid) = id(name);
                let mut g = c.benchmark_group(group);
                g.throughput(Throughput::Elements(dim as u64));
                g.bench_function(bid, |bch| bch.iter(&mut *f));
                g.finish();
            };
            run("dot_f32", &mut || {
                black_box(k.dot_f32(black_box(&a), black_box(&b)).unwrap());
            });
            run("l2sq_f32", &mut || {
                black_box(k.l2sq_f32(black_box(&a), black_box(&b)).unwrap());
            });
            run("cosine_f32", &mut || {
                black_box(k.cosine_f32(black_box(&a), black_box(&b)).unwrap());
            });
            run("dot_f16", &mut || {
                black_box(k.dot_f16(black_box(&ha), black_box(&hb)).unwrap());
            });
            run("l2sq_f16", &mut || {
                black_box(k.l2sq_f16(black_box(&ha), black_box(&hb)).unwrap());
            });
            run("dot_i8", &mut || {
                black_box(k.dot_i8(black_box(&qa), black_box(&qb)).unwrap());
            });
            run("l2sq_i8", &mut || {
                black_box(k.l2sq_i8(black_box(&qa), black_box(&qb)).unwrap());
            });
            let mut wide = vec![0.0f32; dim];
            run("f16_to_f32", &mut || {
                k.f16_to_f32(black_box(&ha), &mut wide).unwrap();
            });
            let mut narrow = vec![f16::ZERO; dim];
            run("f32_to_f16", &mut || {
                k.f32_to_f16(black_box(&a), &mut narrow).unwrap();
            });
            let mut q = vec![0i8; dim];
            run("quantize_i8", &mut || {
                black_box(k.quantize_i8(black_box(&a), &mut q).unwrap());
            });
        }
        for actions in [4usize, 16, 64] {
            let row = data(actions, 3);
            let mut g = c.benchmark_group("argmax_f32");
            g.bench_function(BenchmarkId::new(isa.name(), actions), |bch| {
                bch.iter(|| black_box(k.argmax_f32(black_box(&row))))
            });
            g.finish();
        }
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
