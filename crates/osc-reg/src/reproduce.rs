//! The paper's comparison on one data set: FP, PTQ, QAT and Reg at several target bits, cross-bit
//! evaluation, the resources of every run and their PePR.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::Device;
use serde::{Deserialize, Serialize};
use smallscale_datasets::DataSource;
use smallscale_models::{
    Model, ModelConfig, ModelContext, OptimizerConfig, SmallCnnConfig, build_model,
};
use smallscale_pepr_score::{Measurement, Meter, MeterConfig, ModelRun, Pool};
use smallscale_quant_core::BitWidth;

use crate::data_description::{SplitSpec, load_split_data};
use crate::errors::{OscRegError, Result};
use crate::evaluate::{CrossBitAccuracy, CrossBitEvaluation, EVAL_BATCH_SIZE};
use crate::hyperparams::{Method, TrainParams};
use crate::regularizer::RegularizerParams;
use crate::run_dir::{RunConfig, record_run_resources};
use crate::trainer::{TrainOutcome, Trainer};

/// Settings of a reproduction run, unvalidated; [`ReproduceParams::check`] turns them into the
/// [`ReproduceValidParams`] that [`reproduce`] takes.
///
/// ```
/// use smallscale_osc_reg::ReproduceParams;
/// let p = ReproduceParams::default();
/// assert_eq!(p.target_bits, [2, 3, 4]);
/// p.clone().check()?;
/// // A target bit must be an evaluation bit too.
/// let eval_bits = p.eval_bits[1..].to_vec();
/// assert!(ReproduceParams { eval_bits, ..p }.check().is_err());
/// # Ok::<(), smallscale_osc_reg::OscRegError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReproduceParams {
    /// The architecture.
    pub model: ModelConfig,
    /// Target bit-widths of QAT and Reg.
    pub target_bits: Vec<BitWidth>,
    /// Bit-widths of the cross-bit evaluation.
    pub eval_bits: Vec<BitWidth>,
    /// The regularizer weight of Reg (unused when `lambda_search` is given).
    pub lambda: f64,
    /// A lambda search: Reg is trained at each of these weights for every target bit, and the row
    /// Reg is, per target bit, the run with the best validation accuracy after PTQ at that bit
    /// (ties to the smaller lambda); the test set plays no part in the choice. Empty: Reg runs at
    /// `lambda` only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lambda_search: Vec<f64>,
    /// Maximum epochs per run.
    pub epochs: usize,
    /// Early-stopping patience.
    pub patience: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Seed (initialization, split, shuffling); every run starts from the same initial weights.
    pub seed: u64,
    /// The QAT baselines that reduce oscillations (`qat-dampen`, `qat-freeze`), trained at every
    /// target bit beside QAT and Reg with these settings (the bit-width each holds is replaced by
    /// the target bit). None by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baselines: Vec<Method>,
    /// CIFAR-style augmentation of the training batches (random crop with padding 4, horizontal
    /// flip), as the paper trains on CIFAR-10. Off by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub augment: bool,
}

/// The paper's CIFAR-10 settings of one of its models (spec §4): target bits 2, 3, 4, cross-bit
/// evaluation at 2..8, Adam at 1e-3, batch 128, up to 100 epochs with early stopping after 10 epochs
/// without improvement of the monitored accuracy, CIFAR augmentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PaperPreset {
    /// ResNet-18 with the CIFAR stem; `base_width` 64 is the paper's (a GPU's) model, 16 the CPU
    /// preset's.
    Resnet18Cifar10,
    /// The tiny ViT (patch 4, dim 192, depth 6, 3 heads); a smaller `embed_dim` for CPUs.
    VitCifar10,
}

impl PaperPreset {
    /// `resnet18-cifar10` or `vit-cifar10`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Resnet18Cifar10 => "resnet18-cifar10",
            Self::VitCifar10 => "vit-cifar10",
        }
    }

    /// The width a CPU can afford: ResNet-18 at base width 16 (1/16 of the full model's
    /// multiply-adds), the ViT at dim 96 (half of the tiny ViT's). A GPU runs the full width.
    pub fn cpu_width(self) -> usize {
        match self {
            Self::Resnet18Cifar10 => 16,
            Self::VitCifar10 => 96,
        }
    }

    /// The paper's width: ResNet-18 base width 64, the tiny ViT's dim 192.
    pub fn paper_width(self) -> usize {
        match self {
            Self::Resnet18Cifar10 => 64,
            Self::VitCifar10 => 192,
        }
    }

    /// The settings at width `width` (ResNet `base_width`, ViT `embed_dim`; the paper's model is
    /// 64 and 192).
    ///
    /// ```
    /// use smallscale_osc_reg::PaperPreset;
    /// let p = PaperPreset::Resnet18Cifar10.params(16)?;
    /// assert_eq!((p.epochs, p.patience, p.batch_size, p.augment), (100, 10, 128, true));
    /// assert!(p.clone().check().is_ok());
    /// assert!(PaperPreset::VitCifar10.params(0).is_err());
    /// # Ok::<(), smallscale_osc_reg::OscRegError>(())
    /// ```
    pub fn params(self, width: usize) -> Result<ReproduceParams> {
        let model = match self {
            Self::Resnet18Cifar10 => {
                ModelConfig::ResNet(smallscale_models::ResNetConfig::cifar10())
            }
            Self::VitCifar10 => ModelConfig::Vit(smallscale_models::VitConfig::tiny_cifar10()),
        }
        .with_width(width)?;
        Ok(ReproduceParams {
            model,
            epochs: 100,
            patience: 10,
            batch_size: 128,
            augment: true,
            ..ReproduceParams::default()
        })
    }
}

/// A row of the comparison that trains one model per target bit: QAT, Reg, or a QAT baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrainedRow {
    /// Quantization-aware training.
    Qat,
    /// The paper's regularizer, deployed by PTQ.
    Reg,
    /// QAT with oscillation dampening.
    QatDampen,
    /// QAT with iterative weight freezing.
    QatFreeze,
    /// QAT with learned step sizes (LSQ).
    QatLsq,
}

impl TrainedRow {
    /// The row's name in tables: `QAT`, `Reg`, `QAT-dampen`, `QAT-freeze`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Qat => "QAT",
            Self::Reg => "Reg",
            Self::QatDampen => "QAT-dampen",
            Self::QatFreeze => "QAT-freeze",
            Self::QatLsq => "QAT-LSQ",
        }
    }

    /// The file name of the row's cross-bit heat map in a reproduction's output.
    pub fn cross_bit_plot_file(self) -> &'static str {
        match self {
            Self::Qat => "cross_bit_qat.svg",
            Self::Reg => "cross_bit_reg.svg",
            Self::QatDampen => "cross_bit_qat_dampen.svg",
            Self::QatFreeze => "cross_bit_qat_freeze.svg",
            Self::QatLsq => "cross_bit_qat_lsq.svg",
        }
    }

    /// The row a method's runs belong to (none for FP).
    pub fn of(method: &Method) -> Option<Self> {
        match method {
            Method::Fp => None,
            Method::Qat { .. } => Some(Self::Qat),
            Method::Reg { .. } => Some(Self::Reg),
            Method::QatDampen { .. } => Some(Self::QatDampen),
            Method::QatFreeze { .. } => Some(Self::QatFreeze),
            Method::QatLsq { .. } => Some(Self::QatLsq),
        }
    }
}

impl Default for ReproduceParams {
    /// The defaults of `smallscale reproduce`, sized to finish in one to two minutes on 2 CPU cores: the small CNN
    /// with blocks of 8 and 16 channels (BatchNorm, ReLU, max-pool), target bits {2, 3, 4}, evaluation at
    /// 2..=8, lambda 1, 8 epochs with patience 3, batch 128, Adam at 1e-3, seed 0.
    fn default() -> Self {
        Self {
            model: ModelConfig::SmallCnn(SmallCnnConfig {
                channels: vec![8, 16],
                ..SmallCnnConfig::fashion_mnist()
            }),
            target_bits: bit_widths(&[2, 3, 4]),
            eval_bits: bit_widths(&[2, 3, 4, 5, 6, 7, 8]),
            lambda: 1.0,
            epochs: 8,
            patience: 3,
            batch_size: 128,
            lr: 1e-3,
            seed: 0,
            lambda_search: Vec::new(),
            baselines: Vec::new(),
            augment: false,
        }
    }
}

impl ReproduceParams {
    /// Checks every setting: the model, at least one target and one evaluation bit, no bit listed
    /// twice, every target among the evaluation bits, lambda and the training settings.
    pub fn check(self) -> Result<ReproduceValidParams> {
        self.model.validate()?;
        if self.target_bits.is_empty() || self.eval_bits.is_empty() {
            return Err(OscRegError::InvalidParameter {
                parameter: "bits",
                reason: "give at least one target bit and one evaluation bit".into(),
            });
        }
        for (name, list) in [
            ("target bits", &self.target_bits),
            ("evaluation bits", &self.eval_bits),
        ] {
            let mut sorted = list.clone();
            sorted.sort_unstable();
            sorted.dedup();
            if sorted.len() != list.len() {
                return Err(OscRegError::InvalidParameter {
                    parameter: "bits",
                    reason: format!(
                        "the {name} {} repeat a value: list each bit-width once",
                        listed_bits(list)
                    ),
                });
            }
        }
        if let Some(b) = self
            .target_bits
            .iter()
            .find(|b| !self.eval_bits.contains(b))
        {
            return Err(OscRegError::InvalidParameter {
                parameter: "bits",
                reason: format!(
                    "target bit {b} is not among the evaluation bits {}: add it",
                    listed_bits(&self.eval_bits)
                ),
            });
        }
        RegularizerParams::new(self.target_bits[0].get(), self.lambda)?;
        for (i, &l) in self.lambda_search.iter().enumerate() {
            RegularizerParams::new(self.target_bits[0].get(), l)?;
            if self.lambda_search[..i].contains(&l) {
                return Err(OscRegError::InvalidParameter {
                    parameter: "lambda search",
                    reason: format!("lambda {l} is listed twice: list each value once"),
                });
            }
        }
        let mut rows = vec![TrainedRow::Qat, TrainedRow::Reg];
        for baseline in &self.baselines {
            match TrainedRow::of(baseline) {
                Some(
                    row @ (TrainedRow::QatDampen | TrainedRow::QatFreeze | TrainedRow::QatLsq),
                ) => {
                    if rows.contains(&row) {
                        return Err(OscRegError::InvalidParameter {
                            parameter: "baselines",
                            reason: format!("{} is listed twice: list it once", baseline.name()),
                        });
                    }
                    rows.push(row);
                }
                _ => {
                    return Err(OscRegError::InvalidParameter {
                        parameter: "baselines",
                        reason: format!(
                            "{} is not a QAT baseline: FP, QAT and Reg always run; the baselines are qat-dampen, qat-freeze and qat-lsq",
                            baseline.name()
                        ),
                    });
                }
            }
        }
        TrainParams::new(Method::Fp)
            .with_optimizer(OptimizerConfig::adam(self.lr))
            .with_epochs(self.epochs)
            .with_patience(self.patience)
            .with_batch_size(self.batch_size)
            .check()?;
        Ok(ReproduceValidParams {
            params: self,
            meter: MeterConfig::default(),
        })
    }

    /// The weights Reg is trained with: the lambda search's, or `lambda` alone.
    pub fn reg_lambdas(&self) -> Vec<f64> {
        if self.lambda_search.is_empty() {
            vec![self.lambda]
        } else {
            self.lambda_search.clone()
        }
    }

    /// The rows trained per target bit: QAT, Reg, then the baselines in their order.
    pub fn trained_rows(&self) -> Vec<TrainedRow> {
        let mut rows = vec![TrainedRow::Qat, TrainedRow::Reg];
        rows.extend(self.baselines.iter().filter_map(TrainedRow::of));
        rows
    }

    /// Every training run of the comparison: FP, then each trained row at every target bit.
    pub fn methods(&self) -> Result<Vec<Method>> {
        let mut methods = vec![Method::Fp];
        for &b in &self.target_bits {
            methods.push(Method::Qat { bits: b });
        }
        for &lambda in &self.reg_lambdas() {
            for &b in &self.target_bits {
                methods.push(Method::Reg {
                    regularizer: RegularizerParams::new(b.get(), lambda)?,
                });
            }
        }
        for baseline in &self.baselines {
            for &b in &self.target_bits {
                methods.push(baseline.with_target_bits(b));
            }
        }
        Ok(methods)
    }

    fn train_params(&self, method: Method) -> TrainParams {
        TrainParams::new(method)
            .with_optimizer(OptimizerConfig::adam(self.lr))
            .with_epochs(self.epochs)
            .with_patience(self.patience)
            .with_batch_size(self.batch_size)
            .with_seed(self.seed)
            .with_augment(self.augment)
    }
}

/// Settings of a reproduction run that passed [`ReproduceParams::check`], and how its runs are
/// metered (not part of a run's identity: the meter does not change what is trained).
#[derive(Debug, Clone, PartialEq)]
pub struct ReproduceValidParams {
    params: ReproduceParams,
    meter: MeterConfig,
}

impl ReproduceValidParams {
    /// The settings.
    pub fn params(&self) -> &ReproduceParams {
        &self.params
    }

    /// The meter settings (default: [`MeterConfig::default`]).
    pub fn meter(&self) -> &MeterConfig {
        &self.meter
    }

    /// The same settings with another seed (a seed cannot make settings invalid).
    pub fn with_seed(&self, seed: u64) -> Self {
        Self {
            params: ReproduceParams {
                seed,
                ..self.params.clone()
            },
            meter: self.meter.clone(),
        }
    }

    /// Meters every run with `meter` (checked when the reproduction starts).
    pub fn with_meter(mut self, meter: MeterConfig) -> Self {
        self.meter = meter;
        self
    }
}

/// One trained model and how it was evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// `fp`, `qat-b3`, `reg-b3-l1`, ...
    pub label: String,
    /// The method and its settings.
    pub method: Method,
    /// The training outcome (history, selected epoch, early stopping).
    pub training: TrainOutcome,
    /// Test accuracy at FP and after PTQ at each evaluation bit.
    pub test: CrossBitAccuracy,
    /// Resources of the training run (time, CPU time, memory, energy, CO2; each labelled measured or
    /// estimated with its source).
    pub resources: Measurement,
}

/// PePR of the deployable models at one target bit: FP (at full precision), PTQ, QAT and Reg (at the
/// target bit), with the deployed size, the training energy and the training time as resources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeprAtBit {
    /// The deployment bit-width.
    pub bits: BitWidth,
    /// Per model: name, test accuracy, size, energy (kWh), time (s), PePR-S, PePR-E, PePR-T.
    pub models: Vec<PeprEntry>,
    /// Notes of the scoring (degenerate pools and the like).
    pub notes: Vec<String>,
}

/// The size of the model as deployed: what really differs between a full-precision and a quantized
/// model, unlike the training costs of the four deployable models, which are nearly equal.
///
/// At `b` bits the weights the reference quantizer selects take `b` bits each plus one 32-bit scale
/// per tensor; every other parameter (biases, norm parameters) stays 32-bit. Buffers (BatchNorm
/// running statistics) are not counted.
///
/// ```
/// use smallscale_osc_reg::DeployedSize;
/// let s = DeployedSize { parameters: 1_000, quantized_parameters: 900, quantized_tensors: 3 };
/// assert_eq!(s.fp_bits(), 32_000);
/// let four = smallscale_quant_core::BitWidth::new(4)?;
/// assert_eq!(s.bits_at(four), 900 * 4 + 100 * 32 + 3 * 32);
/// # Ok::<(), smallscale_quant_core::QuantError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedSize {
    /// Trainable parameters.
    pub parameters: usize,
    /// Parameters in tensors the reference quantizer selects.
    pub quantized_parameters: usize,
    /// Number of such tensors (one scale each).
    pub quantized_tensors: usize,
}

impl DeployedSize {
    /// Counts the parameters of `model` and those the reference quantizer selects.
    pub fn of(model: &dyn Model) -> Result<Self> {
        let reference = smallscale_models::QuantizationState::reference(2)?;
        let quantized = model
            .quant()
            .with_state(reference, || model.quantized_vars());
        Ok(Self {
            parameters: model.num_parameters(),
            quantized_parameters: quantized.iter().map(|(_, v)| v.elem_count()).sum(),
            quantized_tensors: quantized.len(),
        })
    }

    /// Bits at full precision (f32).
    pub fn fp_bits(&self) -> u64 {
        32 * self.parameters as u64
    }

    /// Bits with the selected weights at `bits` bits.
    pub fn bits_at(&self, bits: BitWidth) -> u64 {
        let kept = (self.parameters - self.quantized_parameters) as u64;
        self.quantized_parameters as u64 * u64::from(bits.get())
            + 32 * (kept + self.quantized_tensors as u64)
    }
}

/// One row of [`PeprAtBit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeprEntry {
    /// Model name (`FP`, `PTQ`, `QAT`, `Reg`).
    pub name: String,
    /// Test accuracy as deployed.
    pub accuracy: f64,
    /// Training energy, kWh (see the run's resources for its provenance).
    pub energy_kwh: f64,
    /// Training wall time, s.
    pub train_seconds: f64,
    /// Size as deployed, bits ([`DeployedSize`]; 0 in files of older versions).
    #[serde(default)]
    pub size_bits: f64,
    /// PePR with the deployed size as the resource: the score to rank these models by, since their
    /// sizes really differ.
    #[serde(default)]
    pub pepr_s: f64,
    /// PePR with energy as the resource.
    pub pepr_e: f64,
    /// PePR with training time as the resource.
    pub pepr_t: f64,
}

/// Everything `smallscale reproduce` computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReproduceResults {
    /// The settings.
    pub params: ReproduceParams,
    /// What data was used.
    pub data: String,
    /// Train / validation / test sizes.
    pub sizes: [usize; 3],
    /// The FP run, then QAT and Reg per target bit.
    pub runs: Vec<RunResult>,
    /// PePR per target bit.
    pub pepr: Vec<PeprAtBit>,
    /// The model's size as deployed (absent in files of older versions).
    #[serde(default)]
    pub deployed_size: Option<DeployedSize>,
    /// Wall time of everything, seconds.
    pub seconds: f64,
    /// The labels of the runs of the comparison that are not in `runs`: those a partial merge of a
    /// sweep found unfinished (empty for a whole reproduction).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

impl ReproduceResults {
    /// The run with this label.
    pub fn run(&self, label: &str) -> Option<&RunResult> {
        self.runs.iter().find(|r| r.label == label)
    }

    /// The FP run.
    pub fn fp(&self) -> Option<&RunResult> {
        self.runs.iter().find(|r| matches!(r.method, Method::Fp))
    }

    /// The QAT run at target `bits`.
    pub fn qat(&self, bits: BitWidth) -> Option<&RunResult> {
        self.trained(TrainedRow::Qat, bits)
    }

    /// The Reg run at target `bits`.
    pub fn reg(&self, bits: BitWidth) -> Option<&RunResult> {
        self.trained(TrainedRow::Reg, bits)
    }

    /// The run of `row` at target `bits`. For Reg after a lambda search, the run chosen on
    /// validation ([`ReproduceResults::reg_candidates`]).
    pub fn trained(&self, row: TrainedRow, bits: BitWidth) -> Option<&RunResult> {
        let mut candidates = self.runs.iter().filter(|r| {
            TrainedRow::of(&r.method) == Some(row) && r.method.target_bits() == Some(bits)
        });
        if row != TrainedRow::Reg {
            return candidates.next();
        }
        // The best validation accuracy at the target bit; ties to the smaller lambda.
        candidates.fold(None, |best: Option<&RunResult>, r| match best {
            Some(b)
                if (b.training.best_monitored, -reg_lambda(b))
                    >= (r.training.best_monitored, -reg_lambda(r)) =>
            {
                Some(b)
            }
            _ => Some(r),
        })
    }

    /// The Reg runs at target `bits`, by lambda: the candidates of a lambda search, with their
    /// validation accuracy after PTQ at `bits` (what the choice is made on).
    pub fn reg_candidates(&self, bits: BitWidth) -> Vec<(f64, f64)> {
        let mut out: Vec<(f64, f64)> = self
            .runs
            .iter()
            .filter(
                |r| matches!(r.method, Method::Reg { regularizer } if regularizer.bits() == bits),
            )
            .map(|r| (reg_lambda(r), r.training.best_monitored))
            .collect();
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }

    /// The rows trained per target bit (QAT, Reg and the baselines that were run).
    pub fn trained_rows(&self) -> Vec<TrainedRow> {
        self.params.trained_rows()
    }
}

/// Runs the comparison: one FP run (also the PTQ baseline), and QAT and Reg at every target bit, all
/// from the same initial weights; evaluates each at FP and every evaluation bit on the test set; meters
/// every training run. The data is `source` split with `split` and `params.seed`
/// ([`load_split_data`]). Runs are written under `out_dir/runs/LABEL` as run directories (with the
/// `config.json` that `smallscale eval` reads, so a checkpoint is evaluated on the same split and
/// normalization) and resume if interrupted.
pub fn reproduce(
    params: &ReproduceValidParams,
    source: &DataSource,
    split: &SplitSpec,
    device: &Device,
    out_dir: &Path,
    progress: bool,
    log: impl FnMut(&str),
) -> Result<ReproduceResults> {
    reproduce_selected(
        params,
        source,
        split,
        device,
        out_dir,
        &RunSelection::All,
        progress,
        log,
    )
}

/// Which runs of a reproduction one call trains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunSelection {
    /// Every run: trains those not finished (what [`reproduce`] does).
    All,
    /// Only the runs with these labels (`fp`, `qat-b3`, ...; one job of a sweep): the others are
    /// neither trained nor read, and are listed in [`ReproduceResults::missing`].
    Only(Vec<String>),
    /// None: of the runs with these labels, those that finished are read and evaluated; every
    /// other run is listed in [`ReproduceResults::missing`]. A sweep's merge names the runs whose
    /// jobs are done, so that a run still being written by its job is not read.
    FinishedAmong(Vec<String>),
}

/// [`reproduce`] restricted to the runs `selection` names: one job of a sweep trains one run
/// ([`RunSelection::Only`]), and merging a sweep reads the finished runs without training any
/// ([`RunSelection::FinishedAmong`]). A run's result is the same bit for bit whichever call trained it
/// (given the seed and the thread count): each run starts from the same initial weights and
/// its own run directory.
///
/// # Errors
///
/// As [`reproduce`].
#[allow(clippy::too_many_arguments)]
pub fn reproduce_selected(
    params: &ReproduceValidParams,
    source: &DataSource,
    split: &SplitSpec,
    device: &Device,
    out_dir: &Path,
    selection: &RunSelection,
    progress: bool,
    mut log: impl FnMut(&str),
) -> Result<ReproduceResults> {
    let valid = params;
    let params = params.params();
    let started = std::time::Instant::now();
    let (data, description) = load_split_data(source, split, params.seed)?;
    let shape = data.train.shape();
    params.model.check_fits(
        [shape.channels, shape.height, shape.width],
        data.num_classes(),
    )?;
    let data = &data;
    let meter = Meter::new(valid.meter().clone())?;
    let methods = params.methods()?;
    let total_runs = methods.len();
    let mut runs = Vec::with_capacity(methods.len());
    let mut missing = Vec::new();
    let mut deployed_size = None;
    for (i, method) in methods.into_iter().enumerate() {
        let label = method.label();
        let run_dir = out_dir.join("runs").join(&label);
        let selected = match selection {
            RunSelection::All => true,
            RunSelection::Only(labels) => labels.contains(&label),
            RunSelection::FinishedAmong(labels) => {
                labels.contains(&label) && crate::run_dir::run_finished(&run_dir)?
            }
        };
        if !selected {
            missing.push(label);
            continue;
        }
        log(&format!(
            "[{}/{}] {} {label}",
            i + 1,
            total_runs,
            if matches!(selection, RunSelection::FinishedAmong(_)) {
                "reading"
            } else {
                "training"
            }
        ));
        let model: Box<dyn Model> = build_model(
            &params.model,
            &ModelContext::new(device.clone()).with_seed(params.seed),
        )?;
        if deployed_size.is_none() {
            deployed_size = Some(DeployedSize::of(model.as_ref())?);
        }
        let config = params.train_params(method).check()?;
        let run_config = RunConfig {
            model: params.model.clone(),
            train: config.params().clone(),
            exclude: Vec::new(),
            data: description.clone(),
            ptq_bits: None,
            device: if device.is_cuda() { "cuda" } else { "cpu" }.to_string(),
            pretrained: None,
        };
        run_config.claim(&run_dir)?;
        let identity = serde_json::json!({
            "model": params.model,
            "data": description,
        });
        let (training, measured) = meter.measure(|| {
            Trainer::new(model.as_ref(), data, config)
                .with_run_dir(&run_dir)
                .with_run_identity(identity)
                .with_progress(progress)
                .fit()
        });
        let training = training?;
        if !training.already_finished {
            run_config.save(&run_dir)?;
        }
        let resources = record_run_resources(&run_dir, &training, measured)?;
        // An LSQ run is deployed with its learned steps at its target bit.
        let deployed = training.deployed_steps(model.as_ref())?;
        let mut evaluation =
            CrossBitEvaluation::new(&params.eval_bits).with_batch_size(EVAL_BATCH_SIZE);
        if let Some(steps) = &deployed {
            evaluation = evaluation.with_learned_steps(steps);
        }
        let test = evaluation.run(model.as_ref(), &data.test, &data.normalization)?;
        log(&format!(
            "      best epoch {} of {}, test accuracy FP {:.2}%{}, {:.1} s",
            training.best_epoch + 1,
            training.history.len(),
            100.0 * test.fp,
            method
                .target_bits()
                .and_then(|b| {
                    test.at(b)
                        .map(|a| format!(", at {b} bits {:.2}%", 100.0 * a))
                })
                .unwrap_or_default(),
            resources.wall_time.value
        ));
        runs.push(RunResult {
            label,
            method,
            training,
            test,
            resources,
        });
    }
    let mut results = ReproduceResults {
        params: params.clone(),
        data: description.describe(),
        sizes: [data.train.len(), data.validation.len(), data.test.len()],
        runs,
        pepr: Vec::new(),
        deployed_size,
        seconds: 0.0,
        missing,
    };
    results.pepr = pepr_per_bit(&results)?;
    results.seconds = started.elapsed().as_secs_f64();
    Ok(results)
}

/// The lambda of a Reg run (NaN for other methods).
fn reg_lambda(run: &RunResult) -> f64 {
    match run.method {
        Method::Reg { regularizer } => regularizer.lambda(),
        _ => f64::NAN,
    }
}

/// The measurement noise of a run's training time: the spread of its epoch times, scaled to the whole
/// run (`sd(epoch seconds) * sqrt(epochs)`, epochs taken as independent); `None` with one epoch.
fn time_noise_seconds(training: &TrainOutcome) -> Option<f64> {
    let t: Vec<f64> = training.history.iter().map(|e| e.seconds).collect();
    let n = t.len();
    if n < 2 {
        return None;
    }
    let mean = t.iter().sum::<f64>() / n as f64;
    let var = t.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some((var * n as f64).sqrt())
}

/// A note when the training costs of the pool's runs differ by less than twice the measurement noise
/// of the noisiest run: then min-max normalization turns noise into `R` from 0 to 1, and PePR-E /
/// PePR-T rank the models by chance.
fn cost_noise_note(runs: &[&RunResult]) -> Option<String> {
    let times: Vec<f64> = runs.iter().map(|r| r.resources.wall_time.value).collect();
    let (lo, hi) = times
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &t| {
            (a.min(t), b.max(t))
        });
    let noise = runs
        .iter()
        .filter_map(|r| time_noise_seconds(&r.training))
        .fold(f64::NAN, f64::max);
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) || noise.is_nan() {
        return None;
    }
    (hi - lo < 2.0 * noise).then(|| {
        format!(
            "The training times differ by {:.3} s ({:.1} %), less than twice the measurement noise of the noisiest run ({noise:.3} s, from the spread of its epoch times): PePR-E and PePR-T do not tell these models apart; rank them by PePR-S.",
            hi - lo,
            100.0 * (hi - lo) / lo
        )
    })
}

fn pepr_per_bit(results: &ReproduceResults) -> Result<Vec<PeprAtBit>> {
    let Some(fp) = results.fp() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for &b in &results.params.target_bits {
        let size = |deployed_bits: Option<BitWidth>| {
            results.deployed_size.map_or(0.0, |s| match deployed_bits {
                None => s.fp_bits() as f64,
                Some(b) => s.bits_at(b) as f64,
            })
        };
        // (name, accuracy as deployed, size in bits, training run)
        let mut entries: Vec<(String, f64, f64, &RunResult)> =
            vec![("FP".into(), fp.test.fp, size(None), fp)];
        if let Some(a) = fp.test.at(b) {
            entries.push(("PTQ".into(), a, size(Some(b)), fp));
        }
        for row in results.trained_rows() {
            let name = row.name();
            if let Some(r) = results.trained(row, b)
                && let Some(a) = r.test.at(b)
            {
                entries.push((name.into(), a, size(Some(b)), r));
            }
        }
        let runs: Vec<ModelRun> = entries
            .iter()
            .map(|(name, acc, bits, r)| {
                ModelRun::new(name.clone(), *acc)
                    .with_resource("size", *bits)
                    .with_resource("energy", r.resources.energy.value)
                    .with_resource("time", r.resources.wall_time.value)
            })
            .collect();
        let pool = Pool::new(format!("{b}-bit"), runs)?;
        let s = pool.pepr("size")?;
        let e = pool.pepr("energy")?;
        let t = pool.pepr("time")?;
        let mut notes = s.notes.clone();
        notes.extend(e.notes.iter().cloned());
        notes.extend(t.notes.iter().cloned());
        let mut trained: Vec<&RunResult> = entries.iter().map(|e| e.3).collect();
        trained.dedup_by(|a, b| a.label == b.label);
        notes.extend(cost_noise_note(&trained));
        let models = entries
            .iter()
            .map(|(name, acc, bits, r)| PeprEntry {
                name: name.clone(),
                accuracy: *acc,
                energy_kwh: r.resources.energy.value,
                train_seconds: r.resources.wall_time.value,
                size_bits: *bits,
                pepr_s: s.get(name).map_or(f64::NAN, |x| x.pepr),
                pepr_e: e.get(name).map_or(f64::NAN, |x| x.pepr),
                pepr_t: t.get(name).map_or(f64::NAN, |x| x.pepr),
            })
            .collect();
        out.push(PeprAtBit {
            bits: b,
            models,
            notes,
        });
    }
    Ok(out)
}

/// The per-bit table (spec §4 A): rows FP / PTQ / QAT / Reg (and the baselines run), one column per
/// evaluation bit. The cells of a trained row hold the model trained for that bit, evaluated at it
/// (empty where no model was trained).
pub fn per_bit_table(results: &ReproduceResults) -> BTreeMap<&'static str, Vec<Option<f64>>> {
    let bits = &results.params.eval_bits;
    let mut t = BTreeMap::new();
    if let Some(fp) = results.fp() {
        t.insert("FP", bits.iter().map(|_| Some(fp.test.fp)).collect());
        t.insert("PTQ", bits.iter().map(|&b| fp.test.at(b)).collect());
    }
    for row in results.trained_rows() {
        t.insert(
            row.name(),
            bits.iter()
                .map(|&b| results.trained(row, b).and_then(|r| r.test.at(b)))
                .collect(),
        );
    }
    t
}

/// Bit-widths from numbers known to lie in 2..=16.
fn bit_widths(bits: &[u32]) -> Vec<BitWidth> {
    BitWidth::list(bits).expect("bit-widths in 2..=16")
}

/// `[2, 3, 4]`.
fn listed_bits(bits: &[BitWidth]) -> String {
    let numbers: Vec<u32> = bits.iter().map(|b| b.get()).collect();
    format!("{numbers:?}")
}
