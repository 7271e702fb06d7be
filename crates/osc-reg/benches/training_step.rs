//! One training step on the CPU at batch 32 (forward, cross-entropy, backward, the trainer's Adam
//! step): ResNet-18 with the CIFAR stem (width 64, 10 classes, 3x32x32 inputs) and the tiny ViT
//! (`VitConfig::tiny_cifar10`: patch 4, dim 192, depth 6, 3 heads, MLP ratio 4), with
//! quantization off (FP / Reg forward) and with the 4-bit reference quantizer (QAT forward).
//! `*/fp-candle-ops` runs the same FP step with the CPU kernels switched off (candle's own
//! convolution, batch norm, layer norm, softmax, GELU and a tensor-operation Adam), the
//! before/after of `smallscale_models::kernels` in one run.
//!
//! `cargo bench -p smallscale-osc-reg --bench training_step`
//!
//! PyTorch's time for the same step comes from `benches/pytorch_training_step.py`;
//! `benches/compare_with_pytorch.sh` runs both and prints the ratio.

use std::time::Duration;

use candle_core::{Device, Tensor};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use smallscale_models::kernels::set_cpu_kernels_enabled;
use smallscale_models::{
    Model, ModelConfig, ModelContext, QuantHandle, ResNetConfig, VitConfig, build_model,
};
use smallscale_models::{Optimizer, OptimizerConfig};

const BATCH: usize = 32;

struct Step {
    model: Box<dyn Model>,
    opt: Optimizer,
    x: Tensor,
    y: Tensor,
}

impl Step {
    fn new(config: ModelConfig, quant: QuantHandle) -> Self {
        let ctx = ModelContext::new(Device::Cpu)
            .with_quant(quant)
            .with_seed(0);
        let model = build_model(&config, &ctx).expect("model builds");
        let opt = Optimizer::new(OptimizerConfig::adam(1e-3), model.named_parameters());
        let x = Tensor::randn(0f32, 1.0, (BATCH, 3, 32, 32), &Device::Cpu).expect("input");
        let labels: Vec<u32> = (0..BATCH as u32).map(|i| i % 10).collect();
        let y = Tensor::from_vec(labels, BATCH, &Device::Cpu).expect("labels");
        Self { model, opt, x, y }
    }

    fn run(&mut self) {
        let logits = self.model.forward_t(&self.x, true).expect("forward");
        let loss = candle_nn::loss::cross_entropy(&logits, &self.y).expect("loss");
        let grads = loss.backward().expect("backward");
        self.opt.step(&grads).expect("step");
    }
}

fn training_step(c: &mut Criterion) {
    smallscale_models::kernels::retain_freed_memory();
    let mut group = c.benchmark_group("training_step_batch32_cpu");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(10));
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
        for (state, bits, kernels) in [
            ("fp", None, true),
            ("qat4", Some(4), true),
            ("fp-candle-ops", None, false),
        ] {
            let quant = QuantHandle::default();
            if let Some(b) = bits {
                quant.set_reference_bits(b).expect("bits");
            }
            set_cpu_kernels_enabled(kernels);
            let mut step = Step::new(config.clone(), quant);
            group.bench_function(format!("{name}/{state}"), |b| b.iter(|| step.run()));
            set_cpu_kernels_enabled(true);
        }
    }
    group.finish();
}

criterion_group!(benches, training_step);
criterion_main!(benches);
