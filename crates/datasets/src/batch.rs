//! Seeded, epoch-dependent shuffling into mini-batches, and batches of ready-to-train images.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::augment::AugmentParams;
use crate::errors::{Result, invalid_parameter};
use crate::image::{ImageDataset, ImageShape};
use crate::normalize::ChannelNormalization;

/// Validated batching parameters.
///
/// By default batches are shuffled (seed 0) and the last, partial batch is kept.
///
/// ```
/// use smallscale_datasets::BatchParams;
/// let params = BatchParams::new(128)?.with_seed(7).with_drop_last(true);
/// assert_eq!(params.num_batches(1000), 7);
/// assert!(BatchParams::new(0).is_err());
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchParams {
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    seed: u64,
}

impl BatchParams {
    /// Creates parameters for batches of `batch_size` (which must be positive) examples.
    pub fn new(batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(invalid_parameter("batch_size", "must be at least 1"));
        }
        Ok(Self {
            batch_size,
            shuffle: true,
            drop_last: false,
            seed: 0,
        })
    }

    /// Whether each epoch visits the examples in a fresh random order (otherwise `0..n`).
    pub fn with_shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Whether a last batch smaller than `batch_size` is dropped.
    pub fn with_drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Sets the seed of the shuffle; each epoch uses its own stream derived from it.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Whether batches are shuffled.
    pub fn shuffle(&self) -> bool {
        self.shuffle
    }

    /// Whether a partial last batch is dropped.
    pub fn drop_last(&self) -> bool {
        self.drop_last
    }

    /// The shuffle seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The number of batches an epoch over `n` examples yields.
    pub fn num_batches(&self, n: usize) -> usize {
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }
}

/// A random-number generator for (`seed`, `epoch`): the same pair always gives the same stream,
/// and different epochs give independent streams.
pub fn epoch_rng(seed: u64, epoch: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch);
    rng
}

/// The order in which epoch `epoch` visits `0..n`: a seeded permutation, or `0..n` unshuffled.
pub fn epoch_order(n: usize, params: &BatchParams, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if params.shuffle {
        order.shuffle(&mut epoch_rng(params.seed, epoch));
    }
    order
}

/// Iterator over the index batches of one epoch; see [`batch_indices`].
#[derive(Clone, Debug)]
pub struct BatchIndices {
    order: Vec<usize>,
    batch_size: usize,
    drop_last: bool,
    position: usize,
}

impl Iterator for BatchIndices {
    type Item = Vec<usize>;

    fn next(&mut self) -> Option<Vec<usize>> {
        let remaining = self.order.len() - self.position;
        if remaining == 0 || (self.drop_last && remaining < self.batch_size) {
            return None;
        }
        let end = self.position + remaining.min(self.batch_size);
        let batch = self.order[self.position..end].to_vec();
        self.position = end;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self.order.len() - self.position;
        let n = if self.drop_last {
            remaining / self.batch_size
        } else {
            remaining.div_ceil(self.batch_size)
        };
        (n, Some(n))
    }
}

impl ExactSizeIterator for BatchIndices {}

/// The index batches of epoch `epoch` over `n` examples.
///
/// Every index appears exactly once per epoch (or, with `drop_last`, at most once, missing only
/// from the dropped tail). Shuffled orders depend on the seed and the epoch only.
///
/// ```
/// use smallscale_datasets::{BatchParams, batch::batch_indices};
/// let params = BatchParams::new(4)?.with_seed(1);
/// let batches: Vec<Vec<usize>> = batch_indices(10, &params, 0).collect();
/// assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2]);
/// let mut seen: Vec<usize> = batches.concat();
/// seen.sort();
/// assert_eq!(seen, (0..10).collect::<Vec<_>>());
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
pub fn batch_indices(n: usize, params: &BatchParams, epoch: u64) -> BatchIndices {
    BatchIndices {
        order: epoch_order(n, params, epoch),
        batch_size: params.batch_size,
        drop_last: params.drop_last,
        position: 0,
    }
}

/// One mini-batch of images as `f32`, ready for a model.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageBatch {
    /// Pixels, `B x C x H x W` row-major: in `[0, 1]`, augmented and normalized as configured.
    pub images: Vec<f32>,
    /// The label of each image.
    pub labels: Vec<u32>,
    /// The index of each image in the source data set.
    pub indices: Vec<usize>,
    /// The shape of each image.
    pub shape: ImageShape,
}

impl ImageBatch {
    /// The number of images in the batch.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Turns an [`ImageDataset`] into epochs of [`ImageBatch`]es: shuffle, convert to `[0, 1]`,
/// augment (optional, seeded per epoch), normalize (optional).
///
/// ```
/// use smallscale_datasets::{
///     AugmentParams, BatchParams, ChannelNormalization, ImageBatcher, fashion_mnist_embedded,
/// };
/// let (train, _) = fashion_mnist_embedded()?;
/// let batcher = ImageBatcher::new(&train, BatchParams::new(128)?.with_seed(1))
///     .with_augmentation(AugmentParams::new(2, 0.5)?.with_seed(2))
///     .with_normalization(ChannelNormalization::fit(&train)?);
/// let mut seen = 0;
/// for batch in batcher.epoch(0) {
///     let batch = batch?;
///     assert_eq!(batch.images.len(), batch.len() * 28 * 28);
///     seen += batch.len();
/// }
/// assert_eq!(seen, train.len());
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ImageBatcher<'a> {
    dataset: &'a ImageDataset,
    params: BatchParams,
    augmentation: Option<AugmentParams>,
    normalization: Option<ChannelNormalization>,
}

impl<'a> ImageBatcher<'a> {
    /// Batches `dataset` with `params`, with no augmentation and no normalization.
    pub fn new(dataset: &'a ImageDataset, params: BatchParams) -> Self {
        Self {
            dataset,
            params,
            augmentation: None,
            normalization: None,
        }
    }

    /// Augments every image (applied to `[0, 1]` values, before normalization).
    pub fn with_augmentation(mut self, augmentation: AugmentParams) -> Self {
        self.augmentation = Some(augmentation);
        self
    }

    /// Normalizes every image (after augmentation).
    pub fn with_normalization(mut self, normalization: ChannelNormalization) -> Self {
        self.normalization = Some(normalization);
        self
    }

    /// The batching parameters.
    pub fn params(&self) -> &BatchParams {
        &self.params
    }

    /// The number of batches per epoch.
    pub fn num_batches(&self) -> usize {
        self.params.num_batches(self.dataset.len())
    }

    /// The batches of epoch `epoch`. The result depends only on the data, the parameters and
    /// `epoch`, so runs are reproducible.
    pub fn epoch(&self, epoch: u64) -> ImageBatchIter<'_> {
        ImageBatchIter {
            batcher: self,
            indices: batch_indices(self.dataset.len(), &self.params, epoch),
            rng: epoch_rng(self.augmentation.map_or(0, |a| a.seed()), epoch),
            scratch: vec![0.0; self.dataset.shape().values_per_image()],
        }
    }
}

/// Iterator over the [`ImageBatch`]es of one epoch; see [`ImageBatcher::epoch`].
#[derive(Debug)]
pub struct ImageBatchIter<'b> {
    batcher: &'b ImageBatcher<'b>,
    indices: BatchIndices,
    rng: ChaCha8Rng,
    scratch: Vec<f32>,
}

impl ImageBatchIter<'_> {
    fn build(&mut self, indices: Vec<usize>) -> Result<ImageBatch> {
        let dataset = self.batcher.dataset;
        let shape = dataset.shape();
        let per_image = shape.values_per_image();
        let mut images = vec![0.0f32; indices.len() * per_image];
        let mut labels = Vec::with_capacity(indices.len());
        for (&index, out) in indices.iter().zip(images.chunks_exact_mut(per_image)) {
            match &self.batcher.augmentation {
                Some(augmentation) => {
                    dataset.image_f32_into(index, &mut self.scratch)?;
                    augmentation.apply(&self.scratch, shape, &mut self.rng, out)?;
                }
                None => dataset.image_f32_into(index, out)?,
            }
            labels.push(dataset.labels()[index]);
        }
        if let Some(normalization) = &self.batcher.normalization {
            normalization.apply(&mut images, shape)?;
        }
        Ok(ImageBatch {
            images,
            labels,
            indices,
            shape,
        })
    }
}

impl Iterator for ImageBatchIter<'_> {
    type Item = Result<ImageBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let indices = self.indices.next()?;
        Some(self.build(indices))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.indices.size_hint()
    }
}
