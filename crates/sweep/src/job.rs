//! One job of a sweep and the job list, `jobs.jsonl`: one fully resolved run configuration per
//! line, each with a stable id.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use smallscale_io::write_atomic;

use crate::errors::{Result, SweepError, file_error};

/// The job list of a sweep directory.
pub const JOBS_FILE: &str = "jobs.jsonl";

/// One job: a fully resolved configuration that one call of `smallscale sweep run DIR --index I`
/// runs into its own run directory.
///
/// ```
/// use smallscale_sweep::Job;
/// let config = serde_json::json!({"seed": 0, "method": "qat-b3"});
/// let job = Job::new(0, "reproduce", "main", "seed-0/qat-b3", 2, config.clone());
/// // The id is a hash of what the job does, not of where it stands in the list.
/// assert_eq!(job.id, Job::new(7, "reproduce", "main", "seed-0/qat-b3", 2, config).id);
/// assert_eq!(job.id.len(), 16);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Position in the list (SLURM's `$SLURM_ARRAY_TASK_ID`), from 0.
    pub index: usize,
    /// A hash of `kind`, `part`, `label`, `threads` and `config` (16 hex digits): the same job
    /// has the same id in every plan, wherever it stands in the list.
    pub id: String,
    /// What runs it (`reproduce`, `study`): the caller dispatches on it.
    pub kind: String,
    /// The part of the sweep it belongs to (its output directory under the sweep directory).
    pub part: String,
    /// What a person reads: `seed-0/qat-b3`, `model mlp-w4`.
    pub label: String,
    /// The number of CPU threads the job computes with; results are bitwise reproducible for a
    /// given thread count, so it is part of the job.
    pub threads: usize,
    /// The run configuration, resolved: the model, the data, the method, the seed.
    pub config: serde_json::Value,
}

impl Job {
    /// A job at `index`, its id computed from everything else.
    pub fn new(
        index: usize,
        kind: impl Into<String>,
        part: impl Into<String>,
        label: impl Into<String>,
        threads: usize,
        config: serde_json::Value,
    ) -> Self {
        let (kind, part, label) = (kind.into(), part.into(), label.into());
        let id = job_id(&kind, &part, &label, threads, &config);
        Self {
            index,
            id,
            kind,
            part,
            label,
            threads,
            config,
        }
    }

    /// Whether `id` is the hash of the job's contents (a hand-edited line is not).
    pub fn id_matches(&self) -> bool {
        self.id
            == job_id(
                &self.kind,
                &self.part,
                &self.label,
                self.threads,
                &self.config,
            )
    }
}

/// The stable id of a job: the first 16 hex digits of the SHA-256 of its contents as canonical
/// JSON (object keys sorted, as `serde_json::Value` keeps them).
pub fn job_id(
    kind: &str,
    part: &str,
    label: &str,
    threads: usize,
    config: &serde_json::Value,
) -> String {
    let canonical = serde_json::json!({
        "kind": kind,
        "part": part,
        "label": label,
        "threads": threads,
        "config": config,
    });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `jobs` as `DIR/jobs.jsonl`, atomically, one JSON object per line.
///
/// # Errors
///
/// [`SweepError::InvalidParameter`] when the indices are not 0, 1, 2, ... or two jobs have the
/// same id (the same run planned twice); [`SweepError::Io`] when the file cannot be written.
pub fn write_jobs(dir: &Path, jobs: &[Job]) -> Result<()> {
    check_jobs(jobs)?;
    let mut text = String::new();
    for job in jobs {
        let line = serde_json::to_string(job)
            .map_err(|e| file_error(&dir.join(JOBS_FILE), format!("cannot serialize ({e})")))?;
        text.push_str(&line);
        text.push('\n');
    }
    Ok(write_atomic(dir.join(JOBS_FILE), text.as_bytes())?)
}

fn check_jobs(jobs: &[Job]) -> Result<()> {
    let mut ids = std::collections::BTreeMap::new();
    for (i, job) in jobs.iter().enumerate() {
        if job.index != i {
            return Err(SweepError::InvalidParameter {
                parameter: "jobs",
                reason: format!(
                    "job {i} has index {}: number the jobs 0, 1, 2, ...",
                    job.index
                ),
            });
        }
        if let Some(first) = ids.insert(job.id.clone(), i) {
            return Err(SweepError::InvalidParameter {
                parameter: "jobs",
                reason: format!(
                    "jobs {first} and {i} are the same run ({}): plan each run once",
                    job.label
                ),
            });
        }
    }
    Ok(())
}

/// Reads `DIR/jobs.jsonl`.
///
/// # Errors
///
/// [`SweepError::File`] when the directory has no job list (plan it first), a line is not a job,
/// a job's id does not match its contents (the line was edited: plan again), or the indices are
/// not 0, 1, 2, ...
pub fn read_jobs(dir: &Path) -> Result<Vec<Job>> {
    let path = dir.join(JOBS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(file_error(
                &path,
                format!(
                    "no job list: {} is not a sweep directory; make one with `smallscale sweep plan {} ...`",
                    dir.display(),
                    dir.display()
                ),
            ));
        }
        Err(e) => return Err(file_error(&path, format!("cannot read it ({e})"))),
    };
    let mut jobs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let job: Job = serde_json::from_str(line).map_err(|e| {
            file_error(
                &path,
                format!(
                    "line {} is not a job ({e}); delete {} and plan the sweep again (finished jobs keep their results)",
                    n + 1,
                    JOBS_FILE
                ),
            )
        })?;
        if !job.id_matches() {
            return Err(file_error(
                &path,
                format!(
                    "line {}: job {} has id {}, which is not the hash of its contents (the line was edited); delete {} and plan the sweep again (finished jobs keep their results)",
                    n + 1,
                    job.index,
                    job.id,
                    JOBS_FILE
                ),
            ));
        }
        jobs.push(job);
    }
    check_jobs(&jobs).map_err(|e| {
        file_error(
            &path,
            format!("{e}; delete {JOBS_FILE} and plan the sweep again"),
        )
    })?;
    Ok(jobs)
}

/// Job `index` of the sweep in `dir`.
///
/// # Errors
///
/// Those of [`read_jobs`], and [`SweepError::NoSuchJob`].
pub fn read_job(dir: &Path, index: usize) -> Result<Job> {
    let jobs = read_jobs(dir)?;
    let n = jobs.len();
    jobs.into_iter()
        .nth(index)
        .ok_or_else(|| SweepError::NoSuchJob {
            dir: dir.to_path_buf(),
            index,
            jobs: n,
        })
}
