//! The settings of the oscillation-reducing QAT baselines (Nagel et al. 2022), shared by `train`
//! and `reproduce`.

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use smallscale_osc_reg::{
    BASELINE_WARMUP_FRACTION, DampeningAggregation, DampeningParams, FreezingParams,
};
use smallscale_quant_core::BitWidth;

/// `--dampen-aggregation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AggregationArg {
    /// The mean over each layer's weights.
    Mean,
    /// Nagel et al.'s kernel-wise mean: summed over output channels, averaged over the kernel.
    KernelMean,
}

/// The hyperparameters of oscillation dampening and iterative weight freezing.
#[derive(Debug, Clone, Args, Default)]
#[command(next_help_heading = "QAT baselines (Nagel et al. 2022)")]
pub struct BaselineArgs {
    /// Final weight of the dampening loss (qat-dampen) [default: 0.1].
    #[arg(long, value_name = "L")]
    pub dampen_lambda: Option<f64>,
    /// How each layer's squared distances to its quantized weights are aggregated (qat-dampen)
    /// [default: mean].
    #[arg(long, value_enum, value_name = "AGG")]
    pub dampen_aggregation: Option<AggregationArg>,
    /// Freezing threshold on the oscillation frequency when freezing starts (qat-freeze)
    /// [default: 0.1].
    #[arg(long, value_name = "F")]
    pub freeze_threshold: Option<f64>,
    /// Freezing threshold at the last step, reached by cosine annealing (qat-freeze)
    /// [default: 0.01].
    #[arg(long, value_name = "F")]
    pub freeze_threshold_final: Option<f64>,
    /// EMA momentum of the oscillation frequency and of the integer codes (qat-freeze)
    /// [default: 0.01].
    #[arg(long, value_name = "M")]
    pub freeze_momentum: Option<f64>,
    /// Share of the training steps before dampening or freezing starts [default: 0.25].
    #[arg(long, value_name = "F")]
    pub baseline_warmup: Option<f64>,
}

impl BaselineArgs {
    fn warmup(&self) -> f64 {
        self.baseline_warmup.unwrap_or(BASELINE_WARMUP_FRACTION)
    }

    fn dampening_given(&self) -> bool {
        self.dampen_lambda.is_some() || self.dampen_aggregation.is_some()
    }

    fn freezing_given(&self) -> bool {
        self.freeze_threshold.is_some()
            || self.freeze_threshold_final.is_some()
            || self.freeze_momentum.is_some()
    }

    /// Refuses dampening or freezing options when the runs have no such method.
    pub fn check_used(&self, dampening: bool, freezing: bool, what: &str) -> Result<()> {
        if self.dampening_given() && !dampening {
            bail!("--dampen-lambda and --dampen-aggregation apply only to {what} qat-dampen");
        }
        if self.freezing_given() && !freezing {
            bail!(
                "--freeze-threshold, --freeze-threshold-final and --freeze-momentum apply only to {what} qat-freeze"
            );
        }
        if self.baseline_warmup.is_some() && !dampening && !freezing {
            bail!("--baseline-warmup applies only to {what} qat-dampen or qat-freeze");
        }
        Ok(())
    }

    /// Dampening at `bits` with these settings.
    pub fn dampening(&self, bits: BitWidth) -> Result<DampeningParams> {
        let aggregation = match self.dampen_aggregation.unwrap_or(AggregationArg::Mean) {
            AggregationArg::Mean => DampeningAggregation::Mean,
            AggregationArg::KernelMean => DampeningAggregation::KernelMean,
        };
        DampeningParams::new(bits.get(), self.dampen_lambda.unwrap_or(0.1))
            .context("--dampen-lambda")?
            .with_aggregation(aggregation)
            .with_warmup_fraction(self.warmup())
            .context("--baseline-warmup")
    }

    /// Freezing at `bits` with these settings.
    pub fn freezing(&self, bits: BitWidth) -> Result<FreezingParams> {
        let defaults = FreezingParams::new(bits.get())?;
        let mut p = defaults
            .with_thresholds(
                self.freeze_threshold.unwrap_or(defaults.threshold_start()),
                self.freeze_threshold_final
                    .unwrap_or(defaults.threshold_end()),
            )
            .context("--freeze-threshold/--freeze-threshold-final")?;
        if let Some(m) = self.freeze_momentum {
            p = p.with_momentum(m).context("--freeze-momentum")?;
        }
        p.with_warmup_fraction(self.warmup())
            .context("--baseline-warmup")
    }
}
