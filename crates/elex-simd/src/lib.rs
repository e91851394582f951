//! Distance, conversion and update kernels for elex, one implementation per instruction set.
//!
//! Strategy: every kernel exists once in [`scalar`](crate::Isa::Scalar) form, the oracle, and
//! once per ISA module (`x86_64::{sse2, avx2}`, `aarch64::neon`, `wasm32::simd128`). The only way
//! in is a [`Kernels`] value: [`Kernels::detect`] picks the best ISA the running CPU has (runtime
//! detection on x86_64, NEON on aarch64, compile-time `simd128` on wasm32) and
//! [`Kernels::force`] picks one by name for tests and benches. A `Kernels` value can only be
//! built for an ISA the CPU supports, which is the invariant that makes its calls safe.
//!
//! Every kernel takes slices of any length and alignment and handles tails itself. The safe
//! methods reject mismatched lengths with [`SimdError::LengthMismatch`]; the private kernels also
//! clamp to the shorter slice, so no input can read out of bounds.
//!
//! # Storage kinds
//! - `f32`: `dot`, `l2sq`, `cosine`, norms.
//! - `f16` ([`half::f16`]): the same metrics, each lane widened to f32 and accumulated in f32.
//! - `i8`: symmetric per-vector quantization, see [`Kernels::quantize_i8`]. A vector `x` is stored
//!   as `q = round_ties_even(x / s)` clamped to `[-127, 127]` with `s = max|x| / 127`, so
//!   `x ≈ s * q`. The integer kernels are exact (`i64` results): `dot(x, y) ≈ s_x s_y dot_i8(q_x,
//!   q_y)` serves dot and cosine (cosine is scale-free); `l2sq_i8` is exact on the integers and
//!   means `‖x − y‖²` only when both vectors share one scale. With per-vector scales, L2 is
//!   computed as `‖x‖² + ‖y‖² − 2 x·y` from the dot kernel and stored norms.
//! - `q4`: 4-bit codes with one scale per vector and sixteen non-uniform levels
//!   ([`Q4_LEVELS`], layout in [`Kernels::quantize_q4`]); `dot_q4_i8` scores an i8 query against
//!   a code row and `dot_q4_q4` two code rows, both exact integers like the i8 kernels.
//! - `u4`: uniform 4-bit codes in the same layout, `x ≈ s·(c − 7.5)` ([`Kernels::quantize_u4`]):
//!   a code is its own value, so `dot_u4_i8_x4` multiplies raw nibbles with an i8 query (no
//!   table lookup; in wasm's relaxed SIMD a nibble is a valid 7-bit operand), four rows a call.
//!   A row with 8 padding components or more can carry its scale there ([`u4_put_scale`],
//!   [`u4_row_scale`]), where a query padded with zeros does not see it.
//!
//! # Floating point
//! Float reductions (dot, l2sq, cosine for f32 and f16) follow one canonical order on every ISA:
//! element `i` goes into partial sum `i % 32`, multiply then add (never FMA), then a fixed
//! pairwise fold. So every ISA returns the same bits, a seeded HNSW build is byte-identical on
//! x86_64, aarch64 and wasm32, and the tests check SIMD against scalar exactly, besides checking
//! both against an f64 oracle within the summation bound. Integer kernels, conversions and `max`
//! are exact. Inputs with NaN give unspecified (but memory-safe) results: callers validate
//! finiteness first.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

mod checksum;
// Before the ISA modules, which expand its macros.
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
#[macro_use]
mod lanes128;
mod dispatch;
mod mem;
mod prefetch;
mod q4;
mod rng;
mod scalar;
mod short;

#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(target_arch = "aarch64")]
mod aarch64;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm32;

pub use checksum::{Checksum, checksum64};
pub use dispatch::{Isa, Kernels};
pub use half::f16;
pub use mem::advise_huge_pages;
pub use prefetch::{CACHE_LINE, prefetch};
pub use q4::{Q4_LEVELS, q4_bytes, u4_put_scale, u4_row_scale, u4_scale_fits};
pub use rng::SplitMix64;
pub use short::Short;

/// Errors from the safe kernel API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SimdError {
    /// Two slices that must have the same length do not.
    #[error("length mismatch: left has {left} elements, right has {right}")]
    LengthMismatch {
        /// Length of the first slice.
        left: usize,
        /// Length of the second slice.
        right: usize,
    },
    /// Cosine similarity is undefined when one of the vectors has norm zero.
    #[error("cosine similarity is undefined for a zero vector")]
    ZeroNorm,
    /// A quantization input had a NaN or infinite component.
    #[error("input has a NaN or infinite component")]
    NonFinite,
    /// The requested instruction set is not available on this CPU or build.
    #[error("instruction set {0:?} is not available on this CPU or build")]
    Unsupported(Isa),
}
