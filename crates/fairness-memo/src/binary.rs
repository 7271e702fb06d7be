//! The binary special case, in the vocabulary of fairlearn and AIF360.

use serde::Serialize;

use crate::distribution::JointDistribution;
use crate::errors::{FairnessError, Result};
use crate::groups::Group;

/// Binary fairness summaries for one positive class (one-vs-rest when `K > 2`).
///
/// Definitions (with the protected group as AIF360's *unprivileged* group):
///
/// * fairlearn `demographic_parity_difference` = max - min of the groups' selection rates
///   = `|SP(positive)|`;
/// * fairlearn `equalized_odds_difference` = max of the absolute TPR gap and FPR gap;
/// * AIF360 `statistical_parity_difference` = `P(Y_hat = 1 | unprivileged) - P(Y_hat = 1 | privileged)`
///   = `SP(positive)` with the default sign convention;
/// * AIF360 `equal_opportunity_difference` = `TPR_unprivileged - TPR_privileged` = `EOpp(positive)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BinaryFairness {
    /// The positive class.
    pub positive_class: usize,
    /// `P(Y_hat = pos | A = a)`, indexed by group (unprotected, protected).
    pub selection_rate: [f64; 2],
    /// `P(Y_hat = pos | Y = pos, A = a)`.
    pub true_positive_rate: [f64; 2],
    /// `P(Y_hat = pos | Y != pos, A = a)`.
    pub false_positive_rate: [f64; 2],
    /// fairlearn's demographic parity difference.
    pub demographic_parity_difference: f64,
    /// fairlearn's equalized odds difference.
    pub equalized_odds_difference: f64,
    /// AIF360's statistical parity difference (protected minus unprotected).
    pub statistical_parity_difference: f64,
    /// AIF360's equal opportunity difference (protected minus unprotected).
    pub equal_opportunity_difference: f64,
}

/// Computes [`BinaryFairness`] for `positive_class`.
///
/// ```
/// use ndarray::Array3;
/// use smallscale_fairness_memo::{JointDistribution, binary_fairness};
/// // [group][label][prediction] counts
/// let m = Array3::from_shape_vec((2, 2, 2), vec![4., 1., 1., 4., 4., 0., 3., 1.]).unwrap();
/// let b = binary_fairness(&JointDistribution::from_masses(m).unwrap(), 1).unwrap();
/// assert!((b.statistical_parity_difference - (1.0 / 8.0 - 5.0 / 10.0)).abs() < 1e-12);
/// ```
pub fn binary_fairness(dist: &JointDistribution, positive_class: usize) -> Result<BinaryFairness> {
    let k = dist.n_classes();
    if positive_class >= k {
        return Err(FairnessError::InvalidParameter {
            input: "positive_class",
            reason: format!("{positive_class} is not a class index below {k}"),
        });
    }
    let p = dist.probabilities();
    let mut selection_rate = [0.0; 2];
    let mut true_positive_rate = [0.0; 2];
    let mut false_positive_rate = [0.0; 2];
    for g in Group::BOTH {
        let a = g.index();
        let (mut pos, mut neg, mut tp, mut fp) = (0.0, 0.0, 0.0, 0.0);
        for y in 0..k {
            for yh in 0..k {
                let v = p[[a, y, yh]];
                if y == positive_class {
                    pos += v;
                    if yh == positive_class {
                        tp += v;
                    }
                } else {
                    neg += v;
                    if yh == positive_class {
                        fp += v;
                    }
                }
            }
        }
        if pos <= 0.0 || neg <= 0.0 {
            return Err(FairnessError::EmptyCell {
                input: "binary fairness",
                label: positive_class,
                group: g.name(),
            });
        }
        selection_rate[a] = (tp + fp) / (pos + neg);
        true_positive_rate[a] = tp / pos;
        false_positive_rate[a] = fp / neg;
    }
    let (u, pr) = (Group::Unprotected.index(), Group::Protected.index());
    let tpr_gap = true_positive_rate[pr] - true_positive_rate[u];
    let fpr_gap = false_positive_rate[pr] - false_positive_rate[u];
    Ok(BinaryFairness {
        positive_class,
        selection_rate,
        true_positive_rate,
        false_positive_rate,
        demographic_parity_difference: (selection_rate[pr] - selection_rate[u]).abs(),
        equalized_odds_difference: tpr_gap.abs().max(fpr_gap.abs()),
        statistical_parity_difference: selection_rate[pr] - selection_rate[u],
        equal_opportunity_difference: tpr_gap,
    })
}
