//! The training loop for FP, QAT, Reg and the QAT baselines (spec §4): early stopping on the right accuracy, the best
//! checkpoint kept, one JSON record per epoch, and resumption after a crash.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use candle_core::Tensor;
use candle_nn::loss::cross_entropy;
use serde::{Deserialize, Serialize};
use smallscale_datasets::{AugmentParams, BatchParams, ImageBatcher};
use smallscale_models::{BufferSnapshot, Model, Optimizer, QuantizationState, Schedule};
use smallscale_quant_core::{MaxAbsQuantizer, Quantizer};

use crate::checkpointing::{RunCheckpoints, RunState, file_err};
use crate::config_diff::{config_differences, listed};
use crate::dampening::oscillation_dampening_loss;
use crate::data::{ImageData, batch_tensors};
use crate::errors::{OscRegError, Result};
use crate::evaluate::{EVAL_BATCH_SIZE, accuracy, count_correct};
use crate::freezing::WeightFreezer;
use crate::hyperparams::{Method, TrainValidParams};
use crate::lsq_training::LsqSteps;
use crate::oscillation::{LayerOscillation, OscillationParams, OscillationTracker};
use crate::progress::EpochBar;
use crate::regularizer::OscillationRegularizer;

/// Oscillation statistics of one epoch (QAT and Reg with tracking on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OscillationSummary {
    /// Fraction of all tracked weights whose oscillation frequency exceeds the threshold.
    pub oscillating_fraction: f64,
    /// Mean oscillation frequency over all tracked weights.
    pub mean_frequency: f64,
    /// Per layer.
    pub layers: Vec<LayerOscillation>,
}

/// What happened in one epoch: written as one JSON line per epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch, 0-based.
    pub epoch: usize,
    /// Learning rate used.
    pub lr: f64,
    /// Mean training cross-entropy.
    pub train_cross_entropy: f64,
    /// Mean regularizer value `R_b(W)` (Reg only; without lambda; may be negative).
    pub regularizer: Option<f64>,
    /// Mean dampening loss (QAT with dampening only; without its weight).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dampening: Option<f64>,
    /// The dampening weight at the epoch's last step (QAT with dampening only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dampening_weight: Option<f64>,
    /// The freezing threshold at the epoch's last step (QAT with freezing only; 0 during the warm-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freezing_threshold: Option<f64>,
    /// The share of the quantized weights frozen at the end of the epoch (QAT with freezing only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen_fraction: Option<f64>,
    /// The learned step of every quantized tensor at the end of the epoch (QAT with LSQ only): the
    /// selected epoch's are the model's as deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsq_steps: Option<BTreeMap<String, f64>>,
    /// Training accuracy (with the training forward pass: quantized for QAT).
    pub train_accuracy: f64,
    /// Validation accuracy with quantization off.
    pub validation_accuracy_fp: f64,
    /// Validation accuracy after PTQ at the target bit (QAT, Reg).
    pub validation_accuracy_quantized: Option<f64>,
    /// The accuracy that early stopping and model selection watch.
    pub monitored: f64,
    /// Whether this epoch is the best so far.
    pub best: bool,
    /// Oscillation statistics (QAT, Reg, when tracked). The tracker lives in memory: after a run is
    /// resumed, its averages start again from zero.
    pub oscillations: Option<OscillationSummary>,
    /// Wall time of the epoch (training and validation), seconds.
    pub seconds: f64,
}

/// The result of [`Trainer::fit`]. The model holds the best weights afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// The method.
    pub method: Method,
    /// Every epoch, including those of an interrupted run that was resumed.
    pub history: Vec<EpochRecord>,
    /// The selected epoch.
    pub best_epoch: usize,
    /// Its monitored validation accuracy.
    pub best_monitored: f64,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// The epoch this call resumed from, if it continued an interrupted run.
    pub resumed_at_epoch: Option<usize>,
    /// Whether the run had already finished in its run directory, so this call trained nothing.
    pub already_finished: bool,
    /// Wall time of this call, seconds.
    pub seconds: f64,
}

impl TrainOutcome {
    /// The learned steps of the selected epoch (QAT with LSQ only): the model's as deployed.
    pub fn learned_steps(&self) -> Option<&BTreeMap<String, f64>> {
        self.history
            .iter()
            .find(|r| r.epoch == self.best_epoch)
            .and_then(|r| r.lsq_steps.as_ref())
    }

    /// The model's quantization as deployed at its target bit when that is not the reference
    /// quantizer: the learned steps of an LSQ run, for the model's tensors.
    pub fn deployed_steps(&self, model: &dyn Model) -> Result<Option<LsqSteps>> {
        match (self.method, self.learned_steps()) {
            (Method::QatLsq { bits }, Some(values)) => {
                Ok(Some(LsqSteps::from_values(model, bits, values)?))
            }
            _ => Ok(None),
        }
    }
}

/// A function called with every epoch's record.
type EpochCallback<'a> = Box<dyn FnMut(&EpochRecord) + 'a>;

/// Trains a model with one of the paper's methods.
///
/// ```
/// use candle_core::Device;
/// use smallscale_datasets::{SplitParams, fashion_mnist_embedded};
/// use smallscale_models::{ModelConfig, ModelContext, build_model};
/// use smallscale_osc_reg::{ImageData, Method, RegularizerParams, TrainParams, Trainer};
///
/// let (train, test) = fashion_mnist_embedded()?;
/// let data = ImageData::split(train, test, &SplitParams::new(0.1, 0)?.with_stratified(true))?.truncated(256, 128, 128)?;
/// let model = build_model(&ModelConfig::default_for("mlp")?, &ModelContext::new(Device::Cpu).with_seed(0))?;
/// let method = Method::Reg { regularizer: RegularizerParams::new(4, 1.0)? };
/// let config = TrainParams::new(method).with_epochs(2).with_batch_size(64).check()?;
/// let outcome = Trainer::new(model.as_ref(), &data, config).fit()?;
/// assert_eq!(outcome.history.len(), 2);
/// assert!(outcome.history[0].validation_accuracy_quantized.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Trainer<'a> {
    model: &'a dyn Model,
    data: &'a ImageData,
    config: TrainValidParams,
    run_dir: Option<PathBuf>,
    progress: bool,
    eval_batch_size: usize,
    oscillation: OscillationParams,
    on_epoch: Option<EpochCallback<'a>>,
    identity: serde_json::Value,
}

impl<'a> Trainer<'a> {
    /// A trainer for `model` on `data`. Without a run directory, nothing is written and the best
    /// weights are kept in memory.
    pub fn new(model: &'a dyn Model, data: &'a ImageData, config: TrainValidParams) -> Self {
        Self {
            model,
            data,
            config,
            run_dir: None,
            progress: false,
            eval_batch_size: EVAL_BATCH_SIZE,
            oscillation: OscillationParams::default(),
            on_epoch: None,
            identity: serde_json::Value::Null,
        }
    }

    /// Writes checkpoints, `state.json` and `metrics.jsonl` into `dir` (created if needed), and resumes
    /// from it if it holds an interrupted run of the same configuration.
    pub fn with_run_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.run_dir = Some(dir.into());
        self
    }

    /// Describes what else defines the run besides its training parameters (the model configuration,
    /// the data): a run directory holding a run with another identity is refused instead of resumed.
    pub fn with_run_identity(mut self, identity: serde_json::Value) -> Self {
        self.identity = identity;
        self
    }

    /// Shows a progress bar per epoch on the terminal (with the `progress` feature; without it
    /// nothing is drawn).
    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Settings of the oscillation tracker.
    pub fn with_oscillation_params(mut self, params: OscillationParams) -> Self {
        self.oscillation = params;
        self
    }

    /// Calls `f` with every epoch's record as soon as it is complete (e.g. to print JSON lines).
    pub fn on_epoch(mut self, f: impl FnMut(&EpochRecord) + 'a) -> Self {
        self.on_epoch = Some(Box::new(f));
        self
    }

    fn training_state(&self) -> Result<QuantizationState> {
        let selector = self.model.quant().get().selector().clone();
        let method = self.config.params().method;
        Ok(match method.target_bits() {
            Some(bits) if method.trains_quantized() => {
                QuantizationState::reference(bits.get())?.with_selector(selector)
            }
            _ => QuantizationState::off().with_selector(selector),
        })
    }

    fn target_state(&self) -> Result<Option<QuantizationState>> {
        let selector = self.model.quant().get().selector().clone();
        Ok(match self.config.params().method.target_bits() {
            Some(b) => Some(QuantizationState::reference(b.get())?.with_selector(selector)),
            None => None,
        })
    }

    /// Runs training to the end (or early stopping) and leaves the best weights in the model. The
    /// model's quantization state is restored afterwards.
    pub fn fit(mut self) -> Result<TrainOutcome> {
        let original_state = self.model.quant().get();
        let result = self.fit_inner();
        self.model.quant().set(original_state);
        result
    }

    fn fit_inner(&mut self) -> Result<TrainOutcome> {
        let started = Instant::now();
        let p = self.config.params().clone();
        let params_json = serde_json::to_value(&p)?;
        let config_json = if self.identity.is_null() {
            params_json
        } else {
            serde_json::json!({ "train": params_json, "run": self.identity.clone() })
        };
        let mut params: Vec<(String, candle_core::Var)> = self.model.named_parameters();
        // LSQ: the steps start from the initial weights and train with them.
        let lsq = match p.method {
            Method::QatLsq { bits } => Some(LsqSteps::init(self.model, bits)?),
            _ => None,
        };
        if let Some(l) = &lsq {
            params.extend(l.named_steps());
        }
        let mut optimizer = Optimizer::new(p.optimizer, params);
        let mut state = RunState::new(config_json.clone(), p.patience);
        let mut resumed_at_epoch = None;
        let mut freezer = match p.method {
            Method::QatFreeze { freezing } => Some(
                WeightFreezer::new(freezing)
                    .with_statistics_threshold(self.oscillation.threshold())?,
            ),
            _ => None,
        };
        let checkpoints = match &self.run_dir {
            Some(dir) => Some(RunCheckpoints::open(dir)?),
            None => None,
        };
        if let Some(files) = &checkpoints {
            let dir = files.dir();
            if let Some(mut previous) = files.load_state()? {
                let differences = config_differences(&previous.config, &config_json);
                let raises_epochs =
                    !differences.is_empty() && differences.iter().all(|d| d.raises_epochs());
                if !differences.is_empty() && !raises_epochs {
                    return Err(file_err(
                        dir,
                        format!(
                            "holds a run with a different configuration (differs in: {}): choose another output directory, or delete this one to start over",
                            listed(&differences, 8)
                        ),
                    ));
                }
                previous.early_stopping = previous.early_stopping.with_patience(p.patience);
                files.clean_up_after_interruption(&previous)?;
                // Patience used up on the last epoch counts too: a longer run would have stopped
                // there as well.
                let patience_exhausted =
                    previous.stopped_early || previous.early_stopping.should_stop();
                // More epochs stretch a schedule spread over the maximum number of epochs, which
                // would change the epochs already trained: refused, unless nothing is retrained (a
                // finished run that early stopping ended).
                let would_continue = raises_epochs && !(previous.finished && patience_exhausted);
                let stretched = if matches!(
                    p.method,
                    Method::QatDampen { .. } | Method::QatFreeze { .. }
                ) {
                    Some(format!(
                        "its {} warm-up and annealing are spread over the maximum number of epochs",
                        p.method.name()
                    ))
                } else if !matches!(p.schedule, Schedule::Constant) {
                    Some("its cosine learning-rate schedule is spread over the maximum number of epochs".into())
                } else {
                    None
                };
                if let (true, Some(why)) = (would_continue, stretched) {
                    return Err(file_err(
                        dir,
                        format!(
                            "holds a run over fewer epochs, and {why}: more epochs would change the epochs already trained; delete this run directory to train it anew with the new number of epochs, or choose another output directory (differs in: {})",
                            listed(&differences, 8)
                        ),
                    ));
                }
                if previous.finished && raises_epochs && !patience_exhausted {
                    // More epochs for a run that ended at its old maximum: continue it.
                    previous.finished = false;
                    previous.config = config_json.clone();
                }
                if previous.finished {
                    files.load_best(self.model)?;
                    let mut done = outcome(&p.method, previous, None, started);
                    done.already_finished = true;
                    return Ok(done);
                }
                previous.config = config_json.clone();
                if previous.epochs_done > 0 {
                    let method_state =
                        files.resume(self.model, &mut optimizer, previous.epochs_done - 1)?;
                    if let Some(freezer) = freezer.as_mut() {
                        freezer.load_state_tensors(&method_state)?;
                    }
                    if let Some(l) = &lsq {
                        let saved = previous
                            .history
                            .last()
                            .and_then(|r| r.lsq_steps.clone())
                            .unwrap_or_default();
                        l.set_values(&saved)?;
                    }
                    resumed_at_epoch = Some(previous.epochs_done);
                }
                state = previous;
            }
        }
        let mut best_in_memory: Option<Snapshot> = None;
        let regularizer = match p.method {
            Method::Reg { regularizer } => Some(OscillationRegularizer::new(regularizer)),
            _ => None,
        };
        let dampening = match p.method {
            Method::QatDampen { dampening } => Some(dampening),
            _ => None,
        };
        // Freezing tracks oscillations itself (its decisions depend on them).
        let tracking_bits = p
            .method
            .target_bits()
            .filter(|_| p.track_oscillations && freezer.is_none());
        let mut tracker = OscillationTracker::new(self.oscillation);
        let batch_params = BatchParams::new(p.batch_size)?.with_seed(p.seed);
        let mut batcher = ImageBatcher::new(&self.data.train, batch_params)
            .with_normalization(self.data.normalization.clone());
        if p.augment {
            batcher =
                batcher.with_augmentation(AugmentParams::cifar().with_seed(p.seed ^ 0xa5a5_5a5a));
        }
        let device = self.model.context().device().clone();
        let (train_state, target_state) = match &lsq {
            Some(l) => {
                let state = l.state(self.model.quant().get().selector().clone())?;
                (state.clone(), Some(state))
            }
            None => (self.training_state()?, self.target_state()?),
        };
        let steps_per_epoch = batcher.num_batches();
        let total_steps = steps_per_epoch * p.epochs;

        for epoch in state.epochs_done..p.epochs {
            let epoch_start = Instant::now();
            let lr = p.schedule.learning_rate(p.optimizer.lr(), epoch, p.epochs);
            optimizer.set_learning_rate(lr);
            self.model.quant().set(train_state.clone());
            let bar = self.progress_bar(batcher.num_batches() as u64, epoch, p.epochs);
            let (mut ce_sum, mut reg_sum, mut damp_sum, mut correct, mut seen, mut steps) =
                (0.0f64, 0.0f64, 0.0f64, 0usize, 0usize, 0usize);
            let (mut damp_weight, mut freeze_threshold) = (0.0f64, 0.0f64);
            for (step, batch) in batcher.epoch(epoch as u64).enumerate() {
                let global_step = epoch * steps_per_epoch + step;
                let batch = batch?;
                let (x, y) = batch_tensors(&batch, &device)?;
                let logits = self.model.forward_t(&x, true)?;
                let ce = cross_entropy(&logits, &y)?;
                let mut loss = ce.clone();
                // The weights the loss terms of Reg and dampening are computed on.
                let weights: Vec<Tensor> = if regularizer.is_some() || dampening.is_some() {
                    self.model
                        .quantized_weights()
                        .into_iter()
                        .map(|(_, w)| w)
                        .collect()
                } else {
                    Vec::new()
                };
                if let Some(reg) = &regularizer {
                    let value = reg.value(&weights)?;
                    reg_sum += f64::from(
                        value
                            .to_dtype(candle_core::DType::F32)?
                            .to_scalar::<f32>()?,
                    );
                    loss = (loss + (value * reg.params().lambda())?)?;
                }
                if let Some(d) = &dampening {
                    let value = oscillation_dampening_loss(&weights, d.bits(), d.aggregation())?;
                    damp_sum += f64::from(
                        value
                            .to_dtype(candle_core::DType::F32)?
                            .to_scalar::<f32>()?,
                    );
                    damp_weight = d.schedule().value(global_step, total_steps);
                    loss = (loss + (value * damp_weight)?)?;
                }
                let ce_value = f64::from(ce.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?);
                let loss_value =
                    f64::from(loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?);
                if !loss_value.is_finite() {
                    return Err(OscRegError::Diverged {
                        epoch,
                        step,
                        loss: loss_value,
                    });
                }
                let grads = loss.backward()?;
                optimizer.step(&grads)?;
                if let Some(freezer) = freezer.as_mut() {
                    freezer.step(&self.model.quantized_vars(), global_step, total_steps)?;
                    freeze_threshold = freezer.params().schedule().value(global_step, total_steps);
                }
                if let Some(l) = &lsq {
                    l.keep_positive()?;
                }
                if let Some(bits) = tracking_bits {
                    let q = MaxAbsQuantizer::with_bits(bits);
                    for (name, var) in self.model.quantized_vars() {
                        // LSQ's codes are those of its own steps.
                        let codes = match lsq.as_ref().and_then(|l| l.quantizer(&name)) {
                            Some(own) => own.quantize(var.as_tensor())?.codes,
                            None => q.quantize(var.as_tensor())?.codes,
                        };
                        tracker.update(&name, &codes)?;
                    }
                }
                ce_sum += ce_value;
                correct += count_correct(&logits, &y)?;
                seen += batch.len();
                steps += 1;
                bar.set_message(|| format!("ce {:.4}", ce_sum / steps as f64));
                bar.inc();
            }
            bar.finish_and_clear();
            let norm = &self.data.normalization;
            let val_fp = accuracy(
                self.model,
                &self.data.validation,
                norm,
                QuantizationState::off().with_selector(train_state.selector().clone()),
                self.eval_batch_size,
            )?;
            let val_q = match &target_state {
                Some(s) => Some(accuracy(
                    self.model,
                    &self.data.validation,
                    norm,
                    s.clone(),
                    self.eval_batch_size,
                )?),
                None => None,
            };
            let monitored = val_q.unwrap_or(val_fp);
            let best = state.early_stopping.observe(epoch, monitored);
            if best && checkpoints.is_none() {
                best_in_memory = Some(snapshot(self.model)?);
            }
            let oscillations = match &freezer {
                Some(f) => Some(summarize(f.tracker().stats())),
                None => tracking_bits.map(|_| summarize(tracker.stats())),
            };
            let record = EpochRecord {
                epoch,
                lr,
                train_cross_entropy: ce_sum / steps.max(1) as f64,
                regularizer: regularizer.as_ref().map(|_| reg_sum / steps.max(1) as f64),
                dampening: dampening.map(|_| damp_sum / steps.max(1) as f64),
                dampening_weight: dampening.map(|_| damp_weight),
                freezing_threshold: freezer.as_ref().map(|_| freeze_threshold),
                frozen_fraction: freezer.as_ref().map(WeightFreezer::frozen_fraction),
                lsq_steps: match &lsq {
                    Some(l) => Some(l.values()?),
                    None => None,
                },
                train_accuracy: correct as f64 / seen.max(1) as f64,
                validation_accuracy_fp: val_fp,
                validation_accuracy_quantized: val_q,
                monitored,
                best,
                oscillations,
                seconds: epoch_start.elapsed().as_secs_f64(),
            };
            state.history.push(record.clone());
            state.epochs_done = epoch + 1;
            let stop = state.early_stopping.should_stop();
            if stop || epoch + 1 == p.epochs {
                state.finished = true;
                state.stopped_early = stop && epoch + 1 < p.epochs;
            }
            if let Some(files) = &checkpoints {
                let method_state = match &freezer {
                    Some(f) => f.state_tensors()?,
                    None => BTreeMap::new(),
                };
                files.commit_epoch(self.model, &optimizer, method_state, &state, epoch, best)?;
            }
            if let Some(f) = self.on_epoch.as_mut() {
                f(&record);
            }
            if state.finished {
                break;
            }
        }
        // The selected model.
        match (&checkpoints, best_in_memory) {
            (Some(files), _) => files.load_best(self.model)?,
            (None, Some((params, buffers))) => {
                for (name, var) in self.model.named_parameters() {
                    if let Some(t) = params.get(&name) {
                        var.set(t)?;
                    }
                }
                self.model.buffers().restore(&buffers);
            }
            (None, None) => {}
        }
        Ok(outcome(&p.method, state, resumed_at_epoch, started))
    }

    fn progress_bar(&self, len: u64, epoch: usize, epochs: usize) -> EpochBar {
        let prefix = format!(
            "{} epoch {}/{}",
            self.config.params().method.label(),
            epoch + 1,
            epochs
        );
        EpochBar::new(self.progress, len, prefix)
    }
}

/// Deep copies of a model's parameters and buffers.
type Snapshot = (BTreeMap<String, Tensor>, BufferSnapshot);

fn snapshot(model: &dyn Model) -> Result<Snapshot> {
    let params = model
        .named_parameters()
        .into_iter()
        .map(|(n, v)| Ok((n, v.as_tensor().copy()?)))
        .collect::<Result<BTreeMap<_, _>>>()?;
    Ok((params, model.buffers().copy()?))
}

fn summarize(layers: Vec<LayerOscillation>) -> OscillationSummary {
    let total: usize = layers.iter().map(|l| l.numel).sum();
    let weighted = |f: fn(&LayerOscillation) -> f64| {
        if total == 0 {
            0.0
        } else {
            layers.iter().map(|l| f(l) * l.numel as f64).sum::<f64>() / total as f64
        }
    };
    OscillationSummary {
        oscillating_fraction: weighted(|l| l.oscillating_fraction),
        mean_frequency: weighted(|l| l.mean_frequency),
        layers,
    }
}

fn outcome(
    method: &Method,
    state: RunState,
    resumed_at_epoch: Option<usize>,
    started: Instant,
) -> TrainOutcome {
    TrainOutcome {
        method: *method,
        best_epoch: state.early_stopping.best_epoch().unwrap_or(0),
        best_monitored: state.early_stopping.best_monitored().max(0.0),
        stopped_early: state.stopped_early,
        history: state.history,
        resumed_at_epoch,
        already_finished: false,
        seconds: started.elapsed().as_secs_f64(),
    }
}
