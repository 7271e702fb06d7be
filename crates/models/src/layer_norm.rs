//! Layer normalization built from differentiable tensor operations.

use candle_core::Tensor;

use crate::context::ModelContext;
use crate::errors::Result;
use crate::init::Init;
use crate::quant_state::QuantHandle;

/// Layer normalization over the last dimension, `y = (x - mean) / sqrt(var + eps) * gamma + beta`
/// with the biased variance (as PyTorch), written with plain tensor operations so that gradients
/// reach the input, gamma and beta (candle-nn's fused `LayerNorm` drops them). `weight` (gamma) goes
/// through the quantization state; `bias` (beta) never.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_models::{LayerNorm, ModelContext};
/// let ctx = ModelContext::new(Device::Cpu);
/// let ln = LayerNorm::new(&ctx.pp("norm"), 4, 1e-5)?;
/// let y = ln.forward(&Tensor::new(&[[1.0f32, 2.0, 3.0, 4.0]], &Device::Cpu)?)?;
/// let mean: f32 = y.sum_all()?.to_scalar()?;
/// assert!(mean.abs() < 1e-5);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    weight_name: String,
    bias: Tensor,
    eps: f64,
    quant: QuantHandle,
}

impl LayerNorm {
    /// Creates `weight = 1` and `bias = 0` of size `dim` under the context's prefix.
    pub fn new(ctx: &ModelContext, dim: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: ctx.param("weight", &[dim], Init::Ones)?,
            weight_name: ctx.name("weight"),
            bias: ctx.param("bias", &[dim], Init::Zeros)?,
            eps,
            quant: ctx.quant().clone(),
        })
    }

    /// Normalizes `x: [..., dim]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let gamma = self.quant.apply(&self.weight_name, &self.weight)?;
        crate::kernels::layer_norm(x, &gamma, &self.bias, self.eps)
    }

    /// Gamma's full name, e.g. `blocks.0.norm1.weight`.
    pub fn weight_name(&self) -> &str {
        &self.weight_name
    }
}
