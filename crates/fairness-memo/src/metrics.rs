//! The signed gaps statistical parity, equal opportunity and equalized odds, and their aggregates.

use ndarray::{Array1, Array2};
use serde::Serialize;

use crate::distribution::JointDistribution;
use crate::errors::Result;
use crate::groups::{Group, SignConvention};

/// Statistical parity `SP(y) = P(Y_hat = y | A = +) - P(Y_hat = y | A = -)` for every class
/// (sign per `sign`). Always defined; `sum_y SP(y) = 0`.
///
/// ```
/// use ndarray::Array3;
/// use smallscale_fairness_memo::{JointDistribution, SignConvention, statistical_parity};
/// // unprotected: 2 rows predicted 0, 2 predicted 1; protected: 3 predicted 0, 1 predicted 1
/// let m = Array3::from_shape_vec((2, 2, 2), vec![1., 1., 1., 1., 2., 0., 1., 1.]).unwrap();
/// let sp = statistical_parity(&JointDistribution::from_masses(m).unwrap(), SignConvention::default());
/// assert!((sp[1] - (0.25 - 0.5)).abs() < 1e-12);
/// assert!((sp[0] + sp[1]).abs() < 1e-12);
/// ```
pub fn statistical_parity(dist: &JointDistribution, sign: SignConvention) -> Array1<f64> {
    let plus = dist.prediction_distribution(Group::Protected);
    let minus = dist.prediction_distribution(Group::Unprotected);
    Array1::from_iter(plus.iter().zip(minus.iter()).map(|(&p, &m)| sign.gap(p, m)))
}

/// Equal opportunity `EOpp(y) = P(Y_hat = y | Y = y, A = +) - P(Y_hat = y | Y = y, A = -)`
/// for every class (the gap of per-class true rates).
///
/// Errors with [`FairnessError::EmptyCell`](crate::FairnessError::EmptyCell) when a
/// `(label, group)` cell is empty.
pub fn equal_opportunity(dist: &JointDistribution, sign: SignConvention) -> Result<Array1<f64>> {
    dist.require_full_cells("equal opportunity")?;
    let k = dist.n_classes();
    let mut out = Array1::zeros(k);
    for y in 0..k {
        out[y] = sign.gap(
            dist.true_rate(Group::Protected, y)?,
            dist.true_rate(Group::Unprotected, y)?,
        );
    }
    Ok(out)
}

/// Equalized odds `EOdds(yh, y) = P(Y_hat = yh | Y = y, A = +) - P(Y_hat = yh | Y = y, A = -)`,
/// a `K x K` matrix indexed `[prediction, label]`. Every column (fixed `y`) sums to zero
/// over `yh` and the diagonal is [`equal_opportunity`].
///
/// Errors like [`equal_opportunity`] on empty cells.
pub fn equalized_odds(dist: &JointDistribution, sign: SignConvention) -> Result<Array2<f64>> {
    dist.require_full_cells("equalized odds")?;
    let k = dist.n_classes();
    let mut out = Array2::zeros((k, k));
    for y in 0..k {
        let plus = dist.confusion_row(Group::Protected, y)?;
        let minus = dist.confusion_row(Group::Unprotected, y)?;
        for yh in 0..k {
            out[[yh, y]] = sign.gap(plus[yh], minus[yh]);
        }
    }
    Ok(out)
}

/// Aggregates of a signed gap vector or matrix; they do not depend on the sign convention.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Aggregates {
    /// Largest absolute entry.
    pub max_abs: f64,
    /// Sum of absolute entries.
    pub l1: f64,
    /// Total variation, `l1 / 2` (for SP: the total-variation distance of the two groups'
    /// prediction distributions; for EOdds: the sum over labels of the per-label distances).
    pub total_variation: f64,
}

impl Aggregates {
    /// Aggregates of the given gaps.
    ///
    /// ```
    /// use smallscale_fairness_memo::Aggregates;
    /// let a = Aggregates::of([0.2, -0.1, -0.1]);
    /// assert_eq!(a.max_abs, 0.2);
    /// assert!((a.l1 - 0.4).abs() < 1e-12 && (a.total_variation - 0.2).abs() < 1e-12);
    /// ```
    pub fn of<I: IntoIterator<Item = f64>>(gaps: I) -> Self {
        let (mut max_abs, mut l1) = (0.0f64, 0.0);
        for g in gaps {
            max_abs = max_abs.max(g.abs());
            l1 += g.abs();
        }
        Self {
            max_abs,
            l1,
            total_variation: l1 / 2.0,
        }
    }
}

/// A signed gap vector with its aggregates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GapVector {
    /// One signed gap per class.
    #[serde(serialize_with = "crate::serialize::array1")]
    pub gaps: Array1<f64>,
    /// Aggregates of `gaps`.
    pub aggregates: Aggregates,
}

impl GapVector {
    /// Wraps gaps and computes their aggregates.
    pub fn new(gaps: Array1<f64>) -> Self {
        let aggregates = Aggregates::of(gaps.iter().copied());
        Self { gaps, aggregates }
    }
}

/// A signed gap matrix (`[prediction, label]`) with its aggregates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GapMatrix {
    /// Signed gaps indexed `[prediction, label]`.
    #[serde(serialize_with = "crate::serialize::array2")]
    pub gaps: Array2<f64>,
    /// Aggregates over all entries.
    pub aggregates: Aggregates,
}

impl GapMatrix {
    /// Wraps gaps and computes their aggregates.
    pub fn new(gaps: Array2<f64>) -> Self {
        let aggregates = Aggregates::of(gaps.iter().copied());
        Self { gaps, aggregates }
    }
}

/// All three metrics of one distribution.
///
/// The conditional metrics are `None` when a `(label, group)` cell is empty; `undefined`
/// then says which.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FairnessMetrics {
    /// The sign convention of the signed gaps.
    pub sign: SignConvention,
    /// Statistical parity per class.
    pub statistical_parity: GapVector,
    /// Equal opportunity per class.
    pub equal_opportunity: Option<GapVector>,
    /// Equalized odds, `[prediction, label]`.
    pub equalized_odds: Option<GapMatrix>,
    /// Why the conditional metrics are missing, if they are.
    pub undefined: Option<String>,
}

impl FairnessMetrics {
    /// Computes all metrics of `dist`.
    ///
    /// ```
    /// use ndarray::Array3;
    /// use smallscale_fairness_memo::{FairnessMetrics, JointDistribution, SignConvention};
    /// let m = Array3::from_shape_vec((2, 2, 2), vec![3., 1., 1., 3., 2., 2., 0., 4.]).unwrap();
    /// let metrics = FairnessMetrics::compute(&JointDistribution::from_masses(m).unwrap(), SignConvention::default());
    /// let eodds = metrics.equalized_odds.unwrap();
    /// // diag(EOdds) = EOpp
    /// assert_eq!(eodds.gaps[[1, 1]], metrics.equal_opportunity.unwrap().gaps[1]);
    /// ```
    pub fn compute(dist: &JointDistribution, sign: SignConvention) -> Self {
        let statistical_parity = GapVector::new(statistical_parity(dist, sign));
        match (equal_opportunity(dist, sign), equalized_odds(dist, sign)) {
            (Ok(eopp), Ok(eodds)) => Self {
                sign,
                statistical_parity,
                equal_opportunity: Some(GapVector::new(eopp)),
                equalized_odds: Some(GapMatrix::new(eodds)),
                undefined: None,
            },
            (Err(e), _) | (_, Err(e)) => Self {
                sign,
                statistical_parity,
                equal_opportunity: None,
                equalized_odds: None,
                undefined: Some(e.to_string()),
            },
        }
    }
}
