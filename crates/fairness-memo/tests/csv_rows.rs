//! The fairness CSV reader: class and group encoding, and edited files that never panic.

use smallscale_fairness_memo::{
    CsvColumns, CsvRowsError, NamedColumn, encode_classes, encode_group_values,
    read_csv_rows_from_reader,
};
use smallscale_io::check_damaged_inputs;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

type Encoded = (Vec<u32>, Vec<u32>, Vec<String>);

fn classes(labels: &[&str], predictions: &[&str]) -> Result<Encoded, CsvRowsError> {
    let (l, p) = (s(labels), s(predictions));
    encode_classes(
        NamedColumn {
            name: "y",
            values: &l,
        },
        NamedColumn {
            name: "pred",
            values: &p,
        },
        "t.csv",
    )
    .map(|c| (c.labels, c.predictions, c.names))
}

#[test]
fn integer_classes_sort_numerically() {
    let (y, p, names) = classes(&["10", "9", "2"], &["9", "9", "10"]).unwrap();
    assert_eq!(names, ["2", "9", "10"]);
    assert_eq!(y, [2, 1, 0]);
    assert_eq!(p, [1, 1, 2]);
}

#[test]
fn equal_numbers_are_one_class() {
    let (y, p, names) = classes(&["1", "0", "-0", "2"], &["1.0", "0.00", "1e0", "2.0"]).unwrap();
    assert_eq!(names, ["0", "1", "2"]);
    assert_eq!(y, [1, 0, 0, 2]);
    assert_eq!(p, [1, 0, 1, 2]);
    // Float labels too.
    let (_, p, names) = classes(&["0.5", "1.5"], &["1.50", "0.5"]).unwrap();
    assert_eq!((p, names), (vec![1, 0], s(&["0.5", "1.5"])));
}

#[test]
fn predictions_outside_the_labels_are_an_error() {
    let e = classes(&["0", "1", "1"], &["0.73", "1", "0.2"]).unwrap_err();
    let msg = e.to_string();
    for needle in [
        "column `pred` of t.csv",
        "2 row(s)",
        "first is row 1 (`0.73`)",
        "0.2, 0.73",
    ] {
        assert!(msg.contains(needle), "missing {needle}: {msg}");
    }
    // Text labels: a value that never occurs as a label.
    assert!(classes(&["no", "yes"], &["yes", "maybe"]).is_err());
    // Text predictions against numeric labels.
    assert!(classes(&["0", "1"], &["0", "one"]).is_err());
}

#[test]
fn text_classes_and_single_class() {
    let (_, _, names) = classes(&["no", "yes"], &["yes", "yes"]).unwrap();
    assert_eq!(names, ["no", "yes"]);
    let e = classes(&["a", "a"], &["a", "a"]).unwrap_err();
    assert!(e.to_string().contains("every label is `a`"), "{e}");
}

#[test]
fn groups_default_rule_and_protected() {
    let enc =
        |v: &[&str], p: Option<&str>| encode_group_values(&s(v), p, "--protected", "g", "t.csv");
    let (codes, e) = enc(&["9", "10", "9"], None).unwrap();
    assert_eq!(codes, [0, 1, 0]);
    assert_eq!(e.protected, "10");
    let (codes, e) = enc(&["a", "b", "c"], Some("b")).unwrap();
    assert_eq!(codes, [0, 1, 0]);
    assert_eq!(e.unprotected, ["a", "c"]);
    assert!(
        enc(&["a", "b", "c"], None)
            .unwrap_err()
            .to_string()
            .contains("--protected")
    );
    assert!(enc(&["a", "b"], Some("z")).is_err());
    // Zero-padded integer groups: the protected value is compared as a number too.
    let (codes, e) = enc(&["01", "02", "01"], Some("02")).unwrap();
    assert_eq!((codes, e.protected.as_str()), (vec![0, 1, 0], "2"));
    assert!(enc(&["a", "a"], Some("a")).is_err());
}

const VALID: &str = "g,y,p,w\na,0,1,1\nb,1,1,2\na,1,0,0.5\nb,0,0,1\n";

fn columns() -> CsvColumns {
    CsvColumns {
        weight: Some("w".into()),
        ..CsvColumns::new("g", "y", "p")
    }
}

#[test]
fn the_valid_table_reads() {
    let rows = read_csv_rows_from_reader(VALID.as_bytes(), "t.csv", &columns(), None).unwrap();
    assert_eq!(rows.rows.len(), 4);
    assert_eq!(rows.groups.protected, "b");
    assert_eq!(rows.rows.weights().unwrap(), [1.0, 2.0, 0.5, 1.0]);
}

fn read(bytes: &[u8]) -> Result<(), CsvRowsError> {
    read_csv_rows_from_reader(bytes, "t.csv", &columns(), None).map(|_| ())
}

#[test]
fn edited_files_never_panic() {
    assert_eq!(
        check_damaged_inputs(VALID.as_bytes(), 512, read).unwrap(),
        512
    );
}

#[test]
#[ignore = "a million damaged files (about 15 s): cargo test -p smallscale-fairness-memo --test csv_rows -- --ignored --nocapture"]
fn a_million_edited_files_never_panic() {
    let n = check_damaged_inputs(VALID.as_bytes(), 1_000_000, read).unwrap();
    println!("{n} damaged fairness CSV files read");
    assert_eq!(n, 1_000_000);
}
