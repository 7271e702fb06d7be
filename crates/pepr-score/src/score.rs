//! The PePR score of one model: `PePR(R, P) = P / (1 + R)`.
//!
//! `P` is the performance in `[0, 1]` (e.g. test accuracy) and `R` the
//! resource cost, min-max normalized over the pool of models being compared
//! (see [`crate::normalize`]), so that `R` is in `[0, 1]`.
//!
//! Properties (all tested):
//!
//! * `P / 2 <= PePR <= P`; the cheapest model of a pool scores `P`, the most
//!   expensive `P / 2`.
//! * PePR increases with `P` and decreases with `R`.
//! * Iso-PePR lines `P = c (1 + R)` all pass through `(R, P) = (-1, 0)`
//!   ([`iso_pepr_performance`]).
//! * A costlier model `b` beats a cheaper model `a` only if its relative
//!   performance gain exceeds `(R_b - R_a) / (1 + R_a)`
//!   ([`break_even_performance`]); the most expensive model must reach twice
//!   the cheapest model's performance.

use serde::{Deserialize, Serialize};

use crate::errors::{PeprError, Result, invalid_parameter};

/// Checks that a performance is a number in `[0, 1]`.
pub(crate) fn check_performance(what: &str, p: f64) -> Result<()> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(PeprError::PerformanceOutOfRange {
            what: what.to_string(),
            value: p,
        })
    }
}

/// Checks that a normalized resource is a number in `[0, 1]`.
pub(crate) fn check_normalized(what: &str, r: f64) -> Result<()> {
    if (0.0..=1.0).contains(&r) {
        Ok(())
    } else {
        Err(PeprError::NormalizedResourceOutOfRange {
            what: what.to_string(),
            value: r,
        })
    }
}

/// The PePR score `P / (1 + R)` of one model.
///
/// `performance` must be in `[0, 1]` and `normalized_resource` in `[0, 1]`
/// (normalize raw costs over the pool with [`crate::min_max_normalize`], or
/// score a whole [`crate::Pool`] at once).
///
/// # Errors
///
/// [`PeprError::PerformanceOutOfRange`] or
/// [`PeprError::NormalizedResourceOutOfRange`] (NaN included).
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::pepr;
///
/// // The cheapest model keeps its accuracy, the most expensive one halves it.
/// assert_eq!(pepr(0.9, 0.0)?, 0.9);
/// assert_eq!(pepr(0.9, 1.0)?, 0.45);
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
pub fn pepr(performance: f64, normalized_resource: f64) -> Result<f64> {
    check_performance("the argument `performance`", performance)?;
    check_normalized("the argument `normalized_resource`", normalized_resource)?;
    Ok(performance / (1.0 + normalized_resource))
}

/// **Extension** (not in the paper): the weighted score `P / (1 + w R)`.
///
/// `w = 1` is PePR; `w = 0` ignores the resource (the score is `P`); larger
/// `w` penalises cost more (the most expensive model scores `P / (1 + w)`).
///
/// # Errors
///
/// As [`pepr`], plus [`PeprError::InvalidParameter`] if `weight` is negative
/// or not finite.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::pepr_weighted;
///
/// assert_eq!(pepr_weighted(0.9, 1.0, 2.0)?, 0.3);
/// assert_eq!(pepr_weighted(0.9, 1.0, 0.0)?, 0.9);
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
pub fn pepr_weighted(performance: f64, normalized_resource: f64, weight: f64) -> Result<f64> {
    check_weight(weight)?;
    check_performance("the argument `performance`", performance)?;
    check_normalized("the argument `normalized_resource`", normalized_resource)?;
    Ok(performance / (1.0 + weight * normalized_resource))
}

pub(crate) fn check_weight(weight: f64) -> Result<()> {
    if weight.is_finite() && weight >= 0.0 {
        Ok(())
    } else {
        Err(invalid_parameter(
            "weight",
            weight,
            "the resource weight w of P / (1 + w R) must be finite and >= 0 (w = 1 is PePR)",
        ))
    }
}

/// The performance on the iso-PePR line of score `score` at normalized
/// resource `normalized_resource`: `P = c (1 + R)`.
///
/// Every iso-PePR line passes through `(R, P) = (-1, 0)`: the score is the
/// slope of the line from that point to `(R, P)`. The result may exceed 1
/// (no model can then reach that score at that cost).
///
/// # Errors
///
/// [`PeprError::InvalidParameter`] if `score` is not finite or negative,
/// [`PeprError::NormalizedResourceOutOfRange`] if `R` is not in `[0, 1]`.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::{iso_pepr_performance, pepr};
///
/// let p = iso_pepr_performance(0.4, 0.5)?;
/// assert!((pepr(p, 0.5)? - 0.4).abs() < 1e-15);
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
pub fn iso_pepr_performance(score: f64, normalized_resource: f64) -> Result<f64> {
    if !(score.is_finite() && score >= 0.0) {
        return Err(invalid_parameter(
            "score",
            score,
            "an iso-PePR level must be finite and >= 0",
        ));
    }
    check_normalized("the argument `normalized_resource`", normalized_resource)?;
    Ok(score * (1.0 + normalized_resource))
}

/// The performance a model with normalized cost `r_b` must exceed to beat a
/// model with performance `p_a` and normalized cost `r_a`:
/// `p_a (1 + r_b) / (1 + r_a)`.
///
/// Equivalently the relative gain `(P_b - P_a) / P_a` must exceed
/// `(r_b - r_a) / (1 + r_a)`. For the most expensive model (`r_b = 1`)
/// against the cheapest (`r_a = 0`) this is twice `p_a`.
///
/// # Errors
///
/// As [`pepr`] for `p_a`, `r_a` and `r_b`.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::break_even_performance;
///
/// // "Twice the accuracy" rule.
/// assert_eq!(break_even_performance(0.4, 0.0, 1.0)?, 0.8);
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
pub fn break_even_performance(p_a: f64, r_a: f64, r_b: f64) -> Result<f64> {
    check_performance("the argument `p_a`", p_a)?;
    check_normalized("the argument `r_a`", r_a)?;
    check_normalized("the argument `r_b`", r_b)?;
    Ok(p_a * (1.0 + r_b) / (1.0 + r_a))
}

/// The four variants of the paper, which differ only in the resource.
///
/// Any other named resource can be scored too; these give the column names of
/// the paper's released table and the labels the paper uses.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::PeprVariant;
///
/// assert_eq!(PeprVariant::Energy.label(), "PePR-E");
/// assert_eq!(PeprVariant::Energy.paper_column(), "energy");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PeprVariant {
    /// PePR-E: training energy (kWh). The paper's main variant.
    Energy,
    /// PePR-C: CO2-equivalent emissions of training (g).
    Co2,
    /// PePR-T: training time (s).
    TrainTime,
    /// PePR-M: GPU memory reserved (GB).
    Memory,
}

impl PeprVariant {
    /// All four variants, in the paper's order E, C, T, M.
    pub const ALL: [PeprVariant; 4] = [
        PeprVariant::Energy,
        PeprVariant::Co2,
        PeprVariant::TrainTime,
        PeprVariant::Memory,
    ];

    /// The label used in the paper, e.g. `"PePR-E"`.
    pub fn label(self) -> &'static str {
        match self {
            PeprVariant::Energy => "PePR-E",
            PeprVariant::Co2 => "PePR-C",
            PeprVariant::TrainTime => "PePR-T",
            PeprVariant::Memory => "PePR-M",
        }
    }

    /// The raw-resource column of the paper's released table.
    pub fn paper_column(self) -> &'static str {
        match self {
            PeprVariant::Energy => "energy",
            PeprVariant::Co2 => "co2",
            PeprVariant::TrainTime => "train_time",
            PeprVariant::Memory => "memR",
        }
    }

    /// The unit of the raw resource in the paper's table.
    pub fn unit(self) -> &'static str {
        match self {
            PeprVariant::Energy => "kWh",
            PeprVariant::Co2 => "g CO2eq",
            PeprVariant::TrainTime => "s",
            PeprVariant::Memory => "GB",
        }
    }
}
