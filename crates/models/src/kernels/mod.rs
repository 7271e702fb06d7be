//! CPU training kernels: each a candle custom op with its own backward pass, so that a training
//! step on the CPU runs at the speed of its matrix products.
//!
//! ```
//! use candle_core::{Device, Tensor, Var};
//! use smallscale_models::kernels::{add_relu, conv2d};
//! let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 3, 8, 8), &Device::Cpu)?)?;
//! let w = Var::from_tensor(&Tensor::randn(0f32, 0.2, (4, 3, 3, 3), &Device::Cpu)?)?;
//! let y = conv2d(x.as_tensor(), w.as_tensor(), 1, 1)?; // padding 1, stride 1
//! let y = add_relu(&y, &y.ones_like()?)?;
//! let grads = y.sum_all()?.backward()?; // both gradients from the kernel's own backward
//! assert_eq!(grads.get(&w).expect("weight gradient").dims(), [4, 3, 3, 3]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! | kernel | replaces |
//! | --- | --- |
//! | [`conv2d`]: patch matrices and `gemm` products for the forward pass and both gradients | candle's `conv2d` (gradients on one core) |
//! | [`batch_norm`] with [`channel_stats`], optionally with a fused ReLU | batch norm as broadcast tensor operations |
//! | [`add_relu`] | a residual addition and its ReLU |
//! | [`crate::max_pool2x2`]'s CPU pass: the maximum and PyTorch's gradient rule in one pass each | a mask of each window's first maximum built from a dozen tensor operations |
//! | [`linear`] | transpose, `matmul`, broadcast bias add |
//! | [`layer_norm`], [`softmax_last_dim`], [`gelu_erf`] | their tensor-operation forms |
//! | [`adam_update`], [`sgd_update`] | about ten tensor operations per parameter and step |
//! | [`retain_freed_memory`] | glibc's default of unmapping large freed blocks |
//!
//! The models use them on the CPU for `f32` and `f64`; on other devices and dtypes every function
//! falls back to candle's operations, so calling them is always correct.
//! [`set_cpu_kernels_enabled`] switches them off process-wide (candle's operations everywhere), to
//! compare or to rule them out when debugging. The workspace's `docs/performance.md` has the
//! measurements.

mod allocator;
mod batch_norm;
mod conv2d;
mod element;
mod im2col;
mod linear;
mod matmul;
mod max_pool;
mod optimizer;
mod residual;
mod rows;

pub use allocator::retain_freed_memory;
pub use batch_norm::{BatchNormMode, ChannelStats, batch_norm, channel_stats};
pub use conv2d::conv2d;
pub use linear::linear;
pub(crate) use max_pool::MaxPool2x2Op;
pub use optimizer::{AdamStep, SgdStep, adam_update, sgd_update};
pub use residual::add_relu;
pub use rows::{gelu_erf, layer_norm, softmax_last_dim};

use std::sync::atomic::{AtomicBool, Ordering};

static CPU_KERNELS: AtomicBool = AtomicBool::new(true);

/// Turns the CPU kernels of this module on (the default) or off for the whole process. Off,
/// [`conv2d`], [`batch_norm`] and the models run candle's own operations, and [`adam_update`] /
/// [`sgd_update`] return `None` so optimizers use tensor operations.
///
/// ```
/// use smallscale_models::kernels::{cpu_kernels_enabled, set_cpu_kernels_enabled};
/// assert!(cpu_kernels_enabled());
/// set_cpu_kernels_enabled(false);
/// assert!(!cpu_kernels_enabled());
/// set_cpu_kernels_enabled(true);
/// ```
pub fn set_cpu_kernels_enabled(enabled: bool) {
    CPU_KERNELS.store(enabled, Ordering::Relaxed);
}

/// Whether the CPU kernels are on (see [`set_cpu_kernels_enabled`]).
pub fn cpu_kernels_enabled() -> bool {
    CPU_KERNELS.load(Ordering::Relaxed)
}
