//! The scalar kernels: the fallback where no SIMD is available, and the definition of the
//! canonical summation order every ISA reproduces bit for bit.
//!
//! Canonical order (float reductions): element `i` is added into partial sum `i % LANES`
//! (a multiply, rounded, then an add, rounded: never FMA), and the `LANES` partial sums are
//! folded by [`fold`]'s fixed pairwise tree. Every SIMD module keeps its accumulators so that
//! lane `j` of accumulator `k` is partial sum `k * width + j`, stores them into the same array
//! and finishes with the same tail and fold here, so dot, l2sq and cosine are bit-identical on
//! every ISA; that is what makes seeded HNSW builds byte-identical across platforms. Every
//! function clamps to the shorter slice.

use half::f16;

/// Number of partial sums in the canonical order.
pub(crate) const LANES: usize = 32;

/// A storage scalar that widens to f32 exactly.
pub(crate) trait Lane: Copy {
    fn f(self) -> f32;
}
impl Lane for f32 {
    #[inline(always)]
    fn f(self) -> f32 {
        self
    }
}
impl Lane for f16 {
    #[inline(always)]
    fn f(self) -> f32 {
        self.to_f32()
    }
}

/// The fixed pairwise tree over the partial sums: halves are added lane-wise until one is left.
#[inline]
pub(crate) fn fold(l: &[f32; LANES]) -> f32 {
    let mut l = *l;
    let mut w = LANES / 2;
    while w > 0 {
        for j in 0..w {
            l[j] += l[j + w];
        }
        w /= 2;
    }
    l[0]
}

/// Adds `a[i] * b[i]` into partial sum `i % LANES`. SIMD modules call it on the tail that starts
/// at a multiple of `LANES`, so index `i` of the tail is element `start + i` of the vector.
#[inline]
pub(crate) fn dot_tail<T: Lane>(a: &[T], b: &[T], l: &mut [f32; LANES]) {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        l[i % LANES] += x.f() * y.f();
    }
}

/// Adds `(a[i] − b[i])²` into partial sum `i % LANES`.
#[inline]
pub(crate) fn l2_tail<T: Lane>(a: &[T], b: &[T], l: &mut [f32; LANES]) {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let d = x.f() - y.f();
        l[i % LANES] += d * d;
    }
}

/// Adds `a·b`, `a·a` and `b·b` terms into three sets of partial sums.
#[inline]
pub(crate) fn norms_tail<T: Lane>(a: &[T], b: &[T], l: &mut [[f32; LANES]; 3]) {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let (x, y) = (x.f(), y.f());
        l[0][i % LANES] += x * y;
        l[1][i % LANES] += x * x;
        l[2][i % LANES] += y * y;
    }
}

pub(crate) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut l = [0.0; LANES];
    dot_tail(a, b, &mut l);
    fold(&l)
}

pub(crate) fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut l = [0.0; LANES];
    l2_tail(a, b, &mut l);
    fold(&l)
}

/// `[a·b, a·a, b·b]` in one pass, for cosine.
pub(crate) fn dot_norms_f32(a: &[f32], b: &[f32]) -> [f32; 3] {
    let mut l = [[0.0; LANES]; 3];
    norms_tail(a, b, &mut l);
    [fold(&l[0]), fold(&l[1]), fold(&l[2])]
}

pub(crate) fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    let mut l = [0.0; LANES];
    dot_tail(a, b, &mut l);
    fold(&l)
}

pub(crate) fn l2sq_f16(a: &[f16], b: &[f16]) -> f32 {
    let mut l = [0.0; LANES];
    l2_tail(a, b, &mut l);
    fold(&l)
}

pub(crate) fn dot_norms_f16(a: &[f16], b: &[f16]) -> [f32; 3] {
    let mut l = [[0.0; LANES]; 3];
    norms_tail(a, b, &mut l);
    [fold(&l[0]), fold(&l[1]), fold(&l[2])]
}

/// Exact while `len * 128 * 128` fits an `i32`; the safe wrapper feeds at most
/// [`crate::dispatch::I8_CHUNK`] elements per call.
pub(crate) fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut s = 0i32;
    for (x, y) in a.iter().zip(b) {
        s = s.wrapping_add(i32::from(*x) * i32::from(*y));
    }
    s
}

pub(crate) fn l2sq_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut s = 0i32;
    for (x, y) in a.iter().zip(b) {
        let d = i32::from(*x) - i32::from(*y);
        s = s.wrapping_add(d * d);
    }
    s
}

pub(crate) fn f16_to_f32(src: &[f16], dst: &mut [f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = s.to_f32();
    }
}

pub(crate) fn f32_to_f16(src: &[f32], dst: &mut [f16]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = f16::from_f32(*s);
    }
}

/// `dst[i] = clamp(round_ties_even(src[i] * inv_scale), -127, 127)`.
pub(crate) fn quantize_i8(src: &[f32], dst: &mut [i8], inv_scale: f32) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = (s * inv_scale).clamp(-127.0, 127.0).round_ties_even() as i8;
    }
}

/// Largest absolute value; 0 for an empty slice.
pub(crate) fn max_abs_f32(a: &[f32]) -> f32 {
    let mut m = 0.0f32;
    for x in a {
        m = m.max(x.abs());
    }
    m
}

/// Largest value; `-inf` for an empty slice.
pub(crate) fn max_f32(a: &[f32]) -> f32 {
    let mut m = f32::NEG_INFINITY;
    for x in a {
        m = m.max(*x);
    }
    m
}

/// `q[i] += alpha * (target[i] - q[i])`.
pub(crate) fn td_update_row(q: &mut [f32], target: &[f32], alpha: f32) {
    for (x, t) in q.iter_mut().zip(target) {
        *x += alpha * (t - *x);
    }
}

/// Level of element `j` (0..32) of a 32-element block of 4-bit codes (16 bytes): elements
/// 0..16 in the low nibbles, 16..32 in the high nibbles.
#[inline]
fn q4_level(block: &[u8], j: usize) -> i32 {
    i32::from(crate::q4::Q4_LEVELS[usize::from(nibble(block, j))])
}

/// Code `j` (`0..32`) of a 16-byte block: byte `j`'s low nibble below 16, byte `j - 16`'s high
/// nibble from 16 (the caller checks that the byte is there).
#[inline]
fn nibble(block: &[u8], j: usize) -> u8 {
    if j < 16 {
        block[j] & 0x0F
    } else {
        block[j - 16] >> 4
    }
}

/// `Σ qᵢ · LEVELS[cᵢ]` over `q.len()` elements (clamped to the elements `codes` holds).
/// Exact while `len * 127 * 127` fits an `i32`.
pub(crate) fn dot_q4_i8(codes: &[u8], q: &[i8]) -> i32 {
    let mut s = 0i32;
    for (block, qb) in codes.chunks(16).zip(q.chunks(32)) {
        for (j, &x) in qb.iter().enumerate() {
            if j % 16 < block.len() {
                s = s.wrapping_add(i32::from(x) * q4_level(block, j));
            }
        }
    }
    s
}

/// `Σ qᵢ · cᵢ` of an i8 query and each of four rows of uniform 4-bit codes (`cᵢ` the raw
/// nibble, see `q4::quantize_u4`), over `q.len()` elements (clamped to what each row holds).
/// Exact while `len * 128 * 15` fits an `i32`.
pub(crate) fn dot_u4_i8_x4(q: &[i8], rows: [&[u8]; 4]) -> [i32; 4] {
    rows.map(|r| {
        let mut s = 0i32;
        for (block, qb) in r.chunks(16).zip(q.chunks(32)) {
            for (j, &x) in qb.iter().enumerate() {
                if j % 16 < block.len() {
                    s = s.wrapping_add(i32::from(x) * i32::from(nibble(block, j)));
                }
            }
        }
        s
    })
}

/// `Σ LEVELS[aᵢ] · LEVELS[bᵢ]` over the first `n` elements of two code rows (clamped to what
/// both hold).
pub(crate) fn dot_q4_q4(a: &[u8], b: &[u8], n: usize) -> i32 {
    let mut s = 0i32;
    for (blk, (ba, bb)) in a.chunks(16).zip(b.chunks(16)).enumerate() {
        let here = n.saturating_sub(blk * 32).min(32);
        for j in 0..here {
            if j % 16 < ba.len().min(bb.len()) {
                s = s.wrapping_add(q4_level(ba, j) * q4_level(bb, j));
            }
        }
    }
    s
}
