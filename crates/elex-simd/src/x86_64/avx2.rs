//! AVX2 + FMA + F16C kernels. Float reductions follow the canonical order of `scalar` (four
//! 8-lane accumulators are partial sums 0..32; multiply then add, no FMA, so results are
//! bit-identical to every other ISA); F16C widens and narrows f16.
//!
//! # Safety (whole module)
//! Every function here is an `unsafe fn` with `#[target_feature(enable = "avx2,fma,f16c")]`: the
//! caller must have checked that the CPU supports AVX2, FMA and F16C, which `Kernels::force`
//! does. All loads stay below `n = min(len)` of the slices they read.

use crate::dispatch::Table;
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
    f32_to_f16,
    quantize_i8,
    max_abs_f32,
    max_f32,
    td_update_row,
};

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

/// Stores four 8-lane accumulators as the canonical partial sums 0..32.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn lanes(s: [__m256; 4]) -> [f32; LANES] {
    let mut l = [0.0f32; LANES];
    for (k, v) in s.into_iter().enumerate() {
        // SAFETY: `l` has room for 8 floats at 8 * k for k < 4.
        unsafe { _mm256_storeu_ps(l.as_mut_ptr().add(8 * k), v) };
    }
    l
}

/// Canonical-order two-input reduction: `$ld` loads 8 lanes, `$step` folds a pair into an
/// accumulator, `$tail` adds the last `n % 32` elements into the stored partial sums.
macro_rules! reduce2 {
    ($a:ident, $b:ident, $ld:ident, $step:expr, $tail:path) => {{
        let n = $a.len().min($b.len());
        let (pa, pb) = ($a.as_ptr(), $b.as_ptr());
        let step = $step;
        let mut s = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + LANES <= n {
            for (k, acc) in s.iter_mut().enumerate() {
                // SAFETY: i + 8k + 8 <= i + 32 <= n, in bounds of both slices.
                *acc = step(*acc, unsafe { $ld(pa, i + 8 * k) }, unsafe {
                    $ld(pb, i + 8 * k)
                });
            }
            i += LANES;
        }
        let mut l = lanes(s);
        $tail(&$a[i..n], &$b[i..n], &mut l);
        scalar::fold(&l)
    }};
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn mul_add(s: __m256, x: __m256, y: __m256) -> __m256 {
    _mm256_add_ps(s, _mm256_mul_ps(x, y))
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn sq_add(s: __m256, x: __m256, y: __m256) -> __m256 {
    let d = _mm256_sub_ps(x, y);
    _mm256_add_ps(s, _mm256_mul_ps(d, d))
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    reduce2!(a, b, ld, mul_add, scalar::dot_tail)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    reduce2!(a, b, ld, sq_add, scalar::l2_tail)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    reduce2!(a, b, ld_h, mul_add, scalar::dot_tail)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn l2sq_f16(a: &[f16], b: &[f16]) -> f32 {
    reduce2!(a, b, ld_h, sq_add, scalar::l2_tail)
}

/// Canonical-order one-pass cosine reduction: three sets of four accumulators.
macro_rules! dot_norms {
    ($a:ident, $b:ident, $ld:ident) => {{
        let n = $a.len().min($b.len());
        let (pa, pb) = ($a.as_ptr(), $b.as_ptr());
        let mut s = [[_mm256_setzero_ps(); 4]; 3];
        let mut i = 0;
        while i + LANES <= n {
            for k in 0..4 {
                // SAFETY: i + 8k + 8 <= n.
                let (x, y) = unsafe { ($ld(pa, i + 8 * k), $ld(pb, i + 8 * k)) };
                s[0][k] = mul_add(s[0][k], x, y);
                s[1][k] = mul_add(s[1][k], x, x);
                s[2][k] = mul_add(s[2][k], y, y);
            }
            i += LANES;
        }
        let mut l = [lanes(s[0]), lanes(s[1]), lanes(s[2])];
        scalar::norms_tail(&$a[i..n], &$b[i..n], &mut l);
        [
            scalar::fold(&l[0]),
            scalar::fold(&l[1]),
            scalar::fold(&l[2]),
        ]
    }};
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_norms_f32(a: &[f32], b: &[f32]) -> [f32; 3] {
    dot_norms!(a, b, ld)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_norms_f16(a: &[f16], b: &[f16]) -> [f32; 3] {
    dot_norms!(a, b, ld_h)
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

/// Largest lane of a vector, reduced in registers.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn hmax(m: __m256) -> f32 {
    let m = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)))
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
    hmax(m).max(scalar::max_abs_f32(&a[i..]))
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn max_f32(a: &[f32]) -> f32 {
    let n = a.len();
    if n < 8 {
        return scalar::max_f32(a);
    }
    let mut m = _mm256_set1_ps(f32::NEG_INFINITY);
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n.
        m = _mm256_max_ps(m, unsafe { ld(a.as_ptr(), i) });
        i += 8;
    }
    hmax(m).max(scalar::max_f32(&a[i..]))
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
            _mm256_storeu_ps(p, _mm256_add_ps(x, _mm256_mul_ps(al, _mm256_sub_ps(t, x))));
        }
        i += 8;
    }
    scalar::td_update_row(&mut q[i..n], &target[i..n], alpha);
}
