//! The error type of every fallible function in this crate.

/// Everything that can go wrong while reading, validating or transforming data.
///
/// Every message names the file (or parameter) at fault and says what to do about it.
/// Readers return these errors instead of panicking, whatever the bytes they are given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// The file could not be opened or read.
    #[error("cannot read {file}: {source}; check that the path exists and is readable")]
    Io {
        /// The file that failed.
        file: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file starts with the gzip magic bytes but does not decompress.
    #[error(
        "{file} looks gzip-compressed but does not decompress ({source}); the download is probably incomplete, fetch the file again"
    )]
    CorruptGzip {
        /// The file that failed.
        file: String,
        /// The underlying decompression error.
        #[source]
        source: std::io::Error,
    },
    /// The file is shorter than its header (or record size) says it must be.
    #[error(
        "{file} is truncated: expected {expected} bytes, found {found}; the file is incomplete, copy or download it again"
    )]
    Truncated {
        /// The file that failed.
        file: String,
        /// The number of bytes the header (or record layout) requires.
        expected: u64,
        /// The number of bytes present.
        found: u64,
    },
    /// The file is longer than its header says it must be.
    #[error(
        "{file} has {found} bytes but its header describes {expected}; it is not a valid {format} file (wrong file, or concatenated files?)"
    )]
    TrailingBytes {
        /// The file that failed.
        file: String,
        /// The number of bytes the header requires.
        expected: u64,
        /// The number of bytes present.
        found: u64,
        /// The format the file was read as.
        format: &'static str,
    },
    /// The magic number at the start of the file is not the one the format requires.
    #[error(
        "{file} starts with magic number {found:#010x}, expected {expected}; this is not the right kind of file (images and labels swapped, or not an IDX file?)"
    )]
    BadMagic {
        /// The file that failed.
        file: String,
        /// The magic number found.
        found: u32,
        /// A description of the magic number expected.
        expected: &'static str,
    },
    /// An image file and its label file disagree on the number of examples.
    #[error(
        "{labels_file} holds {labels} labels but {images_file} holds {images} images; use the label file of the same split (train or test)"
    )]
    CountMismatch {
        /// The image file.
        images_file: String,
        /// The label file.
        labels_file: String,
        /// The number of images.
        images: usize,
        /// The number of labels.
        labels: usize,
    },
    /// A label is not smaller than the number of classes.
    #[error(
        "{file}: label {label} of record {index} is out of range 0..{num_classes}; the file is corrupt or belongs to another data set"
    )]
    LabelOutOfRange {
        /// The file that failed.
        file: String,
        /// The zero-based record number.
        index: usize,
        /// The offending label.
        label: u32,
        /// The number of classes expected.
        num_classes: usize,
    },
    /// The dimensions stored in (or implied by) the file are not the expected ones.
    #[error("{file} has the wrong dimensions: {detail}")]
    WrongDimensions {
        /// The file that failed.
        file: String,
        /// What was expected and what was found.
        detail: String,
    },
    /// The file uses a variant of the format that this crate does not read.
    #[error("{file}: {detail}")]
    Unsupported {
        /// The file that failed.
        file: String,
        /// What is unsupported and what to do.
        detail: String,
    },
    /// A CSV file is malformed or does not match its schema.
    #[error("{file}, line {line}: {detail}")]
    Csv {
        /// The file that failed.
        file: String,
        /// The one-based line number (0 when unknown).
        line: u64,
        /// What is wrong and what to do.
        detail: String,
    },
    /// A data directory lacks one of the files it must contain.
    #[error("{dir} has no file {expected}; {hint}")]
    MissingFile {
        /// The directory searched.
        dir: String,
        /// The file names accepted.
        expected: String,
        /// What to do.
        hint: &'static str,
    },
    /// A zip (`.npz`) archive or one of its members cannot be read.
    #[error("{file}: {detail}")]
    CorruptArchive {
        /// The archive, or `archive:member`.
        file: String,
        /// What is wrong and what to do.
        detail: String,
    },
    /// An `.npz` archive lacks an array the format needs.
    #[error(
        "{file} has no array {array} (it holds: {present}); a MedMNIST .npz holds train_images, train_labels, val_images, val_labels, test_images and test_labels"
    )]
    MissingArray {
        /// The archive.
        file: String,
        /// The missing array.
        array: &'static str,
        /// The members it holds.
        present: String,
    },
    /// A parameter is outside its valid range.
    #[error("invalid parameter `{name}`: {detail}")]
    InvalidParameter {
        /// The parameter name.
        name: &'static str,
        /// What is wrong and what is allowed.
        detail: String,
    },
    /// In-memory data is inconsistent (for example buffer lengths that disagree with a shape).
    #[error("invalid data: {detail}")]
    InvalidData {
        /// What is wrong.
        detail: String,
    },
}

/// `Result` with [`DatasetError`] as the error type.
pub type Result<T, E = DatasetError> = std::result::Result<T, E>;

/// Builds a [`DatasetError::InvalidParameter`].
pub(crate) fn invalid_parameter(name: &'static str, detail: impl Into<String>) -> DatasetError {
    DatasetError::InvalidParameter {
        name,
        detail: detail.into(),
    }
}

/// Builds a [`DatasetError::InvalidData`].
pub(crate) fn invalid_data(detail: impl Into<String>) -> DatasetError {
    DatasetError::InvalidData {
        detail: detail.into(),
    }
}
