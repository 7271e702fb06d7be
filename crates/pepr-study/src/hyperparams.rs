//! The parameters of a study ([`StudyParams`]) and their checked form ([`StudyValidParams`]).

use serde::{Deserialize, Serialize};
use smallscale_datasets::DataSource;
use smallscale_models::OptimizerConfig;
use smallscale_osc_reg::{Method, TrainParams, TrainValidParams};
use smallscale_pepr_score::{DataFraction, MeterConfig};

use crate::errors::{Result, StudyError};
use crate::pool_file::{StudyPool, StudyPreset};

/// Caps on the examples of every run, for tests and quick checks (`None`: all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudyLimits {
    /// First N examples of the target's training split, after taking the fraction.
    pub train: Option<usize>,
    /// First N examples of the target's validation split.
    pub validation: Option<usize>,
    /// First N examples of the target's test split.
    pub test: Option<usize>,
    /// First N training examples of the pretraining data set.
    pub pretrain_train: Option<usize>,
}

/// What a study trains (unchecked builder; [`StudyParams::check`] validates it).
///
/// Every model of the pool is pretrained once on `pretraining` (for `pretrain_epochs`), then
/// trained on each fraction of the target's training split twice: from scratch and fine-tuned
/// from its pretrained body (the classifier starts fresh). Every run: Adam at `lr`, at most
/// `epochs` epochs, stopped after `patience` epochs without a better validation accuracy (so a
/// model that converges sooner costs less), the epoch best on the target's validation split
/// kept, batch `batch_size`, initialized and shuffled with `seed`.
///
/// ```
/// use smallscale_pepr_study::{StudyParams, StudyPreset};
/// let params = StudyParams::preset(StudyPreset::Quick).with_epochs(1).check()?;
/// assert_eq!(params.params().fractions, [1.0, 0.1, 0.01]);
/// assert_eq!(params.label(), "pneumonia");
/// assert!(StudyParams::preset(StudyPreset::Quick).with_fractions(vec![0.1]).check().is_err());
/// # Ok::<(), smallscale_pepr_study::StudyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyParams {
    /// The models.
    pub pool: StudyPool,
    /// The data set the models are trained and tested on (its released splits).
    pub target: DataSource,
    /// The experiment label's base (`pneumonia`); default: from the target.
    pub label: Option<String>,
    /// The data set of the pretraining.
    pub pretraining: DataSource,
    /// Training-set fractions: 1 first, then at most two smaller ones, decreasing (the paper's
    /// 100 %, 10 % and about 1 %).
    pub fractions: Vec<f64>,
    /// Maximum epochs of every run on the target.
    pub epochs: usize,
    /// Maximum epochs of the pretraining.
    pub pretrain_epochs: usize,
    /// Early stopping: epochs without a better validation accuracy before a run stops.
    pub patience: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Seed of initialization, shuffling, the fractions and the pretraining's validation split.
    pub seed: u64,
    /// Caps for tests and quick checks.
    pub limits: StudyLimits,
}

impl StudyParams {
    /// A shipped study: its pool; `quick` trains at most 2 epochs (pretraining 2), `default` 6
    /// (6) with patience 2, `full` 30 (15) with patience 5; PneumoniaMNIST as target, the embedded Fashion-MNIST subset for
    /// pretraining, fractions 100 %, 10 % and 1 %, batch 64, Adam at 1e-3, seed 0.
    pub fn preset(preset: StudyPreset) -> Self {
        let (epochs, pretrain_epochs, patience) = match preset {
            StudyPreset::Quick => (2, 2, 2),
            StudyPreset::Default => (6, 6, 2),
            StudyPreset::Full => (30, 15, 5),
        };
        Self {
            pool: StudyPool::preset(preset),
            target: DataSource::EmbeddedPneumoniaMnist,
            label: None,
            pretraining: DataSource::EmbeddedFashionMnist,
            fractions: vec![1.0, 0.1, 0.01],
            epochs,
            pretrain_epochs,
            patience,
            batch_size: 64,
            lr: 1e-3,
            seed: 0,
            limits: StudyLimits::default(),
        }
    }

    /// Another pool.
    pub fn with_pool(mut self, pool: StudyPool) -> Self {
        self.pool = pool;
        self
    }

    /// Another target data set (and its label's base, or `None` for the default).
    pub fn with_target(mut self, target: DataSource, label: Option<String>) -> Self {
        self.target = target;
        self.label = label;
        self
    }

    /// Other training-set fractions.
    pub fn with_fractions(mut self, fractions: Vec<f64>) -> Self {
        self.fractions = fractions;
        self
    }

    /// Epochs of every run on the target.
    pub fn with_epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Epochs of the pretraining.
    pub fn with_pretrain_epochs(mut self, epochs: usize) -> Self {
        self.pretrain_epochs = epochs;
        self
    }

    /// Another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Caps on the examples.
    pub fn with_limits(mut self, limits: StudyLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Validates the parameters.
    ///
    /// # Errors
    ///
    /// [`StudyError::InvalidParameter`] naming the parameter.
    pub fn check(self) -> Result<StudyValidParams> {
        let invalid =
            |parameter, reason: String| StudyError::InvalidParameter { parameter, reason };
        self.pool.validate("the pool")?;
        if self.pretraining == self.target {
            return Err(invalid(
                "pretraining",
                format!(
                    "{} is also the target: pretrain on another data set (the study compares fine-tuning with training from scratch)",
                    self.target.describe()
                ),
            ));
        }
        let f = &self.fractions;
        if f.first() != Some(&1.0)
            || f.len() > 3
            || f.iter().any(|x| !(*x > 0.0 && *x <= 1.0))
            || f.windows(2).any(|w| w[1] >= w[0])
        {
            return Err(invalid(
                "fractions",
                format!(
                    "{f:?}: give 1 first, then at most two smaller fractions in decreasing order, e.g. 1,0.1,0.01"
                ),
            ));
        }
        for (parameter, value) in [
            ("epochs", self.epochs),
            ("pretrain_epochs", self.pretrain_epochs),
            ("patience", self.patience),
        ] {
            if value == 0 {
                return Err(invalid(parameter, "must be at least 1".to_string()));
            }
        }
        let label = match &self.label {
            Some(l) => l.clone(),
            None => default_label(&self.target),
        };
        let parsed = smallscale_pepr_score::ExperimentLabel::parse(&label);
        let label_ok = !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
            && parsed.base == label;
        if !label_ok {
            return Err(invalid(
                "label",
                format!(
                    "{label:?}: use letters, digits, '-' and '_', not ending in _pt, _small or _smallest (those mark the experiments)"
                ),
            ));
        }
        let train = training(&self, self.epochs)?;
        let pretrain = training(&self, self.pretrain_epochs)?;
        Ok(StudyValidParams {
            label,
            train,
            pretrain,
            meter: MeterConfig::default(),
            params: self,
        })
    }
}

fn training(params: &StudyParams, epochs: usize) -> Result<TrainValidParams> {
    TrainParams::new(Method::Fp)
        .with_optimizer(OptimizerConfig::adam(params.lr))
        .with_epochs(epochs)
        .with_batch_size(params.batch_size)
        .with_seed(params.seed)
        .with_track_oscillations(false)
        .with_patience(params.patience)
        .check()
        .map_err(|e| StudyError::InvalidParameter {
            parameter: "training",
            reason: e.to_string(),
        })
}

/// The experiment label's base for a data set: `pneumonia` for PneumoniaMNIST, the file's name
/// without `mnist` for another MedMNIST file (`dermamnist.npz` gives `derma`).
pub fn default_label(source: &DataSource) -> String {
    match source {
        DataSource::EmbeddedPneumoniaMnist => "pneumonia".to_string(),
        DataSource::MedMnist { path } => {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("medmnist")
                .to_ascii_lowercase();
            let clean: String = stem
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            let base = clean
                .strip_suffix("mnist")
                .filter(|b| !b.is_empty())
                .unwrap_or(&clean)
                .trim_end_matches(['-', '_']);
            if base.is_empty() {
                "medmnist".to_string()
            } else {
                base.to_string()
            }
        }
        DataSource::EmbeddedFashionMnist | DataSource::FashionMnist { .. } => "fashion".to_string(),
        DataSource::Mnist { .. } => "mnist".to_string(),
        DataSource::Cifar10 { .. } => "cifar10".to_string(),
    }
}

/// Checked study parameters, with the training parameters of the runs and the meter.
#[derive(Debug, Clone)]
pub struct StudyValidParams {
    params: StudyParams,
    label: String,
    train: TrainValidParams,
    pretrain: TrainValidParams,
    meter: MeterConfig,
}

impl StudyValidParams {
    /// The parameters as given.
    pub fn params(&self) -> &StudyParams {
        &self.params
    }

    /// The experiment label's base.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The training parameters of every run on the target.
    pub fn train(&self) -> &TrainValidParams {
        &self.train
    }

    /// The training parameters of the pretraining.
    pub fn pretrain(&self) -> &TrainValidParams {
        &self.pretrain
    }

    /// The meter settings.
    pub fn meter(&self) -> &MeterConfig {
        &self.meter
    }

    /// Meters every run with `meter`.
    pub fn with_meter(mut self, meter: MeterConfig) -> Self {
        self.meter = meter;
        self
    }

    /// The experiments in grid order, with their fraction: scratch then pretrained, each over
    /// the fractions.
    pub fn experiments(&self) -> Vec<Experiment> {
        let mut out = Vec::new();
        for pretrained in [false, true] {
            for (i, &fraction) in self.params.fractions.iter().enumerate() {
                let kind = [
                    DataFraction::Full,
                    DataFraction::Small,
                    DataFraction::Smallest,
                ][i];
                let label = smallscale_pepr_score::ExperimentLabel {
                    base: self.label.clone(),
                    pretrained,
                    fraction: kind,
                };
                out.push(Experiment {
                    label: label.to_string(),
                    pretrained,
                    fraction,
                });
            }
        }
        out
    }
}

/// One experiment of the grid: every model of the pool, one initialization, one fraction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// The label (`pneumonia_pt_small`), the `dataset` column of the table.
    pub label: String,
    /// Fine-tuned from the pretrained body.
    pub pretrained: bool,
    /// The training-set fraction.
    pub fraction: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_the_target() {
        let derma = DataSource::MedMnist {
            path: "/x/dermamnist.npz".into(),
        };
        assert_eq!(default_label(&derma), "derma");
        let odd = DataSource::MedMnist {
            path: "/x/My Set.npz".into(),
        };
        assert_eq!(default_label(&odd), "my-set");
        let p = StudyParams::preset(StudyPreset::Quick).check().unwrap();
        let labels: Vec<String> = p.experiments().into_iter().map(|e| e.label).collect();
        assert_eq!(
            labels,
            [
                "pneumonia",
                "pneumonia_small",
                "pneumonia_smallest",
                "pneumonia_pt",
                "pneumonia_pt_small",
                "pneumonia_pt_smallest"
            ]
        );
    }

    #[test]
    fn invalid_parameters_are_named() {
        let quick = || StudyParams::preset(StudyPreset::Quick);
        for (params, name) in [
            (quick().with_fractions(vec![1.0, 0.1, 0.2]), "fractions"),
            (
                quick().with_fractions(vec![1.0, 0.5, 0.1, 0.01]),
                "fractions",
            ),
            (quick().with_fractions(vec![1.0, 0.0]), "fractions"),
            (quick().with_fractions(vec![1.0, f64::NAN]), "fractions"),
            (quick().with_epochs(0), "epochs"),
            (quick().with_pretrain_epochs(0), "pretrain_epochs"),
            (
                StudyParams {
                    patience: 0,
                    ..quick()
                },
                "patience",
            ),
            (
                quick().with_target(DataSource::EmbeddedFashionMnist, None),
                "pretraining",
            ),
            (
                quick().with_target(DataSource::EmbeddedPneumoniaMnist, Some("x_pt".into())),
                "label",
            ),
        ] {
            match params.check() {
                Err(StudyError::InvalidParameter { parameter, .. }) => assert_eq!(parameter, name),
                other => panic!("{name}: {other:?}"),
            }
        }
        // A pool built by hand is checked too.
        let mut pool = StudyPool::preset(StudyPreset::Quick);
        pool.models[1].name = pool.models[0].name.to_uppercase();
        assert!(matches!(
            quick().with_pool(pool).check(),
            Err(StudyError::Pool { .. })
        ));
    }
}
