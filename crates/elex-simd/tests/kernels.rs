//! One runner for every ISA this host has, against an f64 oracle: dims 0..=70, 127, 128, 129,
//! 384, 1536, slices starting at offsets 0..4 (so every alignment is seen).
//!
//! Tolerance for float reductions: `|got − exact| ≤ (n + 4) · ε_f32 · Σ|termᵢ|`, the textbook
//! bound for summing n rounded terms in any order (FMA only tightens it). Because that bound is
//! loose enough to hide a skipped element on long vectors, `integer_valued_inputs_are_exact`
//! checks every kernel bit-exactly on inputs whose sums are exactly representable.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use elex_simd::{Isa, Kernels, SimdError, SplitMix64, f16};

const OFFSETS: usize = 4;

fn dims() -> Vec<usize> {
    let mut d: Vec<usize> = (0..=70).collect();
    d.extend([127, 128, 129, 384, 1536]);
    d
}

/// The crate's SplitMix64: deterministic test data on every platform.
struct Rng(SplitMix64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in [-1, 1).
    fn f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.f32()).collect()
    }
}

fn kernels() -> Vec<Kernels> {
    let all: Vec<Kernels> = Kernels::available()
        .into_iter()
        .map(|i| Kernels::force(i).unwrap())
        .collect();
    assert!(all.iter().any(|k| k.isa() == Isa::Scalar));
    all
}

fn close(got: f32, exact: f64, abs_terms: f64, n: usize, what: &str) {
    let tol = (n as f64 + 4.0) * f32::EPSILON as f64 * abs_terms + 1e-30;
    assert!(
        (got as f64 - exact).abs() <= tol,
        "{what}: got {got}, exact {exact}, tolerance {tol}"
    );
}

fn oracle_f64(a: &[f64], b: &[f64]) -> (f64, f64, f64, f64, f64, f64) {
    let (mut dot, mut dot_abs, mut l2, mut aa, mut bb) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        dot_abs += (x * y).abs();
        l2 += (x - y) * (x - y);
        aa += x * x;
        bb += y * y;
    }
    let cos = if aa > 0.0 && bb > 0.0 {
        dot / (aa.sqrt() * bb.sqrt())
    } else {
        f64::NAN
    };
    (dot, dot_abs, l2, aa, bb, cos)
}

#[test]
fn f32_metrics_match_oracle() {
    let mut rng = Rng(SplitMix64(1));
    for k in kernels() {
        for n in dims() {
            let (ba, bb) = (rng.vec(n + OFFSETS), rng.vec(n + OFFSETS));
            for off in 0..OFFSETS {
                let (a, b) = (
                    &ba[off..off + n],
                    &bb[(OFFSETS - 1 - off)..(OFFSETS - 1 - off) + n],
                );
                let a64: Vec<f64> = a.iter().map(|&x| x as f64).collect();
                let b64: Vec<f64> = b.iter().map(|&x| x as f64).collect();
                let (dot, dot_abs, l2, aa, bb_, cos) = oracle_f64(&a64, &b64);
                let ctx = format!("{:?} n={n} off={off}", k.isa());
                close(
                    k.dot_f32(a, b).unwrap(),
                    dot,
                    dot_abs,
                    n,
                    &format!("dot {ctx}"),
                );
                close(k.l2sq_f32(a, b).unwrap(), l2, l2, n, &format!("l2sq {ctx}"));
                close(k.norm_sq_f32(a), aa, aa, n, &format!("norm {ctx}"));
                if n == 0 {
                    assert_eq!(k.cosine_f32(a, b), Err(SimdError::ZeroNorm));
                } else {
                    let got = k.cosine_f32(a, b).unwrap() as f64;
                    let tol = (n as f64 + 8.0) * f32::EPSILON as f64 * dot_abs / (aa * bb_).sqrt();
                    assert!(
                        (got - cos).abs() <= tol + 1e-6,
                        "cosine {ctx}: {got} vs {cos}"
                    );
                }
            }
        }
    }
}

#[test]
fn f16_metrics_match_oracle() {
    let mut rng = Rng(SplitMix64(2));
    for k in kernels() {
        for n in dims() {
            let ha: Vec<f16> = rng
                .vec(n + OFFSETS)
                .into_iter()
                .map(f16::from_f32)
                .collect();
            let hb: Vec<f16> = rng
                .vec(n + OFFSETS)
                .into_iter()
                .map(f16::from_f32)
                .collect();
            for off in 0..OFFSETS {
                let (a, b) = (
                    &ha[off..off + n],
                    &hb[(OFFSETS - 1 - off)..(OFFSETS - 1 - off) + n],
                );
                let a64: Vec<f64> = a.iter().map(|x| x.to_f64()).collect();
                let b64: Vec<f64> = b.iter().map(|x| x.to_f64()).collect();
                let (dot, dot_abs, l2, aa, bb_, cos) = oracle_f64(&a64, &b64);
                let ctx = format!("{:?} n={n} off={off}", k.isa());
                close(
                    k.dot_f16(a, b).unwrap(),
                    dot,
                    dot_abs,
                    n,
                    &format!("dot_f16 {ctx}"),
                );
                close(
                    k.l2sq_f16(a, b).unwrap(),
                    l2,
                    l2,
                    n,
                    &format!("l2sq_f16 {ctx}"),
                );
                close(k.norm_sq_f16(a), aa, aa, n, &format!("norm_f16 {ctx}"));
                if aa > 0.0 && bb_ > 0.0 {
                    let got = k.cosine_f16(a, b).unwrap() as f64;
                    let tol = (n as f64 + 8.0) * f32::EPSILON as f64 * dot_abs / (aa * bb_).sqrt();
                    assert!(
                        (got - cos).abs() <= tol + 1e-6,
                        "cosine_f16 {ctx}: {got} vs {cos}"
                    );
                } else {
                    assert_eq!(k.cosine_f16(a, b), Err(SimdError::ZeroNorm));
                }
            }
        }
    }
}

/// Small integers: every product and partial sum is exact in f32, so any skipped, repeated or
/// misplaced element shows up as an inequality.
#[test]
fn integer_valued_inputs_are_exact() {
    let mut rng = Rng(SplitMix64(3));
    for k in kernels() {
        for n in dims() {
            let a: Vec<f32> = (0..n).map(|_| (rng.next() % 17) as f32 - 8.0).collect();
            let b: Vec<f32> = (0..n).map(|_| (rng.next() % 17) as f32 - 8.0).collect();
            let dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            let l2: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
            let ctx = format!("{:?} n={n}", k.isa());
            assert_eq!(k.dot_f32(&a, &b).unwrap(), dot, "dot {ctx}");
            assert_eq!(k.l2sq_f32(&a, &b).unwrap(), l2, "l2sq {ctx}");
            let (ha, hb): (Vec<f16>, Vec<f16>) = (
                a.iter().map(|&x| f16::from_f32(x)).collect(),
                b.iter().map(|&x| f16::from_f32(x)).collect(),
            );
            assert_eq!(k.dot_f16(&ha, &hb).unwrap(), dot, "dot_f16 {ctx}");
            assert_eq!(k.l2sq_f16(&ha, &hb).unwrap(), l2, "l2sq_f16 {ctx}");
        }
    }
}

#[test]
fn i8_kernels_are_exact() {
    let mut rng = Rng(SplitMix64(4));
    let mut lens = dims();
    lens.push(40_000); // longer than one i32-safe chunk
    for k in kernels() {
        for &n in &lens {
            let ba: Vec<i8> = (0..n + OFFSETS).map(|_| rng.next() as i8).collect();
            let bb: Vec<i8> = (0..n + OFFSETS).map(|_| rng.next() as i8).collect();
            for off in 0..OFFSETS {
                let (a, b) = (
                    &ba[off..off + n],
                    &bb[(OFFSETS - 1 - off)..(OFFSETS - 1 - off) + n],
                );
                let dot: i64 = a.iter().zip(b).map(|(&x, &y)| x as i64 * y as i64).sum();
                let l2: i64 = a
                    .iter()
                    .zip(b)
                    .map(|(&x, &y)| (x as i64 - y as i64).pow(2))
                    .sum();
                let ctx = format!("{:?} n={n} off={off}", k.isa());
                assert_eq!(k.dot_i8(a, b).unwrap(), dot, "dot_i8 {ctx}");
                assert_eq!(k.l2sq_i8(a, b).unwrap(), l2, "l2sq_i8 {ctx}");
                assert_eq!(
                    k.norm_sq_i8(a),
                    a.iter().map(|&x| x as i64 * x as i64).sum::<i64>()
                );
            }
        }
        // The extremes: -128 * -128 everywhere, the largest possible products and differences.
        let lo = vec![-128i8; 40_000];
        let hi = vec![127i8; 40_000];
        assert_eq!(k.dot_i8(&lo, &lo).unwrap(), 40_000 * 16_384);
        assert_eq!(k.l2sq_i8(&lo, &hi).unwrap(), 40_000 * 255 * 255);
        // Lengths with a tail after the last whole block, at the extremes.
        for n in [17, 50, 16_383] {
            let (a, b) = (&lo[..n], &hi[..n]);
            let n = n as i64;
            assert_eq!(k.dot_i8(a, a).unwrap(), n * 16_384, "n={n}");
            assert_eq!(k.dot_i8(a, b).unwrap(), -n * 16_256, "n={n}");
            let got = k.dot_i8_x4(a, [a, b, b, a]).unwrap();
            assert_eq!(
                got,
                [n * 16_384, -n * 16_256, -n * 16_256, n * 16_384],
                "n={n}"
            );
        }
    }
}

/// Component `i`'s level, decoded from the documented layout independently of the crate.
fn q4_oracle_level(codes: &[u8], i: usize) -> i64 {
    let byte = codes[i / 32 * 16 + i % 16];
    let nib = if i % 32 < 16 { byte & 15 } else { byte >> 4 };
    i64::from(elex_simd::Q4_LEVELS[nib as usize])
}

#[test]
fn q4_kernels_are_exact() {
    let mut rng = Rng(SplitMix64(14));
    let mut lens = dims();
    lens.push(40_000); // longer than one i32-safe chunk
    for k in kernels() {
        for &n in &lens {
            let nb = elex_simd::q4_bytes(n);
            let ca: Vec<u8> = (0..nb + OFFSETS).map(|_| rng.next() as u8).collect();
            let cb: Vec<u8> = (0..nb + OFFSETS).map(|_| rng.next() as u8).collect();
            let bq: Vec<i8> = (0..n + OFFSETS).map(|_| rng.next() as i8).collect();
            for off in 0..OFFSETS {
                let (a, b) = (&ca[off..off + nb], &cb[OFFSETS - 1 - off..][..nb]);
                let q = &bq[(off + 1) % OFFSETS..][..n];
                let want_q: i64 = (0..n).map(|i| q[i] as i64 * q4_oracle_level(a, i)).sum();
                let want_ab: i64 = (0..n)
                    .map(|i| q4_oracle_level(a, i) * q4_oracle_level(b, i))
                    .sum();
                let ctx = format!("{:?} n={n} off={off}", k.isa());
                assert_eq!(k.dot_q4_i8(a, q).unwrap(), want_q, "dot_q4_i8 {ctx}");
                assert_eq!(k.dot_q4_q4(a, b, n).unwrap(), want_ab, "dot_q4_q4 {ctx}");
                let mut lv = vec![0i8; n];
                k.decode_q4(a, &mut lv).unwrap();
                assert!(
                    (0..n).all(|i| i64::from(lv[i]) == q4_oracle_level(a, i)),
                    "decode_q4 {ctx}"
                );
            }
        }
        // The extremes: the largest level against the largest query value everywhere.
        let top = vec![0xFFu8; elex_simd::q4_bytes(40_000)];
        assert_eq!(
            k.dot_q4_i8(&top, &vec![-128i8; 40_000]).unwrap(),
            -40_000 * 127 * 128
        );
        assert_eq!(k.dot_q4_q4(&top, &top, 40_000).unwrap(), 40_000 * 127 * 127);
    }
}

/// Component `i`'s raw nibble, from the documented layout independently of the crate.
fn u4_oracle(codes: &[u8], i: usize) -> i64 {
    let byte = codes[i / 32 * 16 + i % 16];
    i64::from(if i % 32 < 16 { byte & 15 } else { byte >> 4 })
}

#[test]
fn u4_kernel_is_exact() {
    let mut rng = Rng(SplitMix64(16));
    let mut lens = dims();
    lens.push(40_000); // longer than one i32-safe chunk
    for k in kernels() {
        for &n in &lens {
            let nb = elex_simd::q4_bytes(n);
            let buf: Vec<Vec<u8>> = (0..4)
                .map(|_| (0..nb + OFFSETS).map(|_| rng.next() as u8).collect())
                .collect();
            let bq: Vec<i8> = (0..n + OFFSETS).map(|_| rng.next() as i8).collect();
            for off in 0..OFFSETS {
                let rows: [&[u8]; 4] =
                    std::array::from_fn(|r| &buf[r][(off + r) % OFFSETS..][..nb]);
                let q = &bq[(off + 1) % OFFSETS..][..n];
                let want = rows.map(|r| (0..n).map(|i| q[i] as i64 * u4_oracle(r, i)).sum::<i64>());
                let ctx = format!("{:?} n={n} off={off}", k.isa());
                assert_eq!(k.dot_u4_i8_x4(q, rows).unwrap(), want, "dot_u4_i8_x4 {ctx}");
                for (r, w) in rows.iter().zip(want) {
                    assert_eq!(k.dot_u4_i8(q, r).unwrap(), w, "dot_u4_i8 {ctx}");
                }
            }
        }
        // The extremes: the largest nibble against the most negative query value everywhere.
        let top = vec![0xFFu8; elex_simd::q4_bytes(40_000)];
        let low = vec![-128i8; 40_000];
        let w = -40_000 * 15 * 128;
        assert_eq!(k.dot_u4_i8_x4(&low, [&top; 4]).unwrap(), [w; 4]);
        assert_eq!(k.dot_u4_i8(&low, &top).unwrap(), w);
        let high = vec![127i8; 40_000];
        let zero = vec![0u8; top.len()];
        let got = k.dot_u4_i8_x4(&high, [&top, &zero, &top, &zero]).unwrap();
        assert_eq!(got, [40_000 * 15 * 127, 0, 40_000 * 15 * 127, 0]);
    }
}

/// A scale put into a row's padding reads back bit for bit, only where there are 8 padding
/// components or more, leaves every component's code alone, and is invisible to the kernels
/// against a query padded with zeros; elsewhere (no room, or a row of another length) the row
/// is not touched.
#[test]
fn a_scale_in_a_u4_rows_padding_reads_back_and_leaves_its_sums_alone() {
    let mut rng = Rng(SplitMix64(18));
    for n in [1, 7, 24, 25, 50, 56, 57, 64, 100, 300, 384] {
        // 8 padding components or more: the last block's last 8 high nibbles.
        let room = [1, 7, 24, 50, 56, 100, 300].contains(&n);
        assert_eq!(elex_simd::u4_scale_fits(n), room, "n {n}");
        let x = rng.vec(n);
        let mut row = vec![0u8; elex_simd::q4_bytes(n)];
        let s = Kernels::detect().quantize_u4(&x, &mut row).unwrap();
        let alone = row.clone();
        assert_eq!(elex_simd::u4_put_scale(&mut row, n, s), room, "n {n}");
        if !room {
            assert_eq!(row, alone, "n {n}");
            continue;
        }
        assert_eq!(
            elex_simd::u4_row_scale(&row).map(f32::to_bits),
            Some(s.to_bits())
        );
        assert_ne!(row, alone, "n {n}: the scale is in the row");
        for i in 0..n {
            assert_eq!(u4_oracle(&row, i), u4_oracle(&alone, i), "n {n} i {i}");
        }
        let mut q: Vec<i8> = (0..n).map(|_| rng.next() as i8).collect();
        q.resize(row.len() * 2, 0);
        for k in kernels() {
            assert_eq!(k.dot_u4_i8(&q, &row), k.dot_u4_i8(&q, &alone), "n {n}");
            let four = k.dot_u4_i8_x4(&q, [&row, &alone, &row, &alone]).unwrap();
            assert_eq!([four[0], four[2]], [four[1], four[3]], "n {n}");
        }
        // A row of another length than n's is left alone.
        let mut short = alone[..alone.len() - 1].to_vec();
        assert!(!elex_simd::u4_put_scale(&mut short, n, s));
        assert_eq!(short, alone[..alone.len() - 1]);
    }
    assert_eq!(elex_simd::u4_row_scale(&[0u8; 7]), None);
}

#[test]
fn quantize_u4_is_uniform_and_keeps_the_vector() {
    let mut rng = Rng(SplitMix64(17));
    for k in kernels() {
        for n in [1, 5, 31, 32, 33, 50, 384, 1000] {
            let x = rng.vec(n);
            let mut c = vec![0xAAu8; elex_simd::q4_bytes(n)];
            let s = k.quantize_u4(&x, &mut c).unwrap();
            let m = x.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert_eq!(s, m / 7.5);
            for i in n..c.len() * 2 {
                assert_eq!(u4_oracle(&c, i), 0, "unused nibbles are zero");
            }
            // Each component takes the nearest code: within half a step of its value.
            for (i, &v) in x.iter().enumerate() {
                let back = f64::from(s) * (u4_oracle(&c, i) as f64 - 7.5);
                assert!(
                    (back - f64::from(v)).abs() <= f64::from(s) * 0.5 + 1e-6,
                    "n={n} i={i}"
                );
            }
            // The same bytes on every ISA (the scalar encoder is the only one).
            let mut c0 = vec![0u8; c.len()];
            Kernels::force(Isa::Scalar)
                .unwrap()
                .quantize_u4(&x, &mut c0)
                .unwrap();
            assert_eq!(c, c0);
        }
        let mut z = [0xFFu8; 16];
        assert_eq!(k.quantize_u4(&[0.0; 20], &mut z).unwrap(), 0.0);
        assert_eq!(
            k.quantize_u4(&[f32::NAN; 2], &mut [0; 16]),
            Err(SimdError::NonFinite)
        );
    }
}

#[test]
fn quantize_q4_fits_its_scale_and_keeps_the_vector() {
    let mut rng = Rng(SplitMix64(15));
    for k in kernels() {
        for n in [1, 5, 31, 32, 33, 50, 384, 1000] {
            // Roughly Gaussian components: the sum of four uniforms.
            let x: Vec<f32> = (0..n)
                .map(|_| (0..4).map(|_| rng.f32()).sum::<f32>() * 0.1)
                .collect();
            let mut c = vec![0xAAu8; elex_simd::q4_bytes(n)];
            let s = k.quantize_q4(&x, &mut c).unwrap();
            assert!(s > 0.0 && s.is_finite());
            // Unused nibbles are zero.
            for i in n..c.len() * 2 {
                assert_eq!(c[i / 32 * 16 + i % 16] >> (4 * ((i % 32) / 16)) & 15, 0);
            }
            let lv: Vec<f64> = (0..n).map(|i| q4_oracle_level(&c, i) as f64).collect();
            // The scale is the least-squares fit for the codes.
            let xl: f64 = x.iter().zip(&lv).map(|(&a, l)| a as f64 * l).sum();
            let ll: f64 = lv.iter().map(|l| l * l).sum();
            assert!(((xl / ll) as f32 - s).abs() <= 1e-6 * s, "n={n}");
            // Reconstruction: within 2% of the energy for n >= 32 (Lloyd-Max on a Gaussian
            // loses 0.95%), and every component within one level gap of its value.
            let err: f64 = x
                .iter()
                .zip(&lv)
                .map(|(&a, l)| (a as f64 - s as f64 * l).powi(2))
                .sum();
            let energy: f64 = x.iter().map(|&a| (a as f64).powi(2)).sum();
            if n >= 32 {
                assert!(err <= 0.02 * energy, "n={n}: {err} of {energy}");
            }
            // The same bytes on every ISA.
            let mut c2 = vec![0u8; c.len()];
            let s2 = Kernels::force(Isa::Scalar)
                .unwrap()
                .quantize_q4(&x, &mut c2)
                .unwrap();
            assert_eq!((s.to_bits(), &c), (s2.to_bits(), &c2));
        }
        let mut z = vec![7u8; 16];
        assert_eq!(k.quantize_q4(&[0.0; 20], &mut z), Ok(0.0));
        assert_eq!(z, vec![0u8; 16]);
        let mut untouched = vec![9u8; 16];
        assert_eq!(
            k.quantize_q4(&[1.0, f32::NAN], &mut untouched),
            Err(SimdError::NonFinite)
        );
        assert_eq!(untouched, vec![9u8; 16]);
        // Huge and tiny components keep a finite, positive scale.
        let mut c = vec![0u8; 16];
        let s = k.quantize_q4(&[3.0e38, -3.0e38, 1.0], &mut c).unwrap();
        assert!(s.is_finite() && s > 0.0);
        for (i, x) in [(0, 3.0e38f64), (1, -3.0e38)] {
            let back = s as f64 * q4_oracle_level(&c, i) as f64;
            assert!((back - x).abs() <= 0.05 * x.abs(), "{back} for {x}");
        }
    }
}

#[test]
fn cosine_i8_matches_float_cosine() {
    let k = Kernels::detect();
    let a: Vec<i8> = (0..100).map(|i| (i % 13) as i8 - 6).collect();
    let b: Vec<i8> = (0..100).map(|i| (i % 7) as i8 - 3).collect();
    let af: Vec<f32> = a.iter().map(|&x| x as f32).collect();
    let bf: Vec<f32> = b.iter().map(|&x| x as f32).collect();
    let want = k.cosine_f32(&af, &bf).unwrap();
    assert!((k.cosine_i8(&a, &b).unwrap() - want).abs() < 1e-5);
    assert_eq!(k.cosine_i8(&a, &[0; 100]), Err(SimdError::ZeroNorm));
}

#[test]
fn every_f16_bit_pattern_widens_exactly() {
    let src: Vec<f16> = (0..=u16::MAX).map(f16::from_bits).collect();
    for k in kernels() {
        for off in 0..OFFSETS {
            let s = &src[off..];
            let mut dst = vec![0.0f32; s.len()];
            k.f16_to_f32(s, &mut dst).unwrap();
            for (h, got) in s.iter().zip(&dst) {
                let want = h.to_f32();
                assert!(
                    got.to_bits() == want.to_bits() || (want.is_nan() && got.is_nan()),
                    "{:?}: {:#06x} widened to {got} ({:#010x}), want {want}",
                    k.isa(),
                    h.to_bits(),
                    got.to_bits()
                );
            }
        }
    }
}

#[test]
fn f32_to_f16_rounds_like_half() {
    let mut rng = Rng(SplitMix64(5));
    let mut src: Vec<f32> = Vec::new();
    for _ in 0..4096 {
        // Values across the whole f16 range: subnormals, normals, overflow to infinity.
        let e = (rng.next() % 48) as i32 - 28;
        src.push(rng.f32() * 2f32.powi(e));
    }
    src.extend([
        0.0,
        -0.0,
        65504.0,
        65520.0,
        -1e9,
        f32::INFINITY,
        f32::NEG_INFINITY,
        5.96e-8,
    ]);
    for k in kernels() {
        for off in 0..OFFSETS {
            let s = &src[off..];
            let mut dst = vec![f16::ZERO; s.len()];
            k.f32_to_f16(s, &mut dst).unwrap();
            for (x, got) in s.iter().zip(&dst) {
                assert_eq!(
                    got.to_bits(),
                    f16::from_f32(*x).to_bits(),
                    "{:?}: {x}",
                    k.isa()
                );
            }
        }
    }
}

#[test]
fn quantize_i8_matches_scalar_and_bounds_error() {
    let mut rng = Rng(SplitMix64(6));
    let scalar = Kernels::force(Isa::Scalar).unwrap();
    for k in kernels() {
        for n in dims() {
            let src: Vec<f32> = rng.vec(n).iter().map(|x| x * 3.0).collect();
            let (mut got, mut want) = (vec![0i8; n], vec![0i8; n]);
            let s = k.quantize_i8(&src, &mut got).unwrap();
            let s_ref = scalar.quantize_i8(&src, &mut want).unwrap();
            assert_eq!(s, s_ref);
            assert_eq!(got, want, "{:?} n={n}", k.isa());
            for (x, q) in src.iter().zip(&got) {
                assert!((*q as i32).abs() <= 127);
                assert!(
                    (x - s * *q as f32).abs() <= s * 0.5 + 1e-6,
                    "{x} vs {}",
                    s * *q as f32
                );
            }
        }
        let mut z = vec![1i8; 5];
        assert_eq!(k.quantize_i8(&[0.0; 5], &mut z), Ok(0.0));
        assert_eq!(z, vec![0; 5]);
        let mut untouched = vec![9i8; 3];
        assert_eq!(
            k.quantize_i8(&[1.0, f32::NAN, 2.0], &mut untouched),
            Err(SimdError::NonFinite)
        );
        assert_eq!(untouched, vec![9; 3]);
    }
}

#[test]
fn max_and_argmax_are_exact() {
    let mut rng = Rng(SplitMix64(7));
    for k in kernels() {
        assert_eq!(k.max_f32(&[]), None);
        assert_eq!(k.argmax_f32(&[]), None);
        assert_eq!(k.max_abs_f32(&[]), 0.0);
        for n in dims().into_iter().filter(|&n| n > 0) {
            let v = rng.vec(n);
            let want = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let want_abs = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            let first = v.iter().position(|&x| x == want).unwrap();
            assert_eq!(k.max_f32(&v), Some(want), "{:?} n={n}", k.isa());
            assert_eq!(k.max_abs_f32(&v), want_abs, "{:?} n={n}", k.isa());
            assert_eq!(k.argmax_f32(&v), Some(first), "{:?} n={n}", k.isa());
        }
        // Ties resolve to the first index.
        let ties = [1.0, 3.0, 2.0, 3.0, 3.0, 0.0, 3.0, -1.0, 3.0];
        assert_eq!(k.argmax_f32(&ties), Some(1));
        assert_eq!(k.max_f32(&[-5.0, -2.0, -7.0]), Some(-2.0));
    }
}

#[test]
fn td_update_row_matches_oracle() {
    let mut rng = Rng(SplitMix64(8));
    for k in kernels() {
        for n in dims() {
            let (q0, t) = (rng.vec(n), rng.vec(n));
            let mut q = q0.clone();
            k.td_update_row(&mut q, &t, 0.25).unwrap();
            for i in 0..n {
                let want = q0[i] as f64 + 0.25 * (t[i] as f64 - q0[i] as f64);
                assert!(
                    (q[i] as f64 - want).abs() <= 4.0 * f32::EPSILON as f64,
                    "{:?}",
                    k.isa()
                );
            }
        }
    }
}

#[test]
fn mismatched_lengths_are_errors_for_every_kernel() {
    let mm = SimdError::LengthMismatch { left: 3, right: 2 };
    for k in kernels() {
        let (a, b) = ([1.0f32; 3], [1.0f32; 2]);
        assert_eq!(k.dot_f32(&a, &b), Err(mm));
        assert_eq!(k.l2sq_f32(&a, &b), Err(mm));
        assert_eq!(k.cosine_f32(&a, &b), Err(mm));
        let (ha, hb) = ([f16::ONE; 3], [f16::ONE; 2]);
        assert_eq!(k.dot_f16(&ha, &hb), Err(mm));
        assert_eq!(k.l2sq_f16(&ha, &hb), Err(mm));
        assert_eq!(k.cosine_f16(&ha, &hb), Err(mm));
        assert_eq!(k.dot_i8(&[1; 3], &[1; 2]), Err(mm));
        assert_eq!(k.l2sq_i8(&[1; 3], &[1; 2]), Err(mm));
        assert_eq!(k.cosine_i8(&[1; 3], &[1; 2]), Err(mm));
        assert_eq!(k.f16_to_f32(&ha, &mut [0.0; 2]), Err(mm));
        assert_eq!(k.f32_to_f16(&a, &mut [f16::ZERO; 2]), Err(mm));
        assert_eq!(k.quantize_i8(&a, &mut [0; 2]), Err(mm));
        // q4 rows: 16 bytes per started block of 32 components.
        let q4mm = |left, right| SimdError::LengthMismatch { left, right };
        assert_eq!(k.quantize_q4(&a, &mut [0; 15]), Err(q4mm(16, 15)));
        assert_eq!(k.dot_q4_i8(&[0; 32], &[1; 3]), Err(q4mm(32, 16)));
        assert_eq!(k.dot_q4_q4(&[0; 16], &[0; 32], 3), Err(q4mm(16, 32)));
        assert_eq!(k.dot_q4_q4(&[0; 16], &[0; 16], 33), Err(q4mm(16, 32)));
        assert_eq!(k.decode_q4(&[0; 16], &mut [0; 40]), Err(q4mm(16, 32)));
        assert_eq!(k.quantize_u4(&a, &mut [0; 32]), Err(q4mm(16, 32)));
        let r: &[u8] = &[0; 16];
        assert_eq!(k.dot_u4_i8_x4(&[1; 40], [r; 4]), Err(q4mm(16, 32)));
        assert_eq!(k.dot_u4_i8(&[1; 40], r), Err(q4mm(16, 32)));
        assert_eq!(k.dot_u4_i8(&[1; 3], &[0; 15]), Err(q4mm(15, 16)));
        assert_eq!(
            k.dot_u4_i8_x4(&[1; 3], [r, r, &[0; 15], r]),
            Err(q4mm(15, 16))
        );
        assert_eq!(k.td_update_row(&mut [0.0; 3], &b, 0.5), Err(mm));
        assert_eq!(k.cosine_f32(&[0.0; 4], &[1.0; 4]), Err(SimdError::ZeroNorm));
    }
}

#[test]
fn detect_picks_the_best_available_isa_and_force_refuses_missing_ones() {
    let avail = Kernels::available();
    match Kernels::pinned() {
        // scripts/test.sh runs the native tests again with the kernels pinned to lower ISAs: a
        // misspelt or missing pin must fail here rather than quietly test the best ISA again.
        Some(pin) => {
            let isa = pin.expect("ELEX_SIMD_ISA names an ISA");
            assert!(
                avail.contains(&isa),
                "ELEX_SIMD_ISA={isa:?}: not on this host"
            );
            assert_eq!(Kernels::detect().isa(), isa);
        }
        None => assert_eq!(Kernels::detect().isa(), *avail.iter().max().unwrap()),
    }
    for isa in Isa::ALL {
        assert_eq!(Isa::from_name(isa.name()), Some(isa));
        if !avail.contains(&isa) {
            assert_eq!(
                Kernels::force(isa).unwrap_err(),
                SimdError::Unsupported(isa)
            );
        }
    }
    #[cfg(target_arch = "x86_64")]
    assert!(avail.contains(&Isa::Sse2));
    #[cfg(target_arch = "aarch64")]
    assert!(avail.contains(&Isa::Neon));
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    assert!(avail.contains(&Isa::Simd128));
    #[cfg(all(target_arch = "wasm32", not(target_feature = "simd128")))]
    assert_eq!(avail, vec![Isa::Scalar]);
    println!("ISAs on this host: {avail:?}");
}

/// The canonical summation order: every ISA returns the same bits as the scalar kernels for the
/// float reductions, so seeded HNSW builds are byte-identical across platforms.
#[test]
fn float_reductions_are_bit_identical_across_isas() {
    let mut rng = Rng(SplitMix64(9));
    let s = Kernels::force(Isa::Scalar).unwrap();
    for k in kernels() {
        for n in dims() {
            let (ba, bb) = (rng.vec(n + OFFSETS), rng.vec(n + OFFSETS));
            for off in 0..OFFSETS {
                let (a, b) = (&ba[off..off + n], &bb[..n]);
                let ctx = format!("{:?} n={n} off={off}", k.isa());
                let bits = |r: Result<f32, SimdError>| r.map(f32::to_bits);
                assert_eq!(bits(k.dot_f32(a, b)), bits(s.dot_f32(a, b)), "dot {ctx}");
                assert_eq!(bits(k.l2sq_f32(a, b)), bits(s.l2sq_f32(a, b)), "l2sq {ctx}");
                assert_eq!(
                    bits(k.cosine_f32(a, b)),
                    bits(s.cosine_f32(a, b)),
                    "cos {ctx}"
                );
                let ha: Vec<f16> = a.iter().map(|&x| f16::from_f32(x)).collect();
                let hb: Vec<f16> = b.iter().map(|&x| f16::from_f32(x)).collect();
                assert_eq!(
                    bits(k.dot_f16(&ha, &hb)),
                    bits(s.dot_f16(&ha, &hb)),
                    "dot_f16 {ctx}"
                );
                assert_eq!(
                    bits(k.l2sq_f16(&ha, &hb)),
                    bits(s.l2sq_f16(&ha, &hb)),
                    "l2_f16 {ctx}"
                );
                assert_eq!(
                    bits(k.cosine_f16(&ha, &hb)),
                    bits(s.cosine_f16(&ha, &hb)),
                    "cos16 {ctx}"
                );
                let (mut q1, q0) = (a.to_vec(), a.to_vec());
                let mut q2 = q0.clone();
                k.td_update_row(&mut q1, b, 0.3).unwrap();
                s.td_update_row(&mut q2, b, 0.3).unwrap();
                assert_eq!(q1, q2, "td {ctx}");
            }
        }
    }
}

/// One query against four rows gives the bits of four single-row calls, on every ISA (the
/// AVX-512 kernel and the four-call fallback alike), at every length and alignment; a row of
/// another length is an error.
#[test]
fn four_row_kernels_equal_single_rows_bit_for_bit() {
    let mut rng = Rng(SplitMix64(12));
    for k in kernels() {
        for n in dims() {
            let q = rng.vec(n + OFFSETS);
            let rows: Vec<Vec<f32>> = (0..4).map(|_| rng.vec(n + OFFSETS)).collect();
            for off in 0..OFFSETS {
                let q = &q[off..off + n];
                let r: [&[f32]; 4] = std::array::from_fn(|i| &rows[i][(off + i) % OFFSETS..][..n]);
                let ctx = format!("{:?} n={n} off={off}", k.isa());
                let dot = k.dot_f32_x4(q, r).unwrap();
                let l2 = k.l2sq_f32_x4(q, r).unwrap();
                for i in 0..4 {
                    assert_eq!(
                        dot[i].to_bits(),
                        k.dot_f32(q, r[i]).unwrap().to_bits(),
                        "dot {ctx} row {i}"
                    );
                    assert_eq!(
                        l2[i].to_bits(),
                        k.l2sq_f32(q, r[i]).unwrap().to_bits(),
                        "l2 {ctx} row {i}"
                    );
                }
            }
        }
        let (q, long) = ([1.0f32; 8], [1.0f32; 9]);
        let bad: [&[f32]; 4] = [&q, &q, &long, &q];
        assert!(matches!(
            k.dot_f32_x4(&q, bad),
            Err(SimdError::LengthMismatch { .. })
        ));
        assert!(matches!(
            k.l2sq_f32_x4(&q, bad),
            Err(SimdError::LengthMismatch { .. })
        ));
    }
}

/// The four-row i8 inner product equals four single-row ones on every ISA: every length (tails
/// included), unaligned rows, the extremes, past the one-call limit, and length errors.
#[test]
fn four_row_i8_dot_equals_single_rows() {
    let mut rng = Rng(SplitMix64(13));
    for k in kernels() {
        for n in dims() {
            let q: Vec<i8> = (0..n + OFFSETS).map(|_| rng.next() as i8).collect();
            let rows: Vec<Vec<i8>> = (0..4)
                .map(|_| (0..n + OFFSETS).map(|_| rng.next() as i8).collect())
                .collect();
            for off in 0..OFFSETS {
                let q = &q[off..off + n];
                let r: [&[i8]; 4] = std::array::from_fn(|i| &rows[i][(off + i) % OFFSETS..][..n]);
                let got = k.dot_i8_x4(q, r).unwrap();
                for i in 0..4 {
                    let want = k.dot_i8(q, r[i]).unwrap();
                    assert_eq!(got[i], want, "{:?} n={n} off={off} row {i}", k.isa());
                }
            }
        }
        for n in [16_384, 40_000] {
            let (lo, hi) = (vec![-128i8; n], vec![127i8; n]);
            let got = k.dot_i8_x4(&lo, [&lo, &hi, &lo, &hi]).unwrap();
            let n = n as i64;
            assert_eq!(got, [n * 16_384, -n * 16_256, n * 16_384, -n * 16_256]);
        }
        let (q, long) = ([1i8; 8], [1i8; 9]);
        assert!(matches!(
            k.dot_i8_x4(&q, [&q, &q, &long, &q]),
            Err(SimdError::LengthMismatch { .. })
        ));
    }
}

/// Golden values: the canonical order gives these exact bits on every platform and build (this
/// test runs natively, under qemu on aarch64 and in wasm with and without simd128).
#[test]
fn canonical_sums_match_golden_bits() {
    let mut rng = Rng(SplitMix64(10));
    let (a, b) = (rng.vec(389), rng.vec(389));
    let k = Kernels::detect();
    let got = [
        k.dot_f32(&a, &b).unwrap(),
        k.l2sq_f32(&a, &b).unwrap(),
        k.cosine_f32(&a, &b).unwrap(),
    ];
    let bits: Vec<u32> = got.iter().map(|x| x.to_bits()).collect();
    assert_eq!(bits, GOLDEN, "values {got:?}");
}
const GOLDEN: [u32; 3] = [0xbf8d_f156, 0x4387_4e12, 0xbc07_63c7];
