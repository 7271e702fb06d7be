//! `smallscale sweep`: a grid of runs (the runs of `reproduce` or of `study`) as a job list that
//! SLURM, any other batch system or this machine runs, one idempotent job at a time, and the
//! merge of the finished jobs into the outputs a single-machine run writes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};
use smallscale_osc_reg::{ReproduceJob, RunSelection, reproduce_selected, write_report};
use smallscale_pepr_score::MeterConfig;
use smallscale_pepr_study::{
    StudyJob, StudyParams, StudySelection, run_study_selected, write_study_outputs,
};
use smallscale_sweep::{
    Job, JobRun, JobState, LOGS_DIR, LocalEvent, SBATCH_FILE, SbatchParams, SweepPart, SweepPlan,
    read_job, read_jobs, read_plan, run_job, run_local, sweep_status, write_plan,
};

use super::experiment_args::{DeviceArgs, DeviceKind};
use super::output_args::OutputArgs;
use super::reproduce::{
    ReproduceArgs, ResolvedReproduce, check_output_layout, print_results, resolve, seed_dir,
    seed_subdir,
};
use super::study::StudyArgs;

/// The job kind of one training run of `reproduce`.
const REPRODUCE_RUN: &str = "reproduce-run";
/// The job kind of one model of `study` (its pretraining and every experiment).
const STUDY_MODEL: &str = "study-model";

/// Arguments of `smallscale sweep`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    smallscale sweep plan sw reproduce --preset vit-cifar10 --seeds 3 --lambda-search 0.1,1,10\n  \
    cd sw && sbatch sweep.sbatch              # on a SLURM cluster: one array task per job\n  \
    smallscale sweep run sw --local --jobs 2  # or every job on this machine, 2 at a time\n  \
    smallscale sweep status sw                # done / running / failed / pending, and each failure\n  \
    smallscale sweep merge sw                 # the outputs of `reproduce` in sw/reproduce/\n\n\
    How to run a sweep on a cluster, and under other batch systems: docs/cluster.md.")]
pub struct SweepArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SweepCommand,
}

impl SweepArgs {
    /// The output options of the subcommand.
    pub fn output(&self) -> OutputArgs {
        match &self.command {
            SweepCommand::Plan(a) => a.output,
            SweepCommand::Run(a) => a.output,
            SweepCommand::Status(a) => a.output,
            SweepCommand::Merge(a) => a.output,
        }
    }
}

/// The subcommands of `smallscale sweep`.
#[derive(Debug, Subcommand)]
pub enum SweepCommand {
    /// Plan a sweep into DIR: the runs of a `reproduce` or `study` command line (or of every
    /// command of a --grid file) as jobs.jsonl, one job per run, and sweep.sbatch, a SLURM array
    /// script whose task I runs job I.
    Plan(Box<PlanArgs>),
    /// Run job --index I of the sweep in DIR (what a SLURM task does), or every job on this
    /// machine with --local --jobs N. A finished job is skipped, a killed one resumes, and a job
    /// another process runs is waited for.
    Run(RunArgs),
    /// Count the jobs done, running, failed and pending, with the error of each failed job.
    Status(StatusArgs),
    /// Gather every finished job into the outputs of the command the sweep runs (results.json,
    /// report.md, the table and the plots, in DIR/PART/); a partial sweep is merged too, and
    /// the missing jobs are named.
    Merge(MergeArgs),
}

/// Arguments of `smallscale sweep plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The sweep directory (created; planning the same sweep again keeps its results).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// A grid file (JSON): {"parts": [{"name": "vit", "command": ["reproduce", "--preset",
    /// "vit-cifar10", "--seeds", "3"]}, ...]}, one part per command, each merged into DIR/NAME/.
    #[arg(long, value_name = "FILE.json", conflicts_with = "command")]
    pub grid: Option<PathBuf>,
    /// The part's name and output directory under DIR when the command is given on the command
    /// line [default: the command's name].
    #[arg(long, value_name = "NAME", conflicts_with = "grid")]
    pub name: Option<String>,
    #[command(flatten)]
    pub slurm: SlurmArgs,
    /// The smallscale program the SLURM tasks run [default: this one]; a task's environment
    /// variable SMALLSCALE replaces it.
    #[arg(long, value_name = "PATH")]
    pub smallscale: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// The command whose runs the sweep runs, with its options (as on its own; --out is the
    /// sweep's: leave it out).
    #[command(subcommand)]
    pub command: Option<PlannedCommand>,
}

/// The SLURM settings of `sweep plan`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "SLURM")]
pub struct SlurmArgs {
    /// The array's job name.
    #[arg(long, value_name = "NAME", default_value = "smallscale-sweep")]
    pub job_name: String,
    /// Time limit per task: minutes, H:M:S or D-H:M:S.
    #[arg(long, value_name = "TIME", default_value = "04:00:00")]
    pub time: String,
    /// Memory per task (8G, 512M).
    #[arg(long, value_name = "SIZE", default_value = "8G")]
    pub mem: String,
    /// CPUs per task; also the number of threads every job computes with, wherever it runs
    /// (results are bitwise reproducible for a given thread count).
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub cpus_per_task: usize,
    /// At most this many tasks at once (the %K of --array=0-N%K) [default: no limit].
    #[arg(long, value_name = "K")]
    pub max_parallel: Option<usize>,
    /// The partition to submit to.
    #[arg(long, value_name = "NAME")]
    pub partition: Option<String>,
    /// The account to charge.
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
}

impl SlurmArgs {
    fn params(&self) -> SbatchParams {
        SbatchParams {
            job_name: self.job_name.clone(),
            time: self.time.clone(),
            mem: self.mem.clone(),
            cpus_per_task: self.cpus_per_task,
            max_parallel: self.max_parallel,
            partition: self.partition.clone(),
            account: self.account.clone(),
        }
    }
}

/// The commands a sweep plans.
#[derive(Debug, Subcommand)]
pub enum PlannedCommand {
    /// The runs of `smallscale reproduce` (one job per training run and seed).
    Reproduce(Box<ReproduceArgs>),
    /// The runs of `smallscale study` (one job per model: its pretraining and every experiment).
    Study(Box<StudyArgs>),
}

/// A command of a grid file, parsed as on the command line.
#[derive(Debug, Parser)]
#[command(name = "smallscale", no_binary_name = true)]
struct GridCommand {
    #[command(subcommand)]
    command: PlannedCommand,
}

/// A grid file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GridFile {
    parts: Vec<GridPart>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GridPart {
    name: String,
    command: Vec<String>,
}

/// Arguments of `smallscale sweep run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The sweep directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The job to run (SLURM: $SLURM_ARRAY_TASK_ID; other batch systems: their task index).
    #[arg(
        long,
        value_name = "I",
        required_unless_present = "local",
        conflicts_with = "local"
    )]
    pub index: Option<usize>,
    /// Run every job that is not done on this machine.
    #[arg(long)]
    pub local: bool,
    /// With --local: how many jobs run at once (each with the plan's threads per job).
    #[arg(long, value_name = "N", default_value_t = 1, requires = "local")]
    pub jobs: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `smallscale sweep status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The sweep directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Lines of each failed job's error to show.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub error_lines: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `smallscale sweep merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The sweep directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Where the finished models are evaluated again [default: the plan's device]. `cpu` merges a
    /// GPU sweep on a machine without one; its accuracies are then the CPU's, which may differ
    /// from the GPU's in the last digits.
    #[arg(long, value_enum, value_name = "DEVICE")]
    pub device: Option<DeviceKind>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Runs the subcommand.
pub fn run(args: &SweepArgs) -> Result<()> {
    match &args.command {
        SweepCommand::Plan(a) => plan(a),
        SweepCommand::Run(a) if a.local => run_all_here(a),
        SweepCommand::Run(a) => run_one(a),
        SweepCommand::Status(a) => status(a),
        SweepCommand::Merge(a) => merge(a),
    }
}

/// For `sweep run --index I`: the number of threads job I computes with; for `sweep merge`, the
/// plan's (a merge evaluates every model again, with the threads its job had). `main` sets
/// `RAYON_NUM_THREADS` to it before any thread starts (the matrix kernels and candle read it).
/// `None` for every other command, or when the job list cannot be read (the command then says
/// why).
pub fn job_threads(args: &SweepArgs) -> Option<usize> {
    match &args.command {
        SweepCommand::Run(RunArgs {
            dir,
            index: Some(i),
            ..
        }) => read_job(dir, *i).ok().map(|j| j.threads),
        SweepCommand::Merge(MergeArgs { dir, .. }) => {
            read_jobs(dir).ok()?.first().map(|j| j.threads)
        }
        _ => None,
    }
}

/// What a reproduce part's job holds.
#[derive(Debug, Serialize, Deserialize)]
struct ReproduceRunJob {
    /// The seed's output directory, relative to the part's (`` or `seed-S`).
    seed_dir: String,
    /// The device.
    device: String,
    /// The run.
    run: ReproduceJob,
}

/// What a study part's job holds.
#[derive(Debug, Serialize, Deserialize)]
struct StudyModelJob {
    /// The device.
    device: String,
    /// The model.
    model: StudyJob,
}

/// What `sweep.json` records of a study part.
#[derive(Debug, Serialize, Deserialize)]
struct StudySettings {
    params: StudyParams,
    meter: MeterConfig,
    device: String,
}

fn plan(args: &PlanArgs) -> Result<()> {
    let mut parts: Vec<(String, Vec<String>, &PlannedCommand)> = Vec::new();
    let grid_commands: Vec<(String, Vec<String>, GridCommand)>;
    if let Some(path) = &args.grid {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--grid {}: cannot read it", path.display()))?;
        let grid: GridFile = serde_json::from_str(&text).with_context(|| {
            format!(
                "--grid {}: not a grid file; write {{\"parts\": [{{\"name\": \"vit\", \"command\": [\"reproduce\", \"--preset\", \"vit-cifar10\"]}}]}}",
                path.display()
            )
        })?;
        if grid.parts.is_empty() {
            bail!("--grid {}: it lists no part", path.display());
        }
        grid_commands = grid
            .parts
            .into_iter()
            .map(|p| {
                let parsed = GridCommand::try_parse_from(&p.command).map_err(|e| {
                    anyhow::anyhow!(
                        "--grid {}: part {:?}: {}",
                        path.display(),
                        p.name,
                        e.render().to_string().trim_end()
                    )
                })?;
                Ok((p.name, p.command, parsed))
            })
            .collect::<Result<_>>()?;
        for (name, command, parsed) in &grid_commands {
            parts.push((name.clone(), command.clone(), &parsed.command));
        }
    } else {
        let Some(command) = &args.command else {
            bail!(
                "give the command whose runs to sweep (`smallscale sweep plan DIR reproduce ...` or `... study ...`), or --grid FILE.json"
            );
        };
        let name = args.name.clone().unwrap_or_else(|| match command {
            PlannedCommand::Reproduce(_) => "reproduce".into(),
            PlannedCommand::Study(_) => "study".into(),
        });
        // The whole command line, for people (the part's settings are what a merge uses).
        parts.push((name, std::env::args().skip(1).collect(), command));
    }
    let sbatch = args.slurm.params().check()?;
    let threads = args.slurm.cpus_per_task;
    let mut jobs = Vec::new();
    let mut planned = Vec::new();
    for (name, command_line, command) in parts {
        smallscale_sweep::check_part_name(&name)?;
        let settings = match command {
            PlannedCommand::Reproduce(r) => plan_reproduce(&name, r, threads, &mut jobs)
                .with_context(|| format!("part {name}"))?,
            PlannedCommand::Study(s) => {
                plan_study(&name, s, threads, &mut jobs).with_context(|| format!("part {name}"))?
            }
        };
        planned.push(SweepPart {
            name,
            kind: match command {
                PlannedCommand::Reproduce(_) => "reproduce".into(),
                PlannedCommand::Study(_) => "study".into(),
            },
            args: command_line,
            settings,
        });
    }
    let smallscale = match &args.smallscale {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .context("cannot tell where this smallscale program is: give --smallscale PATH")?,
    };
    let plan = SweepPlan {
        parts: planned,
        sbatch: args.slurm.params(),
        smallscale,
    };
    let existed = write_plan(&args.dir, &plan, &jobs, &sbatch)?;
    if jobs.len() > 1000 && args.output.chatty() {
        eprintln!(
            "warning: {} jobs: SLURM's default MaxArraySize (1001) allows indices 0 to 1000 only; ask `scontrol show config | grep MaxArraySize`, and submit in ranges if needed (sbatch --array=0-999 sweep.sbatch, then --array=1000-{})",
            jobs.len(),
            jobs.len() - 1
        );
    }
    if args.output.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "dir": args.dir,
                "jobs": jobs.len(),
                "parts": plan.parts.iter().map(|p| &p.name).collect::<Vec<_>>(),
                "sbatch": args.dir.join(SBATCH_FILE),
                "replanned": existed,
            }))?
        );
        return Ok(());
    }
    outln!(
        "{} the sweep {}: {} jobs in {} part(s) ({}), {} thread(s) per job.",
        if existed { "Planned again" } else { "Planned" },
        args.dir.display(),
        jobs.len(),
        plan.parts.len(),
        plan.parts
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        threads
    );
    outln!(
        "On SLURM: cd {} && sbatch {SBATCH_FILE}. Here: smallscale sweep run {} --local --jobs N. Then: smallscale sweep status {} and smallscale sweep merge {}.",
        args.dir.display(),
        args.dir.display(),
        args.dir.display(),
        args.dir.display()
    );
    Ok(())
}

fn plan_reproduce(
    part: &str,
    args: &ReproduceArgs,
    threads: usize,
    jobs: &mut Vec<Job>,
) -> Result<serde_json::Value> {
    if args.out != Path::new("reproduce-out") {
        bail!("--out: the sweep directory holds the outputs (DIR/{part}/): leave --out out");
    }
    let resolved = resolve(args)?;
    let valid = resolved.valid()?;
    let n = resolved.seeds.len();
    for &seed in &resolved.seeds {
        let at_seed = valid.with_seed(seed);
        let dir = seed_subdir(seed, n);
        for run in ReproduceJob::all(&at_seed, &resolved.source, &resolved.split)? {
            let label = if n == 1 {
                format!("{part}/{}", run.label)
            } else {
                format!("{part}/{dir}/{}", run.label)
            };
            let config = serde_json::to_value(ReproduceRunJob {
                seed_dir: dir.clone(),
                device: resolved.device.clone(),
                run,
            })?;
            jobs.push(Job::new(
                jobs.len(),
                REPRODUCE_RUN,
                part,
                label,
                threads,
                config,
            ));
        }
    }
    Ok(serde_json::to_value(&resolved)?)
}

fn plan_study(
    part: &str,
    args: &StudyArgs,
    threads: usize,
    jobs: &mut Vec<Job>,
) -> Result<serde_json::Value> {
    if args.out != Path::new("study-out") {
        bail!("--out: the sweep directory holds the outputs (DIR/{part}/): leave --out out");
    }
    if args.print_pool {
        bail!("--print-pool prints a pool and plans nothing: drop it");
    }
    let params = args
        .params()?
        .check()
        .context("invalid study settings")?
        .with_meter(args.meter.config()?);
    let device = args.device.label().to_string();
    for model in StudyJob::all(&params) {
        let label = format!("{part}/{}", model.model);
        let config = serde_json::to_value(StudyModelJob {
            device: device.clone(),
            model,
        })?;
        jobs.push(Job::new(
            jobs.len(),
            STUDY_MODEL,
            part,
            label,
            threads,
            config,
        ));
    }
    Ok(serde_json::to_value(StudySettings {
        params: params.params().clone(),
        meter: params.meter().clone(),
        device,
    })?)
}

/// What job `job` holds, as the type its kind says.
fn job_payload<T: serde::de::DeserializeOwned>(job: &Job) -> Result<T> {
    serde_json::from_value(job.config.clone()).with_context(|| {
        format!(
            "job {} ({}) is not a {} job of this smallscale: plan the sweep again",
            job.index, job.label, job.kind
        )
    })
}

/// The resolved settings `sweep.json` records for `part`.
fn part_settings<T: serde::de::DeserializeOwned>(part: &SweepPart) -> Result<T> {
    serde_json::from_value(part.settings.clone()).with_context(|| {
        format!(
            "part {}: not the settings of a {} part of this smallscale: plan the sweep again",
            part.name, part.kind
        )
    })
}

fn open_device(label: &str, instead: Option<DeviceKind>) -> Result<candle_core::Device> {
    let device = match (instead, label) {
        (Some(d), _) => d,
        (None, "cpu") => DeviceKind::Cpu,
        (None, "cuda") => DeviceKind::Cuda,
        (None, other) => bail!("the plan names the device {other:?}: plan the sweep again"),
    };
    DeviceArgs { device }.open()
}

fn run_one(args: &RunArgs) -> Result<()> {
    let index = args.index.context("give --index I, or --local")?;
    let job = read_job(&args.dir, index)?;
    let chatty = args.output.chatty();
    let progress = args.output.progress();
    if chatty {
        eprintln!(
            "job {index} of {} ({}, id {}), {} thread(s)",
            args.dir.display(),
            job.label,
            job.id,
            job.threads
        );
    }
    let outcome = run_job(
        &args.dir,
        &job,
        |message| {
            if chatty {
                eprintln!("{message}");
            }
        },
        |job| run_payload(&args.dir, job, progress, chatty),
    )?;
    let (what, value) = match outcome {
        JobRun::Finished(v) => ("finished", v),
        JobRun::AlreadyDone(v) => ("was done already", v),
    };
    if args.output.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "index": index, "id": job.id, "label": job.label, "state": what, "result": value,
            }))?
        );
    } else {
        outln!("job {index} ({}) {what}: {value}", job.label);
    }
    Ok(())
}

/// Runs what a job holds; its value is the job's record in `jobs/ID/done.json`.
fn run_payload(dir: &Path, job: &Job, progress: bool, chatty: bool) -> Result<serde_json::Value> {
    let log = |line: &str| {
        if chatty {
            eprintln!("{line}");
        }
    };
    match job.kind.as_str() {
        REPRODUCE_RUN => {
            let payload: ReproduceRunJob = job_payload(job)?;
            let device = open_device(&payload.device, None)?;
            let out = dir.join(&job.part).join(&payload.seed_dir);
            let r = payload.run.run(&device, &out, progress, log)?;
            let at_target = r.method.target_bits().and_then(|b| r.test.at(b));
            Ok(serde_json::json!({
                "label": r.label,
                "epochs": r.training.history.len(),
                "best_epoch": r.training.best_epoch + 1,
                "validation_accuracy": r.training.best_monitored,
                "test_accuracy_fp": r.test.fp,
                "test_accuracy_at_target": at_target,
                "seconds": r.resources.wall_time.value,
            }))
        }
        STUDY_MODEL => {
            let payload: StudyModelJob = job_payload(job)?;
            let device = open_device(&payload.device, None)?;
            let out = dir.join(&job.part);
            let results =
                payload
                    .model
                    .run(&out, &device, super::run_environment(), progress, log)?;
            let runs: Vec<serde_json::Value> = results
                .runs
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "experiment": r.experiment,
                        "test_accuracy": r.test_accuracy,
                        "seconds": r.resources.wall_time.value,
                    })
                })
                .collect();
            Ok(serde_json::json!({ "model": payload.model.model, "runs": runs }))
        }
        other => bail!(
            "job {} has the kind {other:?}, which this smallscale does not run: plan the sweep again with this version",
            job.index
        ),
    }
}

fn run_all_here(args: &RunArgs) -> Result<()> {
    let jobs = read_jobs(&args.dir)?;
    let exe = std::env::current_exe().context("cannot tell where this smallscale program is")?;
    let started = Instant::now();
    let progress = args.output.progress();
    let chatty = args.output.chatty();
    let done_before = sweep_status(&args.dir, 0)?.count(JobState::Done) as u64;
    let bar = progress.then(|| {
        let bar = indicatif::ProgressBar::new(jobs.len() as u64);
        bar.set_position(done_before);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} jobs {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut running: Vec<String> = Vec::new();
    let summary = run_local(
        &args.dir,
        &jobs,
        args.jobs,
        |job| {
            let mut cmd = Command::new(&exe);
            cmd.arg("sweep")
                .arg("run")
                .arg(&args.dir)
                .arg("--index")
                .arg(job.index.to_string())
                .arg("--no-progress")
                .env("RAYON_NUM_THREADS", job.threads.to_string());
            cmd
        },
        |event| match event {
            LocalEvent::Started { label, .. } => {
                running.push(label);
                if let Some(bar) = &bar {
                    bar.set_message(running.join(", "));
                }
            }
            LocalEvent::Ended {
                index,
                label,
                ok,
                seconds,
            } => {
                running.retain(|l| l != &label);
                let line = format!(
                    "job {index} ({label}) {} in {seconds:.1} s",
                    if ok { "finished" } else { "FAILED" }
                );
                match &bar {
                    Some(bar) => {
                        bar.inc(1);
                        bar.set_message(running.join(", "));
                        bar.suspend(|| eprintln!("{line}"));
                    }
                    None if chatty => eprintln!("{line}"),
                    None => {}
                }
            }
        },
    )?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if args.output.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "already_done": summary.already_done,
                "finished": summary.finished,
                "failed": summary.failed.iter().map(|(i, l, log)| serde_json::json!({"index": i, "label": l, "log": log})).collect::<Vec<_>>(),
                "seconds": started.elapsed().as_secs_f64(),
            }))?
        );
    } else {
        outln!(
            "{} jobs: {} done before, {} finished now, {} failed ({:.1} s).",
            jobs.len(),
            summary.already_done,
            summary.finished,
            summary.failed.len(),
            started.elapsed().as_secs_f64()
        );
    }
    if !summary.failed.is_empty() {
        let list: Vec<String> = summary
            .failed
            .iter()
            .map(|(i, l, log)| format!("job {i} ({l}): see {}", log.display()))
            .collect();
        bail!(
            "{} job(s) failed: {}; `smallscale sweep status {}` shows their errors, and running the same command again retries them",
            summary.failed.len(),
            list.join("; "),
            args.dir.display()
        );
    }
    Ok(())
}

fn status(args: &StatusArgs) -> Result<()> {
    let status = sweep_status(&args.dir, args.error_lines)?;
    if args.output.json {
        outln!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
    outln!("{}: {}", args.dir.display(), status.summary());
    for j in &status.jobs {
        if j.state == JobState::Done || j.state == JobState::Pending {
            continue;
        }
        let who = j
            .owner
            .as_ref()
            .map(|o| format!(" on {}", o.describe()))
            .unwrap_or_default();
        outln!(
            "  {:>4}  {:<8} {} (id {}){who}",
            j.job.index,
            j.state.as_str(),
            j.job.label,
            j.job.id
        );
        if let Some(tail) = &j.error_tail {
            for line in tail.lines() {
                outln!("          | {line}");
            }
        }
    }
    let pending: Vec<usize> = status
        .jobs
        .iter()
        .filter(|j| j.state == JobState::Pending)
        .map(|j| j.job.index)
        .collect();
    if !pending.is_empty() {
        outln!("  pending: {}", compact_indices(&pending));
    }
    if status.count(JobState::Failed) > 0 {
        outln!(
            "The whole log of a failed SLURM task is in {}/{LOGS_DIR}/ (local runs: {LOGS_DIR}/local-I.out); rerun a job with `smallscale sweep run {} --index I`.",
            args.dir.display(),
            args.dir.display()
        );
    }
    Ok(())
}

/// `0-3,7,9-10` from sorted indices.
fn compact_indices(numbers: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let mut j = i;
        while j + 1 < numbers.len() && numbers[j + 1] == numbers[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            numbers[i].to_string()
        } else {
            format!("{}-{}", numbers[i], numbers[j])
        });
        i = j + 1;
    }
    out.join(",")
}

fn merge(args: &MergeArgs) -> Result<()> {
    let started = Instant::now();
    let plan = read_plan(&args.dir)?;
    // One look at the jobs decides what is merged and what is reported missing: only the runs of
    // jobs that are done are read (a job that is still running may be writing its run directory).
    let status = sweep_status(&args.dir, 1)?;
    let chatty = args.output.chatty() && !args.output.json;
    let environment = super::run_environment();
    let mut merged = Vec::new();
    for part in &plan.parts {
        let out = args.dir.join(&part.name);
        let done: Vec<&Job> = status
            .jobs
            .iter()
            .filter(|j| j.state == JobState::Done && j.job.part == part.name)
            .map(|j| &j.job)
            .collect();
        let value = match part.kind.as_str() {
            "reproduce" => merge_reproduce(part, &done, &out, args, started, chatty)?,
            "study" => merge_study(part, &done, &out, args.device, environment.clone(), chatty)?,
            other => bail!(
                "part {} is a {other:?} sweep, which this smallscale cannot merge",
                part.name
            ),
        };
        merged.push(value);
    }
    let missing: Vec<&smallscale_sweep::JobStatus> = status
        .jobs
        .iter()
        .filter(|j| j.state != JobState::Done)
        .collect();
    if args.output.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "complete": missing.is_empty(),
                "status": status.summary(),
                "missing_jobs": missing.iter().map(|j| serde_json::json!({"index": j.job.index, "label": j.job.label, "state": j.state})).collect::<Vec<_>>(),
                "parts": merged,
            }))?
        );
        return Ok(());
    }
    if missing.is_empty() {
        outln!(
            "Merged the whole sweep ({} jobs) in {:.1} s.",
            status.jobs.len(),
            started.elapsed().as_secs_f64()
        );
    } else {
        outln!(
            "Merged a PARTIAL sweep: {}. The outputs hold the finished runs only and say so; merge again when the others have finished. Missing jobs:",
            status.summary()
        );
        for j in missing {
            outln!(
                "  {:>4}  {:<8} {}",
                j.job.index,
                j.state.as_str(),
                j.job.label
            );
        }
    }
    Ok(())
}

fn merge_reproduce(
    part: &SweepPart,
    done: &[&Job],
    out: &Path,
    args: &MergeArgs,
    started: Instant,
    chatty: bool,
) -> Result<serde_json::Value> {
    let output = &args.output;
    // The labels of the runs whose jobs are done, per seed directory.
    let mut finished: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for job in done {
        let payload: ReproduceRunJob = job_payload(job)?;
        finished
            .entry(payload.seed_dir)
            .or_default()
            .push(payload.run.label);
    }
    let resolved: ResolvedReproduce = part_settings(part)?;
    let params = resolved.valid()?;
    let device = open_device(&resolved.device, args.device)?;
    let n = resolved.seeds.len();
    check_output_layout(out, n)?;
    let environment = super::run_environment();
    let mut complete = Vec::new();
    let mut partial = Vec::new();
    for &seed in &resolved.seeds {
        let dir = seed_dir(out, seed, n);
        let labels = finished
            .get(&seed_subdir(seed, n))
            .cloned()
            .unwrap_or_default();
        let results = reproduce_selected(
            &params.with_seed(seed),
            &resolved.source,
            &resolved.split,
            &device,
            &dir,
            &RunSelection::FinishedAmong(labels),
            false,
            |line| {
                if chatty {
                    eprintln!("{}: {line}", part.name);
                }
            },
        )?;
        if results.runs.is_empty() {
            partial.push(seed);
            continue;
        }
        write_report(&results, &dir, &environment)?;
        if results.missing.is_empty() {
            complete.push(results);
        } else {
            partial.push(seed);
        }
    }
    // Tables on standard output unless --json (outln! is silent under --quiet); the files are
    // written either way.
    let text = !output.json;
    if text {
        outln!("== {} ({})", part.name, out.display());
    }
    match (n, complete.len()) {
        (1, 1) if text => print_results(out, output, resolved.quick, &complete, started)?,
        (n, c) if n > 1 && c >= 2 => {
            if text {
                if c < n {
                    outln!(
                        "The summary covers the {c} complete seeds of {n}; seeds {:?} are incomplete.",
                        partial
                    );
                }
                print_results(out, output, resolved.quick, &complete, started)?;
            } else {
                let summary = smallscale_osc_reg::summarize_seeds(&complete)?;
                smallscale_osc_reg::write_seeds_summary(&summary, out, &environment)?;
            }
        }
        (1, 1) => {}
        _ if text => outln!(
            "No complete {} yet: the finished runs, if any, are in each seed's report.md.",
            if n == 1 {
                "run of the comparison"
            } else {
                "pair of seeds to summarize"
            }
        ),
        _ => {}
    }
    Ok(serde_json::json!({
        "part": part.name,
        "kind": "reproduce",
        "out": out,
        "seeds_complete": complete.iter().map(|r| r.params.seed).collect::<Vec<_>>(),
        "seeds_incomplete": partial,
    }))
}

fn merge_study(
    part: &SweepPart,
    done: &[&Job],
    out: &Path,
    device: Option<DeviceKind>,
    environment: smallscale_osc_reg::RunEnvironment,
    chatty: bool,
) -> Result<serde_json::Value> {
    let models = done
        .iter()
        .map(|job| job_payload::<StudyModelJob>(job).map(|p| p.model.model))
        .collect::<Result<Vec<String>>>()?;
    let settings: StudySettings = part_settings(part)?;
    let params = settings
        .params
        .check()
        .context("invalid study settings")?
        .with_meter(settings.meter);
    let device = open_device(&settings.device, device)?;
    let results = run_study_selected(
        &params,
        out,
        &device,
        environment,
        &StudySelection::FinishedOf(models),
        false,
        |line| {
            if chatty {
                eprintln!("{}: {line}", part.name);
            }
        },
    )?;
    let mut note = None;
    if results.runs.is_empty() {
        note = Some("no run has finished yet: nothing to merge".to_string());
    } else {
        match write_study_outputs(&results, out) {
            Ok(_) => {}
            // Complete, the study must analyze: an error then is an error.
            Err(e) if results.missing.is_empty() => {
                return Err(e).with_context(|| format!("part {}", part.name));
            }
            Err(e) => {
                note = Some(format!(
                    "the finished runs cannot be analyzed yet ({e}); merge again when more have finished"
                ))
            }
        }
    }
    if chatty {
        match &note {
            Some(n) => eprintln!("{}: {n}", part.name),
            None => eprintln!(
                "{}: {} runs merged into {}{}",
                part.name,
                results.runs.len(),
                out.display(),
                if results.missing.is_empty() {
                    String::new()
                } else {
                    format!(" ({} missing)", results.missing.len())
                }
            ),
        }
    }
    Ok(serde_json::json!({
        "part": part.name,
        "kind": "study",
        "out": out,
        "runs": results.runs.len(),
        "missing": results.missing,
        "note": note,
    }))
}
