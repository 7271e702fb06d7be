//! `smallscale study`: the PePR paper's study on a model pool: pretrain every model once, train
//! it from scratch and fine-tuned on 100 %, 10 % and 1 % of the target's training split, meter
//! every run, write the table in the authors' layout, score it and check the paper's findings.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use smallscale_datasets::DataSource;
use smallscale_pepr_study::{
    REPORT_FILE, StudyLimits, StudyParams, StudyPool, StudyPreset, TABLE_FILE, run_study,
    write_study_outputs,
};

use super::experiment_args::{DataArgs, DeviceArgs};

/// Arguments of `smallscale study`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    smallscale study                          # the default pool on embedded PneumoniaMNIST (at most 15 minutes on 2 cores)\n  \
    smallscale study --quick --out study-quick  # seconds: three tiny models, 2 epochs\n  \
    smallscale study --print-pool > pool.json # the default pool, to edit\n  \
    smallscale study --pool pool.json --data dermamnist.npz --out derma\n  \
    smallscale pepr --input study-out/study.csv --performance test_09 --resource energy --group-by dataset\n\n\
    The target defaults to embedded-pneumoniamnist here (--data as in `train` for another one).\n\
    Rerunning the same command with the same --out resumes: finished runs are not trained again.")]
pub struct StudyArgs {
    /// Study directory: study.json, pretrain/MODEL/, runs/EXPERIMENT/MODEL/, results.json,
    /// study.csv, findings.json, report.md and the plots.
    #[arg(long, value_name = "DIR", default_value = "study-out")]
    pub out: PathBuf,
    /// The quick preset: three tiny models, 2 epochs (seconds; checks the pipeline, decides
    /// nothing).
    #[arg(long, conflicts_with = "full")]
    pub quick: bool,
    /// The full preset: fifteen models up to the full ResNet-18, 30 epochs (hours on a CPU).
    #[arg(long)]
    pub full: bool,
    /// A pool file (JSON) instead of the preset's pool; see --print-pool.
    #[arg(long, value_name = "FILE.json")]
    pub pool: Option<PathBuf>,
    /// Print the preset's pool file (to copy and edit) and exit.
    #[arg(long)]
    pub print_pool: bool,
    /// The target data set [default: embedded-pneumoniamnist]; the options are those of `train`.
    #[command(flatten)]
    pub data: DataArgs,
    /// The base of the experiment labels (the `dataset` column: LABEL, LABEL_small, LABEL_pt, ...)
    /// [default: from the data set, e.g. pneumonia].
    #[arg(long, value_name = "NAME")]
    pub label: Option<String>,
    /// Pretrain on the full Fashion-MNIST in this directory instead of the embedded subset.
    #[arg(long, value_name = "DIR")]
    pub pretrain_fashion_mnist: Option<PathBuf>,
    /// Training-set fractions, comma-separated: 1 first, then at most two smaller ones.
    #[arg(
        long,
        value_name = "F,...",
        value_delimiter = ',',
        default_value = "1,0.1,0.01"
    )]
    pub fractions: Vec<f64>,
    /// Maximum epochs of every run on the target [default: the preset's: 2 quick, 6 default, 30
    /// full].
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// Maximum epochs of the pretraining [default: the preset's: 2, 6, 15].
    #[arg(long, value_name = "N")]
    pub pretrain_epochs: Option<usize>,
    /// Early stopping: epochs without a better validation accuracy before a run stops
    /// [default: the preset's: 2 quick, 2 default, 5 full].
    #[arg(long, value_name = "N")]
    pub patience: Option<usize>,
    /// Mini-batch size [default: 64].
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    /// Adam learning rate [default: 0.001].
    #[arg(long, value_name = "LR")]
    pub lr: Option<f64>,
    /// Seed of initialization, shuffling and the fractions [default: 0].
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Use only the first N test images (for smoke runs; the results are then not the study's).
    #[arg(long, value_name = "N", hide = true)]
    pub limit_test: Option<usize>,
    /// Use only the first N pretraining images (for smoke runs).
    #[arg(long, value_name = "N", hide = true)]
    pub limit_pretrain: Option<usize>,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub meter: super::experiment_args::MeterArgs,
    #[command(flatten)]
    pub output: super::output_args::OutputArgs,
}

impl StudyArgs {
    fn preset(&self) -> StudyPreset {
        if self.quick {
            StudyPreset::Quick
        } else if self.full {
            StudyPreset::Full
        } else {
            StudyPreset::Default
        }
    }

    /// The study's parameters from the preset and the options.
    pub fn params(&self) -> Result<StudyParams> {
        let mut params = StudyParams::preset(self.preset());
        if let Some(path) = &self.pool {
            params = params.with_pool(StudyPool::read(path)?);
        }
        let target = if self.data.is_given() {
            self.data.source()?
        } else {
            DataSource::EmbeddedPneumoniaMnist
        };
        params = params.with_target(target, self.label.clone());
        if let Some(dir) = &self.pretrain_fashion_mnist {
            let path = std::fs::canonicalize(dir).with_context(|| {
                format!(
                    "--pretrain-fashion-mnist {}: no such directory",
                    dir.display()
                )
            })?;
            params.pretraining = DataSource::FashionMnist { path };
        }
        params = params.with_fractions(self.fractions.clone());
        if let Some(e) = self.epochs {
            params = params.with_epochs(e);
        }
        if let Some(e) = self.pretrain_epochs {
            params = params.with_pretrain_epochs(e);
        }
        if let Some(p) = self.patience {
            params.patience = p;
        }
        if let Some(b) = self.batch_size {
            params.batch_size = b;
        }
        if let Some(lr) = self.lr {
            params.lr = lr;
        }
        if let Some(s) = self.seed {
            params = params.with_seed(s);
        }
        Ok(params.with_limits(StudyLimits {
            test: self.limit_test,
            pretrain_train: self.limit_pretrain,
            ..StudyLimits::default()
        }))
    }
}

/// Runs the subcommand.
pub fn run(args: &StudyArgs) -> Result<()> {
    let started = Instant::now();
    if args.print_pool {
        if args.pool.is_some() {
            bail!("--print-pool prints a preset's pool: drop --pool");
        }
        outln!("{}", args.preset().pool_json().trim_end());
        return Ok(());
    }
    let params = args
        .params()?
        .check()
        .context("invalid study settings")?
        .with_meter(args.meter.config()?);
    let device = args.device.open()?;
    let chatty = args.output.chatty() && !args.output.json;
    if chatty {
        let p = params.params();
        eprintln!(
            "study {}: {} models x {} experiments on {}, {} epochs (pretraining {} on {}), into {}",
            params.label(),
            p.pool.models.len(),
            params.experiments().len(),
            p.target.describe(),
            p.epochs,
            p.pretrain_epochs,
            p.pretraining.describe(),
            args.out.display()
        );
    }
    let results = run_study(
        &params,
        &args.out,
        &device,
        super::run_environment(),
        args.output.progress() && !args.output.json,
        |line| {
            if chatty {
                eprintln!("{line}");
            }
        },
    )?;
    let outputs = write_study_outputs(&results, &args.out)?;
    if args.output.json {
        let value = serde_json::json!({
            "results": results,
            "analysis": outputs.analysis,
            "files": outputs.files,
        });
        outln!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    outln!("The paper's findings on this study (fine-tuning energy only, as the paper):");
    for (i, v) in outputs.analysis.findings.verdicts.iter().enumerate() {
        outln!(
            "  {}. {}: {}",
            ["1", "2", "3a", "3b"].get(i).copied().unwrap_or("-"),
            v.finding,
            v.verdict
        );
    }
    outln!("With the pretraining's energy added:");
    for (i, v) in outputs
        .analysis
        .findings_with_pretraining
        .verdicts
        .iter()
        .enumerate()
    {
        outln!(
            "  {}. {}: {}",
            ["1", "2", "3a", "3b"].get(i).copied().unwrap_or("-"),
            v.finding,
            v.verdict
        );
    }
    if args.quick {
        outln!("--quick is a smoke run: its verdicts decide nothing.");
    }
    outln!(
        "Table: {} (score it with `smallscale pepr --input {} --performance test_09 --resource energy --group-by dataset`). Report: {}. Total time {:.1} s.",
        args.out.join(TABLE_FILE).display(),
        args.out.join(TABLE_FILE).display(),
        args.out.join(REPORT_FILE).display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
