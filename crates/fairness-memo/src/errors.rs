//! The error type of the crate: every variant names the input that was wrong and what to do.

use thiserror::Error;

/// Everything that can be wrong with the inputs of this crate.
///
/// Each message names the offending input and says how to fix it. Infeasible memorization
/// problems are *not* errors: they are reported by
/// [`MinimalMemorization::Infeasible`](crate::MinimalMemorization::Infeasible).
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum FairnessError {
    /// Fewer than two classes were given.
    #[error(
        "{input}: {n_classes} class(es) given, at least 2 are needed (labels and predictions are class indices 0..K with K >= 2)"
    )]
    TooFewClasses {
        /// The input that carried the classes.
        input: &'static str,
        /// The number of classes found.
        n_classes: usize,
    },
    /// Two inputs that must have the same length do not.
    #[error(
        "{input}: length {found} does not match the {expected} rows of the group column; pass columns of equal length"
    )]
    LengthMismatch {
        /// The column with the wrong length.
        input: &'static str,
        /// Its length.
        found: usize,
        /// The length of the group column.
        expected: usize,
    },
    /// An array has the wrong shape.
    #[error("{input}: shape {found:?} is wrong, expected {expected:?}")]
    ShapeMismatch {
        /// The array with the wrong shape.
        input: &'static str,
        /// Its shape.
        found: Vec<usize>,
        /// The shape that was expected.
        expected: Vec<usize>,
    },
    /// No rows at all.
    #[error("{input}: no rows; give at least one row in each group")]
    NoRows {
        /// The input without rows.
        input: &'static str,
    },
    /// A class index is not below the number of classes.
    #[error(
        "{input}: row {row} has class {value}, but only classes 0..{n_classes} exist; map the classes to 0..K first (see `ClassEncoding`) or raise the number of classes"
    )]
    ClassOutOfRange {
        /// `"labels"` or `"predictions"`.
        input: &'static str,
        /// Index of the row.
        row: usize,
        /// The offending class.
        value: usize,
        /// The number of classes.
        n_classes: usize,
    },
    /// A group code other than 0 (unprotected) or 1 (protected).
    #[error(
        "groups: row {row} has group code {value}; group codes are 0 (unprotected) and 1 (protected), encode other group values with `Rows::from_group_values`"
    )]
    GroupCodeOutOfRange {
        /// Index of the row.
        row: usize,
        /// The offending code.
        value: u8,
    },
    /// A group has no mass.
    #[error("{input}: the {group} group is empty (no rows or zero mass); both groups need data")]
    EmptyGroup {
        /// The input.
        input: &'static str,
        /// `"protected"` or `"unprotected"`.
        group: &'static str,
    },
    /// A (group, label) cell has no mass, so a conditional metric is undefined.
    #[error(
        "{input}: the cell (label {label}, {group} group) is empty, so P(prediction | label {label}, {group}) is undefined; drop or merge class {label}, or use statistical parity only"
    )]
    EmptyCell {
        /// The computation that needed the cell.
        input: &'static str,
        /// The label of the empty cell.
        label: usize,
        /// `"protected"` or `"unprotected"`.
        group: &'static str,
    },
    /// A weight or probability is negative.
    #[error("{input}: entry {index} is negative ({value}); weights and probabilities must be >= 0")]
    Negative {
        /// The input.
        input: &'static str,
        /// Flat index of the entry.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// A weight, probability or parameter is NaN or infinite.
    #[error("{input}: entry {index} is not finite ({value}); remove NaN and infinite values")]
    NotFinite {
        /// The input.
        input: &'static str,
        /// Flat index of the entry.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// Probabilities that should sum to one do not.
    #[error(
        "{input}: probabilities sum to {sum}, not 1; normalize them (or build from counts/weights, which normalizes)"
    )]
    NotNormalized {
        /// The input.
        input: &'static str,
        /// The sum found.
        sum: f64,
    },
    /// The group column has a number of distinct values that needs a protected value.
    #[error(
        "groups: {n_groups} distinct group value(s) found ({values}); choose the protected value explicitly (the other values form the unprotected group)"
    )]
    AmbiguousGroups {
        /// Number of distinct values.
        n_groups: usize,
        /// The first few values, for the message.
        values: String,
    },
    /// The chosen protected value does not occur in the group column.
    #[error(
        "groups: the protected value {value} does not occur in the group column; choose one of the values present"
    )]
    UnknownProtectedValue {
        /// The protected value, formatted.
        value: String,
    },
    /// A memorization plan does not fit the distribution.
    #[error("plan: {reason}")]
    InvalidPlan {
        /// What is wrong.
        reason: String,
    },
    /// An option is out of its range.
    #[error("{input}: {reason}")]
    InvalidParameter {
        /// The option.
        input: &'static str,
        /// What is wrong and the allowed range.
        reason: String,
    },
    /// The linear-program solver failed for a reason other than infeasibility.
    #[error("the linear program for {target} failed: {reason}")]
    Solver {
        /// The target of the program.
        target: &'static str,
        /// The solver's message.
        reason: String,
    },
}

/// Result type of the crate.
pub type Result<T> = std::result::Result<T, FairnessError>;

pub(crate) fn check_finite_nonnegative(input: &'static str, values: &[f64]) -> Result<()> {
    for (index, &value) in values.iter().enumerate() {
        if !value.is_finite() {
            return Err(FairnessError::NotFinite {
                input,
                index,
                value,
            });
        }
        if value < 0.0 {
            return Err(FairnessError::Negative {
                input,
                index,
                value,
            });
        }
    }
    Ok(())
}
