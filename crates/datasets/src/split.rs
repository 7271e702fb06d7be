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
    let by_class = indices_of_classes(labels, num_classes)?;
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

/// The indices of the examples of each class `0..num_classes` (empty for a class without any), in
/// order; a label out of range is an error.
fn indices_of_classes(labels: &[u32], num_classes: usize) -> Result<Vec<Vec<usize>>> {
    let mut by_class = vec![Vec::new(); num_classes];
    for (i, &label) in labels.iter().enumerate() {
        let group = by_class.get_mut(label as usize).ok_or_else(|| {
            invalid_data(format!(
                "label {label} of example {i} is out of range 0..{num_classes}"
            ))
        })?;
        group.push(i);
    }
    Ok(by_class)
}

/// A stratified, seeded sample of `fraction` of the examples: `round(fraction * n_c)` of each
/// class `c` (at least one of every class that has examples), in index order. The same labels,
/// fraction and seed always give the same sample.
///
/// # Errors
///
/// A fraction outside (0, 1], or a label out of range.
///
/// ```
/// use smallscale_datasets::split::stratified_fraction_indices;
/// let labels = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1];
/// let chosen = stratified_fraction_indices(&labels, 2, 0.5, 7)?;
/// assert_eq!(chosen.len(), 5);
/// assert_eq!(chosen.iter().filter(|&&i| labels[i] == 1).count(), 1);
/// assert_eq!(stratified_fraction_indices(&labels, 2, 0.01, 7)?.len(), 2); // one per class
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
pub fn stratified_fraction_indices(
    labels: &[u32],
    num_classes: usize,
    fraction: f64,
    seed: u64,
) -> Result<Vec<usize>> {
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(invalid_parameter(
            "fraction",
            format!("the training fraction must lie in (0, 1] (e.g. 0.1 for 10 %), got {fraction}"),
        ));
    }
    let by_class = indices_of_classes(labels, num_classes)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chosen = Vec::new();
    for mut group in by_class {
        if group.is_empty() {
            continue;
        }
        let keep = ((fraction * group.len() as f64).round() as usize).clamp(1, group.len());
        group.shuffle(&mut rng);
        chosen.extend_from_slice(&group[..keep]);
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

#[cfg(test)]
mod fraction_tests {
    use super::*;

    #[test]
    fn fractions_are_stratified_seeded_and_keep_every_class() {
        let labels: Vec<u32> = (0..1000u32).map(|i| u32::from(i % 10 < 3)).collect();
        for fraction in [1.0, 0.5, 0.1, 0.01, 0.001] {
            let chosen = stratified_fraction_indices(&labels, 2, fraction, 3).unwrap();
            assert!(chosen.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
            let ones = chosen.iter().filter(|&&i| labels[i] == 1).count();
            let zeros = chosen.len() - ones;
            let expect = |n: f64| ((fraction * n).round() as usize).clamp(1, n as usize);
            assert_eq!((zeros, ones), (expect(700.0), expect(300.0)), "{fraction}");
            assert_eq!(
                chosen,
                stratified_fraction_indices(&labels, 2, fraction, 3).unwrap()
            );
        }
        let a = stratified_fraction_indices(&labels, 2, 0.1, 1).unwrap();
        let b = stratified_fraction_indices(&labels, 2, 0.1, 2).unwrap();
        assert_ne!(a, b, "another seed, another sample");
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            assert!(
                stratified_fraction_indices(&labels, 2, bad, 0).is_err(),
                "{bad}"
            );
        }
        assert!(
            stratified_fraction_indices(&[0, 5], 2, 0.5, 0).is_err(),
            "label out of range"
        );
    }
}
