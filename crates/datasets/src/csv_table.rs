//! CSV tables with typed columns: numeric (`f64`) and categorical (string levels), with
//! explicit missing values.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use crate::errors::{DatasetError, Result, invalid_data};

/// The type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    /// Finite floating-point numbers.
    Numeric,
    /// Strings from a finite set of levels.
    Categorical,
}

/// The name and type of one column of a schema.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ColumnSpec {
    /// The column name (matched against the header when the file has one).
    pub name: String,
    /// The column type.
    pub kind: ColumnKind,
}

impl ColumnSpec {
    /// A numeric column.
    pub fn numeric(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: ColumnKind::Numeric,
        }
    }

    /// A categorical column.
    pub fn categorical(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: ColumnKind::Categorical,
        }
    }
}

/// How to read a CSV file.
///
/// Defaults: comma-separated, with a header, fields trimmed of surrounding white space, empty
/// fields and `"?"` treated as missing, no comment lines. Blank lines are skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// Whether the first record names the columns. With a header, schema columns are found by
    /// name (extra columns are ignored); without one, the schema lists every column in order.
    pub has_header: bool,
    /// The field delimiter.
    pub delimiter: u8,
    /// Field values (after trimming) that mean "missing".
    pub missing_markers: Vec<String>,
    /// Lines starting with this byte are skipped.
    pub comment: Option<u8>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            has_header: true,
            delimiter: b',',
            missing_markers: vec![String::new(), "?".to_owned()],
            comment: None,
        }
    }
}

/// A categorical column: the distinct levels (in order of first appearance) and one level code
/// per row (`None` when missing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CategoricalColumn {
    levels: Vec<String>,
    codes: Vec<Option<u32>>,
}

impl CategoricalColumn {
    /// Builds a column from per-row values (`None` for missing).
    pub fn from_values<S: AsRef<str>>(values: &[Option<S>]) -> Self {
        let mut builder = CategoricalBuilder::default();
        for value in values {
            builder.push(value.as_ref().map(AsRef::as_ref));
        }
        builder.finish()
    }

    /// The distinct levels, in order of first appearance.
    pub fn levels(&self) -> &[String] {
        &self.levels
    }

    /// The level code of every row (`None` when missing).
    pub fn codes(&self) -> &[Option<u32>] {
        &self.codes
    }

    /// The value of row `row` (`None` when missing or out of range).
    pub fn value(&self, row: usize) -> Option<&str> {
        let code = (*self.codes.get(row)?)?;
        self.levels.get(code as usize).map(String::as_str)
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// A column holding the given rows, in order.
    fn select(&self, rows: &[usize]) -> Self {
        let values: Vec<Option<&str>> = rows.iter().map(|&r| self.value(r)).collect();
        Self::from_values(&values)
    }
}

/// Builds a [`CategoricalColumn`] row by row, looking levels up in a hash map.
#[derive(Default)]
struct CategoricalBuilder {
    levels: Vec<String>,
    index: HashMap<String, u32>,
    codes: Vec<Option<u32>>,
}

impl CategoricalBuilder {
    fn push(&mut self, value: Option<&str>) {
        let code = value.map(|v| match self.index.get(v) {
            Some(&code) => code,
            None => {
                let code = self.levels.len() as u32;
                self.levels.push(v.to_owned());
                self.index.insert(v.to_owned(), code);
                code
            }
        });
        self.codes.push(code);
    }

    fn finish(self) -> CategoricalColumn {
        CategoricalColumn {
            levels: self.levels,
            codes: self.codes,
        }
    }
}

/// The values of one column.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// A numeric column (`None` when missing).
    Numeric(Vec<Option<f64>>),
    /// A categorical column.
    Categorical(CategoricalColumn),
}

impl Column {
    /// The number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Categorical(c) => c.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether row `row` is missing.
    pub fn is_missing(&self, row: usize) -> bool {
        match self {
            Column::Numeric(v) => v.get(row).is_none_or(Option::is_none),
            Column::Categorical(c) => c.codes.get(row).is_none_or(Option::is_none),
        }
    }

    /// The number of missing values.
    pub fn missing_count(&self) -> usize {
        (0..self.len()).filter(|&r| self.is_missing(r)).count()
    }

    fn select(&self, rows: &[usize]) -> Self {
        match self {
            Column::Numeric(v) => Column::Numeric(rows.iter().map(|&r| v[r]).collect()),
            Column::Categorical(c) => Column::Categorical(c.select(rows)),
        }
    }
}

/// A table of typed columns of equal length.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    specs: Vec<ColumnSpec>,
    columns: Vec<Column>,
    num_rows: usize,
}

impl Table {
    /// Builds a table from a schema and matching columns of equal length.
    pub fn new(specs: Vec<ColumnSpec>, columns: Vec<Column>) -> Result<Self> {
        if specs.len() != columns.len() {
            return Err(invalid_data(format!(
                "{} column specs but {} columns",
                specs.len(),
                columns.len()
            )));
        }
        let num_rows = columns.first().map_or(0, Column::len);
        for (spec, column) in specs.iter().zip(&columns) {
            let kind_ok = matches!(
                (spec.kind, column),
                (ColumnKind::Numeric, Column::Numeric(_))
                    | (ColumnKind::Categorical, Column::Categorical(_))
            );
            if !kind_ok || column.len() != num_rows {
                return Err(invalid_data(format!(
                    "column `{}` has the wrong type or length",
                    spec.name
                )));
            }
        }
        Ok(Self {
            specs,
            columns,
            num_rows,
        })
    }

    /// The number of rows.
    pub fn num_rows(&self) -> usize {
        self.num_rows
    }

    /// The number of columns.
    pub fn num_columns(&self) -> usize {
        self.columns.len()
    }

    /// The schema.
    pub fn specs(&self) -> &[ColumnSpec] {
        &self.specs
    }

    /// All columns, in schema order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The column called `name`, if any.
    pub fn column(&self, name: &str) -> Option<&Column> {
        let i = self.specs.iter().position(|s| s.name == name)?;
        self.columns.get(i)
    }

    /// The numeric column called `name`; fails when absent or categorical.
    pub fn numeric(&self, name: &str) -> Result<&[Option<f64>]> {
        match self.column(name) {
            Some(Column::Numeric(v)) => Ok(v),
            _ => Err(invalid_data(format!(
                "the table has no numeric column `{name}`"
            ))),
        }
    }

    /// The categorical column called `name`; fails when absent or numeric.
    pub fn categorical(&self, name: &str) -> Result<&CategoricalColumn> {
        match self.column(name) {
            Some(Column::Categorical(c)) => Ok(c),
            _ => Err(invalid_data(format!(
                "the table has no categorical column `{name}`"
            ))),
        }
    }

    /// Replaces the column called `name` (same type and length required).
    pub fn replace_column(&mut self, name: &str, column: Column) -> Result<()> {
        let i = self
            .specs
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| invalid_data(format!("the table has no column `{name}`")))?;
        let mut columns = self.columns.clone();
        columns[i] = column;
        *self = Table::new(self.specs.clone(), columns)?;
        Ok(())
    }

    /// Whether any column of row `row` is missing.
    pub fn row_has_missing(&self, row: usize) -> bool {
        self.columns.iter().any(|c| c.is_missing(row))
    }

    /// A table of the given rows, in order; fails on an out-of-range row.
    pub fn select_rows(&self, rows: &[usize]) -> Result<Table> {
        if let Some(&bad) = rows.iter().find(|&&r| r >= self.num_rows) {
            return Err(invalid_data(format!(
                "row {bad} is out of range for {} rows",
                self.num_rows
            )));
        }
        Ok(Table {
            specs: self.specs.clone(),
            columns: self.columns.iter().map(|c| c.select(rows)).collect(),
            num_rows: rows.len(),
        })
    }

    /// The table without the rows that have a missing value, and the number of rows dropped.
    pub fn drop_rows_with_missing(&self) -> (Table, usize) {
        let keep: Vec<usize> = (0..self.num_rows)
            .filter(|&r| !self.row_has_missing(r))
            .collect();
        let dropped = self.num_rows - keep.len();
        let table = Table {
            specs: self.specs.clone(),
            columns: self.columns.iter().map(|c| c.select(&keep)).collect(),
            num_rows: keep.len(),
        };
        (table, dropped)
    }
}

/// Reads a CSV file into a [`Table`] with the given schema.
pub fn read_csv_table(path: &Path, schema: &[ColumnSpec], options: &CsvOptions) -> Result<Table> {
    let file = path.display().to_string();
    let handle = std::fs::File::open(path).map_err(|source| DatasetError::Io {
        file: file.clone(),
        source,
    })?;
    parse_csv_table(handle, &file, schema, options)
}

/// Parses CSV from a reader into a [`Table`] with the given schema; `file` names it in errors.
///
/// Every record must have as many fields as the header (or the schema, without a header);
/// numeric fields must parse as finite numbers unless they are a missing marker. Any
/// violation is an error naming the line and the column.
///
/// ```
/// use smallscale_datasets::csv_table::{ColumnSpec, CsvOptions, parse_csv_table};
/// let text = "age, city\n31, Oslo\n?, Rome\n";
/// let schema = [ColumnSpec::numeric("age"), ColumnSpec::categorical("city")];
/// let table = parse_csv_table(text.as_bytes(), "people.csv", &schema, &CsvOptions::default())?;
/// assert_eq!(table.numeric("age")?, &[Some(31.0), None]);
/// assert_eq!(table.categorical("city")?.value(1), Some("Rome"));
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
pub fn parse_csv_table<R: Read>(
    reader: R,
    file: &str,
    schema: &[ColumnSpec],
    options: &CsvOptions,
) -> Result<Table> {
    if schema.is_empty() {
        return Err(invalid_data("a CSV schema needs at least one column"));
    }
    let csv_error = |line: u64, detail: String| DatasetError::Csv {
        file: file.to_owned(),
        line,
        detail,
    };
    let mut csv_reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(options.delimiter)
        .comment(options.comment)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let mut records = csv_reader.records();
    let mut next_record = || -> Result<Option<csv::StringRecord>> {
        match records.next() {
            None => Ok(None),
            Some(Ok(record)) => Ok(Some(record)),
            Some(Err(e)) => {
                let line = e.position().map_or(0, |p| p.line());
                Err(csv_error(line, format!("{e}; the file is not valid CSV")))
            }
        }
    };
    // Where each schema column sits in a record, and how many fields a record must have.
    let (positions, width) = if options.has_header {
        let header = next_record()?.ok_or_else(|| {
            csv_error(
                1,
                "the file is empty but a header was expected; check the file or set has_header = false"
                    .to_owned(),
            )
        })?;
        let names: Vec<&str> = header.iter().collect();
        let mut positions = Vec::with_capacity(schema.len());
        for spec in schema {
            let position = names.iter().position(|n| *n == spec.name).ok_or_else(|| {
                csv_error(
                    1,
                    format!(
                        "the header has no column `{}` (found: {}); fix the header or the schema",
                        spec.name,
                        names.join(", ")
                    ),
                )
            })?;
            positions.push(position);
        }
        (positions, names.len())
    } else {
        ((0..schema.len()).collect(), schema.len())
    };
    let mut numeric: Vec<Vec<Option<f64>>> = vec![Vec::new(); schema.len()];
    let mut categorical: Vec<CategoricalBuilder> = (0..schema.len())
        .map(|_| CategoricalBuilder::default())
        .collect();
    let mut num_rows = 0;
    while let Some(record) = next_record()? {
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != width {
            return Err(csv_error(
                line,
                format!(
                    "{} fields, expected {width}; the row is truncated or has a stray delimiter",
                    record.len()
                ),
            ));
        }
        for (c, (spec, &position)) in schema.iter().zip(&positions).enumerate() {
            let field = &record[position];
            let missing = options.missing_markers.iter().any(|m| m == field);
            match spec.kind {
                ColumnKind::Numeric => {
                    let value = if missing {
                        None
                    } else {
                        match field.parse::<f64>() {
                            Ok(v) if v.is_finite() => Some(v),
                            _ => {
                                return Err(csv_error(
                                    line,
                                    format!(
                                        "column `{}` is numeric but holds `{field}`; fix the value or mark it missing with one of {:?}",
                                        spec.name, options.missing_markers
                                    ),
                                ));
                            }
                        }
                    };
                    numeric[c].push(value);
                }
                ColumnKind::Categorical => {
                    categorical[c].push((!missing).then_some(field));
                }
            }
        }
        num_rows += 1;
    }
    let columns = schema
        .iter()
        .zip(numeric.into_iter().zip(categorical))
        .map(|(spec, (n, cat))| match spec.kind {
            ColumnKind::Numeric => Column::Numeric(n),
            ColumnKind::Categorical => Column::Categorical(cat.finish()),
        })
        .collect();
    let table = Table::new(schema.to_vec(), columns)?;
    debug_assert_eq!(table.num_rows(), num_rows);
    Ok(table)
}
