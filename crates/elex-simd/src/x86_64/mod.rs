//! x86_64 kernels: SSE2 (baseline of every x86_64 CPU) and AVX2+FMA+F16C (detected at run time).
pub(crate) mod avx2;
pub(crate) mod sse2;
