//! Running one job: idempotent (a finished job is not run again), locked (one process per job at a
//! time), with its result or its error recorded.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use crate::errors::{Result, SweepError};
use crate::job::Job;
use crate::job_state::JobFiles;

/// How a call of [`run_job`] ended (a failed job is an error).
#[derive(Debug, Clone, PartialEq)]
pub enum JobRun {
    /// This call ran the job to its end; what the job returned.
    Finished(serde_json::Value),
    /// The job had finished before (in this or another process); its recorded result.
    AlreadyDone(serde_json::Value),
}

/// Runs `job` of the sweep in `sweep_dir` with `run`, unless it has finished.
///
/// - A finished job (`jobs/ID/done.json`) is not run again.
/// - Only one process runs a job at a time: if another holds its lock, `on_wait` is told who and
///   this call waits for it, then finds the job finished (or, if the other process died, runs
///   it: `run` resumes from the run directory the other one left).
/// - `run`'s value is recorded atomically as the job's result; its error (or panic) is recorded
///   in `jobs/ID/error.txt` and returned as [`SweepError::JobFailed`].
///
/// `run` itself must be resumable: it is called again, with the same job, after an attempt that
/// was killed.
///
/// # Errors
///
/// [`SweepError::JobFailed`], or a file of the job's state that cannot be read or written.
pub fn run_job<E: std::fmt::Display>(
    sweep_dir: &Path,
    job: &Job,
    on_wait: impl FnOnce(&str),
    run: impl FnOnce(&Job) -> std::result::Result<serde_json::Value, E>,
) -> Result<JobRun> {
    let files = JobFiles::of(sweep_dir, job);
    if let Some(value) = files.done()? {
        return Ok(JobRun::AlreadyDone(value));
    }
    // A status probe holds the lock for an instant: try a few times before saying that another
    // process runs the job.
    let mut lock = files.try_lock()?;
    for _ in 0..10 {
        if lock.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        lock = files.try_lock()?;
    }
    let _lock = match lock {
        Some(lock) => lock,
        None => {
            let holder = files
                .owner()
                .map_or_else(|| "another process".to_string(), |o| o.describe());
            on_wait(&format!(
                "job {} ({}) is being run by {holder}: waiting for it to end",
                job.index, job.label
            ));
            files.lock()?
        }
    };
    if let Some(value) = files.done()? {
        return Ok(JobRun::AlreadyDone(value));
    }
    files.clear_error()?;
    let outcome = catch_unwind(AssertUnwindSafe(|| run(job)));
    let message = match outcome {
        Ok(Ok(value)) => {
            files.mark_done(&value)?;
            return Ok(JobRun::Finished(value));
        }
        // `{:#}`: an error with causes (anyhow's) prints all of them.
        Ok(Err(e)) => format!("{e:#}"),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "no message".into());
            format!("the job panicked: {what} (a bug: please report it)")
        }
    };
    files.mark_failed(&message)?;
    Err(SweepError::JobFailed {
        index: job.index,
        id: job.id.clone(),
        label: job.label.clone(),
        message,
    })
}
