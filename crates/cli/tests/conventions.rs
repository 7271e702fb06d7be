//! Conventions every subcommand shares: a closed pipe, messages that say each cause once, and the
//! `--bits` parser.

mod common;

use std::io::Read;
use std::process::Stdio;

use common::{bin, fails_with, write};

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
        .args([
            "pepr",
            "--performance",
            "acc",
            "--resource",
            "energy",
            "--input",
        ])
        .arg(&input)
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
