//! Shared helpers of the integration tests: tiny configurations and seeded data.
#![allow(dead_code)]

use candle_core::{Device, Tensor};
use smallscale_models::{MlpConfig, ModelConfig, ResNetConfig, SmallCnnConfig, VitConfig};

/// Deterministic standard normal values (xorshift64* + Box-Muller), independent of the crate's
/// own generator.
pub fn normal(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_685_821_657_736_338_717).wrapping_add(1);
    let mut unit = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        (s.wrapping_mul(2_685_821_657_736_338_717) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let u1 = 1.0 - unit();
            let u2 = unit();
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
        })
        .collect()
}

/// A seeded normal tensor.
pub fn randn(seed: u64, shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(normal(seed, n), shape, &Device::Cpu).unwrap()
}

/// Seeded labels in `0..classes`.
pub fn labels(seed: u64, n: usize, classes: u32) -> Tensor {
    let v: Vec<u32> = normal(seed, n)
        .iter()
        .map(|x| ((x.abs() * 7919.0) as u32) % classes)
        .collect();
    Tensor::from_vec(v, n, &Device::Cpu).unwrap()
}

/// Tiny ResNet: width 4, two blocks per stage, 3 classes (8x8 inputs).
pub fn tiny_resnet() -> ModelConfig {
    ModelConfig::ResNet(ResNetConfig {
        in_channels: 3,
        num_classes: 3,
        base_width: 4,
        blocks: [2, 2, 2, 2],
    })
}

/// Tiny ViT: 8x8x3 inputs, patch 4, dim 8, depth 2, 2 heads, 3 classes.
pub fn tiny_vit() -> ModelConfig {
    ModelConfig::Vit(VitConfig {
        image_size: 8,
        patch_size: 4,
        in_channels: 3,
        num_classes: 3,
        embed_dim: 8,
        depth: 2,
        num_heads: 2,
        mlp_ratio: 2.0,
    })
}

/// Tiny CNN: 8x8x1 inputs, blocks of 4 and 8 channels, 3 classes.
pub fn tiny_cnn() -> ModelConfig {
    ModelConfig::SmallCnn(SmallCnnConfig {
        in_channels: 1,
        image_size: 8,
        num_classes: 3,
        channels: vec![4, 8],
    })
}

/// Tiny MLP: 12 inputs, hidden 8 and 6, 3 classes.
pub fn tiny_mlp() -> ModelConfig {
    ModelConfig::Mlp(MlpConfig {
        input_dim: 12,
        hidden: vec![8, 6],
        num_classes: 3,
    })
}

/// Every tiny configuration with an input batch shape that suits it.
pub fn tiny_models() -> Vec<(ModelConfig, Vec<usize>)> {
    vec![
        (tiny_resnet(), vec![4, 3, 8, 8]),
        (tiny_vit(), vec![4, 3, 8, 8]),
        (tiny_cnn(), vec![4, 1, 8, 8]),
        (tiny_mlp(), vec![4, 12]),
    ]
}

/// The elements of `t` as `f64`, flattened.
pub fn to_f64(t: &Tensor) -> Vec<f64> {
    t.flatten_all()
        .unwrap()
        .to_dtype(candle_core::DType::F64)
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
}

/// Largest absolute difference between two vectors, relative to the largest magnitude of `b`
/// (at least 1).
pub fn rel_diff_vec(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

/// [`rel_diff_vec`] of two tensors.
pub fn rel_diff(a: &Tensor, b: &Tensor) -> f64 {
    rel_diff_vec(&to_f64(a), &to_f64(b))
}
