//! `smallscale study`: a smoke-sized study end to end, its table scored by `smallscale pepr`,
//! the pool file round trip and the option errors.

mod common;

use common::{fails_with, ok_json, run, write};

#[test]
fn a_smoke_study_writes_a_table_that_pepr_scores() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let out_s = out.to_str().unwrap();
    let pool = write(
        dir.path(),
        "pool.json",
        r#"{"models": [{"name": "a", "model": "mlp", "width": 4}, {"name": "b", "model": "mlp", "width": 8}]}"#,
    );
    let args = [
        "study",
        "--pool",
        pool.to_str().unwrap(),
        "--epochs",
        "1",
        "--pretrain-epochs",
        "1",
        "--limit-test",
        "100",
        "--limit-pretrain",
        "300",
        "--out",
        out_s,
        "--quiet",
    ];
    let (code, _, stderr) = run(&args);
    assert_eq!(code, 0, "{stderr}");
    for f in [
        "study.csv",
        "report.md",
        "results.json",
        "findings.json",
        "accuracy_vs_parameters.svg",
        "pepr_per_model.svg",
        "pretrained_vs_scratch.svg",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let table = out.join("study.csv");
    let scored = ok_json(&[
        "pepr",
        "--input",
        table.to_str().unwrap(),
        "--performance",
        "test_09",
        "--resource",
        "energy",
        "--resource",
        "memR",
        "--group-by",
        "dataset",
        "--json",
    ]);
    let groups = scored["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 6);
    assert!(groups.iter().all(|g| g["n_models"] == 2));
    // A rerun resumes: nothing is trained, the same table comes out.
    let before = std::fs::read_to_string(&table).unwrap();
    let mut json_args = args.to_vec();
    json_args.retain(|a| *a != "--quiet");
    json_args.push("--json");
    let again = ok_json(&json_args);
    assert!(
        again["results"]["runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "already-finished")
    );
    assert_eq!(
        again["analysis"]["findings"]["verdicts"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let after = std::fs::read_to_string(&table).unwrap();
    let accuracy = |t: &str| -> Vec<String> {
        t.lines()
            .map(|l| l.split(',').nth(21).unwrap().to_string())
            .collect()
    };
    assert_eq!(accuracy(&before), accuracy(&after));
}

#[test]
fn the_printed_pool_is_a_valid_pool_file() {
    let dir = tempfile::tempdir().unwrap();
    for preset in [
        &["study", "--print-pool"][..],
        &["study", "--print-pool", "--full"],
    ] {
        let (code, stdout, stderr) = run(preset);
        assert_eq!(code, 0, "{stderr}");
        let path = write(dir.path(), "pool.json", &stdout);
        smallscale_pepr_study::StudyPool::read(&path).unwrap();
    }
}

#[test]
fn bad_options_are_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let out = out.to_str().unwrap();
    fails_with(
        &["study", "--fractions", "0.1,1", "--out", out],
        &["fractions", "1 first"],
    );
    fails_with(&["study", "--epochs", "0", "--out", out], &["epochs"]);
    fails_with(&["study", "--label", "x_pt", "--out", out], &["label"]);
    let pool = write(
        dir.path(),
        "pool.json",
        r#"{"models": [{"name": "a", "model": "mlp"}]}"#,
    );
    fails_with(
        &["study", "--pool", pool.to_str().unwrap(), "--out", out],
        &["pool.json", "at least two"],
    );
    fails_with(
        &["study", "--data", "cifar10-subset", "--out", out, "--quiet"],
        &["same shape"],
    );
    assert!(!dir.path().join("x").join("study.json").exists());
}
