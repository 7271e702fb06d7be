//! The CIFAR-10 binary format (`data_batch_1.bin` .. `data_batch_5.bin`, `test_batch.bin`).
//!
//! Each file is a sequence of 3073-byte records: one label byte (0..=9), then a 32x32 image
//! as 1024 red, 1024 green and 1024 blue bytes, each plane row-major. Files may also be
//! gzip-compressed (detected by the magic bytes).

use std::path::{Path, PathBuf};

use crate::errors::{DatasetError, Result};
use crate::gzip::read_maybe_gzip;
use crate::image::{ImageDataset, ImageShape};

/// The shape of a CIFAR-10 image.
pub const CIFAR10_SHAPE: ImageShape = ImageShape::new(3, 32, 32);
/// Bytes of one image (3 x 32 x 32).
pub const CIFAR10_IMAGE_BYTES: usize = 3 * 32 * 32;
/// Bytes of one record: the label byte and the image.
pub const CIFAR10_RECORD_BYTES: usize = 1 + CIFAR10_IMAGE_BYTES;
/// The ten CIFAR-10 classes, indexed by label.
pub const CIFAR10_CLASS_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];
/// The five training batch files, in order.
pub const CIFAR10_TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test batch file.
pub const CIFAR10_TEST_FILE: &str = "test_batch.bin";
/// The directory the official archive `cifar-10-binary.tar.gz` unpacks to.
pub const CIFAR10_ARCHIVE_DIR: &str = "cifar-10-batches-bin";

/// Parses the bytes of one CIFAR-10 batch file; `file` names it in errors.
///
/// The length must be a positive multiple of [`CIFAR10_RECORD_BYTES`] and every label must
/// be below 10.
///
/// ```
/// use smallscale_datasets::cifar::{CIFAR10_RECORD_BYTES, parse_cifar10_batch};
/// let mut bytes = vec![0u8; 2 * CIFAR10_RECORD_BYTES];
/// bytes[CIFAR10_RECORD_BYTES] = 9; // label of the second record
/// let batch = parse_cifar10_batch(bytes, "batch.bin")?;
/// assert_eq!(batch.labels(), &[0, 9]);
/// assert!(parse_cifar10_batch(vec![0u8; 100], "short.bin").is_err());
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
pub fn parse_cifar10_batch(bytes: Vec<u8>, file: &str) -> Result<ImageDataset> {
    let bytes = crate::gzip::decompress_if_gzip(bytes, file)?;
    if bytes.is_empty() {
        return Err(DatasetError::Truncated {
            file: file.to_owned(),
            expected: CIFAR10_RECORD_BYTES as u64,
            found: 0,
        });
    }
    if !bytes.len().is_multiple_of(CIFAR10_RECORD_BYTES) {
        return Err(DatasetError::Truncated {
            file: file.to_owned(),
            expected: bytes.len().next_multiple_of(CIFAR10_RECORD_BYTES) as u64,
            found: bytes.len() as u64,
        });
    }
    let n = bytes.len() / CIFAR10_RECORD_BYTES;
    let mut labels = Vec::with_capacity(n);
    let mut pixels = Vec::with_capacity(n * CIFAR10_IMAGE_BYTES);
    for (index, record) in bytes.chunks_exact(CIFAR10_RECORD_BYTES).enumerate() {
        let label = u32::from(record[0]);
        if label as usize >= CIFAR10_CLASS_NAMES.len() {
            return Err(DatasetError::LabelOutOfRange {
                file: file.to_owned(),
                index,
                label,
                num_classes: CIFAR10_CLASS_NAMES.len(),
            });
        }
        labels.push(label);
        pixels.extend_from_slice(&record[1..]);
    }
    ImageDataset::new(
        pixels,
        labels,
        CIFAR10_SHAPE,
        CIFAR10_CLASS_NAMES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    )
}

/// Reads one CIFAR-10 batch file (raw or gzip).
pub fn read_cifar10_batch(path: &Path) -> Result<ImageDataset> {
    let bytes = read_maybe_gzip(path)?;
    parse_cifar10_batch(bytes, &path.display().to_string())
}

/// Encodes a 3x32x32 data set with labels below 10 as a CIFAR-10 batch file.
pub fn encode_cifar10_batch(dataset: &ImageDataset) -> Result<Vec<u8>> {
    if dataset.shape() != CIFAR10_SHAPE {
        return Err(crate::errors::invalid_data(
            "CIFAR-10 batches hold 3x32x32 images",
        ));
    }
    let mut out = Vec::with_capacity(dataset.len() * CIFAR10_RECORD_BYTES);
    for (image, &label) in dataset
        .pixels()
        .chunks_exact(CIFAR10_IMAGE_BYTES)
        .zip(dataset.labels())
    {
        let label = u8::try_from(label)
            .ok()
            .filter(|&l| usize::from(l) < CIFAR10_CLASS_NAMES.len())
            .ok_or_else(|| {
                crate::errors::invalid_data(format!("CIFAR-10 labels are 0..=9, got {label}"))
            })?;
        out.push(label);
        out.extend_from_slice(image);
    }
    Ok(out)
}

/// Reads CIFAR-10 `(train, test)` from a directory holding the five training batches and the
/// test batch (or from its `cifar-10-batches-bin` subdirectory).
///
/// ```no_run
/// let (train, test) = smallscale_datasets::cifar::cifar10_from_dir(
///     std::path::Path::new("data/cifar-10-batches-bin"),
/// )?;
/// assert_eq!((train.len(), test.len()), (50_000, 10_000));
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
pub fn cifar10_from_dir(dir: &Path) -> Result<(ImageDataset, ImageDataset)> {
    let nested = dir.join(CIFAR10_ARCHIVE_DIR);
    let dir = if !dir.join(CIFAR10_TEST_FILE).is_file() && nested.is_dir() {
        nested
    } else {
        dir.to_path_buf()
    };
    let find = |name: &str| -> Result<PathBuf> {
        let path = dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(DatasetError::MissingFile {
                dir: dir.display().to_string(),
                expected: name.to_owned(),
                hint: "unpack cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and pass its cifar-10-batches-bin directory",
            })
        }
    };
    let mut parts = Vec::with_capacity(CIFAR10_TRAIN_FILES.len());
    for name in CIFAR10_TRAIN_FILES {
        parts.push(read_cifar10_batch(&find(name)?)?);
    }
    let train = ImageDataset::concat(&parts)?;
    let test = read_cifar10_batch(&find(CIFAR10_TEST_FILE)?)?;
    Ok((train, test))
}
