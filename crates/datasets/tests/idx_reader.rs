//! The IDX reader and MNIST-style directories, on small files written by the tests, including
//! every corrupt variant.

use std::path::{Path, PathBuf};

use smallscale_datasets::DatasetError;
use smallscale_datasets::fashion_mnist::{FASHION_MNIST_DEBIAN_DIR, fashion_mnist_from_dir};
use smallscale_datasets::gzip::gzip_bytes;
use smallscale_datasets::idx::{
    IdxArray, MNIST_CLASS_NAMES, TEST_IMAGES_FILE, TEST_LABELS_FILE, TRAIN_IMAGES_FILE,
    TRAIN_LABELS_FILE, mnist_from_dir, read_idx, read_idx_image_dataset,
};

fn images(n: usize, h: usize, w: usize) -> IdxArray {
    let data = (0..n * h * w).map(|i| (i % 251) as u8).collect();
    IdxArray::new(vec![n, h, w], data).unwrap()
}

fn labels(values: &[u8]) -> IdxArray {
    IdxArray::new(vec![values.len()], values.to_vec()).unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Asserts the error's message names `file`, and returns the error.
fn error_naming(
    result: smallscale_datasets::Result<impl std::fmt::Debug>,
    file: &str,
) -> DatasetError {
    let err = result.expect_err("expected an error");
    assert!(
        err.to_string().contains(file),
        "`{err}` does not name {file}"
    );
    err
}

#[test]
fn reads_raw_and_gzip_whatever_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    let array = images(3, 4, 5);
    let raw = array.to_bytes();
    let gz = gzip_bytes(&raw);
    for (name, bytes) in [
        ("a-raw", &raw),
        ("b.gz", &gz),
        ("c-gz-without-extension", &gz),
        ("d-raw-with.gz", &raw),
    ] {
        let path = write(dir.path(), name, bytes);
        assert_eq!(read_idx(&path).unwrap(), array, "{name}");
    }
}

#[test]
fn image_and_label_files_make_a_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let img = write(dir.path(), "img", &images(3, 2, 2).to_bytes());
    let lab = write(dir.path(), "lab", &labels(&[9, 0, 4]).to_bytes());
    let data = read_idx_image_dataset(&img, &lab, None, &MNIST_CLASS_NAMES).unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data.labels(), &[9, 0, 4]);
    assert_eq!(data.image(1), Some(&[4u8, 5, 6, 7][..]));
    assert_eq!(data.shape().channels, 1);
}

#[test]
fn truncated_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let raw = images(2, 3, 3).to_bytes();
    for (name, cut) in [
        ("empty", 0),
        ("magic-only", 4),
        ("half-header", 9),
        ("short-body", raw.len() - 1),
    ] {
        let path = write(dir.path(), name, &raw[..cut]);
        let err = error_naming(read_idx(&path), name);
        assert!(
            matches!(err, DatasetError::Truncated { .. }),
            "{name}: {err}"
        );
    }
}

#[test]
fn trailing_bytes_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut raw = labels(&[1, 2]).to_bytes();
    raw.push(0);
    let path = write(dir.path(), "long", &raw);
    let err = error_naming(read_idx(&path), "long");
    assert!(matches!(err, DatasetError::TrailingBytes { .. }), "{err}");
}

#[test]
fn wrong_magic_numbers_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut png_like = labels(&[1]).to_bytes();
    png_like[..4].copy_from_slice(&[0x89, b'P', b'N', b'G']);
    let path = write(dir.path(), "not-idx", &png_like);
    let err = error_naming(read_idx(&path), "not-idx");
    assert!(matches!(err, DatasetError::BadMagic { .. }), "{err}");

    let zero_dims = write(dir.path(), "zero-dims", &[0, 0, 8, 0]);
    let err = error_naming(read_idx(&zero_dims), "zero-dims");
    assert!(matches!(err, DatasetError::BadMagic { .. }), "{err}");

    let mut floats = labels(&[1]).to_bytes();
    floats[2] = 0x0D;
    let path = write(dir.path(), "floats", &floats);
    let err = error_naming(read_idx(&path), "floats");
    assert!(matches!(err, DatasetError::Unsupported { .. }), "{err}");
}

#[test]
fn swapped_image_and_label_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let img = write(dir.path(), "the-images", &images(2, 2, 2).to_bytes());
    let lab = write(dir.path(), "the-labels", &labels(&[1, 2]).to_bytes());
    let err = error_naming(
        read_idx_image_dataset(&lab, &img, None, &MNIST_CLASS_NAMES),
        "the-labels",
    );
    assert!(matches!(err, DatasetError::BadMagic { .. }), "{err}");
    let two_d = IdxArray::new(vec![2, 1], vec![1, 2]).unwrap();
    let lab2 = write(dir.path(), "labels-2d", &two_d.to_bytes());
    let err = error_naming(
        read_idx_image_dataset(&img, &lab2, None, &MNIST_CLASS_NAMES),
        "labels-2d",
    );
    assert!(matches!(err, DatasetError::BadMagic { .. }), "{err}");
}

#[test]
fn label_count_mismatch_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let img = write(dir.path(), "img", &images(3, 2, 2).to_bytes());
    let lab = write(dir.path(), "lab", &labels(&[1, 2]).to_bytes());
    let err = error_naming(
        read_idx_image_dataset(&img, &lab, None, &MNIST_CLASS_NAMES),
        "lab",
    );
    assert!(
        matches!(
            err,
            DatasetError::CountMismatch {
                images: 3,
                labels: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn labels_out_of_range_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let img = write(dir.path(), "img", &images(3, 2, 2).to_bytes());
    let lab = write(dir.path(), "lab", &labels(&[1, 10, 2]).to_bytes());
    let err = error_naming(
        read_idx_image_dataset(&img, &lab, None, &MNIST_CLASS_NAMES),
        "lab",
    );
    assert!(
        matches!(
            err,
            DatasetError::LabelOutOfRange {
                index: 1,
                label: 10,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn corrupt_gzip_and_missing_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let gz = gzip_bytes(&images(5, 28, 28).to_bytes());
    let path = write(dir.path(), "cut.gz", &gz[..gz.len() / 2]);
    let err = error_naming(read_idx(&path), "cut.gz");
    assert!(matches!(err, DatasetError::CorruptGzip { .. }), "{err}");
    let missing = dir.path().join("nope");
    let err = error_naming(read_idx(&missing), "nope");
    assert!(matches!(err, DatasetError::Io { .. }), "{err}");
}

/// Writes the four standard files (28x28), gzip'd or not.
fn write_mnist_dir(dir: &Path, gzip: bool, train_hw: usize, test_labels: &[u8]) {
    let suffix = if gzip { ".gz" } else { "" };
    let entries = [
        (TRAIN_IMAGES_FILE, images(4, train_hw, train_hw)),
        (TRAIN_LABELS_FILE, labels(&[0, 9, 3, 3])),
        (TEST_IMAGES_FILE, images(2, 28, 28)),
        (TEST_LABELS_FILE, labels(test_labels)),
    ];
    for (name, array) in entries {
        array
            .write(&dir.join(format!("{name}{suffix}")), gzip)
            .unwrap();
    }
}

#[test]
fn fashion_mnist_directory_raw_and_gzip() {
    for gzip in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        write_mnist_dir(dir.path(), gzip, 28, &[5, 7]);
        let (train, test) = fashion_mnist_from_dir(dir.path()).unwrap();
        assert_eq!((train.len(), test.len()), (4, 2));
        assert_eq!(test.labels(), &[5, 7]);
        assert_eq!(train.class_names()[0], "T-shirt/top");
        let (digits, _) = mnist_from_dir(dir.path()).unwrap();
        assert_eq!(digits.class_names()[9], "9");
    }
}

#[test]
fn fashion_mnist_directory_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist_dir(dir.path(), true, 32, &[5, 7]);
    let err = error_naming(fashion_mnist_from_dir(dir.path()), TRAIN_IMAGES_FILE);
    assert!(matches!(err, DatasetError::WrongDimensions { .. }), "{err}");

    let dir = tempfile::tempdir().unwrap();
    write_mnist_dir(dir.path(), false, 28, &[5, 10]);
    let err = error_naming(fashion_mnist_from_dir(dir.path()), TEST_LABELS_FILE);
    assert!(matches!(err, DatasetError::LabelOutOfRange { .. }), "{err}");

    std::fs::remove_file(dir.path().join(TEST_IMAGES_FILE)).unwrap();
    let err = error_naming(fashion_mnist_from_dir(dir.path()), TEST_IMAGES_FILE);
    assert!(matches!(err, DatasetError::MissingFile { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("apt-get install dataset-fashion-mnist")
    );

    let err = fashion_mnist_from_dir(&dir.path().join("absent")).unwrap_err();
    assert!(matches!(err, DatasetError::Io { .. }), "{err}");
}

#[test]
#[ignore = "needs the dataset-fashion-mnist package"]
fn reads_the_debian_package() {
    let (train, test) = fashion_mnist_from_dir(Path::new(FASHION_MNIST_DEBIAN_DIR)).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(train.class_counts(), vec![6_000; 10]);
    assert_eq!(test.class_counts(), vec![1_000; 10]);
}
