//! Batch norm: batch statistics and running-statistics updates in training, running statistics in
//! evaluation, exactly as PyTorch.

mod common;

use candle_core::{Device, Tensor};
use smallscale_models::{BatchNorm2d, ModelContext, ModelError, build_model};

fn vec1(t: &Tensor) -> Vec<f32> {
    t.to_vec1::<f32>().unwrap()
}

#[test]
fn training_updates_running_stats_like_pytorch_and_eval_uses_them() {
    let ctx = ModelContext::new(Device::Cpu);
    let bn = BatchNorm2d::new(&ctx.pp("bn"), 2).unwrap();
    // [2, 2, 1, 2]: channel 0 values {1, 2, 5, 8}, channel 1 values {0, 0, 4, 4}
    let x = Tensor::new(&[1.0f32, 2.0, 0.0, 0.0, 5.0, 8.0, 4.0, 4.0], &Device::Cpu)
        .unwrap()
        .reshape((2, 2, 1, 2))
        .unwrap();
    let y = bn.forward_t(&x, true).unwrap();
    // channel 0: mean 4, biased var (9 + 4 + 1 + 16) / 4 = 7.5, unbiased 10
    // channel 1: mean 2, biased var 4, unbiased 16/3
    let y0 = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let expect0 = (1.0 - 4.0) / (7.5f32 + 1e-5).sqrt();
    assert!((y0[0] - expect0).abs() < 1e-6, "{} vs {expect0}", y0[0]);
    let rm = vec1(&bn.running_mean().unwrap());
    let rv = vec1(&bn.running_var().unwrap());
    assert!(
        (rm[0] - 0.4).abs() < 1e-6 && (rm[1] - 0.2).abs() < 1e-6,
        "{rm:?}"
    );
    assert!((rv[0] - (0.9 + 1.0)).abs() < 1e-6, "{rv:?}");
    assert!((rv[1] - (0.9 + 0.1 * 16.0 / 3.0)).abs() < 1e-6, "{rv:?}");
    let tracked = ctx
        .buffers()
        .get("bn.num_batches_tracked")
        .unwrap()
        .to_scalar::<i64>()
        .unwrap();
    assert_eq!(tracked, 1);

    // Evaluation normalizes with the running statistics and leaves them alone.
    let e = bn.forward_t(&x, false).unwrap().flatten_all().unwrap();
    let e = e.to_vec1::<f32>().unwrap();
    let expect = (1.0 - 0.4) / (1.9f32 + 1e-5).sqrt();
    assert!((e[0] - expect).abs() < 1e-6, "{} vs {expect}", e[0]);
    assert_eq!(vec1(&bn.running_mean().unwrap()), rm);
}

#[test]
fn eval_mode_of_a_model_is_deterministic_per_example_and_train_mode_updates_buffers() {
    let model = build_model(&common::tiny_cnn(), &ModelContext::new(Device::Cpu)).unwrap();
    let x = common::randn(4, &[4, 1, 8, 8]);
    let before = model.buffers().snapshot();
    let eval_a = model.forward_t(&x, false).unwrap();
    assert_eq!(
        before["bn1.running_mean"].to_vec1::<f32>().unwrap(),
        model
            .buffers()
            .get("bn1.running_mean")
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    );
    // In eval mode an example's logits do not depend on the rest of the batch.
    let single = model.forward_t(&x.narrow(0, 0, 1).unwrap(), false).unwrap();
    let a = eval_a
        .narrow(0, 0, 1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let b = single.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    for (u, v) in a.iter().zip(&b) {
        assert!((u - v).abs() < 1e-5);
    }
    model.forward_t(&x, true).unwrap();
    let after = model
        .buffers()
        .get("bn2.running_var")
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_ne!(after, before["bn2.running_var"].to_vec1::<f32>().unwrap());
    // ... and the eval output now differs, because the running statistics moved.
    let eval_b = model.forward_t(&x, false).unwrap();
    assert_ne!(
        eval_a.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        eval_b.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    );
}

#[test]
fn a_single_value_per_channel_in_training_is_a_clear_error() {
    let ctx = ModelContext::new(Device::Cpu);
    let bn = BatchNorm2d::new(&ctx.pp("layer1.0.bn1"), 3).unwrap();
    let x = common::randn(1, &[1, 3, 1, 1]);
    let err = bn.forward_t(&x, true).unwrap_err();
    assert!(
        matches!(err, ModelError::BatchTooSmall { count: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("layer1.0.bn1"), "{err}");
    assert!(bn.forward_t(&x, false).is_ok());
}

/// Mean and unbiased variance of each channel of `[n, c, h, w]` values, computed directly.
fn channel_mean_and_unbiased_var(x: &Tensor) -> (Vec<f64>, Vec<f64>) {
    let (n, c, h, w) = x.dims4().unwrap();
    let v = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let mut means = vec![0.0; c];
    let mut vars = vec![0.0; c];
    for ch in 0..c {
        let vals: Vec<f64> = (0..n)
            .flat_map(|i| (0..h * w).map(move |j| (i, j)))
            .map(|(i, j)| f64::from(v[(i * c + ch) * h * w + j]))
            .collect();
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        let var = vals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (vals.len() - 1) as f64;
        means[ch] = mean;
        vars[ch] = var;
    }
    (means, vars)
}

#[test]
fn cumulative_update_sets_the_plain_average_of_the_batch_statistics_and_the_mode_is_restored() {
    use smallscale_models::RunningStatsUpdate;
    let ctx = ModelContext::new(Device::Cpu);
    let bn = BatchNorm2d::new(&ctx.pp("bn"), 3).unwrap();
    let batch = |seed: u64| {
        let v: Vec<f32> = (0..3 * 3 * 2 * 2)
            .map(|i| ((i as u64 * 7919 + seed * 104_729) % 97) as f32 / 9.0 - seed as f32)
            .collect();
        Tensor::new(v.as_slice(), &Device::Cpu)
            .unwrap()
            .reshape((3, 3, 2, 2))
            .unwrap()
    };
    // Old statistics that the cumulative mode must forget entirely.
    bn.forward_t(&batch(9), true).unwrap();
    let buffers = ctx.buffers();
    let saved = buffers.copy().unwrap();
    let batches: Vec<Tensor> = (1..=4).map(batch).collect();
    buffers.with_running_stats_update(RunningStatsUpdate::Cumulative, || {
        for b in &batches {
            bn.forward_t(b, true).unwrap();
        }
    });
    assert_eq!(
        buffers.running_stats_update(),
        RunningStatsUpdate::Exponential
    );
    let stats: Vec<_> = batches.iter().map(channel_mean_and_unbiased_var).collect();
    let rm = vec1(&bn.running_mean().unwrap());
    let rv = vec1(&bn.running_var().unwrap());
    for ch in 0..3 {
        let mean = stats.iter().map(|s| s.0[ch]).sum::<f64>() / 4.0;
        let var = stats.iter().map(|s| s.1[ch]).sum::<f64>() / 4.0;
        assert!((f64::from(rm[ch]) - mean).abs() < 1e-5, "{rm:?} vs {mean}");
        assert!((f64::from(rv[ch]) - var).abs() < 1e-4, "{rv:?} vs {var}");
    }
    // Setting the mode again starts a new average: one batch replaces the statistics.
    buffers.with_running_stats_update(RunningStatsUpdate::Cumulative, || {
        bn.forward_t(&batches[0], true).unwrap();
    });
    let rm = vec1(&bn.running_mean().unwrap());
    assert!((f64::from(rm[0]) - stats[0].0[0]).abs() < 1e-5);
    // Restoring the copy puts the old statistics back.
    buffers.restore(&saved);
    assert_eq!(
        vec1(&bn.running_mean().unwrap()),
        vec1(saved.get("bn.running_mean").unwrap())
    );
}
