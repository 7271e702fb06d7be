//! Damaged IDX and CIFAR-10 files (bit flips, inserted bytes, overwritten header fields,
//! truncations) give a data set or a clear error, never a panic.

use smallscale_datasets::cifar::parse_cifar10_batch;
use smallscale_datasets::idx::{IdxArray, image_dataset_from_idx, parse_idx};
use smallscale_datasets::{DatasetError, gzip::gzip_bytes};
use smallscale_io::check_damaged_inputs;

fn images() -> Vec<u8> {
    IdxArray::new(
        vec![3, 28, 28],
        (0..3 * 784).map(|i| (i % 251) as u8).collect(),
    )
    .unwrap()
    .to_bytes()
}

fn labels() -> Vec<u8> {
    IdxArray::new(vec![3], vec![1, 7, 9]).unwrap().to_bytes()
}

fn cifar() -> Vec<u8> {
    let mut bytes = Vec::new();
    for k in 0..3u8 {
        bytes.push(k);
        bytes.extend((0..3072).map(|i| (i as u8).wrapping_mul(k + 1)));
    }
    assert!(parse_cifar10_batch(bytes.clone(), "valid").is_ok());
    bytes
}

/// A damaged image file read with valid labels, into a data set.
fn read_images(bytes: &[u8]) -> Result<(), DatasetError> {
    let images = parse_idx(bytes.to_vec(), "images")?;
    let labels = parse_idx(labels(), "labels")?;
    image_dataset_from_idx(
        images,
        "images",
        labels,
        "labels",
        Some((28, 28)),
        &["c"; 10],
    )?;
    Ok(())
}

/// A damaged (maybe gzip'd) label file read with valid images, into a data set.
fn read_labels(bytes: &[u8]) -> Result<(), DatasetError> {
    let images = parse_idx(images(), "images")?;
    let labels = parse_idx(bytes.to_vec(), "labels")?;
    image_dataset_from_idx(images, "images", labels, "labels", None, &["c"; 10])?;
    Ok(())
}

fn read_cifar(bytes: &[u8]) -> Result<(), DatasetError> {
    parse_cifar10_batch(bytes.to_vec(), "damaged.bin").map(|_| ())
}

fn all_readers(cases: u32) -> u32 {
    let gz = gzip_bytes(&labels());
    check_damaged_inputs(&images(), cases, read_images).unwrap()
        + check_damaged_inputs(&labels(), cases, read_labels).unwrap()
        + check_damaged_inputs(&gz, cases, read_labels).unwrap()
        + check_damaged_inputs(&cifar(), cases, read_cifar).unwrap()
}

#[test]
fn damaged_idx_and_cifar_files_never_panic() {
    assert_eq!(all_readers(256), 4 * 256);
}

#[test]
#[ignore = "a million damaged files per reader (about a minute): cargo test -p smallscale-datasets --test fuzz -- --ignored --nocapture"]
fn a_million_damaged_files_per_reader_never_panic() {
    let n = all_readers(1_000_000);
    println!("{n} damaged IDX (raw and gzip) and CIFAR-10 files read");
    assert_eq!(n, 4_000_000);
}
