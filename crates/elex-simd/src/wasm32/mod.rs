//! wasm32 kernels: `simd128`, compiled in only when the build enables it (`-C
//! target-feature=+simd128`; with `+relaxed-simd` too, its i8 dot products use the relaxed
//! instruction); the npm package's loader picks the relaxed, the simd or the scalar `.wasm`.
pub(crate) mod simd128;
