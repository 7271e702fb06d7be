//! `smallscale reproduce`, the main job, as a smoke test on a tiny setting.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_smallscale"))
}

#[test]
fn quick_reproduce_writes_the_report_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let args = [
        "reproduce",
        "--quick",
        "--epochs",
        "1",
        "--bits",
        "2,3",
        "--width",
        "4",
        "--pue",
        "1.55",
        "--no-progress",
        "--out",
    ];
    let first = bin().args(args).arg(&out).output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stdout = String::from_utf8_lossy(&first.stdout);
    for row in [
        "FP ",
        "PTQ",
        "QAT",
        "Reg",
        "Reg + PTQ matches QAT",
        "Total time",
    ] {
        assert!(stdout.contains(row), "missing {row:?} in\n{stdout}");
    }
    for file in [
        "results.json",
        "report.md",
        "accuracy_vs_bits.svg",
        "cross_bit_qat.svg",
        "cross_bit_reg.svg",
    ] {
        assert!(out.join(file).exists(), "{file}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let runs = json["results"]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5); // FP, QAT at 2 and 3, Reg at 2 and 3
    for run in runs {
        assert!(run["resources"]["energy"]["value"].as_f64().unwrap() >= 0.0);
        assert_eq!(run["resources"]["pue"], 1.55, "--pue reaches the meter");
        assert_eq!(run["test"]["per_bit"].as_array().unwrap().len(), 7);
    }
    assert_eq!(json["results"]["pepr"].as_array().unwrap().len(), 2);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## Accuracy per bit-width") && report.contains("PePR-E"));
    assert!(report.contains("PePR-S") && report.contains("One seed decides nothing"));
    assert_eq!(json["environment"]["version"], env!("CARGO_PKG_VERSION"));
    // Every run directory holds what `eval` needs: the same split, caps and normalization, so the
    // evaluation of a reproduce checkpoint gives the accuracies of results.json.
    for run in runs {
        let label = run["label"].as_str().unwrap();
        let eval = bin()
            .args(["eval", "--json", "--bits", "2,3,4,5,6,7,8", "--checkpoint"])
            .arg(out.join("runs").join(label))
            .output()
            .unwrap();
        assert!(
            eval.status.success(),
            "{}",
            String::from_utf8_lossy(&eval.stderr)
        );
        let eval: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
        assert_eq!(eval["fp"], run["test"]["fp"], "{label}");
        for (e, r) in eval["per_bit"]
            .as_array()
            .unwrap()
            .iter()
            .zip(run["test"]["per_bit"].as_array().unwrap())
        {
            assert_eq!(e["accuracy"], r[1], "{label} at {}", r[0]);
        }
        assert_eq!(eval["data"]["test_examples"], 1000);
    }
    // The same command again finds every run finished and reports the same numbers.
    let second = bin().args(args).arg(&out).output().unwrap();
    assert!(second.status.success());
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    for (a, b) in again["results"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .zip(runs)
    {
        assert_eq!(a["test"], b["test"]);
    }
}

#[test]
fn several_seeds_write_one_directory_each_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let run = bin()
        .args([
            "reproduce",
            "--quick",
            "--epochs",
            "1",
            "--bits",
            "3",
            "--width",
            "4",
            "--seed",
            "7",
            "--seeds",
            "2",
            "--no-progress",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("mean ± sd over 2 seeds") && stdout.contains("of 2 seeds"),
        "{stdout}"
    );
    let mut fp = Vec::new();
    for seed in [7, 8] {
        let seed_dir = out.join(format!("seed-{seed}"));
        assert!(seed_dir.join("report.md").exists(), "seed {seed}");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(seed_dir.join("results.json")).unwrap()).unwrap();
        assert_eq!(json["results"]["params"]["seed"], seed);
        fp.push(json["results"]["runs"][0]["test"]["fp"].as_f64().unwrap());
    }
    // The summary's FP cell is the mean of the two seeds' FP accuracies.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let cell = &summary["summary"]["per_bit"]["FP"][0];
    assert!((cell["mean"].as_f64().unwrap() - (fp[0] + fp[1]) / 2.0).abs() < 1e-12);
    assert_eq!(cell["n"], 2);
    assert!(out.join("summary.md").exists());

    // One output directory holds one layout: a single-seed run is refused where several seeds are.
    let mixed = bin()
        .args(["reproduce", "--quick", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(mixed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("several seeds"));
    let single = dir.path().join("single");
    std::fs::create_dir_all(single.join("runs")).unwrap();
    let mixed = bin()
        .args(["reproduce", "--quick", "--seeds", "2", "--out"])
        .arg(&single)
        .output()
        .unwrap();
    assert_eq!(mixed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("single-seed run"));

    let zero = bin()
        .args(["reproduce", "--quick", "--seeds", "0", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(zero.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--seeds"));
}

#[test]
fn invalid_settings_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["reproduce", "--quick", "--bits", "1", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bits must be 2..=16"));
    let out = bin()
        .args(["reproduce", "--model", "mlp", "--width", "0", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--width"));
    let out = bin()
        .args(["reproduce", "--data", "/nonexistent/fashion", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn baselines_join_the_comparison_and_their_options_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "reproduce",
            "--quick",
            "--model",
            "mlp",
            "--epochs",
            "1",
            "--bits",
            "2",
            "--eval-bits",
            "2,4",
            "--no-progress",
        ];
        args.extend_from_slice(extra);
        bin().args(&args).arg("--out").arg(&out).output().unwrap()
    };
    let done = run(&[
        "--baselines",
        "qat-dampen,qat-freeze",
        "--freeze-threshold",
        "0.05",
    ]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        stdout.contains("QAT-dampen ") && stdout.contains("QAT-freeze "),
        "{stdout}"
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let baselines = results["results"]["params"]["baselines"]
        .as_array()
        .unwrap();
    assert_eq!(baselines[1]["freezing"]["threshold_start"], 0.05);
    assert!(out.join("runs/qat-freeze-b2/best.safetensors").is_file());
    for (extra, needle) in [
        (&["--dampen-lambda", "1"][..], "--dampen-lambda"),
        (
            &["--baselines", "qat-dampen", "--freeze-momentum", "0.1"][..],
            "--freeze-threshold",
        ),
        (&["--baselines", "qat-freeze,qat-freeze"][..], "twice"),
    ] {
        let failed = run(extra);
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert_eq!(failed.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(needle), "{needle} in {stderr}");
    }
}

#[test]
fn the_paper_presets_train_on_the_cifar10_subset_with_augmentation() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p");
    let done = bin()
        .args([
            "reproduce",
            "--preset",
            "resnet18-cifar10",
            "--quick",
            "--epochs",
            "1",
            "--width",
            "4",
            "--bits",
            "2",
            "--eval-bits",
            "2,8",
            "--no-progress",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let params = &results["results"]["params"];
    assert_eq!(params["augment"], true);
    assert_eq!(params["patience"], 2); // --quick's, over the preset's 10
    assert_eq!(params["model"]["model"], "resnet18");
    assert_eq!(params["model"]["base_width"], 4);
    assert!(
        results["results"]["data"]
            .as_str()
            .unwrap()
            .contains("CIFAR-10"),
        "{}",
        results["results"]["data"]
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("CIFAR augmentation"));
    // A preset chooses the model: --model with it is refused.
    let both = bin()
        .args(["reproduce", "--preset", "vit-cifar10", "--model", "mlp"])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn a_lambda_search_reports_its_choice() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let done = bin()
        .args([
            "reproduce",
            "--quick",
            "--model",
            "mlp",
            "--epochs",
            "1",
            "--bits",
            "2",
            "--eval-bits",
            "2,4",
            "--lambda-search",
            "0.5,5",
            "--no-progress",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## Lambda search"), "{report}");
    assert!(out.join("runs/reg-b2-l0.5").is_dir() && out.join("runs/reg-b2-l5").is_dir());
    let both = bin()
        .args(["reproduce", "--lambda", "1", "--lambda-search", "1,2"])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
}
