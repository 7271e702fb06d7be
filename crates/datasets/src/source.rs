//! Where a data set comes from, as a run records it: enough to load the same images again.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::errors::Result;
use crate::image::ImageDataset;
use crate::{cifar, idx};

/// A data set the workspace can read: the embedded Fashion-MNIST subset or PneumoniaMNIST, a
/// directory of Fashion-MNIST, MNIST or CIFAR-10 files, or a MedMNIST `.npz` file. Serialized with
/// a `source` tag, as in a run's `config.json`.
///
/// ```
/// use smallscale_datasets::DataSource;
/// let splits = DataSource::EmbeddedFashionMnist.load()?;
/// assert_eq!((splits.train.len(), splits.test.len()), (8000, 2000));
/// assert!(splits.validation.is_none()); // split off the training set by the caller
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
    /// PneumoniaMNIST, embedded (feature `pneumoniamnist`), with its released validation split.
    #[serde(rename = "embedded-pneumoniamnist")]
    EmbeddedPneumoniaMnist,
    /// A MedMNIST `.npz` file, with its released validation split.
    #[serde(rename = "medmnist")]
    MedMnist {
        /// The file (absolute).
        path: PathBuf,
    },
}

/// The splits a [`DataSource`] provides: train and test always, validation where the data set
/// releases one (MedMNIST); otherwise the caller splits it off the training set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSplits {
    /// The training split.
    pub train: ImageDataset,
    /// The released validation split, if any.
    pub validation: Option<ImageDataset>,
    /// The test split.
    pub test: ImageDataset,
}

impl SourceSplits {
    fn without_validation((train, test): (ImageDataset, ImageDataset)) -> Self {
        Self {
            train,
            validation: None,
            test,
        }
    }

    fn of(data: crate::medmnist::MedMnist) -> Self {
        Self {
            train: data.train,
            validation: Some(data.validation),
            test: data.test,
        }
    }
}

impl DataSource {
    /// Reads the splits.
    ///
    /// # Errors
    ///
    /// The reader's error, naming the file and what to do.
    pub fn load(&self) -> Result<SourceSplits> {
        Ok(match self {
            Self::EmbeddedFashionMnist => {
                SourceSplits::without_validation(crate::fashion_mnist_embedded()?)
            }
            Self::FashionMnist { path } => {
                SourceSplits::without_validation(crate::fashion_mnist_from_dir(path)?)
            }
            Self::Mnist { path } => SourceSplits::without_validation(idx::mnist_from_dir(path)?),
            Self::Cifar10 { path } => {
                SourceSplits::without_validation(cifar::cifar10_from_dir(path)?)
            }
            Self::EmbeddedPneumoniaMnist => SourceSplits::of(embedded_pneumoniamnist()?),
            Self::MedMnist { path } => SourceSplits::of(crate::medmnist::medmnist_from_npz(path)?),
        })
    }

    /// The image shape `[channels, height, width]` and the number of classes: known from the
    /// format, except for a MedMNIST file, which is read (its size and classes vary).
    ///
    /// ```
    /// use smallscale_datasets::DataSource;
    /// assert_eq!(DataSource::EmbeddedFashionMnist.shape_and_classes()?, ([1, 28, 28], 10));
    /// assert_eq!(DataSource::Cifar10 { path: "c".into() }.shape_and_classes()?, ([3, 32, 32], 10));
    /// assert_eq!(DataSource::EmbeddedPneumoniaMnist.shape_and_classes()?, ([1, 28, 28], 2));
    /// # Ok::<(), smallscale_datasets::DatasetError>(())
    /// ```
    pub fn shape_and_classes(&self) -> Result<([usize; 3], usize)> {
        Ok(match self {
            Self::EmbeddedFashionMnist | Self::FashionMnist { .. } | Self::Mnist { .. } => {
                ([1, 28, 28], 10)
            }
            Self::Cifar10 { .. } => ([3, 32, 32], 10),
            Self::EmbeddedPneumoniaMnist => ([1, 28, 28], 2),
            Self::MedMnist { path } => {
                let data = crate::medmnist::medmnist_from_npz(path)?;
                let s = data.train.shape();
                ([s.channels, s.height, s.width], data.train.num_classes())
            }
        })
    }

    /// Whether the data set brings its own validation split ([`SourceSplits::validation`]),
    /// known without reading the files.
    pub fn has_released_validation(&self) -> bool {
        matches!(self, Self::EmbeddedPneumoniaMnist | Self::MedMnist { .. })
    }

    /// A short human description.
    pub fn describe(&self) -> String {
        match self {
            Self::EmbeddedFashionMnist => "embedded Fashion-MNIST subset".into(),
            Self::FashionMnist { path } => format!("Fashion-MNIST from {}", path.display()),
            Self::Mnist { path } => format!("MNIST from {}", path.display()),
            Self::Cifar10 { path } => format!("CIFAR-10 from {}", path.display()),
            Self::EmbeddedPneumoniaMnist => "embedded PneumoniaMNIST".into(),
            Self::MedMnist { path } => format!("MedMNIST {}", path.display()),
        }
    }
}

#[cfg(feature = "pneumoniamnist")]
fn embedded_pneumoniamnist() -> Result<crate::medmnist::MedMnist> {
    crate::medmnist::pneumoniamnist_embedded()
}

#[cfg(not(feature = "pneumoniamnist"))]
fn embedded_pneumoniamnist() -> Result<crate::medmnist::MedMnist> {
    Err(crate::errors::DatasetError::Unsupported {
        file: "embedded PneumoniaMNIST".into(),
        detail: "smallscale-datasets was built without its `pneumoniamnist` feature; enable it, or read the .npz file by path".into(),
    })
}
