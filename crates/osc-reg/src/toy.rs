//! The univariate toy model of spec §2: why QAT makes weights oscillate.

use serde::{Deserialize, Serialize};

use crate::errors::{OscRegError, Result};

/// The univariate linear model `y_hat = w x` with loss `L(w) = 1/2 E[(y - w x)^2]`, trained by gradient
/// descent with the straight-through estimator on a uniform grid of step `delta` (levels `k * delta`).
///
/// The QAT gradient splits into the full-precision gradient and an extra term,
/// `grad = -E[x (y - w x)] + E[x^2] (q(w) - w)`, which depends on `w` only through `q(w)`: QAT has no
/// fixed point unless the optimum `w* = E[xy] / E[x^2]` lies on the grid, and the weight ends up
/// oscillating around the threshold between the two levels next to `w*`, with a time average of `q(w)`
/// equal to `w*`.
///
/// ```
/// use smallscale_osc_reg::UnivariateToyModel;
/// // The spec's worked case: levels {0, 1}, x = 1, y = 0.75, w0 = 0.1, learning rate 0.15.
/// let toy = UnivariateToyModel::spec_example();
/// let steps = toy.qat_trajectory(40);
/// let cycle = UnivariateToyModel::find_cycle(&steps, 1e-9).unwrap();
/// assert_eq!(cycle.period, 4);
/// assert!((cycle.mean_quantized - 0.75).abs() < 1e-9);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UnivariateToyModel {
    /// `E[x^2]`.
    pub second_moment: f64,
    /// `E[x y]`.
    pub cross_moment: f64,
    /// Grid step of the quantizer (levels `k * delta`).
    pub delta: f64,
    /// Initial weight.
    pub w0: f64,
    /// Learning rate.
    pub learning_rate: f64,
}

/// One step of a toy trajectory.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ToyStep {
    /// The weight before the update.
    pub w: f64,
    /// Its quantized value `q(w)`.
    pub q: f64,
}

/// A cycle found at the end of a trajectory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToyCycle {
    /// Number of steps per cycle.
    pub period: usize,
    /// The weights of one cycle.
    pub weights: Vec<f64>,
    /// Mean of `q(w)` over the cycle.
    pub mean_quantized: f64,
}

impl UnivariateToyModel {
    /// The spec's worked case: levels `{0, 1}` (delta 1), `x = 1`, `y = 0.75`, `w0 = 0.1`, lr `0.15`.
    pub fn spec_example() -> Self {
        Self {
            second_moment: 1.0,
            cross_moment: 0.75,
            delta: 1.0,
            w0: 0.1,
            learning_rate: 0.15,
        }
    }

    /// Checks the parameters (finite, positive moments, step and learning rate).
    pub fn validate(&self) -> Result<()> {
        let ok = self.second_moment > 0.0
            && self.delta > 0.0
            && self.learning_rate > 0.0
            && [
                self.second_moment,
                self.cross_moment,
                self.delta,
                self.w0,
                self.learning_rate,
            ]
            .iter()
            .all(|v| v.is_finite());
        if ok {
            Ok(())
        } else {
            Err(OscRegError::InvalidParameter {
                parameter: "toy model",
                reason: format!(
                    "E[x^2], delta and the learning rate must be positive and everything finite: {self:?}"
                ),
            })
        }
    }

    /// The full-precision optimum `w* = E[xy] / E[x^2]`.
    pub fn optimum(&self) -> f64 {
        self.cross_moment / self.second_moment
    }

    /// `q(w) = delta * round_half_even(w / delta)`.
    pub fn quantize(&self, w: f64) -> f64 {
        self.delta * (w / self.delta).round_ties_even()
    }

    /// The full-precision gradient `-E[x (y - w x)] = E[x^2] w - E[xy]`.
    pub fn fp_gradient(&self, w: f64) -> f64 {
        self.second_moment * w - self.cross_moment
    }

    /// The QAT (straight-through) gradient: the FP gradient plus `E[x^2] (q(w) - w)`.
    pub fn qat_gradient(&self, w: f64) -> f64 {
        self.fp_gradient(w) + self.second_moment * (self.quantize(w) - w)
    }

    /// The gradient of the regularized objective `L(w) + lambda/2 (q(w)^2 - w^2)` (straight-through),
    /// whose extra term `lambda (q(w) - w)` has the same form as the QAT one.
    pub fn regularized_gradient(&self, w: f64, lambda: f64) -> f64 {
        self.fp_gradient(w) + lambda * (self.quantize(w) - w)
    }

    /// The gradient of QAT with Nagel et al.'s dampening loss `lambda_d (q(w).detach() - w)^2`
    /// (straight-through): the QAT gradient plus `2 lambda_d (w - q(w))`, which pulls the weight
    /// towards its level and, once it outweighs the QAT term's push across the threshold, lets the
    /// weight settle on one side instead of oscillating.
    pub fn dampened_gradient(&self, w: f64, lambda_d: f64) -> f64 {
        self.qat_gradient(w) + 2.0 * lambda_d * (w - self.quantize(w))
    }

    /// `steps` QAT updates `w <- w - lr * qat_gradient(w)` from `w0`.
    pub fn qat_trajectory(&self, steps: usize) -> Vec<ToyStep> {
        self.trajectory(steps, |w| self.qat_gradient(w))
    }

    /// `steps` updates of the regularized objective from `w0`.
    pub fn regularized_trajectory(&self, steps: usize, lambda: f64) -> Vec<ToyStep> {
        self.trajectory(steps, |w| self.regularized_gradient(w, lambda))
    }

    /// `steps` updates of QAT with dampening weight `lambda_d` from `w0`.
    pub fn dampened_trajectory(&self, steps: usize, lambda_d: f64) -> Vec<ToyStep> {
        self.trajectory(steps, |w| self.dampened_gradient(w, lambda_d))
    }

    fn trajectory(&self, steps: usize, grad: impl Fn(f64) -> f64) -> Vec<ToyStep> {
        let mut w = self.w0;
        let mut out = Vec::with_capacity(steps);
        for _ in 0..steps {
            out.push(ToyStep {
                w,
                q: self.quantize(w),
            });
            w -= self.learning_rate * grad(w);
        }
        out
    }

    /// The shortest cycle at the end of a trajectory (period p such that the last two windows of p
    /// weights agree within `tol`), if any with p up to a third of the trajectory.
    pub fn find_cycle(steps: &[ToyStep], tol: f64) -> Option<ToyCycle> {
        let n = steps.len();
        (1..=n / 3).find_map(|p| {
            let last = &steps[n - p..];
            let prev = &steps[n - 2 * p..n - p];
            let same = last.iter().zip(prev).all(|(a, b)| (a.w - b.w).abs() <= tol);
            same.then(|| ToyCycle {
                period: p,
                weights: last.iter().map(|s| s.w).collect(),
                mean_quantized: last.iter().map(|s| s.q).sum::<f64>() / p as f64,
            })
        })
    }
}
