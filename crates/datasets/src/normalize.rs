//! Per-channel normalization: `(x - mean[c]) / std[c]` on pixel values in `[0, 1]`.

use crate::errors::{Result, invalid_data, invalid_parameter};
use crate::image::{ImageDataset, ImageShape};

/// Per-channel mean and standard deviation, on the `[0, 1]` pixel scale.
///
/// ```
/// use smallscale_datasets::{ChannelNormalization, ImageShape};
/// let norm = ChannelNormalization::new(vec![0.5], vec![0.25])?;
/// let mut image = vec![0.0, 0.5, 1.0, 0.75];
/// norm.apply(&mut image, ImageShape::new(1, 2, 2))?;
/// assert_eq!(image, vec![-2.0, 0.0, 2.0, 1.0]);
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelNormalization {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl ChannelNormalization {
    /// Creates a normalization from given statistics (one per channel). Means must be finite
    /// and standard deviations finite and positive.
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Result<Self> {
        if mean.is_empty() || mean.len() != std.len() {
            return Err(invalid_parameter(
                "mean/std",
                format!(
                    "need one mean and one std per channel, got {} means and {} stds",
                    mean.len(),
                    std.len()
                ),
            ));
        }
        if mean.iter().any(|m| !m.is_finite()) {
            return Err(invalid_parameter("mean", "every mean must be finite"));
        }
        if std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(invalid_parameter(
                "std",
                "every standard deviation must be finite and positive",
            ));
        }
        Ok(Self { mean, std })
    }

    /// Computes per-channel mean and (population) standard deviation of the `[0, 1]` pixel
    /// values of a data set, normally the training set. A constant channel gets std 1.
    ///
    /// ```
    /// use smallscale_datasets::{ChannelNormalization, fashion_mnist_embedded};
    /// let (train, _) = fashion_mnist_embedded()?;
    /// let norm = ChannelNormalization::fit(&train)?;
    /// assert!((norm.mean()[0] - 0.286).abs() < 0.01);
    /// # Ok::<(), smallscale_datasets::DatasetError>(())
    /// ```
    pub fn fit(dataset: &ImageDataset) -> Result<Self> {
        if dataset.is_empty() {
            return Err(invalid_data(
                "cannot fit a normalization on an empty data set",
            ));
        }
        let shape = dataset.shape();
        let plane = shape.plane_len();
        let mut sum = vec![0u64; shape.channels];
        let mut sum_sq = vec![0u64; shape.channels];
        for image in dataset.pixels().chunks_exact(shape.values_per_image()) {
            for (c, channel) in image.chunks_exact(plane).enumerate() {
                for &p in channel {
                    sum[c] += u64::from(p);
                    sum_sq[c] += u64::from(p) * u64::from(p);
                }
            }
        }
        let count = (dataset.len() * plane) as f64;
        let mut mean = Vec::with_capacity(shape.channels);
        let mut std = Vec::with_capacity(shape.channels);
        for c in 0..shape.channels {
            let m = sum[c] as f64 / count / 255.0;
            let var = (sum_sq[c] as f64 / count / (255.0 * 255.0) - m * m).max(0.0);
            let s = var.sqrt();
            mean.push(m as f32);
            std.push(if s > 1e-12 { s as f32 } else { 1.0 });
        }
        Self::new(mean, std)
    }

    /// The per-channel means.
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// The per-channel standard deviations.
    pub fn std(&self) -> &[f32] {
        &self.std
    }

    /// Normalizes, in place, one or more images laid out `N x C x H x W`.
    ///
    /// Fails when `shape.channels` differs from the number of channels of the statistics or
    /// the buffer is not a whole number of images.
    pub fn apply(&self, images: &mut [f32], shape: ImageShape) -> Result<()> {
        if shape.channels != self.mean.len() {
            return Err(invalid_data(format!(
                "normalization has {} channels, images have {}",
                self.mean.len(),
                shape.channels
            )));
        }
        let per_image = shape.values_per_image();
        if per_image == 0 || !images.len().is_multiple_of(per_image) {
            return Err(invalid_data(format!(
                "a buffer of {} values is not a whole number of {}-value images",
                images.len(),
                per_image
            )));
        }
        let plane = shape.plane_len();
        for image in images.chunks_exact_mut(per_image) {
            for (c, channel) in image.chunks_exact_mut(plane).enumerate() {
                let (m, inv) = (self.mean[c], 1.0 / self.std[c]);
                for v in channel {
                    *v = (*v - m) * inv;
                }
            }
        }
        Ok(())
    }
}
