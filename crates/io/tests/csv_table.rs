//! The CSV table reader: columns, duplicates, cell errors, and fuzzed inputs that never panic.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use smallscale_io::{ByteEdits, CsvTable, IoError};

fn table(text: &str) -> Result<CsvTable<&[u8]>, IoError> {
    CsvTable::from_reader(text.as_bytes(), "runs.csv")
}

#[test]
fn columns_by_name_rows_and_lines() {
    let mut t = table("model , acc\n a , 0.5\nb,0.25\n").unwrap();
    assert_eq!(t.header(), ["model", "acc"]);
    let acc = t.column("acc", None).unwrap();
    let rows: Vec<(usize, u64, String, f64)> = t
        .rows()
        .map(|r| {
            let r = r.unwrap();
            (
                r.row(),
                r.line(),
                r.text(0).to_string(),
                r.number(acc).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [(1, 2, "a".into(), 0.5), (2, 3, "b".into(), 0.25)],
        "fields are trimmed, lines count the header"
    );
}

#[test]
fn a_missing_column_lists_the_header_and_the_option() {
    let t = table("a,b\n1,2\n").unwrap();
    let e = t.column("c", Some("--perf-col")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "column `c` (--perf-col) not found in runs.csv; available columns: [a, b]"
    );
}

#[test]
fn a_repeated_column_is_refused() {
    let e = table("x,y,x\n1,2,3\n").unwrap_err();
    assert!(
        matches!(&e, IoError::DuplicateColumn { column, count: 2, .. } if column == "x"),
        "{e}"
    );
    // Trimming makes " y" and "y" the same name.
    assert!(table("y, y\n1,2\n").is_err());
    // Unnamed columns (trailing commas of a spreadsheet export) may repeat.
    let t = table("y,,\n1,,\n").unwrap();
    assert_eq!(t.header(), ["y", "", ""]);
}

#[test]
fn cell_errors_name_row_line_and_column() {
    let mut t = table("m,acc\na,0.5\nb,high\n").unwrap();
    let rows: Vec<_> = t.rows().map(Result::unwrap).collect();
    let e = rows[1].number(1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 2 (line 3) of runs.csv, column `acc`: cannot parse `high` as a number"
    );
    let mut t = table("m,acc\n,0.5\n").unwrap();
    let row = t.rows().next().unwrap().unwrap();
    assert!(row.required(0).unwrap_err().to_string().contains("empty"));
}

#[test]
fn a_ragged_row_is_a_csv_error() {
    let mut t = table("a,b\n1,2\n3\n").unwrap();
    let results: Vec<_> = t.rows().collect();
    assert!(results[0].is_ok());
    let e = results[1].as_ref().unwrap_err();
    assert!(matches!(e, IoError::Csv { .. }), "{e}");
    assert!(e.to_string().starts_with("cannot read runs.csv"), "{e}");
}

#[test]
fn a_missing_file_names_it_once() {
    let e = CsvTable::open("no/such/file.csv").unwrap_err();
    assert!(matches!(e, IoError::Open { .. }), "{e}");
    assert!(e.to_string().contains("no/such/file.csv"), "{e}");
}

fn valid_table() -> Vec<u8> {
    b"model,accuracy,params\nmlp,0.91,1000\ncnn,0.94,25000\n\"vit, tiny\",0.90,5e5\n".to_vec()
}

fn read_all(bytes: &[u8]) -> Result<usize, IoError> {
    let mut t = CsvTable::from_reader(bytes, "fuzz.csv")?;
    let acc = t.column("accuracy", None)?;
    let mut n = 0;
    for row in t.rows() {
        let row = row?;
        let _ = row.number(acc);
        let _ = row.required(0);
        n += 1;
    }
    Ok(n)
}

/// Applies proptest-chosen edits to the valid table and reads it: a table or an error with a
/// message, never a panic.
fn edited_table_reads_cleanly(edits: ByteEdits) -> Result<(), TestCaseError> {
    if let Err(e) = read_all(&edits.apply(&valid_table())) {
        prop_assert!(!e.to_string().is_empty());
    }
    Ok(())
}

prop_compose! {
    fn edits()(
        flips in prop::collection::vec((0usize..80, 0u8..8), 0..4),
        insert in prop::option::of((0usize..80, any::<u8>())),
        overwrite in prop::option::of((0usize..80, any::<u32>())),
        cut in prop::option::of(0usize..88),
    ) -> ByteEdits {
        ByteEdits { flips, insert, overwrite, cut: cut.unwrap_or(usize::MAX) }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Truncations, bit flips, inserted bytes and overwritten fields of a valid table.
    #[test]
    fn edited_tables_never_panic(edits in edits()) {
        edited_table_reads_cleanly(edits)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000_000))]

    #[test]
    #[ignore = "a million damaged tables (about 15 s): cargo test -p smallscale-io --test csv_table -- --ignored"]
    fn a_million_edited_tables_never_panic(edits in edits()) {
        edited_table_reads_cleanly(edits)?;
    }
}
