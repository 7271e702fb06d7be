//! Atomic file writes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::errors::{IoError, Result};
use crate::output::check_regular_or_absent;

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed and synced,
/// then renamed over `path`. On any error no partial file is left at `path` and the temporary file
/// is removed.
///
/// A symbolic link is followed (its target is replaced, the link kept). Anything that exists at
/// `path` and is not a regular file (a device such as `/dev/full`, a directory, a FIFO) is refused
/// rather than replaced by a regular file.
///
/// # Errors
///
/// [`IoError::NotRegularFile`], or [`IoError::Write`] with the operating system's reason.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("out.txt");
/// smallscale_io::write_atomic(&path, b"hello")?;
/// assert_eq!(std::fs::read(&path)?, b"hello");
/// assert!(smallscale_io::write_atomic(dir.path(), b"no").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    check_regular_or_absent(path)?;
    let target = resolve_link(path);
    let tmp = temp_path(&target);
    let result = (|| -> std::io::Result<()> {
        // A fresh file: never follow a link planted at the temporary name.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &target)?;
        // Make the rename itself durable (best effort: not every platform can open a directory).
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        IoError::Write {
            path: path.to_path_buf(),
            reason: format!("{e}; check that the directory exists and is writable"),
        }
    })
}

/// The file a symbolic link points to (the path itself when it is not a link or cannot be resolved).
fn resolve_link(path: &Path) -> PathBuf {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path)
            .or_else(|_| {
                std::fs::read_link(path).map(|t| match path.parent() {
                    Some(dir) if t.is_relative() => dir.join(t),
                    _ => t,
                })
            })
            .unwrap_or_else(|_| path.to_path_buf()),
        _ => path.to_path_buf(),
    }
}

/// Whether `name` is a temporary file left by [`write_atomic`] (by a process that was killed
/// between creating and renaming it), so that a resuming caller may remove it.
///
/// ```
/// assert!(smallscale_io::is_atomic_temp_file(".state.json.4242-0.tmp"));
/// assert!(!smallscale_io::is_atomic_temp_file("state.json"));
/// ```
pub fn is_atomic_temp_file(name: &str) -> bool {
    // `.NAME.PID-N.tmp`
    let Some(stem) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    let Some((base, counter)) = stem.rsplit_once('.') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    !base.is_empty()
        && counter
            .split_once('-')
            .is_some_and(|(pid, n)| digits(pid) && digits(n))
}

fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp_name = format!(".{name}.{}-{n}.tmp", std::process::id());
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(tmp_name),
        _ => PathBuf::from(tmp_name),
    }
}
