//! Checks an output path before anything is written to it.

use std::fs::Metadata;
use std::path::Path;

use crate::errors::{IoError, Result};

/// What a non-regular file is, in words.
pub(crate) fn kind_of(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_char_device() {
            return "character device";
        }
        if t.is_block_device() {
            return "block device";
        }
        if t.is_fifo() {
            return "FIFO";
        }
        if t.is_socket() {
            return "socket";
        }
    }
    "special file"
}

/// Refuses an output that exists but is not a regular file (after following symbolic links).
pub(crate) fn check_regular_or_absent(path: &Path) -> Result<Option<Metadata>> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(Some(meta)),
        Ok(meta) => Err(IoError::NotRegularFile {
            path: path.to_path_buf(),
            kind: kind_of(&meta),
        }),
        // Absent (or unreadable: the write itself will say why).
        Err(_) => Ok(None),
    }
}

/// Whether two paths name the same file: the same device and inode on Unix, the same canonical path
/// elsewhere. Paths that do not both exist are never the same file.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let a = dir.path().join("a");
/// std::fs::write(&a, b"x")?;
/// assert!(smallscale_io::same_file(&a, &dir.path().join(".").join("a")));
/// assert!(!smallscale_io::same_file(&a, &dir.path().join("b")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        }
    }
}

/// Checks that `output` may be written by a command that reads `inputs`: if it exists it must be a
/// regular file (a symbolic link is followed), and it must not be any of the inputs, compared as files
/// (so `D/../D/m`, `./m` and a hard link to `m` are all the input `m`).
///
/// Call it before the work starts, so a refused output costs nothing.
///
/// # Errors
///
/// [`IoError::NotRegularFile`] or [`IoError::SameAsInput`].
///
/// ```
/// use smallscale_io::{IoError, check_output};
/// let dir = tempfile::tempdir()?;
/// let input = dir.path().join("model.safetensors");
/// std::fs::write(&input, b"...")?;
/// let sneaky = dir.path().join("..").join(dir.path().file_name().unwrap()).join("model.safetensors");
/// assert!(matches!(check_output(&sneaky, &[&input]), Err(IoError::SameAsInput { .. })));
/// assert!(matches!(check_output(dir.path(), &[&input]), Err(IoError::NotRegularFile { .. })));
/// check_output(&dir.path().join("new.safetensors"), &[&input])?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_output(output: &Path, inputs: &[&Path]) -> Result<()> {
    if check_regular_or_absent(output)?.is_none() {
        return Ok(());
    }
    match inputs.iter().find(|input| same_file(output, input)) {
        Some(input) => Err(IoError::SameAsInput {
            output: output.to_path_buf(),
            input: input.to_path_buf(),
        }),
        None => Ok(()),
    }
}
