//! CPU energy estimates where no counter can be read, by one of two models
//! ([`CpuPowerModel`]):
//!
//! * **per busy core** (the default): `energy (J) = CPU seconds x watts per core`. CPU seconds
//!   summed over threads count how many cores were busy for how long, so this scales with
//!   parallelism. [`DEFAULT_WATTS_PER_CORE`] = 10 W is this crate's round figure for thermal
//!   design power divided by core count of current x86 CPUs (roughly 3-15 W per core, from
//!   many-core server parts to desktop parts); set your CPU's TDP / cores with
//!   [`MeterConfig::with_watts_per_core`](crate::MeterConfig::with_watts_per_core).
//! * **CodeCarbon's CPU-load model**: the power of the whole CPU is
//!   `P = max(TDP x load, 0.1 x TDP)` (CodeCarbon's `cpu_load` mode: a linear model with a floor
//!   of 10 % of TDP), with `load` the busy share of the machine's logical CPUs, and
//!   `energy = P x wall seconds`. The load is the process's share (its CPU time / (wall time x
//!   logical CPUs), CodeCarbon's process tracking) or the whole machine's (from `/proc/stat`,
//!   CodeCarbon's machine tracking). CodeCarbon samples the load every few seconds; this meter
//!   uses the run's average load, which gives the same energy for the linear part and differs only
//!   when the load crosses the 10 % floor during the run.
//!
//! Neither model includes memory, disk or the rest of the machine.

use serde::{Deserialize, Serialize};

/// Default power per busy core for the estimate, watts.
pub const DEFAULT_WATTS_PER_CORE: f64 = 10.0;

/// Whose CPU load drives [`CpuPowerModel::CodeCarbonLoad`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadScope {
    /// This process's CPU time over the run.
    Process,
    /// The whole machine's busy time over the run (`/proc/stat`; Linux only, else the process's).
    Machine,
}

/// How CPU energy is estimated where no RAPL counter can be read (see the
/// [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "kebab-case")]
pub enum CpuPowerModel {
    /// CPU seconds x watts per busy core.
    PerCore {
        /// Watts per busy core (finite, > 0).
        watts_per_core: f64,
    },
    /// CodeCarbon's CPU-load model `P = max(TDP x load, 0.1 x TDP)`.
    CodeCarbonLoad {
        /// The CPU's thermal design power, watts (finite, > 0).
        tdp_watts: f64,
        /// Whose load.
        scope: LoadScope,
    },
}

impl Default for CpuPowerModel {
    fn default() -> Self {
        Self::PerCore {
            watts_per_core: DEFAULT_WATTS_PER_CORE,
        }
    }
}

/// What a run did, as the estimate needs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuUsage {
    /// CPU seconds of the process, all threads.
    pub cpu_seconds: f64,
    /// Wall seconds of the run.
    pub wall_seconds: f64,
    /// Logical CPUs of the machine.
    pub logical_cpus: usize,
    /// The machine's busy share over the run, in [0, 1], where it could be read.
    pub machine_load: Option<f64>,
}

impl CpuPowerModel {
    /// The estimated energy in joules and a description of how it was computed.
    ///
    /// ```
    /// use smallscale_pepr_score::{CpuPowerModel, CpuUsage, LoadScope};
    /// let usage = CpuUsage { cpu_seconds: 60.0, wall_seconds: 60.0, logical_cpus: 2, machine_load: None };
    /// // 1 of 2 CPUs busy for a minute: 50 % load of a 100 W CPU = 50 W for 60 s.
    /// let model = CpuPowerModel::CodeCarbonLoad { tdp_watts: 100.0, scope: LoadScope::Process };
    /// assert_eq!(model.energy_joules(&usage).0, 3000.0);
    /// // Per busy core: 60 CPU seconds x 10 W.
    /// assert_eq!(CpuPowerModel::default().energy_joules(&usage).0, 600.0);
    /// ```
    pub fn energy_joules(&self, usage: &CpuUsage) -> (f64, String) {
        let cpu = usage.cpu_seconds.max(0.0);
        match *self {
            Self::PerCore { watts_per_core } => (
                estimate_cpu_energy_joules(cpu, watts_per_core),
                format!(
                    "CPU time {cpu:.3} s x {watts_per_core} W per core (memory and idle power not included)"
                ),
            ),
            Self::CodeCarbonLoad { tdp_watts, scope } => {
                let wall = usage.wall_seconds.max(0.0);
                let process_load = if wall > 0.0 {
                    (cpu / (wall * usage.logical_cpus.max(1) as f64)).min(1.0)
                } else {
                    0.0
                };
                let (load, whose) = match (scope, usage.machine_load) {
                    (LoadScope::Machine, Some(l)) => (l.clamp(0.0, 1.0), "the machine's"),
                    (LoadScope::Machine, None) => (
                        process_load,
                        "the process's (the machine's could not be read)",
                    ),
                    (LoadScope::Process, _) => (process_load, "the process's"),
                };
                let watts = codecarbon_cpu_watts(tdp_watts, load);
                (
                    watts * wall,
                    format!(
                        "CodeCarbon CPU-load model: max(TDP {tdp_watts} W x load {load:.3}, 10 % of TDP) = {watts:.2} W x {wall:.3} s wall, load = {whose} busy share of {} logical CPUs (memory not included)",
                        usage.logical_cpus
                    ),
                )
            }
        }
    }

    /// Fails unless the model's number is finite and positive.
    pub(crate) fn check(&self) -> Result<(), (&'static str, f64, &'static str)> {
        match *self {
            Self::PerCore { watts_per_core }
                if !(watts_per_core.is_finite() && watts_per_core > 0.0) =>
            {
                Err((
                    "watts per core",
                    watts_per_core,
                    "must be finite and > 0 (your CPU's TDP divided by its core count)",
                ))
            }
            Self::CodeCarbonLoad { tdp_watts, .. }
                if !(tdp_watts.is_finite() && tdp_watts > 0.0) =>
            {
                Err((
                    "CPU TDP",
                    tdp_watts,
                    "must be finite and > 0 watts (the thermal design power on the CPU's data sheet)",
                ))
            }
            _ => Ok(()),
        }
    }
}

/// CodeCarbon's CPU power at `load` in [0, 1]: `max(TDP x load, 0.1 x TDP)`.
///
/// ```
/// use smallscale_pepr_score::codecarbon_cpu_watts;
/// assert_eq!(codecarbon_cpu_watts(100.0, 0.5), 50.0);
/// assert_eq!(codecarbon_cpu_watts(100.0, 0.02), 10.0); // the 10 % floor
/// ```
pub fn codecarbon_cpu_watts(tdp_watts: f64, load: f64) -> f64 {
    (tdp_watts * load).max(0.1 * tdp_watts)
}

/// Estimated CPU energy in joules for `cpu_seconds` at `watts_per_core`.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::estimate_cpu_energy_joules;
///
/// // 2 cores busy for 30 s at 10 W per core.
/// assert_eq!(estimate_cpu_energy_joules(60.0, 10.0), 600.0);
/// ```
pub fn estimate_cpu_energy_joules(cpu_seconds: f64, watts_per_core: f64) -> f64 {
    cpu_seconds.max(0.0) * watts_per_core
}

/// The machine's busy and total CPU time so far (`/proc/stat`, jiffies), where it can be read.
pub(crate) fn machine_cpu_jiffies() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    parse_proc_stat(&text)
}

/// `(busy, total)` from the `cpu` line of `/proc/stat`: idle and iowait are not busy.
pub(crate) fn parse_proc_stat(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    if values.len() < 4 {
        return None;
    }
    // user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
    let total: u64 = values.iter().take(8).sum();
    let idle = values[3] + values.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

/// The busy share between two `/proc/stat` readings.
pub(crate) fn load_between(start: (u64, u64), end: (u64, u64)) -> Option<f64> {
    let busy = end.0.checked_sub(start.0)?;
    let total = end.1.checked_sub(start.1)?;
    (total > 0).then(|| busy as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_is_parsed_and_the_load_is_the_busy_share() {
        let a = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n";
        let b = "cpu  160 0 90 900 50 0 0 0 0 0\n";
        let (s, e) = (parse_proc_stat(a).unwrap(), parse_proc_stat(b).unwrap());
        assert_eq!(s, (150, 1000));
        // 100 busy jiffies of 200.
        assert_eq!(load_between(s, e), Some(0.5));
        assert_eq!(parse_proc_stat("intr 1 2 3"), None);
        assert_eq!(load_between(e, s), None);
    }

    #[test]
    fn codecarbon_model_against_hand_computed_values() {
        let usage = |cpu, wall, machine| CpuUsage {
            cpu_seconds: cpu,
            wall_seconds: wall,
            logical_cpus: 4,
            machine_load: machine,
        };
        let process = CpuPowerModel::CodeCarbonLoad {
            tdp_watts: 80.0,
            scope: LoadScope::Process,
        };
        // 4 CPUs fully busy for 10 s: 80 W x 10 s.
        assert_eq!(process.energy_joules(&usage(40.0, 10.0, None)).0, 800.0);
        // 1 CPU of 4 busy: 25 % -> 20 W.
        assert_eq!(process.energy_joules(&usage(10.0, 10.0, None)).0, 200.0);
        // Nearly idle: the floor, 8 W.
        assert_eq!(process.energy_joules(&usage(0.1, 10.0, None)).0, 80.0);
        let machine = CpuPowerModel::CodeCarbonLoad {
            tdp_watts: 80.0,
            scope: LoadScope::Machine,
        };
        // The machine's load is used where it was read, the process's otherwise.
        let (j, how) = machine.energy_joules(&usage(10.0, 10.0, Some(0.75)));
        assert_eq!(j, 600.0);
        assert!(how.contains("the machine's"), "{how}");
        let (j, how) = machine.energy_joules(&usage(10.0, 10.0, None));
        assert_eq!(j, 200.0);
        assert!(how.contains("could not be read"), "{how}");
        assert!(
            CpuPowerModel::CodeCarbonLoad {
                tdp_watts: 0.0,
                scope: LoadScope::Process
            }
            .check()
            .is_err()
        );
    }
}
