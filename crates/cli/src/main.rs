//! The `smallscale` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Like `print!`, but a closed standard output (`smallscale ... | head`) ends the program quietly.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!($($arg)*), false)
    };
}

/// Like `println!`, but a closed standard output (`smallscale ... | head`) ends the program quietly.
macro_rules! outln {
    () => {
        $crate::stdout::write(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!($($arg)*), true)
    };
}

mod commands;
mod interrupt;
mod stdout;

/// Small-scale, resource-aware deep learning research: quantization robustness, fairness under
/// memorization, and performance per resource unit.
#[derive(Debug, Parser)]
#[command(name = "smallscale", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The main job: the paper's FP / PTQ / QAT / Reg comparison with cross-bit tables, resources, PePR
    /// and plots, on the embedded Fashion-MNIST subset (one to two minutes on 2 CPU cores).
    Reproduce(Box<commands::reproduce::ReproduceArgs>),
    /// Train one model (FP, QAT or the oscillation regularizer) with every knob; resumable.
    Train(Box<commands::train::TrainArgs>),
    /// Cross-bit evaluation of a checkpoint: test accuracy at full precision and after PTQ per bit.
    Eval(Box<commands::eval::EvalArgs>),
    /// Post-training quantization of a safetensors checkpoint, with an error report per tensor.
    Quantize(commands::quantize::QuantizeArgs),
    /// PePR (performance per resource unit) of a table of runs: scores, ranking, Pareto front, plot.
    Pepr(commands::pepr::PeprArgs),
    /// The PePR paper's study: a model pool pretrained and from scratch on 100/10/1 % of a medical
    /// image set (embedded PneumoniaMNIST), every run metered, scored and the findings checked.
    Study(Box<commands::study::StudyArgs>),
    /// Fairness metrics and the minimal memorization that removes each bias (CSV rows or UCI Adult).
    Fairness(commands::fairness::FairnessArgs),
    /// A grid of runs (of `reproduce` or `study`) as a job list for SLURM, any batch system or this
    /// machine: plan it, run its jobs, see where they stand, merge their results.
    Sweep(Box<commands::sweep::SweepArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Sweep(args) = &cli.command
        && let Some(threads) = commands::sweep::job_threads(args)
    {
        // A sweep's job computes with the thread count it was planned with, wherever it runs, so
        // that its results are the same bit for bit; rayon and candle read this variable when
        // they first start their threads.
        // SAFETY: no other thread has started yet: this is the first thing `main` does after
        // parsing the arguments, which starts none.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
    }
    // Training reuses the same big buffers every step; keep freed pages instead of faulting in
    // fresh ones (see `smallscale_models::kernels::retain_freed_memory`).
    smallscale_models::kernels::retain_freed_memory();
    let output = match &cli.command {
        Command::Reproduce(a) => a.output,
        Command::Train(a) => a.output,
        Command::Eval(a) => a.output,
        Command::Quantize(a) => a.output,
        Command::Pepr(a) => a.output,
        Command::Study(a) => a.output,
        Command::Fairness(a) => a.output,
        Command::Sweep(a) => a.output(),
    };
    if output.quiet {
        stdout::set_quiet();
    }
    // Only where a run directory keeps the finished epochs (train without --out keeps nothing).
    let resumable = match &cli.command {
        Command::Reproduce(_) => true,
        Command::Study(a) => !a.print_pool,
        Command::Train(a) => a.out.is_some(),
        Command::Sweep(a) => matches!(a.command, commands::sweep::SweepCommand::Run(_)),
        _ => false,
    };
    if resumable {
        interrupt::say_how_to_resume_on_interrupt();
    }
    let result = match cli.command {
        Command::Reproduce(args) => commands::reproduce::run(&args),
        Command::Train(args) => commands::train::run(&args),
        Command::Eval(args) => commands::eval::run(&args),
        Command::Quantize(args) => commands::quantize::run(&args),
        Command::Pepr(args) => commands::pepr::run(&args),
        Command::Study(args) => commands::study::run(&args),
        Command::Fairness(args) => commands::fairness::run(&args),
        Command::Sweep(args) => commands::sweep::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", stdout::error_message(&err));
            ExitCode::from(2)
        }
    }
}
