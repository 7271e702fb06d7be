//! `smallscale fairness` end to end.

mod common;

use common::{fails_with, ok_json, run, write};

use serde_json::Value;
use smallscale_fairness_memo::{AnalysisOptions, BootstrapOptions, Rows, Target, analyze};

/// Binary rows with text values: unprotected `M` (base rate 0.6, TPR 0.8, TNR 0.8) and
/// protected `F` (base rate 0.5, TPR 0.6, TNR 0.9), 20 rows each.
fn binary_csv() -> (String, Rows) {
    let mut text = String::from("sex,income,predicted\n");
    let (mut g, mut y, mut p) = (vec![], vec![], vec![]);
    // (group code, label, prediction, count)
    let cells = [
        (0u8, 1u32, 1u32, 10),
        (0, 1, 0, 2),
        (0, 0, 0, 6),
        (0, 0, 1, 2),
        (1, 1, 1, 6),
        (1, 1, 0, 4),
        (1, 0, 0, 9),
        (1, 0, 1, 1),
    ];
    let name = |c: u32| if c == 1 { "high" } else { "low" };
    for (a, l, q, n) in cells {
        for _ in 0..n {
            text.push_str(&format!(
                "{},{},{}\n",
                if a == 1 { "F" } else { "M" },
                name(l),
                name(q)
            ));
            g.push(a);
            y.push(l);
            p.push(q);
        }
    }
    (text, Rows::new(g, y, p).unwrap())
}

fn close(a: &Value, b: &Value, path: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-12, "{path}: {x} vs {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}");
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                close(u, v, &format!("{path}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{path}"
            );
            for (k, u) in x {
                close(u, &y[k], &format!("{path}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}

#[test]
fn csv_rows_give_the_library_analysis() {
    let dir = tempfile::tempdir().unwrap();
    let (text, rows) = binary_csv();
    let input = write(dir.path(), "rows.csv", &text);
    let v = ok_json(&[
        "fairness",
        "--input",
        input.to_str().unwrap(),
        "--group-col",
        "sex",
        "--label-col",
        "income",
        "--pred-col",
        "predicted",
        "--protected",
        "F",
        "--json",
    ]);
    // Classes sort as text: high (0), low (1); the positive class of the binary summary
    // is the larger index, "low". Re-encode the library's rows the same way.
    assert_eq!(v["classes"], serde_json::json!(["high", "low"]));
    let flip = |c: &[u32]| c.iter().map(|&x| 1 - x).collect::<Vec<_>>();
    let rows = Rows::new(
        rows.groups().to_vec(),
        flip(rows.labels()),
        flip(rows.predictions()),
    )
    .unwrap();
    let want = analyze(&rows, &AnalysisOptions::default()).unwrap();
    close(
        &v["analysis"],
        &serde_json::to_value(&want).unwrap(),
        "analysis",
    );
    assert_eq!(v["groups"]["protected"], "F");
    assert_eq!(v["groups"]["unprotected"], serde_json::json!(["M"]));
    assert_eq!(v["group_rows"], serde_json::json!([20, 20]));
    assert_eq!(v["source"]["kind"], "csv");
    let targets = v["analysis"]["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 3);
    for t in targets {
        assert_eq!(t["minimal"]["status"], "feasible");
        let applied = &t["applied"];
        assert!(
            applied["max_deviation"].as_f64().unwrap()
                <= applied["rounding_bound"].as_f64().unwrap() + 1e-12
        );
    }
    // The SP gap of the positive class: selection rates 7/20 (F) vs 12/20 (M), here for
    // class "high" (index 0).
    let sp = v["analysis"]["metrics"]["statistical_parity"]["gaps"][0]
        .as_f64()
        .unwrap();
    assert!((sp - (7.0 / 20.0 - 12.0 / 20.0)).abs() < 1e-12);
}

#[test]
fn table_output_has_every_section() {
    let dir = tempfile::tempdir().unwrap();
    let (text, _) = binary_csv();
    let input = write(dir.path(), "rows.csv", &text);
    let (code, stdout, stderr) = run(&[
        "fairness",
        "--input",
        input.to_str().unwrap(),
        "--group-col",
        "sex",
        "--label-col",
        "income",
        "--pred-col",
        "predicted",
        "--positive",
        "high",
    ]);
    assert_eq!(code, 0, "{stderr}");
    for needle in [
        "groups: protected (+) = M",
        "[protected = the larger of the two values; choose with --protected]",
        "classes: 0 = high, 1 = low",
        "SP(y)",
        "EOpp(y)",
        "EOdds[prediction, label]",
        "binary, positive class high",
        "statistical parity: feasible, minimal mass p_D* =",
        "equal opportunity: feasible",
        "equalized odds: feasible",
        "bounds:",
        "applied to the rows (seed 0, whole rows)",
    ] {
        assert!(stdout.contains(needle), "missing `{needle}` in:\n{stdout}");
    }
}

#[test]
fn integer_classes_many_groups_weights_and_one_target() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("g,y,yhat,w\n");
    let (mut groups, mut labels, mut preds, mut weights) = (vec![], vec![], vec![], vec![]);
    for i in 0..60u32 {
        let g = ["5", "7", "10"][(i % 3) as usize];
        let y = (i / 3) % 3 * 5; // classes 0, 5, 10
        let p = if i % 4 == 0 { (y + 5) % 15 } else { y };
        let w = 1.0 + f64::from(i % 5) / 2.0;
        text.push_str(&format!("{g},{y},{p},{w}\n"));
        groups.push(u8::from(g == "10"));
        labels.push(y / 5);
        preds.push(p / 5);
        weights.push(w);
    }
    let input = write(dir.path(), "multi.csv", &text);
    let v = ok_json(&[
        "fairness",
        "--input",
        input.to_str().unwrap(),
        "--group-col",
        "g",
        "--label-col",
        "y",
        "--pred-col",
        "yhat",
        "--weight-col",
        "w",
        "--protected",
        "10",
        "--target",
        "eodds",
        "--split-rows",
        "--seed",
        "4",
        "--json",
    ]);
    assert_eq!(v["classes"], serde_json::json!(["0", "5", "10"]));
    assert_eq!(v["groups"]["unprotected"], serde_json::json!(["5", "7"]));
    let rows = Rows::with_classes(groups, labels, preds, Some(weights), 3).unwrap();
    let mut opts = AnalysisOptions {
        targets: vec![Target::EqualizedOdds],
        ..AnalysisOptions::default()
    };
    opts.apply.seed = 4;
    opts.apply.rounding = smallscale_fairness_memo::Rounding::SplitRows;
    let want = analyze(&rows, &opts).unwrap();
    close(
        &v["analysis"],
        &serde_json::to_value(&want).unwrap(),
        "analysis",
    );
    assert_eq!(v["analysis"]["targets"].as_array().unwrap().len(), 1);
    assert!(v["analysis"]["binary"].is_null());
}

#[test]
fn bootstrap_is_seeded_like_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let (text, rows) = binary_csv();
    let input = write(dir.path(), "rows.csv", &text);
    let v = ok_json(&[
        "fairness",
        "--input",
        input.to_str().unwrap(),
        "--group-col",
        "sex",
        "--label-col",
        "income",
        "--pred-col",
        "predicted",
        "--protected",
        "F",
        "--target",
        "sp",
        "--bootstrap",
        "50",
        "--confidence",
        "0.9",
        "--seed",
        "3",
        "--json",
    ]);
    let flip = |c: &[u32]| c.iter().map(|&x| 1 - x).collect::<Vec<_>>();
    let rows = Rows::new(
        rows.groups().to_vec(),
        flip(rows.labels()),
        flip(rows.predictions()),
    )
    .unwrap();
    let want = smallscale_fairness_memo::bootstrap_intervals(
        &rows,
        BootstrapOptions {
            n_resamples: 50,
            confidence: 0.9,
            seed: 3,
        },
    )
    .unwrap();
    close(
        &v["analysis"]["bootstrap"],
        &serde_json::to_value(&want).unwrap(),
        "bootstrap",
    );
}

#[test]
fn adult_runs_a_logistic_regression_and_the_analysis() {
    let v = ok_json(&["fairness", "--adult", "--json"]);
    let model = &v["source"]["model"];
    assert_eq!(v["source"]["kind"], "adult");
    assert_eq!(model["n_train"], 30_162);
    assert_eq!(model["n_test"], 15_060);
    assert_eq!(model["include_sex"], false);
    let acc = model["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.82 && acc < 0.88, "test accuracy {acc}");
    assert_eq!(v["groups"]["protected"], "Female");
    assert_eq!(v["classes"], serde_json::json!(["<=50K", ">50K"]));
    assert_eq!(v["analysis"]["n_rows"], 15_060);
    // Women are predicted >50K less often than men.
    let sp = v["analysis"]["metrics"]["statistical_parity"]["gaps"][1]
        .as_f64()
        .unwrap();
    assert!(sp < -0.1, "SP(>50K) = {sp}");
    for t in v["analysis"]["targets"].as_array().unwrap() {
        assert!(t["undefined"].is_null(), "{t}");
    }
}

#[test]
fn every_error_is_clear_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str, text: &str| write(dir.path(), name, text).to_str().unwrap().to_string();
    let three = path("three.csv", "group,label,prediction\na,0,1\nb,1,1\nc,1,0\n");
    let two = path(
        "two.csv",
        "group,label,prediction\na,0,1\nb,1,1\na,1,0\nb,0,0\n",
    );
    let gap = path("gap.csv", "group,label,prediction\na,0,1\nb,,1\n");
    let one_class = path("one.csv", "group,label,prediction\na,x,x\nb,x,x\n");
    let one_group = path("onegroup.csv", "group,label,prediction\na,0,1\na,1,1\n");
    let empty = path("empty.csv", "group,label,prediction\n");
    let weights = path("w.csv", "group,label,prediction,w\na,0,1,1\nb,1,1,heavy\n");
    let negative = path("neg.csv", "group,label,prediction,w\na,0,1,1\nb,1,1,-2\n");
    let missing = dir.path().join("nope.csv");
    let missing = missing.to_str().unwrap();
    let with = |input: &str, extra: &[&str]| {
        let mut v = vec!["fairness".to_string(), "--input".into(), input.into()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let check = |args: Vec<String>, needles: &[&str]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails_with(&args, needles);
    };
    check(with(missing, &[]), &["cannot open", "nope.csv"]);
    check(
        with(&two, &["--label-col", "truth"]),
        &[
            "column `truth` (--label-col) not found",
            "[group, label, prediction]",
        ],
    );
    check(
        with(&three, &[]),
        &["3 distinct value(s) (a, b, c)", "with --protected VALUE"],
    );
    check(
        with(&two, &["--protected", "z"]),
        &[
            "column `group`",
            "the protected value `z` (--protected VALUE) does not occur",
            "a, b",
        ],
    );
    check(
        with(&gap, &[]),
        &["row 2 (line 3)", "column `label`", "empty"],
    );
    check(
        with(&one_class, &[]),
        &["column `label`", "every label is `x`", "two classes"],
    );
    // Probabilities are not classes: an error naming the column, not accuracy 0 with exit 0.
    let probs = path(
        "probs.csv",
        "group,label,prediction\na,0,0.2\nb,1,0.9\na,1,1\nb,0,0.2\n",
    );
    check(
        with(&probs, &[]),
        &[
            "column `prediction`",
            "3 row(s)",
            "not one of the labels of column `label` (0, 1)",
            "first is row 1 (`0.2`)",
            "0.2, 0.9",
            "threshold",
        ],
    );
    let twice = path(
        "twice.csv",
        "group,label,prediction,label\na,0,1,1\nb,1,1,0\n",
    );
    check(with(&twice, &[]), &["column `label` appears 2 times"]);
    let zero = path("zero.csv", "group,label,prediction,w\na,0,1,0\nb,1,1,0\n");
    check(
        with(&zero, &["--weight-col", "w"]),
        &["column `w`", "every weight is 0"],
    );
    let huge = path(
        "huge.csv",
        "group,label,prediction,w\na,0,1,1e308\nb,1,1,1e308\n",
    );
    check(
        with(&huge, &["--weight-col", "w"]),
        &["column `w`", "sum to infinity"],
    );
    check(
        with(&one_group, &["--protected", "a"]),
        &["single value `a`"],
    );
    check(with(&empty, &[]), &["no rows"]);
    check(
        with(&weights, &["--weight-col", "w"]),
        &["row 2", "column `w`", "`heavy`"],
    );
    check(
        with(&negative, &["--weight-col", "w"]),
        &["row 2", "weight -2 must be finite and >= 0"],
    );
    check(
        with(&two, &["--bootstrap", "5"]),
        &["at least 10 resamples"],
    );
    check(
        with(&two, &["--bootstrap", "20", "--confidence", "1.5"]),
        &["--confidence 1.5"],
    );
    check(
        with(&two, &["--positive", "7"]),
        &["--positive `7` is not a class", "0, 1"],
    );
    check(
        vec![
            "fairness".into(),
            "--adult".into(),
            "--adult-alpha".into(),
            "0".into(),
        ],
        &["--adult-alpha: the L2 penalty alpha = 0 must be finite and > 0"],
    );
    // Usage errors (clap) exit 2 too.
    for args in [
        vec!["fairness"],
        vec!["fairness", "--adult", "--input", "x.csv"],
        vec!["fairness", "--input", "x.csv", "--target", "parity"],
        vec!["fairness", "--input", "x.csv", "--adult-include-sex"],
    ] {
        let (code, _, stderr) = run(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains("error:"), "{stderr}");
    }
}

/// A pandas float export (`1.0` against labels `1`) is the same analysis as integer predictions.
#[test]
fn float_predictions_are_the_integer_labels() {
    let dir = tempfile::tempdir().unwrap();
    let rows = "a,1,1\na,0,1\na,1,0\nb,0,0\nb,1,1\nb,0,0\n";
    let ints = write(
        dir.path(),
        "ints.csv",
        &format!("group,label,prediction\n{rows}"),
    );
    let floats_text: String = rows
        .lines()
        .map(|l| {
            let (head, p) = l.rsplit_once(',').unwrap();
            format!("{head},{p}.0\n")
        })
        .collect();
    let floats = write(
        dir.path(),
        "floats.csv",
        &format!("group,label,prediction\n{floats_text}"),
    );
    let report = |p: &std::path::Path| {
        let mut v = ok_json(&["fairness", "--input", p.to_str().unwrap(), "--json"]);
        v.as_object_mut().unwrap().remove("source");
        v
    };
    let (a, b) = (report(&ints), report(&floats));
    assert_eq!(a["classes"], serde_json::json!(["0", "1"]));
    close(&a, &b, "report");
    // And the binary summary sees the predictions (accuracy would be 0 with extra classes).
    assert!(
        a["analysis"]["binary"]["selection_rate"][1]
            .as_f64()
            .unwrap()
            > 0.0,
        "{a}"
    );
}
