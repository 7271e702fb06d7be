//! The optimizers' hyperparameters.

use serde::{Deserialize, Serialize};

use crate::errors::{ModelError, Result};

/// The optimizer and its hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "optimizer", rename_all = "kebab-case")]
pub enum OptimizerConfig {
    /// Adam (Kingma & Ba), the paper's optimizer; `weight_decay` is the classic L2 term added to the
    /// gradient (0 in the paper).
    Adam {
        /// Learning rate.
        lr: f64,
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Denominator epsilon.
        eps: f64,
        /// L2 weight decay.
        weight_decay: f64,
    },
    /// SGD with (optionally Nesterov) momentum and L2 weight decay, as PyTorch's `SGD`.
    Sgd {
        /// Learning rate.
        lr: f64,
        /// Momentum (0 for none).
        momentum: f64,
        /// L2 weight decay.
        weight_decay: f64,
        /// Nesterov momentum.
        nesterov: bool,
    },
}

impl OptimizerConfig {
    /// Adam with PyTorch's defaults (betas 0.9/0.999, eps 1e-8, no weight decay).
    pub fn adam(lr: f64) -> Self {
        Self::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }

    /// SGD with momentum 0.9 and weight decay 5e-4 (the usual CIFAR recipe).
    pub fn sgd(lr: f64) -> Self {
        Self::Sgd {
            lr,
            momentum: 0.9,
            weight_decay: 5e-4,
            nesterov: false,
        }
    }

    /// The base learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            Self::Adam { lr, .. } | Self::Sgd { lr, .. } => *lr,
        }
    }

    /// Checks every hyperparameter: a positive finite learning rate, betas and momentum in
    /// [0, 1), a positive eps, a non-negative weight decay, Nesterov only with momentum.
    ///
    /// ```
    /// use smallscale_models::OptimizerConfig;
    /// assert!(OptimizerConfig::adam(1e-3).check().is_ok());
    /// assert!(OptimizerConfig::adam(0.0).check().is_err());
    /// ```
    pub fn check(&self) -> Result<()> {
        let bad = |parameter: &'static str, reason: String| {
            Err(ModelError::InvalidOptimizer { parameter, reason })
        };
        let lr = self.lr();
        if !(lr.is_finite() && lr > 0.0) {
            return bad(
                "learning rate",
                format!("must be positive and finite, got {lr}"),
            );
        }
        match *self {
            Self::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                if !((0.0..1.0).contains(&beta1) && (0.0..1.0).contains(&beta2)) {
                    return bad(
                        "Adam betas",
                        format!("must lie in [0, 1), got {beta1} and {beta2}"),
                    );
                }
                if !(eps.is_finite() && eps > 0.0) {
                    return bad("Adam eps", format!("must be positive, got {eps}"));
                }
                if !(weight_decay.is_finite() && weight_decay >= 0.0) {
                    return bad("weight decay", format!("must be >= 0, got {weight_decay}"));
                }
            }
            Self::Sgd {
                momentum,
                weight_decay,
                nesterov,
                ..
            } => {
                if !(0.0..1.0).contains(&momentum) {
                    return bad("momentum", format!("must lie in [0, 1), got {momentum}"));
                }
                if nesterov && momentum == 0.0 {
                    return bad("nesterov", "Nesterov momentum needs a momentum > 0".into());
                }
                if !(weight_decay.is_finite() && weight_decay >= 0.0) {
                    return bad("weight decay", format!("must be >= 0, got {weight_decay}"));
                }
            }
        }
        Ok(())
    }
}
