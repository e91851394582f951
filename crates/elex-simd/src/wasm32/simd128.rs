//! wasm `simd128` kernels. Float reductions follow the canonical order of `scalar` (eight 4-lane
//! accumulators are partial sums 0..32, multiply then add), so results are bit-identical to every
//! other ISA. f16 lanes are widened with the exact integer bit transform used on SSE2 and NEON; i8
//! products use `i32x4_dot_i16x8`, or, in a build with `+relaxed-simd` as well (the npm package's
//! `relaxed` flavour), `i32x4_relaxed_dot_i8x16_i7x16_add` on the query split into its positive
//! and negative parts: each part is in `0..=127`, where the relaxed instruction is exact on every
//! engine, so both builds return the same integers (V8 emits one `vpdpbusd` per block and part
//! where the CPU has AVX-VNNI, against seven instructions for the widening kernel; 0.88x the build
//! time and 1.03-1.18x the QPS on 50K x 384 in Chromium).
//!
//! The module is compiled only with `+simd128`, so these are safe functions: the feature is a
//! property of the build, not of the CPU. Loads and stores are `unsafe` blocks whose bounds are
//! checked below `n = min(len)`.

use crate::dispatch::{SCALAR, Table};
use crate::scalar::{self, LANES};
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
    dot_q4_i8,
    dot_q4_q4,
    dot_f32_x4: None,
    l2sq_f32_x4: None,
    dot_i8_x4: Some(dot_i8_x4),
    ..SCALAR
};

#[inline]
fn hsum_i32(v: v128) -> i32 {
    i32x4_extract_lane::<0>(v)
        .wrapping_add(i32x4_extract_lane::<1>(v))
        .wrapping_add(i32x4_extract_lane::<2>(v))
        .wrapping_add(i32x4_extract_lane::<3>(v))
}

/// The four lane sums of four accumulators, as [`hsum_i32`] of each (wrapping adds, so the same
/// integers), for the four-row kernels: two rounds of interleaves and adds (six shuffles, three
/// adds) and four extractions, in place of sixteen extractions and twelve scalar adds. Node, 7-11
/// interleaved rounds, identical results: simd build docs-50k 50K 1.04 / 1.04 / 1.04x QPS at ef 16
/// / 24 / 32 and GloVe-50 100K 1.06 / 1.02 / 1.04x at ef 32 / 64 / 96; relaxed build GloVe-50
/// (i8 with f32 copies) 1.07 / 1.01 / 1.03x and 1.01 / 1.01 / 1.02x, docs-50k 10K 1.00-1.01x and
/// 50K 1.02 / 1.00 / 1.00x (at 384 dimensions the blocks outweigh the sums).
#[inline]
fn hsum_i32_x4(a: [v128; 4]) -> [i32; 4] {
    // [a0₀+a0₂, a1₀+a1₂, a0₁+a0₃, a1₁+a1₃], and the same for rows 2 and 3.
    let s01 = i32x4_add(
        i32x4_shuffle::<0, 4, 1, 5>(a[0], a[1]),
        i32x4_shuffle::<2, 6, 3, 7>(a[0], a[1]),
    );
    let s23 = i32x4_add(
        i32x4_shuffle::<0, 4, 1, 5>(a[2], a[3]),
        i32x4_shuffle::<2, 6, 3, 7>(a[2], a[3]),
    );
    let r = i32x4_add(
        i32x4_shuffle::<0, 1, 4, 5>(s01, s23),
        i32x4_shuffle::<2, 3, 6, 7>(s01, s23),
    );
    [
        i32x4_extract_lane::<0>(r),
        i32x4_extract_lane::<1>(r),
        i32x4_extract_lane::<2>(r),
        i32x4_extract_lane::<3>(r),
    ]
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

/// Thirty-two f32 lanes at `p + i` as eight 4-lane vectors.
///
/// # Safety
/// `p.add(i)..p.add(i + 32)` must be readable.
#[inline]
unsafe fn ld32(p: *const f32, i: usize) -> [v128; 8] {
    // SAFETY: the caller guarantees 32 readable floats.
    core::array::from_fn(|k| unsafe { ld(p, i + 4 * k) })
}

/// Thirty-two f16 lanes at `p + i`, widened, as eight 4-lane vectors.
///
/// # Safety
/// `p.add(i)..p.add(i + 32)` must be readable.
#[inline]
unsafe fn ld32_h(p: *const f16, i: usize) -> [v128; 8] {
    let mut v = [f32x4_splat(0.0); 8];
    for k in 0..4 {
        // SAFETY: the caller guarantees 32 readable values; 8k + 8 <= 32.
        let (lo, hi) = unsafe { ld_h(p, i + 8 * k) };
        v[2 * k] = lo;
        v[2 * k + 1] = hi;
    }
    v
}

/// Four f32 lanes at `p + i`: the `have` (< 4) there, then zeros.
///
/// # Safety
/// `p.add(i)..p.add(i + have)` must be readable.
#[inline]
unsafe fn ld4_pad(p: *const f32, i: usize, have: usize) -> v128 {
    // SAFETY: the caller guarantees `have` readable floats at `p + i`; each arm reads that many.
    unsafe {
        let x = |j: usize| *p.add(i + j);
        match have {
            1 => f32x4(x(0), 0.0, 0.0, 0.0),
            2 => f32x4(x(0), x(1), 0.0, 0.0),
            3 => f32x4(x(0), x(1), x(2), 0.0),
            _ => f32x4_splat(0.0),
        }
    }
}

/// Four f16 lanes at `p + i` widened, the missing ones zero.
///
/// # Safety
/// `p.add(i)..p.add(i + have)` must be readable.
#[inline]
unsafe fn ld4_h_pad(p: *const f16, i: usize, have: usize) -> v128 {
    // SAFETY: the caller guarantees `have` readable values at `p + i`; each arm reads that many.
    let h = unsafe {
        let x = |j: usize| u32::from((*p.add(i + j)).to_bits());
        match have {
            1 => u32x4(x(0), 0, 0, 0),
            2 => u32x4(x(0), x(1), 0, 0),
            3 => u32x4(x(0), x(1), x(2), 0),
            _ => u32x4_splat(0),
        }
    };
    widen_f16(h)
}

/// The canonical fold (`scalar::fold`'s pairwise tree over partial sums 0..32) on the eight
/// accumulators, with lane-wise vector adds: the halves are accumulators `k` and `k + 4`, then
/// `k` and `k + 2`, then 0 and 1, then lanes (0,1) and (2,3), then lanes 0 and 1. Same adds, same
/// operands, same order: the same bits.
#[inline]
fn fold8(s: [v128; 8]) -> f32 {
    let s0 = f32x4_add(s[0], s[4]);
    let s1 = f32x4_add(s[1], s[5]);
    let s2 = f32x4_add(s[2], s[6]);
    let s3 = f32x4_add(s[3], s[7]);
    let s0 = f32x4_add(s0, s2);
    let s1 = f32x4_add(s1, s3);
    let v = f32x4_add(s0, s1);
    let v = f32x4_add(v, i32x4_shuffle::<2, 3, 2, 3>(v, v));
    f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v)
}

#[inline]
fn mul_add(s: v128, x: v128, y: v128) -> v128 {
    f32x4_add(s, f32x4_mul(x, y))
}

#[inline]
fn sq_add(s: v128, x: v128, y: v128) -> v128 {
    let d = f32x4_sub(x, y);
    f32x4_add(s, f32x4_mul(d, d))
}

/// Four widened f16 lanes at `p + i`.
///
/// # Safety
/// `p.add(i)..p.add(i + 4)` must be readable.
#[inline]
unsafe fn ld4_h(p: *const f16, i: usize) -> v128 {
    // SAFETY: the caller guarantees 4 readable values (8 bytes).
    let x = unsafe { v128_load64_zero(p.add(i).cast()) };
    widen_f16(u32x4_extend_low_u16x8(x))
}

pub(crate) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    reduce2_x8!(f32x4_splat(0.0), a, b, ld32, ld, ld4_pad, mul_add)
}

pub(crate) fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    reduce2_x8!(f32x4_splat(0.0), a, b, ld32, ld, ld4_pad, sq_add)
}

pub(crate) fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    reduce2_x8!(f32x4_splat(0.0), a, b, ld32_h, ld4_h, ld4_h_pad, mul_add)
}

pub(crate) fn l2sq_f16(a: &[f16], b: &[f16]) -> f32 {
    reduce2_x8!(f32x4_splat(0.0), a, b, ld32_h, ld4_h, ld4_h_pad, sq_add)
}

fn dot_norms_f32(a: &[f32], b: &[f32]) -> [f32; 3] {
    dot_norms_x8!(f32x4_splat(0.0), a, b, ld32, ld, ld4_pad)
}

fn dot_norms_f16(a: &[f16], b: &[f16]) -> [f32; 3] {
    dot_norms_x8!(f32x4_splat(0.0), a, b, ld32_h, ld4_h, ld4_h_pad)
}

/// Relaxed-SIMD flavour: `b` split into its positive and negative parts (each in `0..=127`, the
/// range where `i32x4_relaxed_dot_i8x16_i7x16_add` is exact on every engine), two dot products
/// per block. A `-128` in `b` has no 7-bit negation, so such a call is answered by the scalar
/// kernel (the same exact integer; quantized codes are within `-127..=127` and never take it).
#[cfg(target_feature = "relaxed-simd")]
pub(crate) fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (mut pos, mut neg, mut bad) = (i32x4_splat(0), i32x4_splat(0), i8x16_splat(0));
    let zero = i8x16_splat(0);
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n.
        let (x, y) = unsafe {
            (
                v128_load(a.as_ptr().add(i).cast()),
                v128_load(b.as_ptr().add(i).cast()),
            )
        };
        bad = v128_or(bad, i8x16_eq(y, i8x16_splat(-128)));
        let (yp, yn) = (i8x16_max(y, zero), i8x16_max(i8x16_neg(y), zero));
        pos = i32x4_relaxed_dot_i8x16_i7x16_add(x, yp, pos);
        neg = i32x4_relaxed_dot_i8x16_i7x16_add(x, yn, neg);
        i += 16;
    }
    if v128_any_true(bad) {
        return scalar::dot_i8(a, b);
    }
    hsum_i32(i32x4_sub(pos, neg)).wrapping_add(scalar::dot_i8(&a[i..n], &b[i..n]))
}

#[cfg(not(target_feature = "relaxed-simd"))]
pub(crate) fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
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

/// Relaxed-SIMD flavour of [`dot_i8_x4`]: the query's block is split once into its positive and
/// negative parts (as in [`dot_i8`]) for four rows; a `-128` in the query goes to the scalar
/// kernel.
#[cfg(target_feature = "relaxed-simd")]
pub(crate) fn dot_i8_x4(q: &[i8], rows: [&[i8]; 4]) -> [i32; 4] {
    let n = rows.iter().fold(q.len(), |n, r| n.min(r.len()));
    let mut pos = [i32x4_splat(0); 4];
    let mut neg = [i32x4_splat(0); 4];
    let (zero, mut bad) = (i8x16_splat(0), i8x16_splat(0));
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n.
        let x = unsafe { v128_load(q.as_ptr().add(i).cast()) };
        bad = v128_or(bad, i8x16_eq(x, i8x16_splat(-128)));
        let (xp, xn) = (i8x16_max(x, zero), i8x16_max(i8x16_neg(x), zero));
        for r in 0..4 {
            // SAFETY: as above, for row r.
            let y = unsafe { v128_load(rows[r].as_ptr().add(i).cast()) };
            pos[r] = i32x4_relaxed_dot_i8x16_i7x16_add(y, xp, pos[r]);
            neg[r] = i32x4_relaxed_dot_i8x16_i7x16_add(y, xn, neg[r]);
        }
        i += 16;
    }
    if v128_any_true(bad) {
        return rows.map(|r| scalar::dot_i8(q, r));
    }
    let sums = hsum_i32_x4([0, 1, 2, 3].map(|r| i32x4_sub(pos[r], neg[r])));
    [0, 1, 2, 3].map(|r| sums[r].wrapping_add(scalar::dot_i8(&q[i..n], &rows[r][i..n])))
}

/// One i8 query against four rows: each block of the query is loaded and widened once for the
/// four rows (more independent work per load, one call instead of four).
#[cfg(not(target_feature = "relaxed-simd"))]
pub(crate) fn dot_i8_x4(q: &[i8], rows: [&[i8]; 4]) -> [i32; 4] {
    let n = rows.iter().fold(q.len(), |n, r| n.min(r.len()));
    let mut acc = [i32x4_splat(0); 4];
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n.
        let x = unsafe { v128_load(q.as_ptr().add(i).cast()) };
        let (xl, xh) = (i16x8_extend_low_i8x16(x), i16x8_extend_high_i8x16(x));
        for r in 0..4 {
            // SAFETY: as above, for row r.
            let y = unsafe { v128_load(rows[r].as_ptr().add(i).cast()) };
            let lo = i32x4_dot_i16x8(xl, i16x8_extend_low_i8x16(y));
            let hi = i32x4_dot_i16x8(xh, i16x8_extend_high_i8x16(y));
            acc[r] = i32x4_add(acc[r], i32x4_add(lo, hi));
        }
        i += 16;
    }
    let sums = hsum_i32_x4(acc);
    [0, 1, 2, 3].map(|r| sums[r].wrapping_add(scalar::dot_i8(&q[i..n], &rows[r][i..n])))
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

/// Largest lane, reduced with shuffles. `pmax` (`b < a ? a : b`) is one `maxps` in V8, where
/// `f32x4.max`'s NaN and signed-zero rules cost several instructions; on NaN-free input (what
/// callers guarantee, see the crate docs) the two agree.
#[inline]
fn hmax(m: v128) -> f32 {
    let m = f32x4_pmax(m, i32x4_shuffle::<2, 3, 0, 1>(m, m));
    let m = f32x4_pmax(m, i32x4_shuffle::<1, 0, 3, 2>(m, m));
    f32x4_extract_lane::<0>(m)
}

/// Scalar tail of a max, with plain comparisons (`f32::max` is NaN-aware and slower in wasm).
#[inline]
fn tail_max(mut m: f32, rest: &[f32]) -> f32 {
    for &x in rest {
        if x > m {
            m = x;
        }
    }
    m
}

fn max_abs_f32(a: &[f32]) -> f32 {
    let mut m = f32x4_splat(0.0);
    let mut i = 0;
    while i + 4 <= a.len() {
        // SAFETY: i + 4 <= len.
        m = f32x4_pmax(m, f32x4_abs(unsafe { ld(a.as_ptr(), i) }));
        i += 4;
    }
    let rest: &[f32] = &a[i..];
    rest.iter()
        .fold(hmax(m), |m, x| if x.abs() > m { x.abs() } else { m })
}

fn max_f32(a: &[f32]) -> f32 {
    if a.len() < 4 {
        return tail_max(f32::NEG_INFINITY, a);
    }
    // SAFETY: len >= 4.
    let mut m = unsafe { ld(a.as_ptr(), 0) };
    let mut i = 4;
    while i + 4 <= a.len() {
        // SAFETY: i + 4 <= len.
        m = f32x4_pmax(m, unsafe { ld(a.as_ptr(), i) });
        i += 4;
    }
    tail_max(hmax(m), &a[i..])
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

/// The levels of 32 components from 16 code bytes at `p`: components 0..16 and 16..32.
///
/// # Safety
/// `p..p + 16` must be readable.
#[inline]
unsafe fn q4_levels(p: *const u8) -> (v128, v128) {
    // SAFETY: the caller guarantees 16 readable bytes; Q4_LEVELS is 16 bytes.
    let (c, lut) = unsafe {
        (
            v128_load(p.cast()),
            v128_load(crate::Q4_LEVELS.as_ptr().cast()),
        )
    };
    (
        i8x16_swizzle(lut, v128_and(c, u8x16_splat(0x0F))),
        i8x16_swizzle(lut, u8x16_shr(c, 4)),
    )
}

/// `Σ` of the lane products of two i8 vectors, added into four i32 lanes.
#[inline]
fn madd_i8(acc: v128, x: v128, y: v128) -> v128 {
    let lo = i32x4_dot_i16x8(i16x8_extend_low_i8x16(x), i16x8_extend_low_i8x16(y));
    let hi = i32x4_dot_i16x8(i16x8_extend_high_i8x16(x), i16x8_extend_high_i8x16(y));
    i32x4_add(acc, i32x4_add(lo, hi))
}

/// The block of code bytes at `p` against 32 query values at `q`, added into `acc`.
///
/// # Safety
/// 16 bytes at `p` and 32 at `q` must be readable.
#[inline]
unsafe fn q4_block_i8(acc: v128, p: *const u8, q: *const i8) -> v128 {
    // SAFETY: as the caller guarantees.
    let ((lo, hi), x, y) = unsafe {
        (
            q4_levels(p),
            v128_load(q.cast()),
            v128_load(q.add(16).cast()),
        )
    };
    madd_i8(madd_i8(acc, lo, x), hi, y)
}

pub(crate) fn dot_q4_i8(codes: &[u8], q: &[i8]) -> i32 {
    let n = q.len().min(codes.len() / 16 * 32);
    let (pc, pq) = (codes.as_ptr(), q.as_ptr());
    let mut acc = i32x4_splat(0);
    let mut i = 0;
    while i + 32 <= n {
        // SAFETY: i + 32 <= n: 32 query bytes at i, and 16 code bytes at i / 2 (n is at most
        // twice the code bytes).
        acc = unsafe { q4_block_i8(acc, pc.add(i / 2), pq.add(i)) };
        i += 32;
    }
    if i < n {
        // The last, partial block: the query's tail padded with zeros, whose products vanish.
        let mut tail = [0i8; 32];
        tail[..n - i].copy_from_slice(&q[i..n]);
        // SAFETY: n > i means a block was started, so 16 code bytes are at i / 2; `tail` has 32.
        acc = unsafe { q4_block_i8(acc, pc.add(i / 2), tail.as_ptr()) };
    }
    hsum_i32(acc)
}

fn dot_q4_q4(a: &[u8], b: &[u8], n: usize) -> i32 {
    let n = n.min(a.len().min(b.len()) / 16 * 32);
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = i32x4_splat(0);
    let mut i = 0;
    while i < n {
        // SAFETY: i < n: a block was started, so 16 bytes of each row are at i / 2.
        let ((mut alo, mut ahi), (blo, bhi)) =
            unsafe { (q4_levels(pa.add(i / 2)), q4_levels(pb.add(i / 2))) };
        if n - i < 32 {
            // The partial block: levels past n (padding nibbles) masked to zero.
            let r = n - i;
            let m = crate::q4::TAIL_MASK.as_ptr();
            // SAFETY: 32 - r + 16 + 16 <= 64 bytes of the mask.
            let (mlo, mhi) = unsafe {
                (
                    v128_load(m.add(32 - r).cast()),
                    v128_load(m.add(48 - r).cast()),
                )
            };
            alo = v128_and(alo, mlo);
            ahi = v128_and(ahi, mhi);
        }
        acc = madd_i8(madd_i8(acc, alo, blo), ahi, bhi);
        i += 32;
    }
    hsum_i32(acc)
}

/// A row's block of uniform 4-bit codes at `p` (raw nibbles) against the query's 32 values
/// (`x`, `y`), added into `acc`. With relaxed SIMD, two `i32x4_relaxed_dot_i8x16_i7x16_add`:
/// a nibble is in `0..=15`, inside the 7-bit range where the instruction is exact on every
/// engine (so both builds return the same integers); without, the nibbles and the query are
/// widened to i16 and multiplied with `i32x4_dot_i16x8`.
///
/// # Safety
/// 16 bytes at `p` must be readable.
#[inline]
unsafe fn u4_block(acc: v128, p: *const u8, x: v128, y: v128) -> v128 {
    // SAFETY: as the caller guarantees.
    let v = unsafe { v128_load(p.cast()) };
    let (lo, hi) = (v128_and(v, u8x16_splat(0x0f)), u8x16_shr(v, 4));
    #[cfg(target_feature = "relaxed-simd")]
    {
        i32x4_relaxed_dot_i8x16_i7x16_add(y, hi, i32x4_relaxed_dot_i8x16_i7x16_add(x, lo, acc))
    }
    #[cfg(not(target_feature = "relaxed-simd"))]
    {
        let a = i32x4_add(
            i32x4_dot_i16x8(i16x8_extend_low_i8x16(x), u16x8_extend_low_u8x16(lo)),
            i32x4_dot_i16x8(i16x8_extend_high_i8x16(x), u16x8_extend_high_u8x16(lo)),
        );
        let b = i32x4_add(
            i32x4_dot_i16x8(i16x8_extend_low_i8x16(y), u16x8_extend_low_u8x16(hi)),
            i32x4_dot_i16x8(i16x8_extend_high_i8x16(y), u16x8_extend_high_u8x16(hi)),
        );
        i32x4_add(acc, i32x4_add(a, b))
    }
}

/// `Σ qᵢ · cᵢ` of an i8 query and four rows of uniform 4-bit codes (see `scalar`): the
/// query's block is loaded once for the four rows. Not inlined: one copy for all the search
/// loops that call it.
#[inline(never)]
pub(crate) fn dot_u4_i8_x4(q: &[i8], rows: [&[u8]; 4]) -> [i32; 4] {
    hsum_i32_x4(dot_u4_i8_n(q, rows))
}

/// [`dot_u4_i8_x4`] for one row (a search's leftover neighbours): a quarter of the work of the
/// four-row kernel on one row four times.
#[inline(never)]
pub(crate) fn dot_u4_i8(q: &[i8], row: &[u8]) -> i32 {
    hsum_i32(dot_u4_i8_n(q, [row])[0])
}

/// The accumulators of [`dot_u4_i8_x4`] for `N` rows (each row's sum is its lanes' sum).
#[inline(always)]
fn dot_u4_i8_n<const N: usize>(q: &[i8], rows: [&[u8]; N]) -> [v128; N] {
    let n = rows.iter().fold(q.len(), |n, r| n.min(r.len() / 16 * 32));
    let p = rows.map(<[u8]>::as_ptr);
    let mut acc = [i32x4_splat(0); N];
    let mut i = 0;
    while i + 32 <= n {
        // SAFETY: i + 32 <= n: 32 query bytes at i, and 16 code bytes at i / 2 of every row.
        unsafe {
            let (x, y) = (
                v128_load(q.as_ptr().add(i).cast()),
                v128_load(q.as_ptr().add(i + 16).cast()),
            );
            for (a, p) in acc.iter_mut().zip(p) {
                *a = u4_block(*a, p.add(i / 2), x, y);
            }
        }
        i += 32;
    }
    if i < n {
        // The last, partial block: the query's tail padded with zeros, whose products vanish.
        let mut tail = [0i8; 32];
        tail[..n - i].copy_from_slice(&q[i..n]);
        // SAFETY: `tail` has 32 bytes; a started block has 16 code bytes at i / 2 in every row.
        unsafe {
            let (x, y) = (
                v128_load(tail.as_ptr().cast()),
                v128_load(tail.as_ptr().add(16).cast()),
            );
            for (a, p) in acc.iter_mut().zip(p) {
                *a = u4_block(*a, p.add(i / 2), x, y);
            }
        }
    }
    acc
}
