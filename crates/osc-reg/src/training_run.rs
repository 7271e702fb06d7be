//! One complete training run: claim the run directory, build the model (optionally from a
//! pretrained body), train it metered, record its resources, evaluate the selected model on the
//! test set and write `result.json`. `smallscale train` and the PePR study both run through it.

use std::path::{Path, PathBuf};

use candle_core::Device;
use smallscale_models::{
    Model, ModelConfig, ModelContext, PretrainedLoad, QuantizationState, build_model,
    load_pretrained,
};
use smallscale_pepr_score::Meter;
use smallscale_quant_core::BitWidth;

use crate::classification_metrics::classification_metrics;
use crate::data::ImageData;
use crate::data_description::DataDescription;
use crate::environment::RunEnvironment;
use crate::errors::{OscRegError, Result};
use crate::evaluate::{CrossBitEvaluation, EVAL_BATCH_SIZE};
use crate::hyperparams::TrainValidParams;
use crate::run_dir::{
    BEST_FILE, RESULT_FILE, RunConfig, RunStatus, TestAccuracy, TrainResult, read_json_if_exists,
    record_run_resources, write_json,
};
use crate::trainer::{EpochRecord, Trainer};

type EpochCallback<'a> = Box<dyn FnMut(&EpochRecord) + 'a>;
type StartCallback<'a> = Box<dyn FnOnce(&dyn Model, Option<&PretrainedLoad>) + 'a>;

/// A training run from its model configuration, data and validated parameters to its
/// [`TrainResult`] (builder; [`TrainingRun::run`] does the work).
///
/// ```
/// use candle_core::Device;
/// use smallscale_datasets::DataSource;
/// use smallscale_models::ModelConfig;
/// use smallscale_osc_reg::{Method, SplitSpec, TrainParams, TrainingRun, load_split_data};
/// use smallscale_pepr_score::{Meter, MeterConfig};
///
/// let split = SplitSpec { limit_train: Some(200), limit_validation: Some(100), limit_test: Some(100), ..SplitSpec::default() };
/// let (data, description) = load_split_data(&DataSource::EmbeddedFashionMnist, &split, 0)?;
/// let model = ModelConfig::default_for("mlp")?.fitted_to(description.shape, description.classes);
/// let config = TrainParams::new(Method::Fp).with_epochs(1).check()?;
/// let meter = Meter::new(MeterConfig::default())?;
/// let outcome = TrainingRun::new(model, &data, description, config).with_meter(&meter).run()?;
/// assert_eq!(outcome.result.outcome.history.len(), 1);
/// assert!(outcome.result.resources.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TrainingRun<'a> {
    model: ModelConfig,
    data: &'a ImageData,
    description: DataDescription,
    config: TrainValidParams,
    exclude: Vec<String>,
    report_bits: Option<BitWidth>,
    device: Device,
    pretrained: Option<PathBuf>,
    run_dir: Option<PathBuf>,
    meter: Option<&'a Meter>,
    progress: bool,
    environment: Option<RunEnvironment>,
    on_epoch: Option<EpochCallback<'a>>,
    on_start: Option<StartCallback<'a>>,
}

/// What [`TrainingRun::run`] returns.
#[derive(Debug, Clone)]
pub struct TrainingRunOutput {
    /// The result (also written as `result.json` of the run directory).
    pub result: TrainResult,
    /// The configuration the run directory held before this call, if any.
    pub previous: Option<RunConfig>,
    /// What the pretrained checkpoint initialized, when there was one.
    pub pretrained: Option<PretrainedLoad>,
}

impl<'a> TrainingRun<'a> {
    /// A run of `model` on `data` (described by `description`, recorded in `config.json`), trained
    /// with `config`; on the CPU, quantizing every weight the reference selector picks, writing
    /// nothing, not metered.
    pub fn new(
        model: ModelConfig,
        data: &'a ImageData,
        description: DataDescription,
        config: TrainValidParams,
    ) -> Self {
        Self {
            model,
            data,
            description,
            config,
            exclude: Vec::new(),
            report_bits: None,
            device: Device::Cpu,
            pretrained: None,
            run_dir: None,
            meter: None,
            progress: false,
            environment: None,
            on_epoch: None,
            on_start: None,
        }
    }

    /// Never quantizes the weights whose names match these globs.
    pub fn with_exclude(mut self, exclude: Vec<String>) -> Self {
        self.exclude = exclude;
        self
    }

    /// Also reports the test accuracy after PTQ at `bits` (the target bit of QAT and Reg runs is
    /// what callers usually pass).
    pub fn with_report_bits(mut self, bits: Option<BitWidth>) -> Self {
        self.report_bits = bits;
        self
    }

    /// Trains on `device`.
    pub fn with_device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }

    /// Initializes every tensor but the classifier from this checkpoint (fine-tuning); the path
    /// is part of the run's identity, so pass it absolute ([`pretrained_checkpoint`] makes it so).
    pub fn with_pretrained(mut self, checkpoint: Option<PathBuf>) -> Self {
        self.pretrained = checkpoint;
        self
    }

    /// Writes and resumes the run directory `dir`.
    pub fn with_run_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.run_dir = Some(dir.into());
        self
    }

    /// Meters the training with `meter`.
    pub fn with_meter(mut self, meter: &'a Meter) -> Self {
        self.meter = Some(meter);
        self
    }

    /// Shows the trainer's progress bar.
    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Records `environment` in the result.
    pub fn with_environment(mut self, environment: RunEnvironment) -> Self {
        self.environment = Some(environment);
        self
    }

    /// Calls `f` with every epoch's record.
    pub fn on_epoch(mut self, f: impl FnMut(&EpochRecord) + 'a) -> Self {
        self.on_epoch = Some(Box::new(f));
        self
    }

    /// Calls `f` once the model is built (and initialized from the pretrained checkpoint), before
    /// training starts.
    pub fn on_start(mut self, f: impl FnOnce(&dyn Model, Option<&PretrainedLoad>) + 'a) -> Self {
        self.on_start = Some(Box::new(f));
        self
    }

    /// The run's `config.json`.
    pub fn run_config(&self) -> RunConfig {
        RunConfig {
            model: self.model.clone(),
            train: self.config.params().clone(),
            exclude: self.exclude.clone(),
            data: self.description.clone(),
            ptq_bits: self.report_bits,
            device: if self.device.is_cuda() { "cuda" } else { "cpu" }.to_string(),
            pretrained: self.pretrained.clone(),
        }
    }

    /// Trains (or resumes, or only re-evaluates a finished run directory), evaluates the selected
    /// model on the test set and writes `result.json`.
    ///
    /// # Errors
    ///
    /// A run directory holding another configuration, a pretrained checkpoint that does not fit
    /// the model, or an error of the trainer or the evaluation.
    pub fn run(mut self) -> Result<TrainingRunOutput> {
        let run_config = self.run_config();
        let previous = match &self.run_dir {
            Some(dir) => RunConfig::read(dir)?,
            None => None,
        };
        if let Some(dir) = &self.run_dir {
            run_config.claim(dir)?;
        }
        let ctx = ModelContext::new(self.device.clone()).with_seed(self.config.params().seed);
        let model = build_model(&self.model, &ctx)?;
        let pretrained = match &self.pretrained {
            Some(path) => Some(load_pretrained(model.as_ref(), path, &self.model.head_prefix())
                .map_err(|e| OscRegError::File {
                    path: path.clone(),
                    reason: format!(
                        "its body does not fit this model ({e}); pretrain the same model with the same width and input shape"
                    ),
                })?),
            None => None,
        };
        let selection = QuantizationState::off().excluding(&self.exclude)?;
        model.quant().set(selection);
        if let Some(f) = self.on_start.take() {
            f(model.as_ref(), pretrained.as_ref());
        }

        let mut trainer = Trainer::new(model.as_ref(), self.data, self.config.clone())
            .with_progress(self.progress);
        if let Some(f) = self.on_epoch.take() {
            trainer = trainer.on_epoch(f);
        }
        if let Some(dir) = &self.run_dir {
            trainer = trainer.with_run_dir(dir);
        }
        let (outcome, measured) = match self.meter {
            Some(meter) => {
                let (outcome, measured) = meter.measure(|| trainer.fit());
                (outcome?, Some(measured))
            }
            None => (trainer.fit()?, None),
        };
        let resources = match (&self.run_dir, measured) {
            (Some(dir), Some(m)) => Some(record_run_resources(dir, &outcome, m)?),
            (_, m) => m,
        };
        if let Some(dir) = &self.run_dir
            && !outcome.already_finished
        {
            run_config.save(dir)?;
        }

        let data = self.data;
        let bits: Vec<BitWidth> = self.report_bits.into_iter().collect();
        // An LSQ run is deployed with its learned steps at its target bit.
        let deployed = outcome.deployed_steps(model.as_ref())?;
        let mut evaluation = CrossBitEvaluation::new(&bits).with_batch_size(EVAL_BATCH_SIZE);
        if let Some(steps) = &deployed {
            evaluation = evaluation.with_learned_steps(steps);
        }
        let test = evaluation.run(model.as_ref(), &data.test, &data.normalization)?;
        let fp_metrics = classification_metrics(
            model.as_ref(),
            &data.test,
            &data.normalization,
            QuantizationState::off().with_selector(model.quant().get().selector().clone()),
            EVAL_BATCH_SIZE,
        )?;
        // A run found finished keeps the environment it was trained in.
        let environment = match (&self.run_dir, outcome.already_finished) {
            (Some(dir), true) => read_json_if_exists::<TrainResult>(&dir.join(RESULT_FILE))
                .ok()
                .flatten()
                .and_then(|r| r.environment)
                .or_else(|| self.environment.take()),
            _ => self.environment.take(),
        };
        let result = TrainResult {
            method: self.config.params().method.label(),
            model: self.model.architecture().to_string(),
            parameters: model.num_parameters(),
            status: RunStatus::of(&outcome),
            test: TestAccuracy {
                fp: test.fp,
                bits: self.report_bits,
                quantized: self.report_bits.and_then(|b| test.at(b)),
                fp_metrics: Some(fp_metrics),
            },
            outcome,
            environment,
            resources,
        };
        if let Some(dir) = &self.run_dir {
            write_json(&dir.join(RESULT_FILE), &result)?;
        }
        Ok(TrainingRunOutput {
            result,
            previous,
            pretrained,
        })
    }
}

/// The checkpoint a `--pretrained` argument names: the file itself, or `best.safetensors` of a
/// run directory; made absolute, so that a run's identity does not depend on the working
/// directory.
///
/// # Errors
///
/// [`OscRegError::File`] when it does not exist.
pub fn pretrained_checkpoint(path: &Path) -> Result<PathBuf> {
    let file = if path.is_dir() {
        path.join(BEST_FILE)
    } else {
        path.to_path_buf()
    };
    std::fs::canonicalize(&file).map_err(|e| OscRegError::File {
        path: file.clone(),
        reason: format!(
            "cannot be opened ({e}); pass a checkpoint or the run directory of the pretraining"
        ),
    })
}
