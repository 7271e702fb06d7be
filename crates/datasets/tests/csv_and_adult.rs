//! CSV tables, the feature encoder and the embedded UCI Adult data.

use smallscale_datasets::adult::{
    ADULT_TEST_COMPLETE_ROWS, ADULT_TEST_ROWS, ADULT_TRAIN_COMPLETE_ROWS, ADULT_TRAIN_ROWS,
    MissingRows, adult_design_matrices, adult_embedded_with, adult_feature_columns,
    adult_from_files,
};
use smallscale_datasets::csv_table::{ColumnSpec, CsvOptions, parse_csv_table, read_csv_table};
use smallscale_datasets::encode::FeatureEncoder;
use smallscale_datasets::{DatasetError, adult_embedded};

fn schema() -> Vec<ColumnSpec> {
    vec![
        ColumnSpec::numeric("height"),
        ColumnSpec::categorical("color"),
    ]
}

fn parse(text: &str) -> smallscale_datasets::Result<smallscale_datasets::csv_table::Table> {
    parse_csv_table(text.as_bytes(), "t.csv", &schema(), &CsvOptions::default())
}

#[test]
fn typed_columns_with_header_and_missing_values() {
    let table = parse("id, color ,height\n1, red, 1.5\n2, ?, 2\n\n3, blue, ?\n4,red,\n").unwrap();
    assert_eq!(table.num_rows(), 4);
    assert_eq!(
        table.numeric("height").unwrap(),
        &[Some(1.5), Some(2.0), None, None]
    );
    let color = table.categorical("color").unwrap();
    assert_eq!(color.levels(), &["red", "blue"]);
    assert_eq!(color.value(1), None);
    assert_eq!(color.value(3), Some("red"));
    assert_eq!(table.column("height").unwrap().missing_count(), 2);
    let (complete, dropped) = table.drop_rows_with_missing();
    assert_eq!((complete.num_rows(), dropped), (1, 3));
    assert!(table.numeric("color").is_err());
    assert!(table.categorical("nope").is_err());
}

#[test]
fn headerless_files_with_comments() {
    let options = CsvOptions {
        has_header: false,
        comment: Some(b'#'),
        ..CsvOptions::default()
    };
    let table = parse_csv_table(
        "# a comment\n3,green\n".as_bytes(),
        "t.csv",
        &schema(),
        &options,
    )
    .unwrap();
    assert_eq!(table.num_rows(), 1);
}

#[test]
fn malformed_csv_is_reported_with_line_and_column() {
    let cases = [
        ("height,color\n1,red\nabc,blue\n", "line 3", "`height`"),
        ("height,color\n1,red\n2\n", "line 3", "1 fields, expected 2"),
        ("height,color\n1,red,extra\n", "line 2", "3 fields"),
        ("height,color\ninf,red\n", "line 2", "`inf`"),
        ("size,color\n1,red\n", "line 1", "no column `height`"),
        ("", "line 1", "empty"),
    ];
    for (text, line, detail) in cases {
        let err = parse(text).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, DatasetError::Csv { .. }), "{message}");
        assert!(
            message.contains("t.csv") && message.contains(line) && message.contains(detail),
            "{message}"
        );
    }
    let invalid_utf8 = b"height,color\n1,\xff\xfe\n";
    let err = parse_csv_table(
        &invalid_utf8[..],
        "bin.csv",
        &schema(),
        &CsvOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("bin.csv"), "{err}");
}

#[test]
fn reads_csv_files_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("table.csv");
    std::fs::write(&path, "height,color\n1,red\n").unwrap();
    let table = read_csv_table(&path, &schema(), &CsvOptions::default()).unwrap();
    assert_eq!(table.num_rows(), 1);
    let err = read_csv_table(
        &dir.path().join("absent.csv"),
        &schema(),
        &CsvOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DatasetError::Io { .. }) && err.to_string().contains("absent.csv"));
}

#[test]
fn encoder_standardizes_and_one_hot_encodes() {
    let train = parse("height,color\n1,red\n3,blue\n5,?\n").unwrap();
    let test = parse("height,color\n?,green\n3,red\n").unwrap();
    let encoder = FeatureEncoder::fit(&train, &["height", "color"]).unwrap();
    assert_eq!(
        encoder.feature_names(),
        &["height", "color=blue", "color=red"]
    );
    let x = encoder.transform(&train).unwrap();
    let sd = (8.0f64 / 3.0).sqrt();
    assert_eq!(x.row(0).unwrap(), &[-2.0 / sd, 0.0, 1.0]);
    assert_eq!(x.row(2).unwrap(), &[2.0 / sd, 0.0, 0.0]);
    let y = encoder.transform(&test).unwrap();
    // Missing numeric -> 0 (the mean); unseen level -> all zeros.
    assert_eq!(y.row(0).unwrap(), &[0.0, 0.0, 0.0]);
    assert_eq!(y.row(1).unwrap(), &[0.0, 0.0, 1.0]);
    assert_eq!(y.row(2), None);
    assert!(FeatureEncoder::fit(&train, &["weight"]).is_err());
}

#[test]
fn adult_row_counts_and_missing_values() {
    let (train, test) = adult_embedded_with(MissingRows::Keep).unwrap();
    assert_eq!(
        (train.len(), test.len()),
        (ADULT_TRAIN_ROWS, ADULT_TEST_ROWS)
    );
    assert_eq!((train.len(), test.len()), (32_561, 16_281));
    for name in ["workclass", "occupation", "native-country"] {
        assert!(
            train.table().column(name).unwrap().missing_count() > 0,
            "{name}"
        );
    }
    assert_eq!(
        train.table().column("workclass").unwrap().missing_count(),
        1_836
    );
    assert_eq!(
        train.table().column("occupation").unwrap().missing_count(),
        1_843
    );
    assert_eq!(
        train
            .table()
            .column("native-country")
            .unwrap()
            .missing_count(),
        583
    );

    let (train, test) = adult_embedded().unwrap();
    assert_eq!(
        (train.len(), test.len()),
        (ADULT_TRAIN_COMPLETE_ROWS, ADULT_TEST_COMPLETE_ROWS)
    );
    assert_eq!((train.rows_dropped(), test.rows_dropped()), (2_399, 1_221));
    assert_eq!(
        test.table().categorical("income").unwrap().levels().len(),
        2
    );
    assert!(
        test.table()
            .categorical("income")
            .unwrap()
            .levels()
            .iter()
            .all(|l| !l.ends_with('.'))
    );
    // Known proportions of the complete-case data.
    let positives: usize = train.labels().iter().map(|&y| usize::from(y)).sum();
    let males: usize = train.sex().iter().map(|&s| usize::from(s)).sum();
    assert_eq!(positives, 7_508);
    assert_eq!(males, 20_380);
    let first = train.table();
    assert_eq!(first.numeric("age").unwrap()[0], Some(39.0));
    assert_eq!(
        first.categorical("workclass").unwrap().value(0),
        Some("State-gov")
    );
    assert_eq!(
        first.categorical("native-country").unwrap().value(0),
        Some("United-States")
    );
}

#[test]
fn adult_design_matrix() {
    let (train, test) = adult_embedded().unwrap();
    let (x_train, x_test, encoder) = adult_design_matrices(&train, &test, false).unwrap();
    assert_eq!((x_train.rows(), x_test.rows()), (train.len(), test.len()));
    assert_eq!(x_train.cols(), encoder.num_features());
    assert!(
        !encoder
            .feature_names()
            .iter()
            .any(|n| n.starts_with("sex") || n == "fnlwgt")
    );
    assert_eq!(adult_feature_columns(true).len(), 13);
    // Standardized numerics have mean 0 and variance 1 on train.
    let age = encoder
        .feature_names()
        .iter()
        .position(|n| n == "age")
        .unwrap();
    let values: Vec<f64> = (0..x_train.rows())
        .map(|r| x_train.row(r).unwrap()[age])
        .collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
    assert!(mean.abs() < 1e-9 && (var - 1.0).abs() < 1e-9);
    // Each complete-case row has exactly one level per categorical column.
    let categorical = 7; // workclass, education, marital-status, occupation, relationship, race, native-country
    let numeric = 5;
    assert_eq!(adult_feature_columns(false).len(), categorical + numeric);
    for r in [0, 1, 1000, x_train.rows() - 1] {
        let row = x_train.row(r).unwrap();
        let ones = row.iter().filter(|&&v| v == 1.0).count();
        assert!(ones >= categorical, "row {r}");
    }
    let (with_sex, _, enc2) = adult_design_matrices(&train, &test, true).unwrap();
    assert_eq!(with_sex.cols(), x_train.cols() + 2);
    assert!(enc2.feature_names().contains(&"sex=Female".to_string()));
}

#[test]
fn adult_files_from_disk_and_bad_labels() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("adult.data");
    let test = dir.path().join("adult.test");
    let row = "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, United-States,";
    std::fs::write(&data, format!("{row} <=50K\n{row} >50K\n\n")).unwrap();
    std::fs::write(&test, format!("|1x3 Cross validator\n{row} >50K.\n")).unwrap();
    let (a, b) = adult_from_files(&data, &test, MissingRows::Drop).unwrap();
    assert_eq!((a.labels(), b.labels()), (&[0u8, 1][..], &[1u8][..]));
    std::fs::write(&test, format!("{row} maybe\n")).unwrap();
    let err = adult_from_files(&data, &test, MissingRows::Drop).unwrap_err();
    assert!(
        err.to_string().contains("adult.test") && err.to_string().contains("maybe"),
        "{err}"
    );
    std::fs::write(&test, "39, State-gov\n").unwrap();
    let err = adult_from_files(&data, &test, MissingRows::Drop).unwrap_err();
    assert!(matches!(err, DatasetError::Csv { line: 1, .. }), "{err}");
}
