//! `smallscale fairness`: fairness metrics of (group, label, prediction) rows, the minimal
//! memorization that removes each bias, its bounds, and the metrics after applying it to the
//! rows; from a CSV file, or from a logistic regression on the embedded UCI Adult data.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;
use smallscale_fairness_memo::{
    ADULT_DEFAULT_ALPHA, AdultBaselineParams, AdultBaselineSummary, AnalysisOptions, ApplyOptions,
    BootstrapOptions, CsvColumns, FairnessAnalysis, GroupEncoding, MemorizationModel,
    MinimalOptions, Rounding, SignConvention, Target, analyze, read_csv_rows,
};

use super::fairness_table;

/// Which bias to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// Statistical parity.
    Sp,
    /// Equal opportunity.
    Eopp,
    /// Equalized odds.
    Eodds,
    /// All three.
    All,
}

impl TargetArg {
    fn targets(self) -> Vec<Target> {
        match self {
            TargetArg::Sp => vec![Target::StatisticalParity],
            TargetArg::Eopp => vec![Target::EqualOpportunity],
            TargetArg::Eodds => vec![Target::EqualizedOdds],
            TargetArg::All => Target::ALL.to_vec(),
        }
    }
}

/// The sign of the signed gaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignArg {
    /// metric(protected) - metric(unprotected) (AIF360's convention).
    ProtectedMinusUnprotected,
    /// metric(unprotected) - metric(protected).
    UnprotectedMinusProtected,
}

/// The model of the statistical-parity problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpModelArg {
    /// Unmemorized confusion rows held fixed: plans can be applied to the rows.
    ConfusionRow,
    /// Unmemorized prediction distribution of each group held fixed (the paper's
    /// parametrization; not applied to rows).
    Distribution,
}

/// Arguments of `smallscale fairness`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    smallscale fairness --input predictions.csv --group-col sex --protected Female --label-col income --pred-col predicted\n  \
    smallscale fairness --input predictions.csv --target eopp --bootstrap 1000 --json\n  \
    smallscale fairness --adult\n\n\
    Groups: --protected VALUE is the protected group (A = 1), every other value the unprotected group\n\
    (A = 0). Without it the column must hold exactly two values and the larger one (numerically for\n\
    integers, else as text) is protected. Signed gaps are protected minus unprotected by default.\n\
    --adult: group = sex with Female protected, label = income >50K, prediction = a logistic\n\
    regression fitted on the training split, analyzed on the test split.")]
pub struct FairnessArgs {
    /// CSV file with one row per individual and a header row.
    #[arg(long, value_name = "ROWS.csv", required_unless_present = "adult")]
    pub input: Option<PathBuf>,
    /// Column holding the group (sensitive attribute) values.
    #[arg(long, value_name = "COL", default_value = "group")]
    pub group_col: String,
    /// Column holding the true labels (any text or integers).
    #[arg(long, value_name = "COL", default_value = "label")]
    pub label_col: String,
    /// Column holding the predictions (same values as the labels).
    #[arg(long, value_name = "COL", default_value = "prediction")]
    pub pred_col: String,
    /// Column holding non-negative row weights.
    #[arg(long, value_name = "COL")]
    pub weight_col: Option<String>,
    /// The group value that is protected (A = 1); required with more than two group values.
    #[arg(long, value_name = "VALUE")]
    pub protected: Option<String>,
    /// Which bias to remove.
    #[arg(long, value_enum, default_value_t = TargetArg::All)]
    pub target: TargetArg,
    /// Positive class of the binary (fairlearn / AIF360) summary when there are two classes
    /// (default: the larger class).
    #[arg(long, value_name = "VALUE")]
    pub positive: Option<String>,
    /// Sign of the signed gaps.
    #[arg(long, value_enum, default_value_t = SignArg::ProtectedMinusUnprotected)]
    pub sign: SignArg,
    /// Model of the statistical-parity problem.
    #[arg(long, value_enum, default_value_t = SpModelArg::ConfusionRow)]
    pub sp_model: SpModelArg,
    /// Apply plans exactly by splitting one row per stratum into weighted parts, instead of
    /// memorizing whole rows.
    #[arg(long)]
    pub split_rows: bool,
    /// Seed of the row selection when applying plans (and of the bootstrap).
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Percentile-bootstrap intervals of the metric aggregates with N resamples (at least 10).
    #[arg(long, value_name = "N")]
    pub bootstrap: Option<usize>,
    /// Confidence level of the bootstrap intervals.
    #[arg(long, value_name = "C", default_value_t = 0.95, requires = "bootstrap")]
    pub confidence: f64,
    /// Analyze a logistic regression on the embedded UCI Adult data instead of --input.
    #[arg(long, conflicts_with_all = ["input", "group_col", "label_col", "pred_col", "weight_col", "protected"])]
    pub adult: bool,
    /// With --adult: keep `sex` among the model's features (excluded by default).
    #[arg(long, requires = "adult")]
    pub adult_include_sex: bool,
    /// With --adult: the L2 penalty alpha of the logistic regression.
    #[arg(long, value_name = "ALPHA", default_value_t = ADULT_DEFAULT_ALPHA, requires = "adult")]
    pub adult_alpha: f64,
    #[command(flatten)]
    pub output: super::output_args::OutputArgs,
}

/// Where the rows came from.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A CSV file.
    Csv {
        /// The file.
        path: String,
        /// The group column.
        group_column: String,
        /// The label column.
        label_column: String,
        /// The prediction column.
        prediction_column: String,
        /// The weight column, if any.
        weight_column: Option<String>,
    },
    /// The embedded UCI Adult test split with a logistic regression's predictions.
    Adult {
        /// The fitted model.
        model: AdultBaselineSummary,
    },
}

/// Everything `--json` prints.
#[derive(Debug, Serialize)]
pub struct FairnessReport {
    /// Where the rows came from.
    pub source: Source,
    /// How group values were coded (protected = A = 1).
    pub groups: GroupEncoding,
    /// Rows in the (unprotected, protected) group.
    pub group_rows: [usize; 2],
    /// Class names, by class index (the index used in every vector and matrix).
    pub classes: Vec<String>,
    /// Cell masses `p_y^a`, indexed `[group][label]` (group 0 unprotected, 1 protected).
    pub cell_masses: Vec<Vec<f64>>,
    /// The options of the analysis.
    pub options: AnalysisOptions,
    /// The library's analysis: metrics, binary summary, bootstrap, per target the minimal
    /// plan, its bounds and the metrics after applying it to the rows.
    pub analysis: FairnessAnalysis,
}

fn options(args: &FairnessArgs, classes: &[String]) -> Result<AnalysisOptions> {
    let sign = match args.sign {
        SignArg::ProtectedMinusUnprotected => SignConvention::ProtectedMinusUnprotected,
        SignArg::UnprotectedMinusProtected => SignConvention::UnprotectedMinusProtected,
    };
    let model = match args.sp_model {
        SpModelArg::ConfusionRow => MemorizationModel::ConfusionRow,
        SpModelArg::Distribution => MemorizationModel::Distribution,
    };
    let positive_class = match &args.positive {
        None => 1,
        Some(v) => match classes.iter().position(|c| c == v) {
            Some(i) => i,
            None => bail!(
                "--positive `{v}` is not a class of the data; classes: {}",
                classes.join(", ")
            ),
        },
    };
    let bootstrap = match args.bootstrap {
        None => None,
        Some(n) if n < 10 => bail!("--bootstrap {n}: use at least 10 resamples (1000 is usual)"),
        Some(n) => {
            if !(args.confidence > 0.0 && args.confidence < 1.0) {
                bail!(
                    "--confidence {}: the confidence level must lie strictly between 0 and 1, e.g. 0.95",
                    args.confidence
                );
            }
            Some(BootstrapOptions {
                n_resamples: n,
                confidence: args.confidence,
                seed: args.seed,
            })
        }
    };
    Ok(AnalysisOptions {
        sign,
        minimal: MinimalOptions {
            model,
            ..MinimalOptions::default()
        },
        targets: args.target.targets(),
        apply: ApplyOptions {
            seed: args.seed,
            rounding: if args.split_rows {
                Rounding::SplitRows
            } else {
                Rounding::WholeRows
            },
            sign,
        },
        bootstrap,
        positive_class,
    })
}

/// Loads the rows (CSV or Adult) and runs the analysis.
pub fn compute(args: &FairnessArgs) -> Result<FairnessReport> {
    let (source, rows, classes, groups) = if args.adult {
        let fit = AdultBaselineParams::default()
            .with_alpha(args.adult_alpha)
            .with_include_sex(args.adult_include_sex)
            .check()
            .context("--adult-alpha")?
            .fit()?;
        let source = Source::Adult { model: fit.summary };
        (source, fit.rows, fit.classes, fit.groups)
    } else {
        let Some(path) = &args.input else {
            bail!("give --input ROWS.csv, or --adult for the embedded UCI Adult data");
        };
        let columns = CsvColumns {
            group: args.group_col.clone(),
            label: args.label_col.clone(),
            prediction: args.pred_col.clone(),
            weight: args.weight_col.clone(),
            chosen_by: [
                "--group-col",
                "--label-col",
                "--pred-col",
                "--weight-col",
                "--protected VALUE",
            ],
        };
        let encoded = read_csv_rows(path, &columns, args.protected.as_deref())?;
        let source = Source::Csv {
            path: path.display().to_string(),
            group_column: args.group_col.clone(),
            label_column: args.label_col.clone(),
            prediction_column: args.pred_col.clone(),
            weight_column: args.weight_col.clone(),
        };
        (source, encoded.rows, encoded.classes, encoded.groups)
    };
    let options = options(args, &classes)?;
    let analysis = analyze(&rows, &options)?;
    let cells = rows.distribution()?.cell_masses();
    let protected_rows = rows.groups().iter().filter(|&&g| g == 1).count();
    Ok(FairnessReport {
        source,
        groups,
        group_rows: [rows.len() - protected_rows, protected_rows],
        classes,
        cell_masses: cells.rows().into_iter().map(|r| r.to_vec()).collect(),
        options,
        analysis,
    })
}

/// Runs the subcommand.
pub fn run(args: &FairnessArgs) -> Result<()> {
    let report = compute(args)?;
    if args.output.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        fairness_table::print(&report);
    }
    Ok(())
}
