//! Fake-quant throughput: the fused CPU op (forward, backward) against a plain tensor copy (the
//! memory-bound reference) and against the same quantizer written as candle tensor ops.
//!
//! `cargo bench -p smallscale-quant-core --bench fake_quant`; throughput is reported in elements
//! per second. The op's own backward cost is `forward_backward_*` minus `multiply_backward_only`
//! (the autograd work every elementwise op pays).

use candle_core::{Device, Tensor, Var};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use smallscale_quant_core::{MaxAbsQuantizer, PerChannelMaxAbsQuantizer, Quantizer};

fn data(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
        })
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

/// The reference quantizer as eager tensor ops: max-abs, divide, round, multiply.
fn tensor_ops_fake_quant(x: &Tensor, k: f32) -> Tensor {
    let kt = Tensor::new(k, x.device()).unwrap();
    let s = x
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .broadcast_div(&kt)
        .unwrap();
    x.broadcast_div(&s)
        .unwrap()
        .round()
        .unwrap()
        .broadcast_mul(&s)
        .unwrap()
}

fn forward(c: &mut Criterion) {
    let q = MaxAbsQuantizer::new(4).unwrap();
    let mut g = c.benchmark_group("fake_quant_forward");
    g.sample_size(20);
    let shapes: [(&str, &[usize]); 4] = [
        ("16M", &[16 * 1024 * 1024]),
        ("conv_512x512x3x3", &[512, 512, 3, 3]),
        ("conv_64x64x3x3", &[64, 64, 3, 3]),
        ("linear_768x3072", &[768, 3072]),
    ];
    for (name, shape) in shapes {
        let x = data(shape);
        g.throughput(Throughput::Elements(x.elem_count() as u64));
        g.bench_with_input(BenchmarkId::new("fused_op", name), &x, |b, x| {
            b.iter(|| q.fake_quantize(x).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("per_channel_op", name), &x, |b, x| {
            let pc = PerChannelMaxAbsQuantizer::new(4).unwrap();
            b.iter(|| pc.fake_quantize(x).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("tensor_ops", name), &x, |b, x| {
            b.iter(|| tensor_ops_fake_quant(x, 7.0))
        });
        g.bench_with_input(BenchmarkId::new("copy", name), &x, |b, x| {
            b.iter(|| x.copy().unwrap())
        });
    }
    g.finish();
}

fn backward(c: &mut Criterion) {
    let mut g = c.benchmark_group("fake_quant_backward");
    g.sample_size(10);
    for (name, shape) in [
        ("16M", vec![16 * 1024 * 1024]),
        ("conv_512x512x3x3", vec![512, 512, 3, 3]),
    ] {
        let x = Var::from_tensor(&data(&shape)).unwrap();
        let n = x.elem_count();
        let upstream = data(&shape);
        g.throughput(Throughput::Elements(n as u64));
        for (label, q) in [
            ("faithful_scale", MaxAbsQuantizer::new(4).unwrap()),
            (
                "detached_scale",
                MaxAbsQuantizer::new(4).unwrap().with_detached_scale(),
            ),
        ] {
            g.bench_function(
                BenchmarkId::new(format!("forward_backward_{label}"), name),
                |b| {
                    b.iter(|| {
                        let y = q.fake_quantize(x.as_tensor()).unwrap();
                        (y * &upstream)
                            .unwrap()
                            .sum_all()
                            .unwrap()
                            .backward()
                            .unwrap()
                    })
                },
            );
        }
        g.bench_function(
            BenchmarkId::new("forward_backward_tensor_ops_ste", name),
            |b| {
                b.iter(|| {
                    let x = x.as_tensor();
                    let kt = Tensor::new(7.0f32, x.device()).unwrap();
                    let s = x
                        .abs()
                        .unwrap()
                        .max_all()
                        .unwrap()
                        .broadcast_div(&kt)
                        .unwrap();
                    let z = x.broadcast_div(&s).unwrap();
                    let y = ((z.round().unwrap() - &z).unwrap().detach() + &z)
                        .unwrap()
                        .broadcast_mul(&s)
                        .unwrap();
                    (y * &upstream)
                        .unwrap()
                        .sum_all()
                        .unwrap()
                        .backward()
                        .unwrap()
                })
            },
        );
        g.bench_function(BenchmarkId::new("multiply_backward_only", name), |b| {
            b.iter(|| {
                (x.as_tensor() * &upstream)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, forward, backward);
criterion_main!(benches);
