//! The error type of the crate.
//!
//! Every fallible function returns [`Result<T>`](crate::Result), whose error is
//! [`PeprError`]. Each message names the offending input and says what to do
//! about it, so a command-line tool can print it as is.

use thiserror::Error;

/// Everything that can go wrong when scoring, analysing or loading runs.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::{pepr, PeprError};
///
/// let err = pepr(1.5, 0.0).unwrap_err();
/// assert!(matches!(err, PeprError::PerformanceOutOfRange { .. }));
/// assert!(err.to_string().contains("1.5"));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PeprError {
    /// A performance value is not a number in `[0, 1]`.
    #[error(
        "performance of {what} is {value}, but PePR needs a performance in [0, 1] \
         (divide percentages by 100, e.g. with a performance scale of 0.01)"
    )]
    PerformanceOutOfRange {
        /// Which model or argument carried the value.
        what: String,
        /// The rejected value.
        value: f64,
    },

    /// A raw resource value is negative, NaN or infinite.
    #[error(
        "resource `{resource}` of {what} is {value}, but resources must be finite and >= 0 \
         (check the unit and the input table)"
    )]
    InvalidResource {
        /// Which model or argument carried the value.
        what: String,
        /// The resource name.
        resource: String,
        /// The rejected value.
        value: f64,
    },

    /// A normalized resource is not in `[0, 1]`.
    #[error(
        "normalized resource of {what} is {value}, but PePR needs R in [0, 1] \
         (normalize raw resources over a pool first, see `min_max_normalize`)"
    )]
    NormalizedResourceOutOfRange {
        /// Which model or argument carried the value.
        what: String,
        /// The rejected value.
        value: f64,
    },

    /// A parameter (weight, bound, interval, watts, ...) is invalid.
    #[error("invalid parameter `{name}` = {value}: {reason}")]
    InvalidParameter {
        /// The parameter name.
        name: String,
        /// The rejected value, as text.
        value: String,
        /// What the parameter must satisfy.
        reason: String,
    },

    /// A pool, sample or column has no entries.
    #[error("{what} is empty: {hint}")]
    Empty {
        /// What was empty.
        what: String,
        /// What to do.
        hint: String,
    },

    /// Two runs of one pool have the same model name.
    #[error(
        "model `{name}` appears twice in {pool}: model names must be unique within a pool \
         (group the table by the column that tells the runs apart, e.g. `dataset`)"
    )]
    DuplicateModel {
        /// The duplicated name.
        name: String,
        /// The pool, described.
        pool: String,
    },

    /// A run lacks a resource that the pool or the score needs.
    #[error(
        "model `{model}` has no resource `{resource}`; available: [{available}] \
         (every run of a pool needs the same resources)"
    )]
    MissingResource {
        /// The model name.
        model: String,
        /// The missing resource.
        resource: String,
        /// The resources the run does have, comma separated.
        available: String,
    },

    /// Two sequences that must be paired have different lengths.
    #[error("{what}: lengths differ ({left} vs {right}); pass one value per model on both sides")]
    LengthMismatch {
        /// What was being paired.
        what: String,
        /// Length of the first sequence.
        left: usize,
        /// Length of the second sequence.
        right: usize,
    },

    /// A sample is too small (or too constant) for the requested statistic.
    #[error("{statistic} is undefined for this input: {reason}")]
    UndefinedStatistic {
        /// The statistic (e.g. "Spearman's rho").
        statistic: String,
        /// Why it is undefined.
        reason: String,
    },

    /// A value in an input sequence is NaN or infinite.
    #[error(
        "{what} contains a non-finite value ({value}) at index {index}; remove or fix that entry"
    )]
    NonFinite {
        /// Which input.
        what: String,
        /// Index of the offending value.
        index: usize,
        /// The value.
        value: f64,
    },

    /// A table could not be read: a missing or repeated column, a cell that is not a number, a
    /// malformed row, a file that cannot be opened.
    #[error(transparent)]
    Table(#[from] smallscale_io::IoError),
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, PeprError>;

pub(crate) fn invalid_parameter(
    name: &str,
    value: impl std::fmt::Display,
    reason: &str,
) -> PeprError {
    PeprError::InvalidParameter {
        name: name.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// Checks that every value is finite; names the input and the index otherwise.
pub(crate) fn check_finite(what: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(PeprError::NonFinite {
            what: what.to_string(),
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}
