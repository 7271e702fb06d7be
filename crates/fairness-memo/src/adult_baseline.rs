//! The Adult baseline: an L2-regularized logistic regression (smartcore, L-BFGS) fitted on the
//! embedded UCI Adult training split, whose test-split predictions are the rows of a fairness
//! analysis (group = sex with `Female` protected, label = income `>50K`).
//!
//! Behind the `adult-baseline` feature (it pulls in smallscale-datasets and smartcore).
//!
//! The design matrix is the datasets crate's (numeric columns standardized with training
//! statistics, categorical columns one-hot over all training levels, `fnlwgt` dropped, `sex`
//! dropped unless asked for), with one column per categorical removed: the one-hot blocks sum
//! to the intercept, so the most frequent training level of each block becomes the reference
//! level (its effect is carried by the intercept). That keeps the problem well conditioned, so
//! L-BFGS converges in seconds; the L2 penalty `alpha / 2 ||w||^2` (smartcore adds it to the
//! summed, not averaged, log-loss) keeps rare levels from diverging.
//!
//! ```no_run
//! use smallscale_fairness_memo::{AdultBaselineParams, AnalysisOptions, analyze};
//!
//! let baseline = AdultBaselineParams::default().check()?.fit()?;
//! println!("test accuracy {:.3}", baseline.summary.test_accuracy);
//! let analysis = analyze(&baseline.rows, &AnalysisOptions::default())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::Serialize;
use smallscale_datasets::adult::adult_design_matrices;
use smallscale_datasets::encode::{DesignMatrix, FeatureEncoder, FeatureEncoding};
use smallscale_datasets::{DatasetError, adult_embedded};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};
use thiserror::Error;

use crate::{FairnessError, GroupEncoding, Rows};

/// The protected group of Adult (`A = 1`).
pub const ADULT_PROTECTED_SEX: &str = "Female";
/// The unprotected group of Adult (`A = 0`).
pub const ADULT_UNPROTECTED_SEX: &str = "Male";
/// Class names of the Adult label, by class index.
pub const ADULT_INCOME_CLASSES: [&str; 2] = ["<=50K", ">50K"];
/// The default L2 penalty `alpha`.
pub const ADULT_DEFAULT_ALPHA: f64 = 10.0;

/// What can go wrong while fitting the Adult baseline.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AdultBaselineError {
    /// The L2 penalty is not a finite positive number.
    #[error(
        "the L2 penalty alpha = {0} must be finite and > 0 (the one-hot design is collinear without it)"
    )]
    InvalidAlpha(f64),
    /// The embedded data could not be read or encoded.
    #[error("cannot load or encode the embedded UCI Adult data")]
    Data(#[source] DatasetError),
    /// smartcore failed to fit or predict.
    #[error("the logistic regression failed while {stage}: {message}")]
    Model {
        /// `"building the design matrix"`, `"fitting"` or `"predicting"`.
        stage: &'static str,
        /// smartcore's message.
        message: String,
    },
    /// The predictions did not form valid fairness rows.
    #[error("the predictions do not form fairness rows")]
    Rows(#[source] FairnessError),
}

/// Unchecked settings of the Adult baseline; [`check`](Self::check) validates them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AdultBaselineParams {
    /// The L2 penalty `alpha` (finite, > 0).
    pub alpha: f64,
    /// Keep `sex` among the features (excluded by default).
    pub include_sex: bool,
}

impl Default for AdultBaselineParams {
    fn default() -> Self {
        Self {
            alpha: ADULT_DEFAULT_ALPHA,
            include_sex: false,
        }
    }
}

impl AdultBaselineParams {
    /// Sets the L2 penalty.
    pub fn with_alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// Keeps or drops `sex` as a feature.
    pub fn with_include_sex(mut self, include_sex: bool) -> Self {
        self.include_sex = include_sex;
        self
    }

    /// Validates the settings.
    pub fn check(self) -> Result<AdultBaselineValidParams, AdultBaselineError> {
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(AdultBaselineError::InvalidAlpha(self.alpha));
        }
        Ok(AdultBaselineValidParams(self))
    }
}

/// Settings of the Adult baseline that passed [`AdultBaselineParams::check`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(transparent)]
pub struct AdultBaselineValidParams(AdultBaselineParams);

impl AdultBaselineValidParams {
    /// The settings.
    pub fn params(&self) -> &AdultBaselineParams {
        &self.0
    }

    /// Fits the model on the embedded training split and predicts the test split.
    pub fn fit(&self) -> Result<AdultBaseline, AdultBaselineError> {
        fit_adult_baseline(self)
    }
}

/// What was fitted and how well it does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdultBaselineSummary {
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
    /// Accuracy on the training split, a fraction in [0, 1].
    pub train_accuracy: f64,
    /// Accuracy on the test split, a fraction in [0, 1].
    pub test_accuracy: f64,
    /// Share of the test rows with income `>50K`.
    pub test_positive_rate: f64,
    /// Share of the test rows predicted `>50K`.
    pub predicted_positive_rate: f64,
}

/// The test split with the model's predictions, ready for [`analyze`](crate::analyze).
#[derive(Debug, Clone)]
pub struct AdultBaseline {
    /// Group 1 = Female (protected), 0 = Male; label and prediction 1 = `>50K`.
    pub rows: Rows,
    /// How the groups were coded.
    pub groups: GroupEncoding,
    /// The class names, by class index ([`ADULT_INCOME_CLASSES`]).
    pub classes: Vec<String>,
    /// The fit.
    pub summary: AdultBaselineSummary,
}

fn model_error(stage: &'static str) -> impl Fn(smartcore::error::Failed) -> AdultBaselineError {
    move |e| AdultBaselineError::Model {
        stage,
        message: e.to_string(),
    }
}

/// Columns to keep: every standardized column, and every one-hot column except the most
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

/// The kept columns of a row-major matrix, as a smartcore matrix.
fn select_columns(
    m: &DesignMatrix,
    keep: &[usize],
) -> Result<DenseMatrix<f64>, AdultBaselineError> {
    let mut out = Vec::with_capacity(m.rows() * keep.len());
    for row in m.values().chunks_exact(m.cols().max(1)) {
        out.extend(keep.iter().map(|&c| row[c]));
    }
    DenseMatrix::new(m.rows(), keep.len(), out, false)
        .map_err(model_error("building the design matrix"))
}

fn accuracy(truth: &[u8], predicted: &[i32]) -> f64 {
    let hits = truth
        .iter()
        .zip(predicted)
        .filter(|(t, p)| i32::from(**t) == **p)
        .count();
    hits as f64 / truth.len().max(1) as f64
}

fn share_of_ones<T: Copy + Into<f64>>(values: &[T]) -> f64 {
    values.iter().map(|&v| v.into()).sum::<f64>() / values.len().max(1) as f64
}

/// Fits the baseline on the embedded training split and predicts the test split.
pub fn fit_adult_baseline(
    params: &AdultBaselineValidParams,
) -> Result<AdultBaseline, AdultBaselineError> {
    let AdultBaselineParams { alpha, include_sex } = *params.params();
    let (train, test) = adult_embedded().map_err(AdultBaselineError::Data)?;
    let (x_train, x_test, encoder) =
        adult_design_matrices(&train, &test, include_sex).map_err(AdultBaselineError::Data)?;
    let keep = reference_coding(&encoder, &x_train);
    let xt = select_columns(&x_train, &keep)?;
    let xs = select_columns(&x_test, &keep)?;
    let y: Vec<i32> = train.labels().iter().map(|&v| i32::from(v)).collect();
    let model = LogisticRegression::fit(
        &xt,
        &y,
        LogisticRegressionParameters::default().with_alpha(alpha),
    )
    .map_err(model_error("fitting"))?;
    let train_pred = model.predict(&xt).map_err(model_error("predicting"))?;
    let test_pred = model.predict(&xs).map_err(model_error("predicting"))?;
    let predictions: Vec<u32> = test_pred.iter().map(|&p| u32::from(p == 1)).collect();
    let summary = AdultBaselineSummary {
        model: "logistic_regression",
        alpha,
        include_sex,
        n_features: keep.len(),
        n_train: train.len(),
        n_test: test.len(),
        train_accuracy: accuracy(train.labels(), &train_pred),
        test_accuracy: accuracy(test.labels(), &test_pred),
        test_positive_rate: share_of_ones(test.labels()),
        predicted_positive_rate: share_of_ones(&predictions),
    };
    // The datasets crate codes sex 0 = Female, 1 = Male; here Female is protected (1).
    let groups = test.sex().iter().map(|&s| u8::from(s == 0)).collect();
    let labels = test.labels().iter().map(|&v| u32::from(v)).collect();
    let rows = Rows::with_classes(groups, labels, predictions, None, 2)
        .map_err(AdultBaselineError::Rows)?;
    Ok(AdultBaseline {
        rows,
        groups: GroupEncoding {
            protected: ADULT_PROTECTED_SEX.to_string(),
            unprotected: vec![ADULT_UNPROTECTED_SEX.to_string()],
            chosen_by_default: false,
        },
        classes: ADULT_INCOME_CLASSES.iter().map(|c| c.to_string()).collect(),
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_must_be_finite_and_positive() {
        for alpha in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = AdultBaselineParams::default().with_alpha(alpha).check();
            assert!(
                matches!(err, Err(AdultBaselineError::InvalidAlpha(_))),
                "{alpha}"
            );
        }
        assert!(
            AdultBaselineParams::default()
                .with_alpha(0.5)
                .check()
                .is_ok()
        );
    }

    #[test]
    fn reference_coding_drops_the_most_frequent_level_of_each_block() {
        // Built through the datasets crate's encoder on the embedded data.
        let (train, test) = adult_embedded().unwrap();
        let (x_train, _, encoder) = adult_design_matrices(&train, &test, false).unwrap();
        let keep = reference_coding(&encoder, &x_train);
        let blocks = encoder
            .encodings()
            .iter()
            .filter(|e| matches!(e, FeatureEncoding::OneHot { .. }))
            .count();
        assert_eq!(keep.len(), x_train.cols() - blocks);
    }

    #[test]
    fn the_fit_predicts_the_test_split_and_women_get_fewer_positives() {
        let fit = AdultBaselineParams::default()
            .check()
            .unwrap()
            .fit()
            .unwrap();
        assert_eq!(fit.summary.n_test, fit.rows.len());
        assert!(fit.summary.test_accuracy > 0.82 && fit.summary.test_accuracy < 0.88);
        let rate = |group: u8| {
            let (n, pos) = fit
                .rows
                .groups()
                .iter()
                .zip(fit.rows.predictions())
                .filter(|(g, _)| **g == group)
                .fold((0usize, 0usize), |(n, p), (_, &y)| (n + 1, p + y as usize));
            pos as f64 / n as f64
        };
        assert!(rate(1) < rate(0) - 0.1, "{} vs {}", rate(1), rate(0));
    }
}
