//! Arguments shared by the experiment commands (`train`, `eval`; `reproduce` uses the device arguments): where the
//! images come from, how the training set is split, and which device runs the model. Flatten them
//! into a command with `#[command(flatten)]`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use candle_core::Device;
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use smallscale_datasets::{ImageDataset, cifar, idx};
use smallscale_osc_reg::ImageData;

/// The only built-in data set (`--data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BuiltinData {
    /// The Fashion-MNIST subset shipped in the binary: 8,000 training and 2,000 test images.
    EmbeddedFashionMnist,
}

/// The on-disk formats `--data-format` reads from `--data-path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataFormat {
    /// The four Fashion-MNIST IDX files (raw or `.gz`).
    FashionMnist,
    /// The four MNIST IDX files (raw or `.gz`).
    Mnist,
    /// The CIFAR-10 binary batches (`data_batch_1.bin` .. `data_batch_5.bin`, `test_batch.bin`).
    Cifar10,
}

/// Where the images come from: `--data embedded-fashion-mnist` (the default) or
/// `--data-format FORMAT --data-path DIR`.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Data")]
pub struct DataArgs {
    /// Built-in data set [default: embedded-fashion-mnist, unless --data-format is given].
    #[arg(long, value_enum, value_name = "NAME", conflicts_with_all = ["data_format", "data_path"])]
    pub data: Option<BuiltinData>,
    /// Format of the data set in --data-path.
    #[arg(long, value_enum, value_name = "FORMAT", requires = "data_path")]
    pub data_format: Option<DataFormat>,
    /// Directory holding the data set files (with --data-format).
    #[arg(long, value_name = "DIR", requires = "data_format")]
    pub data_path: Option<PathBuf>,
}

/// A data set as recorded in a run's `config.json`: enough to load it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum DataSource {
    /// The embedded Fashion-MNIST subset.
    EmbeddedFashionMnist,
    /// Full Fashion-MNIST read from a directory.
    FashionMnist {
        /// The directory (absolute).
        path: PathBuf,
    },
    /// MNIST read from a directory.
    Mnist {
        /// The directory (absolute).
        path: PathBuf,
    },
    /// CIFAR-10 binary batches read from a directory.
    Cifar10 {
        /// The directory (absolute).
        path: PathBuf,
    },
}

impl DataArgs {
    /// Whether any data option was given on the command line.
    pub fn is_given(&self) -> bool {
        self.data.is_some() || self.data_format.is_some() || self.data_path.is_some()
    }

    /// The data source these options describe (the embedded set when none is given). A directory
    /// is made absolute so that the run can be resumed or evaluated from elsewhere.
    pub fn source(&self) -> Result<DataSource> {
        match (self.data_format, &self.data_path) {
            (None, None) => Ok(DataSource::EmbeddedFashionMnist),
            (Some(format), Some(path)) => {
                let path = std::fs::canonicalize(path).with_context(|| {
                    format!(
                        "--data-path {}: the directory cannot be opened; pass the directory that \
                         holds the {} files",
                        path.display(),
                        format_name(format)
                    )
                })?;
                if !path.is_dir() {
                    bail!(
                        "--data-path {} is not a directory: pass the directory that holds the {} files",
                        path.display(),
                        format_name(format)
                    );
                }
                Ok(match format {
                    DataFormat::FashionMnist => DataSource::FashionMnist { path },
                    DataFormat::Mnist => DataSource::Mnist { path },
                    DataFormat::Cifar10 => DataSource::Cifar10 { path },
                })
            }
            (Some(_), None) => bail!("--data-format needs --data-path DIR"),
            (None, Some(_)) => {
                bail!("--data-path needs --data-format (fashion-mnist, mnist or cifar10)")
            }
        }
    }
}

fn format_name(format: DataFormat) -> &'static str {
    match format {
        DataFormat::FashionMnist => "Fashion-MNIST IDX",
        DataFormat::Mnist => "MNIST IDX",
        DataFormat::Cifar10 => "CIFAR-10 binary",
    }
}

impl DataSource {
    /// Reads `(train, test)`.
    pub fn load(&self) -> Result<(ImageDataset, ImageDataset)> {
        let loaded = match self {
            Self::EmbeddedFashionMnist => smallscale_datasets::fashion_mnist_embedded(),
            Self::FashionMnist { path } => smallscale_datasets::fashion_mnist_from_dir(path),
            Self::Mnist { path } => idx::mnist_from_dir(path),
            Self::Cifar10 { path } => cifar::cifar10_from_dir(path),
        };
        loaded.with_context(|| format!("cannot load the data set ({})", self.describe()))
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

/// How the training set is split into train and validation, and optional caps for quick runs.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Data")]
pub struct SplitArgs {
    /// Fraction of the training set held out (stratified) for validation, early stopping and
    /// model selection.
    #[arg(long, value_name = "F", default_value_t = 0.1)]
    pub validation_fraction: f64,
    /// Use only the first N training examples (after the split), for quick runs.
    #[arg(long, value_name = "N")]
    pub limit_train: Option<usize>,
    /// Use only the first N validation examples, for quick runs.
    #[arg(long, value_name = "N")]
    pub limit_validation: Option<usize>,
    /// Use only the first N test examples, for quick runs.
    #[arg(long, value_name = "N")]
    pub limit_test: Option<usize>,
}

/// The data of a run as recorded in `config.json`: the source, the split, the caps, and what came
/// out of them (shape, classes, sizes, the normalisation fitted on the training split).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataDescription {
    /// Where the images came from.
    #[serde(flatten)]
    pub source: DataSource,
    /// Held-out validation fraction of the training set.
    pub validation_fraction: f64,
    /// Seed of the stratified split.
    pub split_seed: u64,
    /// Cap on the training examples.
    pub limit_train: Option<usize>,
    /// Cap on the validation examples.
    pub limit_validation: Option<usize>,
    /// Cap on the test examples.
    pub limit_test: Option<usize>,
    /// Image shape `[channels, height, width]`.
    pub shape: [usize; 3],
    /// Number of classes.
    pub classes: usize,
    /// Examples in the training split actually used.
    pub train_examples: usize,
    /// Examples in the validation split actually used.
    pub validation_examples: usize,
    /// Examples in the test set actually used.
    pub test_examples: usize,
    /// Per-channel mean of the normalisation (fitted on the full training split).
    pub mean: Vec<f32>,
    /// Per-channel standard deviation of the normalisation.
    pub std: Vec<f32>,
}

/// Loads `source`, splits it with `split` and `seed` and applies the caps.
pub fn load_split_data(
    source: &DataSource,
    split: &SplitArgs,
    seed: u64,
) -> Result<(ImageData, DataDescription)> {
    if !(split.validation_fraction > 0.0 && split.validation_fraction < 1.0) {
        bail!(
            "--validation-fraction must lie strictly between 0 and 1 (e.g. 0.1), got {}",
            split.validation_fraction
        );
    }
    for (flag, limit) in [
        ("--limit-train", split.limit_train),
        ("--limit-validation", split.limit_validation),
        ("--limit-test", split.limit_test),
    ] {
        if limit == Some(0) {
            bail!("{flag} must be at least 1");
        }
    }
    let (train, test) = source.load()?;
    let data = ImageData::split(train, test, split.validation_fraction, seed)
        .with_context(|| format!("cannot split {}", source.describe()))?;
    let data = data.truncated(
        split.limit_train.unwrap_or(usize::MAX),
        split.limit_validation.unwrap_or(usize::MAX),
        split.limit_test.unwrap_or(usize::MAX),
    )?;
    if data.validation.is_empty() {
        bail!(
            "the validation split of {} is empty: raise --validation-fraction",
            source.describe()
        );
    }
    let shape = data.train.shape();
    let description = DataDescription {
        source: source.clone(),
        validation_fraction: split.validation_fraction,
        split_seed: seed,
        limit_train: split.limit_train,
        limit_validation: split.limit_validation,
        limit_test: split.limit_test,
        shape: [shape.channels, shape.height, shape.width],
        classes: data.num_classes(),
        train_examples: data.train.len(),
        validation_examples: data.validation.len(),
        test_examples: data.test.len(),
        mean: data.normalization.mean().to_vec(),
        std: data.normalization.std().to_vec(),
    };
    Ok((data, description))
}

/// The device that runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// The CPU (all cores).
    #[default]
    Cpu,
    /// The first CUDA GPU (needs a build with `--features cuda`).
    Cuda,
}

/// `--device cpu|cuda`.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Device")]
pub struct DeviceArgs {
    /// Where the model runs: cpu, or cuda (GPU 0; needs a binary built with `--features cuda`).
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceKind,
}

impl DeviceArgs {
    /// `cpu` or `cuda`.
    pub fn label(&self) -> &'static str {
        match self.device {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
        }
    }

    /// Opens the device.
    pub fn open(&self) -> Result<Device> {
        match self.device {
            DeviceKind::Cpu => Ok(Device::Cpu),
            DeviceKind::Cuda => {
                if !candle_core::utils::cuda_is_available() {
                    bail!(
                        "--device cuda: this smallscale binary was built without CUDA support; \
                         rebuild it with `cargo build --release -p smallscale-cli --features cuda` \
                         (needs the CUDA toolkit) or use --device cpu"
                    );
                }
                Device::new_cuda(0).context(
                    "--device cuda: cannot open CUDA GPU 0 (is an NVIDIA GPU with a working driver \
                     present?); use --device cpu to run on the CPU",
                )
            }
        }
    }
}

/// Reads a JSON file written by a previous run, if it exists.
pub fn read_json_if_exists<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).with_context(|| {
            format!(
                "{} is not a valid run file; delete it (or the run directory) to start over",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}
