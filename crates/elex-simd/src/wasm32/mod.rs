//! wasm32 kernels: `simd128`, compiled in only when the build enables it (`-C
//! target-feature=+simd128`); the npm package's loader picks the simd or the scalar `.wasm`.
pub(crate) mod simd128;
