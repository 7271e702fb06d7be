//! Whether a memorization plan removes a bias, and the conditions of the spec that decide it.

use serde::Serialize;

use crate::distribution::JointDistribution;
use crate::errors::{FairnessError, Result};
use crate::groups::{Group, SignConvention};
use crate::memorization::{
    MemorizationModel, equal_opportunity_after, equalized_odds_after, statistical_parity_after,
};
use crate::metrics::Aggregates;
use crate::plan::MemorizationPlan;

/// Default tolerance on a remaining gap below which a bias counts as removed.
pub const DEFAULT_TOLERANCE: f64 = 1e-9;

/// The bias a computation targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Statistical parity: `SP(y) = 0` for every class.
    StatisticalParity,
    /// Equal opportunity: `EOpp(y) = 0` for every class.
    EqualOpportunity,
    /// Equalized odds: `EOdds(yh, y) = 0` for every pair.
    EqualizedOdds,
}

impl Target {
    /// All three targets.
    pub const ALL: [Target; 3] = [
        Target::StatisticalParity,
        Target::EqualOpportunity,
        Target::EqualizedOdds,
    ];

    /// A short name (`"statistical parity"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Target::StatisticalParity => "statistical parity",
            Target::EqualOpportunity => "equal opportunity",
            Target::EqualizedOdds => "equalized odds",
        }
    }
}

/// The outcome of [`eliminates`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EliminationCheck {
    /// The target checked.
    pub target: Target,
    /// Whether every remaining gap is within the tolerance.
    pub eliminated: bool,
    /// Aggregates of the remaining gaps.
    pub remaining: Aggregates,
    /// The tolerance used.
    pub tolerance: f64,
}

pub(crate) fn check_tolerance(tolerance: f64) -> Result<()> {
    if !tolerance.is_finite() || tolerance < 0.0 {
        return Err(FairnessError::InvalidParameter {
            input: "tolerance",
            reason: format!("{tolerance} must be finite and >= 0"),
        });
    }
    Ok(())
}

/// Decides whether memorizing `plan` removes the `target` bias (every remaining gap at most
/// `tolerance` in absolute value). The model matters only for statistical parity.
///
/// ```
/// use ndarray::Array3;
/// use smallscale_fairness_memo::*;
/// let dist = JointDistribution::from_masses(Array3::from_shape_vec((2, 2, 2), vec![3., 1., 1., 3., 3., 1., 2., 2.]).unwrap()).unwrap();
/// let all = MemorizationPlan::everything(&dist);
/// let check = eliminates(&dist, &all, Target::EqualizedOdds, MemorizationModel::ConfusionRow, 1e-9).unwrap();
/// assert!(check.eliminated);
/// ```
pub fn eliminates(
    dist: &JointDistribution,
    plan: &MemorizationPlan,
    target: Target,
    model: MemorizationModel,
    tolerance: f64,
) -> Result<EliminationCheck> {
    check_tolerance(tolerance)?;
    if plan.n_classes() != dist.n_classes() {
        return Err(FairnessError::InvalidPlan {
            reason: format!(
                "the plan has {} classes, the distribution {}",
                plan.n_classes(),
                dist.n_classes()
            ),
        });
    }
    let sign = SignConvention::default();
    let remaining = match target {
        Target::StatisticalParity => {
            Aggregates::of(statistical_parity_after(dist, plan, model, sign))
        }
        Target::EqualOpportunity => Aggregates::of(equal_opportunity_after(dist, plan, sign)?),
        Target::EqualizedOdds => {
            Aggregates::of(equalized_odds_after(dist, plan, sign)?.iter().copied())
        }
    };
    Ok(EliminationCheck {
        target,
        eliminated: remaining.max_abs <= tolerance,
        remaining,
        tolerance,
    })
}

/// The EOpp condition of class `label` after memorizing shares `r_plus`, `r_minus`:
/// `(1 - r_{y,+})(1 - t_{y,+}) - (1 - r_{y,-})(1 - t_{y,-})` (the false-negative-rate gap
/// after memorization; zero when EOpp(y) is removed).
pub fn false_negative_gap_after(
    dist: &JointDistribution,
    label: usize,
    r_plus: f64,
    r_minus: f64,
) -> Result<f64> {
    let t_plus = dist.true_rate(Group::Protected, label)?;
    let t_minus = dist.true_rate(Group::Unprotected, label)?;
    Ok((1.0 - r_plus) * (1.0 - t_plus) - (1.0 - r_minus) * (1.0 - t_minus))
}

/// The ratio condition of class `label`: the two groups' error rows (the off-diagonal part of
/// `c_a(. | y)`) are proportional, checked as
/// `max_yh |e_+(yh) (1 - t_-) - e_-(yh) (1 - t_+)| <= tolerance`.
///
/// It holds automatically for `K = 2` and generically fails for `K >= 3`; when it fails, the
/// only way to remove EOdds for that class is to memorize every cell of the class that has
/// errors.
pub fn ratio_condition(dist: &JointDistribution, label: usize, tolerance: f64) -> Result<bool> {
    check_tolerance(tolerance)?;
    let plus = dist.confusion_row(Group::Protected, label)?;
    let minus = dist.confusion_row(Group::Unprotected, label)?;
    let (err_plus, err_minus) = (1.0 - plus[label], 1.0 - minus[label]);
    let worst = (0..dist.n_classes())
        .filter(|&yh| yh != label)
        .map(|yh| (plus[yh] * err_minus - minus[yh] * err_plus).abs())
        .fold(0.0, f64::max);
    Ok(worst <= tolerance)
}
