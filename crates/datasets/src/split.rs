//! Deterministic, seeded train/validation splits and stratified sampling.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::errors::{Result, invalid_data, invalid_parameter};
use crate::image::ImageDataset;

/// Validated parameters of a train/validation split.
///
/// ```
/// use smallscale_datasets::SplitParams;
/// let params = SplitParams::new(0.2, 42)?.with_stratified(true);
/// assert_eq!(params.validation_fraction(), 0.2);
/// assert!(SplitParams::new(1.0, 42).is_err());
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SplitParams {
    validation_fraction: f64,
    seed: u64,
    stratified: bool,
}

impl SplitParams {
    /// Creates split parameters; `validation_fraction` must lie strictly between 0 and 1.
    /// Splits are not stratified unless [`with_stratified`](Self::with_stratified) says so.
    pub fn new(validation_fraction: f64, seed: u64) -> Result<Self> {
        if !(validation_fraction > 0.0 && validation_fraction < 1.0) {
            return Err(invalid_parameter(
                "validation_fraction",
                format!("must lie strictly between 0 and 1, got {validation_fraction}"),
            ));
        }
        Ok(Self {
            validation_fraction,
            seed,
            stratified: false,
        })
    }

    /// Whether each class is split separately, so class proportions are preserved.
    pub fn with_stratified(mut self, stratified: bool) -> Self {
        self.stratified = stratified;
        self
    }

    /// The fraction of examples that go to validation.
    pub fn validation_fraction(&self) -> f64 {
        self.validation_fraction
    }

    /// The seed of the shuffle.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Whether the split is stratified by label.
    pub fn stratified(&self) -> bool {
        self.stratified
    }
}

/// The result of a split: sorted, disjoint index sets that together cover `0..n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitIndices {
    /// Indices of the training examples, ascending.
    pub train: Vec<usize>,
    /// Indices of the validation examples, ascending.
    pub validation: Vec<usize>,
}

/// Splits `0..labels.len()` into train and validation indices.
///
/// Without stratification, `round(n * fraction)` randomly chosen examples go to validation.
/// With stratification, each class `c` sends `round(n_c * fraction)` of its examples, so every
/// class's validation count is within 1 of its exact proportion. The same seed always gives the
/// same split. Fails when either side would be empty.
///
/// ```
/// use smallscale_datasets::{SplitParams, split::split_indices};
/// let labels = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
/// let split = split_indices(&labels, &SplitParams::new(0.5, 7)?.with_stratified(true))?;
/// assert_eq!(split.validation.len(), 5);
/// assert_eq!(split.validation.iter().filter(|&&i| labels[i] == 0).count(), 2);
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
pub fn split_indices(labels: &[u32], params: &SplitParams) -> Result<SplitIndices> {
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let groups: Vec<Vec<usize>> = if params.stratified {
        indices_by_class(labels)
    } else {
        vec![(0..labels.len()).collect()]
    };
    let mut train = Vec::with_capacity(labels.len());
    let mut validation = Vec::new();
    for mut group in groups {
        group.shuffle(&mut rng);
        let n_validation = (group.len() as f64 * params.validation_fraction).round() as usize;
        let n_validation = n_validation.min(group.len());
        validation.extend_from_slice(&group[..n_validation]);
        train.extend_from_slice(&group[n_validation..]);
    }
    if train.is_empty() || validation.is_empty() {
        return Err(invalid_parameter(
            "validation_fraction",
            format!(
                "splitting {} examples with fraction {} leaves {} for training and {} for validation; use more data or another fraction",
                labels.len(),
                params.validation_fraction,
                train.len(),
                validation.len()
            ),
        ));
    }
    train.sort_unstable();
    validation.sort_unstable();
    Ok(SplitIndices { train, validation })
}

/// Indices of each label value, grouped by label (labels absent from the data give no group).
fn indices_by_class(labels: &[u32]) -> Vec<Vec<usize>> {
    let num_classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
    let mut groups = vec![Vec::new(); num_classes];
    for (i, &label) in labels.iter().enumerate() {
        groups[label as usize].push(i);
    }
    groups.retain(|g| !g.is_empty());
    groups
}

/// Chooses `per_class` examples of each class `0..num_classes` at random (seeded) and returns
/// their indices in ascending order.
///
/// Fails when a class has fewer than `per_class` examples. This is how the embedded
/// Fashion-MNIST subset was drawn.
///
/// ```
/// use smallscale_datasets::split::stratified_sample_indices;
/// let labels = [0, 1, 0, 1, 0, 1];
/// let chosen = stratified_sample_indices(&labels, 2, 2, 3)?;
/// assert_eq!(chosen.len(), 4);
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
pub fn stratified_sample_indices(
    labels: &[u32],
    num_classes: usize,
    per_class: usize,
    seed: u64,
) -> Result<Vec<usize>> {
    let mut by_class = vec![Vec::new(); num_classes];
    for (i, &label) in labels.iter().enumerate() {
        let group = by_class.get_mut(label as usize).ok_or_else(|| {
            invalid_data(format!(
                "label {label} of example {i} is out of range 0..{num_classes}"
            ))
        })?;
        group.push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chosen = Vec::with_capacity(num_classes * per_class);
    for (class, mut group) in by_class.into_iter().enumerate() {
        if group.len() < per_class {
            return Err(invalid_parameter(
                "per_class",
                format!(
                    "class {class} has {} examples, fewer than the {per_class} requested",
                    group.len()
                ),
            ));
        }
        group.shuffle(&mut rng);
        chosen.extend_from_slice(&group[..per_class]);
    }
    chosen.sort_unstable();
    Ok(chosen)
}

impl ImageDataset {
    /// Splits the data set into `(train, validation)` with [`split_indices`].
    ///
    /// ```
    /// use smallscale_datasets::{SplitParams, fashion_mnist_embedded};
    /// let (train, _test) = fashion_mnist_embedded()?;
    /// let (fit, val) = train.split(&SplitParams::new(0.1, 0)?.with_stratified(true))?;
    /// assert_eq!(fit.len() + val.len(), train.len());
    /// # Ok::<(), smallscale_datasets::DatasetError>(())
    /// ```
    pub fn split(&self, params: &SplitParams) -> Result<(ImageDataset, ImageDataset)> {
        let indices = split_indices(self.labels(), params)?;
        Ok((
            self.subset(&indices.train)?,
            self.subset(&indices.validation)?,
        ))
    }
}
