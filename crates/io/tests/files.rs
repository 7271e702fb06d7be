//! Atomic writes and output checks on real files.

use std::path::Path;

use smallscale_io::{IoError, check_output, is_atomic_temp_file, write_atomic};

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn write_replaces_a_regular_file_and_leaves_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("out.json");
    write_atomic(&p, b"one").unwrap();
    write_atomic(&p, b"two").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"two");
    assert_eq!(names(dir.path()), ["out.json"]);
}

#[test]
fn write_into_a_missing_directory_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let err = write_atomic(dir.path().join("no/such/x.bin"), b"x").unwrap_err();
    assert!(matches!(err, IoError::Write { .. }), "{err}");
    assert!(err.to_string().contains("writable"), "{err}");
    assert!(names(dir.path()).is_empty());
}

#[test]
fn a_directory_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let err = write_atomic(&sub, b"x").unwrap_err();
    assert!(
        matches!(
            err,
            IoError::NotRegularFile {
                kind: "directory",
                ..
            }
        ),
        "{err}"
    );
    assert!(sub.is_dir());
}

#[cfg(unix)]
#[test]
fn a_fifo_is_never_replaced_and_a_device_is_refused() {
    // Before the check, `--output /dev/full` run as root replaced the device by a regular file. A
    // FIFO takes the device's place in the write test, so a regression cannot harm the machine.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let err = write_atomic(&fifo, b"x").unwrap_err();
    assert!(
        matches!(err, IoError::NotRegularFile { kind: "FIFO", .. }),
        "{err}"
    );
    assert!(!std::fs::metadata(&fifo).unwrap().is_file());
    assert_eq!(names(dir.path()), ["pipe"]);
    // Only looked at, never written.
    let err = check_output(Path::new("/dev/null"), &[]).unwrap_err();
    assert!(
        matches!(
            err,
            IoError::NotRegularFile {
                kind: "character device",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_is_followed_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.txt");
    std::fs::write(&target, b"old").unwrap();
    let link = dir.path().join("link.txt");
    std::os::unix::fs::symlink("target.txt", &link).unwrap();
    write_atomic(&link, b"new").unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"new");
}

#[test]
fn the_output_may_not_be_an_input_however_it_is_spelled() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    std::fs::create_dir(&d).unwrap();
    let input = d.join("m.safetensors");
    std::fs::write(&input, b"weights").unwrap();
    for spelled in [
        input.clone(),
        d.join("..").join("d").join("m.safetensors"),
        d.join(".").join("m.safetensors"),
    ] {
        let err = check_output(&spelled, &[Path::new("other"), &input]).unwrap_err();
        assert!(matches!(err, IoError::SameAsInput { .. }), "{err}");
        assert!(err.to_string().contains("another file"), "{err}");
    }
    #[cfg(unix)]
    {
        let hard = d.join("hard.safetensors");
        std::fs::hard_link(&input, &hard).unwrap();
        assert!(check_output(&hard, &[&input]).is_err());
    }
    check_output(&d.join("new.safetensors"), &[&input]).unwrap();
    let other = d.join("other.safetensors");
    std::fs::write(&other, b"x").unwrap();
    check_output(&other, &[&input]).unwrap();
    assert_eq!(std::fs::read(&input).unwrap(), b"weights");
}

#[test]
fn temporary_names_are_recognized() {
    let dir = tempfile::tempdir().unwrap();
    // A temporary of write_atomic's own naming scheme.
    assert!(is_atomic_temp_file(".state.json.77-3.tmp"));
    assert!(!is_atomic_temp_file("state.json"));
    assert!(!is_atomic_temp_file(".tmp"));
    // Someone else's hidden temporary file is not ours to remove.
    assert!(!is_atomic_temp_file(".notes.tmp"));
    assert!(!is_atomic_temp_file(".x.12-ab.tmp"));
    // Writing leaves only the files asked for.
    let target = dir.path().join("precious");
    std::fs::write(&target, b"keep").unwrap();
    write_atomic(dir.path().join("x"), b"1").unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    assert_eq!(names(dir.path()), ["precious", "x"]);
}
