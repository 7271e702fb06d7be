//! Regenerates the embedded Fashion-MNIST subset from the full set.
//!
//! ```text
//! apt-get install dataset-fashion-mnist
//! cargo run --release -p smallscale-datasets --example make_fashion_subset -- \
//!     /usr/share/datasets/fashion-mnist crates/datasets/data/fashion-mnist-subset
//! ```
//!
//! From each official split it draws, per class, a fixed number of images uniformly at random
//! with a ChaCha8 generator seeded with `EMBEDDED_SUBSET_SEED` (the same seed for train and
//! test), keeps them in their original order, and writes the four IDX files gzip'd (best
//! compression, no file name, zero time stamp, so the output is byte-for-byte reproducible).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use smallscale_datasets::fashion_mnist::{
    EMBEDDED_SUBSET_SEED, EMBEDDED_TEST_PER_CLASS, EMBEDDED_TRAIN_PER_CLASS,
    FASHION_MNIST_CLASS_NAMES, fashion_mnist_from_dir,
};
use smallscale_datasets::idx::{
    IdxArray, TEST_IMAGES_FILE, TEST_LABELS_FILE, TRAIN_IMAGES_FILE, TRAIN_LABELS_FILE,
};
use smallscale_datasets::split::stratified_sample_indices;
use smallscale_datasets::{ImageDataset, Result};

fn write_subset(
    full: &ImageDataset,
    per_class: usize,
    out_dir: &Path,
    images_file: &str,
    labels_file: &str,
) -> Result<()> {
    let chosen = stratified_sample_indices(
        full.labels(),
        FASHION_MNIST_CLASS_NAMES.len(),
        per_class,
        EMBEDDED_SUBSET_SEED,
    )?;
    let subset = full.subset(&chosen)?;
    let shape = subset.shape();
    let images = IdxArray::new(
        vec![subset.len(), shape.height, shape.width],
        subset.pixels().to_vec(),
    )?;
    let labels = IdxArray::new(
        vec![subset.len()],
        subset.labels().iter().map(|&l| l as u8).collect(),
    )?;
    let images_path = out_dir.join(format!("{images_file}.gz"));
    let labels_path = out_dir.join(format!("{labels_file}.gz"));
    images.write(&images_path, true)?;
    labels.write(&labels_path, true)?;
    for path in [images_path, labels_path] {
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        println!("wrote {} ({bytes} bytes)", path.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: make_fashion_subset <full-fashion-mnist-dir> <output-dir>");
        return ExitCode::from(2);
    }
    let (source, out_dir) = (PathBuf::from(&args[1]), PathBuf::from(&args[2]));
    let run = || -> Result<()> {
        let (train, test) = fashion_mnist_from_dir(&source)?;
        write_subset(
            &train,
            EMBEDDED_TRAIN_PER_CLASS,
            &out_dir,
            TRAIN_IMAGES_FILE,
            TRAIN_LABELS_FILE,
        )?;
        write_subset(
            &test,
            EMBEDDED_TEST_PER_CLASS,
            &out_dir,
            TEST_IMAGES_FILE,
            TEST_LABELS_FILE,
        )?;
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
