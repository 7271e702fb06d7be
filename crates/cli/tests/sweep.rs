//! `smallscale sweep`: a reproduction and a study planned as job lists, their jobs run one by
//! one (out of order, twice at once, after a failure) and on this machine, merged partially and
//! whole; the merged results equal the same command run on one machine, bit for bit.

mod common;

use std::path::Path;

use common::{bin, fails_with, ok_json, run, write};
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A tiny reproduction: two seeds, target 3 bits only (FP, QAT and Reg per seed: 6 jobs).
const REPRODUCE: [&str; 10] = [
    "reproduce",
    "--quick",
    "--epochs",
    "1",
    "--bits",
    "3",
    "--width",
    "4",
    "--seeds",
    "2",
];

fn sweep_run(dir: &Path, index: usize) -> (i32, String, String) {
    run(&[
        "sweep",
        "run",
        s(dir),
        "--index",
        &index.to_string(),
        "--no-progress",
    ])
}

/// What a run computed, without what depends on the machine's speed (times, resources).
fn metrics(run: &Value) -> Value {
    let mut history = run["training"]["history"].clone();
    for epoch in history.as_array_mut().unwrap() {
        epoch.as_object_mut().unwrap().remove("seconds");
    }
    serde_json::json!({
        "label": run["label"],
        "test": run["test"],
        "best_epoch": run["training"]["best_epoch"],
        "history": history,
    })
}

fn seed_metrics(dir: &Path, seed: u64) -> Vec<Value> {
    let path = dir.join(format!("seed-{seed}")).join("results.json");
    let json: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    json["results"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(metrics)
        .collect()
}

/// Runs `args` into `out` as a single-machine command with one thread (as the sweeps' jobs).
fn run_on_one_thread(args: &[&str], output: &str, out: &Path) {
    let run = bin()
        .args(args)
        .args([output, "--out", s(out)])
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn a_reproduce_sweep_runs_job_by_job_merges_partially_and_equals_reproduce() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sweep");
    let mut plan = vec![
        "sweep",
        "plan",
        s(&dir),
        "--cpus-per-task",
        "1",
        "--max-parallel",
        "3",
        "--time",
        "30",
        "--json",
    ];
    plan.extend(REPRODUCE);
    let planned = ok_json(&plan);
    assert_eq!(planned["jobs"], 6);
    let jobs: Vec<Value> = std::fs::read_to_string(dir.join("jobs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let labels: Vec<&str> = jobs.iter().map(|j| j["label"].as_str().unwrap()).collect();
    assert_eq!(
        labels,
        [
            "reproduce/seed-0/fp",
            "reproduce/seed-0/qat-b3",
            "reproduce/seed-0/reg-b3-l1",
            "reproduce/seed-1/fp",
            "reproduce/seed-1/qat-b3",
            "reproduce/seed-1/reg-b3-l1"
        ]
    );
    assert!(jobs.iter().all(|j| j["threads"] == 1));
    let script = std::fs::read_to_string(dir.join("sweep.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=0-5%3",
        "#SBATCH --time=30",
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --output=logs/%A_%a.out",
        "sweep run . --index \"$SLURM_ARRAY_TASK_ID\"",
    ] {
        assert!(script.contains(line), "{line} not in\n{script}");
    }
    // Planning the same sweep again is allowed; another sweep in the same directory is not.
    let again = ok_json(&plan);
    assert_eq!(again["replanned"], true);
    let mut other = plan.clone();
    other.extend(["--lambda", "3"]);
    fails_with(&other, &["holds another sweep", "reg-b3-l3"]);

    // Two jobs, out of order; the rest is pending, and a partial merge says so.
    for index in [4, 0] {
        let (code, stdout, stderr) = sweep_run(&dir, index);
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("finished"), "{stdout}");
    }
    let (_, status, _) = run(&["sweep", "status", s(&dir)]);
    assert!(
        status.contains("2 done, 0 running, 0 failed, 4 pending (of 6)"),
        "{status}"
    );
    assert!(status.contains("pending: 1-3,5"), "{status}");
    let (code, merged, stderr) = run(&["sweep", "merge", s(&dir)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(merged.contains("PARTIAL"), "{merged}");
    assert!(merged.contains("reproduce/seed-1/reg-b3-l1"), "{merged}");
    let report = std::fs::read_to_string(dir.join("reproduce/seed-0/report.md")).unwrap();
    assert!(report.contains("**Partial results**"), "{report}");
    assert!(!dir.join("reproduce/summary.md").exists());

    // The same job twice at once: one runs it, the other waits for it and finds it done.
    let children: Vec<_> = (0..2)
        .map(|_| {
            bin()
                .args(["sweep", "run", s(&dir), "--index", "1", "--no-progress"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outcomes: Vec<String> = children
        .into_iter()
        .map(|c| {
            let c = c.wait_with_output().unwrap();
            assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
            String::from_utf8_lossy(&c.stdout).into_owned()
        })
        .collect();
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| o.contains("was done already"))
            .count(),
        1,
        "{outcomes:?}"
    );

    // The rest on this machine, two at a time; a finished job is not run again.
    let (code, stdout, stderr) = run(&[
        "sweep",
        "run",
        s(&dir),
        "--local",
        "--jobs",
        "2",
        "--no-progress",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("6 jobs: 3 done before, 3 finished now, 0 failed"),
        "{stdout}"
    );
    let (code, stdout, _) = sweep_run(&dir, 0);
    assert_eq!(code, 0);
    assert!(stdout.contains("was done already"), "{stdout}");
    let (code, merged, stderr) = run(&["sweep", "merge", s(&dir)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        merged.contains("Merged the whole sweep (6 jobs)"),
        "{merged}"
    );
    assert!(merged.contains("mean ± sd over 2 seeds"), "{merged}");
    assert!(dir.join("reproduce/summary.md").is_file());
    let report = std::fs::read_to_string(dir.join("reproduce/seed-0/report.md")).unwrap();
    assert!(!report.contains("Partial"), "{report}");

    // The same reproduction on one machine with the same thread count: the same numbers.
    let single = tmp.path().join("single");
    run_on_one_thread(&REPRODUCE, "--no-progress", &single);
    for seed in [0, 1] {
        let swept = seed_metrics(&dir.join("reproduce"), seed);
        assert_eq!(swept.len(), 3);
        assert_eq!(swept, seed_metrics(&single, seed), "seed {seed}");
    }
    let summary = |d: &Path| -> Value {
        let v: Value =
            serde_json::from_slice(&std::fs::read(d.join("summary.json")).unwrap()).unwrap();
        v["summary"]["per_bit"].clone()
    };
    assert_eq!(summary(&dir.join("reproduce")), summary(&single));
}

#[test]
fn a_failed_job_is_reported_with_its_error_and_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sweep");
    let (code, _, stderr) = run(&[
        "sweep",
        "plan",
        s(&dir),
        "--name",
        "tiny",
        "--quiet",
        "reproduce",
        "--quick",
        "--epochs",
        "1",
        "--bits",
        "3",
        "--width",
        "4",
    ]);
    assert_eq!(code, 0, "{stderr}");
    // A damaged run directory makes job 0 (FP) fail.
    let fp = dir.join("tiny/runs/fp");
    std::fs::create_dir_all(&fp).unwrap();
    std::fs::write(fp.join("config.json"), "{ damaged").unwrap();
    let (code, _, stderr) = sweep_run(&dir, 0);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("job 0 (tiny/fp"), "{stderr}");
    let (_, status, _) = run(&["sweep", "status", s(&dir)]);
    assert!(
        status.contains("0 done, 0 running, 1 failed, 2 pending"),
        "{status}"
    );
    assert!(status.contains("failed   tiny/fp"), "{status}");
    assert!(
        status.contains("| ") && status.contains("config.json"),
        "{status}"
    );
    let json = ok_json(&["sweep", "status", s(&dir), "--json"]);
    assert_eq!(json["jobs"][0]["state"], "failed");
    // Repaired, the job runs and its error is gone.
    std::fs::remove_dir_all(&fp).unwrap();
    let (code, _, stderr) = sweep_run(&dir, 0);
    assert_eq!(code, 0, "{stderr}");
    let json = ok_json(&["sweep", "status", s(&dir), "--json"]);
    assert_eq!(json["jobs"][0]["state"], "done");
    assert!(json["jobs"][0]["error_tail"].is_null());
    // A merge reads the runs of done jobs only: a run directory that looks finished while its job
    // has not recorded its end (it may still be writing) is missing, not read.
    let id = json["jobs"][0]["job"]["id"].as_str().unwrap();
    std::fs::remove_file(dir.join("jobs").join(id).join("done.json")).unwrap();
    let (code, merged, stderr) = run(&["sweep", "merge", s(&dir)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        merged.contains("PARTIAL") && merged.contains("tiny/fp"),
        "{merged}"
    );
    assert!(
        merged.contains("No complete run of the comparison"),
        "{merged}"
    );
    // A job that does not exist is named with the range there is.
    fails_with(
        &["sweep", "run", s(&dir), "--index", "3"],
        &["has 3 jobs (indices 0 to 2)", "no job 3"],
    );
}

#[test]
fn a_study_sweep_runs_one_job_per_model_and_merges_into_the_study_table() {
    let tmp = tempfile::tempdir().unwrap();
    let pool = write(
        tmp.path(),
        "pool.json",
        r#"{"models": [{"name": "a", "model": "mlp", "width": 4}, {"name": "b", "model": "mlp", "width": 8}]}"#,
    );
    let study = [
        "study",
        "--pool",
        s(&pool),
        "--epochs",
        "1",
        "--pretrain-epochs",
        "1",
        "--limit-test",
        "100",
        "--limit-pretrain",
        "300",
    ];
    let dir = tmp.path().join("sweep");
    let mut plan = vec!["sweep", "plan", s(&dir), "--cpus-per-task", "1", "--quiet"];
    plan.extend(study);
    let (code, _, stderr) = run(&plan);
    assert_eq!(code, 0, "{stderr}");
    let jobs = std::fs::read_to_string(dir.join("jobs.jsonl")).unwrap();
    assert_eq!(jobs.lines().count(), 2);
    let (code, _, stderr) = sweep_run(&dir, 1);
    assert_eq!(code, 0, "{stderr}");
    let (code, merged, stderr) = run(&["sweep", "merge", s(&dir)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        merged.contains("PARTIAL") && merged.contains("study/a"),
        "{merged}"
    );
    let (code, _, stderr) = run(&["sweep", "run", s(&dir), "--local", "--quiet"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, merged, stderr) = run(&["sweep", "merge", s(&dir)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        merged.contains("Merged the whole sweep (2 jobs)"),
        "{merged}"
    );
    let single = tmp.path().join("single");
    run_on_one_thread(&study, "--quiet", &single);
    let accuracies = |d: &Path| -> Vec<(String, String, f64, f64)> {
        let v: Value =
            serde_json::from_slice(&std::fs::read(d.join("results.json")).unwrap()).unwrap();
        v["results"]["runs"]
            .as_array()
            .or(v["runs"].as_array())
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["experiment"].as_str().unwrap().to_string(),
                    r["model"].as_str().unwrap().to_string(),
                    r["test_accuracy"].as_f64().unwrap(),
                    r["validation_accuracy"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let swept = accuracies(&dir.join("study"));
    assert_eq!(swept.len(), 12);
    assert_eq!(swept, accuracies(&single));
    assert!(dir.join("study/study.csv").is_file());
}

#[test]
fn plans_are_checked_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sweep");
    let d = s(&dir);
    fails_with(
        &["sweep", "plan", d, "reproduce", "--quick", "--out", "x"],
        &["--out", "leave --out out"],
    );
    fails_with(
        &[
            "sweep",
            "plan",
            d,
            "--time",
            "2 hours",
            "reproduce",
            "--quick",
        ],
        &["--time", "not a SLURM time"],
    );
    fails_with(
        &["sweep", "plan", d, "--mem", "4GB", "reproduce", "--quick"],
        &["--mem", "not a SLURM memory size"],
    );
    fails_with(
        &["sweep", "plan", d],
        &["give the command whose runs to sweep"],
    );
    fails_with(
        &["sweep", "plan", d, "--name", "jobs", "reproduce", "--quick"],
        &["part name", "\"jobs\""],
    );
    fails_with(
        &[
            "sweep",
            "run",
            s(&tmp.path().join("nothing")),
            "--index",
            "0",
        ],
        &["not a sweep directory", "smallscale sweep plan"],
    );
    // A grid file: one part per command, each with its own output directory.
    let grid = write(
        tmp.path(),
        "grid.json",
        r#"{"parts": [
            {"name": "w4", "command": ["reproduce", "--quick", "--bits", "3", "--width", "4"]},
            {"name": "w8", "command": ["reproduce", "--quick", "--bits", "3", "--width", "8"]}
        ]}"#,
    );
    let json = ok_json(&["sweep", "plan", d, "--grid", s(&grid), "--json"]);
    assert_eq!(json["jobs"], 6);
    assert_eq!(json["parts"], serde_json::json!(["w4", "w8"]));
    let bad = write(
        tmp.path(),
        "bad.json",
        r#"{"parts": [{"name": "x", "command": ["reproduce", "--bogus"]}]}"#,
    );
    fails_with(
        &[
            "sweep",
            "plan",
            s(&tmp.path().join("other")),
            "--grid",
            s(&bad),
        ],
        &["part \"x\"", "--bogus"],
    );
}
