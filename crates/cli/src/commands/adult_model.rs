//! The classifier behind `smallscale fairness --adult`: an L2-regularised logistic regression
//! (smartcore, L-BFGS) fitted on the UCI Adult training split and evaluated on the test split.
//!
//! The design matrix is the datasets crate's (numeric columns standardised with training
//! statistics, categorical columns one-hot over all training levels, `fnlwgt` dropped, `sex`
//! dropped unless asked for), with one column per categorical removed: the one-hot blocks sum
//! to the intercept, so the most frequent training level of each block becomes the reference
//! level (its effect is carried by the intercept). That keeps the problem well conditioned, so
//! L-BFGS converges in seconds; the L2 penalty `alpha / 2 ||w||^2` (smartcore adds it to the
//! summed, not averaged, log-loss) keeps rare levels from diverging.

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use smallscale_datasets::adult::adult_design_matrices;
use smallscale_datasets::encode::{DesignMatrix, FeatureEncoder, FeatureEncoding};
use smallscale_datasets::{AdultData, adult_embedded};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};

/// The sensitive groups of Adult as the fairness analysis codes them: `Female` is the
/// protected group (`A = 1`), `Male` the unprotected one (`A = 0`).
pub const PROTECTED_SEX: &str = "Female";
/// The unprotected group of Adult.
pub const UNPROTECTED_SEX: &str = "Male";
/// Class names of the Adult label, by class index.
pub const INCOME_CLASSES: [&str; 2] = ["<=50K", ">50K"];

/// What was fitted and how well it does.
#[derive(Debug, Clone, Serialize)]
pub struct AdultModelSummary {
    /// Always `logistic_regression`.
    pub model: &'static str,
    /// The L2 penalty `alpha`.
    pub alpha: f64,
    /// Whether `sex` was a feature.
    pub include_sex: bool,
    /// Number of features (without the intercept; one reference level per categorical dropped).
    pub n_features: usize,
    /// Training rows (rows with a missing value dropped).
    pub n_train: usize,
    /// Test rows (rows with a missing value dropped).
    pub n_test: usize,
    /// Accuracy on the training split.
    pub train_accuracy: f64,
    /// Accuracy on the test split.
    pub test_accuracy: f64,
    /// Share of the test rows with income `>50K`.
    pub test_positive_rate: f64,
    /// Share of the test rows predicted `>50K`.
    pub predicted_positive_rate: f64,
}

/// The test split with the model's predictions.
#[derive(Debug, Clone)]
pub struct AdultPredictions {
    /// Group codes: 1 = Female (protected), 0 = Male.
    pub groups: Vec<u8>,
    /// True labels: 1 = `>50K`.
    pub labels: Vec<u32>,
    /// Predicted labels: 1 = `>50K`.
    pub predictions: Vec<u32>,
    /// The fit.
    pub summary: AdultModelSummary,
}

fn matrix(values: Vec<f64>, rows: usize, cols: usize) -> Result<DenseMatrix<f64>> {
    DenseMatrix::new(rows, cols, values, false)
        .map_err(|e| anyhow!("cannot build the design matrix: {e}"))
}

/// Columns to keep: every standardised column, and every one-hot column except the most
/// frequent level of its block (computed on the training matrix).
fn reference_coding(encoder: &FeatureEncoder, train: &DesignMatrix) -> Vec<usize> {
    let mut counts = vec![0.0; train.cols()];
    for row in train.values().chunks_exact(train.cols().max(1)) {
        for (c, v) in counts.iter_mut().zip(row) {
            *c += v;
        }
    }
    let mut keep = Vec::with_capacity(train.cols());
    let mut start = 0;
    for enc in encoder.encodings() {
        match enc {
            FeatureEncoding::Standardized { .. } => {
                keep.push(start);
                start += 1;
            }
            FeatureEncoding::OneHot { levels, .. } => {
                let block = start..start + levels.len();
                let reference = block
                    .clone()
                    .max_by(|&a, &b| counts[a].total_cmp(&counts[b]).then(b.cmp(&a)));
                keep.extend(block.clone().filter(|&c| Some(c) != reference));
                start = block.end;
            }
        }
    }
    keep
}

/// The kept columns of a row-major matrix, row-major.
fn select_columns(m: &DesignMatrix, keep: &[usize]) -> Vec<f64> {
    let mut out = Vec::with_capacity(m.rows() * keep.len());
    for row in m.values().chunks_exact(m.cols().max(1)) {
        out.extend(keep.iter().map(|&c| row[c]));
    }
    out
}

fn accuracy(truth: &[u8], predicted: &[i32]) -> f64 {
    let hits = truth
        .iter()
        .zip(predicted)
        .filter(|(t, p)| i32::from(**t) == **p)
        .count();
    hits as f64 / truth.len().max(1) as f64
}

/// Fits the model on the embedded training split and predicts the test split.
pub fn fit_and_predict(alpha: f64, include_sex: bool) -> Result<AdultPredictions> {
    if !(alpha.is_finite() && alpha > 0.0) {
        bail!(
            "--adult-alpha {alpha}: the L2 penalty must be finite and > 0 (the one-hot design is collinear without it)"
        );
    }
    let (train, test): (AdultData, AdultData) =
        adult_embedded().context("cannot load the embedded UCI Adult data")?;
    let (x_train, x_test, encoder) = adult_design_matrices(&train, &test, include_sex)
        .context("cannot encode the UCI Adult features")?;
    let keep = reference_coding(&encoder, &x_train);
    let n_features = keep.len();
    let xt = matrix(select_columns(&x_train, &keep), train.len(), n_features)?;
    let xs = matrix(select_columns(&x_test, &keep), test.len(), n_features)?;
    let y: Vec<i32> = train.labels().iter().map(|&v| i32::from(v)).collect();
    let params = LogisticRegressionParameters::default().with_alpha(alpha);
    let model = LogisticRegression::fit(&xt, &y, params)
        .map_err(|e| anyhow!("fitting the logistic regression failed: {e}"))?;
    let predict = |x: &DenseMatrix<f64>| -> Result<Vec<i32>> {
        model
            .predict(x)
            .map_err(|e| anyhow!("predicting with the logistic regression failed: {e}"))
    };
    let train_pred = predict(&xt)?;
    let test_pred = predict(&xs)?;
    let n_test = test.len();
    let predictions: Vec<u32> = test_pred.iter().map(|&p| u32::from(p == 1)).collect();
    let summary = AdultModelSummary {
        model: "logistic_regression",
        alpha,
        include_sex,
        n_features,
        n_train: train.len(),
        n_test,
        train_accuracy: accuracy(train.labels(), &train_pred),
        test_accuracy: accuracy(test.labels(), &test_pred),
        test_positive_rate: test.labels().iter().map(|&v| f64::from(v)).sum::<f64>()
            / n_test as f64,
        predicted_positive_rate: predictions.iter().map(|&v| f64::from(v)).sum::<f64>()
            / n_test as f64,
    };
    Ok(AdultPredictions {
        // The datasets crate codes sex 0 = Female, 1 = Male; here Female is protected (1).
        groups: test.sex().iter().map(|&s| u8::from(s == 0)).collect(),
        labels: test.labels().iter().map(|&v| u32::from(v)).collect(),
        predictions,
        summary,
    })
}
