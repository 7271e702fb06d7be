//! `sweep.sbatch`: the SLURM job-array script whose tasks each run one job of the sweep.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::errors::{Result, SweepError};

/// The SLURM script of a sweep.
pub const SBATCH_FILE: &str = "sweep.sbatch";

/// The folder of the tasks' log files (`logs/JOBID_TASK.out`).
pub const LOGS_DIR: &str = "logs";

/// Settings of the SLURM array script, unvalidated; [`SbatchParams::check`] gives the
/// [`SbatchValidParams`] that [`sbatch_script`] takes.
///
/// ```
/// use smallscale_sweep::SbatchParams;
/// let p = SbatchParams { time: "1-12:00:00".into(), max_parallel: Some(4), ..SbatchParams::default() };
/// assert!(p.clone().check().is_ok());
/// assert!(SbatchParams { time: "90 minutes".into(), ..p.clone() }.check().is_err());
/// assert!(SbatchParams { mem: "4 GB".into(), ..p }.check().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbatchParams {
    /// `--job-name`.
    pub job_name: String,
    /// `--time` per task, in one of SLURM's forms: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`.
    pub time: String,
    /// `--mem` per task: a number with an optional unit K, M, G or T (`4G`).
    pub mem: String,
    /// `--cpus-per-task`; also the number of threads each job computes with.
    pub cpus_per_task: usize,
    /// The `%K` of `--array=0-N%K`: at most K tasks at once (none: as many as SLURM allows).
    pub max_parallel: Option<usize>,
    /// `--partition`, if any.
    pub partition: Option<String>,
    /// `--account`, if any.
    pub account: Option<String>,
}

impl Default for SbatchParams {
    /// Job name `smallscale-sweep`, 4 hours, 8G, 2 CPUs per task, no limit on parallel tasks.
    fn default() -> Self {
        Self {
            job_name: "smallscale-sweep".into(),
            time: "04:00:00".into(),
            mem: "8G".into(),
            cpus_per_task: 2,
            max_parallel: None,
            partition: None,
            account: None,
        }
    }
}

/// [`SbatchParams`] that passed [`SbatchParams::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbatchValidParams(SbatchParams);

impl SbatchValidParams {
    /// The settings.
    pub fn params(&self) -> &SbatchParams {
        &self.0
    }
}

impl SbatchParams {
    /// Checks every setting against what `sbatch` accepts, so that a bad value is refused when
    /// the sweep is planned rather than when it is submitted.
    pub fn check(self) -> Result<SbatchValidParams> {
        let word = |parameter: &'static str, value: &str| {
            if value.is_empty()
                || !value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                Err(SweepError::InvalidParameter {
                    parameter,
                    reason: format!(
                        "{value:?}: use letters, digits, '-', '_' and '.' only (it goes into the #SBATCH lines)"
                    ),
                })
            } else {
                Ok(())
            }
        };
        word("--job-name", &self.job_name)?;
        if let Some(p) = &self.partition {
            word("--partition", p)?;
        }
        if let Some(a) = &self.account {
            word("--account", a)?;
        }
        if !is_slurm_time(&self.time) {
            return Err(SweepError::InvalidParameter {
                parameter: "--time",
                reason: format!(
                    "{:?} is not a SLURM time: give minutes (90), H:M:S (04:00:00) or D-H:M:S (1-12:00:00)",
                    self.time
                ),
            });
        }
        if !is_slurm_memory(&self.mem) {
            return Err(SweepError::InvalidParameter {
                parameter: "--mem",
                reason: format!(
                    "{:?} is not a SLURM memory size: give a whole number with an optional unit K, M, G or T (8G)",
                    self.mem
                ),
            });
        }
        if self.cpus_per_task == 0 {
            return Err(SweepError::InvalidParameter {
                parameter: "--cpus-per-task",
                reason: "give at least 1".into(),
            });
        }
        if self.max_parallel == Some(0) {
            return Err(SweepError::InvalidParameter {
                parameter: "--max-parallel",
                reason: "give at least 1, or leave it out for no limit".into(),
            });
        }
        Ok(SbatchValidParams(self))
    }
}

/// SLURM's time forms: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S` (each a whole number).
fn is_slurm_time(s: &str) -> bool {
    let number = |p: &str| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit());
    let (days, rest) = match s.split_once('-') {
        Some((d, rest)) => (Some(d), rest),
        None => (None, s),
    };
    if days.is_some_and(|d| !number(d)) {
        return false;
    }
    let parts: Vec<&str> = rest.split(':').collect();
    parts.len() <= 3 && parts.iter().all(|p| number(p))
}

/// A whole number with an optional unit K, M, G or T.
fn is_slurm_memory(s: &str) -> bool {
    let digits = s.trim_end_matches(['K', 'M', 'G', 'T']);
    s.len() - digits.len() <= 1 && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The job-array script of a sweep of `jobs` jobs: one task per job, `--array=0-(jobs-1)[%K]`,
/// the time, memory and CPUs per task, a log file per task under `logs/`, and a task body that
/// runs `smallscale sweep run . --index $SLURM_ARRAY_TASK_ID` in the directory it was submitted
/// from (the sweep directory: submit with `cd DIR && sbatch sweep.sbatch`).
///
/// `smallscale` is the program the tasks run; a task's environment can replace it with
/// `SMALLSCALE=/path/to/smallscale` (`sbatch --export=ALL,SMALLSCALE=...`).
///
/// ```
/// use smallscale_sweep::{SbatchParams, sbatch_script};
/// let p = SbatchParams { max_parallel: Some(3), ..SbatchParams::default() }.check()?;
/// let script = sbatch_script(&p, 10, std::path::Path::new("/opt/bin/smallscale"));
/// assert!(script.contains("#SBATCH --array=0-9%3\n"));
/// assert!(script.contains("--index \"$SLURM_ARRAY_TASK_ID\""));
/// # Ok::<(), smallscale_sweep::SweepError>(())
/// ```
pub fn sbatch_script(params: &SbatchValidParams, jobs: usize, smallscale: &Path) -> String {
    let p = params.params();
    let mut s = String::from("#!/bin/bash\n");
    s.push_str("# A smallscale sweep as a SLURM job array: task I runs job I of jobs.jsonl.\n");
    s.push_str("# Submit from the sweep directory: cd DIR && sbatch sweep.sbatch\n");
    s.push_str(&format!("#SBATCH --job-name={}\n", p.job_name));
    let array = match p.max_parallel {
        Some(k) => format!("0-{}%{k}", jobs.saturating_sub(1)),
        None => format!("0-{}", jobs.saturating_sub(1)),
    };
    s.push_str(&format!("#SBATCH --array={array}\n"));
    s.push_str(&format!("#SBATCH --time={}\n", p.time));
    s.push_str(&format!("#SBATCH --mem={}\n", p.mem));
    s.push_str("#SBATCH --ntasks=1\n");
    s.push_str(&format!("#SBATCH --cpus-per-task={}\n", p.cpus_per_task));
    if let Some(part) = &p.partition {
        s.push_str(&format!("#SBATCH --partition={part}\n"));
    }
    if let Some(account) = &p.account {
        s.push_str(&format!("#SBATCH --account={account}\n"));
    }
    s.push_str(&format!("#SBATCH --output={LOGS_DIR}/%A_%a.out\n"));
    // A cancelled or timed-out task gets SIGTERM first: the run directory keeps every finished
    // epoch, and the resubmitted task resumes from it.
    s.push_str("set -euo pipefail\n");
    s.push_str(&format!(
        "SMALLSCALE=\"${{SMALLSCALE:-{}}}\"\n",
        shell_quote_inner(&smallscale.display().to_string())
    ));
    s.push_str(&format!(
        "if [ ! -f {} ]; then\n  echo \"$(pwd) is not the sweep directory: submit with 'cd SWEEP_DIR && sbatch sweep.sbatch'\" >&2\n  exit 2\nfi\n",
        crate::job::JOBS_FILE
    ));
    s.push_str("exec \"$SMALLSCALE\" sweep run . --index \"$SLURM_ARRAY_TASK_ID\" --no-progress\n");
    s
}

/// `text` for use inside double quotes in bash.
fn shell_quote_inner(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_times() {
        for ok in ["90", "30:00", "04:00:00", "1-12", "1-12:30", "2-00:00:00"] {
            assert!(is_slurm_time(ok), "{ok}");
        }
        for bad in ["", "1h", "1:2:3:4", "-1", "1-", "a-1", "1--2", "1:", " 1"] {
            assert!(!is_slurm_time(bad), "{bad}");
        }
    }

    #[test]
    fn slurm_memory() {
        for ok in ["8G", "512M", "1000", "2T"] {
            assert!(is_slurm_memory(ok), "{ok}");
        }
        for bad in ["", "G", "8GB", "8 G", "1.5G", "8g"] {
            assert!(!is_slurm_memory(bad), "{bad}");
        }
    }

    #[test]
    fn quoting_keeps_a_path_literal() {
        assert_eq!(shell_quote_inner(r#"/a b/$x"`y`\"#), r#"/a b/\$x\"\`y\`\\"#);
    }
}
