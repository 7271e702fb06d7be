//! Helpers shared by the command-line integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The `smallscale` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_smallscale"))
}

/// Runs the binary; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the binary, expects success, parses stdout as JSON.
pub fn ok_json(args: &[&str]) -> Value {
    let (code, stdout, stderr) = run(args);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// Asserts exit code 2 and an `error:` message containing every piece of `needles`.
pub fn fails_with(args: &[&str], needles: &[&str]) {
    let (code, _, stderr) = run(args);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error:"), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "missing `{n}` in: {stderr}");
    }
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}
