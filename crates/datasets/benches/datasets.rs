//! Is the data path a bottleneck? Loading the embedded Fashion-MNIST subset, and one epoch of
//! augmented, normalized batches of 128 over its 8,000 training images.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use smallscale_datasets::{
    AugmentParams, BatchParams, ChannelNormalization, ImageBatcher, fashion_mnist_embedded,
};

fn load_embedded(c: &mut Criterion) {
    c.bench_function("fashion_mnist_embedded (8k train + 2k test)", |b| {
        b.iter(|| black_box(fashion_mnist_embedded().unwrap()))
    });
}

fn augmented_epoch(c: &mut Criterion) {
    let (train, _) = fashion_mnist_embedded().unwrap();
    let batcher = ImageBatcher::new(&train, BatchParams::new(128).unwrap().with_seed(1))
        .with_augmentation(AugmentParams::new(4, 0.5).unwrap().with_seed(2))
        .with_normalization(ChannelNormalization::fit(&train).unwrap());
    let mut epoch = 0;
    c.bench_function("one augmented epoch, batch 128 (8k images)", |b| {
        b.iter(|| {
            epoch += 1;
            let mut values = 0;
            for batch in batcher.epoch(epoch) {
                values += black_box(batch.unwrap()).images.len();
            }
            values
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = load_embedded, augmented_epoch
}
criterion_main!(benches);
