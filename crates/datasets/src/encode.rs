//! Numeric design matrices from typed tables: one-hot categoricals, standardized numerics.

use crate::csv_table::{Column, Table};
use crate::errors::{Result, invalid_data};

/// How one input column becomes one or more features.
#[derive(Clone, Debug, PartialEq)]
pub enum FeatureEncoding {
    /// A numeric column, standardized as `(x - mean) / std` (missing values become 0, the mean).
    Standardized {
        /// The column name.
        column: String,
        /// The mean fitted on the training table.
        mean: f64,
        /// The standard deviation fitted on the training table (1 for a constant column).
        std: f64,
    },
    /// A categorical column, one 0/1 feature per level seen in training (sorted). A missing
    /// value or a level not seen in training gives all zeros.
    OneHot {
        /// The column name.
        column: String,
        /// The levels, sorted; feature `i` is 1 when the value is `levels[i]`.
        levels: Vec<String>,
    },
}

/// An encoder fitted on a training table and applied unchanged to any table with the same
/// columns, so train and test share one feature space.
///
/// ```
/// use smallscale_datasets::csv_table::{ColumnSpec, CsvOptions, parse_csv_table};
/// use smallscale_datasets::encode::FeatureEncoder;
/// let schema = [ColumnSpec::numeric("x"), ColumnSpec::categorical("color")];
/// let train = parse_csv_table(
///     "x,color\n1,red\n3,blue\n".as_bytes(), "train.csv", &schema, &CsvOptions::default())?;
/// let encoder = FeatureEncoder::fit(&train, &["x", "color"])?;
/// let matrix = encoder.transform(&train)?;
/// assert_eq!(matrix.feature_names(), &["x", "color=blue", "color=red"]);
/// assert_eq!(matrix.row(0), Some(&[-1.0, 0.0, 1.0][..]));
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureEncoder {
    encodings: Vec<FeatureEncoding>,
    feature_names: Vec<String>,
}

impl FeatureEncoder {
    /// Fits the encoding of the named columns of `train`: numeric columns get their mean and
    /// (population) standard deviation over non-missing values, categorical columns their
    /// sorted levels.
    pub fn fit(train: &Table, columns: &[&str]) -> Result<Self> {
        let mut encodings = Vec::with_capacity(columns.len());
        for &name in columns {
            let column = train
                .column(name)
                .ok_or_else(|| invalid_data(format!("the table has no column `{name}`")))?;
            encodings.push(match column {
                Column::Numeric(values) => {
                    let present: Vec<f64> = values.iter().flatten().copied().collect();
                    if present.is_empty() {
                        return Err(invalid_data(format!(
                            "numeric column `{name}` has no values to fit"
                        )));
                    }
                    let n = present.len() as f64;
                    let mean = present.iter().sum::<f64>() / n;
                    let var = present.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
                    let std = if var.sqrt() > 1e-12 { var.sqrt() } else { 1.0 };
                    FeatureEncoding::Standardized {
                        column: name.to_owned(),
                        mean,
                        std,
                    }
                }
                Column::Categorical(c) => {
                    let mut levels = c.levels().to_vec();
                    levels.sort();
                    FeatureEncoding::OneHot {
                        column: name.to_owned(),
                        levels,
                    }
                }
            });
        }
        let feature_names = encodings
            .iter()
            .flat_map(|e| match e {
                FeatureEncoding::Standardized { column, .. } => vec![column.clone()],
                FeatureEncoding::OneHot { column, levels } => {
                    levels.iter().map(|l| format!("{column}={l}")).collect()
                }
            })
            .collect();
        Ok(Self {
            encodings,
            feature_names,
        })
    }

    /// The encoding of each input column.
    pub fn encodings(&self) -> &[FeatureEncoding] {
        &self.encodings
    }

    /// The name of each output feature (`column` or `column=level`).
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The number of output features.
    pub fn num_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Encodes `table` into a dense row-major design matrix.
    pub fn transform(&self, table: &Table) -> Result<DesignMatrix> {
        let rows = table.num_rows();
        let cols = self.num_features();
        let mut values = vec![0.0; rows * cols];
        let mut offset = 0;
        for encoding in &self.encodings {
            match encoding {
                FeatureEncoding::Standardized { column, mean, std } => {
                    let data = table.numeric(column)?;
                    for (r, v) in data.iter().enumerate() {
                        values[r * cols + offset] = v.map_or(0.0, |v| (v - mean) / std);
                    }
                    offset += 1;
                }
                FeatureEncoding::OneHot { column, levels } => {
                    let data = table.categorical(column)?;
                    // Map this table's level codes to positions in the fitted levels.
                    let map: Vec<Option<usize>> = data
                        .levels()
                        .iter()
                        .map(|l| levels.binary_search(l).ok())
                        .collect();
                    for (r, code) in data.codes().iter().enumerate() {
                        if let Some(k) = code.and_then(|c| map[c as usize]) {
                            values[r * cols + offset + k] = 1.0;
                        }
                    }
                    offset += levels.len();
                }
            }
        }
        Ok(DesignMatrix {
            values,
            rows,
            cols,
            feature_names: self.feature_names.clone(),
        })
    }
}

/// A dense, row-major `rows x cols` matrix of features with their names.
#[derive(Clone, Debug, PartialEq)]
pub struct DesignMatrix {
    values: Vec<f64>,
    rows: usize,
    cols: usize,
    feature_names: Vec<String>,
}

impl DesignMatrix {
    /// The number of rows (examples).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The number of columns (features).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// All values, row-major.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Row `row`, or `None` when out of range.
    pub fn row(&self, row: usize) -> Option<&[f64]> {
        let start = row.checked_mul(self.cols)?;
        if row >= self.rows {
            return None;
        }
        self.values.get(start..start + self.cols)
    }

    /// The name of each column.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The values by value, row-major.
    pub fn into_values(self) -> Vec<f64> {
        self.values
    }
}
