//! Property tests: for random lengths, values and offsets, every available ISA agrees with the
//! scalar kernels (floats within the reduction bound, integers and conversions exactly).
#![cfg(not(target_arch = "wasm32"))]

use elex_simd::{Kernels, f16};
use proptest::prelude::*;

fn bound(n: usize, abs_terms: f32) -> f32 {
    2.0 * (n as f32 + 4.0) * f32::EPSILON * abs_terms + 1e-30
}

fn pair() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    (0usize..600).prop_flat_map(|n| {
        (
            prop::collection::vec(-1e3f32..1e3, n),
            prop::collection::vec(-1e3f32..1e3, n),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn f32_kernels_agree_with_scalar((a, b) in pair(), off in 0usize..4) {
        let off = off.min(a.len());
        let (a, b) = (&a[off..], &b[off..]);
        let s = Kernels::force(elex_simd::Isa::Scalar).unwrap();
        let abs_dot: f32 = a.iter().zip(b).map(|(x, y)| (x * y).abs()).sum();
        let l2 = s.l2sq_f32(a, b).unwrap();
        for k in Kernels::available().into_iter().map(|i| Kernels::force(i).unwrap()) {
            let d = k.dot_f32(a, b).unwrap() - s.dot_f32(a, b).unwrap();
            prop_assert!(d.abs() <= bound(a.len(), abs_dot), "{:?} dot off by {}", k.isa(), d);
            let d = k.l2sq_f32(a, b).unwrap() - l2;
            prop_assert!(d.abs() <= bound(a.len(), l2), "{:?} l2sq off by {}", k.isa(), d);
        }
    }

    #[test]
    fn f16_and_i8_kernels_agree_with_scalar((a, b) in pair()) {
        let s = Kernels::force(elex_simd::Isa::Scalar).unwrap();
        let ha: Vec<f16> = a.iter().map(|&x| f16::from_f32(x)).collect();
        let hb: Vec<f16> = b.iter().map(|&x| f16::from_f32(x)).collect();
        let (mut qa, mut qb) = (vec![0i8; a.len()], vec![0i8; b.len()]);
        s.quantize_i8(&a, &mut qa).unwrap();
        s.quantize_i8(&b, &mut qb).unwrap();
        let abs_dot: f32 = ha.iter().zip(&hb).map(|(x, y)| (x.to_f32() * y.to_f32()).abs()).sum();
        for k in Kernels::available().into_iter().map(|i| Kernels::force(i).unwrap()) {
            let d = k.dot_f16(&ha, &hb).unwrap() - s.dot_f16(&ha, &hb).unwrap();
            prop_assert!(d.abs() <= bound(a.len(), abs_dot), "{:?} dot_f16 off by {}", k.isa(), d);
            prop_assert_eq!(k.dot_i8(&qa, &qb).unwrap(), s.dot_i8(&qa, &qb).unwrap());
            prop_assert_eq!(k.l2sq_i8(&qa, &qb).unwrap(), s.l2sq_i8(&qa, &qb).unwrap());
            let mut q = vec![0i8; a.len()];
            k.quantize_i8(&a, &mut q).unwrap();
            prop_assert_eq!(&q, &qa);
            let mut h = vec![f16::ZERO; a.len()];
            k.f32_to_f16(&a, &mut h).unwrap();
            prop_assert_eq!(&h, &ha);
            prop_assert_eq!(k.max_f32(&a), s.max_f32(&a));
            prop_assert_eq!(k.argmax_f32(&a), s.argmax_f32(&a));
        }
    }
}
