//! The canonical-order float reductions of the 128-bit ISAs (SSE2, NEON, wasm simd128), written
//! once: each ISA module passes its zero vector, its loads and its step (`mul_add` or `sq_add`),
//! and the macros call the `fold8`, `mul_add` and `LANES` in scope where they expand, which name
//! the same operations in each instruction set. Eight accumulators of four lanes hold partial sums
//! 0..32 (element `i` in partial sum `i % 32`), as `scalar::fold` expects.

/// The tail group of both inputs at `i`: four values as they are, or the `have` (< 4) left
/// zero-padded. `have` must be at most the elements left at `i` in both inputs.
macro_rules! tail_group {
    ($pa:ident, $pb:ident, $i:ident, $have:ident, $ld4:ident, $pad:ident) => {
        // SAFETY: `have` readable elements at i in both slices (the callers take it as
        // `min(n - i, 4)`).
        unsafe {
            if $have == 4 {
                ($ld4($pa, $i), $ld4($pb, $i))
            } else {
                ($pad($pa, $i, $have), $pad($pb, $i, $have))
            }
        }
    };
}

/// Canonical-order two-input reduction: `$ld32` loads 32 lanes as eight vectors, `$step` folds a
/// pair into an accumulator. The tail after the last whole block of 32 goes into the same
/// accumulators (its element `j` is partial sum `j`): whole groups of 4 as they are, the last
/// group zero-padded by `$pad`, which leaves the partial sums it does not reach unchanged (a zero
/// product added to a sum that started at +0.0, which can never be -0.0, changes no bit). Fewer
/// than 32 elements remain after the main loop, so at most eight groups, one per accumulator in
/// order; the tail loops over the accumulators themselves (not an index), which unrolls into
/// fixed ones and keeps them out of memory (in wasm an indexed accumulator was spilled).
macro_rules! reduce2_x8 {
    ($zero:expr, $a:ident, $b:ident, $ld32:ident, $ld4:ident, $pad:ident, $step:ident) => {{
        let n = $a.len().min($b.len());
        let (pa, pb) = ($a.as_ptr(), $b.as_ptr());
        let mut s = [$zero; 8];
        let mut i = 0;
        while i + LANES <= n {
            // SAFETY: i + 32 <= n, in bounds of both slices.
            let (x, y) = unsafe { ($ld32(pa, i), $ld32(pb, i)) };
            for k in 0..8 {
                s[k] = $step(s[k], x[k], y[k]);
            }
            i += LANES;
        }
        for acc in s.iter_mut() {
            let have = (n - i).min(4);
            if have == 0 {
                break;
            }
            let (x, y) = tail_group!(pa, pb, i, have, $ld4, $pad);
            *acc = $step(*acc, x, y);
            i += have;
        }
        fold8(s)
    }};
}

/// Canonical-order one-pass cosine reduction: three sets of eight accumulators (`a·b`, `a·a`,
/// `b·b`), the blocks and the tail as in [`reduce2_x8`].
macro_rules! dot_norms_x8 {
    ($zero:expr, $a:ident, $b:ident, $ld32:ident, $ld4:ident, $pad:ident) => {{
        let n = $a.len().min($b.len());
        let (pa, pb) = ($a.as_ptr(), $b.as_ptr());
        let mut s = [[$zero; 8]; 3];
        let mut i = 0;
        while i + LANES <= n {
            // SAFETY: i + 32 <= n.
            let (x, y) = unsafe { ($ld32(pa, i), $ld32(pb, i)) };
            for k in 0..8 {
                s[0][k] = mul_add(s[0][k], x[k], y[k]);
                s[1][k] = mul_add(s[1][k], x[k], x[k]);
                s[2][k] = mul_add(s[2][k], y[k], y[k]);
            }
            i += LANES;
        }
        for k in 0..8 {
            let have = (n - i).min(4);
            if have == 0 {
                break;
            }
            let (x, y) = tail_group!(pa, pb, i, have, $ld4, $pad);
            s[0][k] = mul_add(s[0][k], x, y);
            s[1][k] = mul_add(s[1][k], x, x);
            s[2][k] = mul_add(s[2][k], y, y);
            i += have;
        }
        [fold8(s[0]), fold8(s[1]), fold8(s[2])]
    }};
}

/// The `have` (< 4) values at `p + i`, then `zero`s: the tail group that `reduce2_x8` and
/// `dot_norms_x8` pad (SSE2 and NEON load it from this buffer; wasm builds its vector in place).
///
/// # Safety
/// `p.add(i)..p.add(i + have)` must be readable.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
pub(crate) unsafe fn pad4<T: Copy>(p: *const T, i: usize, have: usize, zero: T) -> [T; 4] {
    // SAFETY: the caller guarantees `have` readable values at `p + i`; each arm reads that many.
    unsafe {
        let x = |j: usize| *p.add(i + j);
        match have {
            1 => [x(0), zero, zero, zero],
            2 => [x(0), x(1), zero, zero],
            3 => [x(0), x(1), x(2), zero],
            _ => [zero; 4],
        }
    }
}
