//! What a job has done, in files beside the job list: `jobs/ID/` holds the job's lock, who holds
//! it, its result once done and its error once failed.
//!
//! ```text
//! DIR/jobs/ID/
//!   lock         locked (flock) while a process runs the job; released when it ends or dies
//!   owner.json   host, process and start time of the process that last took the lock
//!   done.json    what the job returned, written atomically when it finished (the commit point)
//!   error.txt    the error of the last attempt, if it failed (removed when an attempt starts)
//! ```

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use smallscale_io::write_atomic;

use crate::errors::{Result, file_error};
use crate::job::Job;

/// The folder of the jobs' state under a sweep directory.
pub const JOBS_DIR: &str = "jobs";
const LOCK_FILE: &str = "lock";
const OWNER_FILE: &str = "owner.json";
const DONE_FILE: &str = "done.json";
const ERROR_FILE: &str = "error.txt";

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobState {
    /// Finished: `done.json` is written.
    Done,
    /// A process holds the job's lock now.
    Running,
    /// The last attempt failed (`error.txt`) and no process runs it now.
    Failed,
    /// Never started, or stopped (killed, cancelled, timed out) without an error: the next
    /// attempt resumes from the job's run directory.
    Pending,
}

impl JobState {
    /// `done`, `running`, `failed`, `pending`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Running => "running",
            Self::Failed => "failed",
            Self::Pending => "pending",
        }
    }
}

/// The process that holds, or last held, a job's lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOwner {
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// When it took the lock, seconds since the Unix epoch.
    pub started_unix: u64,
    /// SLURM's job and task ids, when run by SLURM (`12345_7`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_task: Option<String>,
}

impl JobOwner {
    fn this_process() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "unknown".into());
        let slurm_task = match (
            std::env::var("SLURM_ARRAY_JOB_ID"),
            std::env::var("SLURM_ARRAY_TASK_ID"),
        ) {
            (Ok(job), Ok(task)) => Some(format!("{job}_{task}")),
            _ => std::env::var("SLURM_JOB_ID").ok(),
        };
        Self {
            host,
            pid: std::process::id(),
            started_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            slurm_task,
        }
    }

    /// `host pid 123 (SLURM 12345_7)`.
    pub fn describe(&self) -> String {
        match &self.slurm_task {
            Some(t) => format!("{} pid {} (SLURM {t})", self.host, self.pid),
            None => format!("{} pid {}", self.host, self.pid),
        }
    }
}

/// The state folder of one job, `DIR/jobs/ID/`.
#[derive(Debug, Clone)]
pub struct JobFiles {
    dir: PathBuf,
}

/// A job's lock, held until dropped (or until the process ends, however it ends).
#[derive(Debug)]
pub struct JobLock {
    _file: File,
}

impl JobFiles {
    /// The state folder of `job` in the sweep directory `sweep_dir` (created when first written).
    pub fn of(sweep_dir: &Path, job: &Job) -> Self {
        Self {
            dir: sweep_dir.join(JOBS_DIR).join(&job.id),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn create(&self) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| file_error(&self.dir, format!("cannot create the job's folder ({e})")))
    }

    fn open_lock(&self) -> Result<File> {
        self.create()?;
        let path = self.dir.join(LOCK_FILE);
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| file_error(&path, format!("cannot open the job's lock ({e})")))
    }

    /// Takes the job's lock if no other process holds it (`None` if one does).
    ///
    /// The lock is an advisory `flock` on `lock`: the operating system releases it when the
    /// holder ends, however it ends, so a killed job never leaves a stale lock. On a shared file
    /// system it holds across machines where the file system supports locks (NFSv4, Lustre and
    /// GPFS do).
    ///
    /// # Errors
    ///
    /// [`crate::SweepError::File`] when the lock file cannot be opened or locked.
    pub fn try_lock(&self) -> Result<Option<JobLock>> {
        let file = self.open_lock()?;
        match file.try_lock() {
            Ok(()) => {
                self.write_owner()?;
                Ok(Some(JobLock { _file: file }))
            }
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(file_error(
                &self.dir.join(LOCK_FILE),
                format!("cannot lock it ({e}); does this file system support locks?"),
            )),
        }
    }

    /// Waits for the job's lock.
    ///
    /// # Errors
    ///
    /// As [`JobFiles::try_lock`].
    pub fn lock(&self) -> Result<JobLock> {
        let file = self.open_lock()?;
        file.lock().map_err(|e| {
            file_error(
                &self.dir.join(LOCK_FILE),
                format!("cannot lock it ({e}); does this file system support locks?"),
            )
        })?;
        self.write_owner()?;
        Ok(JobLock { _file: file })
    }

    fn write_owner(&self) -> Result<()> {
        let owner = JobOwner::this_process();
        let bytes = serde_json::to_vec_pretty(&owner).unwrap_or_default();
        Ok(write_atomic(self.dir.join(OWNER_FILE), &bytes)?)
    }

    /// Who holds, or last held, the lock.
    pub fn owner(&self) -> Option<JobOwner> {
        let bytes = std::fs::read(self.dir.join(OWNER_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Whether some process holds the lock now (probes it without waiting).
    ///
    /// # Errors
    ///
    /// As [`JobFiles::try_lock`].
    pub fn is_locked(&self) -> Result<bool> {
        if !self.dir.join(LOCK_FILE).exists() {
            return Ok(false);
        }
        let file = self.open_lock()?;
        // A shared lock: probes do not block each other, only a holder of the job's (exclusive)
        // lock blocks them.
        match file.try_lock_shared() {
            Ok(()) => Ok(false),
            Err(TryLockError::WouldBlock) => Ok(true),
            Err(TryLockError::Error(e)) => Err(file_error(
                &self.dir.join(LOCK_FILE),
                format!("cannot probe the lock ({e})"),
            )),
        }
    }

    /// What the job returned, if it finished.
    ///
    /// # Errors
    ///
    /// [`crate::SweepError::File`] when `done.json` exists but is not JSON.
    pub fn done(&self) -> Result<Option<serde_json::Value>> {
        let path = self.dir.join(DONE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                file_error(
                    &path,
                    format!("not JSON ({e}); delete it to run the job again"),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(file_error(&path, format!("cannot read it ({e})"))),
        }
    }

    /// Records that the job finished with `value` (atomically: the job's commit point) and
    /// removes the error of an earlier attempt.
    ///
    /// # Errors
    ///
    /// [`crate::SweepError::Io`] when the file cannot be written.
    pub fn mark_done(&self, value: &serde_json::Value) -> Result<()> {
        self.create()?;
        let bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
        write_atomic(self.dir.join(DONE_FILE), &bytes)?;
        self.clear_error()
    }

    /// Records the error of a failed attempt.
    ///
    /// # Errors
    ///
    /// [`crate::SweepError::Io`] when the file cannot be written.
    pub fn mark_failed(&self, message: &str) -> Result<()> {
        self.create()?;
        Ok(write_atomic(
            self.dir.join(ERROR_FILE),
            format!("{message}\n").as_bytes(),
        )?)
    }

    /// Removes the error of an earlier attempt, if any.
    ///
    /// # Errors
    ///
    /// [`crate::SweepError::File`] when it exists and cannot be removed.
    pub fn clear_error(&self) -> Result<()> {
        let path = self.dir.join(ERROR_FILE);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(file_error(&path, format!("cannot remove it ({e})"))),
        }
    }

    /// The last `lines` lines of the last attempt's error, if it failed.
    pub fn error_tail(&self, lines: usize) -> Option<String> {
        let text = std::fs::read_to_string(self.dir.join(ERROR_FILE)).ok()?;
        let all: Vec<&str> = text.lines().collect();
        Some(all[all.len().saturating_sub(lines)..].join("\n"))
    }

    /// Where the job stands.
    ///
    /// # Errors
    ///
    /// As [`JobFiles::done`] and [`JobFiles::is_locked`].
    pub fn state(&self) -> Result<JobState> {
        // The lock first: a job that finishes between the two looks is then done, not pending.
        if self.is_locked()? {
            return Ok(JobState::Running);
        }
        if self.done()?.is_some() {
            return Ok(JobState::Done);
        }
        if self.dir.join(ERROR_FILE).exists() {
            return Ok(JobState::Failed);
        }
        Ok(JobState::Pending)
    }
}
