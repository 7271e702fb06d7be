//! 2-D convolution whose weight passes through the quantization state.

use candle_core::Tensor;

use crate::context::ModelContext;
use crate::errors::Result;
use crate::init::Init;
use crate::quant_state::QuantHandle;

/// Shape of a square convolution: channels, kernel, stride, padding, bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dSpec {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel height and width.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on each side.
    pub padding: usize,
    /// Whether the layer has a bias (off before batch norm).
    pub bias: bool,
}

impl Conv2dSpec {
    /// A `kernel x kernel` convolution with stride 1, no padding and no bias.
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize) -> Self {
        Self {
            in_channels,
            out_channels,
            kernel,
            stride: 1,
            padding: 0,
            bias: false,
        }
    }

    /// Sets the stride.
    pub fn with_stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }

    /// Sets the padding.
    pub fn with_padding(mut self, padding: usize) -> Self {
        self.padding = padding;
        self
    }

    /// Adds a bias.
    pub fn with_bias(mut self) -> Self {
        self.bias = true;
        self
    }

    /// `in_channels * kernel * kernel`.
    pub fn fan_in(&self) -> usize {
        self.in_channels * self.kernel * self.kernel
    }

    /// `out_channels * kernel * kernel`.
    pub fn fan_out(&self) -> usize {
        self.out_channels * self.kernel * self.kernel
    }
}

/// A convolution `weight: [out, in, k, k]` (+ optional `bias: [out]`) whose weight is fake-quantized
/// at each forward call when the shared state says so.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use smallscale_models::{Conv2dSpec, Init, ModelContext, QuantConv2d};
/// let ctx = ModelContext::new(Device::Cpu);
/// let spec = Conv2dSpec::new(3, 8, 3).with_padding(1);
/// let conv = QuantConv2d::new(&ctx.pp("conv1"), spec, Init::kaiming_normal(spec.fan_out()))?;
/// assert_eq!(conv.weight_name(), "conv1.weight");
/// let y = conv.forward(&Tensor::zeros((2, 3, 8, 8), DType::F32, &Device::Cpu)?)?;
/// assert_eq!(y.dims(), [2, 8, 8, 8]);
/// # Ok::<(), smallscale_models::ModelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct QuantConv2d {
    spec: Conv2dSpec,
    weight: Tensor,
    weight_name: String,
    bias: Option<Tensor>,
    quant: QuantHandle,
}

impl QuantConv2d {
    /// Creates `weight` (initialized with `init`) and, if `spec.bias`, `bias` (PyTorch's uniform
    /// default) under the context's prefix.
    pub fn new(ctx: &ModelContext, spec: Conv2dSpec, init: Init) -> Result<Self> {
        let shape = [
            spec.out_channels,
            spec.in_channels,
            spec.kernel,
            spec.kernel,
        ];
        let weight = ctx.param("weight", &shape, init)?;
        let bias = if spec.bias {
            Some(ctx.param(
                "bias",
                &[spec.out_channels],
                Init::fan_in_uniform(spec.fan_in()),
            )?)
        } else {
            None
        };
        Ok(Self {
            spec,
            weight,
            weight_name: ctx.name("weight"),
            bias,
            quant: ctx.quant().clone(),
        })
    }

    /// Convolves `x: [batch, in, h, w]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let w = self.quant.apply(&self.weight_name, &self.weight)?;
        let y = crate::kernels::conv2d(x, &w, self.spec.padding, self.spec.stride)?;
        match &self.bias {
            Some(b) => Ok(y.broadcast_add(&b.reshape((1, self.spec.out_channels, 1, 1))?)?),
            None => Ok(y),
        }
    }

    /// The raw (unquantized) weight.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The weight's full name, e.g. `layer1.0.conv1.weight`.
    pub fn weight_name(&self) -> &str {
        &self.weight_name
    }

    /// The shape of the layer.
    pub fn spec(&self) -> Conv2dSpec {
        self.spec
    }
}
