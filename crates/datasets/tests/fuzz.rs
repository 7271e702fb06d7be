//! Damaged IDX and CIFAR-10 files (bit flips, inserted bytes, overwritten header fields,
//! truncations) give a data set or a clear error, never a panic.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use smallscale_datasets::cifar::{encode_cifar10_batch, parse_cifar10_batch};
use smallscale_datasets::idx::{IdxArray, image_dataset_from_idx, parse_idx};
use smallscale_io::{ByteEdits, byte_edits};

/// Valid files, built once.
static IDX: std::sync::LazyLock<[Vec<u8>; 3]> = std::sync::LazyLock::new(idx_files);
static CIFAR: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(cifar_file);

/// Three 28x28 images and their labels, as IDX bytes (raw and gzip'd).
fn idx_files() -> [Vec<u8>; 3] {
    let images = IdxArray::new(
        vec![3, 28, 28],
        (0..3 * 784).map(|i| (i % 251) as u8).collect(),
    )
    .unwrap()
    .to_bytes();
    let labels = IdxArray::new(vec![3], vec![1, 7, 9]).unwrap().to_bytes();
    let gz = smallscale_datasets::gzip::gzip_bytes(&labels);
    [images, labels, gz]
}

fn cifar_file() -> Vec<u8> {
    let mut bytes = Vec::new();
    for k in 0..3u8 {
        bytes.push(k);
        bytes.extend((0..3072).map(|i| (i as u8).wrapping_mul(k + 1)));
    }
    let parsed = parse_cifar10_batch(bytes.clone(), "valid").unwrap();
    assert_eq!(encode_cifar10_batch(&parsed).unwrap(), bytes);
    bytes
}

fn check(result: Result<usize, smallscale_datasets::DatasetError>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        prop_assert!(!e.to_string().is_empty());
    }
    Ok(())
}

fn idx_case(edits: &ByteEdits, which: usize, files: &[Vec<u8>; 3]) -> Result<(), TestCaseError> {
    let damaged = edits.apply(&files[which % 3]);
    check(parse_idx(damaged.clone(), "damaged.idx").map(|a| a.data().len()))?;
    // As the label file of a data set with the valid images (or as the images).
    let (images, labels) = if which % 3 == 0 {
        (
            parse_idx(damaged, "images"),
            parse_idx(files[1].clone(), "labels"),
        )
    } else {
        (
            parse_idx(files[0].clone(), "images"),
            parse_idx(damaged, "labels"),
        )
    };
    if let (Ok(images), Ok(labels)) = (images, labels) {
        check(
            image_dataset_from_idx(images, "images", labels, "labels", None, &["c"; 10])
                .map(|d| d.len()),
        )?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn damaged_idx_files_never_panic(edits in byte_edits(3 * 784 + 16), which in 0usize..3) {
        idx_case(&edits, which, &IDX)?;
    }

    #[test]
    fn damaged_cifar_batches_never_panic(edits in byte_edits(3 * 3073)) {
        check(parse_cifar10_batch(edits.apply(&CIFAR), "damaged.bin").map(|d| d.len()))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000_000))]

    #[test]
    #[ignore = "a million damaged IDX files (minutes): cargo test --release -p smallscale-datasets --test fuzz -- --ignored"]
    fn a_million_damaged_idx_files_never_panic(edits in byte_edits(3 * 784 + 16), which in 0usize..3) {
        idx_case(&edits, which, &IDX)?;
    }

    #[test]
    #[ignore = "a million damaged CIFAR-10 batches (minutes): cargo test --release -p smallscale-datasets --test fuzz -- --ignored"]
    fn a_million_damaged_cifar_batches_never_panic(edits in byte_edits(3 * 3073)) {
        check(parse_cifar10_batch(edits.apply(&CIFAR), "damaged.bin").map(|d| d.len()))?;
    }
}
