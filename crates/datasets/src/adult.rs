//! UCI Adult (census income), embedded: typed columns, sex as the sensitive attribute, and the
//! binary label `income > 50K`.
//!
//! The two files `adult.data` (32,561 rows) and `adult.test` (16,281 rows) are embedded
//! gzip'd (see `data/adult/PROVENANCE.md`; CC BY 4.0). Fields are trimmed; `?` marks a missing
//! value (only in `workclass`, `occupation` and `native-country`); the test file's first line
//! (`|1x3 Cross validator`) is skipped as a comment and its labels' trailing dots
//! (`<=50K.`) are removed.

use std::path::Path;

use crate::csv_table::{CategoricalColumn, Column, ColumnSpec, CsvOptions, Table, parse_csv_table};
use crate::encode::{DesignMatrix, FeatureEncoder};
use crate::errors::{DatasetError, Result};
use crate::gzip::decompress_if_gzip;

/// The 15 columns, in file order.
pub const ADULT_COLUMNS: [&str; 15] = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
];
const NUMERIC_COLUMNS: [&str; 6] = [
    "age",
    "fnlwgt",
    "education-num",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
];
/// The label column; its values are `<=50K` and `>50K`.
pub const ADULT_LABEL_COLUMN: &str = "income";
/// The sensitive-attribute column.
pub const ADULT_SENSITIVE_COLUMN: &str = "sex";
/// Names of the sensitive groups, indexed by [`AdultData::sex`] code: 0 = Female, 1 = Male.
pub const SEX_GROUP_NAMES: [&str; 2] = ["Female", "Male"];

/// Rows in `adult.data`.
pub const ADULT_TRAIN_ROWS: usize = 32_561;
/// Rows in `adult.test` (after its comment line).
pub const ADULT_TEST_ROWS: usize = 16_281;
/// Rows of `adult.data` without a missing value.
pub const ADULT_TRAIN_COMPLETE_ROWS: usize = 30_162;
/// Rows of `adult.test` without a missing value.
pub const ADULT_TEST_COMPLETE_ROWS: usize = 15_060;

static TRAIN_GZ: &[u8] = include_bytes!("../data/adult/adult.data.gz");
static TEST_GZ: &[u8] = include_bytes!("../data/adult/adult.test.gz");

/// What to do with rows that have a missing value (`?`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum MissingRows {
    /// Drop them (the usual practice, and the default): 2,399 train and 1,221 test rows.
    #[default]
    Drop,
    /// Keep them; the missing categorical values encode as all-zero one-hot groups.
    Keep,
}

/// The schema of both Adult files.
pub fn adult_schema() -> Vec<ColumnSpec> {
    ADULT_COLUMNS
        .iter()
        .map(|&name| {
            if NUMERIC_COLUMNS.contains(&name) {
                ColumnSpec::numeric(name)
            } else {
                ColumnSpec::categorical(name)
            }
        })
        .collect()
}

fn adult_csv_options() -> CsvOptions {
    CsvOptions {
        has_header: false,
        comment: Some(b'|'),
        ..CsvOptions::default()
    }
}

/// One split of UCI Adult: the typed table, the binary label and the sensitive attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct AdultData {
    table: Table,
    labels: Vec<u8>,
    sex: Vec<u8>,
    rows_dropped: usize,
}

impl AdultData {
    /// Builds the split from a parsed table: normalizes the labels (trailing dot removed),
    /// checks labels and sex, and applies the missing-row policy.
    pub fn from_table(table: Table, missing: MissingRows, file: &str) -> Result<Self> {
        let (mut table, rows_dropped) = match missing {
            MissingRows::Drop => table.drop_rows_with_missing(),
            MissingRows::Keep => (table, 0),
        };
        let bad =
            |row: usize, column: &str, value: Option<&str>, expected: &str| DatasetError::Csv {
                file: file.to_owned(),
                line: 0,
                detail: format!(
                    "row {} has {column} = {:?}, expected {expected}; is this the UCI Adult file?",
                    row + 1,
                    value.unwrap_or("missing")
                ),
            };
        let income = table.categorical(ADULT_LABEL_COLUMN)?;
        let mut labels = Vec::with_capacity(table.num_rows());
        let mut cleaned = Vec::with_capacity(table.num_rows());
        for row in 0..table.num_rows() {
            let value = income.value(row).map(|v| v.strip_suffix('.').unwrap_or(v));
            labels.push(match value {
                Some("<=50K") => 0,
                Some(">50K") => 1,
                _ => return Err(bad(row, ADULT_LABEL_COLUMN, value, "<=50K or >50K")),
            });
            cleaned.push(value);
        }
        let cleaned = CategoricalColumn::from_values(&cleaned);
        table.replace_column(ADULT_LABEL_COLUMN, Column::Categorical(cleaned))?;
        let sex_column = table.categorical(ADULT_SENSITIVE_COLUMN)?;
        let mut sex = Vec::with_capacity(table.num_rows());
        for row in 0..table.num_rows() {
            let value = sex_column.value(row);
            sex.push(match value {
                Some("Female") => 0,
                Some("Male") => 1,
                _ => return Err(bad(row, ADULT_SENSITIVE_COLUMN, value, "Female or Male")),
            });
        }
        Ok(Self {
            table,
            labels,
            sex,
            rows_dropped,
        })
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The typed table of all 15 columns (income without trailing dots).
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The binary label of each row: 1 when income is `>50K`, else 0.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The sensitive attribute of each row: 0 = Female, 1 = Male (see [`SEX_GROUP_NAMES`]).
    pub fn sex(&self) -> &[u8] {
        &self.sex
    }

    /// How many rows were dropped for having a missing value.
    pub fn rows_dropped(&self) -> usize {
        self.rows_dropped
    }
}

/// The feature columns used for a design matrix: every column except the label and `fnlwgt`
/// (a census sampling weight, not an attribute of the person), and except `sex` unless
/// `include_sex`.
pub fn adult_feature_columns(include_sex: bool) -> Vec<&'static str> {
    ADULT_COLUMNS
        .iter()
        .copied()
        .filter(|&c| c != ADULT_LABEL_COLUMN && c != "fnlwgt")
        .filter(|&c| include_sex || c != ADULT_SENSITIVE_COLUMN)
        .collect()
}

/// Numeric design matrices `(train, test)` for a linear model, with the encoder fitted on
/// `train`: numeric columns standardized with train mean and std, categorical columns one-hot
/// over the train levels (all levels kept; no reference level is dropped, so add L2
/// regularization or no intercept to a logistic regression).
///
/// ```
/// use smallscale_datasets::adult::{adult_design_matrices, adult_embedded};
/// let (train, test) = adult_embedded()?;
/// let (x_train, x_test, _encoder) = adult_design_matrices(&train, &test, false)?;
/// assert_eq!(x_train.rows(), train.len());
/// assert_eq!(x_train.cols(), x_test.cols());
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
pub fn adult_design_matrices(
    train: &AdultData,
    test: &AdultData,
    include_sex: bool,
) -> Result<(DesignMatrix, DesignMatrix, FeatureEncoder)> {
    let encoder = FeatureEncoder::fit(&train.table, &adult_feature_columns(include_sex))?;
    let x_train = encoder.transform(&train.table)?;
    let x_test = encoder.transform(&test.table)?;
    Ok((x_train, x_test, encoder))
}

/// Parses one Adult file from (possibly gzip'd) bytes; `file` names it in errors.
pub fn parse_adult(bytes: Vec<u8>, file: &str, missing: MissingRows) -> Result<AdultData> {
    let bytes = decompress_if_gzip(bytes, file)?;
    let table = parse_csv_table(
        bytes.as_slice(),
        file,
        &adult_schema(),
        &adult_csv_options(),
    )?;
    AdultData::from_table(table, missing, file)
}

/// Reads `(train, test)` from the two UCI files `adult.data` and `adult.test`.
pub fn adult_from_files(
    data_path: &Path,
    test_path: &Path,
    missing: MissingRows,
) -> Result<(AdultData, AdultData)> {
    let read = |path: &Path| -> Result<AdultData> {
        let file = path.display().to_string();
        let bytes = crate::gzip::read_maybe_gzip(path)?;
        parse_adult(bytes, &file, missing)
    };
    Ok((read(data_path)?, read(test_path)?))
}

/// The embedded UCI Adult `(train, test)` with rows that have a missing value dropped:
/// 30,162 training and 15,060 test rows.
///
/// ```
/// let (train, test) = smallscale_datasets::adult_embedded()?;
/// assert_eq!((train.len(), test.len()), (30_162, 15_060));
/// let positive_rate = train.labels().iter().map(|&y| f64::from(y)).sum::<f64>() / train.len() as f64;
/// assert!((positive_rate - 0.249).abs() < 0.01);
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
pub fn adult_embedded() -> Result<(AdultData, AdultData)> {
    adult_embedded_with(MissingRows::Drop)
}

/// The embedded UCI Adult `(train, test)` with the given policy for rows with missing values.
pub fn adult_embedded_with(missing: MissingRows) -> Result<(AdultData, AdultData)> {
    let train = parse_adult(TRAIN_GZ.to_vec(), "embedded adult/adult.data.gz", missing)?;
    let test = parse_adult(TEST_GZ.to_vec(), "embedded adult/adult.test.gz", missing)?;
    Ok((train, test))
}
