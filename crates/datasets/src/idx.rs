//! The IDX format of MNIST and Fashion-MNIST (raw or gzip-compressed).
//!
//! An IDX file starts with a 4-byte magic number `00 00 TT DD` (`TT` the element type, `DD` the
//! number of dimensions), then `DD` big-endian `u32` sizes, then the elements row-major. MNIST
//! images are `0x00000803` (unsigned bytes, `N x H x W`) and labels `0x00000801` (unsigned
//! bytes, `N`). Only unsigned-byte files are read; anything else is reported, never guessed.

use std::path::{Path, PathBuf};

use crate::errors::{DatasetError, Result};
use crate::gzip::{decompress_if_gzip, gzip_bytes};
use crate::image::{ImageDataset, ImageShape};

/// Element-type code of unsigned bytes, the only type MNIST-style files use.
pub const IDX_UNSIGNED_BYTE: u8 = 0x08;
/// Magic number of an MNIST-style image file (unsigned bytes, 3 dimensions).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an MNIST-style label file (unsigned bytes, 1 dimension).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// Standard file name (without `.gz`) of the training images.
pub const TRAIN_IMAGES_FILE: &str = "train-images-idx3-ubyte";
/// Standard file name (without `.gz`) of the training labels.
pub const TRAIN_LABELS_FILE: &str = "train-labels-idx1-ubyte";
/// Standard file name (without `.gz`) of the test images.
pub const TEST_IMAGES_FILE: &str = "t10k-images-idx3-ubyte";
/// Standard file name (without `.gz`) of the test labels.
pub const TEST_LABELS_FILE: &str = "t10k-labels-idx1-ubyte";

/// Class names of the MNIST digits, `"0"` to `"9"`.
pub const MNIST_CLASS_NAMES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// An unsigned-byte IDX array: its dimensions and its elements, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    dims: Vec<usize>,
    data: Vec<u8>,
}

impl IdxArray {
    /// Creates an array, checking that `data.len()` is the product of `dims` and that there are
    /// between 1 and 255 dimensions, each below 2^32.
    pub fn new(dims: Vec<usize>, data: Vec<u8>) -> Result<Self> {
        if dims.is_empty() || dims.len() > 255 {
            return Err(crate::errors::invalid_data(format!(
                "an IDX array needs 1 to 255 dimensions, got {}",
                dims.len()
            )));
        }
        if dims.iter().any(|&d| u32::try_from(d).is_err()) {
            return Err(crate::errors::invalid_data(
                "IDX dimensions must fit in 32 bits",
            ));
        }
        let len = dims
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| crate::errors::invalid_data("IDX array size overflows usize"))?;
        if len != data.len() {
            return Err(crate::errors::invalid_data(format!(
                "IDX dimensions {dims:?} need {len} elements, got {}",
                data.len()
            )));
        }
        Ok(Self { dims, data })
    }

    /// The dimensions, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The elements, row-major.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The elements, row-major, by value.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// The magic number of this array (`0x000008DD`, `DD` the number of dimensions).
    pub fn magic(&self) -> u32 {
        (u32::from(IDX_UNSIGNED_BYTE) << 8) | self.dims.len() as u32
    }

    /// Encodes the array in the IDX format (uncompressed).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 4 * self.dims.len() + self.data.len());
        out.extend_from_slice(&self.magic().to_be_bytes());
        for &d in &self.dims {
            // `new` guarantees every dimension fits in u32.
            out.extend_from_slice(&(d as u32).to_be_bytes());
        }
        out.extend_from_slice(&self.data);
        out
    }

    /// Writes the array to `path` in the IDX format, gzip-compressed when `gzip` is true.
    pub fn write(&self, path: &Path, gzip: bool) -> Result<()> {
        let raw = self.to_bytes();
        let bytes = if gzip { gzip_bytes(&raw) } else { raw };
        std::fs::write(path, bytes).map_err(|source| DatasetError::Io {
            file: path.display().to_string(),
            source,
        })
    }
}

/// Parses (possibly gzip-compressed) IDX bytes; `file` names the source in errors.
///
/// Every inconsistency is an error: a header shorter than its dimension list, a magic number
/// that is not `00 00 08 DD`, and a body shorter or longer than the dimensions require.
///
/// ```
/// use smallscale_datasets::idx::{IdxArray, parse_idx};
/// let labels = IdxArray::new(vec![3], vec![7, 2, 1])?;
/// let parsed = parse_idx(labels.to_bytes(), "labels")?;
/// assert_eq!(parsed, labels);
/// assert!(parse_idx(vec![0, 0, 8, 1, 0, 0, 0, 5, 1], "short").is_err());
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
pub fn parse_idx(bytes: Vec<u8>, file: &str) -> Result<IdxArray> {
    let bytes = decompress_if_gzip(bytes, file)?;
    let truncated = |expected: u64| DatasetError::Truncated {
        file: file.to_owned(),
        expected,
        found: bytes.len() as u64,
    };
    if bytes.len() < 4 {
        return Err(truncated(4));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if bytes[0] != 0 || bytes[1] != 0 || bytes[3] == 0 {
        return Err(DatasetError::BadMagic {
            file: file.to_owned(),
            found: magic,
            expected: "0x000008DD (an IDX file: two zero bytes, type 0x08, DD dimensions)",
        });
    }
    if bytes[2] != IDX_UNSIGNED_BYTE {
        return Err(DatasetError::Unsupported {
            file: file.to_owned(),
            detail: format!(
                "IDX element type {:#04x} is not supported, only unsigned bytes (0x08) as in MNIST; convert the file to unsigned bytes",
                bytes[2]
            ),
        });
    }
    let ndims = usize::from(bytes[3]);
    let header_len = 4 + 4 * ndims;
    if bytes.len() < header_len {
        return Err(truncated(header_len as u64));
    }
    let dims: Vec<usize> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let body_len = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .ok_or_else(|| DatasetError::WrongDimensions {
            file: file.to_owned(),
            detail: format!("dimensions {dims:?} overflow; the header is corrupt"),
        })?;
    let expected = header_len as u64 + body_len;
    let found = bytes.len() as u64;
    if found < expected {
        return Err(truncated(expected));
    }
    if found > expected {
        return Err(DatasetError::TrailingBytes {
            file: file.to_owned(),
            expected,
            found,
            format: "IDX",
        });
    }
    let mut bytes = bytes;
    bytes.drain(..header_len);
    IdxArray::new(dims, bytes)
}

/// Reads an IDX file (raw or gzip, detected by the magic bytes).
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| DatasetError::Io {
        file: file.clone(),
        source,
    })?;
    parse_idx(bytes, &file)
}

/// Combines an image array (`N x H x W`) and a label array (`N`) into an [`ImageDataset`].
///
/// Checks the magic numbers (a swapped pair is reported as such), that the counts agree, that
/// the images are `expected_hw` (height, width) when given, and that every label is below
/// `class_names.len()`. The file names are only used in error messages.
pub fn image_dataset_from_idx(
    images: IdxArray,
    images_file: &str,
    labels: IdxArray,
    labels_file: &str,
    expected_hw: Option<(usize, usize)>,
    class_names: &[&str],
) -> Result<ImageDataset> {
    if images.magic() != IDX_IMAGES_MAGIC {
        return Err(DatasetError::BadMagic {
            file: images_file.to_owned(),
            found: images.magic(),
            expected: "0x00000803 (unsigned-byte images, N x H x W)",
        });
    }
    if labels.magic() != IDX_LABELS_MAGIC {
        return Err(DatasetError::BadMagic {
            file: labels_file.to_owned(),
            found: labels.magic(),
            expected: "0x00000801 (unsigned-byte labels, N)",
        });
    }
    let (n, h, w) = (images.dims[0], images.dims[1], images.dims[2]);
    if h == 0 || w == 0 {
        return Err(DatasetError::WrongDimensions {
            file: images_file.to_owned(),
            detail: format!("images of {h}x{w} pixels have no pixels"),
        });
    }
    if let Some((eh, ew)) = expected_hw
        && (eh, ew) != (h, w)
    {
        return Err(DatasetError::WrongDimensions {
            file: images_file.to_owned(),
            detail: format!(
                "images are {h}x{w} pixels, this data set has {eh}x{ew}; is it the right data set?"
            ),
        });
    }
    if labels.dims[0] != n {
        return Err(DatasetError::CountMismatch {
            images_file: images_file.to_owned(),
            labels_file: labels_file.to_owned(),
            images: n,
            labels: labels.dims[0],
        });
    }
    let labels: Vec<u32> = labels.into_data().into_iter().map(u32::from).collect();
    if let Some((index, &label)) = labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| l as usize >= class_names.len())
    {
        return Err(DatasetError::LabelOutOfRange {
            file: labels_file.to_owned(),
            index,
            label,
            num_classes: class_names.len(),
        });
    }
    ImageDataset::new(
        images.into_data(),
        labels,
        ImageShape::new(1, h, w),
        class_names.iter().map(|s| (*s).to_owned()).collect(),
    )
}

/// Reads an image IDX file and its label IDX file into an [`ImageDataset`].
///
/// See [`image_dataset_from_idx`] for the checks made.
pub fn read_idx_image_dataset(
    images_path: &Path,
    labels_path: &Path,
    expected_hw: Option<(usize, usize)>,
    class_names: &[&str],
) -> Result<ImageDataset> {
    let images = read_idx(images_path)?;
    let labels = read_idx(labels_path)?;
    image_dataset_from_idx(
        images,
        &images_path.display().to_string(),
        labels,
        &labels_path.display().to_string(),
        expected_hw,
        class_names,
    )
}

/// Finds `base` or `base.gz` in `dir`.
fn find_standard_file(dir: &Path, base: &str, hint: &'static str) -> Result<PathBuf> {
    let candidates = [dir.join(base), dir.join(format!("{base}.gz"))];
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| DatasetError::MissingFile {
            dir: dir.display().to_string(),
            expected: format!("{base} or {base}.gz"),
            hint,
        })
}

/// Reads the train and test sets of an MNIST-style directory.
///
/// The directory must hold the four standard files ([`TRAIN_IMAGES_FILE`],
/// [`TRAIN_LABELS_FILE`], [`TEST_IMAGES_FILE`], [`TEST_LABELS_FILE`]), each raw or with a `.gz`
/// suffix. Images must be 28x28 and labels below `class_names.len()`.
pub fn mnist_style_from_dir(
    dir: &Path,
    class_names: &[&str],
    hint: &'static str,
) -> Result<(ImageDataset, ImageDataset)> {
    if !dir.is_dir() {
        return Err(DatasetError::Io {
            file: dir.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
        });
    }
    let train_images = find_standard_file(dir, TRAIN_IMAGES_FILE, hint)?;
    let train_labels = find_standard_file(dir, TRAIN_LABELS_FILE, hint)?;
    let test_images = find_standard_file(dir, TEST_IMAGES_FILE, hint)?;
    let test_labels = find_standard_file(dir, TEST_LABELS_FILE, hint)?;
    let train = read_idx_image_dataset(&train_images, &train_labels, Some((28, 28)), class_names)?;
    let test = read_idx_image_dataset(&test_images, &test_labels, Some((28, 28)), class_names)?;
    Ok((train, test))
}

/// Reads the MNIST digits (train, test) from a directory with the four standard IDX files.
///
/// ```no_run
/// let (train, test) =
///     smallscale_datasets::idx::mnist_from_dir(std::path::Path::new("data/mnist"))?;
/// assert_eq!((train.len(), test.len()), (60_000, 10_000));
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
pub fn mnist_from_dir(dir: &Path) -> Result<(ImageDataset, ImageDataset)> {
    mnist_style_from_dir(
        dir,
        &MNIST_CLASS_NAMES,
        "put the four MNIST files (raw or .gz) in this directory",
    )
}
