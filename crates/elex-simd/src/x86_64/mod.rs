//! x86_64 kernels: SSE2 (baseline of every x86_64 CPU) AVX2+FMA+F16C and AVX-512 F/BW/VL
//! (detected at run time).
pub(crate) mod avx2;
pub(crate) mod avx512;
pub(crate) mod sse2;
