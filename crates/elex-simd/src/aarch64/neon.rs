//! NEON kernels. Float reductions follow the canonical order of `scalar` (eight 4-lane accumulators
//! are partial sums 0..32, multiply then add), so results are bit-identical to every other ISA. f16
//! lanes are widened with the same exact integer bit transform as SSE2 (the f16 vector types are
//! not stable in Rust), narrowing to f16 stays scalar; i8 products are widened with `vmull_s8` and
//! pairwise-accumulated into i32 lanes.
//!
//! # Safety (whole module)
//! Every function here is an `unsafe fn` with `#[target_feature(enable = "neon")]`: the caller
//! must have checked that the CPU supports NEON. All loads stay below `n = min(len)`.

use crate::dispatch::{SCALAR, Table};
use crate::scalar::{self, LANES};
use core::arch::aarch64::*;
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
    dot_u4_i8_x4,
    ..SCALAR
};

/// Exact f16 -> f32 widening of four halves held in the low 16 bits of each 32-bit lane (see
/// `x86_64::sse2::widen_f16` for the method).
#[inline]
#[target_feature(enable = "neon")]
fn widen_f16(h: uint32x4_t) -> float32x4_t {
    let abs = vandq_u32(h, vdupq_n_u32(0x7fff));
    let f = vmulq_n_f32(
        vreinterpretq_f32_u32(vshlq_n_u32::<13>(abs)),
        f32::from_bits(0x7780_0000),
    );
    let infnan = vcgtq_u32(abs, vdupq_n_u32(0x7bff));
    let f = vorrq_u32(
        vreinterpretq_u32_f32(f),
        vandq_u32(infnan, vdupq_n_u32(0x7f80_0000)),
    );
    let sign = vshlq_n_u32::<16>(vandq_u32(h, vdupq_n_u32(0x8000)));
    vreinterpretq_f32_u32(vorrq_u32(f, sign))
}

/// # Safety
/// `p.add(i)..p.add(i + 4)` must be readable.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn ld(p: *const f32, i: usize) -> float32x4_t {
    // SAFETY: the caller guarantees 4 readable floats.
    unsafe { vld1q_f32(p.add(i)) }
}

/// Eight f16 values at `p + i`, widened to two f32x4.
///
/// # Safety
/// `p.add(i)..p.add(i + 8)` must be readable.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn ld_h(p: *const f16, i: usize) -> (float32x4_t, float32x4_t) {
    // SAFETY: f16 is repr(transparent) over u16; the caller guarantees 8 readable values.
    let x = unsafe { vld1q_u16(p.add(i).cast()) };
    (
        widen_f16(vmovl_u16(vget_low_u16(x))),
        widen_f16(vmovl_high_u16(x)),
    )
}

/// Thirty-two f32 lanes at `p + i` as eight 4-lane vectors.
///
/// # Safety
/// `p.add(i)..p.add(i + 32)` must be readable.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn ld32(p: *const f32, i: usize) -> [float32x4_t; 8] {
    // SAFETY: the caller guarantees 32 readable floats.
    core::array::from_fn(|k| unsafe { ld(p, i + 4 * k) })
}

/// Thirty-two f16 lanes at `p + i`, widened, as eight 4-lane vectors.
///
/// # Safety
/// `p.add(i)..p.add(i + 32)` must be readable.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn ld32_h(p: *const f16, i: usize) -> [float32x4_t; 8] {
    let mut v = [vdupq_n_f32(0.0); 8];
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
#[target_feature(enable = "neon")]
unsafe fn ld4_h(p: *const f16, i: usize) -> float32x4_t {
    // SAFETY: f16 is repr(transparent) over u16; the caller guarantees 4 readable values.
    widen_f16(vmovl_u16(unsafe { vld1_u16(p.add(i).cast()) }))
}

/// Four f32 lanes at `p + i`: the `have` (< 4) there, then zeros.
///
/// # Safety
/// `p.add(i)..p.add(i + have)` must be readable.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn ld4_pad(p: *const f32, i: usize, have: usize) -> float32x4_t {
    // SAFETY: the caller guarantees `have` readable floats at `p + i`.
    let buf = unsafe { crate::lanes128::pad4(p, i, have, 0.0) };
    // SAFETY: buf holds 4 floats.
    unsafe { vld1q_f32(buf.as_ptr()) }
}

/// Four f16 lanes at `p + i` widened: the `have` (< 4) there, then zeros.
///
/// # Safety
/// `p.add(i)..p.add(i + have)` must be readable.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn ld4_h_pad(p: *const f16, i: usize, have: usize) -> float32x4_t {
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
#[target_feature(enable = "neon")]
fn fold8(s: [float32x4_t; 8]) -> f32 {
    let s0 = vaddq_f32(s[0], s[4]);
    let s1 = vaddq_f32(s[1], s[5]);
    let s2 = vaddq_f32(s[2], s[6]);
    let s3 = vaddq_f32(s[3], s[7]);
    let v = vaddq_f32(vaddq_f32(s0, s2), vaddq_f32(s1, s3));
    let v = vaddq_f32(v, vextq_f32::<2>(v, v));
    vgetq_lane_f32::<0>(v) + vgetq_lane_f32::<1>(v)
}

#[inline]
#[target_feature(enable = "neon")]
fn mul_add(s: float32x4_t, x: float32x4_t, y: float32x4_t) -> float32x4_t {
    vaddq_f32(s, vmulq_f32(x, y))
}

#[inline]
#[target_feature(enable = "neon")]
fn sq_add(s: float32x4_t, x: float32x4_t, y: float32x4_t) -> float32x4_t {
    let d = vsubq_f32(x, y);
    vaddq_f32(s, vmulq_f32(d, d))
}

#[target_feature(enable = "neon")]
unsafe fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    reduce2_x8!(vdupq_n_f32(0.0), a, b, ld32, ld, ld4_pad, mul_add)
}

#[target_feature(enable = "neon")]
unsafe fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    reduce2_x8!(vdupq_n_f32(0.0), a, b, ld32, ld, ld4_pad, sq_add)
}

#[target_feature(enable = "neon")]
unsafe fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    reduce2_x8!(vdupq_n_f32(0.0), a, b, ld32_h, ld4_h, ld4_h_pad, mul_add)
}

#[target_feature(enable = "neon")]
unsafe fn l2sq_f16(a: &[f16], b: &[f16]) -> f32 {
    reduce2_x8!(vdupq_n_f32(0.0), a, b, ld32_h, ld4_h, ld4_h_pad, sq_add)
}

#[target_feature(enable = "neon")]
unsafe fn dot_norms_f32(a: &[f32], b: &[f32]) -> [f32; 3] {
    dot_norms_x8!(vdupq_n_f32(0.0), a, b, ld32, ld, ld4_pad)
}

#[target_feature(enable = "neon")]
unsafe fn dot_norms_f16(a: &[f16], b: &[f16]) -> [f32; 3] {
    dot_norms_x8!(vdupq_n_f32(0.0), a, b, ld32_h, ld4_h, ld4_h_pad)
}

#[target_feature(enable = "neon")]
unsafe fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let mut acc = vdupq_n_s32(0);
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n.
        let (x, y) = unsafe { (vld1q_s8(a.as_ptr().add(i)), vld1q_s8(b.as_ptr().add(i))) };
        // |x*y| <= 128*128 fits an i16 lane.
        acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(x), vget_low_s8(y)));
        acc = vpadalq_s16(acc, vmull_high_s8(x, y));
        i += 16;
    }
    vaddvq_s32(acc).wrapping_add(scalar::dot_i8(&a[i..n], &b[i..n]))
}

#[target_feature(enable = "neon")]
unsafe fn l2sq_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let mut acc = vdupq_n_s32(0);
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n.
        let (x, y) = unsafe { (vld1q_s8(a.as_ptr().add(i)), vld1q_s8(b.as_ptr().add(i))) };
        let d0 = vsubl_s8(vget_low_s8(x), vget_low_s8(y));
        let d1 = vsubl_high_s8(x, y);
        acc = vmlal_s16(acc, vget_low_s16(d0), vget_low_s16(d0));
        acc = vmlal_high_s16(acc, d0, d0);
        acc = vmlal_s16(acc, vget_low_s16(d1), vget_low_s16(d1));
        acc = vmlal_high_s16(acc, d1, d1);
        i += 16;
    }
    vaddvq_s32(acc).wrapping_add(scalar::l2sq_i8(&a[i..n], &b[i..n]))
}

#[target_feature(enable = "neon")]
unsafe fn f16_to_f32(src: &[f16], dst: &mut [f32]) {
    let n = src.len().min(dst.len());
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n for both slices.
        unsafe {
            let (x0, x1) = ld_h(src.as_ptr(), i);
            vst1q_f32(dst.as_mut_ptr().add(i), x0);
            vst1q_f32(dst.as_mut_ptr().add(i + 4), x1);
        }
        i += 8;
    }
    scalar::f16_to_f32(&src[i..n], &mut dst[i..n]);
}

#[target_feature(enable = "neon")]
unsafe fn quantize_i8(src: &[f32], dst: &mut [i8], inv_scale: f32) {
    let n = src.len().min(dst.len());
    let (inv, lo, hi) = (
        vdupq_n_f32(inv_scale),
        vdupq_n_f32(-127.0),
        vdupq_n_f32(127.0),
    );
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n for both slices; the store writes 8 bytes at dst + i.
        unsafe {
            let x0 = vminq_f32(vmaxq_f32(vmulq_f32(ld(src.as_ptr(), i), inv), lo), hi);
            let x1 = vminq_f32(vmaxq_f32(vmulq_f32(ld(src.as_ptr(), i + 4), inv), lo), hi);
            // vcvtnq: round to nearest, ties to even.
            let w = vcombine_s16(
                vqmovn_s32(vcvtnq_s32_f32(x0)),
                vqmovn_s32(vcvtnq_s32_f32(x1)),
            );
            vst1_s8(dst.as_mut_ptr().add(i), vqmovn_s16(w));
        }
        i += 8;
    }
    scalar::quantize_i8(&src[i..n], &mut dst[i..n], inv_scale);
}

#[target_feature(enable = "neon")]
unsafe fn max_abs_f32(a: &[f32]) -> f32 {
    let mut m = vdupq_n_f32(0.0);
    let mut i = 0;
    while i + 4 <= a.len() {
        // SAFETY: i + 4 <= len.
        m = vmaxq_f32(m, vabsq_f32(unsafe { ld(a.as_ptr(), i) }));
        i += 4;
    }
    vmaxvq_f32(m).max(scalar::max_abs_f32(&a[i..]))
}

#[target_feature(enable = "neon")]
unsafe fn max_f32(a: &[f32]) -> f32 {
    let mut m = vdupq_n_f32(f32::NEG_INFINITY);
    let mut i = 0;
    while i + 4 <= a.len() {
        // SAFETY: i + 4 <= len.
        m = vmaxq_f32(m, unsafe { ld(a.as_ptr(), i) });
        i += 4;
    }
    vmaxvq_f32(m).max(scalar::max_f32(&a[i..]))
}

#[target_feature(enable = "neon")]
unsafe fn td_update_row(q: &mut [f32], target: &[f32], alpha: f32) {
    let n = q.len().min(target.len());
    let al = vdupq_n_f32(alpha);
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n for both slices.
        unsafe {
            let p = q.as_mut_ptr().add(i);
            let x = vld1q_f32(p);
            let t = ld(target.as_ptr(), i);
            vst1q_f32(p, vaddq_f32(x, vmulq_f32(al, vsubq_f32(t, x))));
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
#[target_feature(enable = "neon")]
unsafe fn q4_levels(p: *const u8) -> (int8x16_t, int8x16_t) {
    // SAFETY: the caller guarantees 16 readable bytes; Q4_LEVELS is 16 bytes.
    let (c, lut) = unsafe { (vld1q_u8(p), vld1q_s8(crate::Q4_LEVELS.as_ptr())) };
    (
        vqtbl1q_s8(lut, vandq_u8(c, vdupq_n_u8(0x0F))),
        vqtbl1q_s8(lut, vshrq_n_u8::<4>(c)),
    )
}

/// The lane products of two i8 vectors (each at most 127², so an i16 holds it), added
/// pairwise into four i32 lanes.
#[inline]
#[target_feature(enable = "neon")]
fn madd_i8(acc: int32x4_t, x: int8x16_t, y: int8x16_t) -> int32x4_t {
    let acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(x), vget_low_s8(y)));
    vpadalq_s16(acc, vmull_high_s8(x, y))
}

/// The block of code bytes at `p` against 32 query values at `q`, added into `acc`.
///
/// # Safety
/// 16 bytes at `p` and 32 at `q` must be readable.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn q4_block_i8(acc: int32x4_t, p: *const u8, q: *const i8) -> int32x4_t {
    // SAFETY: as the caller guarantees.
    let ((lo, hi), x, y) = unsafe { (q4_levels(p), vld1q_s8(q), vld1q_s8(q.add(16))) };
    madd_i8(madd_i8(acc, lo, x), hi, y)
}

#[target_feature(enable = "neon")]
unsafe fn dot_q4_i8(codes: &[u8], q: &[i8]) -> i32 {
    let n = q.len().min(codes.len() / 16 * 32);
    let (pc, pq) = (codes.as_ptr(), q.as_ptr());
    let mut acc = vdupq_n_s32(0);
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
    vaddvq_s32(acc)
}

#[target_feature(enable = "neon")]
unsafe fn dot_q4_q4(a: &[u8], b: &[u8], n: usize) -> i32 {
    let n = n.min(a.len().min(b.len()) / 16 * 32);
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = vdupq_n_s32(0);
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
                    vld1q_s8(m.add(32 - r).cast()),
                    vld1q_s8(m.add(48 - r).cast()),
                )
            };
            alo = vandq_s8(alo, mlo);
            ahi = vandq_s8(ahi, mhi);
        }
        acc = madd_i8(madd_i8(acc, alo, blo), ahi, bhi);
        i += 32;
    }
    vaddvq_s32(acc)
}

/// A row's block of uniform 4-bit codes at `p` (raw nibbles, `0..=15`, so valid signed bytes)
/// against the query's 32 values in `x` and `y`, added into `acc`.
///
/// # Safety
/// 16 bytes at `p` must be readable.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn u4_block(acc: int32x4_t, p: *const u8, x: int8x16_t, y: int8x16_t) -> int32x4_t {
    // SAFETY: as the caller guarantees.
    let v = unsafe { vld1q_u8(p) };
    let lo = vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0f)));
    let hi = vreinterpretq_s8_u8(vshrq_n_u8::<4>(v));
    madd_i8(madd_i8(acc, lo, x), hi, y)
}

#[target_feature(enable = "neon")]
unsafe fn dot_u4_i8_x4(q: &[i8], rows: [&[u8]; 4]) -> [i32; 4] {
    let n = rows.iter().fold(q.len(), |n, r| n.min(r.len() / 16 * 32));
    let p = rows.map(<[u8]>::as_ptr);
    let mut acc = [vdupq_n_s32(0); 4];
    let mut i = 0;
    while i + 32 <= n {
        // SAFETY: i + 32 <= n: 32 query bytes at i, and 16 code bytes at i / 2 of every row.
        unsafe {
            let (x, y) = (
                vld1q_s8(q.as_ptr().add(i)),
                vld1q_s8(q.as_ptr().add(i + 16)),
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
            let (x, y) = (vld1q_s8(tail.as_ptr()), vld1q_s8(tail.as_ptr().add(16)));
            for (a, p) in acc.iter_mut().zip(p) {
                *a = u4_block(*a, p.add(i / 2), x, y);
            }
        }
    }
    acc.map(|a| vaddvq_s32(a))
}
