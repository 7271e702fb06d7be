//! Learned step size quantization (LSQ, Esser et al. 2020).

use candle_core::{DType, Tensor, Var};

use crate::bits::BitWidth;
use crate::error::{QuantError, Result};
use crate::ops::round_half_even_ste;
use crate::quantizer::{QuantScheme, QuantizedTensor, Quantizer, check_finite, check_float};

/// Learned step size quantization (LSQ, Esser et al., ICLR 2020) for one weight tensor.
///
/// The step `s` is a trainable [`Var`] (add it to the optimizer). With signed codes
/// `[-Qn, Qp] = [-2^(b-1), 2^(b-1) - 1]`:
///
/// `q(w) = round_half_even(clamp(w / s', -Qn, Qp)) * s'`, with `s' = s` in value and its gradient
/// scaled by `g = 1 / sqrt(n * Qp)` (the paper's gradient scale; `n` = number of weights).
///
/// The rounding is straight-through, so the gradient with respect to `s` is the paper's:
/// `-w/s + round(w/s)` inside the range and `-Qn` or `Qp` outside, times `g`. The step is
/// initialized as in the paper, `2 mean|w| / sqrt(Qp)`.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_quant_core::{LsqQuantizer, Quantizer};
/// let w = Tensor::new(&[0.5f32, -0.25, 1.0, 0.0], &Device::Cpu)?;
/// let lsq = LsqQuantizer::init(&w, 3)?; // Qp = 3, step = 2 * 0.4375 / sqrt(3)
/// let q = lsq.fake_quantize(&w)?;
/// assert_eq!(q.dims(), &[4]);
/// let grads = q.sum_all()?.backward()?;
/// assert!(grads.get(lsq.step().as_tensor()).is_some()); // the step learns
/// # Ok::<(), smallscale_quant_core::QuantError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LsqQuantizer {
    bits: BitWidth,
    step: Var,
    grad_scale: Option<f64>,
}

impl LsqQuantizer {
    /// An LSQ quantizer for `weights` at `bits` (validated: 2..=16), with the step initialized as in
    /// the paper and the paper's gradient scale. The weights must be finite and not all zero.
    pub fn init(weights: &Tensor, bits: u32) -> Result<Self> {
        let bits = BitWidth::new(bits)?;
        check_float(weights)?;
        check_finite(weights)?;
        let qp = f64::from((1u32 << (bits.get() - 1)) - 1);
        let mean_abs = weights
            .abs()?
            .mean_all()?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
        let step = 2.0 * mean_abs / qp.sqrt();
        Self::with_step(weights, bits, step)
    }

    /// An LSQ quantizer for `weights` with an explicit initial step (> 0, finite).
    pub fn with_step(weights: &Tensor, bits: BitWidth, step: f64) -> Result<Self> {
        if !(step.is_finite() && step > 0.0) {
            return Err(QuantError::InvalidParameter {
                parameter: "step",
                reason: format!(
                    "the LSQ step must be positive and finite, got {step} (an all-zero weight tensor has \
                     no useful step: exclude it from quantization)"
                ),
            });
        }
        check_float(weights)?;
        let n = weights.elem_count().max(1) as f64;
        let qp = f64::from((1u32 << (bits.get() - 1)) - 1);
        let step =
            Var::from_tensor(&Tensor::new(step, weights.device())?.to_dtype(weights.dtype())?)?;
        Ok(Self {
            bits,
            step,
            grad_scale: Some(1.0 / (n * qp).sqrt()),
        })
    }

    /// Disables the gradient scale (plain gradient for the step).
    pub fn without_grad_scale(mut self) -> Self {
        self.grad_scale = None;
        self
    }

    /// The gradient scale applied to the step (`1 / sqrt(n * Qp)` by default).
    pub fn grad_scale(&self) -> Option<f64> {
        self.grad_scale
    }

    /// The learned step (a scalar `Var`; give it to the optimizer).
    pub fn step(&self) -> &Var {
        &self.step
    }

    fn qn_qp(&self) -> (f64, f64) {
        let half = f64::from(1u32 << (self.bits.get() - 1));
        (half, half - 1.0)
    }

    /// `s'`: the step's value with its gradient scaled by `g`, as `s.detach() + (g s - (g s).detach())`,
    /// which is exactly `s` in the forward pass.
    fn scaled_step(&self) -> Result<Tensor> {
        let s = self.step.as_tensor();
        match self.grad_scale {
            None => Ok(s.clone()),
            Some(g) => {
                let gs = (s * g)?;
                Ok((s.detach() + (&gs - gs.detach())?)?)
            }
        }
    }

    fn check_step(&self) -> Result<()> {
        let s = self
            .step
            .as_tensor()
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
        if !(s.is_finite() && s > 0.0) {
            return Err(QuantError::InvalidParameter {
                parameter: "step",
                reason: format!(
                    "the learned LSQ step became {s}; it must stay positive (lower the step's learning rate)"
                ),
            });
        }
        Ok(())
    }

    fn rounded(&self, x: &Tensor, s: &Tensor) -> Result<Tensor> {
        let (qn, qp) = self.qn_qp();
        let z = x.broadcast_div(s)?.clamp(-qn, qp)?;
        Ok(round_half_even_ste(&z)?)
    }
}

impl Quantizer for LsqQuantizer {
    fn bits(&self) -> BitWidth {
        self.bits
    }

    fn scheme(&self) -> QuantScheme {
        QuantScheme::Lsq
    }

    fn fake_quantize(&self, x: &Tensor) -> Result<Tensor> {
        check_float(x)?;
        if x.dtype() != self.step.dtype() {
            return Err(QuantError::UnsupportedDType {
                name: "<input>".into(),
                dtype: x.dtype(),
            });
        }
        check_finite(x)?;
        self.check_step()?;
        let s = self.scaled_step()?;
        let r = self.rounded(x, &s)?;
        Ok(r.broadcast_mul(&s)?)
    }

    fn quantize(&self, x: &Tensor) -> Result<QuantizedTensor> {
        check_float(x)?;
        check_finite(x)?;
        self.check_step()?;
        let s = self.step.as_tensor().detach();
        let codes = self.rounded(&x.detach(), &s)?;
        let codes = codes
            .flatten_all()?
            .to_dtype(DType::I64)?
            .to_vec1::<i64>()?;
        let n = codes.len();
        Ok(QuantizedTensor {
            scheme: QuantScheme::Lsq,
            bits: self.bits,
            shape: x.dims().to_vec(),
            dtype: x.dtype(),
            codes: codes.into_iter().map(|c| c as i32).collect(),
            group_len: n.max(1),
            scales: vec![s.to_dtype(DType::F64)?.to_scalar::<f64>()?],
            zero_points: Vec::new(),
        })
    }
}
