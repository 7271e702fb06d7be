//! Where and with what a run was made: recorded in every results file.

use serde::{Deserialize, Serialize};
use smallscale_pepr_score::MachineInfo;

/// The command, the software and the machine behind a results file, so a reader can tell which
/// numbers are comparable: accuracies depend on the code version, speeds on the CPU and the thread
/// count.
///
/// ```
/// use smallscale_osc_reg::RunEnvironment;
/// let env = RunEnvironment::detect("smallscale reproduce", Some("0123abc".into()));
/// assert_eq!(env.version, env!("CARGO_PKG_VERSION"));
/// assert!(env.threads >= 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEnvironment {
    /// The command line that made the results.
    pub command: String,
    /// The smallscale version.
    pub version: String,
    /// The git commit the program was built from, when known (a build outside a git checkout,
    /// such as one from crates.io, has none).
    pub git_commit: Option<String>,
    /// Threads of the compute pool.
    pub threads: usize,
    /// The machine.
    pub machine: MachineInfo,
}

impl RunEnvironment {
    /// Describes this process: `command`, this crate's version, `git_commit` (the caller knows how it
    /// was built), the thread count and the machine.
    pub fn detect(command: impl Into<String>, git_commit: Option<String>) -> Self {
        Self {
            command: command.into(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit,
            threads: rayon::current_num_threads(),
            machine: MachineInfo::detect(),
        }
    }

    /// One line for reports: version, commit, threads and CPU.
    pub fn summary(&self) -> String {
        format!(
            "smallscale {}{}, {} thread(s), {} ({} logical CPUs, {}/{})",
            self.version,
            self.git_commit
                .as_deref()
                .map_or(String::new(), |c| format!(" (commit {c})")),
            self.threads,
            self.machine
                .cpu_model
                .as_deref()
                .unwrap_or("CPU model unknown"),
            self.machine.logical_cpus,
            self.machine.os,
            self.machine.arch
        )
    }
}
