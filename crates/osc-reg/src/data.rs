//! Image data for training: train / validation / test splits with their normalization, and batches
//! as candle tensors.

use candle_core::{Device, Tensor};
use smallscale_datasets::split::stratified_fraction_indices;
use smallscale_datasets::{
    BatchParams, ChannelNormalization, ImageBatch, ImageBatcher, ImageDataset, SplitParams,
};

use crate::errors::{OscRegError, Result};

/// Train, validation and test sets of one image-classification task, with the per-channel
/// normalization fitted on the training split.
///
/// ```
/// use smallscale_datasets::{SplitParams, fashion_mnist_embedded};
/// use smallscale_osc_reg::ImageData;
/// let (train, test) = fashion_mnist_embedded()?;
/// let data = ImageData::split(train, test, &SplitParams::new(0.1, 0)?.with_stratified(true))?;
/// assert_eq!(data.train.len() + data.validation.len(), 8000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ImageData {
    /// The training split.
    pub train: ImageDataset,
    /// The validation split (early stopping and model selection).
    pub validation: ImageDataset,
    /// The held-out test set (reported, never used for selection).
    pub test: ImageDataset,
    /// Per-channel mean/std fitted on `train`.
    pub normalization: ChannelNormalization,
}

impl ImageData {
    /// Splits `train_full` into train and validation with `split` (its fraction, seed and
    /// stratification) and fits the normalization on the training part.
    pub fn split(
        train_full: ImageDataset,
        test: ImageDataset,
        split: &SplitParams,
    ) -> Result<Self> {
        if train_full.shape() != test.shape() || train_full.num_classes() != test.num_classes() {
            return Err(OscRegError::Data {
                reason: format!(
                    "train and test sets differ in image shape or class count ({:?}/{} vs {:?}/{})",
                    train_full.shape(),
                    train_full.num_classes(),
                    test.shape(),
                    test.num_classes()
                ),
            });
        }
        let (train, validation) = train_full.split(split)?;
        Self::from_splits(train, validation, test)
    }

    /// Uses released splits as they are (no re-splitting) and fits the normalization on `train`.
    pub fn from_splits(
        train: ImageDataset,
        validation: ImageDataset,
        test: ImageDataset,
    ) -> Result<Self> {
        for (name, other) in [("validation", &validation), ("test", &test)] {
            if other.shape() != train.shape() || other.num_classes() != train.num_classes() {
                return Err(OscRegError::Data {
                    reason: format!(
                        "the {name} split differs from the training split in image shape or class count"
                    ),
                });
            }
        }
        let normalization = ChannelNormalization::fit(&train)?;
        Ok(Self {
            train,
            validation,
            test,
            normalization,
        })
    }

    /// Keeps only the first `n` examples of each split (for quick runs and tests).
    pub fn truncated(&self, train: usize, validation: usize, test: usize) -> Result<Self> {
        let cut = |d: &ImageDataset, n: usize| d.subset(&(0..n.min(d.len())).collect::<Vec<_>>());
        Ok(Self {
            train: cut(&self.train, train)?,
            validation: cut(&self.validation, validation)?,
            test: cut(&self.test, test)?,
            normalization: self.normalization.clone(),
        })
    }

    /// Keeps a stratified, seeded `fraction` of the training split
    /// ([`stratified_fraction_indices`]) and refits the normalization on what is kept; validation
    /// and test stay whole (the PePR paper's fractions are of the training set; model
    /// selection still sees the whole validation split).
    ///
    /// # Errors
    ///
    /// A fraction outside (0, 1].
    ///
    /// ```
    /// use smallscale_osc_reg::{SplitSpec, load_split_data};
    /// use smallscale_datasets::DataSource;
    /// let (data, _) = load_split_data(&DataSource::EmbeddedFashionMnist, &SplitSpec::default(), 0)?;
    /// let small = data.with_train_fraction(0.1, 0)?;
    /// assert_eq!(small.train.len(), 720);
    /// assert_eq!(small.train.class_counts(), vec![72; 10]);
    /// # Ok::<(), smallscale_osc_reg::OscRegError>(())
    /// ```
    pub fn with_train_fraction(self, fraction: f64, seed: u64) -> Result<Self> {
        let keep = stratified_fraction_indices(
            self.train.labels(),
            self.train.num_classes(),
            fraction,
            seed,
        )?;
        let train = self.train.subset(&keep)?;
        Self::from_splits(train, self.validation, self.test)
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.train.num_classes()
    }
}

/// A batcher over `data` in a fixed order (no shuffling, no augmentation), normalized: for evaluation.
pub(crate) fn eval_batcher<'a>(
    data: &'a ImageDataset,
    normalization: &ChannelNormalization,
    batch_size: usize,
) -> Result<ImageBatcher<'a>> {
    let params = BatchParams::new(batch_size)?.with_shuffle(false);
    Ok(ImageBatcher::new(data, params).with_normalization(normalization.clone()))
}

/// The images of a batch as an `[B, C, H, W]` f32 tensor and the labels as `[B]` u32.
pub(crate) fn batch_tensors(batch: &ImageBatch, device: &Device) -> Result<(Tensor, Tensor)> {
    let s = batch.shape;
    let x = Tensor::from_slice(
        &batch.images,
        (batch.len(), s.channels, s.height, s.width),
        device,
    )?;
    let y = Tensor::from_slice(&batch.labels, batch.len(), device)?;
    Ok((x, y))
}
