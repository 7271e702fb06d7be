//! The common in-memory representation of an image-classification data set.

use crate::errors::{Result, invalid_data};

/// The shape of one image: channels, height and width (stored channel-major, `C x H x W`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ImageShape {
    /// Number of color channels (1 for grey-scale, 3 for RGB).
    pub channels: usize,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
}

impl ImageShape {
    /// Creates a shape from channels, height and width.
    ///
    /// ```
    /// use smallscale_datasets::ImageShape;
    /// let shape = ImageShape::new(3, 32, 32);
    /// assert_eq!(shape.values_per_image(), 3072);
    /// ```
    pub const fn new(channels: usize, height: usize, width: usize) -> Self {
        Self {
            channels,
            height,
            width,
        }
    }

    /// Number of values in one channel plane (`H * W`).
    pub const fn plane_len(&self) -> usize {
        self.height * self.width
    }

    /// Number of values in one image (`C * H * W`).
    pub const fn values_per_image(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Fails unless every dimension is positive.
    pub(crate) fn check_nonzero(&self) -> Result<()> {
        if self.channels == 0 || self.height == 0 || self.width == 0 {
            return Err(invalid_data(format!(
                "image shape {}x{}x{} has a zero dimension",
                self.channels, self.height, self.width
            )));
        }
        Ok(())
    }
}

/// An image-classification data set held in memory.
///
/// Pixels are bytes (0..=255) laid out row-major as `N x C x H x W`; labels are class indices
/// in `0..num_classes`. Construction validates that lengths, shape and labels agree, so every
/// accessor can rely on it.
///
/// ```
/// use smallscale_datasets::{ImageDataset, ImageShape};
/// let shape = ImageShape::new(1, 2, 2);
/// let data = ImageDataset::new(
///     vec![0, 255, 0, 255, 10, 20, 30, 40],
///     vec![1, 0],
///     shape,
///     vec!["zero".into(), "one".into()],
/// )?;
/// assert_eq!(data.len(), 2);
/// assert_eq!(data.image(1), Some(&[10u8, 20, 30, 40][..]));
/// assert_eq!(data.to_f32()[1], 1.0);
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageDataset {
    pixels: Vec<u8>,
    labels: Vec<u32>,
    shape: ImageShape,
    class_names: Vec<String>,
}

impl ImageDataset {
    /// Creates a data set, checking that `pixels.len() == labels.len() * C * H * W`, that the
    /// shape has no zero dimension, and that every label is below `class_names.len()`.
    pub fn new(
        pixels: Vec<u8>,
        labels: Vec<u32>,
        shape: ImageShape,
        class_names: Vec<String>,
    ) -> Result<Self> {
        shape.check_nonzero()?;
        if class_names.is_empty() {
            return Err(invalid_data(
                "an image data set needs at least one class name",
            ));
        }
        let expected = labels
            .len()
            .checked_mul(shape.values_per_image())
            .ok_or_else(|| invalid_data("image buffer size overflows usize"))?;
        if pixels.len() != expected {
            return Err(invalid_data(format!(
                "{} labels of shape {}x{}x{} need {} pixel values, got {}",
                labels.len(),
                shape.channels,
                shape.height,
                shape.width,
                expected,
                pixels.len()
            )));
        }
        if let Some((index, &label)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &l)| l as usize >= class_names.len())
        {
            return Err(invalid_data(format!(
                "label {label} of example {index} is out of range 0..{}",
                class_names.len()
            )));
        }
        Ok(Self {
            pixels,
            labels,
            shape,
            class_names,
        })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the data set has no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The shape of each image.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// Number of classes (the length of [`class_names`](Self::class_names)).
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Human-readable class names, indexed by label.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// All pixels as bytes, `N x C x H x W` row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// All labels, one per image.
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// The pixels of image `index`, or `None` when out of range.
    pub fn image(&self, index: usize) -> Option<&[u8]> {
        let n = self.shape.values_per_image();
        let start = index.checked_mul(n)?;
        self.pixels.get(start..start.checked_add(n)?)
    }

    /// The label of image `index`, or `None` when out of range.
    pub fn label(&self, index: usize) -> Option<u32> {
        self.labels.get(index).copied()
    }

    /// Number of examples of each class, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes()];
        for &label in &self.labels {
            counts[label as usize] += 1;
        }
        counts
    }

    /// All pixels converted to `f32` in `[0, 1]` (divided by 255), same layout as
    /// [`pixels`](Self::pixels).
    pub fn to_f32(&self) -> Vec<f32> {
        self.pixels.iter().map(|&p| f32::from(p) / 255.0).collect()
    }

    /// Writes image `index` as `f32` in `[0, 1]` into `out` (length `C * H * W`).
    pub fn image_f32_into(&self, index: usize, out: &mut [f32]) -> Result<()> {
        let image = self.image(index).ok_or_else(|| {
            invalid_data(format!(
                "image index {index} is out of range for {} images",
                self.len()
            ))
        })?;
        if out.len() != image.len() {
            return Err(invalid_data(format!(
                "output buffer holds {} values, an image has {}",
                out.len(),
                image.len()
            )));
        }
        for (o, &p) in out.iter_mut().zip(image) {
            *o = f32::from(p) / 255.0;
        }
        Ok(())
    }

    /// A new data set holding the examples at `indices`, in that order (repeats allowed).
    pub fn subset(&self, indices: &[usize]) -> Result<Self> {
        let n = self.shape.values_per_image();
        let mut pixels = Vec::with_capacity(indices.len() * n);
        let mut labels = Vec::with_capacity(indices.len());
        for &index in indices {
            let image = self.image(index).ok_or_else(|| {
                invalid_data(format!(
                    "subset index {index} is out of range for {} images",
                    self.len()
                ))
            })?;
            pixels.extend_from_slice(image);
            labels.push(self.labels[index]);
        }
        Ok(Self {
            pixels,
            labels,
            shape: self.shape,
            class_names: self.class_names.clone(),
        })
    }

    /// Concatenates data sets that share shape and class names (for example CIFAR-10 batches).
    pub fn concat(parts: &[ImageDataset]) -> Result<Self> {
        let first = parts
            .first()
            .ok_or_else(|| invalid_data("cannot concatenate zero data sets"))?;
        let mut pixels = Vec::with_capacity(parts.iter().map(|p| p.pixels.len()).sum());
        let mut labels = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
        for part in parts {
            if part.shape != first.shape || part.class_names != first.class_names {
                return Err(invalid_data(
                    "cannot concatenate data sets with different shapes or class names",
                ));
            }
            pixels.extend_from_slice(&part.pixels);
            labels.extend_from_slice(&part.labels);
        }
        Ok(Self {
            pixels,
            labels,
            shape: first.shape,
            class_names: first.class_names.clone(),
        })
    }

    /// Splits the data set into its parts: `(pixels, labels, shape, class_names)`.
    pub fn into_parts(self) -> (Vec<u8>, Vec<u32>, ImageShape, Vec<String>) {
        (self.pixels, self.labels, self.shape, self.class_names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| i.to_string()).collect()
    }

    #[test]
    fn rejects_inconsistent_lengths_and_labels() {
        let shape = ImageShape::new(1, 2, 2);
        assert!(ImageDataset::new(vec![0; 7], vec![0, 0], shape, names(2)).is_err());
        assert!(ImageDataset::new(vec![0; 8], vec![0, 2], shape, names(2)).is_err());
        assert!(ImageDataset::new(vec![], vec![], ImageShape::new(0, 2, 2), names(2)).is_err());
        assert!(ImageDataset::new(vec![], vec![], shape, vec![]).is_err());
    }

    #[test]
    fn subset_concat_and_counts() {
        let shape = ImageShape::new(1, 1, 2);
        let data =
            ImageDataset::new(vec![1, 2, 3, 4, 5, 6], vec![0, 1, 1], shape, names(2)).unwrap();
        let sub = data.subset(&[2, 0]).unwrap();
        assert_eq!(sub.pixels(), &[5, 6, 1, 2]);
        assert_eq!(sub.labels(), &[1, 0]);
        assert!(data.subset(&[3]).is_err());
        let both = ImageDataset::concat(&[data.clone(), sub]).unwrap();
        assert_eq!(both.len(), 5);
        assert_eq!(both.class_counts(), vec![2, 3]);
        assert_eq!(data.image(3), None);
        let mut out = [0.0; 2];
        data.image_f32_into(0, &mut out).unwrap();
        assert_eq!(out, [1.0 / 255.0, 2.0 / 255.0]);
        assert!(data.image_f32_into(0, &mut [0.0; 3]).is_err());
    }
}
