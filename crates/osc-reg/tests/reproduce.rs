//! The reproduction pipeline end to end on a tiny slice, its report, and resumption.

use candle_core::Device;
use smallscale_datasets::fashion_mnist_embedded;
use smallscale_models::ModelConfig;
use smallscale_osc_reg::*;

#[test]
fn reproduce_writes_every_result_and_resumes_without_retraining() {
    let (train, test) = fashion_mnist_embedded().unwrap();
    let data = ImageData::split(train, test, 0.1, 0)
        .unwrap()
        .truncated(256, 128, 128)
        .unwrap();
    let params = ReproduceParams {
        model: ModelConfig::default_for("mlp").unwrap(),
        target_bits: vec![2, 3],
        eval_bits: vec![2, 3, 4, 8],
        epochs: 2,
        patience: 2,
        batch_size: 64,
        ..ReproduceParams::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    let results = reproduce(
        &params,
        &data,
        "test slice",
        &Device::Cpu,
        dir.path(),
        false,
        |l| lines.push(l.to_string()),
    )
    .unwrap();
    assert_eq!(results.runs.len(), 5);
    assert_eq!(lines.iter().filter(|l| l.contains("training")).count(), 5);
    for r in &results.runs {
        assert_eq!(r.test.per_bit.len(), 4);
        assert!(r.resources.wall_time.value > 0.0);
        assert!(r.resources.energy.value >= 0.0);
    }
    // The PTQ row is the FP model quantized; QAT/Reg cells are the diagonal of their cross-bit rows.
    let table = per_bit_table(&results);
    let fp = results.fp().unwrap();
    assert_eq!(table["PTQ"][0], fp.test.at(2));
    assert_eq!(table["QAT"][1], results.qat(3).unwrap().test.at(3));
    assert_eq!(table["Reg"][2], None); // 4 bits was not a target
    assert_eq!(results.pepr.len(), 2);
    for at in &results.pepr {
        assert_eq!(at.models.len(), 4);
        for m in &at.models {
            assert!(m.pepr_e <= m.accuracy + 1e-12 && m.pepr_e >= m.accuracy / 2.0 - 1e-12);
        }
    }
    let claims = check_claims(&results);
    assert_eq!(claims.len(), 3);
    assert!(claims.iter().all(|c| c.holds.is_some()));

    write_report(&results, dir.path(), "test").unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("results.json")).unwrap()).unwrap();
    assert_eq!(json["results"]["runs"].as_array().unwrap().len(), 5);
    let report = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        report.contains("| PTQ |")
            && report.contains("Cross-bit accuracy, Reg")
            && report.contains("PePR")
    );
    for svg in [
        "accuracy_vs_bits.svg",
        "cross_bit_qat.svg",
        "cross_bit_reg.svg",
    ] {
        let text = std::fs::read_to_string(dir.path().join(svg)).unwrap();
        assert!(text.starts_with("<svg") && text.contains("</svg>"), "{svg}");
    }

    // Running again resumes every finished run from disk: same accuracies, no retraining.
    let again = reproduce(
        &params,
        &data,
        "test slice",
        &Device::Cpu,
        dir.path(),
        false,
        |_| {},
    )
    .unwrap();
    for (a, b) in again.runs.iter().zip(&results.runs) {
        assert_eq!(a.test, b.test, "{}", a.label);
        assert_eq!(a.training.history, b.training.history);
    }
}

#[test]
fn invalid_reproduce_settings_are_rejected() {
    let p = ReproduceParams::default();
    assert!(
        ReproduceParams {
            eval_bits: vec![],
            ..p.clone()
        }
        .check()
        .is_err()
    );
    assert!(
        ReproduceParams {
            lambda: f64::NAN,
            ..p.clone()
        }
        .check()
        .is_err()
    );
    assert!(ReproduceParams { epochs: 0, ..p }.check().is_err());
}
