//! The validated joint distribution `P(A, Y, Y_hat)` that every metric and closed form reads.

use ndarray::{Array1, Array2, Array3, Axis};

use crate::errors::{FairnessError, Result, check_finite_nonnegative};
use crate::groups::Group;

/// Tolerance on `sum = 1` accepted by [`JointDistribution::new`].
pub const NORMALIZATION_TOLERANCE: f64 = 1e-9;

/// A validated joint distribution `P(A = a, Y = y, Y_hat = yh)` over two groups and `K >= 2`
/// classes, stored as an array of shape `(2, K, K)` indexed `[group, label, prediction]`
/// (group 0 unprotected, 1 protected; see [`Group`]).
///
/// Guarantees: finite, non-negative entries summing to one, and both groups non-empty.
/// Single `(label, group)` cells may be empty: statistical parity is still defined, the
/// conditional metrics of that label are not (see [`JointDistribution::empty_cells`]).
///
/// ```
/// use ndarray::Array3;
/// use smallscale_fairness_memo::{Group, JointDistribution};
/// // counts[group][label][prediction]
/// let counts = Array3::from_shape_vec((2, 2, 2), vec![3.0, 1.0, 1.0, 3.0, 4.0, 0.0, 2.0, 2.0]).unwrap();
/// let dist = JointDistribution::from_masses(counts).unwrap();
/// assert_eq!(dist.n_classes(), 2);
/// assert!((dist.group_mass(Group::Protected) - 0.5).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct JointDistribution {
    p: Array3<f64>,
}

impl JointDistribution {
    /// Validates probabilities of shape `(2, K, K)` that sum to one (within
    /// [`NORMALIZATION_TOLERANCE`]; the small remainder is normalized away).
    pub fn new(probabilities: Array3<f64>) -> Result<Self> {
        let sum = Self::validate("probabilities", &probabilities)?;
        if (sum - 1.0).abs() > NORMALIZATION_TOLERANCE {
            return Err(FairnessError::NotNormalized {
                input: "probabilities",
                sum,
            });
        }
        Self::normalized("probabilities", probabilities, sum)
    }

    /// Builds the distribution from non-negative masses (counts or summed weights) of shape
    /// `(2, K, K)`, dividing by their total.
    pub fn from_masses(masses: Array3<f64>) -> Result<Self> {
        let sum = Self::validate("masses", &masses)?;
        if sum <= 0.0 {
            return Err(FairnessError::NoRows { input: "masses" });
        }
        Self::normalized("masses", masses, sum)
    }

    fn validate(input: &'static str, a: &Array3<f64>) -> Result<f64> {
        let (g, k, k2) = a.dim();
        if g != 2 || k != k2 {
            return Err(FairnessError::ShapeMismatch {
                input,
                found: vec![g, k, k2],
                expected: vec![2, k.max(2), k.max(2)],
            });
        }
        if k < 2 {
            return Err(FairnessError::TooFewClasses {
                input,
                n_classes: k,
            });
        }
        let flat: Vec<f64> = a.iter().copied().collect();
        check_finite_nonnegative(input, &flat)?;
        Ok(flat.iter().sum())
    }

    fn normalized(input: &'static str, a: Array3<f64>, sum: f64) -> Result<Self> {
        let p = a / sum;
        for g in Group::BOTH {
            if p.index_axis(Axis(0), g.index()).sum() <= 0.0 {
                return Err(FairnessError::EmptyGroup {
                    input,
                    group: g.name(),
                });
            }
        }
        Ok(Self { p })
    }

    /// The number of classes `K`.
    pub fn n_classes(&self) -> usize {
        self.p.dim().1
    }

    /// The probabilities, indexed `[group, label, prediction]`.
    pub fn probabilities(&self) -> &Array3<f64> {
        &self.p
    }

    /// `p^a = P(A = a)`.
    pub fn group_mass(&self, group: Group) -> f64 {
        self.p.index_axis(Axis(0), group.index()).sum()
    }

    /// `p_y^a = P(Y = y, A = a)`, the mass of cell `(y, a)`.
    pub fn cell_mass(&self, group: Group, label: usize) -> f64 {
        self.p.slice(ndarray::s![group.index(), label, ..]).sum()
    }

    /// All cell masses `p_y^a`, indexed `[group, label]`.
    pub fn cell_masses(&self) -> Array2<f64> {
        self.p.sum_axis(Axis(2))
    }

    /// The `(group, label)` cells with zero mass.
    pub fn empty_cells(&self) -> Vec<(Group, usize)> {
        let mut out = Vec::new();
        for g in Group::BOTH {
            for y in 0..self.n_classes() {
                if self.cell_mass(g, y) <= 0.0 {
                    out.push((g, y));
                }
            }
        }
        out
    }

    /// `P(Y_hat = . | A = a)`, the prediction distribution of a group (the spec's `s^a` when
    /// nothing is memorized).
    pub fn prediction_distribution(&self, group: Group) -> Array1<f64> {
        let slice = self.p.index_axis(Axis(0), group.index());
        slice.sum_axis(Axis(0)) / self.group_mass(group)
    }

    /// `P(Y = . | A = a)`, the label distribution (base rates) of a group.
    pub fn label_distribution(&self, group: Group) -> Array1<f64> {
        let slice = self.p.index_axis(Axis(0), group.index());
        slice.sum_axis(Axis(1)) / self.group_mass(group)
    }

    /// The confusion row `c_a(. | y) = P(Y_hat = . | Y = y, A = a)`.
    ///
    /// Errors with [`FairnessError::EmptyCell`] when the cell `(y, a)` has no mass.
    pub fn confusion_row(&self, group: Group, label: usize) -> Result<Array1<f64>> {
        let mass = self.cell_mass(group, label);
        if mass <= 0.0 {
            return Err(FairnessError::EmptyCell {
                input: "confusion row",
                label,
                group: group.name(),
            });
        }
        Ok(self
            .p
            .slice(ndarray::s![group.index(), label, ..])
            .to_owned()
            / mass)
    }

    /// The true rate `t_{y,a} = c_a(y | y) = P(Y_hat = y | Y = y, A = a)`.
    pub fn true_rate(&self, group: Group, label: usize) -> Result<f64> {
        Ok(self.confusion_row(group, label)?[label])
    }

    /// Errors with the first empty cell, naming `input` as the computation that needs it.
    pub(crate) fn require_full_cells(&self, input: &'static str) -> Result<()> {
        match self.empty_cells().first() {
            Some(&(g, label)) => Err(FairnessError::EmptyCell {
                input,
                label,
                group: g.name(),
            }),
            None => Ok(()),
        }
    }
}
