//! The data of a run as its run directory records it: the source, the split, the caps, and what
//! came out of them, so that the run can be resumed and its checkpoints evaluated on the same
//! images, split and normalization.

use serde::{Deserialize, Serialize};
use smallscale_datasets::{DataSource, SplitParams};

use crate::data::ImageData;
use crate::errors::{OscRegError, Result};

/// How the training set is split into train and validation, and optional caps for quick runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitSpec {
    /// Held-out (stratified) validation fraction of the training set, in (0, 1).
    pub validation_fraction: f64,
    /// Use only the first N training examples (after the split).
    pub limit_train: Option<usize>,
    /// Use only the first N validation examples.
    pub limit_validation: Option<usize>,
    /// Use only the first N test examples.
    pub limit_test: Option<usize>,
    /// Keep only this stratified, seeded fraction of the training split (in (0, 1]; applied
    /// before the caps; the normalization is fitted on what is kept).
    pub train_fraction: Option<f64>,
}

impl Default for SplitSpec {
    fn default() -> Self {
        Self {
            validation_fraction: 0.1,
            limit_train: None,
            limit_validation: None,
            limit_test: None,
            train_fraction: None,
        }
    }
}

/// The data of a run: the source, the split, the caps, and what came out of them (shape, classes,
/// sizes, the normalization fitted on the training split).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataDescription {
    /// Where the images came from.
    #[serde(flatten)]
    pub source: DataSource,
    /// Held-out validation fraction of the training set (0 with a released validation split).
    pub validation_fraction: f64,
    /// Whether the data set's released validation split was used instead of splitting the
    /// training set (MedMNIST).
    #[serde(default)]
    pub released_validation: bool,
    /// Seed of the stratified split.
    pub split_seed: u64,
    /// Cap on the training examples.
    pub limit_train: Option<usize>,
    /// Cap on the validation examples.
    pub limit_validation: Option<usize>,
    /// Cap on the test examples.
    pub limit_test: Option<usize>,
    /// The stratified fraction of the training split kept (seeded with `split_seed`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_fraction: Option<f64>,
    /// Image shape `[channels, height, width]`.
    pub shape: [usize; 3],
    /// Number of classes.
    pub classes: usize,
    /// Examples in the training split actually used.
    pub train_examples: usize,
    /// Examples in the validation split actually used.
    pub validation_examples: usize,
    /// Examples in the test set actually used.
    pub test_examples: usize,
    /// Per-channel mean of the normalization (fitted on the full training split).
    pub mean: Vec<f32>,
    /// Per-channel standard deviation of the normalization.
    pub std: Vec<f32>,
}

impl DataDescription {
    /// The source, and the sizes when a cap applies (`embedded Fashion-MNIST subset (capped:
    /// 2000 / 500 / 1000 images)`).
    pub fn describe(&self) -> String {
        let capped = self.limit_train.is_some()
            || self.limit_validation.is_some()
            || self.limit_test.is_some();
        if capped {
            format!(
                "{} (capped: {} / {} / {} images)",
                self.source.describe(),
                self.train_examples,
                self.validation_examples,
                self.test_examples
            )
        } else {
            self.source.describe()
        }
    }

    /// The split spelled as it was asked for.
    pub fn split(&self) -> SplitSpec {
        SplitSpec {
            validation_fraction: self.validation_fraction,
            limit_train: self.limit_train,
            limit_validation: self.limit_validation,
            limit_test: self.limit_test,
            train_fraction: self.train_fraction,
        }
    }
}

fn invalid(reason: String) -> OscRegError {
    OscRegError::Data { reason }
}

/// Loads `source`, splits its training set with `split` and `seed` (stratified) unless the data
/// set releases a validation split (MedMNIST: then that split is used as it is and the fraction
/// is ignored), applies the caps, and describes the result.
///
/// # Errors
///
/// A fraction outside (0, 1), a cap of 0, an empty validation split, or the reader's error.
///
/// ```
/// use smallscale_datasets::{DataSource, SplitParams};
/// use smallscale_osc_reg::{SplitSpec, load_split_data};
/// let split = SplitSpec { limit_train: Some(500), ..SplitSpec::default() };
/// let (data, description) = load_split_data(&DataSource::EmbeddedFashionMnist, &split, 0)?;
/// assert_eq!((data.train.len(), description.train_examples), (500, 500));
/// assert_eq!(description.validation_examples, 800);
/// # Ok::<(), smallscale_osc_reg::OscRegError>(())
/// ```
pub fn load_split_data(
    source: &DataSource,
    split: &SplitSpec,
    seed: u64,
) -> Result<(ImageData, DataDescription)> {
    let released = source.has_released_validation();
    let fraction_ok = split.validation_fraction > 0.0 && split.validation_fraction < 1.0;
    if !released && !fraction_ok {
        return Err(invalid(format!(
            "the validation fraction must lie strictly between 0 and 1 (e.g. 0.1), got {}",
            split.validation_fraction
        )));
    }
    for (name, limit) in [
        ("training", split.limit_train),
        ("validation", split.limit_validation),
        ("test", split.limit_test),
    ] {
        if limit == Some(0) {
            return Err(invalid(format!(
                "the cap on the {name} examples must be at least 1"
            )));
        }
    }
    let splits = source.load()?;
    let released_validation = splits.validation.is_some();
    let data = match splits.validation {
        Some(validation) => ImageData::from_splits(splits.train, validation, splits.test)?,
        None => {
            let params = SplitParams::new(split.validation_fraction, seed)?.with_stratified(true);
            ImageData::split(splits.train, splits.test, &params)?
        }
    };
    let data = match split.train_fraction {
        Some(f) if f < 1.0 => data.with_train_fraction(f, seed)?,
        Some(1.0) => data,
        Some(f) => {
            return Err(invalid(format!(
                "the training fraction must lie in (0, 1] (e.g. 0.1 for 10 %), got {f}"
            )));
        }
        None => data,
    };
    let data = data.truncated(
        split.limit_train.unwrap_or(usize::MAX),
        split.limit_validation.unwrap_or(usize::MAX),
        split.limit_test.unwrap_or(usize::MAX),
    )?;
    if data.validation.is_empty() {
        return Err(invalid(format!(
            "the validation split of {} is empty: raise the validation fraction",
            source.describe()
        )));
    }
    let shape = data.train.shape();
    let description = DataDescription {
        source: source.clone(),
        // Unused with a released split: recorded as 0 so that it is not part of the run's identity.
        validation_fraction: if released_validation {
            0.0
        } else {
            split.validation_fraction
        },
        released_validation,
        split_seed: seed,
        limit_train: split.limit_train,
        limit_validation: split.limit_validation,
        limit_test: split.limit_test,
        train_fraction: split.train_fraction.filter(|&f| f < 1.0),
        shape: [shape.channels, shape.height, shape.width],
        classes: data.num_classes(),
        train_examples: data.train.len(),
        validation_examples: data.validation.len(),
        test_examples: data.test.len(),
        mean: data.normalization.mean().to_vec(),
        std: data.normalization.std().to_vec(),
    };
    Ok((data, description))
}
