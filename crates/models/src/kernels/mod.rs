//! CPU training kernels: convolution and batch normalisation (with an optional fused ReLU) as
//! candle custom ops with their own backward passes.
//!
//! candle's CPU convolution computes its gradients on one core and batch norm written as tensor
//! operations makes several passes over every activation. These kernels do the same mathematics
//! with patch matrices and multithreaded matrix products (`gemm`) and with one fused pass per
//! direction. The models use them on the CPU; on other devices the functions fall back to candle's
//! operations, so calling them is always correct.

mod batch_norm;
mod conv2d;
mod element;
mod im2col;
mod matmul;

pub use batch_norm::{BatchNormMode, ChannelStats, batch_norm, channel_stats};
pub use conv2d::conv2d;
