//! Records the git commit the binary is built from (when built inside a git checkout) as
//! `SMALLSCALE_GIT_COMMIT`, for the `environment` of every results file.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Only this workspace's own checkout: a crate built inside another repository (a vendored
    // copy) must not claim that repository's commit.
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let ours = match (
        git(&["rev-parse", "--show-toplevel"]).map(std::fs::canonicalize),
        std::fs::canonicalize(&workspace),
    ) {
        (Some(Ok(top)), Ok(ws)) => top == ws,
        _ => false,
    };
    if !ours {
        return;
    }
    let Some(commit) = git(&["rev-parse", "HEAD"]) else {
        return;
    };
    println!("cargo:rustc-env=SMALLSCALE_GIT_COMMIT={commit}");
    // Build again when HEAD moves: HEAD itself, the branch it points to, and packed refs.
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let dir = Path::new(&dir);
        let mut watched = vec![dir.join("HEAD"), dir.join("packed-refs")];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(dir.join(branch));
        }
        for path in watched.iter().filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
