//! Conventions every subcommand shares: a closed pipe, messages that say each cause once, and the
//! `--bits` parser.

mod common;

use std::io::Read;
use std::process::Stdio;

use common::{bin, fails_with, write};

/// `pepr` on a table with columns `acc` and `energy`.
fn pepr_args(input: &str) -> [&str; 7] {
    [
        "pepr",
        "--performance",
        "acc",
        "--resource",
        "energy",
        "--input",
        input,
    ]
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("model,acc,energy\n");
    for i in 0..5000 {
        csv.push_str(&format!(
            "m{i},{},{}\n",
            0.5 + (i % 97) as f64 / 200.0,
            1 + i % 13
        ));
    }
    let input = write(dir.path(), "runs.csv", &csv);
    let mut child = bin()
        .args(pepr_args(input.to_str().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read a little, then close the pipe as `head -c 100` would.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 100];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn a_missing_file_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.csv");
    let missing = missing.to_str().unwrap();
    for args in [
        vec!["fairness", "--input", missing],
        vec![
            "pepr",
            "--performance",
            "a",
            "--resource",
            "e",
            "--input",
            missing,
        ],
    ] {
        let out = bin().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("nope.csv"), "{err}");
        // The operating system's reason appears once, not once per layer of context.
        let os_reason = std::io::Error::from(std::io::ErrorKind::NotFound).to_string();
        let reason = err.lines().next().unwrap().matches("os error 2").count();
        assert_eq!(reason, 1, "{err} ({os_reason})");
    }
}

#[test]
fn bits_say_their_range_everywhere() {
    for args in [
        vec!["quantize", "--bits", "-1", "--input", "a", "--output", "b"],
        vec!["quantize", "--bits", "17", "--input", "a", "--output", "b"],
        vec!["eval", "--checkpoint", "x", "--bits", "2,40"],
        vec!["train", "--method", "qat", "--bits", "four"],
        vec!["reproduce", "--bits", "0"],
        vec!["reproduce", "--eval-bits", "2,3,99"],
    ] {
        fails_with(&args, &["bits must be 2..=16"]);
    }
}

#[test]
fn a_target_bit_outside_the_evaluation_bits_names_the_option() {
    fails_with(
        &["reproduce", "--bits", "12", "--out", "unused"],
        &[
            "--bits 12 is not among the evaluation bits",
            "--eval-bits 2,3,4,5,6,7,8,12",
        ],
    );
}

#[test]
fn every_subcommand_takes_the_output_options_and_shows_defaults() {
    for cmd in ["reproduce", "train", "eval", "quantize", "pepr", "fairness"] {
        let out = bin().args([cmd, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        for flag in ["--json", "--no-progress", "--quiet"] {
            assert!(help.contains(flag), "{cmd} --help lacks {flag}:\n{help}");
        }
    }
    // reproduce's optional settings say their defaults, which are the library's.
    let out = bin().args(["reproduce", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout).replace('\n', " ");
    let d = smallscale_osc_reg::ReproduceParams::default();
    for (flag, default) in [
        ("--lambda", format!("[default: {}]", d.lambda)),
        ("--epochs", format!("[default: {};", d.epochs)),
        ("--patience", format!("[default: {};", d.patience)),
        ("--batch-size", format!("[default: {}]", d.batch_size)),
        ("--lr", format!("[default: {}]", d.lr)),
        ("--seed", format!("[default: {}]", d.seed)),
    ] {
        let at = help
            .find(&format!("{flag} "))
            .unwrap_or_else(|| panic!("{flag}: {help}"));
        let next = help[at + 2..]
            .find("  --")
            .map_or(help.len(), |i| at + 2 + i);
        assert!(
            help[at..next].contains(&default),
            "{flag} should say {default}: {}",
            &help[at..next]
        );
    }
}

#[test]
fn quiet_prints_nothing_and_json_is_json() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "runs.csv",
        "model,acc,energy\na,0.9,1\nb,0.8,2\n",
    );
    let base = pepr_args(input.to_str().unwrap());
    let quiet = bin().args(base).arg("--quiet").output().unwrap();
    assert_eq!(quiet.status.code(), Some(0));
    assert!(quiet.stdout.is_empty() && quiet.stderr.is_empty());
    let json = bin().args(base).arg("--json").output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(v.is_object());
    fails_with(&[&base[..], &["--json", "--quiet"]].concat(), &["--quiet"]);
}

#[test]
fn the_top_level_help_lists_every_command_without_promises() {
    let out = bin().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["reproduce", "train", "eval", "quantize", "pepr", "fairness"] {
        assert!(
            help.contains(&format!("  {cmd} ")),
            "{cmd} missing:\n{help}"
        );
    }
    assert!(!help.contains("later releases"), "{help}");
}

#[test]
fn data_means_the_same_in_reproduce_train_and_eval() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let missing = missing.to_str().unwrap().to_string();
    // An existing file, so that eval gets as far as the data.
    let checkpoint = write(dir.path(), "x.safetensors", "not read before the data");
    let checkpoint = checkpoint.to_str().unwrap().to_string();
    for cmd in [
        vec!["reproduce".to_string(), "--quick".into()],
        vec!["train".to_string()],
        vec![
            "eval".to_string(),
            "--checkpoint".into(),
            checkpoint.clone(),
        ],
    ] {
        let check = |extra: &[&str], needles: &[&str]| {
            let args: Vec<&str> = cmd
                .iter()
                .map(String::as_str)
                .chain(extra.iter().copied())
                .collect();
            fails_with(&args, needles);
        };
        // A directory that does not exist, in any format.
        check(
            &["--data", &missing, "--data-format", "cifar10"],
            &["--data", "no-such-dir", "CIFAR-10 binary"],
        );
        // A format without a directory.
        check(
            &["--data-format", "mnist"],
            &["--data-format needs --data PATH"],
        );
        check(
            &["--data", "embedded-fashion-mnist", "--data-format", "mnist"],
            &["is a built-in set"],
        );
        // A MedMNIST format given a directory, and a directory format given a file.
        check(
            &["--data", ".", "--data-format", "medmnist"],
            &["is not a file", "MedMNIST .npz file"],
        );
        check(
            &["--data", "Cargo.toml", "--data-format", "mnist"],
            &["is not a directory", "MNIST IDX"],
        );
    }
}
