//! The reference max-abs quantizers: per tensor (the paper's) and per output channel.

use candle_core::{DType, Tensor};

use crate::bits::BitWidth;
use crate::error::{QuantError, Result};
use crate::kernels::cpu::{self, KernelFloat};
use crate::ops::max_abs_fake_quantize;
use crate::quantizer::{QuantScheme, QuantizedTensor, Quantizer, ScaleGradient, check_float};

/// The paper's reference quantizer: weight-only, uniform, symmetric, zero-point 0, one scale per
/// tensor, recomputed at every call:
///
/// `K = 2^(b-1) - 1`, `s = max|w| / K`, `q(w) = s * round_half_even(w / s)`.
///
/// Codes lie in `[-K, K]` (`2^b - 1` levels; `-2^(b-1)` is never used), no clamp is needed, and an
/// all-zero tensor is returned unchanged. The gradient is straight-through for the rounding and, by
/// default, flows through the non-detached scale into the arg-max element(s) like the reference's
/// autograd ([`ScaleGradient::Faithful`]); [`MaxAbsQuantizer::with_detached_scale`] switches that off.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_quant_core::{MaxAbsQuantizer, Quantizer};
/// let q = MaxAbsQuantizer::new(3)?; // K = 3, 7 levels
/// let w = Tensor::new(&[1.5f32, 0.26, -0.74, 0.0], &Device::Cpu)?;
/// // s = 1.5 / 3 = 0.5; w / s = [3, 0.52, -1.48, 0] rounds to [3, 1, -1, 0]
/// assert_eq!(q.fake_quantize(&w)?.to_vec1::<f32>()?, [1.5, 0.5, -0.5, 0.0]);
/// # Ok::<(), smallscale_quant_core::QuantError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxAbsQuantizer {
    bits: BitWidth,
    scale_gradient: ScaleGradient,
}

impl MaxAbsQuantizer {
    /// A per-tensor max-abs quantizer at `bits` (validated: 2..=16) with the faithful scale gradient.
    pub fn new(bits: u32) -> Result<Self> {
        Ok(Self::with_bits(BitWidth::new(bits)?))
    }

    /// Same as [`MaxAbsQuantizer::new`] from an already validated bit-width.
    pub fn with_bits(bits: BitWidth) -> Self {
        Self {
            bits,
            scale_gradient: ScaleGradient::Faithful,
        }
    }

    /// Treat the scale as a constant in the backward pass (plain straight-through gradient).
    pub fn with_detached_scale(mut self) -> Self {
        self.scale_gradient = ScaleGradient::Detached;
        self
    }

    /// Sets how the gradient treats the scale.
    pub fn with_scale_gradient(mut self, scale_gradient: ScaleGradient) -> Self {
        self.scale_gradient = scale_gradient;
        self
    }

    /// How the gradient treats the scale.
    pub fn scale_gradient(&self) -> ScaleGradient {
        self.scale_gradient
    }
}

impl Quantizer for MaxAbsQuantizer {
    fn bits(&self) -> BitWidth {
        self.bits
    }

    fn scheme(&self) -> QuantScheme {
        QuantScheme::MaxAbs
    }

    fn fake_quantize(&self, x: &Tensor) -> Result<Tensor> {
        fake_quantize_groups(x, self.bits, x.elem_count(), self.scale_gradient)
    }

    fn quantize(&self, x: &Tensor) -> Result<QuantizedTensor> {
        codes_groups(x, self.bits, x.elem_count(), QuantScheme::MaxAbs)
    }
}

/// Symmetric max-abs quantization with one scale per output channel (dimension 0, the output
/// channels of conv `[out, in, kh, kw]` and linear `[out, in]` weights): `s_c = max_i |w_{c,i}| / K`.
///
/// A 1-D tensor has one channel per element; a scalar is one channel. The gradient options are
/// those of [`MaxAbsQuantizer`], per channel.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_quant_core::{PerChannelMaxAbsQuantizer, Quantizer};
/// let q = PerChannelMaxAbsQuantizer::new(2)?;
/// let w = Tensor::new(&[[1.0f32, 0.4], [0.1, -0.2]], &Device::Cpu)?;
/// let fake = q.fake_quantize(&w)?.to_vec2::<f32>()?;
/// assert_eq!(fake, [[1.0, 0.0], [0.0, -0.2]]);
/// # Ok::<(), smallscale_quant_core::QuantError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerChannelMaxAbsQuantizer {
    bits: BitWidth,
    scale_gradient: ScaleGradient,
}

impl PerChannelMaxAbsQuantizer {
    /// A per-channel max-abs quantizer at `bits` (validated: 2..=16), faithful scale gradient.
    pub fn new(bits: u32) -> Result<Self> {
        Ok(Self::with_bits(BitWidth::new(bits)?))
    }

    /// Same as [`PerChannelMaxAbsQuantizer::new`] from an already validated bit-width.
    pub fn with_bits(bits: BitWidth) -> Self {
        Self {
            bits,
            scale_gradient: ScaleGradient::Faithful,
        }
    }

    /// Treat the scales as constants in the backward pass.
    pub fn with_detached_scale(mut self) -> Self {
        self.scale_gradient = ScaleGradient::Detached;
        self
    }

    /// Number of elements per channel of a tensor of this shape.
    pub fn channel_len(shape: &[usize]) -> usize {
        match shape.first() {
            Some(&c) if c > 0 => shape.iter().product::<usize>() / c,
            _ => shape.iter().product::<usize>().max(1),
        }
    }
}

impl Quantizer for PerChannelMaxAbsQuantizer {
    fn bits(&self) -> BitWidth {
        self.bits
    }

    fn scheme(&self) -> QuantScheme {
        QuantScheme::PerChannelMaxAbs
    }

    fn fake_quantize(&self, x: &Tensor) -> Result<Tensor> {
        let group_len = Self::channel_len(x.dims());
        fake_quantize_groups(x, self.bits, group_len, self.scale_gradient)
    }

    fn quantize(&self, x: &Tensor) -> Result<QuantizedTensor> {
        let group_len = Self::channel_len(x.dims());
        codes_groups(x, self.bits, group_len, QuantScheme::PerChannelMaxAbs)
    }
}

fn fake_quantize_groups(
    x: &Tensor,
    bits: BitWidth,
    group_len: usize,
    scale_gradient: ScaleGradient,
) -> Result<Tensor> {
    check_float(x)?;
    if x.elem_count() == 0 {
        return Ok(x.clone());
    }
    max_abs_fake_quantize(x, bits.max_level(), group_len, scale_gradient)
        .map_err(QuantError::from_candle)
}

fn codes_groups(
    x: &Tensor,
    bits: BitWidth,
    group_len: usize,
    scheme: QuantScheme,
) -> Result<QuantizedTensor> {
    check_float(x)?;
    let shape = x.dims().to_vec();
    let group_len = group_len.max(1);
    let flat = x.flatten_all()?;
    let (codes, scales) = match x.dtype() {
        DType::F32 => codes_slice(&flat.to_vec1::<f32>()?, group_len, bits)?,
        _ => codes_slice(&flat.to_vec1::<f64>()?, group_len, bits)?,
    };
    Ok(QuantizedTensor {
        scheme,
        bits,
        shape,
        dtype: x.dtype(),
        codes,
        group_len,
        scales,
        zero_points: Vec::new(),
    })
}

fn codes_slice<T: KernelFloat>(
    x: &[T],
    group_len: usize,
    bits: BitWidth,
) -> Result<(Vec<i32>, Vec<f64>)> {
    let k = T::from_f64(f64::from(bits.max_level()));
    let (codes, scales) =
        cpu::max_abs_codes(x, group_len, k).map_err(|at| QuantError::NonFinite {
            name: "<input>".into(),
            index: at.index,
        })?;
    Ok((codes, scales.into_iter().map(KernelFloat::to_f64).collect()))
}

/// The reference quantizer on a plain slice, without candle: `s * round_half_even(w / s)` with
/// `s = max|w| / K`, computed in the slice's own precision exactly as [`MaxAbsQuantizer`] does.
///
/// ```
/// use smallscale_quant_core::{BitWidth, max_abs_quantize_slice};
/// let q = max_abs_quantize_slice(&[0.2f64, -1.0, 0.6], BitWidth::new(2)?)?;
/// assert_eq!(q, [0.0, -1.0, 1.0]);
/// # Ok::<(), smallscale_quant_core::QuantError>(())
/// ```
pub fn max_abs_quantize_slice<T: KernelFloat>(w: &[T], bits: BitWidth) -> Result<Vec<T>> {
    if w.is_empty() {
        return Ok(Vec::new());
    }
    let k = T::from_f64(f64::from(bits.max_level()));
    // SAFETY: on `Ok` the forward kernel has written every element of `out`.
    unsafe {
        cpu::filled_vec(w.len(), |out| {
            cpu::max_abs_fake_quant_forward(w, w.len(), k, out).map(drop)
        })
    }
    .map_err(|at| QuantError::NonFinite {
        name: "<input>".into(),
        index: at.index,
    })
}
