//! Reading `(group, label, prediction[, weight])` rows from a CSV table.
//!
//! Labels may be any text. When every label is a number, classes are compared as numbers (so a
//! prediction `1.0` is the label `1`, as in a pandas float export) and ordered numerically; else they
//! are compared and ordered as text. Classes are the distinct labels; a prediction that is not one of
//! them (a probability, a score, a typo) is an error naming the column, not a new class.
//!
//! Groups are any text; a protected value names the protected group (all other values are the
//! unprotected group). Without one the column must hold exactly two values and the larger one
//! (numerically when both are integers, else as text) is protected, the rule of [`encode_groups`].

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use serde::Serialize;
use smallscale_io::{CsvTable, IoError};

use crate::errors::FairnessError;
use crate::rows::{Rows, encode_groups};

/// Which columns of the CSV table mean what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvColumns {
    /// The group column.
    pub group: String,
    /// The true-label column.
    pub label: String,
    /// The prediction column.
    pub prediction: String,
    /// The optional weight column.
    pub weight: Option<String>,
    /// What chose each column (group, label, prediction, weight) and the protected value, for
    /// error messages: by default "group column", ...; a command line puts its flags here.
    pub chosen_by: [&'static str; 5],
}

impl CsvColumns {
    /// What [`CsvColumns::chosen_by`] says by default.
    pub const ROLES: [&'static str; 5] = [
        "group column",
        "label column",
        "prediction column",
        "weight column",
        "the protected value",
    ];

    /// Columns by name, without weights.
    pub fn new(
        group: impl Into<String>,
        label: impl Into<String>,
        prediction: impl Into<String>,
    ) -> Self {
        Self {
            group: group.into(),
            label: label.into(),
            prediction: prediction.into(),
            weight: None,
            chosen_by: Self::ROLES,
        }
    }
}

/// Why a CSV table could not be turned into rows.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsvRowsError {
    /// The table itself: a file that cannot be opened, malformed CSV, a missing or repeated column,
    /// an empty or non-numeric cell.
    #[error(transparent)]
    Table(#[from] IoError),
    /// A column's values cannot be used as they are.
    #[error("column `{column}` of {source_name}: {reason}")]
    Column {
        /// The column.
        column: String,
        /// The table.
        source_name: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The rows are not valid fairness input (an empty group, ...).
    #[error(transparent)]
    Rows(#[from] FairnessError),
}

/// Validated rows with the names behind their codes.
#[derive(Debug, Clone)]
pub struct EncodedRows {
    /// The rows, groups coded 0 (unprotected) / 1 (protected), classes `0..K`.
    pub rows: Rows,
    /// Class names (the label text, numbers in their shortest form), by class index.
    pub classes: Vec<String>,
    /// How the groups were encoded.
    pub groups: GroupEncoding,
}

/// How the group values were split into protected and unprotected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupEncoding {
    /// The protected value (`A = 1`).
    pub protected: String,
    /// The values forming the unprotected group (`A = 0`), sorted.
    pub unprotected: Vec<String>,
    /// Whether the protected value was chosen by the default rule (no protected value given).
    pub chosen_by_default: bool,
}

/// Labels and predictions as class indices, with the class names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedClasses {
    /// The class index of every label.
    pub labels: Vec<u32>,
    /// The class index of every prediction.
    pub predictions: Vec<u32>,
    /// Class names, by class index.
    pub names: Vec<String>,
}

/// A CSV column's values, for class encoding.
#[derive(Debug, Clone, Copy)]
pub struct NamedColumn<'a> {
    /// The column name.
    pub name: &'a str,
    /// One value per row.
    pub values: &'a [String],
}

/// Sorted distinct values, numerically when all are integers.
fn distinct_sorted(values: &[String]) -> Vec<String> {
    match parse_all::<i64>(values) {
        Some(ints) => {
            let set: BTreeSet<i64> = ints.into_iter().collect();
            set.into_iter().map(|i| i.to_string()).collect()
        }
        None => {
            let set: BTreeSet<&String> = values.iter().collect();
            set.into_iter().cloned().collect()
        }
    }
}

fn parse_all<T: std::str::FromStr>(values: &[String]) -> Option<Vec<T>> {
    values.iter().map(|v| v.parse::<T>().ok()).collect()
}

/// Up to ten values, comma separated, with "..." when there are more.
fn shown(values: &[String]) -> String {
    let mut s: Vec<&str> = values.iter().take(10).map(String::as_str).collect();
    if values.len() > 10 {
        s.push("...");
    }
    s.join(", ")
}

/// Encodes labels and predictions as class indices; the classes are the distinct labels.
///
/// Numbers are compared as numbers when every label is one (`1`, `1.0` and `1e0` are one class,
/// named by its shortest form, `1`), else values are compared as text.
///
/// # Errors
///
/// [`CsvRowsError::Column`] when the labels hold a single class, or when a prediction is not one
/// of the labels (naming the prediction column, the first such row and the values).
///
/// ```
/// use smallscale_fairness_memo::{NamedColumn, encode_classes};
/// let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
/// let (labels, preds) = (s(&["0", "1", "1"]), s(&["1.0", "0.0", "1.0"]));
/// let classes = encode_classes(
///     NamedColumn { name: "y", values: &labels },
///     NamedColumn { name: "pred", values: &preds },
///     "input",
/// )?;
/// assert_eq!(classes.labels, [0, 1, 1]);
/// assert_eq!(classes.predictions, [1, 0, 1]);
/// assert_eq!(classes.names, ["0", "1"]);
///
/// let probs = s(&["0.73", "0.2", "0.9"]);
/// let err = encode_classes(
///     NamedColumn { name: "y", values: &labels },
///     NamedColumn { name: "pred", values: &probs },
///     "input",
/// )
/// .unwrap_err();
/// assert!(err.to_string().contains("column `pred`"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode_classes(
    labels: NamedColumn<'_>,
    predictions: NamedColumn<'_>,
    source_name: &str,
) -> Result<EncodedClasses, CsvRowsError> {
    let column_error = |column: &str, reason: String| CsvRowsError::Column {
        column: column.to_string(),
        source_name: source_name.to_string(),
        reason,
    };
    let numeric_labels =
        parse_all::<f64>(labels.values).filter(|v| v.iter().all(|x| x.is_finite()));
    let (y, p, names): (Vec<u32>, Vec<Option<u32>>, Vec<String>) = match numeric_labels {
        Some(label_numbers) => {
            // -0.0 and 0.0 are one class.
            let key = |x: f64| if x == 0.0 { 0.0 } else { x };
            let mut classes: Vec<f64> = label_numbers.iter().map(|&x| key(x)).collect();
            classes.sort_by(f64::total_cmp);
            classes.dedup();
            let index = |x: f64| {
                classes
                    .binary_search_by(|c| c.total_cmp(&key(x)))
                    .ok()
                    .map(|i| i as u32)
            };
            let y = label_numbers
                .iter()
                .map(|&x| index(x).unwrap_or(0))
                .collect();
            let p = predictions
                .values
                .iter()
                .map(|v| v.parse::<f64>().ok().and_then(index))
                .collect();
            (y, p, classes.iter().map(|c| format!("{c}")).collect())
        }
        None => {
            let classes = distinct_sorted(labels.values);
            let index = |v: &String| classes.binary_search(v).ok().map(|i| i as u32);
            let y = labels
                .values
                .iter()
                .map(|v| index(v).unwrap_or(0))
                .collect();
            let p = predictions.values.iter().map(index).collect();
            (y, p, classes)
        }
    };
    if names.len() < 2 {
        return Err(column_error(
            labels.name,
            format!(
                "every label is `{}`; fairness metrics need at least two classes among the labels",
                names.first().map_or("", String::as_str)
            ),
        ));
    }
    if let Some(first) = p.iter().position(Option::is_none) {
        let unknown: BTreeSet<&String> = p
            .iter()
            .zip(predictions.values)
            .filter(|(code, _)| code.is_none())
            .map(|(_, v)| v)
            .collect();
        let unknown: Vec<String> = unknown.into_iter().cloned().collect();
        let n_rows = p.iter().filter(|c| c.is_none()).count();
        return Err(column_error(
            predictions.name,
            format!(
                "{n_rows} row(s) hold a prediction that is not one of the labels of column `{}` ({}); the first is row {} (`{}`), the values are: {}. Predictions must be class labels: threshold probabilities or scores into classes first",
                labels.name,
                shown(&names),
                first + 1,
                predictions.values[first],
                shown(&unknown)
            ),
        ));
    }
    Ok(EncodedClasses {
        labels: y,
        predictions: p.into_iter().map(|c| c.unwrap_or(0)).collect(),
        names,
    })
}

/// Encodes group values as 0 (unprotected) / 1 (protected).
///
/// # Errors
///
/// [`CsvRowsError::Column`] when the protected value does not occur, when no protected value is
/// given and the column does not hold exactly two values, or when it holds a single value.
///
/// `protected_by` names what sets the protected value (for example a command-line flag), for the
/// messages.
pub fn encode_group_values(
    values: &[String],
    protected: Option<&str>,
    protected_by: &str,
    column: &str,
    source_name: &str,
) -> Result<(Vec<u8>, GroupEncoding), CsvRowsError> {
    let distinct = distinct_sorted(values);
    let column_error = |reason: String| CsvRowsError::Column {
        column: column.to_string(),
        source_name: source_name.to_string(),
        reason,
    };
    if distinct.len() < 2 {
        return Err(column_error(format!(
            "it holds the single value `{}`: both groups need rows",
            distinct.first().map_or("", String::as_str)
        )));
    }
    // Integer groups are compared as numbers: `--protected 01` names the group `1`.
    let integers = parse_all::<i64>(values).is_some();
    let protected = protected.map(|p| match p.trim().parse::<i64>() {
        Ok(n) if integers => n.to_string(),
        _ => p.to_string(),
    });
    let protected = protected.as_deref();
    let protected_value = match protected {
        Some(p) if distinct.iter().any(|d| d == p) => p.to_string(),
        Some(p) => {
            return Err(column_error(format!(
                "the protected value `{p}` ({protected_by}) does not occur; the values are: {}",
                shown(&distinct)
            )));
        }
        None if distinct.len() == 2 => distinct[1].clone(),
        None => {
            return Err(column_error(format!(
                "it has {} distinct value(s) ({}); choose the protected one with {protected_by} (all other values form the unprotected group)",
                distinct.len(),
                shown(&distinct)
            )));
        }
    };
    let codes = match parse_all::<i64>(values) {
        Some(ints) => {
            let p: i64 = protected_value.parse().map_err(|_| {
                column_error("the protected value is not an integer like the others".into())
            })?;
            encode_groups(&ints, Some(&p))?
        }
        None => encode_groups(values, Some(&protected_value))?,
    };
    let encoding = GroupEncoding {
        unprotected: distinct
            .iter()
            .filter(|d| **d != protected_value)
            .cloned()
            .collect(),
        protected: protected_value,
        chosen_by_default: protected.is_none(),
    };
    Ok((codes, encoding))
}

/// Reads and encodes the rows of the CSV file at `path` (see [`read_csv_rows_from_reader`]).
///
/// # Errors
///
/// As [`read_csv_rows_from_reader`], and [`CsvRowsError::Table`] when the file cannot be opened.
pub fn read_csv_rows(
    path: impl AsRef<Path>,
    columns: &CsvColumns,
    protected: Option<&str>,
) -> Result<EncodedRows, CsvRowsError> {
    rows_from_table(CsvTable::open(path)?, columns, protected)
}

/// Reads and encodes `(group, label, prediction[, weight])` rows from a CSV table with a header.
///
/// Weights must be finite numbers `>= 0`, not all zero, with a finite sum.
///
/// # Errors
///
/// [`CsvRowsError::Table`] (missing or repeated column, empty cell, weight that is not a number,
/// malformed CSV), [`CsvRowsError::Column`] (see [`encode_classes`], [`encode_group_values`], and
/// unusable weights), [`CsvRowsError::Rows`] (an empty group).
///
/// ```
/// use smallscale_fairness_memo::{CsvColumns, read_csv_rows_from_reader};
/// let csv = "sex,y,pred\nf,1,1.0\nf,0,1.0\nm,1,1.0\nm,0,0.0\n";
/// let columns = CsvColumns::new("sex", "y", "pred");
/// let rows = read_csv_rows_from_reader(csv.as_bytes(), "audit.csv", &columns, Some("f"))?;
/// assert_eq!(rows.classes, ["0", "1"]);
/// assert_eq!(rows.rows.predictions(), [1, 1, 1, 0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_csv_rows_from_reader<R: Read>(
    reader: R,
    source_name: &str,
    columns: &CsvColumns,
    protected: Option<&str>,
) -> Result<EncodedRows, CsvRowsError> {
    rows_from_table(
        CsvTable::from_reader(reader, source_name)?,
        columns,
        protected,
    )
}

fn rows_from_table<R: Read>(
    mut table: CsvTable<R>,
    columns: &CsvColumns,
    protected: Option<&str>,
) -> Result<EncodedRows, CsvRowsError> {
    let source = table.source_name().to_string();
    let by = columns.chosen_by;
    let gi = table.column(&columns.group, Some(by[0]))?;
    let li = table.column(&columns.label, Some(by[1]))?;
    let pi = table.column(&columns.prediction, Some(by[2]))?;
    let wi = columns
        .weight
        .as_deref()
        .map(|w| table.column(w, Some(by[3])))
        .transpose()?;
    let (mut groups, mut labels, mut predictions, mut weights) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for row in table.rows() {
        let row = row?;
        groups.push(row.required(gi)?.to_string());
        labels.push(row.required(li)?.to_string());
        predictions.push(row.required(pi)?.to_string());
        if let Some(wi) = wi {
            let w = row.number(wi)?;
            if !(w.is_finite() && w >= 0.0) {
                return Err(row
                    .error(wi, format!("weight {w} must be finite and >= 0"))
                    .into());
            }
            weights.push(w);
        }
    }
    if groups.is_empty() {
        return Err(CsvRowsError::Column {
            column: columns.group.clone(),
            source_name: source,
            reason: "the table has a header but no rows; add one row per individual".into(),
        });
    }
    if let Some(w) = &columns.weight {
        let total: f64 = weights.iter().sum();
        let reason = if !total.is_finite() {
            Some("the weights sum to infinity; rescale them (for example divide by the largest)")
        } else if total <= 0.0 {
            Some("every weight is 0; at least one row needs a positive weight")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(CsvRowsError::Column {
                column: w.clone(),
                source_name: source,
                reason: reason.into(),
            });
        }
    }
    let (codes, group_encoding) =
        encode_group_values(&groups, protected, by[4], &columns.group, &source)?;
    let classes = encode_classes(
        NamedColumn {
            name: &columns.label,
            values: &labels,
        },
        NamedColumn {
            name: &columns.prediction,
            values: &predictions,
        },
        &source,
    )?;
    let k = classes.names.len();
    let rows = Rows::with_classes(
        codes,
        classes.labels,
        classes.predictions,
        wi.map(|_| weights),
        k,
    )?;
    Ok(EncodedRows {
        rows,
        classes: classes.names,
        groups: group_encoding,
    })
}
