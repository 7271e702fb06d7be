#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod adult;
pub mod augment;
pub mod batch;
pub mod cifar;
pub mod csv_table;
pub mod encode;
pub mod errors;
pub mod fashion_mnist;
pub mod gzip;
pub mod idx;
pub mod image;
pub mod medmnist;
pub mod normalize;
pub mod npy;
pub mod source;
pub mod split;

pub use adult::{AdultData, MissingRows, adult_embedded};
pub use augment::AugmentParams;
pub use batch::{BatchParams, ImageBatch, ImageBatcher};
pub use errors::{DatasetError, Result};
pub use fashion_mnist::{fashion_mnist_embedded, fashion_mnist_from_dir};
pub use image::{ImageDataset, ImageShape};
#[cfg(feature = "pneumoniamnist")]
pub use medmnist::pneumoniamnist_embedded;
pub use medmnist::{MedMnist, medmnist_from_npz, medmnist_from_npz_bytes};
pub use normalize::ChannelNormalization;
pub use source::{DataSource, SourceSplits};
pub use split::{SplitIndices, SplitParams};
