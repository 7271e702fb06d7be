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
use smallscale_pepr_score::{CarbonIntensity, CpuPowerModel, LoadScope, Meter, MeterConfig};

/// The name of the built-in Fashion-MNIST subset (`--data`), the default.
const EMBEDDED: &str = "embedded-fashion-mnist";
/// The name of the built-in PneumoniaMNIST (`--data`).
const EMBEDDED_PNEUMONIA: &str = "embedded-pneumoniamnist";
/// The name of the CIFAR-10 subset in the repository's `data/` directory (`--data`).
const CIFAR10_SUBSET: &str = "cifar10-subset";

/// The repository's `data/cifar10-subset`: beside the sources this binary was built from, or
/// under the current directory.
fn cifar10_subset_dir() -> Result<PathBuf> {
    let built_from = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/cifar10-subset");
    let here = PathBuf::from("data/cifar10-subset");
    [built_from, here]
        .into_iter()
        .find(|d| d.join("test_batch.bin").is_file())
        .map(|d| std::fs::canonicalize(&d).unwrap_or(d))
        .with_context(|| {
            format!(
                "--data {CIFAR10_SUBSET}: the subset is the directory data/cifar10-subset of the smallscale \
                 repository, which is not beside this binary's sources nor under the current directory; \
                 run from a checkout, or pass --data DIR --data-format cifar10"
            )
        })
}

/// The on-disk formats `--data-format` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataFormat {
    /// The four Fashion-MNIST IDX files (raw or `.gz`) in a directory.
    FashionMnist,
    /// The four MNIST IDX files (raw or `.gz`) in a directory.
    Mnist,
    /// The CIFAR-10 binary batches (`data_batch_1.bin` .. `data_batch_5.bin`, `test_batch.bin`) in
    /// a directory.
    Cifar10,
    /// A MedMNIST `.npz` file (its released train / validation / test splits are used).
    Medmnist,
}

/// Where the images come from, alike in `reproduce`, `train` and `eval`: `--data
/// embedded-fashion-mnist` (the default), `embedded-pneumoniamnist` or `cifar10-subset`, `--data
/// DIR` with the files of `--data-format` (default fashion-mnist) in DIR, or `--data FILE.npz`
/// (MedMNIST). `--data-path PATH` is the same as `--data PATH` (paths only, not names).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Data")]
pub struct DataArgs {
    /// `embedded-fashion-mnist` (the subset shipped in the binary), `embedded-pneumoniamnist`,
    /// `cifar10-subset` (the repository's data/cifar10-subset), a directory holding the data set's
    /// files in --data-format, or a MedMNIST .npz file [default: embedded-fashion-mnist].
    #[arg(long, value_name = "NAME|PATH", conflicts_with = "data_path")]
    pub data: Option<String>,
    /// Format of the files at --data [default: medmnist for a .npz file, else fashion-mnist].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub data_format: Option<DataFormat>,
    /// The same as --data PATH (a path, not one of the names).
    #[arg(long, value_name = "PATH")]
    pub data_path: Option<PathBuf>,
}

impl DataArgs {
    /// Whether any data option was given on the command line.
    pub fn is_given(&self) -> bool {
        self.data.is_some() || self.data_format.is_some() || self.data_path.is_some()
    }

    /// The data source these options describe (the embedded set when none is given). A path is
    /// made absolute so that the run can be resumed or evaluated from elsewhere.
    pub fn source(&self) -> Result<DataSource> {
        let (flag, path) = match (&self.data, &self.data_path) {
            (Some(name), _) if name == EMBEDDED || name == EMBEDDED_PNEUMONIA => {
                if let Some(format) = self.data_format {
                    bail!(
                        "--data {name} is a built-in set: --data-format ({}) needs --data PATH, the {} of its files",
                        format_name(format),
                        if format == DataFormat::Medmnist {
                            "file"
                        } else {
                            "directory"
                        }
                    );
                }
                return Ok(if name == EMBEDDED {
                    DataSource::EmbeddedFashionMnist
                } else {
                    DataSource::EmbeddedPneumoniaMnist
                });
            }
            (Some(name), _) if name == CIFAR10_SUBSET => {
                if let Some(format) = self.data_format.filter(|&f| f != DataFormat::Cifar10) {
                    bail!(
                        "--data {CIFAR10_SUBSET} is CIFAR-10: drop --data-format {}",
                        format_name(format)
                    );
                }
                return Ok(DataSource::Cifar10 {
                    path: cifar10_subset_dir()?,
                });
            }
            (Some(path), _) => ("--data", PathBuf::from(path)),
            (None, Some(path)) => ("--data-path", path.clone()),
            (None, None) => {
                if self.data_format.is_some() {
                    bail!("--data-format needs --data PATH, where the files are");
                }
                return Ok(DataSource::EmbeddedFashionMnist);
            }
        };
        let is_npz = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
        let format = self.data_format.unwrap_or(if is_npz {
            DataFormat::Medmnist
        } else {
            DataFormat::FashionMnist
        });
        let wants_file = format == DataFormat::Medmnist;
        let what = if wants_file {
            "the MedMNIST .npz file".to_string()
        } else {
            format!("the directory that holds the {} files", format_name(format))
        };
        let path = std::fs::canonicalize(&path).with_context(|| {
            format!(
                "{flag} {}: cannot be opened; pass `{EMBEDDED}`, `{EMBEDDED_PNEUMONIA}`, `{CIFAR10_SUBSET}` or {what}",
                path.display()
            )
        })?;
        if wants_file != path.is_file() {
            bail!(
                "{flag} {} is not {}: pass {what}",
                path.display(),
                if wants_file { "a file" } else { "a directory" }
            );
        }
        Ok(match format {
            DataFormat::FashionMnist => DataSource::FashionMnist { path },
            DataFormat::Mnist => DataSource::Mnist { path },
            DataFormat::Cifar10 => DataSource::Cifar10 { path },
            DataFormat::Medmnist => DataSource::MedMnist { path },
        })
    }
}

fn format_name(format: DataFormat) -> &'static str {
    match format {
        DataFormat::FashionMnist => "Fashion-MNIST IDX",
        DataFormat::Mnist => "MNIST IDX",
        DataFormat::Cifar10 => "CIFAR-10 binary",
        DataFormat::Medmnist => "MedMNIST .npz",
    }
}

/// How the training set is split into train and validation, and optional caps for quick runs.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Data")]
pub struct SplitArgs {
    /// Fraction of the training set held out (stratified) for validation, early stopping and
    /// model selection (ignored for MedMNIST, whose released validation split is used).
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
    /// Train on a stratified, seeded fraction of the training split, in (0, 1] (e.g. 0.1 for
    /// 10 %); validation and test stay whole.
    #[arg(long, value_name = "F")]
    pub train_fraction: Option<f64>,
}

impl SplitArgs {
    /// The split these options ask for (checked when the data is loaded).
    pub fn spec(&self) -> SplitSpec {
        SplitSpec {
            validation_fraction: self.validation_fraction,
            limit_train: self.limit_train,
            limit_validation: self.limit_validation,
            limit_test: self.limit_test,
            train_fraction: self.train_fraction,
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

/// `--cpu-load`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CpuLoadArg {
    /// This process's CPU time over the run.
    Process,
    /// The whole machine's busy time (/proc/stat).
    Machine,
}

/// How runs are metered: the CPU energy estimate used where no RAPL counter is readable, the PUE
/// and the grid carbon intensity.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Metering")]
pub struct MeterArgs {
    /// Estimate CPU energy as CPU time x W watts per busy core [default: 10].
    #[arg(
        long,
        value_name = "W",
        conflicts_with = "cpu_tdp",
        allow_negative_numbers = true
    )]
    pub watts_per_core: Option<f64>,
    /// Estimate CPU energy with CodeCarbon's CPU-load model instead, with the CPU's thermal
    /// design power W: TDP x (0.1 + 0.9 load^3) for the machine's load, TDP x load for the
    /// process's.
    #[arg(long, value_name = "W", allow_negative_numbers = true)]
    pub cpu_tdp: Option<f64>,
    /// Whose load the CPU-load model uses [default: process].
    #[arg(long, value_enum, value_name = "WHOSE", requires = "cpu_tdp")]
    pub cpu_load: Option<CpuLoadArg>,
    /// Power usage effectiveness of the data centre (>= 1; the PePR paper used 1.55) [default: 1].
    #[arg(long, value_name = "PUE", allow_negative_numbers = true)]
    pub pue: Option<f64>,
    /// Grid carbon intensity: grams CO2eq per kWh, or a country code (e.g. DK, FR, US)
    /// [default: world average, 475].
    #[arg(long, value_name = "G_PER_KWH|CC", allow_negative_numbers = true)]
    pub carbon_intensity: Option<String>,
}

impl MeterArgs {
    /// The meter settings these options describe (checked when the meter starts).
    pub fn config(&self) -> Result<MeterConfig> {
        let mut config = MeterConfig::default();
        if let Some(w) = self.watts_per_core {
            config = config.with_watts_per_core(w);
        }
        if let Some(tdp) = self.cpu_tdp {
            let scope = match self.cpu_load.unwrap_or(CpuLoadArg::Process) {
                CpuLoadArg::Process => LoadScope::Process,
                CpuLoadArg::Machine => LoadScope::Machine,
            };
            config = config.with_cpu_power_model(CpuPowerModel::CodeCarbonLoad {
                tdp_watts: tdp,
                scope,
            });
        }
        if let Some(pue) = self.pue {
            config = config.with_pue(pue);
        }
        if let Some(ci) = &self.carbon_intensity {
            let intensity = match ci.trim().parse::<f64>() {
                Ok(g) => CarbonIntensity::new(g, "given with --carbon-intensity"),
                Err(_) => CarbonIntensity::country(ci.trim()),
            }
            .with_context(|| format!("--carbon-intensity {ci}"))?;
            config = config.with_carbon_intensity(intensity);
        }
        // Check now, so a bad value is reported before anything trains.
        Meter::new(config.clone()).context("invalid metering options")?;
        Ok(config)
    }
}
