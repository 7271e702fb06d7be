//! `smallscale pepr` end to end.

mod common;

use common::{fails_with, ok_json, run, write};

use serde_json::Value;
use smallscale_pepr_score::{ScoreParams, TableParams, load_pools};

const RUNS: &str = "model,acc,energy,memory,dataset\n\
    tiny,0.80,1.0,2.0,a\n\
    mid,0.86,2.0,1.0,a\n\
    big,0.90,5.0,8.0,a\n\
    waste,0.79,4.0,9.0,a\n\
    tiny,0.60,0.5,1.0,b\n\
    big,0.95,3.0,4.0,b\n";

fn golden() -> String {
    format!(
        "{}/../pepr-score/tests/data/full_data_pepr_dataset_level.csv",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

/// serde_json's default float parser may be one ulp off, so compare to 1e-15.
fn assert_close(got: &Value, want: f64, what: &str) {
    let got = f(got);
    assert!((got - want).abs() <= 1e-15, "{what}: {got} vs {want}");
}

#[test]
fn json_matches_the_library_per_group() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "runs.csv", RUNS);
    let input_s = input.to_str().unwrap();
    let v = ok_json(&[
        "pepr",
        "--input",
        input_s,
        "--performance",
        "acc",
        "--resource",
        "energy",
        "--group-by",
        "dataset",
        "--json",
    ]);
    let spec = TableParams::new("acc", ["energy"])
        .with_group_by("dataset")
        .check()
        .unwrap();
    let pools = load_pools(&input, &spec).unwrap();
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    for (g, pool) in groups.iter().zip(&pools) {
        assert_eq!(g["group"], pool.label());
        assert_eq!(g["n_models"], pool.len());
        let score = &g["scores"][0];
        assert_eq!(score["score"], "energy");
        assert_eq!(score["label"], "PePR-E");
        let want = pool.pepr("energy").unwrap();
        let models = score["models"].as_array().unwrap();
        assert_eq!(models.len(), want.models.len());
        for (m, w) in models.iter().zip(&want.models) {
            assert_eq!(m["name"], w.name.as_str());
            assert_close(&m["performance"], w.performance, "performance");
            assert_close(&m["raw"]["energy"], w.raw["energy"], "raw energy");
            assert_close(
                &m["normalized"]["energy"],
                w.normalized["energy"],
                "normalized energy",
            );
            assert_close(&m["pepr"], w.pepr, "pepr");
            assert_eq!(m["rank"], w.rank);
            assert_eq!(m["on_pareto_front"], w.on_pareto_front);
        }
        let ranking: Vec<&str> = want.ranking().iter().map(|m| m.name.as_str()).collect();
        assert_eq!(score["ranking"], serde_json::json!(ranking));
        let front: Vec<&str> = want
            .pareto_front()
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(score["pareto_front"], serde_json::json!(front));
    }
    // Pool a: tiny is cheapest (PePR = P), big the most expensive (P / 2), waste dominated.
    let a = &groups[0]["scores"][0];
    assert_eq!(a["ranking"][0], "tiny");
    assert_eq!(a["pareto_front"], serde_json::json!(["tiny", "mid", "big"]));
    assert_close(&a["models"][2]["pepr"], 0.45, "big");
}

#[test]
fn paper_table_reproduces_the_stored_pepr_e_column() {
    let v = ok_json(&[
        "pepr",
        "--input",
        &golden(),
        "--performance",
        "test_09",
        "--resource",
        "energy",
        "--group-by",
        "dataset",
        "--json",
    ]);
    let mut stored = std::collections::BTreeMap::new();
    let mut rdr = csv::Reader::from_path(golden()).unwrap();
    let header = rdr.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let (mi, di, pi) = (col("model"), col("dataset"), col("pepr_e"));
    for r in rdr.records() {
        let r = r.unwrap();
        let p: f64 = r[pi].parse().unwrap();
        stored.insert((r[di].to_string(), r[mi].to_string()), p);
    }
    assert_eq!(stored.len(), 1048);
    let mut checked = 0;
    for g in v["groups"].as_array().unwrap() {
        let dataset = g["group"].as_str().unwrap();
        for m in g["scores"][0]["models"].as_array().unwrap() {
            let key = (dataset.to_string(), m["name"].as_str().unwrap().to_string());
            let want = stored[&key];
            let got = f(&m["pepr"]);
            assert!((got - want).abs() <= 1e-12, "{key:?}: {got} vs {want}");
            checked += 1;
        }
    }
    assert_eq!(checked, 1048);
}

#[test]
fn several_resources_combined_weighted_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "runs.csv", RUNS);
    let v = ok_json(&[
        "pepr",
        "--input",
        input.to_str().unwrap(),
        "--performance",
        "acc",
        "--resource",
        "energy",
        "--resource",
        "memory",
        "--group-by",
        "dataset",
        "--combine",
        "--share",
        "2",
        "--share",
        "1",
        "--weight",
        "0.5",
        "--reference-bounds",
        "memory=0:10",
        "--json",
    ]);
    let spec = TableParams::new("acc", ["energy", "memory"])
        .with_group_by("dataset")
        .check()
        .unwrap();
    let pools = load_pools(&input, &spec).unwrap();
    let params = [
        ("energy", ScoreParams::new("energy").with_weight(0.5)),
        (
            "memory",
            ScoreParams::new("memory")
                .with_weight(0.5)
                .with_reference_bounds("memory", 0.0, 10.0),
        ),
        (
            "combined",
            ScoreParams::new("energy")
                .with_resource_share(2.0)
                .and_resource("memory", 1.0)
                .with_weight(0.5)
                .with_reference_bounds("memory", 0.0, 10.0),
        ),
    ];
    for (g, pool) in v["groups"].as_array().unwrap().iter().zip(&pools) {
        let scores = g["scores"].as_array().unwrap();
        assert_eq!(scores.len(), 3);
        for (s, (name, p)) in scores.iter().zip(params.clone()) {
            assert_eq!(s["score"], name);
            assert_eq!(f(&s["weight"]), 0.5);
            let want = pool.score(&p.check().unwrap()).unwrap();
            for (m, w) in s["models"].as_array().unwrap().iter().zip(&want.models) {
                assert_close(&m["pepr"], w.pepr, "pepr");
                assert_close(&m["resource"], w.resource, "resource");
                assert_eq!(m["rank"], w.rank);
                assert_eq!(m["on_pareto_front"], w.on_pareto_front);
            }
        }
    }
    assert_eq!(
        v["groups"][0]["scores"][1]["resources"][0]["method"],
        "reference_bounds"
    );
}

#[test]
fn table_output_and_percentages() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "pct.csv",
        "name,top1,kwh\nsmall,80,1\nlarge,90,3\nsame,80,1.5\n",
    );
    let base = [
        "pepr",
        "--input",
        input.to_str().unwrap(),
        "--performance",
        "top1",
        "--resource",
        "kwh",
        "--model-col",
        "name",
    ];
    fails_with(
        &base,
        &[
            "performance of model `small` is 80",
            "--performance-scale 0.01",
        ],
    );
    let mut args = base.to_vec();
    args.extend(["--performance-scale", "0.01"]);
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("PePR(kwh) = P / (1 + R)"), "{stdout}");
    assert!(stdout.contains("best: small"), "{stdout}");
    assert!(stdout.contains("Pareto front: small, large"), "{stdout}");
    let first = stdout.lines().nth(2).unwrap();
    assert!(
        first.contains("small") && first.contains("0.8000"),
        "{stdout}"
    );
}

#[test]
fn degenerate_pool_is_noted() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "one.csv", "model,acc,energy\nonly,0.7,2\n");
    let (code, stdout, stderr) = run(&[
        "pepr",
        "--input",
        input.to_str().unwrap(),
        "--performance",
        "acc",
        "--resource",
        "energy",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("note: resource `energy` has the same value"),
        "{stdout}"
    );
}

#[test]
fn plot_writes_one_svg_with_a_panel_per_group() {
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("pepr.svg");
    let (code, stdout, stderr) = run(&[
        "pepr",
        "--input",
        &golden(),
        "--performance",
        "test_09",
        "--resource",
        "energy",
        "--group-by",
        "dataset",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("plot written to"), "{stdout}");
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..100.min(svg.len())]);
    for dataset in ["derma_pt", "lidc_small", "pneumonia"] {
        assert!(svg.contains(&format!("{dataset}: PePR-E")), "{dataset}");
    }
    assert!(svg.contains("Pareto front"));
}

#[test]
fn every_error_is_clear_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "runs.csv", RUNS);
    let input = input.to_str().unwrap();
    let bad = write(
        dir.path(),
        "bad.csv",
        "model,acc,energy\na,0.5,1\nb,0.6,lots\n",
    );
    let bad = bad.to_str().unwrap();
    let nan = write(
        dir.path(),
        "nan.csv",
        "model,acc,energy\na,0.5,1\nb,0.6,NaN\n",
    );
    let nan = nan.to_str().unwrap();
    let empty = write(dir.path(), "empty.csv", "model,acc,energy\n");
    let empty = empty.to_str().unwrap();
    let missing = dir.path().join("nope.csv");
    let missing = missing.to_str().unwrap();
    fn plain(input: &str) -> Vec<&str> {
        vec![
            "pepr",
            "--input",
            input,
            "--performance",
            "acc",
            "--resource",
            "energy",
        ]
    }
    fails_with(&plain(missing), &["cannot open", "nope.csv"]);
    fails_with(&plain(bad), &["row 2", "column `energy`", "`lots`"]);
    fails_with(&plain(nan), &["resource `energy` of model `b` is NaN"]);
    fails_with(&plain(empty), &["no rows"]);
    fails_with(
        &[&plain(input)[..], &["--group-by", "split"]].concat(),
        &[
            "column `split` not found",
            "available columns: [model, acc, energy, memory, dataset]",
        ],
    );
    fails_with(
        &[
            "pepr",
            "--input",
            input,
            "--performance",
            "accuracy",
            "--resource",
            "energy",
        ],
        &["column `accuracy` not found", "model, acc, energy"],
    );
    fails_with(&plain(input), &["model `tiny` appears twice", "--group-by"]);
    let grouped = [&plain(input)[..], &["--group-by", "dataset"]].concat();
    fails_with(
        &[&grouped[..], &["--plot", "out.png"]].concat(),
        &["PNG output needs font files", "out.svg"],
    );
    fails_with(
        &[&grouped[..], &["--plot", "out.pdf"]].concat(),
        &["only SVG plots"],
    );
    fails_with(
        &[&grouped[..], &["--combine"]].concat(),
        &["--combine needs at least two"],
    );
    fails_with(
        &[
            &grouped[..],
            &["--resource", "memory", "--combine", "--share", "1"],
        ]
        .concat(),
        &["1 --share value(s) for 2 --resource"],
    );
    fails_with(
        &[&grouped[..], &["--reference-bounds", "energy=0"]].concat(),
        &["COL=MIN:MAX"],
    );
    fails_with(
        &[&grouped[..], &["--reference-bounds", "memory=0:1"]].concat(),
        &["`memory`, which is not a --resource"],
    );
    fails_with(
        &[&grouped[..], &["--reference-bounds", "energy=3:1"]].concat(),
        &["reference max"],
    );
    fails_with(&[&grouped[..], &["--weight=-1"]].concat(), &["weight"]);
    fails_with(
        &[&grouped[..], &["--performance-scale", "0"]].concat(),
        &["performance scale"],
    );
    // Usage errors (clap) also exit 2.
    let (code, _, stderr) = run(&["pepr", "--input", input, "--performance", "acc"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--resource"), "{stderr}");
}
