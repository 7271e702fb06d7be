//! Property tests of splitting, batching and augmentation.

use std::collections::HashSet;

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use smallscale_datasets::augment::{crop_with_zero_padding, flip_horizontal};
use smallscale_datasets::batch::{batch_indices, epoch_order};
use smallscale_datasets::split::{split_indices, stratified_sample_indices};
use smallscale_datasets::{
    AugmentParams, BatchParams, ImageBatcher, ImageDataset, ImageShape, SplitParams,
};

fn labels_strategy() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(0u32..5, 2..300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn splits_are_disjoint_and_cover_everything(
        labels in labels_strategy(),
        fraction in 0.01f64..0.99,
        seed in any::<u64>(),
        stratified in any::<bool>(),
    ) {
        let params = SplitParams::new(fraction, seed).unwrap().with_stratified(stratified);
        match split_indices(&labels, &params) {
            Ok(split) => {
                let train: HashSet<usize> = split.train.iter().copied().collect();
                let validation: HashSet<usize> = split.validation.iter().copied().collect();
                prop_assert_eq!(train.len(), split.train.len());
                prop_assert_eq!(validation.len(), split.validation.len());
                prop_assert!(train.is_disjoint(&validation));
                prop_assert_eq!(train.len() + validation.len(), labels.len());
                prop_assert!(train.iter().chain(&validation).all(|&i| i < labels.len()));
                prop_assert_eq!(split_indices(&labels, &params).unwrap(), split);
            }
            // Only when one side would be empty.
            Err(_) => {
                let n_val = (labels.len() as f64 * fraction).round() as usize;
                prop_assert!(stratified || n_val == 0 || n_val == labels.len());
            }
        }
    }

    #[test]
    fn stratification_preserves_class_proportions_within_one(
        labels in labels_strategy(),
        fraction in 0.05f64..0.95,
        seed in any::<u64>(),
    ) {
        let params = SplitParams::new(fraction, seed).unwrap().with_stratified(true);
        if let Ok(split) = split_indices(&labels, &params) {
            for class in 0..5u32 {
                let total = labels.iter().filter(|&&l| l == class).count() as f64;
                let in_validation =
                    split.validation.iter().filter(|&&i| labels[i] == class).count() as f64;
                prop_assert!((in_validation - total * fraction).abs() <= 1.0);
            }
        }
    }

    #[test]
    fn stratified_sample_takes_exactly_per_class(
        labels in prop::collection::vec(0u32..3, 30..200),
        seed in any::<u64>(),
    ) {
        let smallest = (0..3u32).map(|c| labels.iter().filter(|&&l| l == c).count()).min().unwrap();
        let per_class = smallest.min(5);
        let chosen = stratified_sample_indices(&labels, 3, per_class, seed).unwrap();
        prop_assert_eq!(chosen.len(), 3 * per_class);
        prop_assert!(chosen.windows(2).all(|w| w[0] < w[1]));
        for c in 0..3u32 {
            prop_assert_eq!(chosen.iter().filter(|&&i| labels[i] == c).count(), per_class);
        }
        prop_assert!(stratified_sample_indices(&labels, 3, smallest + 1, seed).is_err());
    }

    #[test]
    fn batches_cover_every_index_once_per_epoch(
        n in 0usize..500,
        batch_size in 1usize..64,
        seed in any::<u64>(),
        epoch in 0u64..1000,
        shuffle in any::<bool>(),
        drop_last in any::<bool>(),
    ) {
        let params = BatchParams::new(batch_size).unwrap()
            .with_seed(seed).with_shuffle(shuffle).with_drop_last(drop_last);
        let batches: Vec<Vec<usize>> = batch_indices(n, &params, epoch).collect();
        prop_assert_eq!(batches.len(), params.num_batches(n));
        prop_assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= batch_size));
        if drop_last {
            prop_assert!(batches.iter().all(|b| b.len() == batch_size));
        }
        let mut seen: Vec<usize> = batches.concat();
        seen.sort_unstable();
        if drop_last {
            seen.dedup();
            prop_assert_eq!(seen.len(), n - n % batch_size);
        } else {
            prop_assert_eq!(seen, (0..n).collect::<Vec<_>>());
        }
        // Same seed and epoch: same order.
        prop_assert_eq!(epoch_order(n, &params, epoch), epoch_order(n, &params, epoch));
    }

    #[test]
    fn augmentation_preserves_shape_and_values(
        c in 1usize..4, h in 1usize..12, w in 1usize..12,
        padding in 0usize..6, flip in 0.0f64..=1.0, seed in any::<u64>(),
    ) {
        let shape = ImageShape::new(c, h, w);
        let source: Vec<f32> = (0..shape.values_per_image()).map(|i| i as f32 + 1.0).collect();
        let mut target = vec![-1.0; source.len()];
        let params = AugmentParams::new(padding, flip).unwrap();
        params.apply(&source, shape, &mut ChaCha8Rng::seed_from_u64(seed), &mut target).unwrap();
        // Every output value is a zero (padding) or one of the source values.
        prop_assert!(target.iter().all(|&v| v == 0.0 || source.contains(&v)));
        // Padding smaller than the image keeps some pixels.
        if padding < h && padding < w {
            prop_assert!(target.iter().any(|&v| v != 0.0));
        }
    }

    #[test]
    fn augmentation_without_padding_or_flip_is_identity(
        c in 1usize..4, h in 1usize..12, w in 1usize..12, seed in any::<u64>(),
    ) {
        let shape = ImageShape::new(c, h, w);
        let source: Vec<f32> = (0..shape.values_per_image()).map(|i| i as f32).collect();
        let mut target = vec![0.0; source.len()];
        AugmentParams::new(0, 0.0).unwrap()
            .apply(&source, shape, &mut ChaCha8Rng::seed_from_u64(seed), &mut target).unwrap();
        prop_assert_eq!(target, source);
    }

    #[test]
    fn flipping_twice_is_identity(
        c in 1usize..4, h in 1usize..12, w in 1usize..12,
        values in prop::collection::vec(any::<u8>(), 1..2000),
    ) {
        let shape = ImageShape::new(c, h, w);
        let n = shape.values_per_image();
        let original: Vec<u8> = values.iter().cycle().take(n).copied().collect();
        let mut image = original.clone();
        flip_horizontal(&mut image, shape).unwrap();
        if w > 1 && original.chunks(w).any(|row| row.iter().ne(row.iter().rev())) {
            prop_assert_ne!(&image, &original);
        }
        flip_horizontal(&mut image, shape).unwrap();
        prop_assert_eq!(image, original);
    }

    #[test]
    fn centre_crop_is_identity(c in 1usize..3, h in 1usize..10, w in 1usize..10, padding in 0usize..5) {
        let shape = ImageShape::new(c, h, w);
        let source: Vec<u8> = (0..shape.values_per_image()).map(|i| (i % 250 + 1) as u8).collect();
        let mut target = vec![0; source.len()];
        crop_with_zero_padding(&source, shape, padding, padding, padding, &mut target).unwrap();
        prop_assert_eq!(target, source);
    }
}

fn toy_dataset(n: usize) -> ImageDataset {
    let shape = ImageShape::new(2, 3, 3);
    let pixels = (0..n * shape.values_per_image())
        .map(|i| (i % 256) as u8)
        .collect();
    let labels = (0..n as u32).map(|i| i % 3).collect();
    ImageDataset::new(
        pixels,
        labels,
        shape,
        vec!["a".into(), "b".into(), "c".into()],
    )
    .unwrap()
}

#[test]
fn image_batches_are_reproducible_and_epoch_dependent() {
    let data = toy_dataset(50);
    let params = BatchParams::new(8).unwrap().with_seed(3);
    let batcher =
        ImageBatcher::new(&data, params).with_augmentation(AugmentParams::cifar().with_seed(9));
    let run = |epoch| -> Vec<_> { batcher.epoch(epoch).map(Result::unwrap).collect() };
    let (a, b, c) = (run(0), run(0), run(1));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.len(), batcher.num_batches());
    assert_eq!(a.last().unwrap().len(), 2);
    for batch in &a {
        for (k, &i) in batch.indices.iter().enumerate() {
            assert_eq!(batch.labels[k], data.labels()[i]);
        }
    }
    // Without augmentation the batch holds the images themselves, scaled to [0, 1].
    let plain = ImageBatcher::new(&data, params.with_shuffle(false));
    let first = plain.epoch(5).next().unwrap().unwrap();
    assert_eq!(first.indices, (0..8).collect::<Vec<_>>());
    assert_eq!(&first.images[..18], &data.to_f32()[..18]);
}
