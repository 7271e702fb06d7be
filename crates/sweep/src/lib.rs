#![doc = include_str!("../README.md")]

mod errors;
mod job;
mod job_state;
mod local;
mod plan;
mod run_job;
mod sbatch;
mod status;

pub use errors::{Result, SweepError};
pub use job::{JOBS_FILE, Job, job_id, read_job, read_jobs, write_jobs};
pub use job_state::{JOBS_DIR, JobFiles, JobLock, JobOwner, JobState};
pub use local::{LocalEvent, LocalSummary, log_file, run_local};
pub use plan::{PLAN_FILE, SweepPart, SweepPlan, check_part_name, read_plan, write_plan};
pub use run_job::{JobRun, run_job};
pub use sbatch::{LOGS_DIR, SBATCH_FILE, SbatchParams, SbatchValidParams, sbatch_script};
pub use status::{JobStatus, SweepStatus, sweep_status};
