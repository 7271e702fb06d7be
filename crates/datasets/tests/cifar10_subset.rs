//! The CIFAR-10 reader on real bytes: the repository's `data/cifar10-subset` (the first 1,017
//! images of each official batch; see its PROVENANCE.md) against the labels, class counts and
//! pixel sums of the files computed outside this reader.

use std::path::PathBuf;

use smallscale_datasets::cifar::{CIFAR10_CLASS_NAMES, cifar10_from_dir};

fn subset_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/cifar10-subset")
}

#[test]
fn the_real_subset_reads_with_its_official_labels_counts_and_pixels() {
    let dir = subset_dir();
    assert!(
        dir.is_dir(),
        "{} is missing from the checkout",
        dir.display()
    );
    let (train, test) = cifar10_from_dir(&dir).unwrap();
    assert_eq!((train.len(), test.len()), (5085, 1017));
    // The official first labels of data_batch_1 and test_batch.
    assert_eq!(train.labels()[..10], [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]);
    assert_eq!(test.labels()[..10], [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
    assert_eq!(
        train.class_counts(),
        [517, 524, 490, 493, 537, 475, 503, 516, 529, 501]
    );
    assert_eq!(
        test.class_counts(),
        [105, 93, 100, 104, 92, 87, 114, 102, 110, 110]
    );
    // Sums of every pixel byte (label bytes excluded), computed from the files with Python.
    let sum = |d: &smallscale_datasets::ImageDataset| {
        d.pixels().iter().map(|&p| u64::from(p)).sum::<u64>()
    };
    assert_eq!(sum(&train), 1_894_073_709);
    assert_eq!(sum(&test), 380_676_608);
    assert_eq!(train.class_names(), CIFAR10_CLASS_NAMES);
}
