//! The CSV loader: grouping, attributes, and errors naming row and column.

use smallscale_io::IoError;
use smallscale_pepr_score::{PeprError, TableParams, load_pools, load_pools_from_reader};

const CSV: &str = "model,acc,energy,mem,dataset,type\n\
a,0.8,1.0,2,x,CNN\n\
b,0.9,3.0,4,x,ViT\n\
a,0.7,2.0,2,y,CNN\n";

#[test]
fn groups_in_order_and_keeps_attributes() {
    let spec = TableParams::new("acc", ["energy", "mem"])
        .with_group_by("dataset")
        .check()
        .unwrap();
    let pools = load_pools_from_reader(CSV.as_bytes(), "t.csv", &spec).unwrap();
    let labels: Vec<&str> = pools.iter().map(|p| p.label()).collect();
    assert_eq!(labels, ["x", "y"]);
    let b = &pools[0].runs()[1];
    assert_eq!(b.name, "b");
    assert_eq!(b.resources["mem"], 4.0);
    assert_eq!(b.attributes["type"], "ViT");
    assert!(!b.attributes.contains_key("acc"));
    // Without grouping, the duplicate model `a` is an error.
    let spec = TableParams::new("acc", ["energy"]).check().unwrap();
    let e = load_pools_from_reader(CSV.as_bytes(), "t.csv", &spec).unwrap_err();
    assert!(matches!(e, PeprError::DuplicateModel { .. }), "{e}");
}

#[test]
fn model_column_and_scale() {
    let csv = "name,top1,mem\nm1,75.5,1\nm2,80,2\n";
    let spec = TableParams::new("top1", ["mem"])
        .with_model_column("name")
        .with_performance_scale(0.01)
        .check()
        .unwrap();
    let pools = load_pools_from_reader(csv.as_bytes(), "in", &spec).unwrap();
    assert_eq!(pools[0].label(), "in");
    assert!((pools[0].runs()[0].performance - 0.755).abs() < 1e-15);
}

#[test]
fn missing_column_lists_the_header() {
    let spec = TableParams::new("acc", ["co2"]).check().unwrap();
    let e = load_pools_from_reader(CSV.as_bytes(), "t.csv", &spec).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, PeprError::Table(IoError::MissingColumn { .. })));
    assert!(
        msg.contains("`co2`") && msg.contains("model, acc, energy"),
        "{msg}"
    );
}

#[test]
fn unparsable_number_names_row_and_column() {
    let csv = "model,acc,energy\na,0.8,1.0\nb,0.9,lots\n";
    let spec = TableParams::new("acc", ["energy"]).check().unwrap();
    let e = load_pools_from_reader(csv.as_bytes(), "t.csv", &spec).unwrap_err();
    match &e {
        PeprError::Table(IoError::Cell {
            row,
            line,
            column,
            reason,
            ..
        }) => {
            assert_eq!((*row, *line, column.as_str()), (2, 3, "energy"));
            assert!(reason.contains("`lots`"), "{reason}");
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("row 2"));
}

#[test]
fn other_errors() {
    let spec = TableParams::new("acc", ["energy"]).check().unwrap();
    let e = load_pools_from_reader("model,acc,energy\n".as_bytes(), "t.csv", &spec).unwrap_err();
    assert!(matches!(e, PeprError::Empty { .. }));
    let e = load_pools_from_reader("model,acc,energy\na,80,1\n".as_bytes(), "t.csv", &spec)
        .unwrap_err();
    assert!(matches!(e, PeprError::PerformanceOutOfRange { .. }));
    let e =
        load_pools_from_reader("model,acc,energy\na,0.8\n".as_bytes(), "t.csv", &spec).unwrap_err();
    assert!(matches!(e, PeprError::Table(IoError::Csv { .. })), "{e}");
    let e = load_pools("does-not-exist.csv", &spec).unwrap_err();
    assert!(matches!(e, PeprError::Table(IoError::Open { .. })));
    let e = load_pools_from_reader("model,acc,acc\n".as_bytes(), "t.csv", &spec).unwrap_err();
    assert!(
        matches!(e, PeprError::Table(IoError::DuplicateColumn { .. })),
        "{e}"
    );
    assert!(TableParams::new("acc", ["e", "e"]).check().is_err());
    assert!(
        TableParams::new("acc", ["e"])
            .with_performance_scale(0.0)
            .check()
            .is_err()
    );
    assert!(TableParams::new("", ["e"]).check().is_err());
}
