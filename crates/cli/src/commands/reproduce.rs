//! `smallscale reproduce`: the paper's FP / PTQ / QAT / Reg comparison on the embedded data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::experiment_args::{DataArgs, DeviceArgs};
use super::output_args::OutputArgs;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use smallscale_datasets::DataSource;
use smallscale_models::ModelConfig;
use smallscale_osc_reg::{
    Method, PaperPreset, ReproduceParams, ReproduceResults, ReproduceValidParams, SplitSpec,
    check_claims, per_bit_table, reproduce, summarize_seeds, write_report, write_seeds_summary,
};
use smallscale_pepr_score::MeterConfig;
use smallscale_quant_core::BitWidth;

/// `--preset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PresetArg {
    /// ResNet-18 (CIFAR stem) on CIFAR-10.
    Resnet18Cifar10,
    /// The tiny ViT on CIFAR-10.
    VitCifar10,
}

impl PresetArg {
    fn preset(self) -> PaperPreset {
        match self {
            Self::Resnet18Cifar10 => PaperPreset::Resnet18Cifar10,
            Self::VitCifar10 => PaperPreset::VitCifar10,
        }
    }
}

/// `--baselines`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BaselineArg {
    /// QAT with Nagel et al.'s oscillation dampening.
    #[value(name = "qat-dampen")]
    Dampen,
    /// QAT with Nagel et al.'s iterative weight freezing.
    #[value(name = "qat-freeze")]
    Freeze,
    /// QAT with learned step sizes (LSQ).
    #[value(name = "qat-lsq")]
    Lsq,
}

impl BaselineArg {
    fn name(self) -> &'static str {
        match self {
            Self::Dampen => "qat-dampen",
            Self::Freeze => "qat-freeze",
            Self::Lsq => "qat-lsq",
        }
    }
}

/// Arguments of `smallscale reproduce`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  smallscale reproduce                       # embedded Fashion-MNIST subset, small CNN, bits 2, 3, 4\n  \
    smallscale reproduce --quick               # seconds: 2 epochs on a slice of the data\n  \
    smallscale reproduce --seeds 3 --out seeds   # three seeds: mean ± sd, claims on the means\n  \
    smallscale reproduce --data /usr/share/datasets/fashion-mnist --epochs 30 --out full\n\n\
    Rerunning the same command with the same --out resumes: finished runs are loaded, an interrupted one continues."
)]
pub struct ReproduceArgs {
    /// Output directory: results.json, report.md, plots, and one run directory per training run.
    #[arg(long, value_name = "DIR", default_value = "reproduce-out")]
    pub out: PathBuf,
    /// A fast smoke run (a few seconds on 2 cores): 2 epochs on 2,000 training images.
    #[arg(long)]
    pub quick: bool,
    /// The paper's CIFAR-10 setting of one of its models: resnet18-cifar10 or vit-cifar10. It sets
    /// the model, CIFAR augmentation, up to 100 epochs with patience 10 and batch 128, and the data
    /// cifar10-subset unless --data is given; the width is the CPU's (ResNet-18 base width 16, ViT
    /// dim 96) on the CPU and the paper's (64, 192) with --device cuda, unless --width is given.
    /// The other options override it.
    #[arg(long, value_enum, value_name = "PRESET", conflicts_with = "model")]
    pub preset: Option<PresetArg>,
    /// CIFAR-style augmentation of the training batches: random crop with padding 4 and
    /// horizontal flip (on with --preset).
    #[arg(long)]
    pub augment: bool,
    /// The data, as in `train` and `eval`.
    #[command(flatten)]
    pub data: DataArgs,
    /// Architecture (small-cnn, mlp, resnet18, vit). Default: the small CNN with blocks of 8 and 16
    /// channels.
    #[arg(long)]
    pub model: Option<String>,
    /// Width of the first stage or layer, as in `train`: the small CNN's first block (the second
    /// has twice as many; default 8), ResNet base_width, ViT embed_dim, MLP first hidden layer
    /// [default: the architecture's own].
    #[arg(long, value_name = "C")]
    pub width: Option<usize>,
    /// Target bit-widths of QAT and Reg, comma-separated (each 2..=16).
    #[arg(long, value_name = "B,...", value_delimiter = ',', default_value = "2,3,4", allow_negative_numbers = true, value_parser = super::bits_arg::parse_bits)]
    pub bits: Vec<BitWidth>,
    /// Bit-widths of the cross-bit evaluation and PTQ, comma-separated; every target bit must be
    /// among them.
    #[arg(long, value_name = "B,...", value_delimiter = ',', default_value = "2,3,4,5,6,7,8", allow_negative_numbers = true, value_parser = super::bits_arg::parse_bits)]
    pub eval_bits: Vec<BitWidth>,
    /// The regularizer weight lambda of Reg [default: 1].
    #[arg(long, conflicts_with = "lambda_search")]
    pub lambda: Option<f64>,
    /// Search lambda: train Reg at each of these weights for every target bit and keep, per bit,
    /// the run with the best validation accuracy after PTQ at that bit (the test set plays no part),
    /// e.g. 0.1,0.3,1,3,10,30.
    #[arg(long, value_name = "L,...", value_delimiter = ',')]
    pub lambda_search: Vec<f64>,
    /// QAT baselines trained at every target bit beside QAT and Reg, comma-separated: qat-dampen
    /// (oscillation dampening), qat-freeze (iterative weight freezing), qat-lsq (learned step sizes).
    #[arg(long, value_enum, value_name = "B,...", value_delimiter = ',')]
    pub baselines: Vec<BaselineArg>,
    #[command(flatten)]
    pub baseline_settings: super::baseline_args::BaselineArgs,
    /// Maximum epochs per run [default: 8; 2 with --quick].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Early-stopping patience (epochs without improvement) [default: 3; 2 with --quick].
    #[arg(long)]
    pub patience: Option<usize>,
    /// Mini-batch size [default: 128].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Adam learning rate [default: 0.001].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Seed of the initialization, the validation split and the shuffling [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Repeat the comparison with this many seeds (--seed, --seed + 1, ...): each seed's report goes
    /// to OUT/seed-S/, and OUT/summary.md gives mean ± sd and the claims on the means.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub seeds: u64,
    #[command(flatten)]
    pub output: super::output_args::OutputArgs,
    /// Where the models train.
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub meter: super::experiment_args::MeterArgs,
}

/// What the options of `reproduce` resolve to: the checked settings, the data, its split and the
/// seeds (everything but where the outputs go).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedReproduce {
    /// The settings at the first seed.
    pub params: ReproduceParams,
    /// How every run is metered.
    pub meter: MeterConfig,
    /// The data.
    pub source: DataSource,
    /// Its split.
    pub split: SplitSpec,
    /// The seeds, in order.
    pub seeds: Vec<u64>,
    /// Whether this is a `--quick` smoke run.
    pub quick: bool,
    /// `cpu` or `cuda`.
    pub device: String,
}

impl ResolvedReproduce {
    /// The checked settings.
    pub fn valid(&self) -> Result<ReproduceValidParams> {
        Ok(self
            .params
            .clone()
            .check()
            .context("invalid settings")?
            .with_meter(self.meter.clone()))
    }
}

/// The output directory of `seed` when a reproduction runs `seeds` seeds: `out` for one seed,
/// `out/seed-S` for several.
pub fn seed_dir(out: &Path, seed: u64, seeds: usize) -> PathBuf {
    out.join(seed_subdir(seed, seeds))
}

/// `seed_dir` relative to the output directory: empty for one seed, `seed-S` for several.
pub fn seed_subdir(seed: u64, seeds: usize) -> String {
    if seeds == 1 {
        String::new()
    } else {
        format!("seed-{seed}")
    }
}

/// Runs the subcommand.
pub fn run(args: &ReproduceArgs) -> Result<()> {
    let started = Instant::now();
    let resolved = resolve(args)?;
    let params = resolved.valid()?;
    let seeds = &resolved.seeds;
    check_output_layout(&args.out, seeds.len())?;
    let device = args.device.open()?;
    let environment = super::run_environment();
    let progress = args.output.progress();
    let chatty = args.output.chatty();
    let n = seeds.len();
    let mut all = Vec::with_capacity(n);
    for (i, &seed) in seeds.iter().enumerate() {
        let params = params.with_seed(seed);
        if chatty && n > 1 {
            eprintln!("== seed {seed} ({} of {n})", i + 1);
        }
        let out = seed_dir(&args.out, seed, n);
        let results = reproduce(
            &params,
            &resolved.source,
            &resolved.split,
            &device,
            &out,
            progress,
            |line| {
                if chatty {
                    eprintln!("{line}");
                }
            },
        )?;
        write_report(&results, &out, &environment)?;
        all.push(results);
    }
    print_results(&args.out, &args.output, resolved.quick, &all, started)
}

/// Resolves the options into settings: the preset, the model, the bits, the baselines, the data
/// and the seeds, every one checked.
pub fn resolve(args: &ReproduceArgs) -> Result<ResolvedReproduce> {
    let preset = args.preset.map(PresetArg::preset);
    let base = match preset {
        Some(p) => {
            let width = args.width.unwrap_or(if args.device.label() == "cuda" {
                p.paper_width()
            } else {
                p.cpu_width()
            });
            p.params(width)
                .with_context(|| format!("--preset {}", p.name()))?
        }
        None => ReproduceParams::default(),
    };
    let mut params = ReproduceParams {
        target_bits: args.bits.clone(),
        eval_bits: args.eval_bits.clone(),
        ..base
    };
    params.augment |= args.augment;
    if let Some(b) = args.bits.iter().find(|b| !args.eval_bits.contains(b)) {
        let mut with: Vec<BitWidth> = args.eval_bits.clone();
        with.push(*b);
        with.sort_unstable();
        let list = |v: &[BitWidth]| {
            v.iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        bail!(
            "--bits {b} is not among the evaluation bits --eval-bits {}: add it, e.g. --eval-bits {}",
            list(&args.eval_bits),
            list(&with)
        );
    }
    if let Some(name) = &args.model {
        params.model = ModelConfig::default_for(name).with_context(|| format!("--model {name}"))?;
    }
    if let Some(w) = args.width.filter(|_| preset.is_none()) {
        params.model = params.model.with_width(w).context("--width")?;
    }
    if args.quick {
        params.epochs = 2;
        params.patience = 2;
    }
    params.lambda = args.lambda.unwrap_or(params.lambda);
    params.lambda_search = args.lambda_search.clone();
    let (dampen, freeze) = (
        args.baselines.contains(&BaselineArg::Dampen),
        args.baselines.contains(&BaselineArg::Freeze),
    );
    args.baseline_settings
        .check_used(dampen, freeze, "--baselines")?;
    let first_bit = args
        .bits
        .first()
        .copied()
        .context("--bits: give at least one target bit")?;
    for baseline in &args.baselines {
        if args.baselines.iter().filter(|b| *b == baseline).count() > 1 {
            bail!("--baselines lists {} twice: list it once", baseline.name());
        }
        params.baselines.push(match baseline {
            BaselineArg::Dampen => Method::QatDampen {
                dampening: args.baseline_settings.dampening(first_bit)?,
            },
            BaselineArg::Freeze => Method::QatFreeze {
                freezing: args.baseline_settings.freezing(first_bit)?,
            },
            BaselineArg::Lsq => Method::QatLsq { bits: first_bit },
        });
    }
    params.epochs = args.epochs.unwrap_or(params.epochs);
    params.patience = args.patience.unwrap_or(params.patience);
    params.batch_size = args.batch_size.unwrap_or(params.batch_size);
    params.lr = args.lr.unwrap_or(params.lr);
    params.seed = args.seed.unwrap_or(params.seed);
    params.clone().check().context("invalid settings")?;
    let source = if preset.is_some() && !args.data.is_given() {
        DataArgs {
            data: Some("cifar10-subset".into()),
            ..DataArgs::default()
        }
        .source()?
    } else {
        args.data.source()?
    };
    let split = if args.quick {
        SplitSpec {
            limit_train: Some(2000),
            limit_validation: Some(500),
            limit_test: Some(1000),
            ..SplitSpec::default()
        }
    } else {
        SplitSpec::default()
    };
    let (shape, classes) = source.shape_and_classes()?;
    params.model = params.model.fitted_to(shape, classes);
    params
        .clone()
        .check()
        .context("the model does not fit the data")?;
    let seeds: Vec<u64> = (0..args.seeds)
        .map(|i| params.seed.checked_add(i))
        .collect::<Option<_>>()
        .context("--seed + --seeds overflows a 64-bit seed: start from a smaller --seed")?;
    Ok(ResolvedReproduce {
        params,
        meter: args.meter.config()?,
        source,
        split,
        seeds,
        quick: args.quick,
        device: args.device.label().to_string(),
    })
}

/// Prints the results of one seed (the per-bit table and the claims) or the summary over several
/// (writing `summary.md` and `summary.json` into `out`).
pub fn print_results(
    out: &Path,
    output: &OutputArgs,
    quick: bool,
    all: &[ReproduceResults],
    started: Instant,
) -> Result<()> {
    if let [results] = all {
        if output.json {
            let value = serde_json::json!({
                "results": results,
                "claims": check_claims(results),
                "report": out.join("report.md"),
            });
            outln!("{}", serde_json::to_string_pretty(&value)?);
            return Ok(());
        }
        print_table(
            &results.data,
            &results.params.eval_bits,
            &per_bit_table(results),
        );
        for c in check_claims(results) {
            outln!("- {}: {} ({})", c.claim, verdict(c.holds), c.evidence);
        }
        outln!(
            "One seed decides nothing{}: run --seeds N (N >= 3) for confidence intervals and tests.",
            if quick {
                ", and --quick is a smoke run"
            } else {
                ""
            }
        );
        outln!(
            "Report: {}, results: {}. Total time {:.1} s.",
            out.join("report.md").display(),
            out.join("results.json").display(),
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let summary = summarize_seeds(all)?;
    write_seeds_summary(&summary, out, &super::run_environment())?;
    if output.json {
        let value = serde_json::json!({
            "summary": summary,
            "report": out.join("summary.md"),
        });
        outln!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let table: BTreeMap<&str, Vec<Option<String>>> = summary
        .per_bit
        .iter()
        .map(|(row, cells)| {
            let cells = cells
                .iter()
                .map(|c| c.map(|m| format!("{:.2}±{:.2}", 100.0 * m.mean, 100.0 * m.sd)))
                .collect();
            (row.as_str(), cells)
        })
        .collect();
    print_cells(
        &format!("{}, mean ± sd over {} seeds", summary.data, all.len()),
        &summary.params.eval_bits,
        &table,
        14,
    );
    for ((c, t), d) in summary
        .claims_on_means
        .iter()
        .zip(&summary.claims_per_seed)
        .zip(&summary.claims_decided)
    {
        let intervals: Vec<String> = d
            .comparisons
            .iter()
            .map(|cmp| match &cmp.test {
                Some(test) => format!(
                    "{}: {:+.2} pp [{:+.2}, {:+.2}], p = {:.3}",
                    cmp.label, test.mean, test.ci_low, test.ci_high, test.p_value
                ),
                None => format!("{}: one seed", cmp.label),
            })
            .collect();
        outln!(
            "- {}: {} ({}; 95 % CI of {}); on the means it {}; holds for {} of {} seeds",
            c.claim,
            d.verdict.as_str(),
            intervals.join("; "),
            d.difference,
            verdict(c.holds),
            t.holds_in,
            t.tested_in
        );
    }
    outln!(
        "Summary: {}, per seed: {}. Total time {:.1} s.",
        out.join("summary.md").display(),
        out.join("seed-S/report.md").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn verdict(holds: Option<bool>) -> &'static str {
    match holds {
        Some(true) => "holds",
        Some(false) => "does not hold",
        None => "not tested",
    }
}

/// Prints the per-bit table of one run: rows FP / PTQ / QAT / Reg, one column per evaluation bit.
fn print_table(data: &str, bits: &[BitWidth], table: &BTreeMap<&'static str, Vec<Option<f64>>>) {
    let cells: BTreeMap<&str, Vec<Option<String>>> = table
        .iter()
        .map(|(row, values)| {
            let cells = values
                .iter()
                .map(|v| v.map(|a| format!("{:.2}", 100.0 * a)))
                .collect();
            (*row, cells)
        })
        .collect();
    print_cells(data, bits, &cells, 8);
}

fn print_cells(
    title: &str,
    bits: &[BitWidth],
    table: &BTreeMap<&str, Vec<Option<String>>>,
    width: usize,
) {
    outln!("Test accuracy (%) per bit-width ({title}):");
    let label = table.keys().map(|k| k.len() + 1).max().unwrap_or(0).max(6);
    out!("{:<label$}", "");
    for b in bits {
        out!("{:>width$}", format!("{b} bits"));
    }
    outln!();
    let label = table.keys().map(|k| k.len() + 1).max().unwrap_or(0).max(6);
    let rows = [
        "FP",
        "PTQ",
        "QAT",
        "Reg",
        "QAT-dampen",
        "QAT-freeze",
        "QAT-LSQ",
    ];
    for row in rows {
        if let Some(values) = table.get(row) {
            out!("{row:<label$}");
            for v in values {
                out!("{:>width$}", v.as_deref().unwrap_or("–"));
            }
            outln!();
        }
    }
}

/// One output directory holds either one seed (`report.md`, `runs/`) or several (`summary.md`,
/// `seed-S/`): mixing them would leave one layout's reports next to the other's.
pub fn check_output_layout(out: &Path, seeds: usize) -> Result<()> {
    let single = out.join("results.json").exists() || out.join("runs").exists();
    let several = out.join("summary.json").exists();
    if seeds > 1 && single {
        bail!(
            "{} holds a single-seed run (results.json, runs/): give --seeds {seeds} another --out",
            out.display()
        );
    }
    if seeds == 1 && several {
        bail!(
            "{} holds a run over several seeds (summary.json, seed-S/): give another --out, or the same --seeds as before to resume it",
            out.display()
        );
    }
    Ok(())
}
