//! The QAT baselines that reduce oscillations (Nagel et al. 2022): the dampening loss and its
//! gradient against a brute-force computation, the warm-up and cosine schedule, weight freezing on a
//! toy trajectory, and both methods in the trainer (with an exact resume for freezing).

use candle_core::{Device, Tensor, Var};
use proptest::prelude::*;
use smallscale_datasets::{SplitParams, fashion_mnist_embedded};
use smallscale_models::{Model, ModelConfig, ModelContext, build_model};
use smallscale_osc_reg::*;
use smallscale_quant_core::{BitWidth, LsqQuantizer, Quantizer};

/// Brute-force max-abs fake quantization: `s = max|w| / K`, round half to even.
fn brute_quantize(w: &[f64], bits: u32) -> Vec<f64> {
    let k = f64::from((1u32 << (bits - 1)) - 1);
    let max = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if max == 0.0 {
        return w.to_vec();
    }
    let s = max / k;
    w.iter().map(|x| (x / s).round_ties_even() * s).collect()
}

fn weights_from(seed: u64, n: usize) -> Vec<f64> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

#[test]
fn the_dampening_loss_and_its_gradient_match_a_brute_force_computation() {
    // Two layers: a [4, 3] matrix and a vector of 5; f64 so the comparison is tight.
    let a = weights_from(1, 12);
    let b = weights_from(2, 5);
    let wa = Var::from_vec(a.clone(), (4, 3), &Device::Cpu).unwrap();
    let wb = Var::from_vec(b.clone(), 5, &Device::Cpu).unwrap();
    for bits in [2u32, 3, 4] {
        let bw = BitWidth::new(bits).unwrap();
        let (qa, qb) = (brute_quantize(&a, bits), brute_quantize(&b, bits));
        for aggregation in [DampeningAggregation::Mean, DampeningAggregation::KernelMean] {
            let loss = oscillation_dampening_loss(
                &[wa.as_tensor().clone(), wb.as_tensor().clone()],
                bw,
                aggregation,
            )
            .unwrap();
            // Brute force: per layer the aggregate of (q - w)^2; the kernel mean of a [4, 3] matrix
            // sums over the 4 rows and averages the 3 columns; a vector's kernel mean is its sum.
            let sq = |q: &[f64], w: &[f64]| -> Vec<f64> {
                q.iter().zip(w).map(|(q, w)| (q - w).powi(2)).collect()
            };
            let (sa, sb) = (sq(&qa, &a), sq(&qb, &b));
            let (expected, ga, gb): (f64, Vec<f64>, Vec<f64>) = match aggregation {
                DampeningAggregation::Mean => (
                    sa.iter().sum::<f64>() / 12.0 + sb.iter().sum::<f64>() / 5.0,
                    a.iter()
                        .zip(&qa)
                        .map(|(w, q)| -2.0 * (q - w) / 12.0)
                        .collect(),
                    b.iter()
                        .zip(&qb)
                        .map(|(w, q)| -2.0 * (q - w) / 5.0)
                        .collect(),
                ),
                DampeningAggregation::KernelMean => (
                    sa.iter().sum::<f64>() / 3.0 + sb.iter().sum::<f64>(),
                    a.iter()
                        .zip(&qa)
                        .map(|(w, q)| -2.0 * (q - w) / 3.0)
                        .collect(),
                    b.iter().zip(&qb).map(|(w, q)| -2.0 * (q - w)).collect(),
                ),
            };
            let value = loss.to_scalar::<f64>().unwrap();
            assert!(
                (value - expected).abs() < 1e-12,
                "{bits} bits {aggregation:?}: {value} vs {expected}"
            );
            // The target is detached: the gradient is -2 (q - w) / n and nothing flows through the
            // scale into the arg-max weight.
            let grads = loss.backward().unwrap();
            let got_a = grads
                .get(wa.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap();
            let got_b = grads.get(wb.as_tensor()).unwrap().to_vec1::<f64>().unwrap();
            for (g, e) in got_a.iter().zip(&ga).chain(got_b.iter().zip(&gb)) {
                assert!((g - e).abs() < 1e-12, "gradient {g} vs {e}");
            }
        }
    }
}

#[test]
fn the_dampening_gradient_pulls_weights_towards_their_levels_and_matches_finite_differences() {
    let w0 = weights_from(3, 9);
    let w = Var::from_vec(w0.clone(), 9, &Device::Cpu).unwrap();
    let bits = BitWidth::new(3).unwrap();
    let loss = |v: &[f64]| {
        let t = Tensor::from_vec(v.to_vec(), 9, &Device::Cpu).unwrap();
        oscillation_dampening_loss(&[t], bits, DampeningAggregation::Mean)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let l = oscillation_dampening_loss(&[w.as_tensor().clone()], bits, DampeningAggregation::Mean)
        .unwrap();
    let g = l
        .backward()
        .unwrap()
        .get(w.as_tensor())
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let q = brute_quantize(&w0, 3);
    let arg_max = (0..9)
        .max_by(|&i, &j| w0[i].abs().total_cmp(&w0[j].abs()))
        .unwrap();
    for i in 0..9 {
        // Descent (-g) points from w to q(w).
        assert!((-g[i]) * (q[i] - w0[i]) >= 0.0);
        if i == arg_max {
            continue; // moving the max-abs weight moves the scale: not a smooth direction
        }
        // Finite differences with the levels held (a step too small to change any code).
        let h = 1e-7;
        let (mut up, mut down) = (w0.clone(), w0.clone());
        up[i] += h;
        down[i] -= h;
        let fd = (loss(&up) - loss(&down)) / (2.0 * h);
        assert!((fd - g[i]).abs() < 1e-6, "weight {i}: fd {fd} vs {}", g[i]);
    }
}

#[test]
fn no_weights_give_a_zero_dampening_loss() {
    let l = oscillation_dampening_loss(&[], BitWidth::new(4).unwrap(), DampeningAggregation::Mean)
        .unwrap();
    assert_eq!(l.to_scalar::<f32>().unwrap(), 0.0);
}

#[test]
fn the_schedule_holds_then_anneals_by_the_cosine_formula() {
    let ramp = WarmupCosine::new(0.25, 0.0, 0.0, 2.0).unwrap();
    let total = 200;
    for step in 0..=total {
        let t0 = 50.0;
        let expected = if (step as f64) < t0 {
            0.0
        } else {
            let r = ((step as f64 - t0) / (total as f64 - 1.0 - t0)).min(1.0);
            2.0 - 2.0 * (1.0 + (std::f64::consts::PI * r).cos()) / 2.0
        };
        assert!((ramp.value(step, total) - expected).abs() < 1e-12);
    }
    assert!(WarmupCosine::new(-0.1, 0.0, 0.0, 1.0).is_err());
    assert!(WarmupCosine::new(0.2, 0.0, f64::NAN, 1.0).is_err());
    // Freezing's threshold: off (0) in the warm-up, then from its start down to its end.
    let threshold = FreezingParams::new(3).unwrap().schedule();
    assert_eq!(threshold.value(24, 100), 0.0);
    assert_eq!(threshold.value(25, 100), 0.1);
    assert!((threshold.value(99, 100) - 0.01).abs() < 1e-15);
}

proptest! {
    #[test]
    fn the_annealed_value_lies_between_start_and_end_and_moves_one_way(
        start in -5.0f64..5.0, end in -5.0f64..5.0, warmup in 0.0f64..0.99, total in 1usize..500,
    ) {
        let s = WarmupCosine::new(warmup, 0.0, start, end).unwrap();
        let (lo, hi) = (start.min(end) - 1e-12, start.max(end) + 1e-12);
        let mut previous: Option<f64> = None;
        for step in 0..=total {
            let v = s.value(step, total);
            if (step as f64) < warmup * total as f64 {
                prop_assert_eq!(v, 0.0);
                continue;
            }
            prop_assert!(v >= lo && v <= hi);
            if let Some(p) = previous {
                prop_assert!((v - p) * (end - start) >= -1e-12);
            }
            previous = Some(v);
        }
    }
}

#[test]
fn freezing_stops_the_weight_that_oscillates_and_leaves_the_steady_one_alone() {
    // Two-bit (ternary) codes with scale 1 (the third weight is pinned at 1). Weight 0 flips
    // between codes 0 and 1 every step; weight 1 drifts slowly from -0.9 to -0.6 (code -1 throughout).
    let p = FreezingParams::new(2)
        .unwrap()
        .with_momentum(0.1)
        .unwrap()
        .with_thresholds(0.15, 0.15)
        .unwrap();
    let mut freezer = WeightFreezer::new(p);
    let w = Var::new(&[0.4f32, -0.9, 1.0], &Device::Cpu).unwrap();
    let total = 40;
    let mut frozen_at = None;
    // The EMA of weight 0's codes, by hand (from its first code, momentum 0.1).
    let (mut ema, mut expected_value) = (0.0f32, None);
    for step in 0..total {
        let flip = if step % 2 == 0 { 0.6f32 } else { 0.4 };
        let code = if flip > 0.5 { 1.0f32 } else { 0.0 };
        if frozen_at.is_none() {
            ema = if step == 0 {
                code
            } else {
                0.1 * code + 0.9 * ema
            };
        }
        let current = w.as_tensor().to_vec1::<f32>().unwrap();
        // What an optimizer would do: move weight 0 to the other side of the threshold, weight 1 a little.
        let moved = [flip, current[1] + 0.3 / total as f32, 1.0];
        w.set(&Tensor::new(&moved, &Device::Cpu).unwrap()).unwrap();
        freezer
            .step(&[("w".to_string(), w.clone())], step, total)
            .unwrap();
        let (frozen, _) = freezer.frozen("w").unwrap();
        if step < 10 {
            // The warm-up: a quarter of the steps, nothing freezes whatever the frequency.
            assert!(!frozen.iter().any(|&f| f), "froze at step {step}");
        }
        if frozen[0] && frozen_at.is_none() {
            frozen_at = Some(step);
            expected_value = Some(ema.round_ties_even());
        }
    }
    let frozen_at = frozen_at.expect("the oscillating weight froze");
    assert!(frozen_at >= 10);
    let (frozen, values) = freezer.frozen("w").unwrap();
    let (frozen, values) = (frozen.to_vec(), values.to_vec());
    assert_eq!(frozen, [true, false, false]);
    // Frozen at round(EMA of its codes) * scale (scale 1).
    assert_eq!(Some(values[0]), expected_value);
    let now = w.as_tensor().to_vec1::<f32>().unwrap();
    assert_eq!(now[0], values[0]);
    // The steady weight kept moving with its updates.
    assert!((now[1] - (-0.6)).abs() < 1e-4);
    assert_eq!(freezer.frozen_count(), 1);
    assert!((freezer.frozen_fraction() - 1.0 / 3.0).abs() < 1e-12);
    // Once frozen, an update no longer moves the weight.
    w.set(&Tensor::new(&[0.9f32, -0.6, 1.0], &Device::Cpu).unwrap())
        .unwrap();
    freezer
        .step(&[("w".to_string(), w.clone())], total, total)
        .unwrap();
    assert_eq!(w.as_tensor().to_vec1::<f32>().unwrap()[0], values[0]);
}

#[test]
fn freezing_and_dampening_parameters_are_validated() {
    assert!(FreezingParams::new(1).is_err());
    let p = FreezingParams::new(3).unwrap();
    assert!(p.with_thresholds(0.1, 1.0).is_err());
    assert!(p.with_thresholds(f64::NAN, 0.1).is_err());
    assert!(p.with_momentum(1.5).is_err());
    assert!(p.with_warmup_fraction(1.0).is_err());
    assert!(DampeningParams::new(3, f64::INFINITY).is_err());
    assert!(DampeningParams::new(17, 0.1).is_err());
}

fn data() -> ImageData {
    let (train, test) = fashion_mnist_embedded().unwrap();
    ImageData::split(
        train,
        test,
        &SplitParams::new(0.1, 0).unwrap().with_stratified(true),
    )
    .unwrap()
    .truncated(192, 96, 96)
    .unwrap()
}

fn mlp(seed: u64) -> Box<dyn Model> {
    build_model(
        &ModelConfig::default_for("mlp").unwrap(),
        &ModelContext::new(Device::Cpu).with_seed(seed),
    )
    .unwrap()
}

fn weights(model: &dyn Model) -> Vec<Vec<f32>> {
    model
        .named_parameters()
        .iter()
        .map(|(_, v)| {
            v.as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        })
        .collect()
}

#[test]
fn dampening_trains_with_its_weight_ramped_after_the_warm_up_and_logs_its_loss() {
    let d = data();
    let model = mlp(3);
    let method = Method::QatDampen {
        dampening: DampeningParams::new(3, 0.5).unwrap(),
    };
    assert_eq!(method.label(), "qat-dampen-b3-l0.5");
    assert!(method.trains_quantized());
    let config = TrainParams::new(method)
        .with_epochs(4)
        .without_early_stopping()
        .with_batch_size(64)
        .check()
        .unwrap();
    let outcome = Trainer::new(model.as_ref(), &d, config).fit().unwrap();
    // 3 steps per epoch, 12 in all, warm-up 3: the weight is 0 through epoch 0's last step (step 2),
    // then rises to 0.5 at the last step's value of the schedule.
    let weights_logged: Vec<f64> = outcome
        .history
        .iter()
        .map(|r| r.dampening_weight.unwrap())
        .collect();
    assert_eq!(weights_logged[0], 0.0);
    assert!(weights_logged.windows(2).all(|w| w[1] >= w[0]));
    let schedule = DampeningParams::new(3, 0.5).unwrap().schedule();
    assert!((weights_logged[3] - schedule.value(11, 12)).abs() < 1e-12);
    assert!(
        (weights_logged[3] - 0.5).abs() < 1e-12,
        "the final weight at the last step"
    );
    assert!(outcome.history.iter().all(|r| r.dampening.unwrap() > 0.0));
    assert!(
        outcome
            .history
            .iter()
            .all(|r| r.validation_accuracy_quantized.is_some())
    );
    assert!(
        outcome.history[0].regularizer.is_none() && outcome.history[0].frozen_fraction.is_none()
    );
}

#[test]
fn a_crashed_freezing_run_resumes_with_its_frozen_weights_and_ends_where_an_uninterrupted_one_does()
{
    let d = data();
    let dir = tempfile::tempdir().unwrap();
    // A low threshold and a fast EMA, so weights freeze within a few steps of this tiny run.
    let freezing = FreezingParams::new(2)
        .unwrap()
        .with_momentum(0.3)
        .unwrap()
        .with_thresholds(0.05, 0.05)
        .unwrap();
    let config = || {
        TrainParams::new(Method::QatFreeze { freezing })
            .with_epochs(4)
            .without_early_stopping()
            .with_batch_size(32)
            .with_seed(5)
            .check()
            .unwrap()
    };
    let reference = mlp(7);
    let full = Trainer::new(reference.as_ref(), &d, config())
        .with_run_dir(dir.path().join("a"))
        .fit()
        .unwrap();
    let fractions: Vec<f64> = full
        .history
        .iter()
        .map(|r| r.frozen_fraction.unwrap())
        .collect();
    assert_eq!(fractions[0], 0.0, "nothing freezes in the warm-up epoch");
    assert!(
        *fractions.last().unwrap() > 0.0,
        "some weights froze: {fractions:?}"
    );
    assert!(full.history.iter().all(|r| r.oscillations.is_some()));
    // Crash after epoch 2 has been committed, resume in a fresh model.
    let crashed = mlp(7);
    let run_dir = dir.path().join("b");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Trainer::new(crashed.as_ref(), &d, config())
            .with_run_dir(&run_dir)
            .on_epoch(|r| {
                if r.epoch == 2 {
                    panic!("simulated crash");
                }
            })
            .fit()
    }));
    assert!(result.is_err());
    let resumed_model = mlp(99);
    let resumed = Trainer::new(resumed_model.as_ref(), &d, config())
        .with_run_dir(&run_dir)
        .fit()
        .unwrap();
    assert_eq!(resumed.resumed_at_epoch, Some(3));
    assert_eq!(weights(resumed_model.as_ref()), weights(reference.as_ref()));
    for (a, b) in resumed.history.iter().zip(&full.history) {
        assert_eq!(
            (a.train_cross_entropy, a.frozen_fraction, a.monitored),
            (b.train_cross_entropy, b.frozen_fraction, b.monitored)
        );
    }
}

#[test]
fn baseline_settings_are_recorded_in_json_and_checked_when_read_back() {
    let method = Method::QatFreeze {
        freezing: FreezingParams::new(3)
            .unwrap()
            .with_thresholds(0.08, 0.02)
            .unwrap(),
    };
    let json = serde_json::to_value(method).unwrap();
    assert_eq!(json["method"], "qat-freeze");
    assert_eq!(json["freezing"]["threshold_start"], 0.08);
    let back: Method = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, method);
    // A file edited to an invalid threshold is refused, not trained with.
    let mut bad = json;
    bad["freezing"]["threshold_end"] = serde_json::json!(2.0);
    let err = serde_json::from_value::<Method>(bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("freezing threshold"), "{err}");
    let dampen = Method::QatDampen {
        dampening: DampeningParams::new(2, 0.1)
            .unwrap()
            .with_aggregation(DampeningAggregation::KernelMean),
    };
    let json = serde_json::to_value(dampen).unwrap();
    assert_eq!(json["dampening"]["aggregation"], "kernel-mean");
    assert_eq!(serde_json::from_value::<Method>(json).unwrap(), dampen);
    let bad = serde_json::json!({"method": "qat-dampen", "dampening": {"bits": 3, "lambda": -1.0}});
    assert!(serde_json::from_value::<Method>(bad).is_err());
    // The same settings at another bit (how reproduce runs a baseline at every target bit).
    assert_eq!(
        dampen.with_target_bits(BitWidth::new(4).unwrap()).label(),
        "qat-dampen-b4-l0.1"
    );
}

#[test]
fn more_epochs_for_a_finished_baseline_run_are_refused_because_its_schedule_would_change() {
    let d = data();
    let dir = tempfile::tempdir().unwrap();
    let config = |epochs| {
        TrainParams::new(Method::QatDampen {
            dampening: DampeningParams::new(3, 0.1).unwrap(),
        })
        .with_epochs(epochs)
        .with_batch_size(64)
        .check()
        .unwrap()
    };
    let model = mlp(1);
    Trainer::new(model.as_ref(), &d, config(1))
        .with_run_dir(dir.path())
        .fit()
        .unwrap();
    let err = Trainer::new(model.as_ref(), &d, config(2))
        .with_run_dir(dir.path())
        .fit()
        .unwrap_err()
        .to_string();
    assert!(err.contains("qat-dampen warm-up and annealing"), "{err}");
}

#[test]
fn lsq_qat_learns_a_step_per_tensor_and_is_evaluated_with_its_learned_steps() {
    let d = data();
    let dir = tempfile::tempdir().unwrap();
    let bits = BitWidth::new(3).unwrap();
    let method = Method::QatLsq { bits };
    assert_eq!(method.label(), "qat-lsq-b3");
    let config = || {
        TrainParams::new(method)
            .with_epochs(3)
            .without_early_stopping()
            .with_batch_size(64)
            .with_seed(2)
            .check()
            .unwrap()
    };
    let model = mlp(4);
    let initial = LsqSteps::init(model.as_ref(), bits)
        .unwrap()
        .values()
        .unwrap();
    let full = Trainer::new(model.as_ref(), &d, config())
        .with_run_dir(dir.path().join("a"))
        .fit()
        .unwrap();
    // One step per quantized tensor, moved by training from the paper's initial value.
    let learned = full.learned_steps().unwrap().clone();
    assert_eq!(learned.len(), model.quantized_vars().len());
    assert_eq!(
        learned.keys().collect::<Vec<_>>(),
        initial.keys().collect::<Vec<_>>()
    );
    assert!(
        learned.iter().any(|(k, v)| (v - initial[k]).abs() > 1e-6),
        "{learned:?} vs {initial:?}"
    );
    // The monitored accuracy of the selected epoch is the validation accuracy with the learned
    // steps, recomputed here on the selected model; the reference quantizer gives another number.
    let steps = full.deployed_steps(model.as_ref()).unwrap().unwrap();
    let selector = model.quant().get().selector().clone();
    // Under the learned state each tensor is fake-quantized with its own step, not the max-abs scale.
    let lsq_state = steps.state(selector.clone()).unwrap();
    let (name, var) = &model.quantized_vars()[0];
    let own = LsqQuantizer::with_step(var.as_tensor(), bits, learned[name]).unwrap();
    let flat = |t: candle_core::Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(
        flat(lsq_state.apply(name, var.as_tensor()).unwrap()),
        flat(own.fake_quantize(var.as_tensor()).unwrap())
    );
    let reference_state = smallscale_models::QuantizationState::reference(3).unwrap();
    assert_ne!(
        flat(lsq_state.apply(name, var.as_tensor()).unwrap()),
        flat(reference_state.apply(name, var.as_tensor()).unwrap())
    );
    let with_steps = accuracy(
        model.as_ref(),
        &d.validation,
        &d.normalization,
        steps.state(selector.clone()).unwrap(),
        EVAL_BATCH_SIZE,
    )
    .unwrap();
    assert_eq!(with_steps, full.best_monitored);
    let cross = CrossBitEvaluation::new(&[bits, BitWidth::new(8).unwrap()])
        .with_learned_steps(&steps)
        .run(model.as_ref(), &d.test, &d.normalization)
        .unwrap();
    let reference = cross_bit_evaluation(
        model.as_ref(),
        &d.test,
        &d.normalization,
        &[bits, BitWidth::new(8).unwrap()],
        128,
    )
    .unwrap();
    assert_eq!(
        cross.at(BitWidth::new(8).unwrap()),
        reference.at(BitWidth::new(8).unwrap())
    );
    assert_eq!(cross.fp, reference.fp);
    // The run directory gives the same steps back (what `smallscale eval` reads).
    assert_eq!(
        learned_steps(&dir.path().join("a")).unwrap().unwrap(),
        learned
    );

    // A crashed run resumes with its steps and their Adam moments, and ends where the full one does.
    let run_dir = dir.path().join("b");
    let crashed = mlp(4);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Trainer::new(crashed.as_ref(), &d, config())
            .with_run_dir(&run_dir)
            .on_epoch(|r| {
                if r.epoch == 1 {
                    panic!("simulated crash");
                }
            })
            .fit()
    }));
    assert!(result.is_err());
    let resumed_model = mlp(99);
    let resumed = Trainer::new(resumed_model.as_ref(), &d, config())
        .with_run_dir(&run_dir)
        .fit()
        .unwrap();
    assert_eq!(resumed.resumed_at_epoch, Some(2));
    for (a, b) in resumed.history.iter().zip(&full.history) {
        assert_eq!(
            (a.train_cross_entropy, a.monitored, &a.lsq_steps),
            (b.train_cross_entropy, b.monitored, &b.lsq_steps)
        );
    }
}

#[test]
fn lsq_learns_steps_for_convolutions_and_linear_layers_and_keeps_them_positive() {
    // The small CNN has BatchNorm: its gammas (all one at the start) keep the reference quantizer,
    // which maps them to one at 2 bits; LSQ's initial step 2 would have rounded every one to zero.
    let model = build_model(
        &ModelConfig::default_for("small-cnn").unwrap(),
        &ModelContext::new(Device::Cpu).with_seed(0),
    )
    .unwrap();
    let bits = BitWidth::new(2).unwrap();
    let steps = LsqSteps::init(model.as_ref(), bits).unwrap();
    let vars = model.quantized_vars();
    let learned: Vec<&str> = vars
        .iter()
        .filter(|(_, v)| v.rank() >= 2)
        .map(|(n, _)| n.as_str())
        .collect();
    let values = steps.values().unwrap();
    assert_eq!(
        values.keys().map(String::as_str).collect::<Vec<_>>(),
        learned
    );
    assert!(
        learned.len() < vars.len(),
        "the norm gammas have no learned step"
    );
    let state = steps.state(model.quant().get().selector().clone()).unwrap();
    let (gamma_name, gamma) = vars.iter().find(|(_, v)| v.rank() == 1).unwrap();
    let q = state
        .apply(gamma_name, gamma.as_tensor())
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert!(q.iter().all(|&v| v == 1.0), "{gamma_name}: {q:?}");
    // A step pushed through zero is put back on the floor.
    let mut pushed = values.clone();
    let first = learned[0].to_string();
    pushed.insert(first.clone(), -0.5);
    steps.set_values(&pushed).unwrap();
    steps.keep_positive().unwrap();
    assert_eq!(
        steps.values().unwrap()[&first],
        LSQ_STEP_FLOOR as f32 as f64
    );
}
