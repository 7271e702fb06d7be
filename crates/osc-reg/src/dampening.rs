//! Oscillation dampening (Nagel et al. 2022, "Overcoming Oscillations in Quantization-Aware
//! Training"): a QAT baseline that pulls every latent weight towards its quantized value, the
//! opposite of the paper's regularizer.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use smallscale_quant_core::{BitWidth, MaxAbsQuantizer, Quantizer};

use crate::annealing::WarmupCosine;
use crate::errors::{OscRegError, Result};
use crate::regularizer::sum_over_layers;

/// How the squared distances of one layer are aggregated into its term of the dampening loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DampeningAggregation {
    /// The mean over all the layer's weights (every layer weighs the same whatever its size).
    #[default]
    Mean,
    /// Nagel et al.'s kernel-wise mean (their `kernel_mean`): summed over the first, output-channel
    /// dimension, then averaged over the remaining positions of the kernel. A one-dimensional tensor
    /// (a norm's gamma) gives its sum.
    KernelMean,
}

impl DampeningAggregation {
    /// `mean` or `kernel-mean`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::KernelMean => "kernel-mean",
        }
    }
}

/// Validated settings of oscillation dampening: the target bit-width, the final weight `lambda_d`
/// of the dampening loss, the aggregation, and the warm-up share of the steps during which the
/// weight is 0 (afterwards it is cosine-annealed from 0 up to `lambda_d`).
///
/// ```
/// use smallscale_osc_reg::{DampeningAggregation, DampeningParams};
/// let p = DampeningParams::new(3, 0.1)?;
/// assert_eq!((p.bits().get(), p.lambda(), p.warmup_fraction()), (3, 0.1, 0.25));
/// assert_eq!(p.aggregation(), DampeningAggregation::Mean);
/// assert!(DampeningParams::new(3, -1.0).is_err());
/// assert!(p.with_warmup_fraction(1.0).is_err());
/// # Ok::<(), smallscale_osc_reg::OscRegError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "DampeningFields")]
pub struct DampeningParams {
    bits: BitWidth,
    lambda: f64,
    aggregation: DampeningAggregation,
    warmup_fraction: f64,
}

/// The fields of [`DampeningParams`] as read from a file, validated on the way in.
#[derive(Deserialize)]
struct DampeningFields {
    bits: BitWidth,
    lambda: f64,
    #[serde(default)]
    aggregation: DampeningAggregation,
    #[serde(default = "default_warmup")]
    warmup_fraction: f64,
}

pub(crate) fn default_warmup() -> f64 {
    BASELINE_WARMUP_FRACTION
}

impl TryFrom<DampeningFields> for DampeningParams {
    type Error = OscRegError;

    fn try_from(f: DampeningFields) -> Result<Self> {
        DampeningParams::new(f.bits.get(), f.lambda)?
            .with_aggregation(f.aggregation)
            .with_warmup_fraction(f.warmup_fraction)
    }
}

/// The warm-up share of the steps of both baselines: a quarter, as in Nagel et al.'s schedules.
pub const BASELINE_WARMUP_FRACTION: f64 = 0.25;

impl DampeningParams {
    /// Checks `bits` (2..=16) and `lambda` (finite, >= 0; Nagel et al.'s scripts anneal to 0.1).
    /// Aggregation: the mean; warm-up: the first quarter of the steps.
    pub fn new(bits: u32, lambda: f64) -> Result<Self> {
        let bits = BitWidth::new(bits)?;
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(OscRegError::InvalidParameter {
                parameter: "dampening lambda",
                reason: format!(
                    "must be a finite number >= 0, got {lambda} (Nagel et al.'s scripts use 0.1)"
                ),
            });
        }
        Ok(Self {
            bits,
            lambda,
            aggregation: DampeningAggregation::Mean,
            warmup_fraction: BASELINE_WARMUP_FRACTION,
        })
    }

    /// The same settings at another target bit-width.
    pub fn with_bits(mut self, bits: BitWidth) -> Self {
        self.bits = bits;
        self
    }

    /// Sets the aggregation.
    pub fn with_aggregation(mut self, aggregation: DampeningAggregation) -> Self {
        self.aggregation = aggregation;
        self
    }

    /// Sets the warm-up share of the steps (in `[0, 1)`).
    pub fn with_warmup_fraction(mut self, fraction: f64) -> Result<Self> {
        WarmupCosine::new(fraction, 0.0, 0.0, self.lambda)?;
        self.warmup_fraction = fraction;
        Ok(self)
    }

    /// The target bit-width.
    pub fn bits(&self) -> BitWidth {
        self.bits
    }

    /// The final weight `lambda_d`.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// The aggregation.
    pub fn aggregation(&self) -> DampeningAggregation {
        self.aggregation
    }

    /// The warm-up share of the steps.
    pub fn warmup_fraction(&self) -> f64 {
        self.warmup_fraction
    }

    /// The weight's schedule: 0 during the warm-up, then cosine from 0 to `lambda_d`.
    pub fn schedule(&self) -> WarmupCosine {
        WarmupCosine::new(self.warmup_fraction, 0.0, 0.0, self.lambda)
            .expect("validated when the parameters were built")
    }
}

/// The dampening loss without its weight:
/// `sum over layers l of agg_l((q_b(w_l).detach() - clip(w_l, q_min, q_max))^2)`, with `q_b` the
/// reference max-abs quantizer at `bits`.
///
/// The quantized target is detached, so the gradient with respect to a weight is
/// `-2 (q_b(w) - w) / n_l` for the mean: descent pulls each weight towards its quantized value and
/// away from the threshold between two levels, damping its oscillation. With the max-abs quantizer
/// every weight lies inside the quantization range `[-max|w|, max|w|]`, so the clip is the identity
/// and is not computed. Returns a scalar of the first weight's dtype (an f32 zero for no weights).
///
/// ```
/// use candle_core::{Device, Tensor};
/// use smallscale_osc_reg::{DampeningAggregation, oscillation_dampening_loss};
/// let w = Tensor::new(&[0.9f32, 0.2, -0.6], &Device::Cpu)?;
/// // Ternary: s = 0.9, q = [0.9, 0, -0.9]; mean((q - w)^2) = (0 + 0.04 + 0.09) / 3
/// let l = oscillation_dampening_loss(&[w], smallscale_quant_core::BitWidth::new(2)?, DampeningAggregation::Mean)?;
/// assert!((l.to_scalar::<f32>()? - 0.13 / 3.0).abs() < 1e-6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn oscillation_dampening_loss(
    weights: &[Tensor],
    bits: BitWidth,
    aggregation: DampeningAggregation,
) -> Result<Tensor> {
    let quantizer = MaxAbsQuantizer::with_bits(bits);
    sum_over_layers(weights, |w| {
        let target = quantizer.fake_quantize(&w.detach())?.detach();
        let squared = (target - w)?.sqr()?;
        Ok(match aggregation {
            DampeningAggregation::Mean => squared.mean_all()?,
            DampeningAggregation::KernelMean => squared.sum(0)?.mean_all()?,
        })
    })
}
