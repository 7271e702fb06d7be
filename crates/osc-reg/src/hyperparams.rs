//! Training configurations (FP, QAT, Reg and the oscillation-reducing QAT baselines), unvalidated
//! and validated.

use serde::{Deserialize, Serialize};
use smallscale_models::{OptimizerConfig, Schedule};
use smallscale_quant_core::BitWidth;

use crate::dampening::DampeningParams;
use crate::errors::{OscRegError, Result};
use crate::freezing::FreezingParams;
use crate::regularizer::RegularizerParams;

/// The training methods of the paper (spec §4) and the QAT baselines of Nagel et al. 2022 that
/// reduce oscillations. PTQ is not a training method: it evaluates an FP model with the quantizer
/// switched on. Every QAT variant trains with fake-quantized weights and selects on the validation
/// accuracy at its target bit, like QAT.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum Method {
    /// Ordinary full-precision training; model selection on FP validation accuracy.
    Fp,
    /// Quantization-aware training: fake-quantized weights (straight-through) in every training forward
    /// pass, so BatchNorm statistics are collected with quantized weights; model selection on the
    /// validation accuracy at the target bit.
    Qat {
        /// Target bit-width.
        bits: BitWidth,
    },
    /// The paper's method: full-precision forward passes plus `lambda * R_b(W)`; BatchNorm statistics
    /// come from FP weights; model selection on the validation accuracy after PTQ at the target bit.
    Reg {
        /// Target bit-width and lambda.
        regularizer: RegularizerParams,
    },
    /// QAT plus Nagel et al.'s oscillation dampening loss ([`crate::oscillation_dampening_loss`]),
    /// weighted 0 for the warm-up, then cosine-annealed up to its final weight.
    QatDampen {
        /// Target bit-width, final weight, aggregation, warm-up.
        dampening: DampeningParams,
    },
    /// QAT with Nagel et al.'s iterative weight freezing ([`crate::WeightFreezer`]).
    QatFreeze {
        /// Target bit-width, momentum, threshold schedule, warm-up.
        freezing: FreezingParams,
    },
    /// QAT with learned step sizes (LSQ, Esser et al. 2020; [`crate::LsqSteps`]): every quantized
    /// weight tensor gets its own trainable step, initialized from the weights at the start of
    /// training (`2 mean|w| / sqrt(Qp)`, codes in `[-2^(b-1), 2^(b-1) - 1]`) and trained with them by
    /// the same optimizer. Validation and the model as deployed at the target bit use the learned
    /// steps; the other bits of a cross-bit evaluation use the reference max-abs PTQ.
    QatLsq {
        /// Target bit-width.
        bits: BitWidth,
    },
}

impl Method {
    /// The target bit-width (none for FP).
    pub fn target_bits(&self) -> Option<BitWidth> {
        match self {
            Self::Fp => None,
            Self::Qat { bits } => Some(*bits),
            Self::Reg { regularizer } => Some(regularizer.bits()),
            Self::QatDampen { dampening } => Some(dampening.bits()),
            Self::QatFreeze { freezing } => Some(freezing.bits()),
            Self::QatLsq { bits } => Some(*bits),
        }
    }

    /// Whether the training forward passes see fake-quantized weights (QAT and its variants).
    pub fn trains_quantized(&self) -> bool {
        matches!(
            self,
            Self::Qat { .. }
                | Self::QatDampen { .. }
                | Self::QatFreeze { .. }
                | Self::QatLsq { .. }
        )
    }

    /// The method's name as `--method` takes it: `fp`, `qat`, `reg`, `qat-dampen`, `qat-freeze`,
    /// `qat-lsq`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Fp => "fp",
            Self::Qat { .. } => "qat",
            Self::Reg { .. } => "reg",
            Self::QatDampen { .. } => "qat-dampen",
            Self::QatFreeze { .. } => "qat-freeze",
            Self::QatLsq { .. } => "qat-lsq",
        }
    }

    /// The same method at target `bits` (FP is returned unchanged).
    pub fn with_target_bits(self, bits: BitWidth) -> Self {
        match self {
            Self::Fp => Self::Fp,
            Self::Qat { .. } => Self::Qat { bits },
            Self::Reg { regularizer } => Self::Reg {
                regularizer: regularizer.with_bits(bits),
            },
            Self::QatDampen { dampening } => Self::QatDampen {
                dampening: dampening.with_bits(bits),
            },
            Self::QatFreeze { freezing } => Self::QatFreeze {
                freezing: freezing.with_bits(bits),
            },
            Self::QatLsq { .. } => Self::QatLsq { bits },
        }
    }

    /// A short label: `fp`, `qat-b3`, `reg-b3-l1`, `qat-dampen-b3-l0.1`, `qat-freeze-b3`.
    pub fn label(&self) -> String {
        match self {
            Self::Fp => "fp".into(),
            Self::Qat { bits } => format!("qat-b{}", bits.get()),
            Self::Reg { regularizer } => format!(
                "reg-b{}-l{}",
                regularizer.bits().get(),
                regularizer.lambda()
            ),
            Self::QatDampen { dampening } => format!(
                "qat-dampen-b{}-l{}",
                dampening.bits().get(),
                dampening.lambda()
            ),
            Self::QatFreeze { freezing } => format!("qat-freeze-b{}", freezing.bits().get()),
            Self::QatLsq { bits } => format!("qat-lsq-b{}", bits.get()),
        }
    }
}

/// Everything a training run needs besides the model and the data, unvalidated. Build one with
/// [`TrainParams::new`], adjust it, then [`TrainParams::check`] it into a [`TrainValidParams`].
///
/// ```
/// use smallscale_osc_reg::{Method, RegularizerParams, TrainParams};
/// let config = TrainParams::new(Method::Reg { regularizer: RegularizerParams::new(3, 1.0)? })
///     .with_epochs(20)
///     .with_patience(5)
///     .with_batch_size(128)
///     .with_seed(7)
///     .check()?;
/// assert_eq!(config.params().epochs, 20);
/// assert!(TrainParams::new(Method::Fp).with_batch_size(0).check().is_err());
/// # Ok::<(), smallscale_osc_reg::OscRegError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// FP, QAT, Reg or a QAT baseline.
    pub method: Method,
    /// The optimizer.
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Early stopping: epochs without improvement of the monitored accuracy (None: never stop early).
    pub patience: Option<usize>,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Seed for initialization, shuffling and augmentation.
    pub seed: u64,
    /// CIFAR-style augmentation (random crop with padding 4, horizontal flip) of the training batches.
    pub augment: bool,
    /// Track oscillations of the quantized weights (QAT and Reg) at every step.
    pub track_oscillations: bool,
}

impl TrainParams {
    /// Defaults: Adam with lr 1e-3, constant schedule, 30 epochs, patience 10 (the paper's), batch 128,
    /// seed 0, no augmentation, oscillation tracking on.
    pub fn new(method: Method) -> Self {
        Self {
            method,
            optimizer: OptimizerConfig::adam(1e-3),
            schedule: Schedule::Constant,
            epochs: 30,
            patience: Some(10),
            batch_size: 128,
            seed: 0,
            augment: false,
            track_oscillations: true,
        }
    }

    /// Sets the optimizer.
    pub fn with_optimizer(mut self, optimizer: OptimizerConfig) -> Self {
        self.optimizer = optimizer;
        self
    }

    /// Sets the schedule.
    pub fn with_schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Sets the maximum number of epochs.
    pub fn with_epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Sets the early-stopping patience.
    pub fn with_patience(mut self, patience: usize) -> Self {
        self.patience = Some(patience);
        self
    }

    /// Disables early stopping.
    pub fn without_early_stopping(mut self) -> Self {
        self.patience = None;
        self
    }

    /// Sets the batch size.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Turns augmentation on or off.
    pub fn with_augment(mut self, augment: bool) -> Self {
        self.augment = augment;
        self
    }

    /// Turns oscillation tracking on or off.
    pub fn with_track_oscillations(mut self, on: bool) -> Self {
        self.track_oscillations = on;
        self
    }

    /// Validates everything.
    pub fn check(self) -> Result<TrainValidParams> {
        self.optimizer.check()?;
        if self.epochs == 0 {
            return Err(OscRegError::InvalidParameter {
                parameter: "epochs",
                reason: "must be at least 1".into(),
            });
        }
        if self.batch_size == 0 {
            return Err(OscRegError::InvalidParameter {
                parameter: "batch size",
                reason: "must be at least 1".into(),
            });
        }
        if self.patience == Some(0) {
            return Err(OscRegError::InvalidParameter {
                parameter: "patience",
                reason: "must be at least 1 (or disable early stopping)".into(),
            });
        }
        if let Schedule::Cosine { min_lr } = self.schedule
            && !(min_lr.is_finite() && min_lr >= 0.0 && min_lr <= self.optimizer.lr())
        {
            return Err(OscRegError::InvalidParameter {
                parameter: "cosine min_lr",
                reason: format!(
                    "must lie in [0, lr = {}], got {min_lr}",
                    self.optimizer.lr()
                ),
            });
        }
        Ok(TrainValidParams(self))
    }
}

/// A validated [`TrainParams`]: the only form the trainer accepts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainValidParams(TrainParams);

impl TrainValidParams {
    /// The validated parameters.
    pub fn params(&self) -> &TrainParams {
        &self.0
    }
}
