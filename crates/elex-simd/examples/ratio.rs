//! Prints nanoseconds per call and the SIMD/scalar ratio for `dot` and `l2sq` (f32, f16, i8) on
//! every ISA this build has, at dims 128, 384, 768 and 1536; `--json` prints one JSON object.
//!
//! Natively: `cargo run --release -p elex-simd --example ratio`. For wasm, the same program is
//! built for `wasm32-wasip1` with and without `+simd128` and run in Node
//! (`scripts/wasm-kernel-ratio.sh`), so the simd128 build and the scalar build of one bench
//! are compared in one run.

use elex_simd::{Isa, Kernels, f16};
use std::hint::black_box;
use std::time::Instant;

fn data(n: usize, salt: u64) -> Vec<f32> {
    let mut s = 0x5eed ^ salt;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

/// Median of 7 timed batches, each long enough (~20 ms) to swamp timer resolution.
fn ns_per_call(mut f: impl FnMut()) -> f64 {
    let mut reps = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        if t.elapsed().as_millis() >= 20 {
            break;
        }
        reps *= 2;
    }
    let mut samples: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                f();
            }
            t.elapsed().as_nanos() as f64 / reps as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[3]
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let label = std::env::var("ELEX_BUILD_LABEL").unwrap_or_else(|_| "native".into());
    let mut rows = Vec::new();
    for dim in [128usize, 384, 768, 1536] {
        let (a, b) = (data(dim, 1), data(dim, 2));
        let ha: Vec<f16> = a.iter().map(|&x| f16::from_f32(x)).collect();
        let hb: Vec<f16> = b.iter().map(|&x| f16::from_f32(x)).collect();
        let (mut qa, mut qb) = (vec![0i8; dim], vec![0i8; dim]);
        let s = Kernels::force(Isa::Scalar).unwrap();
        s.quantize_i8(&a, &mut qa).unwrap();
        s.quantize_i8(&b, &mut qb).unwrap();
        for isa in Kernels::available() {
            let k = Kernels::force(isa).unwrap();
            let t = [
                (
                    "dot_f32",
                    ns_per_call(|| {
                        let _ = black_box(k.dot_f32(black_box(&a), &b));
                    }),
                ),
                (
                    "l2sq_f32",
                    ns_per_call(|| {
                        let _ = black_box(k.l2sq_f32(black_box(&a), &b));
                    }),
                ),
                (
                    "dot_f16",
                    ns_per_call(|| {
                        let _ = black_box(k.dot_f16(black_box(&ha), &hb));
                    }),
                ),
                (
                    "l2sq_f16",
                    ns_per_call(|| {
                        let _ = black_box(k.l2sq_f16(black_box(&ha), &hb));
                    }),
                ),
                (
                    "dot_i8",
                    ns_per_call(|| {
                        let _ = black_box(k.dot_i8(black_box(&qa), &qb));
                    }),
                ),
                (
                    "l2sq_i8",
                    ns_per_call(|| {
                        let _ = black_box(k.l2sq_i8(black_box(&qa), &qb));
                    }),
                ),
            ];
            for (kernel, ns) in t {
                rows.push((kernel, isa, dim, ns));
            }
        }
    }
    let scalar_ns = |kernel: &str, dim: usize| {
        rows.iter()
            .find(|r| r.0 == kernel && r.1 == Isa::Scalar && r.2 == dim)
            .map(|r| r.3)
    };
    if json {
        let items: Vec<String> = rows
            .iter()
            .map(|(kernel, isa, dim, ns)| {
                format!(
                    "{{\"kernel\":\"{kernel}\",\"isa\":\"{}\",\"dim\":{dim},\"ns\":{ns:.2},\"vs_scalar\":{:.3}}}",
                    isa.name(),
                    scalar_ns(kernel, *dim).unwrap_or(f64::NAN) / ns
                )
            })
            .collect();
        println!("{{\"build\":\"{label}\",\"rows\":[{}]}}", items.join(","));
        return;
    }
    println!("build: {label}   (ns per call; ratio = scalar ns / this ns, same build, same run)");
    println!(
        "{:<10} {:>8} {:>6} {:>10} {:>8}",
        "kernel", "isa", "dim", "ns/call", "ratio"
    );
    for (kernel, isa, dim, ns) in &rows {
        let ratio = scalar_ns(kernel, *dim).unwrap_or(f64::NAN) / ns;
        println!(
            "{kernel:<10} {:>8} {dim:>6} {ns:>10.1} {ratio:>7.2}x",
            isa.name()
        );
    }
}
