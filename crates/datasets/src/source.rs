//! Where a data set comes from, as a run records it: enough to load the same images again.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::errors::Result;
use crate::image::ImageDataset;
use crate::{cifar, idx};

/// A data set the workspace can read: the embedded Fashion-MNIST subset, or a directory of
/// Fashion-MNIST, MNIST or CIFAR-10 files. Serialised with a `source` tag, as in a run's
/// `config.json`.
///
/// ```
/// use smallscale_datasets::DataSource;
/// let (train, test) = DataSource::EmbeddedFashionMnist.load()?;
/// assert_eq!((train.len(), test.len()), (8000, 2000));
/// assert_eq!(DataSource::EmbeddedFashionMnist.describe(), "embedded Fashion-MNIST subset");
/// let json = serde_json::to_string(&DataSource::Cifar10 { path: "/data/cifar".into() }).unwrap();
/// assert_eq!(json, r#"{"source":"cifar10","path":"/data/cifar"}"#);
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum DataSource {
    /// The embedded Fashion-MNIST subset.
    EmbeddedFashionMnist,
    /// Full Fashion-MNIST read from a directory.
    FashionMnist {
        /// The directory (absolute, so a run can be resumed or evaluated from elsewhere).
        path: PathBuf,
    },
    /// MNIST read from a directory.
    Mnist {
        /// The directory (absolute).
        path: PathBuf,
    },
    /// CIFAR-10 binary batches read from a directory.
    #[serde(rename = "cifar10")]
    Cifar10 {
        /// The directory (absolute).
        path: PathBuf,
    },
}

impl DataSource {
    /// Reads `(train, test)`.
    ///
    /// # Errors
    ///
    /// The reader's error, naming the file and what to do.
    pub fn load(&self) -> Result<(ImageDataset, ImageDataset)> {
        match self {
            Self::EmbeddedFashionMnist => crate::fashion_mnist_embedded(),
            Self::FashionMnist { path } => crate::fashion_mnist_from_dir(path),
            Self::Mnist { path } => idx::mnist_from_dir(path),
            Self::Cifar10 { path } => cifar::cifar10_from_dir(path),
        }
    }

    /// The image shape `[channels, height, width]` and the number of classes of the format, known
    /// without reading the files.
    ///
    /// ```
    /// use smallscale_datasets::DataSource;
    /// assert_eq!(DataSource::EmbeddedFashionMnist.shape_and_classes(), ([1, 28, 28], 10));
    /// assert_eq!(DataSource::Cifar10 { path: "c".into() }.shape_and_classes(), ([3, 32, 32], 10));
    /// ```
    pub fn shape_and_classes(&self) -> ([usize; 3], usize) {
        match self {
            Self::EmbeddedFashionMnist | Self::FashionMnist { .. } | Self::Mnist { .. } => {
                ([1, 28, 28], 10)
            }
            Self::Cifar10 { .. } => ([3, 32, 32], 10),
        }
    }

    /// A short human description.
    pub fn describe(&self) -> String {
        match self {
            Self::EmbeddedFashionMnist => "embedded Fashion-MNIST subset".into(),
            Self::FashionMnist { path } => format!("Fashion-MNIST from {}", path.display()),
            Self::Mnist { path } => format!("MNIST from {}", path.display()),
            Self::Cifar10 { path } => format!("CIFAR-10 from {}", path.display()),
        }
    }
}
