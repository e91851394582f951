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
    dot_q4_i8,
    dot_q4_q4,
    dot_f32_x4: None,
    l2sq_f32_x4: None,
    dot_i8_x4: None,
    dot_u4_i8_x4,
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

/// Eight f32 lanes at `p + i`: the `have` (< 8) there, then zeros.
///
/// # Safety
/// `p.add(i)..p.add(i + have)` must be readable; the CPU must have AVX.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn ld_pad(p: *const f32, i: usize, have: usize) -> __m256 {
    // A masked load: lanes at or past `have` are neither read nor faulted on, and read as zero.
    let mask = _mm256_cmpgt_epi32(
        _mm256_set1_epi32(have as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    );
    // SAFETY: the caller guarantees `have` readable floats at `p + i`; only those are loaded.
    unsafe { _mm256_maskload_ps(p.add(i), mask) }
}

/// Eight f16 lanes at `p + i` widened: the `have` (< 8) there, then zeros.
///
/// # Safety
/// `p.add(i)..p.add(i + have)` must be readable; the CPU must have F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn ld_h_pad(p: *const f16, i: usize, have: usize) -> __m256 {
    let mut buf = [f16::ZERO; 8];
    // SAFETY: the caller guarantees `have` readable values at `p + i`; have <= 8.
    unsafe { core::ptr::copy_nonoverlapping(p.add(i), buf.as_mut_ptr(), have.min(8)) };
    // SAFETY: buf holds 8 values.
    unsafe { ld_h(buf.as_ptr(), 0) }
}

/// The canonical fold (`scalar::fold`'s pairwise tree over partial sums 0..32) on the four
/// accumulators with lane-wise adds: accumulators 0+2 and 1+3, then 0+1, then the 128-bit
/// halves, then lanes (0,1)+(2,3), then lanes 0+1. Same adds in the same order: the same bits.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn fold4(s: [__m256; 4]) -> f32 {
    let v = _mm256_add_ps(_mm256_add_ps(s[0], s[2]), _mm256_add_ps(s[1], s[3]));
    let h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 0b01)))
}

/// Canonical-order two-input reduction: `$ld` loads 8 lanes, `$step` folds a pair into an
/// accumulator. The tail after the last whole block of 32 goes into the same accumulators (its
/// element `j` is partial sum `j`): whole groups of 8 as they are, the last group zero-padded,
/// which leaves the partial sums it does not reach unchanged (a zero product added to a sum that
/// started at +0.0, which can never be -0.0, changes no bit).
macro_rules! reduce2 {
    ($a:ident, $b:ident, $ld:ident, $pad:ident, $step:expr) => {{
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
        let mut k = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n; k < 4 because fewer than 32 elements remain.
            s[k] = step(s[k], unsafe { $ld(pa, i) }, unsafe { $ld(pb, i) });
            i += 8;
            k += 1;
        }
        if i < n {
            // SAFETY: n - i < 8 readable elements in both slices.
            s[k] = step(s[k], unsafe { $pad(pa, i, n - i) }, unsafe {
                $pad(pb, i, n - i)
            });
        }
        fold4(s)
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
    reduce2!(a, b, ld, ld_pad, mul_add)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    reduce2!(a, b, ld, ld_pad, sq_add)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    reduce2!(a, b, ld_h, ld_h_pad, mul_add)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn l2sq_f16(a: &[f16], b: &[f16]) -> f32 {
    reduce2!(a, b, ld_h, ld_h_pad, sq_add)
}

/// Canonical-order one-pass cosine reduction: three sets of four accumulators, the tail as in
/// `reduce2`.
macro_rules! dot_norms {
    ($a:ident, $b:ident, $ld:ident, $pad:ident) => {{
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
        let mut k = 0;
        while i < n {
            let have = (n - i).min(8);
            // SAFETY: `have` readable elements at i in both slices; k < 4 as in `reduce2`.
            let (x, y) = unsafe {
                if have == 8 {
                    ($ld(pa, i), $ld(pb, i))
                } else {
                    ($pad(pa, i, have), $pad(pb, i, have))
                }
            };
            s[0][k] = mul_add(s[0][k], x, y);
            s[1][k] = mul_add(s[1][k], x, x);
            s[2][k] = mul_add(s[2][k], y, y);
            i += have;
            k += 1;
        }
        [fold4(s[0]), fold4(s[1]), fold4(s[2])]
    }};
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_norms_f32(a: &[f32], b: &[f32]) -> [f32; 3] {
    dot_norms!(a, b, ld, ld_pad)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_norms_f16(a: &[f16], b: &[f16]) -> [f32; 3] {
    dot_norms!(a, b, ld_h, ld_h_pad)
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

/// The levels of 32 components from 16 code bytes at `p`: components 0..16 and 16..32, as i8.
///
/// # Safety
/// `p..p + 16` must be readable; the CPU must have AVX2.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q4_levels(p: *const u8) -> (__m128i, __m128i) {
    // SAFETY: the caller guarantees 16 readable bytes; Q4_LEVELS is 16 bytes.
    let (c, lut) = unsafe {
        (
            _mm_loadu_si128(p.cast()),
            _mm_loadu_si128(crate::Q4_LEVELS.as_ptr().cast()),
        )
    };
    let m = _mm_set1_epi8(0x0F);
    let lo = _mm_shuffle_epi8(lut, _mm_and_si128(c, m));
    let hi = _mm_shuffle_epi8(lut, _mm_and_si128(_mm_srli_epi16(c, 4), m));
    (lo, hi)
}

/// The i16 products of two runs of 16 i8 values, summed pairwise into eight i32 lanes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn madd_i8(x: __m128i, y: __m128i) -> __m256i {
    _mm256_madd_epi16(_mm256_cvtepi8_epi16(x), _mm256_cvtepi8_epi16(y))
}

/// The block of code bytes at `p` against 32 query values at `q`, added into `acc`.
///
/// # Safety
/// 16 bytes at `p` and 32 at `q` must be readable; the CPU must have AVX2.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q4_block_i8(acc: __m256i, p: *const u8, q: *const i8) -> __m256i {
    // SAFETY: as the caller guarantees.
    let ((lo, hi), x, y) = unsafe {
        (
            q4_levels(p),
            _mm_loadu_si128(q.cast()),
            _mm_loadu_si128(q.add(16).cast()),
        )
    };
    _mm256_add_epi32(acc, _mm256_add_epi32(madd_i8(lo, x), madd_i8(hi, y)))
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_q4_i8(codes: &[u8], q: &[i8]) -> i32 {
    let n = q.len().min(codes.len() / 16 * 32);
    let (pc, pq) = (codes.as_ptr(), q.as_ptr());
    let mut acc = _mm256_setzero_si256();
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
        // SAFETY: n > i means a block was started, so 16 code bytes are at i / 2 (a row has 16
        // bytes per started block); `tail` has 32.
        acc = unsafe { q4_block_i8(acc, pc.add(i / 2), tail.as_ptr()) };
    }
    hsum_i32(acc)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_q4_q4(a: &[u8], b: &[u8], n: usize) -> i32 {
    let n = n.min(a.len().min(b.len()) / 16 * 32);
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = _mm256_setzero_si256();
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
                    _mm_loadu_si128(m.add(32 - r).cast()),
                    _mm_loadu_si128(m.add(48 - r).cast()),
                )
            };
            alo = _mm_and_si128(alo, mlo);
            ahi = _mm_and_si128(ahi, mhi);
        }
        acc = _mm256_add_epi32(acc, _mm256_add_epi32(madd_i8(alo, blo), madd_i8(ahi, bhi)));
        i += 32;
    }
    hsum_i32(acc)
}

/// A row's block of uniform 4-bit codes at `p` (raw nibbles) against the query's 32 values in
/// `q`, added into `acc`: the nibbles as unsigned bytes times the query's signed ones
/// (`maddubs`: a pair sums to at most 2 · 15 · 128, no saturation), then pairs into i32 lanes.
///
/// # Safety
/// 16 bytes at `p` must be readable; the CPU must have AVX2.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn u4_block(acc: __m256i, p: *const u8, q: __m256i) -> __m256i {
    // SAFETY: as the caller guarantees.
    let v = unsafe { _mm_loadu_si128(p.cast()) };
    // Low lane: components 0..16 (low nibbles); high lane: 16..32 (high nibbles).
    let c = _mm256_and_si256(
        _mm256_set_m128i(_mm_srli_epi16(v, 4), v),
        _mm256_set1_epi8(0x0f),
    );
    let pairs = _mm256_maddubs_epi16(c, q);
    _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_u4_i8_x4(q: &[i8], rows: [&[u8]; 4]) -> [i32; 4] {
    let n = rows.iter().fold(q.len(), |n, r| n.min(r.len() / 16 * 32));
    let p = rows.map(<[u8]>::as_ptr);
    let mut acc = [_mm256_setzero_si256(); 4];
    let mut i = 0;
    while i + 32 <= n {
        // SAFETY: i + 32 <= n: 32 query bytes at i, and 16 code bytes at i / 2 of every row
        // (n is at most twice each row's whole blocks).
        unsafe {
            let qv = _mm256_loadu_si256(q.as_ptr().add(i).cast());
            for (a, p) in acc.iter_mut().zip(p) {
                *a = u4_block(*a, p.add(i / 2), qv);
            }
        }
        i += 32;
    }
    if i < n {
        // The last, partial block: the query's tail padded with zeros, whose products vanish.
        let mut tail = [0i8; 32];
        tail[..n - i].copy_from_slice(&q[i..n]);
        // SAFETY: `tail` has 32 bytes; n > i means a block was started, so every row has 16
        // code bytes at i / 2.
        unsafe {
            let qv = _mm256_loadu_si256(tail.as_ptr().cast());
            for (a, p) in acc.iter_mut().zip(p) {
                *a = u4_block(*a, p.add(i / 2), qv);
            }
        }
    }
    acc.map(|a| hsum_i32(a))
}
