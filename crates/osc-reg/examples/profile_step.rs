//! Where the time of one ResNet-18 (CIFAR stem, width 64) Adam training step goes on the CPU
//! (the trainer's optimizer; the layers run the CPU kernels unless `--reference-ops` is given).
//!
//! Part 1 times the phases of whole steps (forward, backward, optimizer) with quantization off and
//! with the 4-bit reference quantizer. Part 2 times each layer type in isolation at the shapes of
//! ResNet-18 (forward, and backward of that layer alone) and sums over the layers of the network.
//!
//! `cargo run -p smallscale-osc-reg --example profile_step -- [steps] [batch] [--reference-ops]`

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use smallscale_models::{
    BatchNorm2d, Conv2dSpec, Init, ModelConfig, ModelContext, QuantConv2d, QuantHandle,
    QuantLinear, ResNetConfig, build_model,
};
use smallscale_models::{Optimizer, OptimizerConfig};

type Res<T> = Result<T, Box<dyn std::error::Error>>;
/// One layer's forward pass on an input.
type LayerFn = Box<dyn Fn(&Tensor) -> Res<Tensor>>;

fn seconds(f: impl FnOnce() -> Res<()>) -> Res<f64> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

/// Mean seconds of (forward, backward, optimizer, total) over `steps` steps after one warm-up step.
fn step_phases(quant_bits: Option<u32>, steps: usize, batch: usize) -> Res<[f64; 4]> {
    let quant = QuantHandle::default();
    if let Some(b) = quant_bits {
        quant.set_reference_bits(b)?;
    }
    let ctx = ModelContext::new(Device::Cpu)
        .with_quant(quant)
        .with_seed(0);
    let model = build_model(&ModelConfig::ResNet(ResNetConfig::cifar10()), &ctx)?;
    let mut opt = Optimizer::new(OptimizerConfig::adam(1e-3), model.named_parameters());
    let x = Tensor::randn(0f32, 1.0, (batch, 3, 32, 32), &Device::Cpu)?;
    let labels: Vec<u32> = (0..batch as u32).map(|i| i % 10).collect();
    let y = Tensor::from_vec(labels, batch, &Device::Cpu)?;
    let mut sums = [0.0; 4];
    for step in 0..=steps {
        let t0 = Instant::now();
        let logits = model.forward_t(&x, true)?;
        let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
        loss.to_scalar::<f32>()?; // candle is eager; this only makes the boundary explicit
        let t1 = Instant::now();
        let grads = loss.backward()?;
        let t2 = Instant::now();
        opt.step(&grads)?;
        let t3 = Instant::now();
        if step > 0 {
            sums[0] += (t1 - t0).as_secs_f64();
            sums[1] += (t2 - t1).as_secs_f64();
            sums[2] += (t3 - t2).as_secs_f64();
            sums[3] += (t3 - t0).as_secs_f64();
        }
    }
    Ok(sums.map(|s| s / steps as f64))
}

/// One layer occurrence of ResNet-18 at batch `batch`: input shape and how to run it.
enum Layer {
    Conv { spec: Conv2dSpec, side: usize },
    BatchNorm { channels: usize, side: usize },
    Relu { channels: usize, side: usize },
    Linear { features: usize, classes: usize },
}

fn resnet18_layers() -> Vec<Layer> {
    let mut layers = Vec::new();
    let push_conv_bn = |layers: &mut Vec<Layer>, cin, cout, k, stride, side_in: usize| {
        let pad = if k == 3 { 1 } else { 0 };
        let spec = Conv2dSpec::new(cin, cout, k)
            .with_stride(stride)
            .with_padding(pad);
        layers.push(Layer::Conv {
            spec,
            side: side_in,
        });
        layers.push(Layer::BatchNorm {
            channels: cout,
            side: side_in / stride,
        });
    };
    push_conv_bn(&mut layers, 3, 64, 3, 1, 32);
    layers.push(Layer::Relu {
        channels: 64,
        side: 32,
    });
    let (mut cin, mut side) = (64, 32);
    for stage in 0..4 {
        let cout = 64 << stage;
        for block in 0..2 {
            let stride = if stage > 0 && block == 0 { 2 } else { 1 };
            push_conv_bn(&mut layers, cin, cout, 3, stride, side);
            let out_side = side / stride;
            layers.push(Layer::Relu {
                channels: cout,
                side: out_side,
            });
            push_conv_bn(&mut layers, cout, cout, 3, 1, out_side);
            if stride != 1 || cin != cout {
                push_conv_bn(&mut layers, cin, cout, 1, stride, side);
            }
            layers.push(Layer::Relu {
                channels: cout,
                side: out_side,
            });
            cin = cout;
            side = out_side;
        }
    }
    layers.push(Layer::Linear {
        features: 512,
        classes: 10,
    });
    layers
}

/// (kind, forward seconds, backward seconds) of one layer, median of `reps` runs.
fn time_layer(layer: &Layer, batch: usize, reps: usize) -> Res<(&'static str, f64, f64)> {
    let ctx = ModelContext::new(Device::Cpu);
    let (kind, shape): (&str, Vec<usize>) = match layer {
        Layer::Conv { spec, side } => ("conv", vec![batch, spec.in_channels, *side, *side]),
        Layer::BatchNorm { channels, side } => ("batch norm", vec![batch, *channels, *side, *side]),
        Layer::Relu { channels, side } => ("relu", vec![batch, *channels, *side, *side]),
        Layer::Linear { features, .. } => ("linear", vec![batch, *features]),
    };
    let x =
        candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, shape.as_slice(), &Device::Cpu)?)?;
    let run: LayerFn = match layer {
        Layer::Conv { spec, .. } => {
            let conv =
                QuantConv2d::new(&ctx.pp("conv"), *spec, Init::kaiming_normal(spec.fan_out()))?;
            Box::new(move |x| Ok(conv.forward(x)?))
        }
        Layer::BatchNorm { channels, .. } => {
            let bn = BatchNorm2d::new(&ctx.pp("bn"), *channels)?;
            Box::new(move |x| Ok(bn.forward_t(x, true)?))
        }
        Layer::Relu { .. } => Box::new(|x| Ok(x.relu()?)),
        Layer::Linear { features, classes } => {
            let fc = QuantLinear::new(&ctx.pp("fc"), *features, *classes, true)?;
            Box::new(move |x| Ok(fc.forward(x)?))
        }
    };
    let mut fwd = Vec::new();
    let mut bwd = Vec::new();
    for _ in 0..=reps {
        let mut y = None;
        fwd.push(seconds(|| {
            y = Some(run(x.as_tensor())?);
            Ok(())
        })?);
        let y = y.ok_or("no output")?;
        // A fixed upstream gradient: d(sum(y * g))/dy = g; the mul/sum cost is tiny.
        let g = Tensor::ones(y.dims(), DType::F32, &Device::Cpu)?;
        let loss = (y * g)?.sum_all()?;
        bwd.push(seconds(|| {
            loss.backward()?;
            Ok(())
        })?);
    }
    let median = |v: &mut Vec<f64>| {
        v.remove(0); // warm-up
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok((kind, median(&mut fwd), median(&mut bwd)))
}

fn main() -> Res<()> {
    let mut args: Vec<String> = std::env::args().collect();
    smallscale_models::kernels::retain_freed_memory();
    if let Some(i) = args.iter().position(|a| a == "--reference-ops") {
        args.remove(i);
        smallscale_models::kernels::set_cpu_kernels_enabled(false);
    }
    let steps: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let batch: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(32);
    println!(
        "ResNet-18 (CIFAR stem, width 64, 10 classes), batch {batch}x3x32x32, CPU, {steps} timed steps after 1 warm-up\n"
    );
    println!("| state | forward (s) | backward (s) | optimizer (s) | step (s) |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (label, bits) in [("off (FP)", None), ("4-bit reference (QAT)", Some(4))] {
        let [f, b, o, t] = step_phases(bits, steps, batch)?;
        println!("| {label} | {f:.3} | {b:.3} | {o:.3} | {t:.3} |");
    }

    println!(
        "\nPer layer type, each layer timed alone at its ResNet-18 shape (median of 3), summed over the network:\n"
    );
    println!("| layer type | count | forward (s) | backward (s) | total (s) |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let mut rows: Vec<(&str, usize, f64, f64)> = Vec::new();
    for layer in resnet18_layers() {
        let (kind, f, b) = time_layer(&layer, batch, 3)?;
        match rows.iter_mut().find(|r| r.0 == kind) {
            Some(r) => {
                r.1 += 1;
                r.2 += f;
                r.3 += b;
            }
            None => rows.push((kind, 1, f, b)),
        }
    }
    let (mut tf, mut tb) = (0.0, 0.0);
    for (kind, count, f, b) in &rows {
        println!("| {kind} | {count} | {f:.3} | {b:.3} | {:.3} |", f + b);
        tf += f;
        tb += b;
    }
    println!("| sum | | {tf:.3} | {tb:.3} | {:.3} |", tf + tb);
    Ok(())
}
