//! The CIFAR-10 binary reader on small batch files written by the tests.

use std::path::Path;

use smallscale_datasets::cifar::{
    CIFAR10_ARCHIVE_DIR, CIFAR10_IMAGE_BYTES, CIFAR10_RECORD_BYTES, CIFAR10_SHAPE,
    CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, cifar10_from_dir, encode_cifar10_batch,
    read_cifar10_batch,
};
use smallscale_datasets::gzip::gzip_bytes;
use smallscale_datasets::{DatasetError, ImageDataset};

fn batch(labels: &[u32], fill: u8) -> ImageDataset {
    let mut pixels = Vec::new();
    for (i, _) in labels.iter().enumerate() {
        pixels.extend((0..CIFAR10_IMAGE_BYTES).map(|p| fill.wrapping_add((p + i) as u8)));
    }
    let names = smallscale_datasets::cifar::CIFAR10_CLASS_NAMES
        .iter()
        .map(|s| s.to_string())
        .collect();
    ImageDataset::new(pixels, labels.to_vec(), CIFAR10_SHAPE, names).unwrap()
}

fn write_dir(dir: &Path) {
    for (i, name) in CIFAR10_TRAIN_FILES.iter().enumerate() {
        let bytes = encode_cifar10_batch(&batch(&[i as u32, 9 - i as u32], i as u8)).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let bytes = encode_cifar10_batch(&batch(&[3, 4, 5], 200)).unwrap();
    std::fs::write(dir.join(CIFAR10_TEST_FILE), bytes).unwrap();
}

#[test]
fn batch_round_trip_raw_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let data = batch(&[0, 9, 4], 17);
    let raw = encode_cifar10_batch(&data).unwrap();
    assert_eq!(raw.len(), 3 * CIFAR10_RECORD_BYTES);
    assert_eq!(raw[CIFAR10_RECORD_BYTES], 9);
    let raw_path = dir.path().join("data_batch_1.bin");
    std::fs::write(&raw_path, &raw).unwrap();
    assert_eq!(read_cifar10_batch(&raw_path).unwrap(), data);
    let gz_path = dir.path().join("gz.bin");
    std::fs::write(&gz_path, gzip_bytes(&raw)).unwrap();
    assert_eq!(read_cifar10_batch(&gz_path).unwrap(), data);
}

#[test]
fn corrupt_batches_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let raw = encode_cifar10_batch(&batch(&[1, 2], 0)).unwrap();
    let mut bad_label = raw.clone();
    bad_label[CIFAR10_RECORD_BYTES] = 10;
    let cases: [(&str, &[u8]); 3] = [
        ("empty.bin", &[]),
        ("truncated.bin", &raw[..raw.len() - 1]),
        ("bad-label.bin", &bad_label),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = read_cifar10_batch(&path).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
        match name {
            "bad-label.bin" => assert!(
                matches!(
                    err,
                    DatasetError::LabelOutOfRange {
                        index: 1,
                        label: 10,
                        ..
                    }
                ),
                "{err}"
            ),
            _ => assert!(matches!(err, DatasetError::Truncated { .. }), "{err}"),
        }
    }
    let err = read_cifar10_batch(&dir.path().join("absent.bin")).unwrap_err();
    assert!(matches!(err, DatasetError::Io { .. }), "{err}");
}

#[test]
fn directory_with_six_batches() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path());
    let (train, test) = cifar10_from_dir(dir.path()).unwrap();
    assert_eq!((train.len(), test.len()), (10, 3));
    assert_eq!(train.labels(), &[0, 9, 1, 8, 2, 7, 3, 6, 4, 5]);
    assert_eq!(test.labels(), &[3, 4, 5]);
    assert_eq!(train.class_names()[1], "automobile");

    let outer = tempfile::tempdir().unwrap();
    let nested = outer.path().join(CIFAR10_ARCHIVE_DIR);
    std::fs::create_dir(&nested).unwrap();
    write_dir(&nested);
    assert_eq!(cifar10_from_dir(outer.path()).unwrap().0.len(), 10);

    std::fs::remove_file(nested.join("data_batch_3.bin")).unwrap();
    let err = cifar10_from_dir(outer.path()).unwrap_err();
    assert!(matches!(err, DatasetError::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("data_batch_3.bin"), "{err}");
}

#[test]
fn encoding_rejects_non_cifar_data() {
    let names = vec!["a".to_string(); 11];
    let wrong_shape = ImageDataset::new(
        vec![0; 4],
        vec![0],
        smallscale_datasets::ImageShape::new(1, 2, 2),
        names.clone(),
    )
    .unwrap();
    assert!(encode_cifar10_batch(&wrong_shape).is_err());
    let label_10 =
        ImageDataset::new(vec![0; CIFAR10_IMAGE_BYTES], vec![10], CIFAR10_SHAPE, names).unwrap();
    assert!(encode_cifar10_batch(&label_10).is_err());
}
