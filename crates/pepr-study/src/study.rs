//! Running the grid: every model pretrained once, then trained on every experiment (from
//! scratch and fine-tuned, on every fraction), each run a resumable, metered run directory.
//!
//! ```text
//! DIR/
//!   study.json                    the parameters, meter settings and device (a rerun with
//!                                 others is refused)
//!   pretrain/MODEL/               the pretraining run of MODEL (a run directory)
//!   runs/EXPERIMENT/MODEL/        one run of the grid, e.g. runs/pneumonia_pt_small/mlp-w4
//!   results.json, study.csv, findings.json, report.md, *.svg   (see crate::outputs)
//! ```

use std::path::{Path, PathBuf};

use candle_core::Device;
use serde::{Deserialize, Serialize};
use smallscale_models::ModelConfig;
use smallscale_osc_reg::{
    DataDescription, ImageData, RunEnvironment, RunStatus, SplitSpec, TrainingRun, load_split_data,
    pretrained_checkpoint, read_json_if_exists, write_json,
};
use smallscale_pepr_score::{Measurement, Meter};

use crate::errors::{Result, StudyError};
use crate::hyperparams::{Experiment, StudyParams, StudyValidParams};
use crate::pool_file::PoolModel;
use crate::progress::GridBar;

/// The parameters file of a study directory.
pub const STUDY_FILE: &str = "study.json";

/// One run of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyRun {
    /// The experiment label (`pneumonia_pt_small`).
    pub experiment: String,
    /// The model's name in the pool.
    pub model: String,
    /// `CNN`, `Transformer` or `MLP`.
    pub family: String,
    /// The pool's `efficient` flag.
    pub efficient: bool,
    /// Trainable parameters.
    pub parameters: usize,
    /// Fine-tuned from the pretrained body.
    pub pretrained: bool,
    /// The training-set fraction.
    pub fraction: f64,
    /// Training examples used.
    pub train_examples: usize,
    /// Test accuracy of the selected model (the epoch best on validation).
    pub test_accuracy: f64,
    /// Test balanced accuracy.
    pub balanced_accuracy: f64,
    /// Test AUC (two classes only).
    pub auc: Option<f64>,
    /// Training accuracy of the selected epoch.
    pub train_accuracy: f64,
    /// Validation accuracy of the selected epoch.
    pub validation_accuracy: f64,
    /// Epochs trained.
    pub epochs: usize,
    /// The selected epoch (0-based).
    pub best_epoch: usize,
    /// Time, CPU time, memory, energy and CO2 of this run's training (not the pretraining).
    pub resources: Measurement,
    /// The resources of the model's pretraining (pretrained runs only).
    pub pretraining: Option<Measurement>,
    /// Trained, resumed, or found finished.
    pub status: RunStatus,
}

/// The pretraining of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainingRun {
    /// The model's name in the pool.
    pub model: String,
    /// Trainable parameters (with the pretraining's classifier).
    pub parameters: usize,
    /// Validation accuracy of the selected epoch on the pretraining data.
    pub validation_accuracy: f64,
    /// Test accuracy on the pretraining data's test split.
    pub test_accuracy: f64,
    /// Epochs trained.
    pub epochs: usize,
    /// Its resources.
    pub resources: Measurement,
    /// Trained, resumed, or found finished.
    pub status: RunStatus,
}

/// Everything a study produced (`results.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyResults {
    /// The parameters.
    pub params: StudyParams,
    /// The experiment label's base.
    pub label: String,
    /// The experiments, in grid order.
    pub experiments: Vec<Experiment>,
    /// The target data as the full-data runs saw it.
    pub target: DataDescription,
    /// The pretraining data.
    pub pretraining_data: DataDescription,
    /// One pretraining per model.
    pub pretraining: Vec<PretrainingRun>,
    /// One entry per model and experiment, in grid order (model by model).
    pub runs: Vec<StudyRun>,
    /// Where and with what the study ran.
    pub environment: RunEnvironment,
    /// Wall-clock seconds of this call.
    pub seconds: f64,
    /// The runs of the grid that are not in `pretraining` and `runs` (`pretrain/MODEL`,
    /// `EXPERIMENT/MODEL`): those a partial merge of a sweep found unfinished (empty for a whole
    /// study).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// The run directory of a model's pretraining.
pub fn pretrain_dir(out_dir: &Path, model: &str) -> PathBuf {
    out_dir.join("pretrain").join(model)
}

/// The run directory of a model in an experiment.
pub fn run_dir(out_dir: &Path, experiment: &str, model: &str) -> PathBuf {
    out_dir.join("runs").join(experiment).join(model)
}

/// Refuses a study directory that holds a study with other parameters, meter settings or device
/// (runs measured differently are not comparable in one pool); records these otherwise.
fn claim(out_dir: &Path, params: &StudyValidParams, device: &Device) -> Result<()> {
    let path = out_dir.join(STUDY_FILE);
    std::fs::create_dir_all(out_dir).map_err(|e| StudyError::File {
        path: out_dir.to_path_buf(),
        reason: format!("cannot create the study directory ({e})"),
    })?;
    if let Some(previous) = read_json_if_exists::<serde_json::Value>(&path)? {
        let now = study_identity(params, device)?;
        if previous != now {
            let differing = smallscale_osc_reg::config_differences(&previous, &now)
                .iter()
                .map(ToString::to_string)
                .take(8)
                .collect::<Vec<_>>()
                .join("; ");
            return Err(StudyError::File {
                path,
                reason: format!(
                    "the directory holds a study with other parameters (differs in: {differing}): choose another --out, or delete it to start over"
                ),
            });
        }
        return Ok(());
    }
    Ok(write_json(&path, &study_identity(params, device)?)?)
}

/// What `study.json` holds: the parameters, the meter settings and the device.
fn study_identity(params: &StudyValidParams, device: &Device) -> Result<serde_json::Value> {
    Ok(serde_json::json!({
        "params": params.params(),
        "meter": params.meter(),
        "device": if device.is_cuda() { "cuda" } else { "cpu" },
    }))
}

fn run_error(run: String) -> impl FnOnce(smallscale_osc_reg::OscRegError) -> StudyError {
    move |source| StudyError::Run {
        run,
        source: Box::new(source),
    }
}

/// Runs the study into `out_dir`: claims it, pretrains every model, trains the grid, and returns
/// what it measured. Finished runs are not trained again (their saved measurements are used);
/// an interrupted one continues. `log` receives one line per run.
///
/// # Errors
///
/// A study directory holding other parameters, data that cannot be loaded, a pretraining set
/// whose images differ in shape from the target's, a model that does not fit, or a failed run
/// (named).
pub fn run_study(
    params: &StudyValidParams,
    out_dir: &Path,
    device: &Device,
    environment: RunEnvironment,
    progress: bool,
    log: impl FnMut(&str),
) -> Result<StudyResults> {
    run_study_selected(
        params,
        out_dir,
        device,
        environment,
        &StudySelection::All,
        progress,
        log,
    )
}

/// Which runs of a study one call trains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StudySelection {
    /// Every model: trains what is not finished (what [`run_study`] does).
    All,
    /// Only these models of the pool, each its pretraining and every experiment (one job of a
    /// sweep); the other models' runs are listed in [`StudyResults::missing`].
    Models(Vec<String>),
    /// None: of these models, the runs that finished are read; every other run is listed in
    /// [`StudyResults::missing`]. A sweep's merge names the models whose jobs are done, so that a
    /// run still being written by its job is not read.
    FinishedOf(Vec<String>),
}

/// [`run_study`] restricted to the runs `selection` names: one job of a sweep trains one model
/// ([`StudySelection::Models`]), merging a sweep reads the finished runs without training any
/// ([`StudySelection::FinishedOf`]). A run's result does not depend on which call trained it (given
/// the seed and the thread count).
///
/// # Errors
///
/// As [`run_study`], and [`StudyError::InvalidParameter`] for a model name that is not in the
/// pool.
pub fn run_study_selected(
    params: &StudyValidParams,
    out_dir: &Path,
    device: &Device,
    environment: RunEnvironment,
    selection: &StudySelection,
    progress: bool,
    mut log: impl FnMut(&str),
) -> Result<StudyResults> {
    if let StudySelection::Models(names) | StudySelection::FinishedOf(names) = selection
        && let Some(name) = names
            .iter()
            .find(|n| !params.params().pool.models.iter().any(|m| &m.name == *n))
    {
        return Err(StudyError::InvalidParameter {
            parameter: "models",
            reason: format!("{name:?} is not a model of the pool"),
        });
    }
    let reading = matches!(selection, StudySelection::FinishedOf(_));
    let wanted = |name: &str| match selection {
        StudySelection::Models(names) | StudySelection::FinishedOf(names) => {
            names.iter().any(|n| n == name)
        }
        StudySelection::All => true,
    };
    let started = std::time::Instant::now();
    let p = params.params();
    let meter = Meter::new(params.meter().clone())?;

    let pretrain_split = SplitSpec {
        limit_train: p.limits.pretrain_train,
        ..SplitSpec::default()
    };
    let (pretrain_data, pretrain_description) =
        load_split_data(&p.pretraining, &pretrain_split, p.seed)?;
    let experiments = params.experiments();
    let mut target: Vec<(ImageData, DataDescription)> = Vec::new();
    for &fraction in &p.fractions {
        let split = SplitSpec {
            validation_fraction: 0.1,
            limit_train: p.limits.train,
            limit_validation: p.limits.validation,
            limit_test: p.limits.test,
            train_fraction: (fraction < 1.0).then_some(fraction),
        };
        target.push(load_split_data(&p.target, &split, p.seed)?);
    }
    let target_shape = target[0].1.shape;
    if pretrain_description.shape != target_shape {
        return Err(StudyError::InvalidParameter {
            parameter: "pretraining",
            reason: format!(
                "{} has {:?} images and {} has {:?}: a pretrained body fits only images of the same shape; pretrain on a data set of the target's shape",
                p.pretraining.describe(),
                pretrain_description.shape,
                p.target.describe(),
                target_shape
            ),
        });
    }
    // Every model is configured before anything trains, so a bad pool fails at once.
    let configs: Vec<(ModelConfig, ModelConfig)> = p
        .pool
        .models
        .iter()
        .map(|m| {
            Ok((
                m.resolve(pretrain_description.shape, pretrain_description.classes)?,
                m.resolve(target_shape, target[0].1.classes)?,
            ))
        })
        .collect::<Result<_>>()?;
    claim(out_dir, params, device)?;

    let selected = p.pool.models.iter().filter(|m| wanted(&m.name)).count();
    let total = selected * (1 + experiments.len());
    let bar = GridBar::new(progress, total as u64);
    let mut pretraining = Vec::new();
    let mut runs = Vec::new();
    let mut missing = Vec::new();
    let mut done = 0;
    for (model, (pretrain_config, target_config)) in p.pool.models.iter().zip(&configs) {
        let name = format!("pretrain/{}", model.name);
        let dir = pretrain_dir(out_dir, &model.name);
        let run_names = experiments
            .iter()
            .map(|e| format!("{}/{}", e.label, model.name));
        if !wanted(&model.name) {
            missing.push(name);
            missing.extend(run_names);
            continue;
        }
        done += 1;
        bar.start(&name);
        // The pretraining's checkpoint and resources; none when merging and it has not finished
        // (then only the runs from scratch can have finished).
        let pretrained = if reading && !finished(&dir, &name)? {
            missing.push(name);
            None
        } else {
            let output = TrainingRun::new(
                pretrain_config.clone(),
                &pretrain_data,
                pretrain_description.clone(),
                params.pretrain().clone(),
            )
            .with_device(device.clone())
            .with_run_dir(&dir)
            .with_meter(&meter)
            .with_environment(environment.clone())
            .run()
            .map_err(run_error(name.clone()))?;
            let r = output.result;
            let resources = r.resources.clone().unwrap_or_else(unreachable_measurement);
            bar.suspend(|| {
                log(&format!(
                    "[{done}/{total}] {name}: {} parameters, validation {:.2}%, test {:.2}%, {:.1} s",
                    r.parameters,
                    100.0 * r.outcome.best_monitored,
                    100.0 * r.test.fp,
                    resources.wall_time.value
                ))
            });
            pretraining.push(PretrainingRun {
                model: model.name.clone(),
                parameters: r.parameters,
                validation_accuracy: r.outcome.best_monitored,
                test_accuracy: r.test.fp,
                epochs: r.outcome.history.len(),
                resources: resources.clone(),
                status: r.status,
            });
            Some((
                pretrained_checkpoint(&dir).map_err(run_error(name))?,
                resources,
            ))
        };
        bar.finish_one();
        for experiment in &experiments {
            done += 1;
            let run_name = format!("{}/{}", experiment.label, model.name);
            let dir = run_dir(out_dir, &experiment.label, &model.name);
            let body = match (&pretrained, experiment.pretrained) {
                (Some((checkpoint, resources)), true) => Some((checkpoint, resources)),
                (None, true) => {
                    missing.push(run_name);
                    bar.finish_one();
                    continue;
                }
                (_, false) => None,
            };
            if reading && !finished(&dir, &run_name)? {
                missing.push(run_name);
                bar.finish_one();
                continue;
            }
            bar.start(&run_name);
            let (data, description) = &target[fraction_index(p, experiment)];
            let run = train_one(
                params,
                model,
                target_config,
                experiment,
                (data, description),
                body.map(|(checkpoint, _)| checkpoint.clone()),
                (&meter, device, &environment, out_dir),
            )?;
            let run = StudyRun {
                pretraining: body.map(|(_, resources)| resources.clone()),
                ..run
            };
            bar.suspend(|| {
                log(&format!(
                    "[{done}/{total}] {}/{}: test {:.2}% (balanced {:.2}%), {:.1} s",
                    run.experiment,
                    run.model,
                    100.0 * run.test_accuracy,
                    100.0 * run.balanced_accuracy,
                    run.resources.wall_time.value
                ))
            });
            runs.push(run);
            bar.finish_one();
        }
    }
    bar.finish();
    Ok(StudyResults {
        params: p.clone(),
        label: params.label().to_string(),
        experiments,
        target: target[0].1.clone(),
        pretraining_data: pretrain_description,
        pretraining,
        runs,
        environment,
        seconds: started.elapsed().as_secs_f64(),
        missing,
    })
}

/// Where `experiment`'s fraction stands in the study's list of fractions.
fn fraction_index(p: &StudyParams, experiment: &Experiment) -> usize {
    p.fractions
        .iter()
        .position(|&f| f == experiment.fraction)
        .unwrap_or(0)
}

/// Whether the run directory `dir` holds a finished run (`name` names it in an error).
fn finished(dir: &Path, name: &str) -> Result<bool> {
    smallscale_osc_reg::run_finished(dir).map_err(run_error(name.to_string()))
}

/// A measurement is always there for a metered run; this stands in should that ever change.
fn unreachable_measurement() -> Measurement {
    Meter::new(smallscale_pepr_score::MeterConfig::default())
        .map(|m| m.start().stop())
        .expect("the default meter configuration is valid")
}

fn train_one(
    params: &StudyValidParams,
    model: &PoolModel,
    config: &ModelConfig,
    experiment: &Experiment,
    (data, description): (&ImageData, &DataDescription),
    pretrained: Option<PathBuf>,
    (meter, device, environment, out_dir): (&Meter, &Device, &RunEnvironment, &Path),
) -> Result<StudyRun> {
    let name = format!("{}/{}", experiment.label, model.name);
    let output = TrainingRun::new(
        config.clone(),
        data,
        description.clone(),
        params.train().clone(),
    )
    .with_device(device.clone())
    .with_pretrained(pretrained)
    .with_run_dir(run_dir(out_dir, &experiment.label, &model.name))
    .with_meter(meter)
    .with_environment(environment.clone())
    .run()
    .map_err(run_error(name))?;
    let r = output.result;
    let history = &r.outcome.history;
    let (train_accuracy, validation_accuracy) = history
        .get(r.outcome.best_epoch)
        .or(history.last())
        .map_or((f64::NAN, r.outcome.best_monitored), |e| {
            (e.train_accuracy, e.validation_accuracy_fp)
        });
    let metrics = r.test.fp_metrics.clone();
    Ok(StudyRun {
        experiment: experiment.label.clone(),
        model: model.name.clone(),
        family: model.family().to_string(),
        efficient: model.efficient,
        parameters: r.parameters,
        pretrained: experiment.pretrained,
        fraction: experiment.fraction,
        train_examples: description.train_examples,
        test_accuracy: r.test.fp,
        balanced_accuracy: metrics.as_ref().map_or(r.test.fp, |m| m.balanced_accuracy),
        auc: metrics.and_then(|m| m.auc),
        train_accuracy,
        validation_accuracy,
        epochs: r.outcome.history.len(),
        best_epoch: r.outcome.best_epoch,
        resources: r.resources.unwrap_or_else(unreachable_measurement),
        pretraining: None,
        status: r.status,
    })
}
