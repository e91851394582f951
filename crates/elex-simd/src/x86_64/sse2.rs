//! SSE2 kernels. Float reductions follow the canonical order of `scalar` (eight 4-lane
//! accumulators are partial sums 0..32, multiply then add), so results are bit-identical to
//! every other ISA. SSE2 has no f16 conversion instruction, so f16 lanes are widened with an
//! exact shift-and-multiply transform ([`widen_f16`]); narrowing to f16 stays scalar. i8 lanes
//! are sign-extended by unpacking with themselves and shifting right arithmetically.
//!
//! # Safety (whole module)
//! Every function here is an `unsafe fn` with `#[target_feature(enable = "sse2")]`: the caller
//! must have checked that the CPU supports SSE2. All loads stay below `n = min(len)`.

use crate::dispatch::{SCALAR, Table};
use crate::scalar::{self, LANES};
use core::arch::x86_64::*;
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
    dot_f32_x4: None,
    l2sq_f32_x4: None,
    ..SCALAR
};

#[inline]
#[target_feature(enable = "sse2")]
fn hsum_i32(v: __m128i) -> i32 {
    let s = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0b01_00_11_10));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
    _mm_cvtsi128_si32(s)
}

/// Exact f16 -> f32 widening of four halves held in the low 16 bits of each 32-bit lane: put
/// exponent and mantissa where f32 keeps them and multiply by 2^112, which rebiases the exponent
/// and renormalizes subnormals exactly; Inf/NaN (half exponent 31) get the f32 maximum exponent;
/// then the sign goes back on.
#[inline]
#[target_feature(enable = "sse2")]
pub(crate) fn widen_f16(h: __m128i) -> __m128 {
    let abs = _mm_and_si128(h, _mm_set1_epi32(0x7fff));
    let f = _mm_mul_ps(
        _mm_castsi128_ps(_mm_slli_epi32(abs, 13)),
        _mm_set1_ps(f32::from_bits(0x7780_0000)),
    );
    let infnan = _mm_cmpgt_epi32(abs, _mm_set1_epi32(0x7bff));
    let f = _mm_or_si128(
        _mm_castps_si128(f),
        _mm_and_si128(infnan, _mm_set1_epi32(0x7f80_0000)),
    );
    let sign = _mm_slli_epi32(_mm_and_si128(h, _mm_set1_epi32(0x8000)), 16);
    _mm_castsi128_ps(_mm_or_si128(f, sign))
}

/// # Safety
/// `p.add(i)..p.add(i + 4)` must be readable.
#[inline]
#[target_feature(enable = "sse2")]
unsafe fn ld(p: *const f32, i: usize) -> __m128 {
    // SAFETY: the caller guarantees 4 readable floats.
    unsafe { _mm_loadu_ps(p.add(i)) }
}

/// Eight f16 values at `p + i`, widened to two f32x4.
///
/// # Safety
/// `p.add(i)..p.add(i + 8)` must be readable.
#[inline]
#[target_feature(enable = "sse2")]
unsafe fn ld_h(p: *const f16, i: usize) -> (__m128, __m128) {
    // SAFETY: f16 is repr(transparent) over u16; the caller guarantees 8 readable values.
    let x = unsafe { _mm_loadu_si128(p.add(i).cast()) };
    let z = _mm_setzero_si128();
    (
        widen_f16(_mm_unpacklo_epi16(x, z)),
        widen_f16(_mm_unpackhi_epi16(x, z)),
    )
}

/// Sixteen i8 values at `p + i`, sign-extended to two i16x8.
///
/// # Safety
/// `p.add(i)..p.add(i + 16)` must be readable.
#[inline]
#[target_feature(enable = "sse2")]
unsafe fn ld_i8(p: *const i8, i: usize) -> (__m128i, __m128i) {
    // SAFETY: the caller guarantees 16 readable bytes.
    let x = unsafe { _mm_loadu_si128(p.add(i).cast()) };
    (
        _mm_srai_epi16(_mm_unpacklo_epi8(x, x), 8),
        _mm_srai_epi16(_mm_unpackhi_epi8(x, x), 8),
    )
}

/// Thirty-two f32 lanes at `p + i` as eight 4-lane vectors.
///
/// # Safety
/// `p.add(i)..p.add(i + 32)` must be readable.
#[inline]
#[target_feature(enable = "sse2")]
unsafe fn ld32(p: *const f32, i: usize) -> [__m128; 8] {
    // SAFETY: the caller guarantees 32 readable floats.
    core::array::from_fn(|k| unsafe { ld(p, i + 4 * k) })
}

/// Thirty-two f16 lanes at `p + i`, widened, as eight 4-lane vectors.
///
/// # Safety
/// `p.add(i)..p.add(i + 32)` must be readable.
#[inline]
#[target_feature(enable = "sse2")]
unsafe fn ld32_h(p: *const f16, i: usize) -> [__m128; 8] {
    let mut v = [_mm_setzero_ps(); 8];
    for k in 0..4 {
        // SAFETY: the caller guarantees 32 readable values; 8k + 8 <= 32.
        let (lo, hi) = unsafe { ld_h(p, i + 8 * k) };
        v[2 * k] = lo;
        v[2 * k + 1] = hi;
    }
    v
}

/// Four widened f16 lanes at `p + i`.
///
/// # Safety
/// `p.add(i)..p.add(i + 4)` must be readable.
#[inline]
#[target_feature(enable = "sse2")]
unsafe fn ld4_h(p: *const f16, i: usize) -> __m128 {
    // SAFETY: f16 is repr(transparent) over u16; the caller guarantees 4 readable values (8 bytes).
    let x = unsafe { _mm_loadl_epi64(p.add(i).cast()) };
    widen_f16(_mm_unpacklo_epi16(x, _mm_setzero_si128()))
}

/// Four f32 lanes at `p + i`: the `have` (< 4) there, then zeros.
///
/// # Safety
/// `p.add(i)..p.add(i + have)` must be readable.
#[inline]
#[target_feature(enable = "sse2")]
unsafe fn ld4_pad(p: *const f32, i: usize, have: usize) -> __m128 {
    // SAFETY: the caller guarantees `have` readable floats at `p + i`.
    let buf = unsafe { crate::lanes128::pad4(p, i, have, 0.0) };
    // SAFETY: buf holds 4 floats.
    unsafe { _mm_loadu_ps(buf.as_ptr()) }
}

/// Four f16 lanes at `p + i` widened: the `have` (< 4) there, then zeros.
///
/// # Safety
/// `p.add(i)..p.add(i + have)` must be readable.
#[inline]
#[target_feature(enable = "sse2")]
unsafe fn ld4_h_pad(p: *const f16, i: usize, have: usize) -> __m128 {
    // SAFETY: the caller guarantees `have` readable values at `p + i`.
    let buf = unsafe { crate::lanes128::pad4(p, i, have, f16::ZERO) };
    // SAFETY: buf holds 4 values.
    unsafe { ld4_h(buf.as_ptr(), 0) }
}

/// The canonical fold (`scalar::fold`'s pairwise tree over partial sums 0..32) on the eight
/// accumulators, with lane-wise vector adds: the halves are accumulators `k` and `k + 4`, then
/// `k` and `k + 2`, then 0 and 1, then lanes (0,1) and (2,3), then lanes 0 and 1. Same adds, same
/// operands, same order: the same bits.
#[inline]
#[target_feature(enable = "sse2")]
fn fold8(s: [__m128; 8]) -> f32 {
    let s0 = _mm_add_ps(s[0], s[4]);
    let s1 = _mm_add_ps(s[1], s[5]);
    let s2 = _mm_add_ps(s[2], s[6]);
    let s3 = _mm_add_ps(s[3], s[7]);
    let v = _mm_add_ps(_mm_add_ps(s0, s2), _mm_add_ps(s1, s3));
    let v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    _mm_cvtss_f32(_mm_add_ss(v, _mm_shuffle_ps(v, v, 0b01)))
}

#[inline]
#[target_feature(enable = "sse2")]
fn mul_add(s: __m128, x: __m128, y: __m128) -> __m128 {
    _mm_add_ps(s, _mm_mul_ps(x, y))
}

#[inline]
#[target_feature(enable = "sse2")]
fn sq_add(s: __m128, x: __m128, y: __m128) -> __m128 {
    let d = _mm_sub_ps(x, y);
    _mm_add_ps(s, _mm_mul_ps(d, d))
}

#[target_feature(enable = "sse2")]
unsafe fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    reduce2_x8!(_mm_setzero_ps(), a, b, ld32, ld, ld4_pad, mul_add)
}

#[target_feature(enable = "sse2")]
unsafe fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    reduce2_x8!(_mm_setzero_ps(), a, b, ld32, ld, ld4_pad, sq_add)
}

#[target_feature(enable = "sse2")]
unsafe fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    reduce2_x8!(_mm_setzero_ps(), a, b, ld32_h, ld4_h, ld4_h_pad, mul_add)
}

#[target_feature(enable = "sse2")]
unsafe fn l2sq_f16(a: &[f16], b: &[f16]) -> f32 {
    reduce2_x8!(_mm_setzero_ps(), a, b, ld32_h, ld4_h, ld4_h_pad, sq_add)
}

#[target_feature(enable = "sse2")]
unsafe fn dot_norms_f32(a: &[f32], b: &[f32]) -> [f32; 3] {
    dot_norms_x8!(_mm_setzero_ps(), a, b, ld32, ld, ld4_pad)
}

#[target_feature(enable = "sse2")]
unsafe fn dot_norms_f16(a: &[f16], b: &[f16]) -> [f32; 3] {
    dot_norms_x8!(_mm_setzero_ps(), a, b, ld32_h, ld4_h, ld4_h_pad)
}

#[target_feature(enable = "sse2")]
unsafe fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let mut acc = _mm_setzero_si128();
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n.
        let ((x0, x1), (y0, y1)) = unsafe { (ld_i8(a.as_ptr(), i), ld_i8(b.as_ptr(), i)) };
        acc = _mm_add_epi32(
            acc,
            _mm_add_epi32(_mm_madd_epi16(x0, y0), _mm_madd_epi16(x1, y1)),
        );
        i += 16;
    }
    hsum_i32(acc).wrapping_add(scalar::dot_i8(&a[i..n], &b[i..n]))
}

#[target_feature(enable = "sse2")]
unsafe fn l2sq_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let mut acc = _mm_setzero_si128();
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n.
        let ((x0, x1), (y0, y1)) = unsafe { (ld_i8(a.as_ptr(), i), ld_i8(b.as_ptr(), i)) };
        let (d0, d1) = (_mm_sub_epi16(x0, y0), _mm_sub_epi16(x1, y1));
        acc = _mm_add_epi32(
            acc,
            _mm_add_epi32(_mm_madd_epi16(d0, d0), _mm_madd_epi16(d1, d1)),
        );
        i += 16;
    }
    hsum_i32(acc).wrapping_add(scalar::l2sq_i8(&a[i..n], &b[i..n]))
}

#[target_feature(enable = "sse2")]
unsafe fn f16_to_f32(src: &[f16], dst: &mut [f32]) {
    let n = src.len().min(dst.len());
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n for both slices.
        unsafe {
            let (x0, x1) = ld_h(src.as_ptr(), i);
            _mm_storeu_ps(dst.as_mut_ptr().add(i), x0);
            _mm_storeu_ps(dst.as_mut_ptr().add(i + 4), x1);
        }
        i += 8;
    }
    scalar::f16_to_f32(&src[i..n], &mut dst[i..n]);
}

#[target_feature(enable = "sse2")]
unsafe fn quantize_i8(src: &[f32], dst: &mut [i8], inv_scale: f32) {
    let n = src.len().min(dst.len());
    let (inv, lo, hi) = (
        _mm_set1_ps(inv_scale),
        _mm_set1_ps(-127.0),
        _mm_set1_ps(127.0),
    );
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n for both slices; the store writes 8 bytes at dst + i.
        unsafe {
            let x0 = _mm_min_ps(_mm_max_ps(_mm_mul_ps(ld(src.as_ptr(), i), inv), lo), hi);
            let x1 = _mm_min_ps(_mm_max_ps(_mm_mul_ps(ld(src.as_ptr(), i + 4), inv), lo), hi);
            // Rounds with MXCSR's default mode: nearest, ties to even.
            let w = _mm_packs_epi32(_mm_cvtps_epi32(x0), _mm_cvtps_epi32(x1));
            _mm_storel_epi64(dst.as_mut_ptr().add(i).cast(), _mm_packs_epi16(w, w));
        }
        i += 8;
    }
    scalar::quantize_i8(&src[i..n], &mut dst[i..n], inv_scale);
}

/// Largest lane of a vector, reduced in registers.
#[inline]
#[target_feature(enable = "sse2")]
fn hmax(m: __m128) -> f32 {
    let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)))
}

#[target_feature(enable = "sse2")]
unsafe fn max_abs_f32(a: &[f32]) -> f32 {
    let mask = _mm_castsi128_ps(_mm_set1_epi32(0x7fff_ffff));
    let mut m = _mm_setzero_ps();
    let mut i = 0;
    while i + 4 <= a.len() {
        // SAFETY: i + 4 <= len.
        m = _mm_max_ps(m, _mm_and_ps(unsafe { ld(a.as_ptr(), i) }, mask));
        i += 4;
    }
    hmax(m).max(scalar::max_abs_f32(&a[i..]))
}

#[target_feature(enable = "sse2")]
unsafe fn max_f32(a: &[f32]) -> f32 {
    let mut m = _mm_set1_ps(f32::NEG_INFINITY);
    let mut i = 0;
    while i + 4 <= a.len() {
        // SAFETY: i + 4 <= len.
        m = _mm_max_ps(m, unsafe { ld(a.as_ptr(), i) });
        i += 4;
    }
    hmax(m).max(scalar::max_f32(&a[i..]))
}

#[target_feature(enable = "sse2")]
unsafe fn td_update_row(q: &mut [f32], target: &[f32], alpha: f32) {
    let n = q.len().min(target.len());
    let al = _mm_set1_ps(alpha);
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n for both slices.
        unsafe {
            let p = q.as_mut_ptr().add(i);
            let x = _mm_loadu_ps(p);
            let t = ld(target.as_ptr(), i);
            _mm_storeu_ps(p, _mm_add_ps(x, _mm_mul_ps(al, _mm_sub_ps(t, x))));
        }
        i += 4;
    }
    scalar::td_update_row(&mut q[i..n], &target[i..n], alpha);
}
