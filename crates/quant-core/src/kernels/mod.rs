//! Compute kernels behind the ops: fused CPU kernels on slices, and CUDA kernels (feature `cuda`).

pub(crate) mod cpu;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;
