//! CPU training kernels: convolution and batch normalisation (with an optional fused ReLU) as
//! candle custom ops with their own backward passes, and one-pass Adam and SGD updates.
//!
//! candle's CPU convolution computes its gradients on one core and batch norm written as tensor
//! operations makes several passes over every activation. These kernels do the same mathematics
//! with patch matrices and multithreaded matrix products (`gemm`) and with one fused pass per
//! direction. The models use them on the CPU; on other devices the functions fall back to candle's
//! operations, so calling them is always correct. [`set_cpu_kernels_enabled`] switches them off
//! process-wide (candle's operations everywhere), to compare or to rule them out when debugging.

mod allocator;
mod batch_norm;
mod conv2d;
mod element;
mod im2col;
mod linear;
mod matmul;
mod optimizer;
mod residual;
mod rows;

pub use allocator::retain_freed_memory;
pub use batch_norm::{BatchNormMode, ChannelStats, batch_norm, channel_stats};
pub use conv2d::conv2d;
pub use linear::linear;
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
