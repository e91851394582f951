//! AVX-512 (F, BW, VL) kernels for the f32 and i8 distances, over AVX2's for the rest (an
//! AVX-512 f16 kernel, widening 16 lanes per load, searched docs-50k 0.82x as fast as AVX2's:
//! not kept). Float reductions follow the canonical order of `scalar`: the 32 partial sums of a
//! block are two 16-lane accumulators (multiply then add, no FMA), the tail after the last block
//! goes into the same partial sums through masked loads, and the fold is `scalar::fold`'s
//! pairwise tree, so every result is bit-identical to every other ISA.
//!
//! One query against four rows (`dot_f32_x4`, `l2sq_f32_x4`) is where AVX-512 pays: a single
//! row's two accumulators are a chain of dependent adds (one per block), which leaves half of
//! the vector units idle; four rows are eight independent chains.
//!
//! # Safety (whole module)
//! Every function here is an `unsafe fn` with `#[target_feature(enable = "avx512f,avx512bw,
//! avx512vl,avx2,fma,f16c")]`: the caller must have checked that the CPU supports them, which
//! `Kernels::force` does. Loads stay below `n = min(len)` of the slices they read: float loads
//! are masked to the lanes below `n` (AVX-512 masked loads neither read nor fault on the others;
//! their addresses are formed with `wrapping_add`, so an empty mask past the end is no pointer
//! overflow), i8 loads are whole 32-byte loads that end at or before `n`.

use crate::dispatch::Table;
use crate::scalar::{self, LANES};
use crate::x86_64::avx2;
use core::arch::x86_64::*;

pub(crate) const TABLE: Table = Table {
    dot_f32,
    l2sq_f32,
    dot_i8,
    l2sq_i8,
    dot_f32_x4: Some(dot_f32_x4),
    l2sq_f32_x4: Some(l2sq_f32_x4),
    dot_i8_x4: Some(dot_i8_x4),
    ..avx2::TABLE
};

/// The mask of the first `have` (<= 16) lanes.
#[inline]
fn first(have: usize) -> __mmask16 {
    ((1u32 << have) - 1) as __mmask16
}

/// Sixteen f32 lanes at `p + i`: the first `have` (<= 16) there, the rest zero.
///
/// # Safety
/// The `have` floats from `p + i` on must be readable; the CPU must have AVX-512F.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
unsafe fn ld(p: *const f32, i: usize, have: usize) -> __m512 {
    // SAFETY: the caller guarantees `have` readable floats at `p + i`; the mask loads only those
    // (none when `have` is 0, where `p + i` may lie past the slice: hence `wrapping_add`).
    unsafe { _mm512_maskz_loadu_ps(first(have), p.wrapping_add(i)) }
}

/// The canonical fold of the 32 partial sums held as two 16-lane accumulators: lanes `j` and
/// `j + 16`, then `j` and `j + 8` (AVX2's `(s0 + s2) + (s1 + s3)`), then the same 128-bit,
/// pair and lane steps as `avx2::fold4`. Same adds in the same order: the same bits.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
fn fold2(s0: __m512, s1: __m512) -> f32 {
    let w = _mm512_add_ps(s0, s1);
    let lo = _mm512_castps512_ps256(w);
    let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(w), 1));
    let v = _mm256_add_ps(lo, hi);
    let h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 0b01)))
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
fn mul_add(s: __m512, x: __m512, y: __m512) -> __m512 {
    _mm512_add_ps(s, _mm512_mul_ps(x, y))
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
fn sq_add(s: __m512, x: __m512, y: __m512) -> __m512 {
    let d = _mm512_sub_ps(x, y);
    _mm512_add_ps(s, _mm512_mul_ps(d, d))
}

/// Canonical-order reduction of one query against `R` rows: `$ld` loads up to 16 lanes (zeros
/// past `have`), `$step` folds a pair into an accumulator. The tail after the last block of 32
/// puts its element `j` into partial sum `j`; the zero lanes past it add `+0.0` products to
/// sums that started at `+0.0` and so can never be `-0.0`: no bit changes.
macro_rules! reduce {
    ($q:ident, $rows:ident, $ld:ident, $step:expr) => {{
        let n = $rows.iter().fold($q.len(), |n, r| n.min(r.len()));
        let pq = $q.as_ptr();
        let pr = $rows.map(|r| r.as_ptr());
        let step = $step;
        let mut s0 = [_mm512_setzero_ps(); R];
        let mut s1 = [_mm512_setzero_ps(); R];
        let mut i = 0;
        while i < n {
            let have = (n - i).min(LANES);
            let (h0, h1) = (have.min(16), have.saturating_sub(16));
            // SAFETY: h0 + h1 = have <= n - i elements are readable at i in every slice.
            let (q0, q1) = unsafe { ($ld(pq, i, h0), $ld(pq, i + 16, h1)) };
            for r in 0..R {
                // SAFETY: as above, for row r.
                let (x0, x1) = unsafe { ($ld(pr[r], i, h0), $ld(pr[r], i + 16, h1)) };
                s0[r] = step(s0[r], q0, x0);
                s1[r] = step(s1[r], q1, x1);
            }
            i += have;
        }
        let mut out = [0.0; R];
        for r in 0..R {
            out[r] = fold2(s0[r], s1[r]);
        }
        out
    }};
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
unsafe fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    const R: usize = 1;
    let rows = [b];
    reduce!(a, rows, ld, mul_add)[0]
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
unsafe fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    const R: usize = 1;
    let rows = [b];
    reduce!(a, rows, ld, sq_add)[0]
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
unsafe fn dot_f32_x4(q: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
    const R: usize = 4;
    reduce!(q, rows, ld, mul_add)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
unsafe fn l2sq_f32_x4(q: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
    const R: usize = 4;
    reduce!(q, rows, ld, sq_add)
}

/// Thirty-two i8 values at `p + i`, sign-extended to i16.
///
/// # Safety
/// `p.add(i)..p.add(i + 32)` must be readable; the CPU must have AVX-512BW.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
unsafe fn ld_i8(p: *const i8, i: usize) -> __m512i {
    // SAFETY: the caller guarantees 32 readable bytes.
    _mm512_cvtepi8_epi16(unsafe { _mm256_loadu_si256(p.add(i).cast()) })
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
unsafe fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = _mm512_setzero_si512();
    let mut i = 0;
    while i + 32 <= n {
        // SAFETY: i + 32 <= n.
        let (x, y) = unsafe { (ld_i8(pa, i), ld_i8(pb, i)) };
        acc = _mm512_add_epi32(acc, _mm512_madd_epi16(x, y));
        i += 32;
    }
    _mm512_reduce_add_epi32(acc).wrapping_add(scalar::dot_i8(&a[i..n], &b[i..n]))
}

/// One i8 query against four rows: each block of the query is loaded and widened once; the
/// tail goes through masked loads (integer sums: any order gives the same result).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
unsafe fn dot_i8_x4(q: &[i8], rows: [&[i8]; 4]) -> [i32; 4] {
    let n = rows.iter().fold(q.len(), |n, r| n.min(r.len()));
    let pq = q.as_ptr();
    let pr = rows.map(|r| r.as_ptr());
    let mut acc = [_mm512_setzero_si512(); 4];
    let mut i = 0;
    while i + 32 <= n {
        // SAFETY: i + 32 <= n.
        let x = unsafe { ld_i8(pq, i) };
        for r in 0..4 {
            // SAFETY: as above, for row r.
            let y = unsafe { ld_i8(pr[r], i) };
            acc[r] = _mm512_add_epi32(acc[r], _mm512_madd_epi16(x, y));
        }
        i += 32;
    }
    if i < n {
        let m = ((1u64 << (n - i)) - 1) as __mmask32;
        // SAFETY: the mask loads only the n - i < 32 readable bytes at i (none past them).
        let ld = |p: *const i8| unsafe {
            _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, p.wrapping_add(i)))
        };
        let x = ld(pq);
        for r in 0..4 {
            acc[r] = _mm512_add_epi32(acc[r], _mm512_madd_epi16(x, ld(pr[r])));
        }
    }
    acc.map(|a| _mm512_reduce_add_epi32(a))
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
unsafe fn l2sq_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = _mm512_setzero_si512();
    let mut i = 0;
    while i + 32 <= n {
        // SAFETY: i + 32 <= n.
        let d = unsafe { _mm512_sub_epi16(ld_i8(pa, i), ld_i8(pb, i)) };
        acc = _mm512_add_epi32(acc, _mm512_madd_epi16(d, d));
        i += 32;
    }
    _mm512_reduce_add_epi32(acc).wrapping_add(scalar::l2sq_i8(&a[i..n], &b[i..n]))
}
