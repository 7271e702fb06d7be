//! `smallscale reproduce`: the paper's FP / PTQ / QAT / Reg comparison on the embedded data.

use std::path::PathBuf;
use std::time::Instant;

use super::experiment_args::DeviceArgs;
use anyhow::{Context, Result, bail};
use clap::Args;
use smallscale_datasets::{fashion_mnist_embedded, fashion_mnist_from_dir};
use smallscale_models::ModelConfig;
use smallscale_osc_reg::{
    ImageData, ReproduceParams, check_claims, per_bit_table, reproduce, write_report,
};

/// Arguments of `smallscale reproduce`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  smallscale reproduce                       # embedded Fashion-MNIST subset, small CNN, bits 2, 3, 4\n  \
    smallscale reproduce --quick               # about 5 seconds: 2 epochs on a slice of the data\n  \
    smallscale reproduce --data /usr/share/datasets/fashion-mnist --epochs 30 --out full\n\n\
    Rerunning the same command with the same --out resumes: finished runs are loaded, an interrupted one continues."
)]
pub struct ReproduceArgs {
    /// Output directory: results.json, report.md, plots, and one run directory per training run.
    #[arg(long, value_name = "DIR", default_value = "reproduce-out")]
    pub out: PathBuf,
    /// A fast smoke run (about 5 seconds on 2 cores): 2 epochs on 2,000 training images.
    #[arg(long)]
    pub quick: bool,
    /// Use the full Fashion-MNIST from this directory (the four IDX files, raw or .gz) instead of the
    /// embedded subset.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Architecture (small-cnn, mlp, resnet18, vit). Default: the small CNN with blocks of 8 and 16
    /// channels.
    #[arg(long)]
    pub model: Option<String>,
    /// Channels of the small CNN's first block (the second has twice as many).
    #[arg(long, value_name = "C")]
    pub width: Option<usize>,
    /// Target bit-widths of QAT and Reg, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "2,3,4")]
    pub bits: Vec<u32>,
    /// The regularizer weight lambda of Reg.
    #[arg(long)]
    pub lambda: Option<f64>,
    /// Maximum epochs per run.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Early-stopping patience (epochs without improvement).
    #[arg(long)]
    pub patience: Option<usize>,
    /// Mini-batch size.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Adam learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Seed of the initialisation, the validation split and the shuffling.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Hide the progress bars.
    #[arg(long)]
    pub no_progress: bool,
    /// Where the models train.
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Fits an architecture's default configuration to the data's channels, image size and classes.
fn fit_to_data(config: &mut ModelConfig, channels: usize, size: usize, classes: usize) {
    match config {
        ModelConfig::SmallCnn(c) => {
            c.in_channels = channels;
            c.image_size = size;
            c.num_classes = classes;
        }
        ModelConfig::Mlp(c) => {
            c.input_dim = channels * size * size;
            c.num_classes = classes;
        }
        ModelConfig::ResNet(c) => {
            c.in_channels = channels;
            c.num_classes = classes;
        }
        ModelConfig::Vit(c) => {
            c.in_channels = channels;
            c.image_size = size;
            c.num_classes = classes;
        }
    }
}

/// Runs the subcommand.
pub fn run(args: &ReproduceArgs) -> Result<()> {
    let started = Instant::now();
    let mut params = ReproduceParams {
        target_bits: args.bits.clone(),
        ..ReproduceParams::default()
    };
    if let Some(name) = &args.model {
        params.model = ModelConfig::default_for(name).with_context(|| format!("--model {name}"))?;
    }
    if let Some(w) = args.width {
        match &mut params.model {
            ModelConfig::SmallCnn(c) if w > 0 => c.channels = vec![w, 2 * w],
            _ => bail!("--width applies to the small CNN and must be at least 1"),
        }
    }
    if args.quick {
        params.epochs = 2;
        params.patience = 2;
    }
    params.lambda = args.lambda.unwrap_or(params.lambda);
    params.epochs = args.epochs.unwrap_or(params.epochs);
    params.patience = args.patience.unwrap_or(params.patience);
    params.batch_size = args.batch_size.unwrap_or(params.batch_size);
    params.lr = args.lr.unwrap_or(params.lr);
    params.seed = args.seed.unwrap_or(params.seed);
    params.check().context("invalid settings")?;
    let (train, test, description) = match &args.data {
        None => {
            let (train, test) = fashion_mnist_embedded()?;
            (train, test, "embedded Fashion-MNIST subset".to_string())
        }
        Some(dir) => {
            let (train, test) = fashion_mnist_from_dir(dir)?;
            (train, test, format!("Fashion-MNIST from {}", dir.display()))
        }
    };
    let mut data = ImageData::split(train, test, 0.1, params.seed)?;
    let mut description = description;
    if args.quick {
        data = data.truncated(2000, 500, 1000)?;
        description.push_str(" (quick: 2,000 / 500 / 1,000 images)");
    }
    let shape = data.train.shape();
    fit_to_data(
        &mut params.model,
        shape.channels,
        shape.height,
        data.num_classes(),
    );
    params.check().context("the model does not fit the data")?;
    let device = args.device.open()?;
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let progress = !args.no_progress && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let results = reproduce(
        &params,
        &data,
        &description,
        &device,
        &args.out,
        progress,
        |line| eprintln!("{line}"),
    )?;
    write_report(&results, &args.out, &command)?;

    println!("Test accuracy (%) per bit-width ({}):", description);
    let table = per_bit_table(&results);
    print!("{:<6}", "");
    for b in &params.eval_bits {
        print!("{:>8}", format!("{b} bits"));
    }
    println!();
    for row in ["FP", "PTQ", "QAT", "Reg"] {
        if let Some(values) = table.get(row) {
            print!("{row:<6}");
            for v in values {
                print!(
                    "{:>8}",
                    v.map_or("–".to_string(), |a| format!("{:.2}", 100.0 * a))
                );
            }
            println!();
        }
    }
    for c in check_claims(&results) {
        let verdict = match c.holds {
            Some(true) => "holds",
            Some(false) => "does not hold",
            None => "not tested",
        };
        println!("- {}: {verdict} ({})", c.claim, c.evidence);
    }
    println!(
        "Report: {}, results: {}. Total time {:.1} s.",
        args.out.join("report.md").display(),
        args.out.join("results.json").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
