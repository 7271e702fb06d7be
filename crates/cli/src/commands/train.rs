//! `smallscale train`: one training run (FP, QAT or Reg) with every knob, a resumable run
//! directory, and the test accuracy of the selected model at full precision and at the target bit.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use smallscale_models::{OptimizerConfig, QuantizationState, Schedule};
use smallscale_osc_reg::{
    BEST_FILE, CONFIG_FILE, EpochRecord, Method, OscRegError, RESULT_FILE, RegularizerParams,
    RunStatus, STATE_FILE, TrainParams, TrainResult, TrainValidParams, TrainingRun,
    pretrained_checkpoint,
};
use smallscale_pepr_score::Meter;
use smallscale_quant_core::BitWidth;

use super::experiment_args::{DataArgs, DeviceArgs, SplitArgs, load_split_data};
use super::model_args::ModelArgs;

/// `--method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// Ordinary full-precision training (with --bits: also report PTQ at that bit).
    Fp,
    /// Quantization-aware training at --bits.
    Qat,
    /// The oscillation regularizer at --bits with weight --lambda.
    Reg,
    /// QAT at --bits with Nagel et al.'s oscillation dampening (--dampen-lambda).
    QatDampen,
    /// QAT at --bits with Nagel et al.'s iterative weight freezing (--freeze-threshold).
    QatFreeze,
    /// QAT at --bits with learned step sizes (LSQ, Esser et al. 2020), one step per weight tensor.
    QatLsq,
}

/// `--optimizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerArg {
    /// Adam (the paper's).
    Adam,
    /// SGD with momentum.
    Sgd,
}

/// `--schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleArg {
    /// The base learning rate throughout.
    Constant,
    /// Cosine annealing to --min-lr over --epochs.
    Cosine,
}

/// The training hyperparameters of one run (shared with commands that launch runs).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Training")]
pub struct TrainingArgs {
    /// fp, qat (quantization-aware training), reg (the oscillation regularizer), or a further QAT
    /// baseline: qat-dampen, qat-freeze (which reduce oscillations), qat-lsq (learned step sizes).
    #[arg(long, value_enum, default_value = "fp")]
    pub method: MethodArg,
    /// Target bit-width, 2..=16 (required for qat and reg; with fp, the PTQ bit reported on test).
    #[arg(long, value_name = "B", allow_negative_numbers = true, value_parser = super::bits_arg::parse_bits)]
    pub bits: Option<BitWidth>,
    /// Weight of the regularizer (reg only) [default: 1].
    #[arg(long, value_name = "L")]
    pub lambda: Option<f64>,
    /// Never quantize weights whose name matches this glob (repeatable), e.g. 'conv1.*', 'fc.*'.
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Optimizer.
    #[arg(long, value_enum, default_value = "adam")]
    pub optimizer: OptimizerArg,
    /// Learning rate [default: 1e-3 for adam, 0.1 for sgd].
    #[arg(long, value_name = "LR")]
    pub lr: Option<f64>,
    /// SGD momentum [default: 0.9].
    #[arg(long, value_name = "M")]
    pub momentum: Option<f64>,
    /// SGD with Nesterov momentum.
    #[arg(long)]
    pub nesterov: bool,
    /// L2 weight decay [default: 0 for adam, 5e-4 for sgd].
    #[arg(long, value_name = "WD")]
    pub weight_decay: Option<f64>,
    /// Learning-rate schedule.
    #[arg(long, value_enum, default_value = "constant")]
    pub schedule: ScheduleArg,
    /// Final learning rate of the cosine schedule [default: 0].
    #[arg(long, value_name = "LR")]
    pub min_lr: Option<f64>,
    /// Maximum number of epochs.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub epochs: usize,
    /// Stop after N epochs without improvement of the monitored validation accuracy [default: 10].
    #[arg(long, value_name = "N", conflicts_with = "no_early_stopping")]
    pub patience: Option<usize>,
    /// Train for all --epochs (select the best epoch all the same).
    #[arg(long)]
    pub no_early_stopping: bool,
    /// Mini-batch size.
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub batch_size: usize,
    /// Seed of the initialization, the validation split, shuffling and augmentation.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Random crop (padding 4) and horizontal flip of the training images (CIFAR-style).
    #[arg(long)]
    pub augment: bool,
    /// Do not track weight oscillations (every method but fp tracks them by default; costs a
    /// little time; qat-freeze always tracks them).
    #[arg(long)]
    pub no_oscillations: bool,
    #[command(flatten)]
    pub baselines: super::baseline_args::BaselineArgs,
}

impl TrainingArgs {
    /// The method, with the bit and lambda checks.
    pub fn method(&self) -> Result<Method> {
        if self.lambda.is_some() && self.method != MethodArg::Reg {
            bail!(
                "--lambda is the weight of the oscillation regularizer: it applies only to \
                 --method reg"
            );
        }
        self.baselines.check_used(
            self.method == MethodArg::QatDampen,
            self.method == MethodArg::QatFreeze,
            "--method",
        )?;
        let bits = |name: &str| {
            self.bits.with_context(|| {
                format!("--method {name} needs --bits B, the target bit-width (2 to 16, e.g. 4)")
            })
        };
        Ok(match self.method {
            MethodArg::Fp => Method::Fp,
            MethodArg::Qat => Method::Qat { bits: bits("qat")? },
            MethodArg::Reg => Method::Reg {
                regularizer: RegularizerParams::new(bits("reg")?.get(), self.lambda.unwrap_or(1.0))
                    .context("--bits/--lambda")?,
            },
            MethodArg::QatDampen => Method::QatDampen {
                dampening: self.baselines.dampening(bits("qat-dampen")?)?,
            },
            MethodArg::QatFreeze => Method::QatFreeze {
                freezing: self.baselines.freezing(bits("qat-freeze")?)?,
            },
            MethodArg::QatLsq => Method::QatLsq {
                bits: bits("qat-lsq")?,
            },
        })
    }

    /// The optimizer.
    pub fn optimizer(&self) -> Result<OptimizerConfig> {
        Ok(match self.optimizer {
            OptimizerArg::Adam => {
                if self.momentum.is_some() || self.nesterov {
                    bail!(
                        "--momentum and --nesterov apply to --optimizer sgd (Adam has its own \
                         moment estimates)"
                    );
                }
                match OptimizerConfig::adam(self.lr.unwrap_or(1e-3)) {
                    OptimizerConfig::Adam {
                        lr,
                        beta1,
                        beta2,
                        eps,
                        weight_decay,
                    } => OptimizerConfig::Adam {
                        lr,
                        beta1,
                        beta2,
                        eps,
                        weight_decay: self.weight_decay.unwrap_or(weight_decay),
                    },
                    other => other,
                }
            }
            OptimizerArg::Sgd => match OptimizerConfig::sgd(self.lr.unwrap_or(0.1)) {
                OptimizerConfig::Sgd {
                    lr,
                    momentum,
                    weight_decay,
                    ..
                } => OptimizerConfig::Sgd {
                    lr,
                    momentum: self.momentum.unwrap_or(momentum),
                    weight_decay: self.weight_decay.unwrap_or(weight_decay),
                    nesterov: self.nesterov,
                },
                other => other,
            },
        })
    }

    /// The validated training configuration.
    pub fn config(&self) -> Result<TrainValidParams> {
        let schedule = match self.schedule {
            ScheduleArg::Constant => {
                if self.min_lr.is_some() {
                    bail!("--min-lr applies to --schedule cosine");
                }
                Schedule::Constant
            }
            ScheduleArg::Cosine => Schedule::Cosine {
                min_lr: self.min_lr.unwrap_or(0.0),
            },
        };
        let mut params = TrainParams::new(self.method()?)
            .with_optimizer(self.optimizer()?)
            .with_schedule(schedule)
            .with_epochs(self.epochs)
            .with_batch_size(self.batch_size)
            .with_seed(self.seed)
            .with_augment(self.augment)
            .with_track_oscillations(!self.no_oscillations);
        if self.no_early_stopping {
            params = params.without_early_stopping();
        } else if let Some(p) = self.patience {
            params = params.with_patience(p);
        }
        params.check().context("invalid training options")
    }

    /// The bit-width reported on the test set: the target, or `--bits` of an FP run.
    pub fn report_bits(&self) -> Option<BitWidth> {
        self.bits
    }
}

/// Arguments of `smallscale train`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    smallscale train --model mlp --method reg --bits 4 --lambda 1 --epochs 5 --out runs/reg-b4\n  \
    smallscale train --method qat --bits 3 --limit-train 1000 --epochs 2 --json\n  \
    smallscale train --model resnet18 --data-format cifar10 --data-path cifar-10-batches-bin \\\n    \
    --method reg --bits 4 --epochs 100 --patience 10 --augment --device cuda --out runs/r18-reg-b4\n\n\
    Rerunning a command with the same --out resumes an interrupted run (or only re-reports a finished one).")]
pub struct TrainArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub split: SplitArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub meter: super::experiment_args::MeterArgs,
    /// Fine-tune: start from this checkpoint (or run directory) of the same model trained on
    /// another data set; every tensor but the classifier is loaded, the classifier starts fresh.
    #[arg(long, value_name = "FILE|DIR", help_heading = "Model")]
    pub pretrained: Option<PathBuf>,
    /// Run directory: best.safetensors, config.json, result.json, resources.json, state.json,
    /// metrics.jsonl. A
    /// rerun with the same options resumes; without --out nothing is written.
    #[arg(long, value_name = "DIR", help_heading = "Output")]
    pub out: Option<PathBuf>,
    /// With --json: one JSON line per epoch and the result as a last JSON line (no progress bar).
    #[command(flatten)]
    pub output: super::output_args::OutputArgs,
}

/// Runs the subcommand.
pub fn run(args: &TrainArgs) -> Result<()> {
    // Checked first, so a bad value is refused before a run directory is claimed.
    let meter = Meter::new(args.meter.config()?)?;
    let config = args.training.config()?;
    let device = args.device.open()?;
    let source = args.data.source()?;
    let (data, description) = load_split_data(&source, &args.split, args.training.seed)?;
    let model_config = args.model.resolve(&description)?;
    QuantizationState::off()
        .excluding(&args.training.exclude)
        .context("--exclude")?;
    let pretrained = match &args.pretrained {
        Some(p) => Some(pretrained_checkpoint(p).context("--pretrained")?),
        None => None,
    };
    let json = args.output.json;
    let chatty = !json && args.output.chatty();
    let epochs = config.params().epochs;
    let target = config.params().method.target_bits();
    let method = config.params().method.label();
    let (architecture, device_label) = (model_config.architecture(), args.device.label());
    let pretrained_shown = pretrained.clone();
    let sizes = (
        description.train_examples,
        description.validation_examples,
        description.test_examples,
    );
    let mut run = TrainingRun::new(model_config.clone(), &data, description.clone(), config.clone())
        .with_exclude(args.training.exclude.clone())
        .with_report_bits(args.training.report_bits())
        .with_device(device)
        .with_pretrained(pretrained.clone())
        .with_meter(&meter)
        .with_environment(super::run_environment())
        .with_progress(!json && args.output.progress())
        .on_start(move |model, loaded| {
            if !chatty {
                return;
            }
            if let (Some(report), Some(path)) = (loaded, &pretrained_shown) {
                eprintln!(
                    "initialized from {}: {} tensors; the head ({}) starts fresh",
                    path.display(),
                    report.loaded,
                    report.fresh.join(", ")
                );
            }
            eprintln!(
                "{architecture} ({} parameters), {method} on {} ({} train / {} validation / {} test), {device_label}",
                model.num_parameters(),
                source.describe(),
                sizes.0,
                sizes.1,
                sizes.2,
            );
        })
        .on_epoch(move |record| print_epoch(record, epochs, target, json));
    if let Some(dir) = &args.out {
        run = run.with_run_dir(dir);
    }
    let output = run.run().map_err(|e| {
        // Name the option whose file the error is about.
        let flag = match &e {
            OscRegError::File { path, .. } if pretrained.as_ref() == Some(path) => "--pretrained",
            OscRegError::File { path, .. } if args.out.as_ref() == Some(path) => "--out",
            _ => "the training run failed",
        };
        anyhow::Error::new(e).context(flag)
    })?;
    let result = output.result;
    if let Some(previous) = output.previous
        && result.outcome.already_finished
        && previous.train.epochs < config.params().epochs
        && args.output.chatty()
    {
        eprintln!(
            "note: early stopping ended this run after {} epochs, so --epochs {} does not continue it",
            result.outcome.history.len(),
            config.params().epochs
        );
    }
    if json {
        let mut value = serde_json::to_value(&result)?;
        if let Some(map) = value.as_object_mut() {
            map.insert("type".into(), "result".into());
        }
        outln!("{}", serde_json::to_string(&value)?);
    } else {
        print_summary(&result, args.out.as_deref());
    }
    Ok(())
}

/// One line per epoch: JSON (`"type": "epoch"` added to the trainer's record) or text.
fn print_epoch(record: &EpochRecord, epochs: usize, target: Option<BitWidth>, json: bool) {
    let line = if json {
        let mut value = serde_json::to_value(record).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("type".into(), "epoch".into());
        }
        value.to_string()
    } else {
        let mut line = format!(
            "epoch {:>3}/{epochs}  lr {:.2e}  train ce {:.4}  acc {:.2}%  val fp {:.2}%",
            record.epoch + 1,
            record.lr,
            record.train_cross_entropy,
            100.0 * record.train_accuracy,
            100.0 * record.validation_accuracy_fp,
        );
        if let (Some(b), Some(q)) = (target, record.validation_accuracy_quantized) {
            line.push_str(&format!("  val {b}-bit {:.2}%", 100.0 * q));
        }
        if let Some(r) = record.regularizer {
            line.push_str(&format!("  R {r:.3e}"));
        }
        if let Some(o) = &record.oscillations {
            line.push_str(&format!(
                "  oscillating {:.2}%",
                100.0 * o.oscillating_fraction
            ));
        }
        line.push_str(&format!("  {:.1}s", record.seconds));
        if record.best {
            line.push_str("  *best");
        }
        line
    };
    crate::stdout::write_during_run(format_args!("{line}"));
}

fn print_summary(result: &TrainResult, out: Option<&std::path::Path>) {
    let o = &result.outcome;
    match result.status {
        RunStatus::AlreadyFinished => outln!(
            "the run directory holds a finished run ({} epochs): nothing trained",
            o.history.len()
        ),
        RunStatus::Resumed => outln!(
            "resumed at epoch {}",
            o.resumed_at_epoch.map_or(0, |e| e + 1)
        ),
        RunStatus::Trained => {}
    }
    outln!(
        "{} {}: {} epoch(s){}, best epoch {} (monitored validation accuracy {:.2}%), {:.1}s",
        result.model,
        result.method,
        o.history.len(),
        if o.stopped_early {
            " (stopped early)"
        } else {
            ""
        },
        o.best_epoch + 1,
        100.0 * o.best_monitored,
        o.seconds
    );
    let mut test = format!("test accuracy: FP {:.2}%", 100.0 * result.test.fp);
    if let (Some(b), Some(q)) = (result.test.bits, result.test.quantized) {
        let how = if result.outcome.method.trains_quantized() {
            "as trained"
        } else {
            "PTQ"
        };
        test.push_str(&format!(", {b}-bit ({how}) {:.2}%", 100.0 * q));
    }
    if let Some(m) = &result.test.fp_metrics {
        test.push_str(&format!(
            "; FP balanced accuracy {:.2}%",
            100.0 * m.balanced_accuracy
        ));
        if let Some(auc) = m.auc {
            test.push_str(&format!(", AUC {auc:.4}"));
        }
    }
    outln!("{test}");
    if let Some(r) = &result.resources {
        let label = |p: smallscale_pepr_score::Provenance| match p {
            smallscale_pepr_score::Provenance::Measured => "measured",
            smallscale_pepr_score::Provenance::Estimated => "estimated",
        };
        outln!(
            "resources: {:.1} s wall, {:.1} s CPU, {:.3e} kWh ({}), {:.3e} g CO2eq ({})",
            r.wall_time.value,
            r.cpu_time.value,
            r.energy.value,
            label(r.energy.provenance),
            r.co2.value,
            r.carbon_intensity.source
        );
    }
    if let Some(dir) = out {
        outln!(
            "run directory {}: {BEST_FILE}, {CONFIG_FILE}, {RESULT_FILE}, resources.json, {STATE_FILE}, metrics.jsonl \
             (evaluate across bits with `smallscale eval --checkpoint {}`)",
            dir.display(),
            dir.join(BEST_FILE).display()
        );
    }
}
