//! Reading `(group, label, prediction[, weight])` rows from a CSV file for `smallscale fairness`.
//!
//! Labels and predictions may be any text: when every value is an integer they are ordered
//! numerically, else as text, and mapped to class indices `0..K` with the library's
//! [`ClassEncoding`]. Groups are any text; `--protected VALUE` names the protected group (all
//! other values are the unprotected group); without it the column must hold exactly two values
//! and the larger one (numerically when both are integers, else as text) is protected, which is
//! the library's rule.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use smallscale_fairness_memo::{ClassEncoding, Rows, encode_groups};

/// Which columns of the CSV file mean what.
#[derive(Debug, Clone)]
pub struct Columns<'a> {
    /// The group column.
    pub group: &'a str,
    /// The true-label column.
    pub label: &'a str,
    /// The prediction column.
    pub prediction: &'a str,
    /// The optional weight column.
    pub weight: Option<&'a str>,
}

/// Validated rows with the names behind their codes.
#[derive(Debug, Clone)]
pub struct EncodedRows {
    /// The rows, groups coded 0 (unprotected) / 1 (protected), classes `0..K`.
    pub rows: Rows,
    /// Class names, by class index.
    pub classes: Vec<String>,
    /// How the groups were encoded.
    pub groups: GroupEncoding,
}

/// How the group values were split into protected and unprotected.
#[derive(Debug, Clone, Serialize)]
pub struct GroupEncoding {
    /// The protected value (`A = 1`).
    pub protected: String,
    /// The values forming the unprotected group (`A = 0`), sorted.
    pub unprotected: Vec<String>,
    /// Whether the protected value was chosen by the default rule (no `--protected`).
    pub chosen_by_default: bool,
}

/// Sorted distinct values, numerically when all are integers.
fn distinct_sorted(values: &[String]) -> Vec<String> {
    match values
        .iter()
        .map(|v| v.parse::<i64>())
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(ints) => {
            let set: BTreeSet<i64> = ints.into_iter().collect();
            set.into_iter().map(|i| i.to_string()).collect()
        }
        Err(_) => {
            let set: BTreeSet<&String> = values.iter().collect();
            set.into_iter().cloned().collect()
        }
    }
}

/// Encodes labels and predictions together; returns codes and the class names.
pub fn encode_classes(
    labels: &[String],
    predictions: &[String],
) -> Result<(Vec<u32>, Vec<u32>, Vec<String>)> {
    fn with<L: Ord + Clone + Debug + ToString>(
        labels: &[L],
        predictions: &[L],
    ) -> Result<(Vec<u32>, Vec<u32>, Vec<String>)> {
        let enc = ClassEncoding::fit(labels, predictions);
        let names = enc.classes().iter().map(ToString::to_string).collect();
        Ok((enc.encode(labels)?, enc.encode(predictions)?, names))
    }
    let ints = |v: &[String]| {
        v.iter()
            .map(|s| s.parse::<i64>())
            .collect::<Result<Vec<_>, _>>()
    };
    let (y, p, names) = match (ints(labels), ints(predictions)) {
        (Ok(l), Ok(p)) => with(&l, &p)?,
        _ => with(labels, predictions)?,
    };
    if names.len() < 2 {
        bail!(
            "labels and predictions hold a single class ({}); fairness metrics need at least two classes",
            names.first().map_or("none", String::as_str)
        );
    }
    Ok((y, p, names))
}

/// Encodes group values as 0 (unprotected) / 1 (protected), with the CLI's messages.
pub fn encode_group_values(
    values: &[String],
    protected: Option<&str>,
    column: &str,
) -> Result<(Vec<u8>, GroupEncoding)> {
    let distinct = distinct_sorted(values);
    let shown = || {
        let mut s: Vec<&str> = distinct.iter().take(10).map(String::as_str).collect();
        if distinct.len() > 10 {
            s.push("...");
        }
        s.join(", ")
    };
    let protected_value = match protected {
        Some(p) => {
            if !distinct.iter().any(|d| d == p) {
                bail!(
                    "--protected `{p}` does not occur in column `{column}`; its values are: {}",
                    shown()
                );
            }
            p.to_string()
        }
        None => {
            if distinct.len() != 2 {
                bail!(
                    "column `{column}` has {} distinct value(s) ({}); pass --protected VALUE to choose the protected group (all other values form the unprotected group)",
                    distinct.len(),
                    shown()
                );
            }
            distinct[1].clone()
        }
    };
    if distinct.len() < 2 {
        bail!(
            "column `{column}` holds the single value `{}`: both groups need rows",
            distinct[0]
        );
    }
    let codes = match values
        .iter()
        .map(|v| v.parse::<i64>())
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(ints) => {
            let p: i64 = protected_value
                .parse()
                .map_err(|_| anyhow!("internal: protected value is not an integer"))?;
            encode_groups(&ints, Some(&p))?
        }
        Err(_) => encode_groups(values, Some(&protected_value))?,
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

/// Reads and encodes the rows of `path`.
pub fn read_rows(
    path: &Path,
    columns: &Columns<'_>,
    protected: Option<&str>,
) -> Result<EncodedRows> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let source = path.display().to_string();
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(file);
    let header: Vec<String> = rdr
        .headers()
        .with_context(|| format!("cannot read the header of {source}"))?
        .iter()
        .map(str::to_string)
        .collect();
    let col = |name: &str, option: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            anyhow!(
                "column `{name}` ({option}) not found in {source}; available columns: [{}]",
                header.join(", ")
            )
        })
    };
    let gi = col(columns.group, "--group-col")?;
    let li = col(columns.label, "--label-col")?;
    let pi = col(columns.prediction, "--pred-col")?;
    let wi = columns.weight.map(|w| col(w, "--weight-col")).transpose()?;
    let (mut groups, mut labels, mut predictions, mut weights) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (row0, record) in rdr.records().enumerate() {
        let record = record.with_context(|| format!("cannot read {source}"))?;
        let row = row0 + 1;
        let line = record.position().map_or(row as u64 + 1, |p| p.line());
        let cell = |i: usize| -> Result<String> {
            let text = record.get(i).unwrap_or("");
            if text.is_empty() {
                bail!(
                    "row {row} (line {line}) of {source}, column `{}`: the value is empty; every row needs a group, a label and a prediction",
                    header[i]
                );
            }
            Ok(text.to_string())
        };
        groups.push(cell(gi)?);
        labels.push(cell(li)?);
        predictions.push(cell(pi)?);
        if let Some(wi) = wi {
            let text = cell(wi)?;
            let w: f64 = text.parse().map_err(|_| {
                anyhow!(
                    "row {row} (line {line}) of {source}, column `{}`: cannot parse `{text}` as a number",
                    header[wi]
                )
            })?;
            if !(w.is_finite() && w >= 0.0) {
                bail!(
                    "row {row} (line {line}) of {source}, column `{}`: weight {w} must be finite and >= 0",
                    header[wi]
                );
            }
            weights.push(w);
        }
    }
    if groups.is_empty() {
        bail!("{source} has a header but no rows; add one row per individual");
    }
    let (codes, group_encoding) = encode_group_values(&groups, protected, columns.group)?;
    let (y, p, classes) = encode_classes(&labels, &predictions)?;
    let k = classes.len();
    let rows = Rows::with_classes(codes, y, p, wi.map(|_| weights), k)?;
    Ok(EncodedRows {
        rows,
        classes,
        groups: group_encoding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn integer_classes_sort_numerically() {
        let (y, p, names) = encode_classes(&s(&["10", "9", "2"]), &s(&["9", "9", "10"])).unwrap();
        assert_eq!(names, ["2", "9", "10"]);
        assert_eq!(y, [2, 1, 0]);
        assert_eq!(p, [1, 1, 2]);
    }

    #[test]
    fn text_classes_and_single_class() {
        let (_, _, names) = encode_classes(&s(&["no", "yes"]), &s(&["yes", "yes"])).unwrap();
        assert_eq!(names, ["no", "yes"]);
        assert!(encode_classes(&s(&["a"]), &s(&["a"])).is_err());
    }

    #[test]
    fn groups_default_rule_and_protected() {
        let (codes, enc) = encode_group_values(&s(&["9", "10", "9"]), None, "g").unwrap();
        assert_eq!(codes, [0, 1, 0]);
        assert_eq!(enc.protected, "10");
        let (codes, enc) = encode_group_values(&s(&["a", "b", "c"]), Some("b"), "g").unwrap();
        assert_eq!(codes, [0, 1, 0]);
        assert_eq!(enc.unprotected, ["a", "c"]);
        assert!(encode_group_values(&s(&["a", "b", "c"]), None, "g").is_err());
        assert!(encode_group_values(&s(&["a", "b"]), Some("z"), "g").is_err());
        assert!(encode_group_values(&s(&["a", "a"]), Some("a"), "g").is_err());
    }
}
