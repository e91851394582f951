//! The scalar kernels: the oracle every SIMD module is tested against, and the fallback where no
//! SIMD is available. Written for obviousness: one accumulator, one element at a time, in order.
//! Every function clamps to the shorter slice.

use half::f16;

pub(crate) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut s = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        s += x * y;
    }
    s
}

pub(crate) fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut s = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        let d = x - y;
        s += d * d;
    }
    s
}

/// `[a·b, a·a, b·b]` in one pass, for cosine.
pub(crate) fn dot_norms_f32(a: &[f32], b: &[f32]) -> [f32; 3] {
    let mut s = [0.0f32; 3];
    for (x, y) in a.iter().zip(b) {
        s[0] += x * y;
        s[1] += x * x;
        s[2] += y * y;
    }
    s
}

pub(crate) fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    let mut s = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        s += x.to_f32() * y.to_f32();
    }
    s
}

pub(crate) fn l2sq_f16(a: &[f16], b: &[f16]) -> f32 {
    let mut s = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        let d = x.to_f32() - y.to_f32();
        s += d * d;
    }
    s
}

pub(crate) fn dot_norms_f16(a: &[f16], b: &[f16]) -> [f32; 3] {
    let mut s = [0.0f32; 3];
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (x.to_f32(), y.to_f32());
        s[0] += x * y;
        s[1] += x * x;
        s[2] += y * y;
    }
    s
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
