//! A whole study on a slice of the embedded data: the grid, the table in the authors' layout read
//! back by the same loader as `smallscale pepr`, the findings, resuming and refusing.

use candle_core::Device;
use smallscale_osc_reg::{RunConfig, RunEnvironment, RunStatus};
use smallscale_pepr_score::{TableParams, load_pools};
use smallscale_pepr_study::*;

fn tiny() -> StudyParams {
    let pool = StudyPool::from_json(
        r#"{"models": [
            {"name": "mlp-w4", "model": "mlp", "width": 4},
            {"name": "cnn-w2", "model": "small-cnn", "width": 2}
        ]}"#,
        "test",
    )
    .unwrap();
    StudyParams::preset(StudyPreset::Quick)
        .with_pool(pool)
        .with_epochs(1)
        .with_pretrain_epochs(1)
        .with_limits(StudyLimits {
            validation: Some(100),
            test: Some(120),
            pretrain_train: Some(500),
            ..StudyLimits::default()
        })
}

fn try_run(params: StudyParams, dir: &std::path::Path) -> Result<StudyResults> {
    run_study(
        &params.check()?,
        dir,
        &Device::Cpu,
        RunEnvironment::detect("test", None),
        false,
        |_| {},
    )
}

fn run(params: &StudyParams, dir: &std::path::Path) -> StudyResults {
    try_run(params.clone(), dir).unwrap()
}

#[test]
fn a_tiny_study_runs_resumes_and_round_trips_through_its_table() {
    let dir = tempfile::tempdir().unwrap();
    let params = tiny();
    let results = run(&params, dir.path());
    assert_eq!(results.pretraining.len(), 2);
    assert_eq!(results.runs.len(), 12);
    let sizes: Vec<(String, usize)> = results
        .runs
        .iter()
        .filter(|r| r.model == "mlp-w4" && !r.pretrained)
        .map(|r| (r.experiment.clone(), r.train_examples))
        .collect();
    // PneumoniaMNIST's training split: 1,214 normal and 3,494 pneumonia images.
    assert_eq!(
        sizes,
        [
            ("pneumonia".to_string(), 4708),
            ("pneumonia_small".to_string(), 121 + 349),
            ("pneumonia_smallest".to_string(), 12 + 35)
        ]
    );
    for r in &results.runs {
        assert_eq!(r.pretraining.is_some(), r.pretrained, "{}", r.experiment);
        assert!(r.resources.energy.value > 0.0 && r.resources.wall_time.value > 0.0);
        assert!(r.auc.is_some(), "two classes: AUC");
        let config = RunConfig::read(&run_dir(dir.path(), &r.experiment, &r.model))
            .unwrap()
            .unwrap();
        assert_eq!(config.pretrained.is_some(), r.pretrained);
        if let Some(p) = &config.pretrained {
            assert!(p.ends_with("pretrain/".to_string() + &r.model + "/best.safetensors"));
        }
        assert_eq!(
            config.data.train_fraction,
            (r.fraction < 1.0).then_some(r.fraction)
        );
    }

    let outputs = write_study_outputs(&results, dir.path()).unwrap();
    for f in [TABLE_FILE, REPORT_FILE, RESULTS_FILE, FINDINGS_FILE] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    assert_eq!(outputs.analysis.findings.verdicts.len(), 4);
    let report = std::fs::read_to_string(dir.path().join(REPORT_FILE)).unwrap();
    assert!(report.contains("### pneumonia_pt_smallest"), "{report}");
    assert!(report.contains("With the pretraining's energy added"));

    // The header is the authors', then ours; the stored PePR-E is what the loader recomputes.
    let text = std::fs::read_to_string(dir.path().join(TABLE_FILE)).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let expected: Vec<&str> = AUTHORS_COLUMNS
        .iter()
        .chain(STUDY_COLUMNS.iter())
        .copied()
        .collect();
    assert_eq!(header, expected);
    let spec = TableParams::new(
        "test_09",
        ["energy", "pepr_e", "energy_incl_pretrain", "pepr_e_incl"],
    )
    .with_group_by("dataset")
    .check()
    .unwrap();
    let pools = load_pools(dir.path().join(TABLE_FILE), &spec).unwrap();
    let labels: Vec<&str> = pools.iter().map(|p| p.label()).collect();
    assert_eq!(
        labels,
        [
            "pneumonia",
            "pneumonia_small",
            "pneumonia_smallest",
            "pneumonia_pt",
            "pneumonia_pt_small",
            "pneumonia_pt_smallest"
        ]
    );
    for pool in &pools {
        assert_eq!(pool.len(), 2);
        for (resource, stored) in [
            ("energy", "pepr_e"),
            ("energy_incl_pretrain", "pepr_e_incl"),
        ] {
            let scores = pool.pepr(resource).unwrap();
            for (m, s) in scores.models.iter().zip(pool.resource(stored).unwrap()) {
                assert!(
                    (m.pepr - s).abs() < 1e-12,
                    "{} {}: {} vs {s}",
                    pool.label(),
                    m.name,
                    m.pepr
                );
            }
        }
        // The pretraining's energy counts only for pretrained runs.
        let with = pool.resource("energy_incl_pretrain").unwrap();
        let without = pool.resource("energy").unwrap();
        let pretrained = pool.label().contains("_pt");
        for (a, b) in with.iter().zip(&without) {
            assert_eq!(a > b, pretrained, "{}", pool.label());
        }
    }

    // A rerun trains nothing and finds the same accuracies.
    let again = run(&params, dir.path());
    for (a, b) in again.runs.iter().zip(&results.runs) {
        assert_eq!(a.status, RunStatus::AlreadyFinished);
        assert_eq!(a.test_accuracy, b.test_accuracy);
        assert_eq!(a.resources, b.resources, "the saved measurement is kept");
    }
    // Deterministic given the seed: a fresh directory trains the same models.
    let fresh = tempfile::tempdir().unwrap();
    let repeated = run(&params, fresh.path());
    for (a, b) in repeated.runs.iter().zip(&results.runs) {
        assert_eq!(a.status, RunStatus::Trained);
        assert_eq!(
            (a.test_accuracy, a.train_examples),
            (b.test_accuracy, b.train_examples),
            "{}/{}",
            a.experiment,
            a.model
        );
    }
    // Other parameters in the same directory are refused, naming what differs.
    let err = try_run(tiny().with_seed(1), dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("other parameters") && err.contains("seed"),
        "{err}"
    );
}

#[test]
fn a_pretraining_set_of_another_image_shape_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let mut params = tiny();
    params.target = smallscale_datasets::DataSource::Cifar10 {
        path: concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/cifar10-subset").into(),
    };
    let err = try_run(params, dir.path()).unwrap_err().to_string();
    assert!(err.contains("same shape"), "{err}");
    assert!(!dir.path().join(STUDY_FILE).exists(), "nothing claimed");
}
