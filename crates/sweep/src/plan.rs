//! A sweep directory's plan: `sweep.json` (what was planned, resolved), `jobs.jsonl` and
//! `sweep.sbatch`.
//!
//! ```text
//! DIR/
//!   sweep.json     the plan: its parts (each a command with its resolved settings), the SLURM
//!                  settings and the program the tasks run
//!   jobs.jsonl     one job per line (see Job)
//!   sweep.sbatch   the SLURM array script
//!   logs/          one log file per SLURM task (and per job of a --local run)
//!   jobs/ID/       each job's lock, result and error (see JobFiles)
//!   PART/          each part's outputs: run directories, and after `sweep merge` its results
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use smallscale_io::write_atomic;

use crate::errors::{Result, SweepError, file_error};
use crate::job::{JOBS_FILE, Job, read_jobs, write_jobs};
use crate::sbatch::{LOGS_DIR, SBATCH_FILE, SbatchParams, SbatchValidParams, sbatch_script};

/// The plan of a sweep directory.
pub const PLAN_FILE: &str = "sweep.json";

/// One part of a sweep: one command of the project (`reproduce`, `study`) whose runs are the
/// part's jobs, and whose outputs `sweep merge` writes into `DIR/NAME/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPart {
    /// The part's name and output directory under the sweep directory.
    pub name: String,
    /// The command (`reproduce`, `study`).
    pub kind: String,
    /// The command line as given (for people; `settings` is what counts).
    pub args: Vec<String>,
    /// The command's settings, resolved (what `sweep merge` computes the outputs with).
    pub settings: serde_json::Value,
}

/// What `sweep.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPlan {
    /// The parts, in order.
    pub parts: Vec<SweepPart>,
    /// The SLURM settings of `sweep.sbatch`.
    pub sbatch: SbatchParams,
    /// The program the SLURM tasks run.
    pub smallscale: PathBuf,
}

impl SweepPlan {
    /// The part named `name`.
    pub fn part(&self, name: &str) -> Option<&SweepPart> {
        self.parts.iter().find(|p| p.name == name)
    }
}

/// Checks a part's name: a plain folder name.
///
/// # Errors
///
/// [`SweepError::InvalidParameter`] for an empty name, one with a path separator or a character
/// other than letters, digits, `-`, `_` and `.`, or one of the sweep directory's own names.
pub fn check_part_name(name: &str) -> Result<()> {
    let reserved = [PLAN_FILE, JOBS_FILE, SBATCH_FILE, LOGS_DIR, crate::JOBS_DIR];
    if name.is_empty()
        || name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        || reserved.contains(&name)
    {
        return Err(SweepError::InvalidParameter {
            parameter: "part name",
            reason: format!(
                "{name:?}: use letters, digits, '-', '_' and '.' (not first), and none of {reserved:?}"
            ),
        });
    }
    Ok(())
}

/// Writes a sweep into `dir`: `sweep.json`, `jobs.jsonl`, `sweep.sbatch` and `logs/`.
///
/// Planning the same jobs again is allowed (the SLURM settings may change: they do not change
/// what a job computes, except the thread count, which is part of every job); a directory that
/// holds other jobs is refused, so that no finished result is mixed with another sweep's.
/// Returns whether the directory already held this sweep.
///
/// # Errors
///
/// [`SweepError::OtherPlan`]; [`SweepError::InvalidParameter`] for an empty job list or bad part
/// names; [`SweepError::File`] / [`SweepError::Io`] when a file cannot be read or written.
pub fn write_plan(
    dir: &Path,
    plan: &SweepPlan,
    jobs: &[Job],
    sbatch: &SbatchValidParams,
) -> Result<bool> {
    if jobs.is_empty() {
        return Err(SweepError::InvalidParameter {
            parameter: "plan",
            reason: "it has no job: nothing to run".into(),
        });
    }
    for part in &plan.parts {
        check_part_name(&part.name)?;
        if plan.parts.iter().filter(|p| p.name == part.name).count() > 1 {
            return Err(SweepError::InvalidParameter {
                parameter: "part name",
                reason: format!("{:?} names two parts: give each its own", part.name),
            });
        }
    }
    if let Some(job) = jobs.iter().find(|j| plan.part(&j.part).is_none()) {
        return Err(SweepError::InvalidParameter {
            parameter: "jobs",
            reason: format!("job {} belongs to no part ({:?})", job.index, job.part),
        });
    }
    std::fs::create_dir_all(dir.join(LOGS_DIR))
        .map_err(|e| file_error(dir, format!("cannot create the sweep directory ({e})")))?;
    let existed = dir.join(JOBS_FILE).exists();
    if existed {
        let old = read_jobs(dir)?;
        let old_ids: Vec<&str> = old.iter().map(|j| j.id.as_str()).collect();
        let new_ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
        if old_ids != new_ids {
            let removed = old.iter().filter(|j| !new_ids.contains(&j.id.as_str()));
            let added = jobs.iter().filter(|j| !old_ids.contains(&j.id.as_str()));
            let names = |it: &mut dyn Iterator<Item = &Job>| {
                let v: Vec<String> = it.take(4).map(|j| j.label.clone()).collect();
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.join(", ")
                }
            };
            return Err(SweepError::OtherPlan {
                dir: dir.to_path_buf(),
                differences: format!(
                    "{} jobs there, {} now; there and not now: {}; now and not there: {}",
                    old.len(),
                    jobs.len(),
                    names(&mut { removed }),
                    names(&mut { added })
                ),
            });
        }
    }
    let json = serde_json::to_vec_pretty(plan)
        .map_err(|e| file_error(&dir.join(PLAN_FILE), format!("cannot serialize ({e})")))?;
    write_atomic(dir.join(PLAN_FILE), &json)?;
    write_jobs(dir, jobs)?;
    let script = sbatch_script(sbatch, jobs.len(), &plan.smallscale);
    write_atomic(dir.join(SBATCH_FILE), script.as_bytes())?;
    Ok(existed)
}

/// Reads `DIR/sweep.json`.
///
/// # Errors
///
/// [`SweepError::File`] when the directory holds no plan, or it cannot be parsed.
pub fn read_plan(dir: &Path) -> Result<SweepPlan> {
    let path = dir.join(PLAN_FILE);
    let bytes = std::fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            file_error(
                &path,
                format!(
                    "no plan: {} is not a sweep directory; make one with `smallscale sweep plan {} ...`",
                    dir.display(),
                    dir.display()
                ),
            )
        } else {
            file_error(&path, format!("cannot read it ({e})"))
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        file_error(
            &path,
            format!("not a sweep plan ({e}); plan the sweep again with `smallscale sweep plan`"),
        )
    })
}
