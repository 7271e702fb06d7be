//! `smallscale eval`: cross-bit evaluation of a checkpoint on a test set: full precision and PTQ
//! with the reference quantizer at each bit, optionally with BatchNorm re-estimation per bit.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use smallscale_models::{
    ModelConfig, ModelContext, QuantizationState, build_model, read_checkpoint_config,
};
use smallscale_osc_reg::{
    BEST_FILE, CONFIG_FILE, CrossBitEvaluation, DataDescription, ImageData, LsqSteps, Method,
    RunConfig, has_batch_norm, learned_steps,
};
use smallscale_quant_core::BitWidth;

use super::experiment_args::{DataArgs, DeviceArgs, SplitArgs, load_split_data};
use super::model_args::{ModelArgs, check_fits_data};

/// Arguments of `smallscale eval`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    smallscale eval --checkpoint runs/reg-b4/best.safetensors\n  \
    smallscale eval --checkpoint runs/reg-b4/best.safetensors --bits 2,4,8 --bn-reestimate 20 --json\n  \
    smallscale eval --checkpoint model.safetensors --model mlp --data-format mnist --data-path mnist/\n\n\
    The model options are needed only for checkpoints without a stored configuration.\n\
    A checkpoint inside a run directory of `smallscale train` is evaluated on the run's data, split and\n\
    exclude list (from its config.json) unless the options say otherwise.")]
pub struct EvalArgs {
    /// The checkpoint (safetensors written by `smallscale train` or the models crate), or a run
    /// directory (its best.safetensors is evaluated).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// Bit-widths to evaluate after PTQ with the reference quantizer (comma separated, 2..=16).
    #[arg(
        long,
        value_name = "B,...",
        value_delimiter = ',',
        default_value = "2,3,4,5,6,7,8",
        allow_negative_numbers = true,
        value_parser = super::bits_arg::parse_bits
    )]
    pub bits: Vec<BitWidth>,
    /// Never quantize weights whose name matches this glob (repeatable) [default: the run's list].
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Also re-estimate the BatchNorm statistics with N training batches at each bit (restored
    /// afterwards), an extension beyond the paper.
    #[arg(long, value_name = "N")]
    pub bn_reestimate: Option<usize>,
    /// Batch size of the BatchNorm re-estimation (at least 2).
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub bn_batch_size: usize,
    /// Seed of the validation split (it decides the normalization) [default: the run's, else 0].
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Held-out validation fraction (it decides the normalization) [default: the run's, else 0.1].
    #[arg(long, value_name = "F")]
    pub validation_fraction: Option<f64>,
    /// Use only the first N test examples [default: the run's limit, else all].
    #[arg(long, value_name = "N")]
    pub limit_test: Option<usize>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub output: super::output_args::OutputArgs,
}

/// The accuracy at one bit-width.
#[derive(Debug, Serialize)]
struct BitAccuracy {
    bits: BitWidth,
    accuracy: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    accuracy_bn_reestimated: Option<f64>,
}

/// The report of `smallscale eval`.
#[derive(Debug, Serialize)]
struct EvalReport {
    checkpoint: PathBuf,
    model: ModelConfig,
    parameters: usize,
    data: DataDescription,
    exclude: Vec<String>,
    fp: f64,
    per_bit: Vec<BitAccuracy>,
    bn_reestimate_batches: Option<usize>,
    notes: Vec<String>,
}

/// Runs the subcommand.
pub fn run(args: &EvalArgs) -> Result<()> {
    let mut notes = Vec::new();
    let best_in_dir = args.checkpoint.join(smallscale_osc_reg::BEST_FILE);
    let checkpoint = if args.checkpoint.is_dir() && best_in_dir.is_file() {
        // A run directory: its selected model.
        notes.push(format!(
            "{} is a run directory: evaluating its selected model, {}",
            args.checkpoint.display(),
            best_in_dir.display()
        ));
        &best_in_dir
    } else {
        &args.checkpoint
    };
    if !checkpoint.is_file() {
        bail!(
            "--checkpoint {}: no such file (a run directory of `smallscale train` holds {})",
            checkpoint.display(),
            smallscale_osc_reg::BEST_FILE
        );
    }
    let bits = check_bits(&args.bits)?;
    let run = run_config_beside(checkpoint, &mut notes);
    let device = args.device.open()?;

    let (data, description) = load_data(args, run.as_ref())?;
    let config = model_config(args, checkpoint, run.as_ref(), &description)?;
    check_fits_data(&config, &description).with_context(|| {
        format!(
            "checkpoint {} does not fit the data ({})",
            checkpoint.display(),
            description.source.describe()
        )
    })?;
    let model = build_model(&config, &ModelContext::new(device))
        .context("cannot build the checkpoint's model")?;
    model
        .load_checkpoint(checkpoint)
        .context("cannot load the checkpoint")?;
    let exclude = if !args.exclude.is_empty() {
        args.exclude.clone()
    } else {
        run.as_ref().map(|r| r.exclude.clone()).unwrap_or_default()
    };
    model.quant().set(
        QuantizationState::off()
            .excluding(&exclude)
            .context("--exclude")?,
    );
    let deployed = lsq_steps_of_run(checkpoint, run.as_ref(), model.as_ref(), &mut notes)?;
    let mut evaluation = CrossBitEvaluation::new(&bits);
    if let Some(steps) = &deployed {
        evaluation = evaluation.with_learned_steps(steps);
    }
    if let Some(batches) = args.bn_reestimate {
        if !has_batch_norm(model.as_ref()) {
            notes.push(format!(
                "--bn-reestimate: the {} has no BatchNorm layer, nothing to re-estimate",
                model.architecture()
            ));
        }
        evaluation =
            evaluation.with_batch_norm_reestimation(&data.train, batches, args.bn_batch_size);
    }
    let cross = evaluation
        .run(model.as_ref(), &data.test, &data.normalization)
        .context("evaluation failed")?;
    let report = EvalReport {
        checkpoint: checkpoint.clone(),
        parameters: model.num_parameters(),
        model: config,
        data: description,
        exclude,
        fp: cross.fp,
        per_bit: cross
            .per_bit
            .iter()
            .map(|&(bits, accuracy)| BitAccuracy {
                bits,
                accuracy,
                accuracy_bn_reestimated: cross.bn_reestimated_at(bits),
            })
            .collect(),
        bn_reestimate_batches: args.bn_reestimate,
        notes,
    };
    if args.output.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

/// The learned steps of an LSQ run's selected model, when `checkpoint` is that run's
/// `best.safetensors`; a note says how its target bit is evaluated.
fn lsq_steps_of_run(
    checkpoint: &Path,
    run: Option<&RunConfig>,
    model: &dyn smallscale_models::Model,
    notes: &mut Vec<String>,
) -> Result<Option<LsqSteps>> {
    let Some(Method::QatLsq { bits }) = run.map(|r| r.train.method) else {
        return Ok(None);
    };
    let dir = match checkpoint.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let is_best = checkpoint.file_name().is_some_and(|n| n == BEST_FILE);
    let values = if is_best { learned_steps(dir)? } else { None };
    match values {
        Some(values) => {
            notes.push(format!(
                "the model was trained with LSQ at {bits} bits: at {bits} bits it is evaluated with its learned steps, at other bits by reference PTQ"
            ));
            Ok(Some(
                LsqSteps::from_values(model, bits, &values)
                    .context("the run's learned LSQ steps")?,
            ))
        }
        None => {
            notes.push(format!(
                "the model was trained with LSQ at {bits} bits, but its learned steps are known only for the run's {BEST_FILE}: every bit is evaluated by reference PTQ"
            ));
            Ok(None)
        }
    }
}

/// Sorted, deduplicated and checked bit-widths.
fn check_bits(bits: &[BitWidth]) -> Result<Vec<BitWidth>> {
    let mut bits = bits.to_vec();
    bits.sort_unstable();
    bits.dedup();
    if bits.is_empty() {
        bail!("--bits needs at least one bit-width, e.g. --bits 2,3,4,5,6,7,8");
    }
    Ok(bits)
}

/// The `config.json` of the run directory holding the checkpoint, if there is a valid one.
fn run_config_beside(checkpoint: &Path, notes: &mut Vec<String>) -> Option<RunConfig> {
    let dir = checkpoint.parent()?;
    match RunConfig::read(dir) {
        Ok(run) => run,
        Err(e) => {
            notes.push(format!(
                "ignored {} beside the checkpoint: {e:#}",
                dir.join(CONFIG_FILE).display()
            ));
            None
        }
    }
}

/// The data: the options if given, else the run's data set, split and test limit.
fn load_data(args: &EvalArgs, run: Option<&RunConfig>) -> Result<(ImageData, DataDescription)> {
    let recorded = run.map(|r| &r.data);
    let source = match recorded {
        Some(d) if !args.data.is_given() => d.source.clone(),
        _ => args.data.source()?,
    };
    let same_source = recorded.is_some_and(|d| d.source == source);
    let recorded = recorded.filter(|_| same_source);
    let split = SplitArgs {
        validation_fraction: args
            .validation_fraction
            .or(recorded.map(|d| d.validation_fraction))
            .unwrap_or(0.1),
        limit_train: recorded.and_then(|d| d.limit_train),
        limit_validation: recorded.and_then(|d| d.limit_validation),
        limit_test: args.limit_test.or(recorded.and_then(|d| d.limit_test)),
        // The normalization is fitted on the kept fraction: the run's own.
        train_fraction: recorded.and_then(|d| d.train_fraction),
    };
    let seed = args.seed.or(recorded.map(|d| d.split_seed)).unwrap_or(0);
    load_split_data(&source, &split, seed)
}

/// The model configuration: from `--model`/`--model-config` if given, else the checkpoint's
/// metadata, else the run's `config.json`.
fn model_config(
    args: &EvalArgs,
    checkpoint: &Path,
    run: Option<&RunConfig>,
    data: &DataDescription,
) -> Result<ModelConfig> {
    if args.model.is_given() {
        return args.model.resolve(data);
    }
    if let Some(config) = read_checkpoint_config(checkpoint)? {
        return Ok(config);
    }
    if let Some(run) = run {
        return Ok(run.model.clone());
    }
    bail!(
        "checkpoint {} stores no model configuration in its metadata (it was not written by \
         smallscale): describe the model with --model NAME and, if it differs from the default \
         fitted to the data, --model-config JSON",
        checkpoint.display()
    )
}

fn print_table(r: &EvalReport) {
    outln!(
        "{}: {} ({} parameters) on {}, {} test images{}",
        r.checkpoint.display(),
        r.model.architecture(),
        r.parameters,
        r.data.source.describe(),
        r.data.test_examples,
        if r.exclude.is_empty() {
            String::new()
        } else {
            format!(", excluding {}", r.exclude.join(" "))
        }
    );
    let bn = r.bn_reestimate_batches.is_some()
        && r.per_bit
            .iter()
            .any(|b| b.accuracy_bn_reestimated.is_some());
    if bn {
        outln!(
            "{:<5}  {:>9}  {:>16}",
            "bits",
            "accuracy",
            "BN re-estimated"
        );
    } else {
        outln!("{:<5}  {:>9}", "bits", "accuracy");
    }
    outln!("{:<5}  {:>8.2}%", "FP", 100.0 * r.fp);
    for b in &r.per_bit {
        match b.accuracy_bn_reestimated {
            Some(x) if bn => outln!(
                "{:<5}  {:>8.2}%  {:>15.2}%",
                b.bits,
                100.0 * b.accuracy,
                100.0 * x
            ),
            _ => outln!("{:<5}  {:>8.2}%", b.bits, 100.0 * b.accuracy),
        }
    }
    for note in &r.notes {
        outln!("note: {note}");
    }
}
