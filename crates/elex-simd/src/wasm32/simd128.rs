//! wasm `simd128` kernels: 4 lanes, four independent accumulators (16 elements a step) for the
//! f32 metrics (wasm has no FMA outside relaxed-simd). f16 lanes are widened with the exact
//! integer bit transform used on SSE2 and NEON; i8 products use `i32x4_dot_i16x8`.
//!
//! The module is compiled only with `+simd128`, so these are safe functions: the feature is a
//! property of the build, not of the CPU. Loads and stores are `unsafe` blocks whose bounds are
//! checked below `n = min(len)`.

use crate::dispatch::{SCALAR, Table};
use crate::scalar;
use core::arch::wasm32::*;
use half::f16;

pub(crate) const TABLE: Table = Table {
    dot_f32,
    l2sq_f32,
    dot_norms_f32,
    dot_f16,
    l2sq_f16,
    dot_norms_f16,
    dot_i8,
    l2sq_i8,
    f16_to_f32,
    quantize_i8,
    max_abs_f32,
    max_f32,
    td_update_row,
    ..SCALAR
};

#[inline]
fn hsum(v: v128) -> f32 {
    (f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v))
        + (f32x4_extract_lane::<2>(v) + f32x4_extract_lane::<3>(v))
}

#[inline]
fn hsum_i32(v: v128) -> i32 {
    i32x4_extract_lane::<0>(v)
        .wrapping_add(i32x4_extract_lane::<1>(v))
        .wrapping_add(i32x4_extract_lane::<2>(v))
        .wrapping_add(i32x4_extract_lane::<3>(v))
}

/// Exact f16 -> f32 widening of four halves held in the low 16 bits of each 32-bit lane (see
/// `x86_64::sse2::widen_f16` for the method).
#[inline]
fn widen_f16(h: v128) -> v128 {
    let abs = v128_and(h, u32x4_splat(0x7fff));
    let f = f32x4_mul(u32x4_shl(abs, 13), f32x4_splat(f32::from_bits(0x7780_0000)));
    let infnan = i32x4_gt(abs, u32x4_splat(0x7bff)); // signed: abs <= 0x7fff, and V8 lowers it to one SSE op
    let f = v128_or(f, v128_and(infnan, u32x4_splat(0x7f80_0000)));
    let sign = u32x4_shl(v128_and(h, u32x4_splat(0x8000)), 16);
    v128_or(f, sign)
}

/// # Safety
/// `p.add(i)..p.add(i + 4)` must be readable.
#[inline]
unsafe fn ld(p: *const f32, i: usize) -> v128 {
    // SAFETY: the caller guarantees 16 readable bytes; v128_load has no alignment requirement.
    unsafe { v128_load(p.add(i).cast()) }
}

/// Eight f16 values at `p + i`, widened to two f32x4.
///
/// # Safety
/// `p.add(i)..p.add(i + 8)` must be readable.
#[inline]
unsafe fn ld_h(p: *const f16, i: usize) -> (v128, v128) {
    // SAFETY: f16 is repr(transparent) over u16; the caller guarantees 8 readable values.
    let x = unsafe { v128_load(p.add(i).cast()) };
    (
        widen_f16(u32x4_extend_low_u16x8(x)),
        widen_f16(u32x4_extend_high_u16x8(x)),
    )
}

macro_rules! reduce2_f32 {
    ($a:ident, $b:ident, $step:expr, $tail:path) => {{
        let n = $a.len().min($b.len());
        let (pa, pb) = ($a.as_ptr(), $b.as_ptr());
        let step = $step;
        let z = f32x4_splat(0.0);
        let (mut s0, mut s1, mut s2, mut s3) = (z, z, z, z);
        let mut i = 0;
        while i + 16 <= n {
            // SAFETY: i + 16 <= n, so the four 4-lane loads are in bounds of both slices.
            unsafe {
                s0 = step(s0, ld(pa, i), ld(pb, i));
                s1 = step(s1, ld(pa, i + 4), ld(pb, i + 4));
                s2 = step(s2, ld(pa, i + 8), ld(pb, i + 8));
                s3 = step(s3, ld(pa, i + 12), ld(pb, i + 12));
            }
            i += 16;
        }
        while i + 4 <= n {
            // SAFETY: i + 4 <= n.
            unsafe { s0 = step(s0, ld(pa, i), ld(pb, i)) };
            i += 4;
        }
        hsum(f32x4_add(f32x4_add(s0, s1), f32x4_add(s2, s3))) + $tail(&$a[i..n], &$b[i..n])
    }};
}

macro_rules! reduce2_f16 {
    ($a:ident, $b:ident, $step:expr, $tail:path) => {{
        let n = $a.len().min($b.len());
        let (pa, pb) = ($a.as_ptr(), $b.as_ptr());
        let step = $step;
        let (mut s0, mut s1) = (f32x4_splat(0.0), f32x4_splat(0.0));
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n.
            let ((x0, x1), (y0, y1)) = unsafe { (ld_h(pa, i), ld_h(pb, i)) };
            s0 = step(s0, x0, y0);
            s1 = step(s1, x1, y1);
            i += 8;
        }
        hsum(f32x4_add(s0, s1)) + $tail(&$a[i..n], &$b[i..n])
    }};
}

fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    reduce2_f32!(
        a,
        b,
        |s, x, y| f32x4_add(s, f32x4_mul(x, y)),
        scalar::dot_f32
    )
}

fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    reduce2_f32!(
        a,
        b,
        |s, x, y| {
            let d = f32x4_sub(x, y);
            f32x4_add(s, f32x4_mul(d, d))
        },
        scalar::l2sq_f32
    )
}

fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    reduce2_f16!(
        a,
        b,
        |s, x, y| f32x4_add(s, f32x4_mul(x, y)),
        scalar::dot_f16
    )
}

fn l2sq_f16(a: &[f16], b: &[f16]) -> f32 {
    reduce2_f16!(
        a,
        b,
        |s, x, y| {
            let d = f32x4_sub(x, y);
            f32x4_add(s, f32x4_mul(d, d))
        },
        scalar::l2sq_f16
    )
}

#[inline]
fn norms_step(acc: &mut [v128; 3], x: v128, y: v128) {
    acc[0] = f32x4_add(acc[0], f32x4_mul(x, y));
    acc[1] = f32x4_add(acc[1], f32x4_mul(x, x));
    acc[2] = f32x4_add(acc[2], f32x4_mul(y, y));
}

fn dot_norms_f32(a: &[f32], b: &[f32]) -> [f32; 3] {
    let n = a.len().min(b.len());
    let mut acc = [f32x4_splat(0.0); 3];
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n.
        let (x, y) = unsafe { (ld(a.as_ptr(), i), ld(b.as_ptr(), i)) };
        norms_step(&mut acc, x, y);
        i += 4;
    }
    let t = scalar::dot_norms_f32(&a[i..n], &b[i..n]);
    [
        hsum(acc[0]) + t[0],
        hsum(acc[1]) + t[1],
        hsum(acc[2]) + t[2],
    ]
}

fn dot_norms_f16(a: &[f16], b: &[f16]) -> [f32; 3] {
    let n = a.len().min(b.len());
    let mut acc = [f32x4_splat(0.0); 3];
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n.
        let ((x0, x1), (y0, y1)) = unsafe { (ld_h(a.as_ptr(), i), ld_h(b.as_ptr(), i)) };
        norms_step(&mut acc, x0, y0);
        norms_step(&mut acc, x1, y1);
        i += 8;
    }
    let t = scalar::dot_norms_f16(&a[i..n], &b[i..n]);
    [
        hsum(acc[0]) + t[0],
        hsum(acc[1]) + t[1],
        hsum(acc[2]) + t[2],
    ]
}

fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let mut acc = i32x4_splat(0);
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n.
        let (x, y) = unsafe {
            (
                v128_load(a.as_ptr().add(i).cast()),
                v128_load(b.as_ptr().add(i).cast()),
            )
        };
        let lo = i32x4_dot_i16x8(i16x8_extend_low_i8x16(x), i16x8_extend_low_i8x16(y));
        let hi = i32x4_dot_i16x8(i16x8_extend_high_i8x16(x), i16x8_extend_high_i8x16(y));
        acc = i32x4_add(acc, i32x4_add(lo, hi));
        i += 16;
    }
    hsum_i32(acc).wrapping_add(scalar::dot_i8(&a[i..n], &b[i..n]))
}

fn l2sq_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let mut acc = i32x4_splat(0);
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n.
        let (x, y) = unsafe {
            (
                v128_load(a.as_ptr().add(i).cast()),
                v128_load(b.as_ptr().add(i).cast()),
            )
        };
        let d0 = i16x8_sub(i16x8_extend_low_i8x16(x), i16x8_extend_low_i8x16(y));
        let d1 = i16x8_sub(i16x8_extend_high_i8x16(x), i16x8_extend_high_i8x16(y));
        acc = i32x4_add(
            acc,
            i32x4_add(i32x4_dot_i16x8(d0, d0), i32x4_dot_i16x8(d1, d1)),
        );
        i += 16;
    }
    hsum_i32(acc).wrapping_add(scalar::l2sq_i8(&a[i..n], &b[i..n]))
}

fn f16_to_f32(src: &[f16], dst: &mut [f32]) {
    let n = src.len().min(dst.len());
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n for both slices.
        unsafe {
            let (x0, x1) = ld_h(src.as_ptr(), i);
            v128_store(dst.as_mut_ptr().add(i).cast(), x0);
            v128_store(dst.as_mut_ptr().add(i + 4).cast(), x1);
        }
        i += 8;
    }
    scalar::f16_to_f32(&src[i..n], &mut dst[i..n]);
}

fn quantize_i8(src: &[f32], dst: &mut [i8], inv_scale: f32) {
    let n = src.len().min(dst.len());
    let (inv, lo, hi) = (
        f32x4_splat(inv_scale),
        f32x4_splat(-127.0),
        f32x4_splat(127.0),
    );
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n for both slices; the store writes 16 bytes at dst + i.
        unsafe {
            let q = |k: usize| {
                let x = f32x4_min(f32x4_max(f32x4_mul(ld(src.as_ptr(), i + k), inv), lo), hi);
                i32x4_trunc_sat_f32x4(f32x4_nearest(x))
            };
            let w0 = i16x8_narrow_i32x4(q(0), q(4));
            let w1 = i16x8_narrow_i32x4(q(8), q(12));
            v128_store(dst.as_mut_ptr().add(i).cast(), i8x16_narrow_i16x8(w0, w1));
        }
        i += 16;
    }
    scalar::quantize_i8(&src[i..n], &mut dst[i..n], inv_scale);
}

fn max_abs_f32(a: &[f32]) -> f32 {
    let mut m = f32x4_splat(0.0);
    let mut i = 0;
    while i + 4 <= a.len() {
        // SAFETY: i + 4 <= len.
        m = f32x4_max(m, f32x4_abs(unsafe { ld(a.as_ptr(), i) }));
        i += 4;
    }
    let lanes = [
        f32x4_extract_lane::<0>(m),
        f32x4_extract_lane::<1>(m),
        f32x4_extract_lane::<2>(m),
        f32x4_extract_lane::<3>(m),
    ];
    scalar::max_abs_f32(&lanes).max(scalar::max_abs_f32(&a[i..]))
}

fn max_f32(a: &[f32]) -> f32 {
    let mut m = f32x4_splat(f32::NEG_INFINITY);
    let mut i = 0;
    while i + 4 <= a.len() {
        // SAFETY: i + 4 <= len.
        m = f32x4_max(m, unsafe { ld(a.as_ptr(), i) });
        i += 4;
    }
    let lanes = [
        f32x4_extract_lane::<0>(m),
        f32x4_extract_lane::<1>(m),
        f32x4_extract_lane::<2>(m),
        f32x4_extract_lane::<3>(m),
    ];
    scalar::max_f32(&lanes).max(scalar::max_f32(&a[i..]))
}

fn td_update_row(q: &mut [f32], target: &[f32], alpha: f32) {
    let n = q.len().min(target.len());
    let al = f32x4_splat(alpha);
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n for both slices.
        unsafe {
            let p = q.as_mut_ptr().add(i);
            let x = v128_load(p.cast());
            let t = ld(target.as_ptr(), i);
            v128_store(p.cast(), f32x4_add(x, f32x4_mul(al, f32x4_sub(t, x))));
        }
        i += 4;
    }
    scalar::td_update_row(&mut q[i..n], &target[i..n], alpha);
}
