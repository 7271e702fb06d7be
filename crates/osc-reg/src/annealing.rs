//! The schedule of the oscillation-reducing baselines (Nagel et al. 2022): a value held for a
//! warm-up share of the training steps, then cosine-annealed from a start to an end value.

use serde::{Deserialize, Serialize};

use crate::errors::{OscRegError, Result};

/// A warm-up followed by a cosine annealing, over the training steps of a run.
///
/// With `T` training steps (0 to `T - 1`) and `t0 = warmup_fraction * T`, the value at step `t` is
/// `during_warmup` for `t < t0`, and `end + (start - end) * (1 + cos(pi * r)) / 2` with
/// `r = (t - t0) / (T - 1 - t0)` after it: `start` at `t0`, `end` at the last step `T - 1`. The dampening weight ramps up
/// this way from 0 to its final value, and the freezing threshold falls from its start to its end
/// value (with freezing off, threshold 0, during the warm-up).
///
/// ```
/// use smallscale_osc_reg::WarmupCosine;
/// let ramp = WarmupCosine::new(0.25, 0.0, 0.0, 0.1)?; // hold 0, then 0 -> 0.1
/// assert_eq!(ramp.value(0, 100), 0.0);
/// assert_eq!(ramp.value(24, 100), 0.0);
/// assert_eq!(ramp.value(25, 100), 0.0); // the annealing starts at its start value
/// assert!((ramp.value(99, 100) - 0.1).abs() < 1e-15); // and ends at the last step
/// assert!((ramp.value(62, 100) - 0.05).abs() < 1e-15); // halfway
/// # Ok::<(), smallscale_osc_reg::OscRegError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WarmupCosine {
    warmup_fraction: f64,
    during_warmup: f64,
    start: f64,
    end: f64,
}

impl WarmupCosine {
    /// Checks `warmup_fraction` (in `[0, 1)`) and that the three values are finite.
    pub fn new(warmup_fraction: f64, during_warmup: f64, start: f64, end: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&warmup_fraction) {
            return Err(OscRegError::InvalidParameter {
                parameter: "warm-up fraction",
                reason: format!(
                    "must lie in [0, 1), got {warmup_fraction} (Nagel et al. use 0.25)"
                ),
            });
        }
        if ![during_warmup, start, end].iter().all(|v| v.is_finite()) {
            return Err(OscRegError::InvalidParameter {
                parameter: "annealing values",
                reason: format!(
                    "must be finite, got {during_warmup} during the warm-up, {start} -> {end}"
                ),
            });
        }
        Ok(Self {
            warmup_fraction,
            during_warmup,
            start,
            end,
        })
    }

    /// The share of the steps before the annealing starts.
    pub fn warmup_fraction(&self) -> f64 {
        self.warmup_fraction
    }

    /// The value at step `step` (0-based) of `total_steps` (steps past the last give the end value).
    pub fn value(&self, step: usize, total_steps: usize) -> f64 {
        let total = total_steps.max(1) as f64;
        let t = step as f64;
        let t0 = self.warmup_fraction * total;
        if t < t0 {
            return self.during_warmup;
        }
        let span = total - 1.0 - t0;
        let r = if span > 0.0 {
            ((t - t0) / span).clamp(0.0, 1.0)
        } else {
            1.0
        };
        self.end + (self.start - self.end) * (1.0 + (std::f64::consts::PI * r).cos()) / 2.0
    }
}
