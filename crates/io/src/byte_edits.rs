//! Byte-level edits of a valid file, for tests that every reader fails cleanly on damaged input.

/// Edits applied to the bytes of a valid file, in this order: bit flips, a 32-bit big-endian value
/// written over a header field, an inserted byte, then a truncation. Generate the fields with any random or
/// property-testing source, apply them to a valid file, and check that the reader returns a value
/// or an error, never a panic.
///
/// ```
/// use smallscale_io::ByteEdits;
/// let valid = b"model,acc\nmlp,0.9\n";
/// let edits = ByteEdits {
///     flips: vec![(0, 0)],
///     insert: Some((3, b',')),
///     overwrite: None,
///     cut: 12,
/// };
/// let damaged = edits.apply(valid);
/// assert_eq!(damaged, b"lod,el,acc\nm");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ByteEdits {
    /// `(position, bit)`: flip bit `bit % 8` of the byte at `position % len`.
    pub flips: Vec<(usize, u8)>,
    /// `(position, byte)`: insert `byte` before `position % len`.
    pub insert: Option<(usize, u8)>,
    /// `(position, value)`: write `value` big-endian over the 4 bytes at `position % len` (as far as
    /// they reach), as a header edit (a length, a dimension, a magic number).
    pub overwrite: Option<(usize, u32)>,
    /// Keep only the first `cut` bytes (no cut when it is at least the length).
    pub cut: usize,
}

impl ByteEdits {
    /// The edited copy of `valid`.
    pub fn apply(&self, valid: &[u8]) -> Vec<u8> {
        let mut bytes = valid.to_vec();
        if bytes.is_empty() {
            return bytes;
        }
        for &(i, bit) in &self.flips {
            let i = i % bytes.len();
            bytes[i] ^= 1 << (bit % 8);
        }
        if let Some((i, value)) = self.overwrite {
            let i = i % bytes.len();
            for (k, b) in value.to_be_bytes().into_iter().enumerate() {
                if let Some(slot) = bytes.get_mut(i + k) {
                    *slot = b;
                }
            }
        }
        if let Some((i, b)) = self.insert {
            let i = i % bytes.len();
            bytes.insert(i, b);
        }
        bytes.truncate(self.cut);
        bytes
    }
}

/// A proptest strategy of [`ByteEdits`] for files of up to `max_len` bytes: up to 4 bit flips, maybe
/// an inserted byte, maybe a header field overwritten, and in half of the cases a cut anywhere (the
/// other half keeps the length, so the damage reaches the reader's checks past the length check).
#[cfg(feature = "proptest")]
pub fn byte_edits(max_len: usize) -> impl proptest::strategy::Strategy<Value = ByteEdits> {
    use proptest::prelude::*;
    let max_len = max_len.max(1);
    (
        prop::collection::vec((0..max_len, 0u8..8), 0..4),
        prop::option::of((0..max_len, any::<u8>())),
        prop::option::of((0..max_len, any::<u32>())),
        prop::option::of(0..max_len),
    )
        .prop_map(|(flips, insert, overwrite, cut)| ByteEdits {
            flips,
            insert,
            overwrite,
            cut: cut.unwrap_or(usize::MAX),
        })
}

/// Reads `cases` damaged copies of `valid` (edits from [`byte_edits`]) with `read`, and checks
/// that each gives a value or an error with a message; a panic or an empty message fails, with the
/// smallest edit that shows it. Returns the number of damaged inputs read (`cases` when every one
/// passed: proptest stops early only on a failure).
///
/// # Errors
///
/// The failing edit and what happened.
///
/// ```
/// use smallscale_io::{CsvTable, check_damaged_inputs};
/// let valid = b"model,acc\nmlp,0.9\ncnn,0.8\n";
/// let read = |bytes: &[u8]| -> Result<(), smallscale_io::IoError> {
///     let mut table = CsvTable::from_reader(bytes, "damaged.csv")?;
///     let acc = table.column("acc", None)?;
///     for row in table.rows() {
///         row?.number(acc)?;
///     }
///     Ok(())
/// };
/// assert_eq!(check_damaged_inputs(valid, 64, read)?, 64);
/// # Ok::<(), String>(())
/// ```
#[cfg(feature = "proptest")]
pub fn check_damaged_inputs<E: std::fmt::Display>(
    valid: &[u8],
    cases: u32,
    read: impl Fn(&[u8]) -> Result<(), E>,
) -> Result<u32, String> {
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    let count = std::sync::atomic::AtomicU32::new(0);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&byte_edits(valid.len()), |edits| {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match read(&edits.apply(valid)) {
                Err(e) if e.to_string().is_empty() => {
                    Err(TestCaseError::fail("an error without a message"))
                }
                _ => Ok(()),
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(count.into_inner())
}
