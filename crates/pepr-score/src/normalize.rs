//! Normalization of raw resource costs to `R` in `[0, 1]`.
//!
//! The paper normalizes min-max over the pool of compared models:
//! `R_i = (r_i - min_j r_j) / (max_j r_j - min_j r_j)` ([`min_max_normalize`]).
//! A *degenerate* pool (one model, or all costs equal) makes the denominator
//! zero; this crate then defines `R = 0` for every model and reports it in
//! [`Normalized::degenerate`].
//!
//! **Extension** (not in the paper): [`ReferenceBounds`] normalize against
//! fixed bounds instead of the pool, so scores do not move when models are
//! added; costs outside the bounds are clamped to `[0, 1]` and counted.

use serde::{Deserialize, Serialize};

use crate::errors::{PeprError, Result, invalid_parameter};

/// Normalized resource costs, with how they were obtained.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::min_max_normalize;
///
/// let n = min_max_normalize(&[2.0, 4.0, 6.0])?;
/// assert_eq!(n.values, vec![0.0, 0.5, 1.0]);
/// assert!(!n.degenerate);
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalized {
    /// `R_i` in `[0, 1]`, in input order.
    pub values: Vec<f64>,
    /// The lower bound used (pool minimum or reference minimum).
    pub min: f64,
    /// The upper bound used (pool maximum or reference maximum).
    pub max: f64,
    /// `true` when `max == min` over the pool, so every `R` was set to 0.
    pub degenerate: bool,
    /// How many values were clamped into `[0, 1]` (only with reference bounds).
    pub clamped: usize,
}

fn check_raw(values: &[f64]) -> Result<()> {
    if values.is_empty() {
        return Err(PeprError::Empty {
            what: "the list of resource values".to_string(),
            hint: "pass at least one model's cost".to_string(),
        });
    }
    if let Some(i) = values.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(PeprError::InvalidResource {
            what: format!("entry {i}"),
            resource: "resource".to_string(),
            value: values[i],
        });
    }
    Ok(())
}

/// Min-max normalization over the pool: `(r - min) / (max - min)`.
///
/// A degenerate pool (one value, or all equal) gives `R = 0` everywhere and
/// `degenerate = true`.
///
/// # Errors
///
/// [`PeprError::Empty`] for no values, [`PeprError::InvalidResource`] for a
/// negative, NaN or infinite value.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::min_max_normalize;
///
/// let n = min_max_normalize(&[3.0, 3.0])?;
/// assert_eq!(n.values, vec![0.0, 0.0]);
/// assert!(n.degenerate);
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
pub fn min_max_normalize(values: &[f64]) -> Result<Normalized> {
    check_raw(values)?;
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = max - min;
    let degenerate = range <= 0.0;
    let values = if degenerate {
        vec![0.0; values.len()]
    } else {
        values.iter().map(|v| (v - min) / range).collect()
    };
    Ok(Normalized {
        values,
        min,
        max,
        degenerate,
        clamped: 0,
    })
}

/// **Extension**: fixed reference bounds `[min, max]` for a resource.
///
/// Normalizing against fixed bounds keeps every model's `R` stable when the
/// pool changes; costs below `min` or above `max` are clamped to 0 or 1.
/// Construction validates the bounds, so invalid bounds never reach the
/// normalization.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::ReferenceBounds;
///
/// let bounds = ReferenceBounds::new(0.0, 10.0)?;
/// let n = bounds.normalize(&[5.0, 20.0])?;
/// assert_eq!(n.values, vec![0.5, 1.0]);
/// assert_eq!(n.clamped, 1);
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReferenceBounds {
    min: f64,
    max: f64,
}

impl ReferenceBounds {
    /// Bounds with `0 <= min < max`, both finite.
    ///
    /// # Errors
    ///
    /// [`PeprError::InvalidParameter`] otherwise.
    pub fn new(min: f64, max: f64) -> Result<Self> {
        if !(min.is_finite() && min >= 0.0) {
            return Err(invalid_parameter(
                "reference min",
                min,
                "the lower reference bound must be finite and >= 0",
            ));
        }
        if !(max.is_finite() && max > min) {
            return Err(invalid_parameter(
                "reference max",
                max,
                "the upper reference bound must be finite and greater than the lower bound",
            ));
        }
        Ok(Self { min, max })
    }

    /// The lower bound.
    pub fn min(&self) -> f64 {
        self.min
    }

    /// The upper bound.
    pub fn max(&self) -> f64 {
        self.max
    }

    /// Normalizes `values` against the bounds, clamping into `[0, 1]`.
    ///
    /// # Errors
    ///
    /// As [`min_max_normalize`].
    pub fn normalize(&self, values: &[f64]) -> Result<Normalized> {
        check_raw(values)?;
        let range = self.max - self.min;
        let mut clamped = 0;
        let values = values
            .iter()
            .map(|v| {
                let r = (v - self.min) / range;
                if !(0.0..=1.0).contains(&r) {
                    clamped += 1;
                }
                r.clamp(0.0, 1.0)
            })
            .collect();
        Ok(Normalized {
            values,
            min: self.min,
            max: self.max,
            degenerate: false,
            clamped,
        })
    }
}
