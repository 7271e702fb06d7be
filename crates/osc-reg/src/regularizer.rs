//! The oscillation-inducing regularizer (spec §3).

use candle_core::{DType, Tensor};
use smallscale_quant_core::{BitWidth, MaxAbsQuantizer, Quantizer};

use crate::errors::{OscRegError, Result};

/// Validated parameters of the regularizer: the target bit-width `b` and the weight `lambda >= 0`.
///
/// ```
/// use smallscale_osc_reg::RegularizerParams;
/// let p = RegularizerParams::new(3, 1.0)?;
/// assert_eq!(p.bits().get(), 3);
/// assert!(RegularizerParams::new(3, -1.0).is_err());
/// assert!(RegularizerParams::new(1, 1.0).is_err());
/// # Ok::<(), smallscale_osc_reg::OscRegError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RegularizerParams {
    bits: BitWidth,
    lambda: f64,
}

impl RegularizerParams {
    /// Checks `bits` (2..=16) and `lambda` (finite, >= 0).
    pub fn new(bits: u32, lambda: f64) -> Result<Self> {
        let bits = BitWidth::new(bits)?;
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(OscRegError::InvalidParameter {
                parameter: "lambda",
                reason: format!(
                    "must be a finite number >= 0, got {lambda} (the paper's demo used 14, the reference default is 1)"
                ),
            });
        }
        Ok(Self { bits, lambda })
    }

    /// The same settings at another target bit-width.
    pub fn with_bits(mut self, bits: BitWidth) -> Self {
        self.bits = bits;
        self
    }

    /// The target bit-width.
    pub fn bits(&self) -> BitWidth {
        self.bits
    }

    /// The weight of the regularizer in the loss.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }
}

/// The regularizer of *Oscillations Make Neural Networks Robust to Quantization*:
///
/// `R_b(W) = sum over quantized layers l of mean_i ( q_b(w_{l,i})^2 - w_{l,i}^2 )`,
/// added to the loss as `lambda * R_b(W)` while training with full-precision forward passes.
///
/// `q_b` is the reference max-abs quantizer with the straight-through estimator and the non-detached
/// scale. Every layer weighs the same whatever its size (per-layer mean, summed over layers). Ignoring
/// the scale path, the gradient of `lambda * R_b` with respect to a weight is `2 lambda (q_b(w) - w) / n_l`:
/// descent pushes each weight away from its nearest level, towards the threshold between levels,
/// which makes it oscillate there. The value can be negative; it is not a quality signal.
///
/// ```
/// use candle_core::{Device, Tensor, Var};
/// use smallscale_osc_reg::{OscillationRegularizer, RegularizerParams};
/// let reg = OscillationRegularizer::new(RegularizerParams::new(2, 1.0)?);
/// let w = Var::new(&[0.9f32, 0.2, -0.6], &Device::Cpu)?;
/// // Ternary: s = 0.9, q = [0.9, 0, -0.9]; R = mean(q^2 - w^2) = (0 - 0.04 + 0.45) / 3
/// let r = reg.value(&[w.as_tensor().clone()])?;
/// assert!((r.to_scalar::<f32>()? - 0.41 / 3.0).abs() < 1e-6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct OscillationRegularizer {
    params: RegularizerParams,
    quantizer: MaxAbsQuantizer,
}

impl OscillationRegularizer {
    /// The regularizer at the target bit-width of `params`.
    pub fn new(params: RegularizerParams) -> Self {
        Self {
            params,
            quantizer: MaxAbsQuantizer::with_bits(params.bits()),
        }
    }

    /// The parameters.
    pub fn params(&self) -> RegularizerParams {
        self.params
    }

    /// `R_b(W)` (without lambda) as a differentiable scalar tensor (f32 for f32 weights). An empty list
    /// gives zero.
    pub fn value(&self, weights: &[Tensor]) -> Result<Tensor> {
        oscillation_regularizer(weights, &self.quantizer)
    }

    /// `lambda * R_b(W)`, the term added to the training loss.
    pub fn penalty(&self, weights: &[Tensor]) -> Result<Tensor> {
        Ok((self.value(weights)? * self.params.lambda())?)
    }
}

/// `sum_l mean_i (q(w_{l,i})^2 - w_{l,i}^2)` for any quantizer, differentiable through its
/// `fake_quantize`. Returns a scalar of the first weight's dtype (f32 zero for no weights).
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_osc_reg::oscillation_regularizer;
/// use smallscale_quant_core::MaxAbsQuantizer;
/// let w = Tensor::new(&[1.0f64, 0.25], &Device::Cpu)?;
/// let r = oscillation_regularizer(&[w], &MaxAbsQuantizer::new(2)?)?;
/// assert_eq!(r.to_scalar::<f64>()?, (0.0 + (0.0 - 0.0625)) / 2.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn oscillation_regularizer(weights: &[Tensor], quantizer: &dyn Quantizer) -> Result<Tensor> {
    sum_over_layers(weights, |w| {
        let q = quantizer.fake_quantize(w)?;
        Ok((q.sqr()? - w.sqr()?)?.mean_all()?)
    })
}

/// `sum over the non-empty tensors of term(w)`, a scalar of the first weight's dtype (an f32 zero
/// for no weights): the shape of the regularizer and of the dampening loss.
pub(crate) fn sum_over_layers(
    weights: &[Tensor],
    term: impl Fn(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let mut total: Option<Tensor> = None;
    for w in weights {
        if w.elem_count() == 0 {
            continue;
        }
        let t = term(w)?;
        total = Some(match total {
            None => t,
            Some(sum) => (sum + t)?,
        });
    }
    match total {
        Some(t) => Ok(t),
        None => {
            let device = weights
                .first()
                .map_or(candle_core::Device::Cpu, |w| w.device().clone());
            Ok(Tensor::new(0f32, &device)?
                .to_dtype(weights.first().map_or(DType::F32, Tensor::dtype))?)
        }
    }
}
