//! The one error type of this crate.

use std::path::PathBuf;

/// What went wrong with a file or a table, naming the file and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// A file could not be opened for reading.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },

    /// A file could not be written.
    #[error("cannot write {}: {reason}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why, and what to do.
        reason: String,
    },

    /// The output exists and is not a regular file (a device, a directory, a FIFO, ...).
    #[error(
        "{} is a {kind}, not a regular file: give the path of a file to write (an existing regular file is replaced)",
        path.display()
    )]
    NotRegularFile {
        /// The output path as given.
        path: PathBuf,
        /// What it is instead ("directory", "character device", ...).
        kind: &'static str,
    },

    /// The output is one of the command's inputs.
    #[error(
        "the output {} is the input {}: write to another file so the input is kept",
        output.display(),
        input.display()
    )]
    SameAsInput {
        /// The output path as given.
        output: PathBuf,
        /// The input path as given.
        input: PathBuf,
    },

    /// A CSV table is malformed or could not be read.
    #[error("cannot read {source_name}: {source}")]
    Csv {
        /// The table (its file name, or what the caller calls it).
        source_name: String,
        /// The parser's reason.
        #[source]
        source: csv::Error,
    },

    /// A column asked for by name is not in the header.
    #[error("column `{column}`{} not found in {source_name}; available columns: [{available}]",
        option.as_ref().map_or(String::new(), |o| format!(" ({o})")))]
    MissingColumn {
        /// The requested column.
        column: String,
        /// The option that named it, if any (for example `--label-col`).
        option: Option<String>,
        /// The table.
        source_name: String,
        /// The header, comma separated.
        available: String,
    },

    /// A column name appears more than once in the header.
    #[error(
        "column `{column}` appears {count} times in the header of {source_name}; rename the copies so every column has one name"
    )]
    DuplicateColumn {
        /// The repeated name.
        column: String,
        /// How often it appears.
        count: usize,
        /// The table.
        source_name: String,
    },

    /// A cell holds a value the caller cannot use.
    #[error("row {row} (line {line}) of {source_name}, column `{column}`: {reason}")]
    Cell {
        /// 1-based data row (the header is not counted).
        row: usize,
        /// 1-based line in the file (the header is line 1).
        line: u64,
        /// The column.
        column: String,
        /// The table.
        source_name: String,
        /// What is wrong and what to do.
        reason: String,
    },
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, IoError>;
