//! Strict CSV tables with a header: columns by name, errors that name the row, line and column.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::errors::{IoError, Result};

/// A CSV table with a header row, read row by row.
///
/// Fields are trimmed of surrounding white space; every row must have as many fields as the
/// header. A column name that appears twice in the header is refused when the table is opened
/// (a lookup by name would otherwise silently take one of them); empty names may repeat.
///
/// ```
/// use smallscale_io::CsvTable;
/// let csv = "group,label\na,1\nb,0\n";
/// let mut table = CsvTable::from_reader(csv.as_bytes(), "input")?;
/// let label = table.column("label", Some("--label-col"))?;
/// let labels: Vec<String> = table
///     .rows()
///     .map(|row| row.map(|r| r.text(label).to_string()))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(labels, ["1", "0"]);
/// assert!(table.column("pred", Some("--pred-col")).unwrap_err().to_string().contains("--pred-col"));
/// assert!(CsvTable::from_reader("a,a\n1,2\n".as_bytes(), "input").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct CsvTable<R = File> {
    source_name: String,
    header: Vec<String>,
    reader: csv::Reader<R>,
}

impl CsvTable<File> {
    /// Opens the CSV file at `path` and reads its header.
    ///
    /// # Errors
    ///
    /// [`IoError::Open`], [`IoError::Csv`] or [`IoError::DuplicateColumn`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| IoError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_reader(file, path.display().to_string())
    }
}

impl<R: Read> CsvTable<R> {
    /// Reads the header of a CSV table from `reader`; `source_name` names the table in errors.
    ///
    /// # Errors
    ///
    /// [`IoError::Csv`] for a malformed or unreadable header, [`IoError::DuplicateColumn`].
    pub fn from_reader(reader: R, source_name: impl Into<String>) -> Result<Self> {
        let source_name = source_name.into();
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(reader);
        let header: Vec<String> = reader
            .headers()
            .map_err(|source| IoError::Csv {
                source_name: source_name.clone(),
                source,
            })?
            .iter()
            .map(str::to_string)
            .collect();
        // Empty names (the trailing commas of a spreadsheet export) may repeat: no lookup finds them.
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for h in header.iter().filter(|h| !h.is_empty()) {
            *counts.entry(h).or_default() += 1;
        }
        // Report the first repeated name in header order.
        if let Some(h) = header
            .iter()
            .find(|h| counts.get(h.as_str()).is_some_and(|&n| n > 1))
        {
            return Err(IoError::DuplicateColumn {
                column: h.clone(),
                count: counts[h.as_str()],
                source_name,
            });
        }
        Ok(Self {
            source_name,
            header,
            reader,
        })
    }

    /// The name of the table in errors.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// The column names, in file order.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The index of the column called `name`. `option` names the command-line option (or the
    /// setting) that asked for it, for the error message.
    ///
    /// # Errors
    ///
    /// [`IoError::MissingColumn`], listing the available columns.
    pub fn column(&self, name: &str, option: Option<&str>) -> Result<usize> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| IoError::MissingColumn {
                column: name.to_string(),
                option: option.map(str::to_string),
                source_name: self.source_name.clone(),
                available: self.header.join(", "),
            })
    }

    /// The data rows, in order. Each item is a row or the reason it could not be read.
    pub fn rows(&mut self) -> TableRows<'_, R> {
        TableRows {
            records: self.reader.records(),
            header: &self.header,
            source_name: &self.source_name,
            row: 0,
        }
    }
}

/// The rows of a [`CsvTable`], from [`CsvTable::rows`].
pub struct TableRows<'t, R> {
    records: csv::StringRecordsIter<'t, R>,
    header: &'t [String],
    source_name: &'t str,
    row: usize,
}

impl<R> std::fmt::Debug for TableRows<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableRows")
            .field("source_name", &self.source_name)
            .field("row", &self.row)
            .finish_non_exhaustive()
    }
}

impl<'t, R: Read> Iterator for TableRows<'t, R> {
    type Item = Result<TableRow<'t>>;

    fn next(&mut self) -> Option<Self::Item> {
        let record = self.records.next()?;
        self.row += 1;
        Some(match record {
            Ok(record) => {
                let line = record
                    .position()
                    .map_or(self.row as u64 + 1, csv::Position::line);
                Ok(TableRow {
                    record,
                    header: self.header,
                    source_name: self.source_name,
                    row: self.row,
                    line,
                })
            }
            Err(source) => Err(IoError::Csv {
                source_name: self.source_name.to_string(),
                source,
            }),
        })
    }
}

/// One data row of a [`CsvTable`].
#[derive(Debug, Clone)]
pub struct TableRow<'t> {
    record: csv::StringRecord,
    header: &'t [String],
    source_name: &'t str,
    row: usize,
    line: u64,
}

impl TableRow<'_> {
    /// The 1-based data row (the header is not counted).
    pub fn row(&self) -> usize {
        self.row
    }

    /// The 1-based line of the file where the row starts (the header is line 1).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The trimmed text of column `column` (empty when the row is short).
    pub fn text(&self, column: usize) -> &str {
        self.record.get(column).unwrap_or("")
    }

    /// The text of column `column`, which must not be empty.
    ///
    /// # Errors
    ///
    /// [`IoError::Cell`] when the cell is empty.
    pub fn required(&self, column: usize) -> Result<&str> {
        let text = self.text(column);
        if text.is_empty() {
            return Err(self.error(column, "the value is empty; every row needs one"));
        }
        Ok(text)
    }

    /// Column `column` parsed as a number.
    ///
    /// # Errors
    ///
    /// [`IoError::Cell`] when the text is not a number.
    pub fn number(&self, column: usize) -> Result<f64> {
        let text = self.text(column);
        text.parse::<f64>()
            .map_err(|_| self.error(column, format!("cannot parse `{text}` as a number")))
    }

    /// An error about column `column` of this row.
    pub fn error(&self, column: usize, reason: impl Into<String>) -> IoError {
        IoError::Cell {
            row: self.row,
            line: self.line,
            column: self.header.get(column).cloned().unwrap_or_default(),
            source_name: self.source_name.to_string(),
            reason: reason.into(),
        }
    }
}
