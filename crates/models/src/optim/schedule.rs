//! Learning-rate schedules, per epoch.

use serde::{Deserialize, Serialize};

/// The learning-rate schedule, per epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "schedule", rename_all = "kebab-case")]
pub enum Schedule {
    /// The base learning rate throughout.
    Constant,
    /// Cosine annealing from the base rate to `min_lr` over the maximum number of epochs.
    Cosine {
        /// Final learning rate.
        min_lr: f64,
    },
}

impl Schedule {
    /// The learning rate of `epoch` (0-based) out of `epochs`.
    ///
    /// ```
    /// use smallscale_models::Schedule;
    /// let s = Schedule::Cosine { min_lr: 0.0 };
    /// assert_eq!(s.learning_rate(0.1, 0, 10), 0.1);
    /// assert!((s.learning_rate(0.1, 5, 10) - 0.05).abs() < 1e-12);
    /// assert_eq!(Schedule::Constant.learning_rate(0.1, 7, 10), 0.1);
    /// ```
    pub fn learning_rate(&self, base: f64, epoch: usize, epochs: usize) -> f64 {
        match *self {
            Self::Constant => base,
            Self::Cosine { min_lr } => {
                let t = epoch as f64 / epochs.max(1) as f64;
                min_lr + 0.5 * (base - min_lr) * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}
