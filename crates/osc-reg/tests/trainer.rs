//! The trainer: determinism, resumption after a crash, early stopping, model selection and state
//! restoration.

use candle_core::{Device, Tensor};
use smallscale_datasets::{SplitParams, fashion_mnist_embedded};
use smallscale_models::{
    Model, ModelConfig, ModelContext, OptimizerConfig, QuantizationState, Schedule, build_model,
};
use smallscale_osc_reg::*;

/// A batch's images as a `[B, C, H, W]` tensor on the CPU.
fn images_of(b: &smallscale_datasets::ImageBatch) -> Tensor {
    let s = b.shape;
    Tensor::from_slice(
        &b.images,
        (b.len(), s.channels, s.height, s.width),
        &Device::Cpu,
    )
    .unwrap()
}

/// Bit-widths from numbers.
fn bits(numbers: &[u32]) -> Vec<smallscale_quant_core::BitWidth> {
    numbers
        .iter()
        .map(|&b| smallscale_quant_core::BitWidth::new(b).unwrap())
        .collect()
}

/// A stratified 10% validation split, seed 0.
fn split_params() -> SplitParams {
    SplitParams::new(0.1, 0).unwrap().with_stratified(true)
}

fn data() -> ImageData {
    let (train, test) = fashion_mnist_embedded().unwrap();
    ImageData::split(train, test, &split_params())
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
fn training_is_deterministic_given_a_seed() {
    let d = data();
    let run = || {
        let model = mlp(3);
        let method = Method::Reg {
            regularizer: RegularizerParams::new(3, 2.0).unwrap(),
        };
        let config = TrainParams::new(method)
            .with_epochs(2)
            .with_batch_size(64)
            .with_seed(5)
            .with_augment(true)
            .check()
            .unwrap();
        let outcome = Trainer::new(model.as_ref(), &d, config).fit().unwrap();
        (outcome.history, weights(model.as_ref()))
    };
    let (h1, w1) = run();
    let (h2, w2) = run();
    assert_eq!(w1, w2);
    let strip = |h: Vec<EpochRecord>| {
        h.into_iter()
            .map(|r| (r.train_cross_entropy, r.regularizer, r.monitored))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(h1), strip(h2));
}

#[test]
fn a_crashed_run_resumes_from_its_last_checkpoint_and_ends_where_an_uninterrupted_one_does() {
    let d = data();
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        TrainParams::new(Method::Qat {
            bits: smallscale_quant_core::BitWidth::new(4).unwrap(),
        })
        .with_epochs(3)
        .without_early_stopping()
        .with_batch_size(64)
        .with_seed(11)
        .check()
        .unwrap()
    };
    // Uninterrupted.
    let reference = mlp(7);
    let full = Trainer::new(reference.as_ref(), &d, config())
        .with_run_dir(dir.path().join("a"))
        .fit()
        .unwrap();
    // Crash right after epoch 1 has been saved.
    let crashed = mlp(7);
    let run_dir = dir.path().join("b");
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
    assert!(run_dir.join("state.json").exists());
    // A fresh process: a new model with another initialization resumes from the files.
    let resumed_model = mlp(99);
    let resumed = Trainer::new(resumed_model.as_ref(), &d, config())
        .with_run_dir(&run_dir)
        .fit()
        .unwrap();
    assert_eq!(resumed.resumed_at_epoch, Some(2));
    assert_eq!(resumed.history.len(), 3);
    assert_eq!(weights(resumed_model.as_ref()), weights(reference.as_ref()));
    for (a, b) in resumed.history.iter().zip(&full.history) {
        assert_eq!(
            (a.train_cross_entropy, a.monitored, a.best),
            (b.train_cross_entropy, b.monitored, b.best)
        );
    }
    // Running it again does not retrain: the finished run is loaded.
    let again_model = mlp(1234);
    let again = Trainer::new(again_model.as_ref(), &d, config())
        .with_run_dir(&run_dir)
        .fit()
        .unwrap();
    assert_eq!(again.history.len(), 3);
    assert_eq!(weights(again_model.as_ref()), weights(reference.as_ref()));
    let metrics = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 3);
    for line in metrics.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["validation_accuracy_quantized"].is_number());
    }
    // Only the last epoch's checkpoint is kept, plus the best.
    let files: Vec<String> = std::fs::read_dir(&run_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        files.contains(&"best.safetensors".to_string())
            && files.contains(&"epoch-2.safetensors".to_string())
    );
    assert!(!files.contains(&"epoch-0.safetensors".to_string()));
    // A kill after the last epoch's state was committed but before its checkpoint was copied to
    // best.safetensors (simulated by removing the copy): the next run completes the copy.
    assert_eq!(
        full.best_epoch, 2,
        "the check needs the last epoch to be the best"
    );
    std::fs::remove_file(run_dir.join("best.safetensors")).unwrap();
    let repaired_model = mlp(4321);
    let repaired = Trainer::new(repaired_model.as_ref(), &d, config())
        .with_run_dir(&run_dir)
        .fit()
        .unwrap();
    assert!(repaired.already_finished);
    assert_eq!(
        weights(repaired_model.as_ref()),
        weights(reference.as_ref())
    );
    // A different configuration in the same directory is refused.
    let other = TrainParams::new(Method::Fp).with_epochs(3).check().unwrap();
    let err = Trainer::new(mlp(1).as_ref(), &d, other)
        .with_run_dir(&run_dir)
        .fit()
        .unwrap_err();
    assert!(err.to_string().contains("different configuration"), "{err}");
}

#[test]
fn early_stopping_keeps_the_best_model_and_selects_on_the_right_accuracy() {
    let d = data();
    let model = mlp(2);
    // A learning rate so small that nothing improves after the first epoch.
    let config = TrainParams::new(Method::Reg {
        regularizer: RegularizerParams::new(2, 1.0).unwrap(),
    })
    .with_optimizer(OptimizerConfig::adam(1e-12))
    .with_epochs(10)
    .with_patience(2)
    .with_batch_size(64)
    .check()
    .unwrap();
    let before = model.quant().get();
    let outcome = Trainer::new(model.as_ref(), &d, config).fit().unwrap();
    assert!(outcome.stopped_early);
    assert_eq!(outcome.history.len(), 3);
    assert_eq!(outcome.best_epoch, 0);
    // Reg selects on the validation accuracy after PTQ at the target bit, and the model holds the best
    // weights afterwards; the quantization state is restored.
    let rec = &outcome.history[0];
    assert_eq!(Some(rec.monitored), rec.validation_accuracy_quantized);
    assert!(model.quant().get().is_off() && before.is_off());
    let acc = accuracy(
        model.as_ref(),
        &d.validation,
        &d.normalization,
        QuantizationState::reference(2).unwrap(),
        64,
    )
    .unwrap();
    assert_eq!(acc, outcome.best_monitored);
    // FP selects on the FP accuracy.
    let fp = Trainer::new(
        mlp(2).as_ref(),
        &d,
        TrainParams::new(Method::Fp).with_epochs(1).check().unwrap(),
    )
    .fit()
    .unwrap();
    assert_eq!(
        fp.history[0].monitored,
        fp.history[0].validation_accuracy_fp
    );
    assert!(fp.history[0].validation_accuracy_quantized.is_none());
}

#[test]
fn qat_and_reg_track_oscillations_and_reg_logs_its_value() {
    let d = data();
    let model = mlp(4);
    let config = TrainParams::new(Method::Reg {
        regularizer: RegularizerParams::new(2, 10.0).unwrap(),
    })
    .with_epochs(1)
    .with_batch_size(32)
    .check()
    .unwrap();
    let outcome = Trainer::new(model.as_ref(), &d, config).fit().unwrap();
    let rec = &outcome.history[0];
    let osc = rec.oscillations.as_ref().unwrap();
    assert_eq!(osc.layers.len(), model.quantized_weights().len());
    assert!(osc.layers.iter().all(|l| l.steps == 5)); // 192 examples / 32 = 6 updates: 5 after the first
    assert!(rec.regularizer.is_some());
}

#[test]
fn cross_bit_evaluation_restores_the_quantization_state() {
    let d = data();
    let model = mlp(8);
    model.quant().set(QuantizationState::reference(5).unwrap());
    let r = cross_bit_evaluation(
        model.as_ref(),
        &d.test,
        &d.normalization,
        &bits(&[2, 3, 8]),
        64,
    )
    .unwrap();
    assert_eq!(
        r.per_bit.iter().map(|(b, _)| *b).collect::<Vec<_>>(),
        [2, 3, 8]
    );
    assert_eq!(model.quant().bits().map(|b| b.get()), Some(5));
    // FP equals the plain accuracy with quantization off.
    let fp = accuracy(
        model.as_ref(),
        &d.test,
        &d.normalization,
        QuantizationState::off(),
        64,
    )
    .unwrap();
    assert_eq!(r.fp, fp);
    // BN re-estimation is skipped for a model without BatchNorm.
    assert!(!has_batch_norm(model.as_ref()));
    let with_bn = CrossBitEvaluation::new(&bits(&[8, 2, 3, 2]))
        .with_batch_size(64)
        .with_batch_norm_reestimation(&d.train, 2, 32)
        .run(model.as_ref(), &d.test, &d.normalization)
        .unwrap();
    assert_eq!(with_bn.per_bit, r.per_bit);
    assert_eq!(with_bn.per_bit_bn_reestimated, None);
}

#[test]
fn batch_norm_reestimation_averages_the_batch_statistics_at_each_bit_and_restores_the_buffers() {
    use smallscale_datasets::{BatchParams, ImageBatcher};
    let d = data();
    let cnn = build_model(
        &ModelConfig::default_for("small-cnn").unwrap(),
        &ModelContext::new(Device::Cpu).with_seed(3),
    )
    .unwrap();
    assert!(has_batch_norm(cnn.as_ref()));
    // Some statistics that the re-estimation must forget.
    let x = Tensor::randn(0f32, 3.0, (16, 1, 28, 28), &Device::Cpu).unwrap();
    cnn.forward_t(&x, true).unwrap();
    let before = cnn.buffers().copy().unwrap();

    // Independent computation: the first BatchNorm's input is the first convolution's output,
    // so its per-batch mean and unbiased variance can be computed from the same batches in the
    // same order with the weights quantized at 2 bits.
    let state = QuantizationState::reference(2).unwrap();
    let bn_name = cnn
        .buffer_names()
        .into_iter()
        .find(|n| n.ends_with("running_mean"))
        .unwrap();
    // Re-estimates on 3 batches of 32 at 2 bits; the saved buffers and bn1's new running mean.
    let reestimate = || {
        let saved = reestimate_batch_norm(
            cnn.as_ref(),
            &d.train,
            &d.normalization,
            state.clone(),
            3,
            32,
        )
        .unwrap();
        let mean = cnn
            .buffers()
            .get(&bn_name)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        (saved, mean)
    };
    let (saved, reestimated) = reestimate();
    // The same through momentum updates replayed from zero would mix in the old statistics; the
    // plain average of three batches must not depend on them: start again from other statistics.
    cnn.buffers().restore(&saved);
    cnn.forward_t(&(x * 2.0).unwrap(), true).unwrap();
    let (again, second) = reestimate();
    assert_eq!(reestimated, second);
    cnn.buffers().restore(&again);

    // The average of the three batches' first-layer statistics, computed from the batches.
    let batcher = ImageBatcher::new(&d.train, BatchParams::new(32).unwrap().with_seed(0x5eed))
        .with_normalization(d.normalization.clone());
    // The small CNN's first block: conv1 (3x3, padding 1, no bias) then bn1.
    assert!(bn_name.starts_with("bn1."), "{bn_name}");
    let conv1 = cnn
        .named_parameters()
        .into_iter()
        .find(|(n, _)| n == "conv1.weight")
        .unwrap()
        .1;
    let w = state.apply("conv1.weight", conv1.as_tensor()).unwrap();
    let mut means: Vec<Vec<f64>> = Vec::new();
    for batch in batcher.epoch(0).take(3) {
        let x = images_of(&batch.unwrap());
        let y = x.conv2d(&w, 1, 1, 1, 1).unwrap();
        let mean = y.mean((0, 2, 3)).unwrap().to_vec1::<f32>().unwrap();
        means.push(mean.iter().map(|&m| f64::from(m)).collect());
    }
    for (c, &r) in reestimated.iter().enumerate() {
        let want = means.iter().map(|m| m[c]).sum::<f64>() / 3.0;
        assert!(
            (f64::from(r) - want).abs() < 1e-4,
            "channel {c}: {r} vs {want}"
        );
    }

    // Cross-bit evaluation with re-estimation equals re-estimating by hand, and restores the
    // buffers and the quantization state.
    cnn.buffers().restore(&before);
    let r = CrossBitEvaluation::new(&bits(&[2, 8]))
        .with_batch_size(64)
        .with_batch_norm_reestimation(&d.train, 3, 32)
        .run(cnn.as_ref(), &d.test, &d.normalization)
        .unwrap();
    let (saved, _) = reestimate();
    let by_hand = accuracy(cnn.as_ref(), &d.test, &d.normalization, state, 64).unwrap();
    cnn.buffers().restore(&saved);
    assert_eq!(r.bn_reestimated_at(bits(&[2])[0]), Some(by_hand));
    let now = cnn
        .buffers()
        .get(&bn_name)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(now, before.get(&bn_name).unwrap().to_vec1::<f32>().unwrap());
    assert!(cnn.quant().is_off());
    // Invalid settings are refused before anything runs.
    for (batches, size) in [(0, 32), (3, 1)] {
        let err = CrossBitEvaluation::new(&bits(&[2]))
            .with_batch_norm_reestimation(&d.train, batches, size)
            .run(cnn.as_ref(), &d.test, &d.normalization)
            .unwrap_err();
        assert!(
            err.to_string().contains("at least 1 batch of at least 2"),
            "{err}"
        );
    }
}

#[test]
fn qat_collects_batch_norm_statistics_with_quantized_weights_and_reg_with_fp_weights() {
    use smallscale_datasets::{BatchParams, ImageBatcher};
    let (train, test) = fashion_mnist_embedded().unwrap();
    let d = ImageData::split(train, test, &split_params())
        .unwrap()
        .truncated(128, 64, 64)
        .unwrap();
    let cnn = || {
        build_model(
            &ModelConfig::default_for("small-cnn").unwrap(),
            &ModelContext::new(Device::Cpu).with_seed(5),
        )
        .unwrap()
    };
    // Replays one epoch of training forwards (same batches, same order) with a given state and returns
    // the running statistics.
    let replay = |state: QuantizationState| {
        let m = cnn();
        m.quant().set(state);
        let batcher = ImageBatcher::new(&d.train, BatchParams::new(64).unwrap().with_seed(9))
            .with_normalization(d.normalization.clone());
        for batch in batcher.epoch(0) {
            let x = images_of(&batch.unwrap());
            m.forward_t(&x, true).unwrap();
        }
        m.buffers().snapshot()
    };
    let trained = |method: Method| {
        let m = cnn();
        // A vanishing learning rate: the weights do not move, so only the BN statistics differ.
        let config = TrainParams::new(method)
            .with_optimizer(OptimizerConfig::adam(1e-30))
            .with_epochs(1)
            .with_batch_size(64)
            .with_seed(9)
            .check()
            .unwrap();
        Trainer::new(m.as_ref(), &d, config).fit().unwrap();
        m.buffers().snapshot()
    };
    let bits = smallscale_quant_core::BitWidth::new(2).unwrap();
    let qat = trained(Method::Qat { bits });
    let reg = trained(Method::Reg {
        regularizer: RegularizerParams::new(2, 1.0).unwrap(),
    });
    let with_q = replay(QuantizationState::reference(2).unwrap());
    let with_fp = replay(QuantizationState::off());
    let close = |a: &std::collections::BTreeMap<String, Tensor>,
                 b: &std::collections::BTreeMap<String, Tensor>| {
        a.iter()
            .filter(|(n, _)| n.contains("running"))
            .all(|(n, t)| {
                let d = (t - &b[n])
                    .unwrap()
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                d < 1e-5
            })
    };
    assert!(
        close(&qat, &with_q),
        "QAT statistics are those of quantized weights"
    );
    assert!(
        close(&reg, &with_fp),
        "Reg statistics are those of FP weights"
    );
    assert!(!close(&qat, &with_fp));
}

#[test]
fn more_epochs_continue_a_finished_run_to_where_a_longer_run_ends() {
    let d = data();
    let dir = tempfile::tempdir().unwrap();
    let config = |epochs| {
        TrainParams::new(Method::Fp)
            .with_epochs(epochs)
            .without_early_stopping()
            .with_batch_size(64)
            .with_seed(3)
            .check()
            .unwrap()
    };
    let reference = mlp(5);
    let long = Trainer::new(reference.as_ref(), &d, config(4))
        .with_run_dir(dir.path().join("long"))
        .fit()
        .unwrap();
    let run_dir = dir.path().join("extended");
    let short = Trainer::new(mlp(5).as_ref(), &d, config(2))
        .with_run_dir(&run_dir)
        .fit()
        .unwrap();
    assert_eq!(short.history.len(), 2);
    let extended_model = mlp(77);
    let extended = Trainer::new(extended_model.as_ref(), &d, config(4))
        .with_run_dir(&run_dir)
        .fit()
        .unwrap();
    assert!(!extended.already_finished);
    assert_eq!(extended.resumed_at_epoch, Some(2));
    assert_eq!(extended.history.len(), 4);
    assert_eq!(extended.best_epoch, long.best_epoch);
    assert_eq!(
        weights(extended_model.as_ref()),
        weights(reference.as_ref())
    );
    // Fewer epochs than the run holds is another configuration.
    let err = Trainer::new(mlp(5).as_ref(), &d, config(3))
        .with_run_dir(&run_dir)
        .fit()
        .unwrap_err();
    assert!(err.to_string().contains("epochs (was 4, now 3)"), "{err}");
    // With a cosine schedule more epochs would change the rates already used: refused.
    let cosine = |epochs| {
        TrainParams::new(Method::Fp)
            .with_epochs(epochs)
            .with_schedule(Schedule::Cosine { min_lr: 0.0 })
            .with_batch_size(64)
            .check()
            .unwrap()
    };
    let cos_dir = dir.path().join("cosine");
    Trainer::new(mlp(5).as_ref(), &d, cosine(1))
        .with_run_dir(&cos_dir)
        .fit()
        .unwrap();
    let err = Trainer::new(mlp(5).as_ref(), &d, cosine(2))
        .with_run_dir(&cos_dir)
        .fit()
        .unwrap_err();
    assert!(err.to_string().contains("cosine"), "{err}");
}

#[test]
fn classification_metrics_agree_with_accuracy_and_give_an_auc_for_two_classes() {
    let pneu = smallscale_datasets::pneumoniamnist_embedded().unwrap();
    let d = ImageData::from_splits(pneu.train, pneu.validation, pneu.test)
        .unwrap()
        .truncated(256, 64, 200)
        .unwrap();
    let config = ModelConfig::default_for("mlp").unwrap().with_classes(2);
    let model = build_model(&config, &ModelContext::new(Device::Cpu).with_seed(1)).unwrap();
    let params = TrainParams::new(Method::Fp)
        .with_epochs(1)
        .with_batch_size(64)
        .check()
        .unwrap();
    Trainer::new(model.as_ref(), &d, params).fit().unwrap();
    for state in [
        QuantizationState::off(),
        QuantizationState::reference(4).unwrap(),
    ] {
        let m =
            classification_metrics(model.as_ref(), &d.test, &d.normalization, state.clone(), 64)
                .unwrap();
        let acc = accuracy(model.as_ref(), &d.test, &d.normalization, state, 64).unwrap();
        assert_eq!(m.accuracy, acc);
        assert_eq!(m.examples, 200);
        assert_eq!(m.per_class_recall.len(), 2);
        let auc = m.auc.expect("two classes, both present");
        assert!((0.0..=1.0).contains(&auc));
        // Balanced accuracy lies between the two recalls.
        let r: Vec<f64> = m.per_class_recall.iter().flatten().copied().collect();
        assert!(m.balanced_accuracy >= r[0].min(r[1]) && m.balanced_accuracy <= r[0].max(r[1]));
    }
    assert!(model.quant().is_off());
}
