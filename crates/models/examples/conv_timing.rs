use candle_core::{Device, Tensor, Var};
use std::time::Instant;
fn main() {
    let shapes = [
        (3, 64, 32, 1, 3),
        (64, 64, 32, 1, 3),
        (64, 128, 32, 2, 3),
        (64, 128, 32, 2, 1),
        (128, 128, 16, 1, 3),
        (128, 256, 16, 2, 3),
        (256, 256, 8, 1, 3),
        (256, 512, 8, 2, 3),
        (512, 512, 4, 1, 3),
    ];
    let mut tot = [0.0; 3];
    for (cin, cout, side, stride, k) in shapes {
        let x = Var::from_tensor(
            &Tensor::randn(0f32, 1.0, (32, cin, side, side), &Device::Cpu).unwrap(),
        )
        .unwrap();
        let w =
            Var::from_tensor(&Tensor::randn(0f32, 1.0, (cout, cin, k, k), &Device::Cpu).unwrap())
                .unwrap();
        let pad = k / 2;
        let mut best = [f64::MAX; 3];
        for _ in 0..4 {
            let t = Instant::now();
            let y = smallscale_models::kernels::conv2d(x.as_tensor(), w.as_tensor(), pad, stride)
                .unwrap();
            let f = t.elapsed().as_secs_f64();
            let g = Tensor::ones(y.dims(), candle_core::DType::F32, &Device::Cpu).unwrap();
            let loss = (y * g).unwrap().sum_all().unwrap();
            let t = Instant::now();
            let _ = loss.backward().unwrap();
            let b = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let _ = g_only(&x, &w, pad, stride);
            let b2 = t.elapsed().as_secs_f64();
            best = [best[0].min(f), best[1].min(b), best[2].min(b2)];
        }
        println!(
            "{cin}->{cout} side {side} s{stride} k{k}: fwd {:.1} ms, bwd(full) {:.1} ms, bwd(w only) {:.1}",
            best[0] * 1e3,
            best[1] * 1e3,
            best[2] * 1e3
        );
        for i in 0..3 {
            tot[i] += best[i];
        }
    }
    println!(
        "total fwd {:.1} bwd {:.1} wonly {:.1}",
        tot[0] * 1e3,
        tot[1] * 1e3,
        tot[2] * 1e3
    );
}
fn g_only(x: &Var, w: &Var, pad: usize, stride: usize) {
    let y = smallscale_models::kernels::conv2d(&x.as_tensor().detach(), w.as_tensor(), pad, stride)
        .unwrap();
    let g = Tensor::ones(y.dims(), candle_core::DType::F32, &Device::Cpu).unwrap();
    let _ = (y * g).unwrap().sum_all().unwrap().backward().unwrap();
}
