//! `smallscale train` and `smallscale eval` end to end, on quick runs.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use smallscale_datasets::cifar::{CIFAR10_SHAPE, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES};
use smallscale_datasets::{ImageDataset, cifar::encode_cifar10_batch};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_smallscale"))
}

fn run(args: &[&str], extra: &[&Path]) -> Output {
    let mut cmd = bin();
    cmd.args(args);
    for p in extra {
        cmd.arg(p);
    }
    cmd.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit code 2 and `error: ...` containing every fragment.
fn fails_with(out: &Output, fragments: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for f in fragments {
        assert!(stderr.contains(f), "expected {f:?} in {stderr}");
    }
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

const REG_RUN: &[&str] = &[
    "train",
    "--model",
    "mlp",
    "--method",
    "reg",
    "--bits",
    "4",
    "--lambda",
    "2",
    "--epochs",
    "2",
    "--batch-size",
    "64",
    "--limit-train",
    "256",
    "--json",
    "--out",
];

#[test]
fn trains_resumes_and_evaluates_across_bits() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");

    let lines = json_lines(&ok(&run(REG_RUN, &[&run_dir])));
    assert_eq!(lines.len(), 3, "{lines:?}");
    for (epoch, line) in lines[..2].iter().enumerate() {
        assert_eq!(line["type"], "epoch");
        assert_eq!(line["epoch"], epoch);
        assert!(line["validation_accuracy_quantized"].is_f64());
        assert!(line["regularizer"].is_f64());
    }
    let result = &lines[2];
    assert_eq!(result["type"], "result");
    assert_eq!(result["status"], "trained");
    assert_eq!(result["method"], "reg-b4-l2");
    assert_eq!(result["test"]["bits"], 4);
    for file in [
        "best.safetensors",
        "config.json",
        "result.json",
        "state.json",
        "metrics.jsonl",
    ] {
        assert!(run_dir.join(file).is_file(), "{file} missing");
    }
    let config = read_json(&run_dir.join("config.json"));
    assert_eq!(config["model"]["model"], "mlp");
    assert_eq!(config["train"]["epochs"], 2);
    assert_eq!(config["data"]["source"], "embedded-fashion-mnist");
    assert_eq!(config["data"]["train_examples"], 256);
    let saved = read_json(&run_dir.join("result.json"));
    assert_eq!(saved["test"], result["test"]);
    assert_eq!(read_json(&run_dir.join("state.json"))["finished"], true);
    let metrics = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2);

    // The same command again: the run is finished, nothing is retrained.
    let again = json_lines(&ok(&run(REG_RUN, &[&run_dir])));
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0]["status"], "already-finished");
    assert_eq!(again[0]["test"], result["test"]);
    assert_eq!(again[0]["outcome"]["history"], result["outcome"]["history"]);

    // What a killed run can leave behind: a temporary file of an atomic write and a superseded
    // epoch checkpoint. More epochs continue the finished run (instead of refusing it) and clean up.
    std::fs::write(run_dir.join(".state.json.999-0.tmp"), b"partial").unwrap();
    std::fs::write(run_dir.join("epoch-0.safetensors"), b"superseded").unwrap();
    let mut longer: Vec<&str> = REG_RUN.to_vec();
    let epochs = longer.iter().position(|a| *a == "--epochs").unwrap();
    longer[epochs + 1] = "3";
    let more = json_lines(&ok(&run(&longer, &[&run_dir])));
    assert_eq!(more.len(), 2, "one more epoch, then the result: {more:?}");
    assert_eq!(more[0]["epoch"], 2);
    let result = &more[1];
    assert_eq!(result["status"], "resumed");
    assert_eq!(result["outcome"]["resumed_at_epoch"], 2);
    assert_eq!(result["outcome"]["history"].as_array().unwrap().len(), 3);
    assert_eq!(
        result["outcome"]["history"][0],
        again[0]["outcome"]["history"][0]
    );
    let mut files: Vec<String> = std::fs::read_dir(&run_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "best.safetensors",
            "config.json",
            "epoch-2-optimizer.safetensors",
            "epoch-2.safetensors",
            "metrics.jsonl",
            "resources.json",
            "result.json",
            "state.json"
        ]
    );
    // A continued run adds this call's measurement to the saved one.
    let resources = read_json(&run_dir.join("resources.json"));
    assert!(
        resources["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("continued at epoch 3")),
        "{resources}"
    );
    assert_eq!(
        read_json(&run_dir.join("config.json"))["train"]["epochs"],
        3
    );
    assert_eq!(result["environment"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(result["environment"]["threads"].as_u64().unwrap() >= 1);

    // Another configuration in the same directory is refused, saying what differs.
    let mut other: Vec<&str> = REG_RUN.to_vec();
    let lambda = other.iter().position(|a| *a == "--lambda").unwrap();
    other[lambda + 1] = "3";
    fails_with(
        &run(&other, &[&run_dir]),
        &[
            "different configuration",
            "train.method.regularizer.lambda (was 2.0, now 3.0)",
            "train.epochs (was 3, now 2)",
            "--out",
        ],
    );

    // Cross-bit evaluation of the best checkpoint, on the run's data (from config.json).
    let best = run_dir.join("best.safetensors");
    let eval: Value =
        serde_json::from_str(&ok(&run(&["eval", "--json", "--checkpoint"], &[&best]))).unwrap();
    assert_eq!(eval["fp"], result["test"]["fp"]);
    let per_bit = eval["per_bit"].as_array().unwrap();
    let bits: Vec<u64> = per_bit
        .iter()
        .map(|b| b["bits"].as_u64().unwrap())
        .collect();
    assert_eq!(bits, [2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(per_bit[2]["accuracy"], result["test"]["quantized"]);
    assert_eq!(eval["data"]["test_examples"], 2000);
    // An integer-code export of the checkpoint keeps the model configuration and loads dequantized:
    // at full precision it is the original at 4 bits (the same max-abs quantizer on every weight).
    let codes = run_dir.join("codes.safetensors");
    ok(&run(
        &[
            "quantize",
            "--bits",
            "4",
            "--weights-only",
            "--export-int",
            "--input",
        ],
        &[&best, Path::new("--out"), &codes],
    ));
    let exported: Value =
        serde_json::from_str(&ok(&run(&["eval", "--json", "--checkpoint"], &[&codes]))).unwrap();
    assert_eq!(exported["fp"], per_bit[2]["accuracy"], "{exported}");
    // The run directory itself stands for its selected model.
    let by_dir: Value =
        serde_json::from_str(&ok(&run(&["eval", "--json", "--checkpoint"], &[&run_dir]))).unwrap();
    assert_eq!(by_dir["per_bit"], eval["per_bit"]);
    assert!(
        by_dir["notes"][0]
            .as_str()
            .unwrap()
            .contains("is a run directory"),
        "{by_dir}"
    );

    // Human table, a subset of bits, and BN re-estimation on a model without BatchNorm.
    let table = ok(&run(
        &[
            "eval",
            "--bits",
            "8,2",
            "--bn-reestimate",
            "2",
            "--checkpoint",
        ],
        &[&best],
    ));
    assert!(table.contains("FP"), "{table}");
    assert!(table.contains("no BatchNorm"), "{table}");
}

#[test]
fn qat_small_cnn_prints_a_human_summary_and_bn_reestimation_works() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("qat");
    let stdout = ok(&run(
        &[
            "train",
            "--method",
            "qat",
            "--bits",
            "3",
            "--epochs",
            "1",
            "--limit-train",
            "128",
            "--limit-validation",
            "64",
            "--limit-test",
            "64",
            "--batch-size",
            "32",
            "--width",
            "8",
            "--exclude",
            "fc.*",
            "--optimizer",
            "sgd",
            "--lr",
            "0.05",
            "--schedule",
            "cosine",
            "--out",
        ],
        &[&run_dir],
    ));
    assert!(stdout.contains("epoch   1/1"), "{stdout}");
    assert!(stdout.contains("test accuracy: FP"), "{stdout}");
    assert!(stdout.contains("3-bit (as trained)"), "{stdout}");
    let config = read_json(&run_dir.join("config.json"));
    assert_eq!(config["model"]["channels"], serde_json::json!([8, 16]));
    assert_eq!(config["exclude"], serde_json::json!(["fc.*"]));
    assert_eq!(config["train"]["optimizer"]["optimizer"], "sgd");

    let eval: Value = serde_json::from_str(&ok(&run(
        &[
            "eval",
            "--json",
            "--bits",
            "3,8",
            "--bn-reestimate",
            "2",
            "--bn-batch-size",
            "32",
            "--checkpoint",
        ],
        &[&run_dir.join("best.safetensors")],
    )))
    .unwrap();
    assert_eq!(eval["exclude"], serde_json::json!(["fc.*"]));
    assert_eq!(eval["data"]["test_examples"], 64);
    for b in eval["per_bit"].as_array().unwrap() {
        assert!(b["accuracy_bn_reestimated"].is_f64(), "{eval}");
    }
    let result = read_json(&run_dir.join("result.json"));
    assert_eq!(eval["fp"], result["test"]["fp"]);
    assert_eq!(eval["per_bit"][0]["accuracy"], result["test"]["quantized"]);
}

#[test]
fn invalid_options_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    fails_with(
        &run(&["train", "--method", "qat"], &[]),
        &["error:", "--method qat needs --bits"],
    );
    fails_with(
        &run(&["train", "--method", "reg"], &[]),
        &["--method reg needs --bits"],
    );
    fails_with(
        &run(&["train", "--lambda", "2"], &[]),
        &["--lambda", "only to --method reg"],
    );
    fails_with(
        &run(&["train", "--method", "qat", "--bits", "1"], &[]),
        &["--bits"],
    );
    fails_with(
        &run(&["train", "--momentum", "0.5"], &[]),
        &["--optimizer sgd"],
    );
    fails_with(&run(&["train", "--epochs", "0"], &[]), &["epochs"]);
    let missing = dir.path().join("no-such-dir");
    fails_with(
        &run(
            &["train", "--data-format", "cifar10", "--data-path"],
            &[&missing],
        ),
        &["--data-path", "no-such-dir"],
    );
    fails_with(
        &run(
            &["train", "--data-format", "mnist", "--data-path"],
            &[dir.path()],
        ),
        &["cannot load the data set", "MNIST"],
    );
    fails_with(
        &run(
            &[
                "train",
                "--model-config",
                r#"{"model":"small-cnn","in_channels":3}"#,
            ],
            &[],
        ),
        &["in_channels 3 does not fit", "1-channel images"],
    );
    fails_with(
        &run(&["train", "--model-config", r#"{"no_such_field":1}"#], &[]),
        &["not a valid small-cnn configuration"],
    );
    if !cfg!(feature = "cuda") {
        fails_with(
            &run(&["train", "--device", "cuda"], &[]),
            &["--features cuda"],
        );
    }
    // eval: missing file, a checkpoint without a stored configuration.
    fails_with(
        &run(
            &["eval", "--checkpoint"],
            &[&dir.path().join("none.safetensors")],
        ),
        &["no such file"],
    );
    let bare = dir.path().join("bare.safetensors");
    let mut tensors = smallscale_quant_core::NamedTensors::default();
    tensors.tensors.insert(
        "fc1.weight".into(),
        smallscale_quant_core::StoredTensor::Tensor(
            candle_core::Tensor::zeros((2, 2), candle_core::DType::F32, &candle_core::Device::Cpu)
                .unwrap(),
        ),
    );
    smallscale_quant_core::write_safetensors(&bare, &tensors).unwrap();
    fails_with(
        &run(&["eval", "--checkpoint"], &[&bare]),
        &["no model configuration", "--model"],
    );
    fails_with(
        &run(&["eval", "--model", "mlp", "--checkpoint"], &[&bare]),
        &["cannot load the checkpoint", "does not match"],
    );
}

/// A CIFAR-10 directory with `per_batch` random images in each of the six batch files.
fn fake_cifar10(dir: &Path, per_batch: usize) {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let names: Vec<String> = smallscale_datasets::cifar::CIFAR10_CLASS_NAMES
        .iter()
        .map(|s| s.to_string())
        .collect();
    for file in CIFAR10_TRAIN_FILES.iter().chain([&CIFAR10_TEST_FILE]) {
        let labels: Vec<u32> = (0..per_batch).map(|i| (i % 10) as u32).collect();
        let pixels: Vec<u8> = (0..per_batch * CIFAR10_SHAPE.values_per_image())
            .map(|_| (next() >> 56) as u8)
            .collect();
        let batch = ImageDataset::new(pixels, labels, CIFAR10_SHAPE, names.clone()).unwrap();
        std::fs::write(dir.join(file), encode_cifar10_batch(&batch).unwrap()).unwrap();
    }
}

#[test]
fn resnet18_on_cifar10_files_trains_and_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("cifar-10-batches-bin");
    std::fs::create_dir(&data).unwrap();
    fake_cifar10(&data, 10);
    let run_dir = dir.path().join("r18");
    let stdout = ok(&run(
        &[
            "train",
            "--model",
            "resnet18",
            "--model-config",
            r#"{"model":"resnet18","in_channels":3,"num_classes":10,"base_width":4,"blocks":[1,1,1,1]}"#,
            "--method",
            "reg",
            "--bits",
            "4",
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--validation-fraction",
            "0.2",
            "--augment",
            "--json",
            "--data-format",
            "cifar10",
            "--data-path",
        ],
        &[&data, Path::new("--out"), &run_dir],
    ));
    let lines = json_lines(&stdout);
    assert_eq!(lines.len(), 2, "{stdout}");
    let result = &lines[1];
    assert_eq!(result["model"], "resnet18");
    let config = read_json(&run_dir.join("config.json"));
    assert_eq!(config["data"]["source"], "cifar10");
    assert_eq!(config["data"]["shape"], serde_json::json!([3, 32, 32]));
    assert_eq!(config["data"]["test_examples"], 10);
    assert_eq!(config["model"]["base_width"], 4);
    let stored =
        smallscale_models::read_checkpoint_config(run_dir.join("best.safetensors")).unwrap();
    assert_eq!(
        stored.map(|c| c.architecture()),
        Some("resnet18"),
        "the model configuration is in the checkpoint"
    );

    let best = run_dir.join("best.safetensors");
    let eval: Value = serde_json::from_str(&ok(&run(
        &["eval", "--json", "--bn-reestimate", "1", "--checkpoint"],
        &[&best],
    )))
    .unwrap();
    assert_eq!(eval["fp"], result["test"]["fp"]);
    assert_eq!(eval["per_bit"].as_array().unwrap().len(), 7);
    assert!(eval["per_bit"][0]["accuracy_bn_reestimated"].is_f64());

    // The same checkpoint on 1x28x28 data is refused with the reason.
    fails_with(
        &run(
            &[
                "eval",
                "--data",
                "embedded-fashion-mnist",
                "--limit-test",
                "10",
                "--checkpoint",
            ],
            &[&best],
        ),
        &["does not fit the data", "in_channels 3 does not fit"],
    );
}

#[test]
fn an_interrupted_run_resumes_where_it_stopped() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("interrupted");
    let args = [
        "train",
        "--model",
        "mlp",
        "--width",
        "32",
        "--method",
        "qat",
        "--bits",
        "4",
        "--epochs",
        "100",
        "--no-early-stopping",
        "--limit-train",
        "256",
        "--limit-validation",
        "64",
        "--limit-test",
        "64",
        // Small batches make every epoch take tens of milliseconds, so the run is still going when
        // the test stops it, even on a loaded machine (seconds of margin over 100 epochs).
        "--batch-size",
        "2",
        "--json",
        "--out",
    ];
    let mut child = bin()
        .args(args)
        .arg(&run_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // After the second epoch line, the first epoch's state is on disk: stop the run there.
    let mut lines = BufReader::new(stdout).lines();
    for _ in 0..2 {
        let line = lines.next().unwrap().unwrap();
        assert!(line.contains(r#""type":"epoch""#), "{line}");
    }
    // Ctrl-C: the run stops, saying how to continue.
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(
            "interrupted: every finished epoch is saved; rerun the same command to resume"
        ),
        "{stderr}"
    );
    let state = read_json(&run_dir.join("state.json"));
    assert_eq!(
        state["finished"], false,
        "the run finished before it was stopped"
    );
    let done = state["epochs_done"].as_u64().unwrap();
    assert!(done >= 1);

    let resumed = json_lines(&ok(&run(&args, &[&run_dir])));
    let result = resumed.last().unwrap();
    assert_eq!(result["status"], "resumed");
    assert_eq!(result["outcome"]["resumed_at_epoch"], done);
    assert_eq!(
        resumed[0]["epoch"], done,
        "training continued at the next epoch"
    );
    assert_eq!(result["outcome"]["history"].as_array().unwrap().len(), 100);
}

#[test]
fn pneumoniamnist_trains_on_its_released_splits_embedded_or_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("pneu");
    let common = [
        "train",
        "--model",
        "small-cnn",
        "--method",
        "fp",
        "--epochs",
        "1",
        "--limit-train",
        "300",
        "--limit-test",
        "100",
        "--json",
    ];
    let mut args = common.to_vec();
    args.extend(["--data", "embedded-pneumoniamnist", "--out"]);
    let stdout = ok(&run(&args, &[&run_dir]));
    let result = &json_lines(&stdout)[1];
    assert!(result["test"]["fp"].as_f64().unwrap() > 0.0);
    // Binary and imbalanced: balanced accuracy and AUC are reported beside the accuracy.
    let metrics = &result["test"]["fp_metrics"];
    assert_eq!(metrics["accuracy"], result["test"]["fp"]);
    assert!(
        metrics["balanced_accuracy"].is_f64() && metrics["auc"].is_f64(),
        "{metrics}"
    );
    let config = read_json(&run_dir.join("config.json"));
    let data = &config["data"];
    assert_eq!(data["source"], "embedded-pneumoniamnist");
    assert_eq!(data["released_validation"], true);
    assert_eq!(data["classes"], 2);
    assert_eq!(data["shape"], serde_json::json!([1, 28, 28]));
    // The released validation split, not 10 % of the training split.
    assert_eq!(data["validation_examples"], 524);
    assert_eq!(data["train_examples"], 300);
    assert_eq!(config["model"]["num_classes"], 2);
    assert_eq!(data["validation_fraction"], 0.0);
    // The fraction does not apply to a released split, so another one is the same run.
    let mut again = args.clone();
    again.insert(1, "--validation-fraction");
    again.insert(2, "0.3");
    let stdout = ok(&run(&again, &[&run_dir]));
    let last = json_lines(&stdout).pop().unwrap();
    assert_eq!(last["status"], "already-finished", "{stdout}");
    // eval of the run directory uses the same data.
    let eval: Value = serde_json::from_str(&ok(&run(
        &["eval", "--json", "--bits", "4", "--checkpoint"],
        &[&run_dir],
    )))
    .unwrap();
    assert_eq!(eval["fp"], result["test"]["fp"]);
    assert_eq!(eval["data"]["source"], "embedded-pneumoniamnist");

    // The same file by path: a .npz is read as MedMNIST without --data-format.
    let npz = dir.path().join("pneumoniamnist.npz");
    std::fs::write(&npz, smallscale_pneumoniamnist::PNEUMONIAMNIST_NPZ).unwrap();
    let mut args = common.to_vec();
    args.push("--data");
    let stdout = ok(&run(&args, &[&npz]));
    let from_file = &json_lines(&stdout)[1];
    assert_eq!(from_file["test"]["fp"], result["test"]["fp"]);
}

#[test]
fn train_meters_its_run_with_the_metering_options() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("metered");
    let args = [
        "train",
        "--model",
        "mlp",
        "--method",
        "fp",
        "--epochs",
        "1",
        "--limit-train",
        "200",
        "--limit-test",
        "50",
        "--cpu-tdp",
        "65",
        "--cpu-load",
        "machine",
        "--pue",
        "1.55",
        "--carbon-intensity",
        "FR",
        "--out",
    ];
    let stdout = ok(&run(&args, &[&run_dir]));
    assert!(stdout.contains("resources: "), "{stdout}");
    let resources = read_json(&run_dir.join("resources.json"));
    assert_eq!(resources["pue"], 1.55);
    assert!(
        resources["carbon_intensity"]["source"]
            .as_str()
            .unwrap()
            .contains("FR"),
        "{resources}"
    );
    let component = &resources["energy_components"][0];
    if component["name"] == "cpu (estimate)" {
        let source = component["source"].as_str().unwrap();
        assert!(
            source.contains("CodeCarbon CPU-load model") && source.contains("65 W"),
            "{source}"
        );
    }
    let result = read_json(&run_dir.join("result.json"));
    assert_eq!(result["resources"], resources);
    // Bad values are refused before anything trains.
    for (extra, needle) in [
        (["--pue", "0.5"], "PUE"),
        (["--carbon-intensity", "XX"], "--carbon-intensity XX"),
        (["--watts-per-core", "-3"], "watts per core"),
    ] {
        let mut bad: Vec<&str> = args[..args.len() - 1].to_vec();
        let metering = [
            "--cpu-tdp",
            "65",
            "--cpu-load",
            "machine",
            "--pue",
            "1.55",
            "--carbon-intensity",
            "FR",
        ];
        bad.retain(|a| !metering.contains(a));
        bad.extend(extra);
        let out = run(&bad, &[]);
        fails_with(&out, &[needle]);
    }
    // Refused before a run directory is claimed.
    let unclaimed = dir.path().join("unclaimed");
    fails_with(
        &run(&["train", "--pue", "0.5", "--out"], &[&unclaimed]),
        &["PUE"],
    );
    assert!(!unclaimed.exists());
}

#[test]
fn the_cifar10_subset_is_taken_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("c10");
    let stdout = ok(&run(
        &[
            "train",
            "--data",
            "cifar10-subset",
            "--model",
            "small-cnn",
            "--width",
            "4",
            "--method",
            "fp",
            "--epochs",
            "1",
            "--limit-train",
            "200",
            "--limit-test",
            "100",
            "--json",
            "--out",
        ],
        &[&run_dir],
    ));
    assert!(json_lines(&stdout)[1]["test"]["fp"].is_f64());
    let config = read_json(&run_dir.join("config.json"));
    assert_eq!(config["data"]["source"], "cifar10");
    assert_eq!(config["data"]["shape"], serde_json::json!([3, 32, 32]));
    assert!(
        config["data"]["path"]
            .as_str()
            .unwrap()
            .ends_with("data/cifar10-subset")
    );
    // The 5,085 training images minus the 10 % validation split.
    assert_eq!(config["data"]["validation_examples"], 509);
    fails_with(
        &run(
            &[
                "train",
                "--data",
                "cifar10-subset",
                "--data-format",
                "mnist",
            ],
            &[],
        ),
        &["is CIFAR-10: drop --data-format"],
    );
}

#[test]
fn pretrained_fine_tunes_on_another_data_set_with_a_fresh_head() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("fashion");
    let model = ["--model", "small-cnn", "--width", "4", "--method", "fp"];
    let quick = [
        "--epochs",
        "1",
        "--limit-train",
        "300",
        "--limit-test",
        "100",
        "--json",
    ];
    let mut pretrain: Vec<&str> = vec!["train"];
    pretrain.extend(model);
    pretrain.extend(quick);
    pretrain.push("--out");
    ok(&run(&pretrain, &[&source]));
    // Fine-tune on PneumoniaMNIST (2 classes instead of 10), and from scratch for comparison.
    let base: Vec<&str> = {
        let mut v = vec!["train", "--data", "embedded-pneumoniamnist"];
        v.extend(model);
        v.extend(quick);
        v
    };
    let tuned_dir = dir.path().join("tuned");
    let mut tune = base.clone();
    tune.extend(["--out"]);
    let mut tune_args: Vec<&Path> = vec![&tuned_dir, Path::new("--pretrained"), &source];
    let tuned = json_lines(&ok(&run(&tune, &tune_args)));
    let scratch = json_lines(&ok(&run(&base, &[])));
    assert_ne!(
        tuned[0]["train_cross_entropy"], scratch[0]["train_cross_entropy"],
        "the pretrained body changes training"
    );
    let config = read_json(&tuned_dir.join("config.json"));
    assert!(
        config["pretrained"]
            .as_str()
            .unwrap()
            .ends_with("best.safetensors")
    );
    // Another pretrained checkpoint in the same run directory is another run.
    let other = dir.path().join("other.safetensors");
    std::fs::copy(source.join("best.safetensors"), &other).unwrap();
    tune_args[2] = &other;
    fails_with(
        &run(&tune, &tune_args),
        &["different configuration", "pretrained"],
    );
    // A body of another model is refused with the reason.
    let mut wrong = base.clone();
    wrong[4] = "mlp";
    wrong.push("--pretrained");
    fails_with(
        &run(&wrong, &[&source]),
        &["--pretrained", "does not fit this model"],
    );
}

#[test]
fn the_qat_baselines_train_record_their_settings_and_refuse_foreign_options() {
    let dir = tempfile::tempdir().unwrap();
    let base = [
        "train",
        "--model",
        "mlp",
        "--bits",
        "3",
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--limit-train",
        "256",
        "--limit-validation",
        "64",
        "--limit-test",
        "64",
        "--json",
    ];
    let dampen_dir = dir.path().join("dampen");
    let mut args = base.to_vec();
    args.extend([
        "--method",
        "qat-dampen",
        "--dampen-lambda",
        "0.3",
        "--dampen-aggregation",
        "kernel-mean",
        "--out",
    ]);
    let lines = json_lines(&ok(&run(&args, &[&dampen_dir])));
    assert!(lines[0]["dampening"].is_f64() && lines[0]["dampening_weight"].is_f64());
    assert_eq!(lines[2]["method"], "qat-dampen-b3-l0.3");
    let config = read_json(&dampen_dir.join("config.json"));
    let dampening = &config["train"]["method"]["dampening"];
    assert_eq!(dampening["aggregation"], "kernel-mean");
    assert_eq!(dampening["lambda"], 0.3);
    assert_eq!(dampening["warmup_fraction"], 0.25);

    let freeze_dir = dir.path().join("freeze");
    let mut args = base.to_vec();
    args.extend([
        "--method",
        "qat-freeze",
        "--freeze-threshold",
        "0.05",
        "--freeze-threshold-final",
        "0.02",
        "--baseline-warmup",
        "0.5",
        "--out",
    ]);
    let lines = json_lines(&ok(&run(&args, &[&freeze_dir])));
    assert!(lines[0]["frozen_fraction"].is_f64());
    assert_eq!(lines[0]["freezing_threshold"], 0.0); // still in the warm-up
    let config = read_json(&freeze_dir.join("config.json"));
    let freezing = &config["train"]["method"]["freezing"];
    assert_eq!(
        (
            freezing["threshold_start"].as_f64(),
            freezing["threshold_end"].as_f64()
        ),
        (Some(0.05), Some(0.02))
    );
    // The checkpoint evaluates like any other.
    ok(&run(
        &["eval", "--json", "--checkpoint"],
        &[&freeze_dir.join("best.safetensors")],
    ));

    fails_with(
        &run(
            &[
                "train",
                "--method",
                "qat",
                "--bits",
                "3",
                "--dampen-lambda",
                "1",
            ],
            &[],
        ),
        &["--dampen-lambda", "qat-dampen"],
    );
    fails_with(
        &run(
            &[
                "train",
                "--method",
                "qat-dampen",
                "--bits",
                "3",
                "--freeze-threshold",
                "0.1",
            ],
            &[],
        ),
        &["--freeze-threshold", "qat-freeze"],
    );
    fails_with(
        &run(
            &[
                "train",
                "--method",
                "qat-freeze",
                "--bits",
                "3",
                "--freeze-threshold",
                "1.5",
            ],
            &[],
        ),
        &["freezing threshold", "(0, 1)"],
    );
    fails_with(
        &run(&["train", "--method", "qat-freeze"], &[]),
        &["--method qat-freeze needs --bits"],
    );
    fails_with(
        &run(
            &[
                "train",
                "--method",
                "qat-dampen",
                "--bits",
                "3",
                "--baseline-warmup",
                "1",
            ],
            &[],
        ),
        &["warm-up fraction"],
    );
}

#[test]
fn lsq_qat_trains_and_eval_uses_its_learned_steps_at_the_target_bit() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("lsq");
    let lines = json_lines(&ok(&run(
        &[
            "train",
            "--model",
            "mlp",
            "--method",
            "qat-lsq",
            "--bits",
            "3",
            "--epochs",
            "2",
            "--batch-size",
            "64",
            "--limit-train",
            "256",
            "--limit-validation",
            "64",
            "--limit-test",
            "128",
            "--json",
            "--out",
        ],
        &[&run_dir],
    )));
    assert!(lines[0]["lsq_steps"]["fc1.weight"].is_f64(), "{}", lines[0]);
    let result = &lines[2];
    assert_eq!(result["method"], "qat-lsq-b3");
    let trained_at_3 = result["test"]["quantized"].as_f64().unwrap();
    let eval: Value = serde_json::from_str(&ok(&run(
        &["eval", "--json", "--bits", "3,8", "--checkpoint"],
        &[&run_dir.join("best.safetensors")],
    )))
    .unwrap();
    assert_eq!(eval["per_bit"][0]["bits"], 3);
    assert_eq!(
        eval["per_bit"][0]["accuracy"].as_f64().unwrap(),
        trained_at_3
    );
    let notes = eval["notes"].to_string();
    assert!(notes.contains("learned steps"), "{notes}");
}
