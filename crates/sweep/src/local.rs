//! `sweep run --local`: every job of a sweep on this machine, N at a time, each in its own process
//! (the same `sweep run --index I` a SLURM task runs).

use std::fs::OpenOptions;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Instant;

use crate::errors::{Result, SweepError, file_error};
use crate::job::Job;
use crate::job_state::{JobFiles, JobState};
use crate::sbatch::LOGS_DIR;

/// What a local run reports while it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalEvent {
    /// A job's process started.
    Started {
        /// The job's index.
        index: usize,
        /// The job's label.
        label: String,
    },
    /// A job's process ended.
    Ended {
        /// The job's index.
        index: usize,
        /// The job's label.
        label: String,
        /// Whether it exited successfully.
        ok: bool,
        /// Wall time of the process, seconds.
        seconds: f64,
    },
}

/// What a local run did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LocalSummary {
    /// Jobs found done before the run.
    pub already_done: usize,
    /// Jobs this run finished.
    pub finished: usize,
    /// Jobs whose process failed: index, label and its log file.
    pub failed: Vec<(usize, String, std::path::PathBuf)>,
}

/// Runs every job of `jobs` that is not done, at most `workers` at a time, each as the process
/// `command(job)` with its standard output and error appended to `logs/local-INDEX.out`.
/// `on_event` hears each start and end (from the calling thread).
///
/// A job's process is expected to run the job through [`crate::run_job`], so a job another
/// process runs (a SLURM task, another local run) is waited for rather than run twice.
///
/// # Errors
///
/// [`SweepError::InvalidParameter`] for 0 workers; [`SweepError::File`] when a log file cannot be
/// opened or a process cannot be started.
pub fn run_local(
    sweep_dir: &Path,
    jobs: &[Job],
    workers: usize,
    command: impl Fn(&Job) -> Command + Sync,
    mut on_event: impl FnMut(LocalEvent),
) -> Result<LocalSummary> {
    if workers == 0 {
        return Err(SweepError::InvalidParameter {
            parameter: "--jobs",
            reason: "give at least 1 worker".into(),
        });
    }
    let mut summary = LocalSummary::default();
    let mut todo = Vec::new();
    for job in jobs {
        if JobFiles::of(sweep_dir, job).state()? == JobState::Done {
            summary.already_done += 1;
        } else {
            todo.push(job);
        }
    }
    std::fs::create_dir_all(sweep_dir.join(LOGS_DIR))
        .map_err(|e| file_error(sweep_dir, format!("cannot create logs/ ({e})")))?;
    let queue = Mutex::new(todo.into_iter());
    let (tx, rx) = mpsc::channel::<Result<LocalEvent>>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (queue, command) = (&queue, &command);
            scope.spawn(move || {
                loop {
                    let next = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                    let Some(job) = next else { break };
                    let result = run_one(sweep_dir, job, command, &tx);
                    if let Err(e) = result {
                        let _ = tx.send(Err(e));
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut first_error = None;
        for event in rx {
            match event {
                Ok(event) => {
                    if let LocalEvent::Ended {
                        index,
                        ref label,
                        ok,
                        ..
                    } = event
                    {
                        if ok {
                            summary.finished += 1;
                        } else {
                            summary
                                .failed
                                .push((index, label.clone(), log_file(sweep_dir, index)));
                        }
                    }
                    on_event(event);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })?;
    summary.failed.sort();
    Ok(summary)
}

/// `logs/local-INDEX.out`.
pub fn log_file(sweep_dir: &Path, index: usize) -> std::path::PathBuf {
    sweep_dir.join(LOGS_DIR).join(format!("local-{index}.out"))
}

fn run_one(
    sweep_dir: &Path,
    job: &Job,
    command: &(impl Fn(&Job) -> Command + Sync),
    tx: &mpsc::Sender<Result<LocalEvent>>,
) -> Result<()> {
    let path = log_file(sweep_dir, job.index);
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| file_error(&path, format!("cannot open the job's log ({e})")))?;
    let err = log
        .try_clone()
        .map_err(|e| file_error(&path, format!("cannot open the job's log ({e})")))?;
    let mut cmd = command(job);
    cmd.stdin(Stdio::null()).stdout(log).stderr(err);
    let _ = tx.send(Ok(LocalEvent::Started {
        index: job.index,
        label: job.label.clone(),
    }));
    let started = Instant::now();
    let status = cmd.status().map_err(|e| {
        file_error(
            &path,
            format!("cannot start the process of job {} ({e})", job.index),
        )
    })?;
    let files = JobFiles::of(sweep_dir, job);
    if !status.success() && files.error_tail(1).is_none() && files.done()?.is_none() {
        // Killed (out of memory, a signal) before the job could record its error.
        files.mark_failed(&format!(
            "the job's process ended with {status} before it recorded an error (killed?); its output is in {}",
            path.display()
        ))?;
    }
    let _ = tx.send(Ok(LocalEvent::Ended {
        index: job.index,
        label: job.label.clone(),
        ok: status.success(),
        seconds: started.elapsed().as_secs_f64(),
    }));
    Ok(())
}
