//! `smallscale quantize`: PTQ of a safetensors checkpoint.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use smallscale_quant_core::{
    AsymmetricQuantizer, BitWidth, MaxAbsQuantizer, PerChannelMaxAbsQuantizer, Quantizer,
    TensorErrorReport, TensorSelector, quantize_checkpoint, read_safetensors,
};

/// Arguments of `smallscale quantize`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  smallscale quantize --bits 4 --input model.safetensors --out model-w4.safetensors\n  \
    smallscale quantize --bits 8 --input model.safetensors --out codes.safetensors --export-int --exclude '*.bias'\n\n\
    Every floating tensor is quantized unless excluded (BatchNorm running statistics included: exclude them with\n\
    --exclude '*.running_*', or use --weights-only for the paper's choice of every tensor named *.weight)."
)]
pub struct QuantizeArgs {
    /// Bit-width, 2 to 16 (2 = ternary).
    #[arg(long, value_name = "B", allow_negative_numbers = true, value_parser = super::bits_arg::parse_bits)]
    pub bits: BitWidth,
    /// The checkpoint to quantize (safetensors).
    #[arg(long, value_name = "IN.safetensors")]
    pub input: PathBuf,
    /// Where to write the result (written atomically; never a partial file).
    #[arg(long = "out", visible_alias = "output", value_name = "OUT.safetensors")]
    pub out: PathBuf,
    /// Leave tensors whose name matches this glob unchanged (repeatable), e.g. '*.bias', 'fc.*'.
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// One scale per output channel (dimension 0) instead of one per tensor.
    #[arg(long, conflicts_with = "asymmetric")]
    pub per_channel: bool,
    /// Asymmetric min/max quantization with a zero-point instead of the symmetric max-abs quantizer.
    #[arg(long)]
    pub asymmetric: bool,
    /// Quantize only tensors named `weight` or `*.weight` (the paper's reference choice).
    #[arg(long)]
    pub weights_only: bool,
    /// Write integer codes (i8 up to 8 bits, i16 above) plus scales instead of fake-quantized floats.
    #[arg(long)]
    pub export_int: bool,
    #[command(flatten)]
    pub output: super::output_args::OutputArgs,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    input: &'a std::path::Path,
    output: &'a std::path::Path,
    bits: BitWidth,
    scheme: &'static str,
    export_int: bool,
    quantized_tensors: usize,
    total_tensors: usize,
    tensors: Vec<TensorErrorReport>,
}

fn build_quantizer(args: &QuantizeArgs) -> Result<Box<dyn Quantizer>> {
    let bits = args.bits;
    Ok(if args.asymmetric {
        Box::new(AsymmetricQuantizer::with_bits(bits))
    } else if args.per_channel {
        Box::new(PerChannelMaxAbsQuantizer::with_bits(bits))
    } else {
        Box::new(MaxAbsQuantizer::with_bits(bits))
    })
}

/// Runs the subcommand.
pub fn run(args: &QuantizeArgs) -> Result<()> {
    let quantizer = build_quantizer(args)?;
    let base = if args.weights_only {
        TensorSelector::reference_weights()
    } else {
        TensorSelector::all_floating()
    };
    let selector = base.exclude_all(&args.exclude).context("--exclude")?;
    smallscale_io::check_output(&args.out, &[&args.input]).context("--out")?;
    let input = read_safetensors(&args.input)?;
    let unmatched = selector.unmatched_patterns(input.tensors.keys().map(String::as_str));
    if !unmatched.is_empty() {
        let names: Vec<&str> = input.tensors.keys().take(12).map(String::as_str).collect();
        // A warning, not an error: one exclude list may serve checkpoints of several models.
        eprintln!(
            "warning: --exclude {} matches no tensor of {}; its tensors are: {}{} (patterns are globs over the full name, e.g. '*.bias')",
            unmatched
                .iter()
                .map(|p| format!("'{p}'"))
                .collect::<Vec<_>>()
                .join(", "),
            args.input.display(),
            names.join(", "),
            if input.tensors.len() > names.len() {
                ", ..."
            } else {
                ""
            }
        );
    }
    let ptq = quantize_checkpoint(&input, quantizer.as_ref(), &selector, args.export_int)?;
    ptq.file.save(&args.out)?;
    let quantized_tensors = ptq.quantized_tensors();
    let report = ptq.report;
    let summary = Report {
        input: &args.input,
        output: &args.out,
        bits: args.bits,
        scheme: quantizer.scheme().as_str(),
        export_int: args.export_int,
        quantized_tensors,
        total_tensors: report.len(),
        tensors: report,
    };
    warn_zeroed(&summary.tensors);
    if args.output.json {
        outln!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_table(&summary);
    }
    Ok(())
}

/// The share of nonzero weights set to zero above which `quantize` warns.
const ZEROED_WARNING: f64 = 0.5;

/// Says on standard error which tensors lost most of their weights to zero.
fn warn_zeroed(tensors: &[TensorErrorReport]) {
    for t in tensors.iter().filter(|t| t.zeroed_share > ZEROED_WARNING) {
        eprintln!(
            "warning: {}: {:.1} % of its nonzero values became 0 (an outlier sets the scale); try --per-channel, more --bits, or --exclude '{}'",
            t.name,
            100.0 * t.zeroed_share,
            t.name
        );
    }
}

fn print_table(r: &Report<'_>) {
    let width = r
        .tensors
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .max(6);
    outln!(
        "{} -> {} ({} {} bits{}): {} of {} tensors quantized",
        r.input.display(),
        r.output.display(),
        r.scheme,
        r.bits,
        if r.export_int { ", integer codes" } else { "" },
        r.quantized_tensors,
        r.total_tensors
    );
    outln!(
        "{:<width$}  {:<16}  {:>5}  {:>12}  {:>12}  {:>9}  {:>8}",
        "tensor",
        "shape",
        "dtype",
        "MSE",
        "max |err|",
        "SQNR dB",
        "zeroed %"
    );
    for t in &r.tensors {
        let shape = format!("{:?}", t.shape);
        if t.quantized {
            let sqnr = t
                .sqnr_db
                .map_or_else(|| "exact".to_string(), |v| format!("{v:.2}"));
            outln!(
                "{:<width$}  {:<16}  {:>5}  {:>12.4e}  {:>12.4e}  {:>9}  {:>8.1}",
                t.name,
                shape,
                t.dtype,
                t.mse,
                t.max_abs_error,
                sqnr,
                100.0 * t.zeroed_share
            );
        } else {
            outln!(
                "{:<width$}  {:<16}  {:>5}  {:>12}  {:>12}  {:>9}  {:>8}",
                t.name,
                shape,
                t.dtype,
                "-",
                "-",
                "kept",
                "-"
            );
        }
    }
}
