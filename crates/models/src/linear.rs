//! Fully connected layer whose weight passes through the quantization state.

use candle_core::Tensor;

use crate::context::ModelContext;
use crate::errors::Result;
use crate::init::Init;
use crate::quant_state::QuantHandle;

/// `y = x W^T + b` with `weight: [out, in]`, `bias: [out]` (PyTorch's layout and default uniform
/// initialization), the weight fake-quantized at each forward call when the shared state says so.
/// Inputs may have any number of leading dimensions: `[..., in] -> [..., out]`.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use smallscale_models::{ModelContext, QuantLinear};
/// let ctx = ModelContext::new(Device::Cpu);
/// let fc = QuantLinear::new(&ctx.pp("fc"), 16, 10, true)?;
/// assert_eq!(fc.weight_name(), "fc.weight");
/// let y = fc.forward(&Tensor::zeros((4, 5, 16), DType::F32, &Device::Cpu)?)?;
/// assert_eq!(y.dims(), [4, 5, 10]);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct QuantLinear {
    in_features: usize,
    out_features: usize,
    weight: Tensor,
    weight_name: String,
    bias: Option<Tensor>,
    quant: QuantHandle,
}

impl QuantLinear {
    /// Creates `weight` and (if `bias`) `bias` under the context's prefix, both
    /// `U(-1/sqrt(in), 1/sqrt(in))` as in PyTorch.
    pub fn new(
        ctx: &ModelContext,
        in_features: usize,
        out_features: usize,
        bias: bool,
    ) -> Result<Self> {
        Self::with_init(
            ctx,
            in_features,
            out_features,
            bias,
            Init::fan_in_uniform(in_features),
        )
    }

    /// Same as [`QuantLinear::new`] with another weight initialization.
    pub fn with_init(
        ctx: &ModelContext,
        in_features: usize,
        out_features: usize,
        bias: bool,
        init: Init,
    ) -> Result<Self> {
        let weight = ctx.param("weight", &[out_features, in_features], init)?;
        let bias = if bias {
            Some(ctx.param("bias", &[out_features], Init::fan_in_uniform(in_features))?)
        } else {
            None
        };
        Ok(Self {
            in_features,
            out_features,
            weight,
            weight_name: ctx.name("weight"),
            bias,
            quant: ctx.quant().clone(),
        })
    }

    /// A layer from existing tensors: `weight: [out, in]` (which may be a reshaped view of a
    /// parameter of another shape, as the ViT patch embedding's `[dim, c, p, p]` kernel),
    /// `weight_name` used by the quantization selector, optional `bias: [out]`.
    pub fn from_parts(
        weight: Tensor,
        weight_name: String,
        bias: Option<Tensor>,
        quant: QuantHandle,
    ) -> Result<Self> {
        let (out_features, in_features) = weight.dims2()?;
        Ok(Self {
            in_features,
            out_features,
            weight,
            weight_name,
            bias,
            quant,
        })
    }

    /// Applies the layer to `x: [..., in]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let w = self.quant.apply(&self.weight_name, &self.weight)?;
        let dims = x.dims().to_vec();
        if dims.last() != Some(&self.in_features) {
            return Err(crate::errors::ModelError::InvalidInput {
                model: "linear layer",
                expected: format!("[..., {}]", self.in_features),
                found: dims,
                hint: "the last dimension must be the layer's input features",
            });
        }
        let rows = x.elem_count() / self.in_features.max(1);
        let x2 = x.reshape((rows, self.in_features))?;
        let y = crate::kernels::linear(&x2, &w, self.bias.as_ref())?;
        let mut out_dims = dims;
        if let Some(last) = out_dims.last_mut() {
            *last = self.out_features;
        }
        Ok(y.reshape(out_dims)?)
    }

    /// The raw (unquantized) weight.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The weight's full name, e.g. `fc.weight`.
    pub fn weight_name(&self) -> &str {
        &self.weight_name
    }

    /// Input features.
    pub fn in_features(&self) -> usize {
        self.in_features
    }

    /// Output features.
    pub fn out_features(&self) -> usize {
        self.out_features
    }
}
