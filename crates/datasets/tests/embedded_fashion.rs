//! The embedded Fashion-MNIST subset.

use smallscale_datasets::fashion_mnist::{EMBEDDED_TEST_PER_CLASS, EMBEDDED_TRAIN_PER_CLASS};
use smallscale_datasets::{ChannelNormalization, ImageShape, fashion_mnist_embedded};

#[test]
fn subset_is_stratified_and_well_formed() {
    let (train, test) = fashion_mnist_embedded().unwrap();
    assert_eq!(train.class_counts(), vec![EMBEDDED_TRAIN_PER_CLASS; 10]);
    assert_eq!(test.class_counts(), vec![EMBEDDED_TEST_PER_CLASS; 10]);
    assert_eq!(train.shape(), ImageShape::new(1, 28, 28));
    assert_eq!(train.num_classes(), 10);
    assert_eq!(train.class_names(), test.class_names());
    // Real images: not blank, and the mean intensity matches Fashion-MNIST's (about 0.286).
    let norm = ChannelNormalization::fit(&train).unwrap();
    assert!((norm.mean()[0] - 0.286).abs() < 0.01, "{:?}", norm.mean());
    assert!((norm.std()[0] - 0.353).abs() < 0.01, "{:?}", norm.std());
    let f = test.to_f32();
    assert!(f.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(train.image(0).unwrap().iter().any(|&p| p > 0));
}

#[test]
fn loading_is_deterministic() {
    let (a, _) = fashion_mnist_embedded().unwrap();
    let (b, _) = fashion_mnist_embedded().unwrap();
    assert_eq!(a, b);
}
