//! A strict reader of NumPy `.npy` arrays of integers (format versions 1, 2 and 3), as stored
//! inside the `.npz` files of MedMNIST.
//!
//! The header is a Python dict literal such as
//! `{'descr': '|u1', 'fortran_order': False, 'shape': (4708, 28, 28), }`. Only C-order arrays of
//! integer element types are read; the data must have exactly the length the shape and element
//! type describe.

use crate::errors::{DatasetError, Result};

/// The magic string at the start of every `.npy` file.
const MAGIC: &[u8] = b"\x93NUMPY";

/// An integer element type of a `.npy` array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NpyDtype {
    /// Bytes per element (1, 2, 4 or 8).
    pub size: usize,
    /// Signed (`i`) or unsigned (`u`).
    pub signed: bool,
    /// Little-endian (`<`, or `|` for single bytes) or big-endian (`>`).
    pub little_endian: bool,
}

/// An integer array read from a `.npy` file: its shape and its values widened to `i64`
/// (`u64` values above `i64::MAX` are refused).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyArray {
    /// The dimensions, outermost first (C order).
    pub shape: Vec<usize>,
    /// The element type as stored.
    pub dtype: NpyDtype,
    /// The values in C order.
    pub values: NpyValues,
}

/// The values of an [`NpyArray`]: bytes kept as they are (images), wider integers widened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NpyValues {
    /// `uint8` values.
    U8(Vec<u8>),
    /// Every other integer type, widened.
    I64(Vec<i64>),
}

impl NpyValues {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Self::U8(v) => v.len(),
            Self::I64(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at `index`, widened.
    pub fn get(&self, index: usize) -> Option<i64> {
        match self {
            Self::U8(v) => v.get(index).map(|&x| i64::from(x)),
            Self::I64(v) => v.get(index).copied(),
        }
    }
}

fn unsupported(file: &str, detail: impl Into<String>) -> DatasetError {
    DatasetError::Unsupported {
        file: file.to_string(),
        detail: detail.into(),
    }
}

/// Parses a `.npy` file held in `bytes`; `file` names it in errors (e.g. `x.npz:train_images`).
///
/// ```
/// use smallscale_datasets::npy::{NpyValues, parse_npy};
/// let header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }";
/// let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
/// let padded = format!("{header:<117}\n"); // 10 + 118 bytes: a multiple of 64
/// bytes.extend((padded.len() as u16).to_le_bytes());
/// bytes.extend(padded.as_bytes());
/// bytes.extend([1u8, 2, 3, 4, 5, 6]);
/// let a = parse_npy(&bytes, "a.npy")?;
/// assert_eq!(a.shape, [2, 3]);
/// assert_eq!(a.values, NpyValues::U8(vec![1, 2, 3, 4, 5, 6]));
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
pub fn parse_npy(bytes: &[u8], file: &str) -> Result<NpyArray> {
    if bytes.len() < MAGIC.len() + 2 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(unsupported(
            file,
            "not a NumPy .npy array (the magic string \\x93NUMPY is missing)",
        ));
    }
    let major = bytes[6];
    let (len_bytes, start) = match major {
        1 => (2usize, 10usize),
        2 | 3 => (4, 12),
        v => {
            return Err(unsupported(
                file,
                format!(".npy format version {v} is not supported (versions 1 to 3 are)"),
            ));
        }
    };
    if bytes.len() < start {
        return Err(DatasetError::Truncated {
            file: file.to_string(),
            expected: start as u64,
            found: bytes.len() as u64,
        });
    }
    let header_len = if len_bytes == 2 {
        usize::from(u16::from_le_bytes([bytes[8], bytes[9]]))
    } else {
        u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize
    };
    let data_start = start
        .checked_add(header_len)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| DatasetError::Truncated {
            file: file.to_string(),
            expected: (start as u64).saturating_add(header_len as u64),
            found: bytes.len() as u64,
        })?;
    let header = std::str::from_utf8(&bytes[start..data_start])
        .map_err(|_| unsupported(file, "the .npy header is not text"))?;
    let (dtype, shape) = parse_header(header, file)?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| unsupported(file, format!("shape {shape:?} overflows")))?;
    let expected = count
        .checked_mul(dtype.size)
        .ok_or_else(|| unsupported(file, format!("shape {shape:?} overflows")))?;
    let data = &bytes[data_start..];
    let expected_file = (data_start as u64).saturating_add(expected as u64);
    if data.len() < expected {
        return Err(DatasetError::Truncated {
            file: file.to_string(),
            expected: expected_file,
            found: bytes.len() as u64,
        });
    }
    if data.len() > expected {
        return Err(DatasetError::TrailingBytes {
            file: file.to_string(),
            expected: expected_file,
            found: bytes.len() as u64,
            format: ".npy",
        });
    }
    let values = if dtype.size == 1 && !dtype.signed {
        NpyValues::U8(data.to_vec())
    } else {
        let mut out = Vec::with_capacity(count);
        for (i, chunk) in data.chunks_exact(dtype.size).enumerate() {
            out.push(widen(chunk, dtype).ok_or_else(|| {
                unsupported(
                    file,
                    format!("value {i} does not fit a 64-bit signed integer"),
                )
            })?);
        }
        NpyValues::I64(out)
    };
    Ok(NpyArray {
        shape,
        dtype,
        values,
    })
}

fn widen(chunk: &[u8], dtype: NpyDtype) -> Option<i64> {
    let mut buf = [0u8; 8];
    let n = chunk.len();
    if dtype.little_endian {
        buf[..n].copy_from_slice(chunk);
    } else {
        for (i, &b) in chunk.iter().rev().enumerate() {
            buf[i] = b;
        }
    }
    let raw = u64::from_le_bytes(buf);
    if dtype.signed {
        // Sign-extend from n bytes.
        let shift = 64 - 8 * n as u32;
        Some(((raw << shift) as i64) >> shift)
    } else {
        i64::try_from(raw).ok()
    }
}

/// The value of `key` in the header dict: the text after `'key':` up to the next top-level comma
/// or closing brace.
fn dict_value<'a>(header: &'a str, key: &str, file: &str) -> Result<&'a str> {
    let quoted = [format!("'{key}'"), format!("\"{key}\"")];
    let start = quoted
        .iter()
        .find_map(|q| header.find(q.as_str()).map(|i| i + q.len()))
        .ok_or_else(|| unsupported(file, format!("the .npy header has no '{key}': {header}")))?;
    let rest = header[start..].trim_start();
    let rest = rest
        .strip_prefix(':')
        .ok_or_else(|| unsupported(file, format!("malformed .npy header: {header}")))?
        .trim_start();
    let mut depth = 0i32;
    for (i, c) in rest.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Ok(rest[..i].trim()),
            _ => {}
        }
        if depth < 0 {
            break;
        }
    }
    Err(unsupported(
        file,
        format!("malformed .npy header: {header}"),
    ))
}

/// The keys of the header dict, each once and nothing else.
fn check_header_keys(header: &str, file: &str) -> Result<()> {
    let inner = &header[1..header.len() - 1];
    let mut keys = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    let mut items = Vec::new();
    for (i, c) in inner.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    for item in items.iter().map(|s| s.trim()) {
        if item.is_empty() {
            continue;
        }
        let key = item
            .split_once(':')
            .map(|(k, _)| k.trim().trim_matches(['\'', '"']))
            .ok_or_else(|| unsupported(file, format!("malformed .npy header: {header}")))?;
        keys.push(key.to_string());
    }
    keys.sort();
    if keys != ["descr", "fortran_order", "shape"] {
        return Err(unsupported(
            file,
            format!(
                "the .npy header must hold 'descr', 'fortran_order' and 'shape' once each: {header}"
            ),
        ));
    }
    Ok(())
}

fn parse_header(header: &str, file: &str) -> Result<(NpyDtype, Vec<usize>)> {
    let header = header.trim_end_matches(['\n', ' ', '\0']);
    if !(header.starts_with('{') && header.ends_with('}')) {
        return Err(unsupported(
            file,
            format!("malformed .npy header: {header}"),
        ));
    }
    check_header_keys(header, file)?;
    let descr = dict_value(header, "descr", file)?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.strip_suffix('\''))
        .or_else(|| descr.strip_prefix('"').and_then(|d| d.strip_suffix('"')))
        .ok_or_else(|| unsupported(file, format!("malformed 'descr' {descr}")))?;
    let dtype = parse_descr(descr).ok_or_else(|| {
        unsupported(
            file,
            format!(
                "element type '{descr}' is not supported: only integer arrays (uint8 images, integer labels) are read"
            ),
        )
    })?;
    match dict_value(header, "fortran_order", file)? {
        "False" => {}
        "True" => {
            return Err(unsupported(
                file,
                "the array is stored in Fortran order; save it in C order (numpy.ascontiguousarray)",
            ));
        }
        other => {
            return Err(unsupported(
                file,
                format!("malformed 'fortran_order' {other}"),
            ));
        }
    }
    let shape_text = dict_value(header, "shape", file)?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| unsupported(file, format!("malformed 'shape' {shape_text}")))?;
    let malformed = || unsupported(file, format!("malformed 'shape' {shape_text}"));
    // A Python tuple: `()`, `(5,)`, `(5, 3)` or `(5, 3,)`; `(5)` is a number, not a tuple.
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    let parts: &[&str] = match parts.as_slice() {
        [""] => &[],
        [_] => return Err(malformed()),
        [rest @ .., ""] => rest,
        all => all,
    };
    let shape = parts
        .iter()
        .map(|s| s.strip_suffix('L').unwrap_or(s).parse::<usize>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| malformed())?;
    Ok((dtype, shape))
}

fn parse_descr(descr: &str) -> Option<NpyDtype> {
    let mut chars = descr.chars();
    let order = chars.next()?;
    let kind = chars.next()?;
    let size: usize = chars.as_str().parse().ok()?;
    let little_endian = match order {
        '<' | '=' => true,
        '|' if size == 1 => true,
        '>' => false,
        _ => return None,
    };
    let signed = match kind {
        'i' => true,
        'u' => false,
        _ => return None,
    };
    matches!(size, 1 | 2 | 4 | 8).then_some(NpyDtype {
        size,
        signed,
        little_endian,
    })
}

/// Writes an array as `.npy` version 1 bytes (for tests and for tools that make MedMNIST-style
/// files): `descr` is e.g. `|u1` or `<i8`, `data` the raw little-endian bytes.
pub fn write_npy(shape: &[usize], descr: &str, data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad with spaces so that magic + version + length + header is a multiple of 64, ending in \n.
    let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
    let padding = (64 - unpadded % 64) % 64;
    let header = format!("{dict}{}\n", " ".repeat(padding));
    let mut out = Vec::with_capacity(10 + header.len() + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_and_reader_agree_for_every_integer_type() {
        let a = parse_npy(&write_npy(&[2, 2], "|u1", &[1, 2, 3, 4]), "a").unwrap();
        assert_eq!(a.values, NpyValues::U8(vec![1, 2, 3, 4]));
        let neg: Vec<u8> = [-3i64, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        let b = parse_npy(&write_npy(&[2, 1], "<i8", &neg), "b").unwrap();
        assert_eq!(
            (b.shape.clone(), b.values),
            (vec![2, 1], NpyValues::I64(vec![-3, 7]))
        );
        let be: Vec<u8> = [258u16, 1].iter().flat_map(|v| v.to_be_bytes()).collect();
        let c = parse_npy(&write_npy(&[2], ">u2", &be), "c").unwrap();
        assert_eq!(c.values, NpyValues::I64(vec![258, 1]));
        let d = parse_npy(&write_npy(&[1], "<i2", &(-2i16).to_le_bytes()), "d").unwrap();
        assert_eq!(d.values, NpyValues::I64(vec![-2]));
        // The header plus preamble is a multiple of 64 bytes, as numpy writes it.
        assert_eq!((write_npy(&[3], "|u1", &[0; 3]).len() - 3) % 64, 0);
    }

    #[test]
    fn every_defect_is_a_clear_error() {
        let good = write_npy(&[2, 2], "|u1", &[1, 2, 3, 4]);
        let err = |bytes: &[u8]| parse_npy(bytes, "x.npy").unwrap_err().to_string();
        assert!(err(b"PK\x03\x04").contains("not a NumPy"));
        assert!(err(&good[..good.len() - 1]).contains("truncated"));
        let mut long = good.clone();
        long.push(0);
        assert!(err(&long).contains("header describes"));
        assert!(err(&write_npy(&[2], "<f4", &[0; 8])).contains("only integer arrays"));
        let mut fortran = good.clone();
        let at = fortran.windows(5).position(|w| w == b"False").unwrap();
        fortran[at..at + 5].copy_from_slice(b"True ");
        assert!(err(&fortran).contains("Fortran order"));
        let mut v9 = good.clone();
        v9[6] = 9;
        assert!(err(&v9).contains("version 9"));
        let big: Vec<u8> = u64::MAX.to_le_bytes().to_vec();
        assert!(err(&write_npy(&[1], "<u8", &big)).contains("does not fit"));
        // A shape whose byte count overflows is an error, not a panic.
        assert!(!err(&write_npy(&[usize::MAX - 5], "|u1", &[])).is_empty());
        // Malformed dicts and tuples, duplicate or unknown keys, '|' for a wide type.
        let with_header = |dict: &str| {
            let mut out = b"\x93NUMPY\x01\x00".to_vec();
            let header = format!("{dict}\n");
            out.extend((header.len() as u16).to_le_bytes());
            out.extend(header.as_bytes());
            out.extend([0u8; 8]);
            out
        };
        for (dict, needle) in [
            (
                "{'descr': '|u1', 'fortran_order': False, 'shape': (8), }",
                "malformed 'shape'",
            ),
            (
                "{'descr': '|u1', 'fortran_order': False, 'shape': (8,,1), }",
                "malformed 'shape'",
            ),
            (
                "{'descr': '|u1', 'fortran_order': False, 'shape': (,), }",
                "malformed 'shape'",
            ),
            (
                "{'descr': '|u1', 'descr': '<i8', 'fortran_order': False, 'shape': (8,), }",
                "once each",
            ),
            (
                "{'descr': '|u1', 'fortran_order': False, 'shape': (8,), 'x': 1, }",
                "once each",
            ),
            (
                "{'descr': '|u2', 'fortran_order': False, 'shape': (4,), }",
                "only integer arrays",
            ),
        ] {
            let e = err(&with_header(dict));
            assert!(e.contains(needle), "{dict}: {e}");
        }
        // The well-formed spellings are read.
        for (dict, shape) in [
            (
                "{'descr': '|u1', 'fortran_order': False, 'shape': (8,), }",
                vec![8],
            ),
            (
                "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 4)}",
                vec![2, 4],
            ),
            (
                "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 4,), }",
                vec![2, 4],
            ),
        ] {
            assert_eq!(
                parse_npy(&with_header(dict), "x").unwrap().shape,
                shape,
                "{dict}"
            );
        }
    }

    #[test]
    fn damaged_npy_files_give_errors_never_panics() {
        let valid = write_npy(&[3, 4], "<i2", &[7u8; 24]);
        let n = smallscale_io::check_damaged_inputs(&valid, 20_000, |b| {
            parse_npy(b, "x.npy").map(|_| ())
        })
        .unwrap();
        assert!(n > 0);
    }
}
