//! One Adam training step (forward, cross-entropy, backward, optimizer step) at batch 32 on CPU:
//! ResNet-18 with the CIFAR stem (width 64, 10 classes, 3x32x32 inputs) and the tiny ViT
//! (`VitConfig::tiny_cifar10`: patch 4, dim 192, depth 6, 3 heads, MLP ratio 4), each with
//! quantization off (FP / Reg forward) and with the 4-bit reference quantizer (QAT forward).
//!
//! `cargo bench -p smallscale-models --bench training_step`

use std::time::Duration;

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use smallscale_models::{
    Model, ModelConfig, ModelContext, QuantHandle, ResNetConfig, VitConfig, build_model,
};

const BATCH: usize = 32;

struct Step {
    model: Box<dyn Model>,
    opt: AdamW,
    x: Tensor,
    y: Tensor,
}

impl Step {
    fn new(config: ModelConfig, quant: QuantHandle) -> Self {
        let ctx = ModelContext::new(Device::Cpu)
            .with_quant(quant)
            .with_seed(0);
        let model = build_model(&config, &ctx).expect("model builds");
        let params = ParamsAdamW {
            lr: 1e-3,
            weight_decay: 0.0,
            ..Default::default()
        };
        let opt = AdamW::new(model.varmap().all_vars(), params).expect("optimizer");
        let x = Tensor::randn(0f32, 1.0, (BATCH, 3, 32, 32), &Device::Cpu).expect("input");
        let labels: Vec<u32> = (0..BATCH as u32).map(|i| i % 10).collect();
        let y = Tensor::from_vec(labels, BATCH, &Device::Cpu).expect("labels");
        Self { model, opt, x, y }
    }

    fn run(&mut self) {
        let logits = self.model.forward_t(&self.x, true).expect("forward");
        let loss = candle_nn::loss::cross_entropy(&logits, &self.y).expect("loss");
        self.opt.backward_step(&loss).expect("step");
    }
}

fn training_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("training_step_batch32_cpu");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(20));
    let models = [
        (
            "resnet18_cifar",
            ModelConfig::ResNet(ResNetConfig::cifar10()),
        ),
        (
            "vit_tiny_p4_d192_depth6",
            ModelConfig::Vit(VitConfig::tiny_cifar10()),
        ),
    ];
    for (name, config) in models {
        for (state, bits) in [("fp", None), ("qat4", Some(4))] {
            let quant = QuantHandle::default();
            if let Some(b) = bits {
                quant.set_reference_bits(b).expect("bits");
            }
            let mut step = Step::new(config.clone(), quant);
            group.bench_function(format!("{name}/{state}"), |b| b.iter(|| step.run()));
        }
    }
    group.finish();
}

criterion_group!(benches, training_step);
criterion_main!(benches);
