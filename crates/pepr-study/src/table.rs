//! The study's table: one row per run, in the column layout of the PePR authors' released table
//! (`full_data_pepr_dataset_level.csv`), then columns of our own. `smallscale pepr` and
//! [`smallscale_pepr_score::paper_findings`] read it as they read the authors' one.
//!
//! What each of the authors' columns holds here (empty where nothing here measures it):
//!
//! | column | here |
//! | --- | --- |
//! | `model`, `dataset` | the pool's name; the experiment label (`pneumonia_pt_small`) |
//! | `num_param` | trainable parameters of the model as trained (with its 2-class head) |
//! | `memR`, `memM` | peak resident memory of the process during the run, GB (`memT`, `memA`: empty) |
//! | `energy`, `co2` | energy of the training in kWh (PUE applied) and its CO2 in g |
//! | `train_time` | wall-clock seconds of the whole training (the authors': the last epoch) |
//! | `test_09`, `tr_acc` | test accuracy of the selected epoch, its training accuracy (`test_00`..`test_08`: empty) |
//! | `infer_time`, `inf_time` | empty (not measured) |
//! | `type`, `cnn`, `efficient` | `CNN` or `Other` (as the authors), whether a CNN, the pool's flag |
//! | `E_n`, `pepr_e`, `C_n`, `pepr_c`, `T_n`, `pepr_t`, `M_n`, `pepr_m` | normalized resource and PePR per experiment |
//!
//! Our columns: `family` (`CNN`, `Transformer`, `MLP`), `balanced_acc`, `auc`, `val_acc`, `pretrained`, `fraction`, `train_examples`,
//! `epochs`, `best_epoch`, `cpu_time`, `energy_source`, `pretrain_energy`, `pretrain_co2`,
//! `pretrain_time`, `energy_incl_pretrain`, `co2_incl_pretrain`, `train_time_incl_pretrain`,
//! `E_incl_n`, `pepr_e_incl` (PePR-E with the pretraining's energy added to the fine-tuning's),
//! `measurement_notes` (the meter's notes, e.g. that a resumed run's figures cover only the part
//! trained after the interruption).

use std::collections::BTreeMap;
use std::path::Path;

use smallscale_io::write_atomic;
use smallscale_pepr_score::{ModelRun, Pool, Provenance};

use crate::errors::{Result, StudyError};
use crate::study::{StudyResults, StudyRun};

/// The header of the authors' released table, in its order.
pub const AUTHORS_COLUMNS: [&str; 34] = [
    "model",
    "num_param",
    "memT",
    "memR",
    "memA",
    "memM",
    "energy",
    "co2",
    "train_time",
    "infer_time",
    "test_00",
    "inf_time",
    "tr_acc",
    "test_01",
    "test_02",
    "test_03",
    "test_04",
    "test_05",
    "test_06",
    "test_07",
    "test_08",
    "test_09",
    "type",
    "efficient",
    "dataset",
    "cnn",
    "E_n",
    "pepr_e",
    "C_n",
    "pepr_c",
    "T_n",
    "pepr_t",
    "M_n",
    "pepr_m",
];

/// The columns this study adds after the authors' ones.
pub const STUDY_COLUMNS: [&str; 20] = [
    "family",
    "balanced_acc",
    "auc",
    "val_acc",
    "pretrained",
    "fraction",
    "train_examples",
    "epochs",
    "best_epoch",
    "cpu_time",
    "energy_source",
    "pretrain_energy",
    "pretrain_co2",
    "pretrain_time",
    "energy_incl_pretrain",
    "co2_incl_pretrain",
    "train_time_incl_pretrain",
    "E_incl_n",
    "pepr_e_incl",
    "measurement_notes",
];

/// The resource column of PePR-E including the pretraining's energy.
pub const ENERGY_INCL_PRETRAIN: &str = "energy_incl_pretrain";

fn peak_gb(run: &StudyRun) -> Option<f64> {
    run.resources.peak_memory.as_ref().map(|f| f.value / 1e9)
}

fn with_pretraining(
    run: &StudyRun,
    pick: impl Fn(&smallscale_pepr_score::Measurement) -> f64,
) -> f64 {
    pick(&run.resources) + run.pretraining.as_ref().map_or(0.0, &pick)
}

/// Normalized resource and PePR of every model of one experiment, per resource column.
type Scores = BTreeMap<&'static str, BTreeMap<String, (f64, f64)>>;

fn experiment_scores(runs: &[&StudyRun], label: &str) -> Result<Scores> {
    type Value = fn(&StudyRun) -> Option<f64>;
    let resources: [(&'static str, Value); 5] = [
        ("energy", |r| Some(r.resources.energy.value)),
        ("co2", |r| Some(r.resources.co2.value)),
        ("train_time", |r| Some(r.resources.wall_time.value)),
        ("memR", peak_gb),
        (ENERGY_INCL_PRETRAIN, |r| {
            Some(with_pretraining(r, |m| m.energy.value))
        }),
    ];
    let mut out = Scores::new();
    for (name, value) in &resources {
        let values: Option<Vec<f64>> = runs.iter().map(|r| value(r)).collect();
        let Some(values) = values else { continue };
        let pool = Pool::new(
            label,
            runs.iter()
                .zip(&values)
                .map(|(r, v)| {
                    ModelRun::new(r.model.clone(), r.test_accuracy).with_resource(*name, *v)
                })
                .collect(),
        )?;
        let scores = pool.pepr(name)?;
        out.insert(
            name,
            scores
                .models
                .iter()
                .map(|m| {
                    let normalized = m.normalized.get(*name).copied().unwrap_or(f64::NAN);
                    (m.name.clone(), (normalized, m.pepr))
                })
                .collect(),
        );
    }
    Ok(out)
}

fn number(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        String::new()
    }
}

/// The table's rows (without the header), in the order of `results.runs`.
///
/// # Errors
///
/// Scoring errors (a non-finite measurement).
pub fn study_rows(results: &StudyResults) -> Result<Vec<Vec<String>>> {
    let mut by_experiment: BTreeMap<&str, Vec<&StudyRun>> = BTreeMap::new();
    for r in &results.runs {
        by_experiment.entry(&r.experiment).or_default().push(r);
    }
    let mut scores = BTreeMap::new();
    for (label, runs) in &by_experiment {
        scores.insert(*label, experiment_scores(runs, label)?);
    }
    let mut rows = Vec::with_capacity(results.runs.len());
    for r in &results.runs {
        let s = &scores[r.experiment.as_str()];
        let score = |resource: &str| -> (String, String) {
            s.get(resource)
                .and_then(|m| m.get(&r.model))
                .map_or((String::new(), String::new()), |(n, p)| {
                    (number(*n), number(*p))
                })
        };
        let (e_n, pepr_e) = score("energy");
        let (c_n, pepr_c) = score("co2");
        let (t_n, pepr_t) = score("train_time");
        let (m_n, pepr_m) = score("memR");
        let (ei_n, pepr_ei) = score(ENERGY_INCL_PRETRAIN);
        let mem = peak_gb(r).map_or(String::new(), number);
        let mut row: Vec<String> = vec![
            r.model.clone(),
            r.parameters.to_string(),
            String::new(),
            mem.clone(),
            String::new(),
            mem,
            number(r.resources.energy.value),
            number(r.resources.co2.value),
            number(r.resources.wall_time.value),
            String::new(),
            String::new(),
            String::new(),
            number(r.train_accuracy),
        ];
        row.extend((1..=8).map(|_| String::new()));
        row.extend([
            number(r.test_accuracy),
            if r.family == "CNN" { "CNN" } else { "Other" }.to_string(),
            u8::from(r.efficient).to_string(),
            r.experiment.clone(),
            if r.family == "CNN" { "True" } else { "False" }.to_string(),
            e_n,
            pepr_e,
            c_n,
            pepr_c,
            t_n,
            pepr_t,
            m_n,
            pepr_m,
        ]);
        let energy_source = match r.resources.energy.provenance {
            Provenance::Measured => format!("measured: {}", r.resources.energy.source),
            Provenance::Estimated => format!("estimated: {}", r.resources.energy.source),
        };
        let pt = r.pretraining.as_ref();
        row.extend([
            r.family.clone(),
            number(r.balanced_accuracy),
            r.auc.map_or(String::new(), number),
            number(r.validation_accuracy),
            u8::from(r.pretrained).to_string(),
            number(r.fraction),
            r.train_examples.to_string(),
            r.epochs.to_string(),
            r.best_epoch.to_string(),
            number(r.resources.cpu_time.value),
            energy_source,
            pt.map_or("0".to_string(), |m| number(m.energy.value)),
            pt.map_or("0".to_string(), |m| number(m.co2.value)),
            pt.map_or("0".to_string(), |m| number(m.wall_time.value)),
            number(with_pretraining(r, |m| m.energy.value)),
            number(with_pretraining(r, |m| m.co2.value)),
            number(with_pretraining(r, |m| m.wall_time.value)),
            ei_n,
            pepr_ei,
            r.resources.notes.join("; "),
        ]);
        debug_assert_eq!(row.len(), AUTHORS_COLUMNS.len() + STUDY_COLUMNS.len());
        rows.push(row);
    }
    Ok(rows)
}

/// The table as CSV text, header first.
///
/// # Errors
///
/// As [`study_rows`].
pub fn study_csv(results: &StudyResults) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| StudyError::File {
        path: "study.csv".into(),
        reason: e.to_string(),
    };
    writer
        .write_record(AUTHORS_COLUMNS.iter().chain(STUDY_COLUMNS.iter()))
        .map_err(csv_error)?;
    for row in study_rows(results)? {
        writer.write_record(&row).map_err(csv_error)?;
    }
    writer.into_inner().map_err(|e| StudyError::File {
        path: "study.csv".into(),
        reason: e.to_string(),
    })
}

/// Writes the table to `path`, atomically.
///
/// # Errors
///
/// As [`study_rows`], or the write's error.
pub fn write_study_csv(path: &Path, results: &StudyResults) -> Result<()> {
    Ok(write_atomic(path, &study_csv(results)?)?)
}
