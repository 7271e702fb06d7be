//! Validated rows `(group, label, prediction[, weight])` and the encodings that produce them.

use std::collections::BTreeSet;
use std::fmt::Debug;

use crate::counts::CellCounts;
use crate::distribution::JointDistribution;
use crate::errors::{FairnessError, Result, check_finite_nonnegative};
use crate::groups::Group;

/// Validated rows: group codes (0 unprotected, 1 protected), labels and predictions as class
/// indices `0..K` (`K >= 2`), optional non-negative weights, both groups non-empty.
///
/// ```
/// use smallscale_fairness_memo::Rows;
/// let rows = Rows::new(vec![0, 0, 1, 1], vec![0, 1, 0, 1], vec![0, 1, 1, 1]).unwrap();
/// assert_eq!(rows.n_classes(), 2);
/// let rows = Rows::from_group_values(&["f", "m", "f", "m"], Some(&"f"), vec![0, 1, 0, 1], vec![0, 1, 1, 1]).unwrap();
/// assert_eq!(rows.groups(), &[1, 0, 1, 0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    groups: Vec<u8>,
    labels: Vec<u32>,
    predictions: Vec<u32>,
    weights: Option<Vec<f64>>,
    n_classes: usize,
}

impl Rows {
    /// Rows from group codes (0 unprotected, 1 protected) and class indices; `K` is inferred
    /// as the largest class + 1 (at least 2).
    pub fn new(groups: Vec<u8>, labels: Vec<u32>, predictions: Vec<u32>) -> Result<Self> {
        let max_class = labels
            .iter()
            .chain(predictions.iter())
            .copied()
            .max()
            .unwrap_or(0) as usize;
        Self::with_classes(groups, labels, predictions, None, (max_class + 1).max(2))
    }

    /// Rows with an explicit number of classes and optional weights.
    pub fn with_classes(
        groups: Vec<u8>,
        labels: Vec<u32>,
        predictions: Vec<u32>,
        weights: Option<Vec<f64>>,
        n_classes: usize,
    ) -> Result<Self> {
        let counts = match &weights {
            Some(w) => {
                CellCounts::from_weighted_columns(&groups, &labels, &predictions, w, n_classes)?
            }
            None => CellCounts::from_columns(&groups, &labels, &predictions, n_classes)?,
        };
        if let Some(w) = &weights {
            check_finite_nonnegative("weights", w)?;
            if !w.iter().sum::<f64>().is_finite() {
                return Err(FairnessError::InvalidParameter {
                    input: "weights",
                    reason: "the weights sum to infinity; rescale them (for example divide by the largest)".into(),
                });
            }
        }
        for g in Group::BOTH {
            if counts
                .masses()
                .index_axis(ndarray::Axis(0), g.index())
                .sum()
                <= 0.0
            {
                return Err(FairnessError::EmptyGroup {
                    input: "rows",
                    group: g.name(),
                });
            }
        }
        Ok(Self {
            groups,
            labels,
            predictions,
            weights,
            n_classes,
        })
    }

    /// Adds weights (one per row, finite and `>= 0`).
    pub fn weighted(self, weights: Vec<f64>) -> Result<Self> {
        Self::with_classes(
            self.groups,
            self.labels,
            self.predictions,
            Some(weights),
            self.n_classes,
        )
    }

    /// Rows whose groups are arbitrary values (strings, integer codes, ...).
    ///
    /// With `protected = Some(v)`, rows equal to `v` form the protected group and all other
    /// values the unprotected group (any number of values). With `None` the column must hold
    /// exactly two distinct values and the larger one (by `Ord`: `1` over `0`, `true` over
    /// `false`) is protected; more than two values is an error.
    pub fn from_group_values<G: Ord + Clone + Debug>(
        groups: &[G],
        protected: Option<&G>,
        labels: Vec<u32>,
        predictions: Vec<u32>,
    ) -> Result<Self> {
        let codes = encode_groups(groups, protected)?;
        Self::new(codes, labels, predictions)
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there are no rows (never true for validated rows).
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The number of classes `K`.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Group codes (0 unprotected, 1 protected).
    pub fn groups(&self) -> &[u8] {
        &self.groups
    }

    /// Labels (class indices).
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// Predictions (class indices).
    pub fn predictions(&self) -> &[u32] {
        &self.predictions
    }

    /// Weights, if any.
    pub fn weights(&self) -> Option<&[f64]> {
        self.weights.as_deref()
    }

    /// Weight of row `i` (1 when unweighted).
    pub fn weight(&self, i: usize) -> f64 {
        self.weights.as_ref().map_or(1.0, |w| w[i])
    }

    /// Cell masses (counts or summed weights) in one pass.
    pub fn cell_counts(&self) -> CellCounts {
        let counts = match &self.weights {
            Some(w) => CellCounts::from_weighted_columns(
                &self.groups,
                &self.labels,
                &self.predictions,
                w,
                self.n_classes,
            ),
            None => CellCounts::from_columns(
                &self.groups,
                &self.labels,
                &self.predictions,
                self.n_classes,
            ),
        };
        // The columns were validated at construction.
        counts.unwrap_or_else(|_| unreachable_counts(self.n_classes))
    }

    /// The joint distribution of the rows.
    pub fn distribution(&self) -> Result<JointDistribution> {
        self.cell_counts().distribution()
    }

    /// The same rows with other predictions (and weights); used by [`apply_plan`](crate::apply_plan).
    pub(crate) fn from_parts_unchecked(
        groups: Vec<u8>,
        labels: Vec<u32>,
        predictions: Vec<u32>,
        weights: Option<Vec<f64>>,
        n_classes: usize,
    ) -> Self {
        Self {
            groups,
            labels,
            predictions,
            weights,
            n_classes,
        }
    }
}

fn unreachable_counts(k: usize) -> CellCounts {
    CellCounts::from_columns(&[0, 1], &[0, 0], &[0, 0], k.max(2))
        .unwrap_or_else(|_| panic!("internal: counting two valid rows failed"))
}

/// Encodes arbitrary group values as codes 0 (unprotected) / 1 (protected); see
/// [`Rows::from_group_values`] for the rule.
pub fn encode_groups<G: Ord + Clone + Debug>(
    groups: &[G],
    protected: Option<&G>,
) -> Result<Vec<u8>> {
    if groups.is_empty() {
        return Err(FairnessError::NoRows { input: "groups" });
    }
    let protected: G = match protected {
        Some(p) => {
            if !groups.contains(p) {
                return Err(FairnessError::UnknownProtectedValue {
                    value: format!("{p:?}"),
                });
            }
            p.clone()
        }
        None => {
            let distinct: BTreeSet<&G> = groups.iter().collect();
            if distinct.len() != 2 {
                let values: Vec<String> =
                    distinct.iter().take(5).map(|v| format!("{v:?}")).collect();
                return Err(FairnessError::AmbiguousGroups {
                    n_groups: distinct.len(),
                    values: values.join(", "),
                });
            }
            (*distinct.iter().next_back().unwrap_or(&&groups[0])).clone()
        }
    };
    Ok(groups.iter().map(|g| u8::from(*g == protected)).collect())
}

/// A mapping from arbitrary class values (strings, codes) to class indices `0..K`, sorted.
///
/// ```
/// use smallscale_fairness_memo::ClassEncoding;
/// let enc = ClassEncoding::fit(&[">50K", "<=50K"], &["<=50K", "<=50K"]);
/// assert_eq!(enc.classes(), &["<=50K", ">50K"]);
/// assert_eq!(enc.encode(&[">50K"]).unwrap(), vec![1]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ClassEncoding<L> {
    classes: Vec<L>,
}

impl<L: Ord + Clone + Debug> ClassEncoding<L> {
    /// The sorted union of the values in labels and predictions.
    pub fn fit(labels: &[L], predictions: &[L]) -> Self {
        let set: BTreeSet<&L> = labels.iter().chain(predictions.iter()).collect();
        Self {
            classes: set.into_iter().cloned().collect(),
        }
    }

    /// The classes in index order.
    pub fn classes(&self) -> &[L] {
        &self.classes
    }

    /// Encodes values as indices; errors on a value the encoding does not know.
    pub fn encode(&self, values: &[L]) -> Result<Vec<u32>> {
        values
            .iter()
            .enumerate()
            .map(|(row, v)| {
                self.classes.binary_search(v).map(|i| i as u32).map_err(|_| FairnessError::InvalidParameter {
                    input: "classes",
                    reason: format!("row {row} has the unknown class {v:?}; fit the encoding on all labels and predictions"),
                })
            })
            .collect()
    }
}
