//! Arguments shared by the experiment commands (`train`, `eval`; `reproduce` uses the device arguments): where the
//! images come from, how the training set is split, and which device runs the model. Flatten them
//! into a command with `#[command(flatten)]`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use candle_core::Device;
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use smallscale_datasets::DataSource;
use smallscale_osc_reg::{DataDescription, ImageData, SplitSpec};

/// The name of the built-in data set (`--data`).
const EMBEDDED: &str = "embedded-fashion-mnist";

/// The on-disk formats `--data-format` reads from a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataFormat {
    /// The four Fashion-MNIST IDX files (raw or `.gz`).
    FashionMnist,
    /// The four MNIST IDX files (raw or `.gz`).
    Mnist,
    /// The CIFAR-10 binary batches (`data_batch_1.bin` .. `data_batch_5.bin`, `test_batch.bin`).
    Cifar10,
}

/// Where the images come from, alike in `reproduce`, `train` and `eval`: `--data
/// embedded-fashion-mnist` (the default), or `--data DIR` with the files of `--data-format` (default
/// fashion-mnist) in DIR. `--data-path DIR` is the same as `--data DIR`.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Data")]
pub struct DataArgs {
    /// `embedded-fashion-mnist` (the subset shipped in the binary), or a directory holding the data
    /// set's files in --data-format [default: embedded-fashion-mnist].
    #[arg(long, value_name = "NAME|DIR", conflicts_with = "data_path")]
    pub data: Option<String>,
    /// Format of the files in the --data directory [default: fashion-mnist].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub data_format: Option<DataFormat>,
    /// The same as --data DIR.
    #[arg(long, value_name = "DIR")]
    pub data_path: Option<PathBuf>,
}

impl DataArgs {
    /// Whether any data option was given on the command line.
    pub fn is_given(&self) -> bool {
        self.data.is_some() || self.data_format.is_some() || self.data_path.is_some()
    }

    /// The data source these options describe (the embedded set when none is given). A directory
    /// is made absolute so that the run can be resumed or evaluated from elsewhere.
    pub fn source(&self) -> Result<DataSource> {
        let (flag, dir) = match (&self.data, &self.data_path) {
            (Some(name), _) if name == EMBEDDED => {
                if let Some(format) = self.data_format {
                    bail!(
                        "--data {EMBEDDED} is the built-in set: --data-format ({}) needs --data DIR, the directory of its files",
                        format_name(format)
                    );
                }
                return Ok(DataSource::EmbeddedFashionMnist);
            }
            (Some(dir), _) => ("--data", PathBuf::from(dir)),
            (None, Some(dir)) => ("--data-path", dir.clone()),
            (None, None) => {
                if self.data_format.is_some() {
                    bail!("--data-format needs --data DIR, the directory that holds the files");
                }
                return Ok(DataSource::EmbeddedFashionMnist);
            }
        };
        let format = self.data_format.unwrap_or(DataFormat::FashionMnist);
        let path = std::fs::canonicalize(&dir).with_context(|| {
            format!(
                "{flag} {}: the directory cannot be opened; pass `{EMBEDDED}` or the directory \
                 that holds the {} files",
                dir.display(),
                format_name(format)
            )
        })?;
        if !path.is_dir() {
            bail!(
                "{flag} {} is not a directory: pass the directory that holds the {} files",
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
}

fn format_name(format: DataFormat) -> &'static str {
    match format {
        DataFormat::FashionMnist => "Fashion-MNIST IDX",
        DataFormat::Mnist => "MNIST IDX",
        DataFormat::Cifar10 => "CIFAR-10 binary",
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

impl SplitArgs {
    /// The split these options ask for (checked when the data is loaded).
    pub fn spec(&self) -> SplitSpec {
        SplitSpec {
            validation_fraction: self.validation_fraction,
            limit_train: self.limit_train,
            limit_validation: self.limit_validation,
            limit_test: self.limit_test,
        }
    }
}

/// Loads `source` split as `split` asks, with the split seed `seed`.
pub fn load_split_data(
    source: &DataSource,
    split: &SplitArgs,
    seed: u64,
) -> Result<(ImageData, DataDescription)> {
    smallscale_osc_reg::load_split_data(source, &split.spec(), seed)
        .with_context(|| format!("cannot load the data set ({})", source.describe()))
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
