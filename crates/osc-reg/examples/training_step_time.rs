//! Wall time of one Adam training step on the CPU (forward, cross-entropy, backward, the
//! trainer's optimizer), ResNet-18 (CIFAR stem) and the tiny ViT at batch 32 on 3x32x32 inputs,
//! measured the same way as `benches/pytorch_training_step.py` measures PyTorch: warm-up steps,
//! then the median of timed steps. One JSON line per model.
//!
//! ```text
//! cargo run -p smallscale-osc-reg --example training_step_time -- [--steps N] [--batch B]
//!     [--model resnet18|vit|all] [--qat BITS] [--reference-ops]
//! ```
//!
//! `--reference-ops` turns off the CPU kernels (convolution, batch norm, optimizer) so candle's
//! own operations run instead: the before/after of the kernels in one binary.

use std::time::Instant;

use candle_core::{Device, Tensor};
use smallscale_models::{
    ModelConfig, ModelContext, QuantHandle, ResNetConfig, VitConfig, build_model,
};
use smallscale_models::{Optimizer, OptimizerConfig};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct Args {
    steps: usize,
    batch: usize,
    models: Vec<&'static str>,
    qat: Option<u32>,
}

fn parse() -> Res<Args> {
    let mut args = Args {
        steps: 10,
        batch: 32,
        models: vec!["resnet18", "vit"],
        qat: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--steps" => args.steps = value()?.parse()?,
            "--batch" => args.batch = value()?.parse()?,
            "--qat" => args.qat = Some(value()?.parse()?),
            "--model" => {
                args.models = match value()?.as_str() {
                    "resnet18" => vec!["resnet18"],
                    "vit" => vec!["vit"],
                    "all" => vec!["resnet18", "vit"],
                    other => {
                        return Err(
                            format!("unknown model {other}: use resnet18, vit or all").into()
                        );
                    }
                }
            }
            "--reference-ops" => smallscale_models::kernels::set_cpu_kernels_enabled(false),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if args.steps == 0 || args.batch == 0 {
        return Err("--steps and --batch must be at least 1".into());
    }
    Ok(args)
}

fn main() -> Res<()> {
    let args = parse()?;
    smallscale_models::kernels::retain_freed_memory();
    for name in &args.models {
        let config = match *name {
            "resnet18" => ModelConfig::ResNet(ResNetConfig::cifar10()),
            _ => ModelConfig::Vit(VitConfig::tiny_cifar10()),
        };
        let quant = QuantHandle::default();
        if let Some(bits) = args.qat {
            quant.set_reference_bits(bits)?;
        }
        let ctx = ModelContext::new(Device::Cpu)
            .with_quant(quant)
            .with_seed(0);
        let model = build_model(&config, &ctx)?;
        let mut opt = Optimizer::new(OptimizerConfig::adam(1e-3), model.named_parameters());
        let x = Tensor::randn(0f32, 1.0, (args.batch, 3, 32, 32), &Device::Cpu)?;
        let labels: Vec<u32> = (0..args.batch as u32).map(|i| i % 10).collect();
        let y = Tensor::from_vec(labels, args.batch, &Device::Cpu)?;
        // Per timed step: total, forward (with the loss), backward, optimizer.
        let mut times: [Vec<f64>; 4] = Default::default();
        for step in 0..args.steps + 2 {
            let t0 = Instant::now();
            let loss = candle_nn::loss::cross_entropy(&model.forward_t(&x, true)?, &y)?;
            let t1 = Instant::now();
            let grads = loss.backward()?;
            let t2 = Instant::now();
            opt.step(&grads)?;
            let t3 = Instant::now();
            if step >= 2 {
                for (v, d) in times.iter_mut().zip([t3 - t0, t1 - t0, t2 - t1, t3 - t2]) {
                    v.push(d.as_secs_f64());
                }
            }
        }
        let [total, fwd, bwd, optim] = times.map(|mut v| {
            v.sort_by(f64::total_cmp);
            v
        });
        let median = |v: &[f64]| v[v.len() / 2];
        println!(
            "{{\"framework\":\"smallscale\",\"model\":\"{name}\",\"batch\":{},\"steps\":{},\"median_s\":{:.4},\"min_s\":{:.4},\"forward_s\":{:.4},\"backward_s\":{:.4},\"optimizer_s\":{:.4},\"kernels\":{},\"threads\":{}}}",
            args.batch,
            args.steps,
            median(&total),
            total[0],
            median(&fwd),
            median(&bwd),
            median(&optim),
            smallscale_models::kernels::cpu_kernels_enabled(),
            rayon::current_num_threads()
        );
    }
    Ok(())
}
