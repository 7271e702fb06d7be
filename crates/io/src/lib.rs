#![doc = include_str!("../README.md")]

mod atomic;
mod byte_edits;
mod csv_table;
mod errors;
mod output;

pub use atomic::{is_atomic_temp_file, write_atomic};
pub use byte_edits::ByteEdits;
#[cfg(feature = "proptest")]
pub use byte_edits::{byte_edits, check_damaged_inputs};
pub use csv_table::{CsvTable, TableRow, TableRows};
pub use errors::{IoError, Result};
pub use output::{check_output, same_file};
