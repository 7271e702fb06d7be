//! Bias after memorizing a plan, in the two models of the spec.
//!
//! * **Confusion-row model** (realisable on data; the default everywhere): inside each cell
//!   `(y, a)` a share `r_{y,a}` of the rows is memorized, stratified by prediction, so the
//!   unmemorized confusion rows `c_a(. | y)` stay as observed. Every metric is affine in `r`.
//! * **Distribution model** (the paper's parametrization): the unmemorized prediction
//!   distribution `s^a` of each group is an input held fixed while the memorized set's
//!   make-up `q` varies: `P(Y_hat = y | A = a) = (1 - u_a) s_y^a + u_a q_y^a`.
//!
//! The conditional metrics are the same in both models,
//! `P(Y_hat = yh | Y = y, A = a) = r_{y,a} 1[yh = y] + (1 - r_{y,a}) c_a(yh | y)`, because both
//! hold the unmemorized confusion rows fixed; the models differ only in statistical parity.

use ndarray::{Array1, Array2, Array3};
use serde::Serialize;

use crate::distribution::JointDistribution;
use crate::errors::{FairnessError, Result};
use crate::groups::{Group, SignConvention};
use crate::metrics::{FairnessMetrics, GapMatrix, GapVector};
use crate::plan::MemorizationPlan;

/// Which of the spec's two models a computation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemorizationModel {
    /// Unmemorized confusion rows fixed (stratified memorization inside cells). Realisable on rows.
    #[default]
    ConfusionRow,
    /// Unmemorized prediction distributions `s^a` fixed at the observed `P(Y_hat | A = a)`.
    Distribution,
}

/// The joint distribution after memorizing `plan` in the confusion-row model:
/// `P'(a, y, yh) = m_y^a 1[yh = y] + (p_y^a - m_y^a) c_a(yh | y)`.
///
/// ```
/// use ndarray::Array3;
/// use smallscale_fairness_memo::{JointDistribution, MemorizationPlan, memorized_distribution, statistical_parity, SignConvention};
/// let dist = JointDistribution::from_masses(Array3::from_shape_vec((2, 2, 2), vec![3., 1., 1., 3., 3., 1., 2., 2.]).unwrap()).unwrap();
/// let after = memorized_distribution(&dist, &MemorizationPlan::everything(&dist));
/// // memorizing everything leaves the base-rate gap (here 0.5 - 0.5 = 0)
/// assert!(statistical_parity(&after, SignConvention::default())[1].abs() < 1e-12);
/// ```
pub fn memorized_distribution(
    dist: &JointDistribution,
    plan: &MemorizationPlan,
) -> JointDistribution {
    let p = dist.probabilities();
    let k = dist.n_classes();
    let mut out = Array3::zeros((2, k, k));
    for g in Group::BOTH {
        let a = g.index();
        for y in 0..k {
            let r = plan.share(g, y);
            for yh in 0..k {
                let memorized = if yh == y {
                    r * dist.cell_mass(g, y)
                } else {
                    0.0
                };
                out[[a, y, yh]] = memorized + (1.0 - r) * p[[a, y, yh]];
            }
        }
    }
    // Masses are unchanged per cell, so the result is normalized and both groups non-empty.
    JointDistribution::from_masses(out).unwrap_or_else(|_| dist.clone())
}

/// `P(Y_hat = . | A = a)` after memorizing `plan`, confusion-row model (the spec's affine form
/// `sum_y P(Y = y | A = a) [ r_{y,a} 1[yh = y] + (1 - r_{y,a}) c_a(yh | y) ]`).
pub fn prediction_distribution_after(
    dist: &JointDistribution,
    plan: &MemorizationPlan,
    group: Group,
) -> Array1<f64> {
    let k = dist.n_classes();
    let labels = dist.label_distribution(group);
    let mut out = Array1::zeros(k);
    for y in 0..k {
        let Ok(c) = dist.confusion_row(group, y) else {
            continue;
        };
        let r = plan.share(group, y);
        for yh in 0..k {
            let indicator = if yh == y { 1.0 } else { 0.0 };
            out[yh] += labels[y] * (r * indicator + (1.0 - r) * c[yh]);
        }
    }
    out
}

/// Statistical parity after memorizing `plan` in the given model.
pub fn statistical_parity_after(
    dist: &JointDistribution,
    plan: &MemorizationPlan,
    model: MemorizationModel,
    sign: SignConvention,
) -> Array1<f64> {
    match model {
        MemorizationModel::ConfusionRow => {
            let plus = prediction_distribution_after(dist, plan, Group::Protected);
            let minus = prediction_distribution_after(dist, plan, Group::Unprotected);
            Array1::from_iter(plus.iter().zip(minus.iter()).map(|(&p, &m)| sign.gap(p, m)))
        }
        MemorizationModel::Distribution => {
            DistributionModel::observed(dist).statistical_parity_after(dist, plan, sign)
        }
    }
}

/// `P(Y_hat = yh | Y = y, A = a)` after memorizing `plan`, indexed `[prediction, label]`:
/// `r_{y,a} 1[yh = y] + (1 - r_{y,a}) c_a(yh | y)` (both models).
pub fn confusion_after(
    dist: &JointDistribution,
    plan: &MemorizationPlan,
    group: Group,
) -> Result<Array2<f64>> {
    let k = dist.n_classes();
    let mut out = Array2::zeros((k, k));
    for y in 0..k {
        let c = dist.confusion_row(group, y)?;
        let r = plan.share(group, y);
        for yh in 0..k {
            let indicator = if yh == y { 1.0 } else { 0.0 };
            out[[yh, y]] = r * indicator + (1.0 - r) * c[yh];
        }
    }
    Ok(out)
}

/// Equal opportunity after memorizing `plan` (both models):
/// `P(Y_hat = y | Y = y, A = a) = t_{y,a} + r_{y,a} (1 - t_{y,a})`.
pub fn equal_opportunity_after(
    dist: &JointDistribution,
    plan: &MemorizationPlan,
    sign: SignConvention,
) -> Result<Array1<f64>> {
    dist.require_full_cells("equal opportunity after memorization")?;
    let k = dist.n_classes();
    let mut out = Array1::zeros(k);
    for y in 0..k {
        let rate = |g: Group| -> Result<f64> {
            let t = dist.true_rate(g, y)?;
            Ok(t + plan.share(g, y) * (1.0 - t))
        };
        out[y] = sign.gap(rate(Group::Protected)?, rate(Group::Unprotected)?);
    }
    Ok(out)
}

/// Equalized odds after memorizing `plan` (both models), indexed `[prediction, label]`.
pub fn equalized_odds_after(
    dist: &JointDistribution,
    plan: &MemorizationPlan,
    sign: SignConvention,
) -> Result<Array2<f64>> {
    dist.require_full_cells("equalized odds after memorization")?;
    let plus = confusion_after(dist, plan, Group::Protected)?;
    let minus = confusion_after(dist, plan, Group::Unprotected)?;
    Ok(ndarray::Zip::from(&plus)
        .and(&minus)
        .map_collect(|&p, &m| sign.gap(p, m)))
}

/// All metrics after memorizing `plan` in the given model, from the closed forms.
///
/// ```
/// use ndarray::Array3;
/// use smallscale_fairness_memo::*;
/// let dist = JointDistribution::from_masses(Array3::from_shape_vec((2, 2, 2), vec![3., 1., 1., 3., 3., 1., 2., 2.]).unwrap()).unwrap();
/// let plan = MemorizationPlan::everything(&dist);
/// let after = metrics_after(&dist, &plan, MemorizationModel::ConfusionRow, SignConvention::default());
/// // memorizing everything makes the classifier exact: no EOpp gap is left
/// assert!(after.equal_opportunity.unwrap().aggregates.max_abs < 1e-12);
/// ```
pub fn metrics_after(
    dist: &JointDistribution,
    plan: &MemorizationPlan,
    model: MemorizationModel,
    sign: SignConvention,
) -> FairnessMetrics {
    let statistical_parity = GapVector::new(statistical_parity_after(dist, plan, model, sign));
    match (
        equal_opportunity_after(dist, plan, sign),
        equalized_odds_after(dist, plan, sign),
    ) {
        (Ok(eopp), Ok(eodds)) => FairnessMetrics {
            sign,
            statistical_parity,
            equal_opportunity: Some(GapVector::new(eopp)),
            equalized_odds: Some(GapMatrix::new(eodds)),
            undefined: None,
        },
        (Err(e), _) | (_, Err(e)) => FairnessMetrics {
            sign,
            statistical_parity,
            equal_opportunity: None,
            equalized_odds: None,
            undefined: Some(e.to_string()),
        },
    }
}

/// The distribution model: unmemorized prediction distributions `s^a` (`[group, prediction]`,
/// rows summing to one) held fixed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DistributionModel {
    #[serde(serialize_with = "crate::serialize::array2")]
    unmemorized_prediction: Array2<f64>,
}

impl DistributionModel {
    /// Validates `s^a`, shape `(2, K)`, each row a probability vector.
    pub fn new(unmemorized_prediction: Array2<f64>) -> Result<Self> {
        let (g, k) = unmemorized_prediction.dim();
        if g != 2 || k < 2 {
            return Err(FairnessError::ShapeMismatch {
                input: "unmemorized prediction distribution",
                found: vec![g, k],
                expected: vec![2, k.max(2)],
            });
        }
        let flat: Vec<f64> = unmemorized_prediction.iter().copied().collect();
        crate::errors::check_finite_nonnegative("unmemorized prediction distribution", &flat)?;
        for row in unmemorized_prediction.rows() {
            let sum = row.sum();
            if (sum - 1.0).abs() > crate::distribution::NORMALIZATION_TOLERANCE {
                return Err(FairnessError::NotNormalized {
                    input: "unmemorized prediction distribution",
                    sum,
                });
            }
        }
        Ok(Self {
            unmemorized_prediction,
        })
    }

    /// `s^a` = the observed `P(Y_hat | A = a)` of `dist`.
    pub fn observed(dist: &JointDistribution) -> Self {
        let k = dist.n_classes();
        let mut s = Array2::zeros((2, k));
        for g in Group::BOTH {
            s.row_mut(g.index())
                .assign(&dist.prediction_distribution(g));
        }
        Self {
            unmemorized_prediction: s,
        }
    }

    /// `s^a`, indexed `[group, prediction]`.
    pub fn unmemorized_prediction(&self) -> &Array2<f64> {
        &self.unmemorized_prediction
    }

    /// `P(Y_hat = . | A = a) = (1 - u_a) s^a + u_a q^a` with `u_a = M^a / p^a` and
    /// `q_y^a = m_y^a / M^a` (the second term vanishes when `M^a = 0`).
    pub fn prediction_distribution_after(
        &self,
        dist: &JointDistribution,
        plan: &MemorizationPlan,
        group: Group,
    ) -> Array1<f64> {
        let s = self.unmemorized_prediction.row(group.index());
        let big_m = plan.group_mass(group);
        let u = big_m / dist.group_mass(group);
        Array1::from_iter((0..s.len()).map(|y| {
            let q = if big_m > 0.0 {
                plan.mass(group, y) / big_m
            } else {
                0.0
            };
            (1.0 - u) * s[y] + u * q
        }))
    }

    /// The spec's closed form
    /// `SP(y) = (s_y^+ - s_y^-) + p_D [ (q^+/p^+)(q_y^+ - s_y^+) - (q^-/p^-)(q_y^- - s_y^-) ]`
    /// with `q^a = M^a / p_D`, `q_y^a = m_y^a / M^a`.
    pub fn statistical_parity_after(
        &self,
        dist: &JointDistribution,
        plan: &MemorizationPlan,
        sign: SignConvention,
    ) -> Array1<f64> {
        let p_d = plan.total_mass();
        let k = self.unmemorized_prediction.ncols();
        let term = |g: Group, y: usize| -> f64 {
            let big_m = plan.group_mass(g);
            if p_d <= 0.0 || big_m <= 0.0 {
                return 0.0;
            }
            let q_group = big_m / p_d;
            let q_label = plan.mass(g, y) / big_m;
            let s = self.unmemorized_prediction[[g.index(), y]];
            p_d * (q_group / dist.group_mass(g)) * (q_label - s)
        };
        Array1::from_iter((0..k).map(|y| {
            let (pl, mi) = (Group::Protected, Group::Unprotected);
            let s_plus = self.unmemorized_prediction[[pl.index(), y]];
            let s_minus = self.unmemorized_prediction[[mi.index(), y]];
            sign.gap(s_plus + term(pl, y), s_minus + term(mi, y))
        }))
    }
}
