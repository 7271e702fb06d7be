//! Fashion-MNIST: the embedded stratified subset and the full set read from a directory.
//!
//! Fashion-MNIST (Zalando Research, MIT licence) has 60,000 training and 10,000 test
//! grey-scale 28x28 images of clothing in 10 classes, in the MNIST IDX format. This crate
//! embeds a stratified subset of it (see `data/fashion-mnist-subset/PROVENANCE.md`), so
//! examples and tests run with no download; the full set is read from a directory.

use std::path::Path;

use crate::errors::Result;
use crate::idx::{
    TEST_IMAGES_FILE, TEST_LABELS_FILE, TRAIN_IMAGES_FILE, TRAIN_LABELS_FILE,
    image_dataset_from_idx, mnist_style_from_dir, parse_idx,
};
use crate::image::ImageDataset;

/// The ten Fashion-MNIST classes, indexed by label.
pub const FASHION_MNIST_CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Where Debian's package `dataset-fashion-mnist` installs the full set
/// (`apt-get install dataset-fashion-mnist`), as four gzip'd IDX files.
pub const FASHION_MNIST_DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Training images per class in the embedded subset.
pub const EMBEDDED_TRAIN_PER_CLASS: usize = 800;
/// Test images per class in the embedded subset.
pub const EMBEDDED_TEST_PER_CLASS: usize = 200;
/// The seed with which the embedded subset was drawn (train and test alike).
pub const EMBEDDED_SUBSET_SEED: u64 = 20_240_601;

const EMBEDDED_DIR: &str = "embedded fashion-mnist-subset";
static TRAIN_IMAGES_GZ: &[u8] =
    include_bytes!("../data/fashion-mnist-subset/train-images-idx3-ubyte.gz");
static TRAIN_LABELS_GZ: &[u8] =
    include_bytes!("../data/fashion-mnist-subset/train-labels-idx1-ubyte.gz");
static TEST_IMAGES_GZ: &[u8] =
    include_bytes!("../data/fashion-mnist-subset/t10k-images-idx3-ubyte.gz");
static TEST_LABELS_GZ: &[u8] =
    include_bytes!("../data/fashion-mnist-subset/t10k-labels-idx1-ubyte.gz");

fn embedded_split(
    images: &'static [u8],
    images_name: &str,
    labels: &'static [u8],
    labels_name: &str,
) -> Result<ImageDataset> {
    let images_file = format!("{EMBEDDED_DIR}/{images_name}.gz");
    let labels_file = format!("{EMBEDDED_DIR}/{labels_name}.gz");
    image_dataset_from_idx(
        parse_idx(images.to_vec(), &images_file)?,
        &images_file,
        parse_idx(labels.to_vec(), &labels_file)?,
        &labels_file,
        Some((28, 28)),
        &FASHION_MNIST_CLASS_NAMES,
    )
}

/// The embedded Fashion-MNIST subset as `(train, test)`: 8,000 training images (800 per
/// class) and 2,000 test images (200 per class), 1x28x28, drawn from the official splits.
///
/// Decompresses about 3.5 MB of embedded gzip data on each call; keep the result rather than
/// calling it repeatedly. The error case cannot happen with the data shipped in the crate.
///
/// ```
/// let (train, test) = smallscale_datasets::fashion_mnist_embedded()?;
/// assert_eq!((train.len(), test.len()), (8_000, 2_000));
/// assert_eq!(train.class_counts(), vec![800; 10]);
/// assert_eq!(train.class_names()[9], "Ankle boot");
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
pub fn fashion_mnist_embedded() -> Result<(ImageDataset, ImageDataset)> {
    let train = embedded_split(
        TRAIN_IMAGES_GZ,
        TRAIN_IMAGES_FILE,
        TRAIN_LABELS_GZ,
        TRAIN_LABELS_FILE,
    )?;
    let test = embedded_split(
        TEST_IMAGES_GZ,
        TEST_IMAGES_FILE,
        TEST_LABELS_GZ,
        TEST_LABELS_FILE,
    )?;
    Ok((train, test))
}

/// Reads the full Fashion-MNIST `(train, test)` from a directory holding the four standard
/// files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
/// `t10k-labels-idx1-ubyte`), each raw or gzip'd with a `.gz` suffix.
///
/// After `apt-get install dataset-fashion-mnist`, pass [`FASHION_MNIST_DEBIAN_DIR`].
///
/// ```no_run
/// use smallscale_datasets::fashion_mnist::{FASHION_MNIST_DEBIAN_DIR, fashion_mnist_from_dir};
/// let (train, test) = fashion_mnist_from_dir(FASHION_MNIST_DEBIAN_DIR.as_ref())?;
/// assert_eq!((train.len(), test.len()), (60_000, 10_000));
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
pub fn fashion_mnist_from_dir(dir: &Path) -> Result<(ImageDataset, ImageDataset)> {
    mnist_style_from_dir(
        dir,
        &FASHION_MNIST_CLASS_NAMES,
        "install the full set with `apt-get install dataset-fashion-mnist` (files in /usr/share/datasets/fashion-mnist) or download the four files from https://github.com/zalandoresearch/fashion-mnist",
    )
}
