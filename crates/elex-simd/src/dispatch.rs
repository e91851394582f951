//! The safe way in: a [`Kernels`] value holds one function pointer per kernel plus the [`Isa`]
//! they belong to. It is only ever built for an ISA the running CPU (or the wasm build) supports,
//! which is the invariant every `unsafe` call below relies on.

use crate::{SimdError, scalar};
use half::f16;

/// Largest number of i8 elements handed to one integer kernel call: `16_384 * 255²` fits in an
/// `i32` accumulator, so no kernel can overflow; the safe wrappers sum the chunks in `i64`.
pub(crate) const I8_CHUNK: usize = 16_384;

/// An instruction set with its own kernel implementations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// Portable Rust, one element at a time: the oracle and the fallback.
    Scalar,
    /// x86_64 SSE2 (every x86_64 CPU).
    Sse2,
    /// x86_64 AVX2 with FMA and F16C, detected at run time.
    Avx2,
    /// x86_64 AVX-512 F, BW and VL (with AVX2, FMA and F16C), detected at run time: its own
    /// float and i8 distances and one-query-four-rows kernels, AVX2's for the rest.
    Avx512,
    /// aarch64 Advanced SIMD (every aarch64 CPU).
    Neon,
    /// wasm32 `simd128`, chosen when the module is compiled with `+simd128`.
    Simd128,
}

impl Isa {
    /// Every ISA elex knows, whether or not this host has it.
    pub const ALL: [Isa; 6] = [
        Isa::Scalar,
        Isa::Sse2,
        Isa::Avx2,
        Isa::Avx512,
        Isa::Neon,
        Isa::Simd128,
    ];

    /// The lower-case name used in bench ids and reports (`avx2`, `neon`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Sse2 => "sse2",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
            Isa::Simd128 => "simd128",
        }
    }

    /// Parses a name as printed by [`Isa::name`].
    pub fn from_name(name: &str) -> Option<Isa> {
        Isa::ALL.into_iter().find(|isa| isa.name() == name)
    }

    /// Whether this host (or this wasm build) can run the ISA.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => std::arch::is_x86_feature_detected!("sse2"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                    && std::arch::is_x86_feature_detected!("f16c")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                Isa::Avx2.is_available()
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
            }
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Isa::Simd128 => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

/// One function pointer per kernel. Every pointer is an `unsafe fn` whose only precondition is
/// that the CPU supports the ISA it was compiled for; all of them clamp to the shorter slice.
#[derive(Clone, Copy)]
pub(crate) struct Table {
    pub dot_f32: unsafe fn(&[f32], &[f32]) -> f32,
    pub l2sq_f32: unsafe fn(&[f32], &[f32]) -> f32,
    pub dot_norms_f32: unsafe fn(&[f32], &[f32]) -> [f32; 3],
    pub dot_f16: unsafe fn(&[f16], &[f16]) -> f32,
    pub l2sq_f16: unsafe fn(&[f16], &[f16]) -> f32,
    pub dot_norms_f16: unsafe fn(&[f16], &[f16]) -> [f32; 3],
    pub dot_i8: unsafe fn(&[i8], &[i8]) -> i32,
    pub l2sq_i8: unsafe fn(&[i8], &[i8]) -> i32,
    pub f16_to_f32: unsafe fn(&[f16], &mut [f32]),
    pub f32_to_f16: unsafe fn(&[f32], &mut [f16]),
    pub quantize_i8: unsafe fn(&[f32], &mut [i8], f32),
    pub max_abs_f32: unsafe fn(&[f32]) -> f32,
    pub max_f32: unsafe fn(&[f32]) -> f32,
    pub td_update_row: unsafe fn(&mut [f32], &[f32], f32),
    /// `Σ qᵢ · LEVELS[cᵢ]`: a code row against an i8 query of `q.len()` components.
    pub dot_q4_i8: unsafe fn(&[u8], &[i8]) -> i32,
    /// `Σ LEVELS[aᵢ] · LEVELS[bᵢ]` over the first `n` components of two code rows.
    pub dot_q4_q4: unsafe fn(&[u8], &[u8], usize) -> i32,
    /// One query against four rows, where an ISA has a kernel for it (else four calls).
    pub dot_f32_x4: Option<X4>,
    pub l2sq_f32_x4: Option<X4>,
    /// `dot_i8` of one query and four rows of at most [`I8_CHUNK`] components.
    pub dot_i8_x4: Option<X4I8>,
    /// `Σ qᵢ · cᵢ` of an i8 query and four rows of uniform 4-bit codes (raw nibbles).
    pub dot_u4_i8_x4: unsafe fn(&[i8], [&[u8]; 4]) -> [i32; 4],
}

/// A one-query-four-rows i8 kernel: the four results of the single-row kernel.
pub(crate) type X4I8 = unsafe fn(&[i8], [&[i8]; 4]) -> [i32; 4];

/// A one-query-four-rows kernel: the four results of the single-row kernel, bit for bit.
pub(crate) type X4 = unsafe fn(&[f32], [&[f32]; 4]) -> [f32; 4];

/// A safe single-row kernel, the fallback of a four-row call.
type OneRow = fn(&Kernels, &[f32], &[f32]) -> Result<f32, SimdError>;

pub(crate) const SCALAR: Table = Table {
    dot_f32: scalar::dot_f32,
    l2sq_f32: scalar::l2sq_f32,
    dot_norms_f32: scalar::dot_norms_f32,
    dot_f16: scalar::dot_f16,
    l2sq_f16: scalar::l2sq_f16,
    dot_norms_f16: scalar::dot_norms_f16,
    dot_i8: scalar::dot_i8,
    l2sq_i8: scalar::l2sq_i8,
    f16_to_f32: scalar::f16_to_f32,
    f32_to_f16: scalar::f32_to_f16,
    quantize_i8: scalar::quantize_i8,
    max_abs_f32: scalar::max_abs_f32,
    max_f32: scalar::max_f32,
    td_update_row: scalar::td_update_row,
    dot_q4_i8: scalar::dot_q4_i8,
    dot_q4_q4: scalar::dot_q4_q4,
    dot_f32_x4: None,
    l2sq_f32_x4: None,
    dot_i8_x4: None,
    dot_u4_i8_x4: scalar::dot_u4_i8_x4,
};

/// The kernels of one ISA. Cheap to copy; build it once and keep it.
///
/// ```
/// let k = elex_simd::Kernels::detect();
/// assert_eq!(k.dot_f32(&[1.0, 2.0], &[3.0, 4.0]), Ok(11.0));
/// assert!(k.dot_f32(&[1.0], &[1.0, 2.0]).is_err());
/// ```
#[derive(Clone, Copy)]
pub struct Kernels {
    isa: Isa,
    t: Table,
}

impl std::fmt::Debug for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernels").field("isa", &self.isa).finish()
    }
}

impl Default for Kernels {
    fn default() -> Self {
        Kernels::detect()
    }
}

#[inline]
fn same_len(left: usize, right: usize) -> Result<(), SimdError> {
    if left == right {
        Ok(())
    } else {
        Err(SimdError::LengthMismatch { left, right })
    }
}

fn cosine_from(d: [f32; 3]) -> Result<f32, SimdError> {
    let [ab, aa, bb] = d;
    if aa <= 0.0 || bb <= 0.0 {
        return Err(SimdError::ZeroNorm);
    }
    Ok(ab / (aa.sqrt() * bb.sqrt()))
}

impl Kernels {
    /// The best ISA this CPU (or this wasm build) supports, or, natively, the one named by the
    /// `ELEX_SIMD_ISA` environment variable (`scalar`, `sse2`, `avx2`, ... as [`Isa::name`]
    /// prints them) when this host has it: a way to run a whole program, or a test suite, on a
    /// lower ISA's kernels. An unknown or unavailable name is ignored ([`Kernels::pinned`] tells).
    pub fn detect() -> Kernels {
        let best = match Kernels::pinned() {
            Some(Ok(isa)) if isa.is_available() => isa,
            _ => Isa::ALL
                .into_iter()
                .rev()
                .find(|isa| isa.is_available())
                .unwrap_or(Isa::Scalar),
        };
        // `best` is available by construction, so `force` cannot fail here.
        Kernels::force(best).unwrap_or(Kernels {
            isa: Isa::Scalar,
            t: SCALAR,
        })
    }

    /// What `ELEX_SIMD_ISA` asks [`Kernels::detect`] for: `None` when it is unset (always on
    /// wasm32, which has no environment), `Some(Err(value))` when it names no ISA.
    pub fn pinned() -> Option<Result<Isa, String>> {
        #[cfg(target_arch = "wasm32")]
        {
            None
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let value = std::env::var_os("ELEX_SIMD_ISA")?;
            let value = value.to_string_lossy();
            Some(Isa::from_name(&value).ok_or_else(|| value.into_owned()))
        }
    }

    /// The kernels of one named ISA, or [`SimdError::Unsupported`] when this host lacks it.
    pub fn force(isa: Isa) -> Result<Kernels, SimdError> {
        if !isa.is_available() {
            return Err(SimdError::Unsupported(isa));
        }
        let t = match isa {
            Isa::Scalar => SCALAR,
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => crate::x86_64::sse2::TABLE,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => crate::x86_64::avx2::TABLE,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => crate::x86_64::avx512::TABLE,
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => crate::aarch64::neon::TABLE,
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Isa::Simd128 => crate::wasm32::simd128::TABLE,
            #[allow(unreachable_patterns)]
            _ => return Err(SimdError::Unsupported(isa)),
        };
        Ok(Kernels { isa, t })
    }

    /// Every ISA this host supports, scalar first.
    pub fn available() -> Vec<Isa> {
        Isa::ALL
            .into_iter()
            .filter(|isa| isa.is_available())
            .collect()
    }

    /// The ISA these kernels run on.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Inner product `Σ aᵢbᵢ`.
    #[inline]
    pub fn dot_f32(&self, a: &[f32], b: &[f32]) -> Result<f32, SimdError> {
        same_len(a.len(), b.len())?;
        // A wasm simd128 build has one SIMD ISA, fixed at compile time: a direct call, which
        // inlines, instead of an indirect one through the table.
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if self.isa == Isa::Simd128 {
            return Ok(crate::wasm32::simd128::dot_f32(a, b));
        }
        // SAFETY: `self` only exists for an ISA the CPU supports; the kernel clamps to the
        // shorter slice.
        Ok(unsafe { (self.t.dot_f32)(a, b) })
    }

    /// Squared Euclidean distance `Σ (aᵢ − bᵢ)²`.
    #[inline]
    pub fn l2sq_f32(&self, a: &[f32], b: &[f32]) -> Result<f32, SimdError> {
        same_len(a.len(), b.len())?;
        // A wasm simd128 build has one SIMD ISA, fixed at compile time: a direct call, which
        // inlines, instead of an indirect one through the table.
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if self.isa == Isa::Simd128 {
            return Ok(crate::wasm32::simd128::l2sq_f32(a, b));
        }
        // SAFETY: as in `dot_f32`.
        Ok(unsafe { (self.t.l2sq_f32)(a, b) })
    }

    /// [`Kernels::dot_f32`] of `q` and each of four rows, the same bits as four calls; one
    /// kernel call where the ISA has one (AVX-512), four calls otherwise.
    #[inline]
    pub fn dot_f32_x4(&self, q: &[f32], rows: [&[f32]; 4]) -> Result<[f32; 4], SimdError> {
        self.x4(self.t.dot_f32_x4, Kernels::dot_f32, q, rows)
    }

    /// [`Kernels::l2sq_f32`] of `q` and each of four rows, as [`Kernels::dot_f32_x4`].
    #[inline]
    pub fn l2sq_f32_x4(&self, q: &[f32], rows: [&[f32]; 4]) -> Result<[f32; 4], SimdError> {
        self.x4(self.t.l2sq_f32_x4, Kernels::l2sq_f32, q, rows)
    }

    /// A four-row kernel of the table, else `one` four times; rows of another length are errors.
    #[inline]
    fn x4(
        &self,
        kernel: Option<X4>,
        one: OneRow,
        q: &[f32],
        rows: [&[f32]; 4],
    ) -> Result<[f32; 4], SimdError> {
        for r in rows {
            same_len(q.len(), r.len())?;
        }
        if let Some(f) = kernel {
            // SAFETY: as in `dot_f32`; every row has the query's length.
            return Ok(unsafe { f(q, rows) });
        }
        let mut out = [0.0; 4];
        for (o, r) in out.iter_mut().zip(rows) {
            *o = one(self, q, r)?;
        }
        Ok(out)
    }

    /// Cosine similarity `a·b / (‖a‖‖b‖)` in one pass; [`SimdError::ZeroNorm`] for a zero vector.
    pub fn cosine_f32(&self, a: &[f32], b: &[f32]) -> Result<f32, SimdError> {
        same_len(a.len(), b.len())?;
        // SAFETY: as in `dot_f32`.
        cosine_from(unsafe { (self.t.dot_norms_f32)(a, b) })
    }

    /// Squared norm `‖a‖²`.
    #[inline]
    pub fn norm_sq_f32(&self, a: &[f32]) -> f32 {
        // SAFETY: as in `dot_f32`; both slices are `a`.
        unsafe { (self.t.dot_f32)(a, a) }
    }

    /// Euclidean norm `‖a‖`.
    pub fn norm_f32(&self, a: &[f32]) -> f32 {
        self.norm_sq_f32(a).sqrt()
    }

    /// Inner product of two f16 vectors, accumulated in f32.
    #[inline]
    pub fn dot_f16(&self, a: &[f16], b: &[f16]) -> Result<f32, SimdError> {
        same_len(a.len(), b.len())?;
        // A wasm simd128 build has one SIMD ISA, fixed at compile time: a direct call, which
        // inlines, instead of an indirect one through the table.
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if self.isa == Isa::Simd128 {
            return Ok(crate::wasm32::simd128::dot_f16(a, b));
        }
        // SAFETY: as in `dot_f32`.
        Ok(unsafe { (self.t.dot_f16)(a, b) })
    }

    /// Squared Euclidean distance of two f16 vectors, accumulated in f32.
    #[inline]
    pub fn l2sq_f16(&self, a: &[f16], b: &[f16]) -> Result<f32, SimdError> {
        same_len(a.len(), b.len())?;
        // A wasm simd128 build has one SIMD ISA, fixed at compile time: a direct call, which
        // inlines, instead of an indirect one through the table.
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if self.isa == Isa::Simd128 {
            return Ok(crate::wasm32::simd128::l2sq_f16(a, b));
        }
        // SAFETY: as in `dot_f32`.
        Ok(unsafe { (self.t.l2sq_f16)(a, b) })
    }

    /// Cosine similarity of two f16 vectors; [`SimdError::ZeroNorm`] for a zero vector.
    pub fn cosine_f16(&self, a: &[f16], b: &[f16]) -> Result<f32, SimdError> {
        same_len(a.len(), b.len())?;
        // SAFETY: as in `dot_f32`.
        cosine_from(unsafe { (self.t.dot_norms_f16)(a, b) })
    }

    /// Squared norm of an f16 vector, accumulated in f32.
    pub fn norm_sq_f16(&self, a: &[f16]) -> f32 {
        // SAFETY: as in `dot_f32`; both slices are `a`.
        unsafe { (self.t.dot_f16)(a, a) }
    }

    /// Exact integer inner product of two i8 vectors (see the crate docs for the scale scheme).
    #[inline]
    pub fn dot_i8(&self, a: &[i8], b: &[i8]) -> Result<i64, SimdError> {
        same_len(a.len(), b.len())?;
        // As in `dot_f32`; one chunk is what an HNSW distance always is.
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if self.isa == Isa::Simd128 && a.len() <= I8_CHUNK {
            return Ok(i64::from(crate::wasm32::simd128::dot_i8(a, b)));
        }
        Ok(self.chunked_i8(self.t.dot_i8, a, b))
    }

    /// [`Kernels::dot_i8`] of `q` and each of four rows: one kernel call where the ISA has one
    /// (AVX-512, simd128: the query's block is loaded and widened once for four rows), four
    /// calls otherwise; rows of another length are errors.
    #[inline]
    pub fn dot_i8_x4(&self, q: &[i8], rows: [&[i8]; 4]) -> Result<[i64; 4], SimdError> {
        for r in rows {
            same_len(q.len(), r.len())?;
        }
        if q.len() <= I8_CHUNK {
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            if self.isa == Isa::Simd128 {
                return Ok(crate::wasm32::simd128::dot_i8_x4(q, rows).map(i64::from));
            }
            if let Some(f) = self.t.dot_i8_x4 {
                // SAFETY: as in `dot_f32`; at most I8_CHUNK components cannot overflow the
                // kernel's i32 accumulators.
                return Ok(unsafe { f(q, rows) }.map(i64::from));
            }
        }
        let mut out = [0; 4];
        for (o, r) in out.iter_mut().zip(rows) {
            *o = self.dot_i8(q, r)?;
        }
        Ok(out)
    }

    /// Exact integer squared distance `Σ (aᵢ − bᵢ)²` of two i8 vectors that share one scale.
    pub fn l2sq_i8(&self, a: &[i8], b: &[i8]) -> Result<i64, SimdError> {
        same_len(a.len(), b.len())?;
        Ok(self.chunked_i8(self.t.l2sq_i8, a, b))
    }

    /// Cosine similarity of two i8 vectors (scale-free); [`SimdError::ZeroNorm`] for zero.
    pub fn cosine_i8(&self, a: &[i8], b: &[i8]) -> Result<f32, SimdError> {
        same_len(a.len(), b.len())?;
        let ab = self.chunked_i8(self.t.dot_i8, a, b) as f64;
        let aa = self.chunked_i8(self.t.dot_i8, a, a) as f64;
        let bb = self.chunked_i8(self.t.dot_i8, b, b) as f64;
        if aa == 0.0 || bb == 0.0 {
            return Err(SimdError::ZeroNorm);
        }
        Ok((ab / (aa.sqrt() * bb.sqrt())) as f32)
    }

    /// Exact squared norm of an i8 vector.
    pub fn norm_sq_i8(&self, a: &[i8]) -> i64 {
        self.chunked_i8(self.t.dot_i8, a, a)
    }

    fn chunked_i8(&self, f: unsafe fn(&[i8], &[i8]) -> i32, a: &[i8], b: &[i8]) -> i64 {
        let mut total = 0i64;
        for (ca, cb) in a.chunks(I8_CHUNK).zip(b.chunks(I8_CHUNK)) {
            // SAFETY: as in `dot_f32`; chunks of at most I8_CHUNK cannot overflow the kernel's
            // i32 accumulator.
            total += i64::from(unsafe { f(ca, cb) });
        }
        total
    }

    /// Widens f16 values into `dst` (same length).
    pub fn f16_to_f32(&self, src: &[f16], dst: &mut [f32]) -> Result<(), SimdError> {
        same_len(src.len(), dst.len())?;
        // SAFETY: as in `dot_f32`.
        unsafe { (self.t.f16_to_f32)(src, dst) };
        Ok(())
    }

    /// Narrows f32 values into `dst` (same length), rounding to nearest, ties to even.
    pub fn f32_to_f16(&self, src: &[f32], dst: &mut [f16]) -> Result<(), SimdError> {
        same_len(src.len(), dst.len())?;
        // SAFETY: as in `dot_f32`.
        unsafe { (self.t.f32_to_f16)(src, dst) };
        Ok(())
    }

    /// Quantizes `src` into `dst` (same length) with the symmetric per-vector scheme of the
    /// crate docs and returns the scale `s` (`src ≈ s * dst`); `s = 0` for an all-zero vector.
    /// [`SimdError::NonFinite`] when a component is NaN or infinite (then `dst` is untouched).
    pub fn quantize_i8(&self, src: &[f32], dst: &mut [i8]) -> Result<f32, SimdError> {
        same_len(src.len(), dst.len())?;
        if src.iter().any(|x| !x.is_finite()) {
            return Err(SimdError::NonFinite);
        }
        let max_abs = self.max_abs_f32(src);
        let scale = max_abs / 127.0;
        let inv = if max_abs > 0.0 { 127.0 / max_abs } else { 0.0 };
        // SAFETY: as in `dot_f32`.
        unsafe { (self.t.quantize_i8)(src, dst, inv) };
        Ok(scale)
    }

    /// Encodes `src` as 4-bit codes into `dst` (exactly [`crate::q4_bytes`]`(src.len())` bytes)
    /// and returns the scale `s`: `src[i] ≈ s · Q4_LEVELS[code i]`; `s = 0` for a zero vector.
    ///
    /// Layout: 16 bytes per block of 32 components, byte `j` of a block holding component `j`
    /// in its low nibble and `j + 16` in its high one; unused nibbles are zero. The codes are
    /// the nearest levels and the scale their least-squares fit (two rounds from the RMS), in
    /// sequential f64, so every ISA writes the same bytes. [`SimdError::NonFinite`] when a
    /// component is NaN or infinite (then `dst` is untouched).
    pub fn quantize_q4(&self, src: &[f32], dst: &mut [u8]) -> Result<f32, SimdError> {
        same_len(crate::q4_bytes(src.len()), dst.len())?;
        if src.iter().any(|x| !x.is_finite()) {
            return Err(SimdError::NonFinite);
        }
        Ok(crate::q4::quantize(src, dst))
    }

    /// The levels of a code row: `out[i] = Q4_LEVELS[code i]` for `out.len()` components
    /// (`codes` holds exactly [`crate::q4_bytes`]`(out.len())` bytes).
    pub fn decode_q4(&self, codes: &[u8], out: &mut [i8]) -> Result<(), SimdError> {
        same_len(codes.len(), crate::q4_bytes(out.len()))?;
        for (i, o) in out.iter_mut().enumerate() {
            *o = crate::Q4_LEVELS[usize::from(crate::q4::get(codes, i))];
        }
        Ok(())
    }

    /// Exact `Σ qᵢ · Q4_LEVELS[cᵢ]` of a code row (exactly [`crate::q4_bytes`]`(q.len())`
    /// bytes) and an i8 query: `x · y ≈ s_x s_y` times this, as with [`Kernels::dot_i8`].
    #[inline]
    pub fn dot_q4_i8(&self, codes: &[u8], q: &[i8]) -> Result<i64, SimdError> {
        same_len(codes.len(), crate::q4_bytes(q.len()))?;
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if self.isa == Isa::Simd128 && q.len() <= I8_CHUNK {
            return Ok(i64::from(crate::wasm32::simd128::dot_q4_i8(codes, q)));
        }
        let mut total = 0i64;
        // I8_CHUNK is a multiple of 32, so every chunk but the last is whole blocks.
        for (c, qc) in codes.chunks(I8_CHUNK / 2).zip(q.chunks(I8_CHUNK)) {
            // SAFETY: as in `dot_f32`; a chunk of at most I8_CHUNK products of at most 127²
            // cannot overflow the kernel's i32 accumulator.
            total += i64::from(unsafe { (self.t.dot_q4_i8)(c, qc) });
        }
        Ok(total)
    }

    /// Exact `Σ Q4_LEVELS[aᵢ] · Q4_LEVELS[bᵢ]` of two code rows of `n` components (each
    /// exactly [`crate::q4_bytes`]`(n)` bytes).
    #[inline]
    pub fn dot_q4_q4(&self, a: &[u8], b: &[u8], n: usize) -> Result<i64, SimdError> {
        same_len(a.len(), b.len())?;
        same_len(a.len(), crate::q4_bytes(n))?;
        let mut total = 0i64;
        for (k, (ca, cb)) in a
            .chunks(I8_CHUNK / 2)
            .zip(b.chunks(I8_CHUNK / 2))
            .enumerate()
        {
            let here = (n - k * I8_CHUNK).min(I8_CHUNK);
            // SAFETY: as in `dot_q4_i8`.
            total += i64::from(unsafe { (self.t.dot_q4_q4)(ca, cb, here) });
        }
        Ok(total)
    }

    /// Encodes finite `src` into `dst` ([`crate::q4_bytes`]`(src.len())` bytes) as uniform
    /// 4-bit codes and returns the scale `s`: `src[i] ≈ s · (code i − 7.5)`, `s = max|src| / 7.5`,
    /// each code the nearest of `0..=15` (same layout as [`Kernels::quantize_q4`]; unused
    /// nibbles zero; a zero vector gets `s = 0`). Sequential f32, the same bytes on every ISA.
    /// [`SimdError::NonFinite`] when a component is NaN or infinite (then `dst` is untouched).
    pub fn quantize_u4(&self, src: &[f32], dst: &mut [u8]) -> Result<f32, SimdError> {
        same_len(crate::q4_bytes(src.len()), dst.len())?;
        if src.iter().any(|x| !x.is_finite()) {
            return Err(SimdError::NonFinite);
        }
        Ok(crate::q4::quantize_u4(src, dst))
    }

    /// Exact `Σ qᵢ · cᵢ` of an i8 query and each of four rows of uniform 4-bit codes (`cᵢ`
    /// the raw nibble, `0..=15`, as [`Kernels::quantize_u4`] writes them; each row exactly
    /// [`crate::q4_bytes`]`(q.len())` bytes). With the scales `s_q` (i8) and `s_x` (u4),
    /// `q · x ≈ s_q s_x (this − 7.5 Σ qᵢ)`. One kernel call for the four rows: the query's
    /// block is loaded once, and a row's 16 bytes hold 32 components (an eighth of an f32 row).
    #[inline]
    pub fn dot_u4_i8_x4(&self, q: &[i8], rows: [&[u8]; 4]) -> Result<[i64; 4], SimdError> {
        let nb = crate::q4_bytes(q.len());
        for r in rows {
            same_len(r.len(), nb)?;
        }
        if q.len() <= I8_CHUNK {
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            if self.isa == Isa::Simd128 {
                return Ok(crate::wasm32::simd128::dot_u4_i8_x4(q, rows).map(i64::from));
            }
            // SAFETY: as in `dot_f32`; at most I8_CHUNK products of at most 128 * 15 cannot
            // overflow the kernel's i32 accumulators.
            return Ok(unsafe { (self.t.dot_u4_i8_x4)(q, rows) }.map(i64::from));
        }
        let mut out = [0i64; 4];
        // I8_CHUNK is a multiple of 32, so every chunk but the last is whole blocks.
        for (c, qc) in q.chunks(I8_CHUNK).enumerate() {
            let at = c * (I8_CHUNK / 2);
            let rc = rows.map(|r| r.get(at..(at + I8_CHUNK / 2).min(r.len())).unwrap_or(&[]));
            // SAFETY: as above, per chunk.
            let d = unsafe { (self.t.dot_u4_i8_x4)(qc, rc) };
            for (o, d) in out.iter_mut().zip(d) {
                *o += i64::from(d);
            }
        }
        Ok(out)
    }

    /// [`Kernels::dot_u4_i8_x4`] for one row: its own kernel in wasm (simd128), elsewhere the
    /// four-row kernel on the row.
    #[inline]
    pub fn dot_u4_i8(&self, q: &[i8], row: &[u8]) -> Result<i64, SimdError> {
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if self.isa == Isa::Simd128 && q.len() <= I8_CHUNK {
            same_len(row.len(), crate::q4_bytes(q.len()))?;
            return Ok(i64::from(crate::wasm32::simd128::dot_u4_i8(q, row)));
        }
        self.dot_u4_i8_x4(q, [row; 4]).map(|[d, ..]| d)
    }

    /// Largest absolute value (0 for an empty slice).
    pub fn max_abs_f32(&self, a: &[f32]) -> f32 {
        // SAFETY: as in `dot_f32`.
        unsafe { (self.t.max_abs_f32)(a) }
    }

    /// Largest value of a row, `None` when empty. For the Q-learning target `max_a' Q(s', a')`.
    #[inline]
    pub fn max_f32(&self, a: &[f32]) -> Option<f32> {
        if a.is_empty() {
            return None;
        }
        // SAFETY: as in `dot_f32`.
        Some(unsafe { (self.t.max_f32)(a) })
    }

    /// Index of the first largest value of a row, `None` when empty (greedy action selection).
    #[inline]
    pub fn argmax_f32(&self, a: &[f32]) -> Option<usize> {
        let m = self.max_f32(a)?;
        a.iter().position(|&x| x == m).or(Some(0))
    }

    /// TD step over a row: `q[i] += alpha * (target[i] − q[i])`, the same bits on every ISA.
    pub fn td_update_row(
        &self,
        q: &mut [f32],
        target: &[f32],
        alpha: f32,
    ) -> Result<(), SimdError> {
        same_len(q.len(), target.len())?;
        // SAFETY: as in `dot_f32`.
        unsafe { (self.t.td_update_row)(q, target, alpha) };
        Ok(())
    }
}
