//! A few dozen Adam steps overfit 64 examples.

mod common;

use candle_core::{D, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use smallscale_models::{
    MlpConfig, ModelConfig, ModelContext, ResNetConfig, SmallCnnConfig, VitConfig, build_model,
};

/// Trains on one full batch; returns (first loss, last loss, train accuracy after training).
fn overfit(config: &ModelConfig, shape: &[usize], steps: usize, lr: f64) -> (f32, f32, f32) {
    let model = build_model(config, &ModelContext::new(Device::Cpu).with_seed(1)).unwrap();
    let x = common::randn(21, shape);
    let y = common::labels(22, shape[0], 10);
    let params = ParamsAdamW {
        lr,
        weight_decay: 0.0,
        ..Default::default()
    };
    let mut opt = AdamW::new(model.varmap().all_vars(), params).unwrap();
    let mut losses = Vec::new();
    for _ in 0..steps {
        let logits = model.forward_t(&x, true).unwrap();
        let loss = candle_nn::loss::cross_entropy(&logits, &y).unwrap();
        losses.push(loss.to_scalar::<f32>().unwrap());
        opt.backward_step(&loss).unwrap();
    }
    let logits = model.forward_t(&x, true).unwrap();
    let accuracy = accuracy(&logits, &y);
    (losses[0], *losses.last().unwrap(), accuracy)
}

fn accuracy(logits: &Tensor, labels: &Tensor) -> f32 {
    let pred = logits.argmax(D::Minus1).unwrap().to_vec1::<u32>().unwrap();
    let y = labels.to_vec1::<u32>().unwrap();
    pred.iter().zip(&y).filter(|(p, t)| p == t).count() as f32 / y.len() as f32
}

#[test]
fn small_cnn_overfits_64_examples() {
    let config = ModelConfig::SmallCnn(SmallCnnConfig {
        in_channels: 1,
        image_size: 12,
        num_classes: 10,
        channels: vec![8, 16],
    });
    let (first, last, acc) = overfit(&config, &[64, 1, 12, 12], 40, 1e-2);
    assert!(last < 0.2 * first, "loss {first} -> {last}");
    assert!(acc >= 0.95, "accuracy {acc}");
}

#[test]
fn mlp_overfits_64_examples() {
    let config = ModelConfig::Mlp(MlpConfig {
        input_dim: 144,
        hidden: vec![64],
        num_classes: 10,
    });
    let (first, last, acc) = overfit(&config, &[64, 144], 40, 1e-2);
    assert!(last < 0.2 * first, "loss {first} -> {last}");
    assert!(acc >= 0.95, "accuracy {acc}");
}

#[test]
fn tiny_resnet_overfits_64_examples() {
    let config = ModelConfig::ResNet(ResNetConfig {
        in_channels: 3,
        num_classes: 10,
        base_width: 8,
        blocks: [1, 1, 1, 1],
    });
    let (first, last, acc) = overfit(&config, &[64, 3, 8, 8], 40, 1e-2);
    assert!(last < 0.3 * first, "loss {first} -> {last}");
    assert!(acc >= 0.9, "accuracy {acc}");
}

#[test]
fn tiny_vit_overfits_64_examples() {
    let config = ModelConfig::Vit(VitConfig {
        image_size: 8,
        patch_size: 4,
        in_channels: 3,
        num_classes: 10,
        embed_dim: 32,
        depth: 2,
        num_heads: 2,
        mlp_ratio: 2.0,
    });
    let (first, last, acc) = overfit(&config, &[64, 3, 8, 8], 60, 3e-3);
    assert!(last < 0.3 * first, "loss {first} -> {last}");
    assert!(acc >= 0.9, "accuracy {acc}");
}
