//! `sweep status`: where every job of a sweep stands.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::errors::Result;
use crate::job::{Job, read_jobs};
use crate::job_state::{JobFiles, JobOwner, JobState};

/// One job and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    /// The job.
    pub job: Job,
    /// Done, running, failed or pending.
    pub state: JobState,
    /// Who runs it (running) or last ran it.
    pub owner: Option<JobOwner>,
    /// The last lines of its error (failed).
    pub error_tail: Option<String>,
}

/// Every job of a sweep and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepStatus {
    /// In job order.
    pub jobs: Vec<JobStatus>,
}

impl SweepStatus {
    /// How many jobs are in `state`.
    pub fn count(&self, state: JobState) -> usize {
        self.jobs.iter().filter(|j| j.state == state).count()
    }

    /// Whether every job is done.
    pub fn complete(&self) -> bool {
        self.jobs.iter().all(|j| j.state == JobState::Done)
    }

    /// `12 done, 1 running, 1 failed, 6 pending (of 20)`.
    pub fn summary(&self) -> String {
        format!(
            "{} done, {} running, {} failed, {} pending (of {})",
            self.count(JobState::Done),
            self.count(JobState::Running),
            self.count(JobState::Failed),
            self.count(JobState::Pending),
            self.jobs.len()
        )
    }
}

/// Where every job of the sweep in `dir` stands, with the last `error_lines` lines of each
/// failed job's error.
///
/// # Errors
///
/// Those of [`read_jobs`], and a job state that cannot be read.
pub fn sweep_status(dir: &Path, error_lines: usize) -> Result<SweepStatus> {
    let jobs = read_jobs(dir)?;
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let files = JobFiles::of(dir, &job);
        let state = files.state()?;
        let error_tail = (state == JobState::Failed)
            .then(|| files.error_tail(error_lines))
            .flatten();
        let owner = (state != JobState::Pending || files.dir().exists())
            .then(|| files.owner())
            .flatten();
        out.push(JobStatus {
            job,
            state,
            owner,
            error_tail,
        });
    }
    Ok(SweepStatus { jobs: out })
}
