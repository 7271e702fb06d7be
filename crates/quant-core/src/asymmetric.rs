//! Asymmetric (min/max with zero-point) quantization.

use candle_core::{DType, Tensor};

use crate::bits::BitWidth;
use crate::error::Result;
use crate::kernels::cpu::{KernelFloat, round_half_even_small};
use crate::ops::{round_half_even_ste, straight_through};
use crate::quantizer::{QuantScheme, QuantizedTensor, Quantizer, check_finite, check_float};

/// Asymmetric per-tensor quantization with an integer zero-point (beyond the paper; common for
/// activations and for weights with skewed ranges).
///
/// The range `[lo, hi] = [min(min w, 0), max(max w, 0)]` always contains 0, so zero is exactly
/// representable. With signed codes `[qmin, qmax] = [-2^(b-1), 2^(b-1) - 1]`:
///
/// `s = (hi - lo) / (2^b - 1)`, `z = qmin - round(lo / s)`,
/// `code = clamp(round(w / s) + z, qmin, qmax)`, `q(w) = (code - z) * s`.
///
/// Rounding is half to even. The gradient is straight-through with the scale and zero-point
/// treated as constants (as `torch.fake_quantize_per_tensor_affine` does); since the range covers the
/// data, no value is clipped. An all-zero tensor is returned unchanged.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_quant_core::{AsymmetricQuantizer, Quantizer};
/// let q = AsymmetricQuantizer::new(2)?; // 4 levels
/// let w = Tensor::new(&[0.0f32, 1.0, 2.0, 3.0], &Device::Cpu)?;
/// assert_eq!(q.fake_quantize(&w)?.to_vec1::<f32>()?, [0.0, 1.0, 2.0, 3.0]);
/// let codes = q.quantize(&w)?;
/// assert_eq!(codes.codes, [-2, -1, 0, 1]);
/// assert_eq!(codes.zero_points, [-2]);
/// # Ok::<(), smallscale_quant_core::QuantError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsymmetricQuantizer {
    bits: BitWidth,
}

/// Scale and zero-point of one tensor, exact values of its dtype.
#[derive(Debug, Clone, Copy, PartialEq)]
struct AffineParams<T> {
    scale: T,
    zero_point: i32,
    qmin: i32,
    qmax: i32,
}

impl AsymmetricQuantizer {
    /// An asymmetric quantizer at `bits` (validated: 2..=16).
    pub fn new(bits: u32) -> Result<Self> {
        Ok(Self::with_bits(BitWidth::new(bits)?))
    }

    /// Same as [`AsymmetricQuantizer::new`] from an already validated bit-width.
    pub fn with_bits(bits: BitWidth) -> Self {
        Self { bits }
    }

    fn params<T: KernelFloat>(&self, lo: T, hi: T) -> AffineParams<T> {
        let b = self.bits.get();
        let qmin = -(1i32 << (b - 1));
        let qmax = (1i32 << (b - 1)) - 1;
        let levels = T::from_f64(f64::from((1u32 << b) - 1));
        let scale = (hi - lo) / levels;
        let zero_point = if scale == T::ZERO {
            0
        } else {
            let r = round_half_even_small(lo / scale).to_f64() as i32;
            (qmin - r).clamp(qmin, qmax)
        };
        AffineParams {
            scale,
            zero_point,
            qmin,
            qmax,
        }
    }

    /// The integer codes as a float tensor (no gradient) and the parameters.
    fn codes_tensor(&self, x: &Tensor) -> Result<(Tensor, f64, i32, bool)> {
        check_float(x)?;
        check_finite(x)?;
        let lo = x
            .min_all()?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?
            .min(0.0);
        let hi = x
            .max_all()?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?
            .max(0.0);
        let (scale, zp, qmin, qmax) = match x.dtype() {
            DType::F32 => {
                let p = self.params(lo as f32, hi as f32);
                (f64::from(p.scale), p.zero_point, p.qmin, p.qmax)
            }
            _ => {
                let p = self.params(lo, hi);
                (p.scale, p.zero_point, p.qmin, p.qmax)
            }
        };
        if scale == 0.0 {
            return Ok((x.zeros_like()?, 0.0, 0, true));
        }
        let x = x.detach();
        let s = Tensor::new(scale, x.device())?.to_dtype(x.dtype())?;
        let z = x.broadcast_div(&s)?;
        let codes =
            (round_half_even_ste(&z)? + f64::from(zp))?.clamp(f64::from(qmin), f64::from(qmax))?;
        Ok((codes, scale, zp, false))
    }
}

impl Quantizer for AsymmetricQuantizer {
    fn bits(&self) -> BitWidth {
        self.bits
    }

    fn scheme(&self) -> QuantScheme {
        QuantScheme::Asymmetric
    }

    fn fake_quantize(&self, x: &Tensor) -> Result<Tensor> {
        if x.elem_count() == 0 {
            return Ok(x.clone());
        }
        let (codes, scale, zp, all_zero) = self.codes_tensor(x)?;
        if all_zero {
            return Ok(x.clone());
        }
        let s = Tensor::new(scale, x.device())?.to_dtype(x.dtype())?;
        let value = (codes - f64::from(zp))?.broadcast_mul(&s)?;
        Ok(straight_through(x, &value)?)
    }

    fn quantize(&self, x: &Tensor) -> Result<QuantizedTensor> {
        let shape = x.dims().to_vec();
        let n = x.elem_count();
        let (codes, scale, zp) = if n == 0 {
            (Vec::new(), 0.0, 0)
        } else {
            let (codes, scale, zp, _) = self.codes_tensor(x)?;
            let codes = codes
                .flatten_all()?
                .to_dtype(DType::I64)?
                .to_vec1::<i64>()?;
            (codes.into_iter().map(|c| c as i32).collect(), scale, zp)
        };
        Ok(QuantizedTensor {
            scheme: QuantScheme::Asymmetric,
            bits: self.bits,
            shape,
            dtype: x.dtype(),
            codes,
            group_len: n.max(1),
            scales: if n == 0 { Vec::new() } else { vec![scale] },
            zero_points: if n == 0 { Vec::new() } else { vec![zp] },
        })
    }
}
