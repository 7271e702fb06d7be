//! The cost of one training step of each method relative to FP, on ResNet-18 with the CIFAR stem
//! (10 classes, 3x32x32 inputs, batch 32, CPU): the step of `Trainer` for FP, QAT (with the
//! oscillation tracker, on by default), Reg (`lambda * R_b`), QAT with oscillation dampening, and
//! QAT with iterative weight freezing (tracker, code EMA and the write-back of frozen weights), and
//! LSQ-QAT (a learned step per tensor, trained with the weights; tracker on), all at 4 bits. Full width (64) and the CPU width 16.
//!
//! `cargo bench -p smallscale-osc-reg --bench method_step`
//!
//! The goal: dampening and freezing at most 10 % over QAT (docs/performance.md has the numbers).

use std::time::Duration;

use candle_core::{Device, Tensor};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use smallscale_models::{
    Model, ModelConfig, ModelContext, Optimizer, OptimizerConfig, QuantHandle, ResNetConfig,
    build_model,
};
use smallscale_osc_reg::{
    DampeningAggregation, FreezingParams, LsqSteps, OscillationParams, OscillationRegularizer,
    OscillationTracker, RegularizerParams, WeightFreezer, oscillation_dampening_loss,
};
use smallscale_quant_core::{BitWidth, MaxAbsQuantizer, Quantizer};

const BATCH: usize = 32;
const BITS: u32 = 4;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Fp,
    Qat,
    Reg,
    QatDampen,
    QatFreeze,
    QatLsq,
}

struct Step {
    kind: Kind,
    model: Box<dyn Model>,
    opt: Optimizer,
    x: Tensor,
    y: Tensor,
    tracker: OscillationTracker,
    freezer: WeightFreezer,
    step: usize,
}

impl Step {
    fn new(config: &ModelConfig, kind: Kind) -> Self {
        let quant = QuantHandle::default();
        if matches!(kind, Kind::Qat | Kind::QatDampen | Kind::QatFreeze) {
            quant.set_reference_bits(BITS).expect("bits");
        }
        let ctx = ModelContext::new(Device::Cpu)
            .with_quant(quant.clone())
            .with_seed(0);
        let model = build_model(config, &ctx).expect("model builds");
        let mut params = model.named_parameters();
        if matches!(kind, Kind::QatLsq) {
            // One learned step per weight tensor, trained with the weights.
            let steps =
                LsqSteps::init(model.as_ref(), BitWidth::new(BITS).expect("bits")).expect("steps");
            params.extend(steps.named_steps());
            quant.set(
                steps
                    .state(quant.get().selector().clone())
                    .expect("LSQ state"),
            );
        }
        let opt = Optimizer::new(OptimizerConfig::adam(1e-3), params);
        let x = Tensor::randn(0f32, 1.0, (BATCH, 3, 32, 32), &Device::Cpu).expect("input");
        let labels: Vec<u32> = (0..BATCH as u32).map(|i| i % 10).collect();
        let y = Tensor::from_vec(labels, BATCH, &Device::Cpu).expect("labels");
        // Freezing past its warm-up with a low threshold, so the write-back runs too.
        let freezing = FreezingParams::new(BITS)
            .and_then(|p| p.with_thresholds(0.02, 0.02))
            .and_then(|p| p.with_warmup_fraction(0.0))
            .expect("freezing settings");
        Self {
            kind,
            model,
            opt,
            x,
            y,
            tracker: OscillationTracker::new(OscillationParams::default()),
            freezer: WeightFreezer::new(freezing),
            step: 0,
        }
    }

    fn weights(&self) -> Vec<Tensor> {
        self.model
            .quantized_weights()
            .into_iter()
            .map(|(_, w)| w)
            .collect()
    }

    fn run(&mut self) {
        let bits = BitWidth::new(BITS).expect("bits");
        let logits = self.model.forward_t(&self.x, true).expect("forward");
        let mut loss = candle_nn::loss::cross_entropy(&logits, &self.y).expect("loss");
        match self.kind {
            Kind::Reg => {
                let reg =
                    OscillationRegularizer::new(RegularizerParams::new(BITS, 1.0).expect("reg"));
                loss = (loss + reg.penalty(&self.weights()).expect("penalty")).expect("add");
            }
            Kind::QatDampen => {
                let d =
                    oscillation_dampening_loss(&self.weights(), bits, DampeningAggregation::Mean)
                        .expect("dampening");
                loss = (loss + (d * 0.1).expect("scale")).expect("add");
            }
            _ => {}
        }
        let grads = loss.backward().expect("backward");
        self.opt.step(&grads).expect("step");
        match self.kind {
            Kind::Qat | Kind::Reg | Kind::QatDampen | Kind::QatLsq => {
                let q = MaxAbsQuantizer::with_bits(bits);
                for (name, var) in self.model.quantized_vars() {
                    let codes = q.quantize(var.as_tensor()).expect("codes").codes;
                    self.tracker.update(&name, &codes).expect("track");
                }
            }
            Kind::QatFreeze => {
                self.freezer
                    .step(&self.model.quantized_vars(), self.step, usize::MAX)
                    .expect("freeze");
            }
            Kind::Fp => {}
        }
        self.step += 1;
    }
}

fn method_step(c: &mut Criterion) {
    smallscale_models::kernels::retain_freed_memory();
    let mut group = c.benchmark_group("method_step_resnet18_batch32_cpu");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(10));
    for width in [64usize, 16] {
        let config = ModelConfig::ResNet(ResNetConfig::cifar10())
            .with_width(width)
            .expect("width");
        for kind in [
            Kind::Fp,
            Kind::Qat,
            Kind::Reg,
            Kind::QatDampen,
            Kind::QatFreeze,
            Kind::QatLsq,
        ] {
            let mut step = Step::new(&config, kind);
            let name = format!("w{width}/{kind:?}").to_lowercase();
            group.bench_function(name, |b| b.iter(|| step.run()));
        }
    }
    group.finish();
}

criterion_group!(benches, method_step);
criterion_main!(benches);
