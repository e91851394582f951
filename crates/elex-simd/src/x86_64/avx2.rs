//! AVX2 + FMA + F16C kernels: 8 lanes, four independent accumulators (32 elements a step) for
//! the f32 metrics so the FMA latency is hidden; F16C for f16 widening and narrowing.
//!
//! # Safety (whole module)
//! Every function here is an `unsafe fn` with `#[target_feature(enable = "avx2,fma,f16c")]`: the
//! caller must have checked that the CPU supports AVX2, FMA and F16C, which `Kernels::force`
//! does. All loads stay below `n = min(len)` of the slices they read.

use crate::dispatch::Table;
use crate::scalar;
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
    f32_to_f16,
    quantize_i8,
    max_abs_f32,
    max_f32,
    td_update_row,
};

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    _mm_cvtss_f32(s)
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn hsum_i32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
    _mm_cvtsi128_si32(s)
}

/// # Safety
/// `p.add(i)..p.add(i + 8)` must be readable; the CPU must have AVX.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn ld(p: *const f32, i: usize) -> __m256 {
    // SAFETY: the caller guarantees 8 readable floats at `p + i`.
    unsafe { _mm256_loadu_ps(p.add(i)) }
}

/// Eight f16 values at `p + i`, widened.
///
/// # Safety
/// `p.add(i)..p.add(i + 8)` must be readable; the CPU must have F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn ld_h(p: *const f16, i: usize) -> __m256 {
    // SAFETY: `f16` is `repr(transparent)` over `u16`; the caller guarantees 8 readable values.
    _mm256_cvtph_ps(unsafe { _mm_loadu_si128(p.add(i).cast()) })
}

/// Sixteen i8 values at `p + i`, sign-extended to i16.
///
/// # Safety
/// `p.add(i)..p.add(i + 16)` must be readable; the CPU must have AVX2.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn ld_i8(p: *const i8, i: usize) -> __m256i {
    // SAFETY: the caller guarantees 16 readable bytes.
    _mm256_cvtepi8_epi16(unsafe { _mm_loadu_si128(p.add(i).cast()) })
}

/// Shared body of the f32 and f16 two-input reductions: `$ld` loads 8 lanes, `$step` folds a
/// pair of 8-lane vectors into an accumulator, `$tail` is the scalar kernel for the remainder.
macro_rules! reduce2 {
    ($a:ident, $b:ident, $ld:ident, $step:expr, $tail:path) => {{
        let n = $a.len().min($b.len());
        let (pa, pb) = ($a.as_ptr(), $b.as_ptr());
        let step = $step;
        let (mut s0, mut s1, mut s2, mut s3) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        let mut i = 0;
        while i + 32 <= n {
            // SAFETY: i + 32 <= n, so all four 8-lane loads are in bounds of both slices.
            unsafe {
                s0 = step(s0, $ld(pa, i), $ld(pb, i));
                s1 = step(s1, $ld(pa, i + 8), $ld(pb, i + 8));
                s2 = step(s2, $ld(pa, i + 16), $ld(pb, i + 16));
                s3 = step(s3, $ld(pa, i + 24), $ld(pb, i + 24));
            }
            i += 32;
        }
        while i + 8 <= n {
            // SAFETY: i + 8 <= n.
            unsafe { s0 = step(s0, $ld(pa, i), $ld(pb, i)) };
            i += 8;
        }
        hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)))
            + $tail(&$a[i..n], &$b[i..n])
    }};
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    reduce2!(
        a,
        b,
        ld,
        |s, x, y| _mm256_fmadd_ps(x, y, s),
        scalar::dot_f32
    )
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    reduce2!(
        a,
        b,
        ld,
        |s, x, y| {
            let d = _mm256_sub_ps(x, y);
            _mm256_fmadd_ps(d, d, s)
        },
        scalar::l2sq_f32
    )
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    reduce2!(
        a,
        b,
        ld_h,
        |s, x, y| _mm256_fmadd_ps(x, y, s),
        scalar::dot_f16
    )
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn l2sq_f16(a: &[f16], b: &[f16]) -> f32 {
    reduce2!(
        a,
        b,
        ld_h,
        |s, x, y| {
            let d = _mm256_sub_ps(x, y);
            _mm256_fmadd_ps(d, d, s)
        },
        scalar::l2sq_f16
    )
}

/// Shared body of the one-pass cosine reductions.
macro_rules! dot_norms {
    ($a:ident, $b:ident, $ld:ident, $tail:path) => {{
        let n = $a.len().min($b.len());
        let (pa, pb) = ($a.as_ptr(), $b.as_ptr());
        let (mut ab, mut aa, mut bb) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n.
            let (x, y) = unsafe { ($ld(pa, i), $ld(pb, i)) };
            ab = _mm256_fmadd_ps(x, y, ab);
            aa = _mm256_fmadd_ps(x, x, aa);
            bb = _mm256_fmadd_ps(y, y, bb);
            i += 8;
        }
        let t = $tail(&$a[i..n], &$b[i..n]);
        [hsum(ab) + t[0], hsum(aa) + t[1], hsum(bb) + t[2]]
    }};
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_norms_f32(a: &[f32], b: &[f32]) -> [f32; 3] {
    dot_norms!(a, b, ld, scalar::dot_norms_f32)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_norms_f16(a: &[f16], b: &[f16]) -> [f32; 3] {
    dot_norms!(a, b, ld_h, scalar::dot_norms_f16)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = _mm256_setzero_si256();
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n.
        let (x, y) = unsafe { (ld_i8(pa, i), ld_i8(pb, i)) };
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x, y));
        i += 16;
    }
    hsum_i32(acc).wrapping_add(scalar::dot_i8(&a[i..n], &b[i..n]))
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn l2sq_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = _mm256_setzero_si256();
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n.
        let d = unsafe { _mm256_sub_epi16(ld_i8(pa, i), ld_i8(pb, i)) };
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d, d));
        i += 16;
    }
    hsum_i32(acc).wrapping_add(scalar::l2sq_i8(&a[i..n], &b[i..n]))
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn f16_to_f32(src: &[f16], dst: &mut [f32]) {
    let n = src.len().min(dst.len());
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n for both slices.
        unsafe { _mm256_storeu_ps(dst.as_mut_ptr().add(i), ld_h(src.as_ptr(), i)) };
        i += 8;
    }
    scalar::f16_to_f32(&src[i..n], &mut dst[i..n]);
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn f32_to_f16(src: &[f32], dst: &mut [f16]) {
    let n = src.len().min(dst.len());
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n for both slices; f16 is repr(transparent) over u16.
        unsafe {
            let h = _mm256_cvtps_ph(ld(src.as_ptr(), i), _MM_FROUND_TO_NEAREST_INT);
            _mm_storeu_si128(dst.as_mut_ptr().add(i).cast(), h);
        }
        i += 8;
    }
    scalar::f32_to_f16(&src[i..n], &mut dst[i..n]);
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn quantize_i8(src: &[f32], dst: &mut [i8], inv_scale: f32) {
    let n = src.len().min(dst.len());
    let (inv, lo, hi) = (
        _mm256_set1_ps(inv_scale),
        _mm256_set1_ps(-127.0),
        _mm256_set1_ps(127.0),
    );
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n for both slices; the store writes 8 bytes at dst + i.
        unsafe {
            let x = _mm256_min_ps(
                _mm256_max_ps(_mm256_mul_ps(ld(src.as_ptr(), i), inv), lo),
                hi,
            );
            // Rounds with MXCSR's default mode: nearest, ties to even.
            let q = _mm256_cvtps_epi32(x);
            let w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
            _mm_storel_epi64(dst.as_mut_ptr().add(i).cast(), _mm_packs_epi16(w, w));
        }
        i += 8;
    }
    scalar::quantize_i8(&src[i..n], &mut dst[i..n], inv_scale);
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn max_abs_f32(a: &[f32]) -> f32 {
    let n = a.len();
    let mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let mut m = _mm256_setzero_ps();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n.
        m = _mm256_max_ps(m, _mm256_and_ps(unsafe { ld(a.as_ptr(), i) }, mask));
        i += 8;
    }
    let mut lanes = [0.0f32; 8];
    // SAFETY: `lanes` holds 8 floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), m) };
    scalar::max_abs_f32(&lanes).max(scalar::max_abs_f32(&a[i..]))
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn max_f32(a: &[f32]) -> f32 {
    let n = a.len();
    let mut m = _mm256_set1_ps(f32::NEG_INFINITY);
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n.
        m = _mm256_max_ps(m, unsafe { ld(a.as_ptr(), i) });
        i += 8;
    }
    let mut lanes = [0.0f32; 8];
    // SAFETY: `lanes` holds 8 floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), m) };
    scalar::max_f32(&lanes).max(scalar::max_f32(&a[i..]))
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn td_update_row(q: &mut [f32], target: &[f32], alpha: f32) {
    let n = q.len().min(target.len());
    let al = _mm256_set1_ps(alpha);
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n for both slices.
        unsafe {
            let p = q.as_mut_ptr().add(i);
            let x = _mm256_loadu_ps(p);
            let t = ld(target.as_ptr(), i);
            _mm256_storeu_ps(p, _mm256_fmadd_ps(al, _mm256_sub_ps(t, x), x));
        }
        i += 8;
    }
    scalar::td_update_row(&mut q[i..n], &target[i..n], alpha);
}
