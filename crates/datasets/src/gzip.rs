//! Transparent gzip handling: compression is detected from the magic bytes, not the file name.

use std::io::{Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use crate::errors::{DatasetError, Result};

/// The two bytes every gzip stream starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether `bytes` start with the gzip magic bytes.
///
/// ```
/// use smallscale_datasets::gzip::is_gzip;
/// assert!(is_gzip(&[0x1f, 0x8b, 8]));
/// assert!(!is_gzip(b"plain"));
/// ```
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Returns `bytes` decompressed when they are a gzip stream, unchanged otherwise.
///
/// `file` names the source in error messages.
pub fn decompress_if_gzip(bytes: Vec<u8>, file: &str) -> Result<Vec<u8>> {
    if !is_gzip(&bytes) {
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() * 4);
    GzDecoder::new(bytes.as_slice())
        .read_to_end(&mut out)
        .map_err(|source| DatasetError::CorruptGzip {
            file: file.to_owned(),
            source,
        })?;
    Ok(out)
}

/// Reads a whole file, decompressing it when it is gzip-compressed (whatever its extension).
pub fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| DatasetError::Io {
        file: file.clone(),
        source,
    })?;
    decompress_if_gzip(bytes, &file)
}

/// Compresses `bytes` with gzip at the best compression level.
///
/// The header carries no file name and a zero modification time, so equal input gives
/// byte-identical output.
pub fn gzip_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let data = b"hello hello hello".to_vec();
        let packed = gzip_bytes(&data);
        assert!(is_gzip(&packed));
        assert_eq!(decompress_if_gzip(packed.clone(), "x").unwrap(), data);
        assert_eq!(decompress_if_gzip(data.clone(), "x").unwrap(), data);
        let cut = packed[..packed.len() / 2].to_vec();
        let err = decompress_if_gzip(cut, "cut.gz").unwrap_err();
        assert!(matches!(err, DatasetError::CorruptGzip { .. }), "{err}");
        assert!(err.to_string().contains("cut.gz"));
    }
}
