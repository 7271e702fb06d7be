//! CPU energy estimates where no counter can be read, by one of two models
//! ([`CpuPowerModel`]):
//!
//! * **per busy core** (the default): `energy (J) = CPU seconds x watts per core`. CPU seconds
//!   summed over threads count how many cores were busy for how long, so this scales with
//!   parallelism. [`DEFAULT_WATTS_PER_CORE`] = 10 W is this crate's round figure for thermal
//!   design power divided by core count of current x86 CPUs (roughly 3-15 W per core, from
//!   many-core server parts to desktop parts); set your CPU's TDP / cores with
//!   [`MeterConfig::with_watts_per_core`](crate::MeterConfig::with_watts_per_core).
//! * **CodeCarbon's CPU-load model** (its `cpu_load` mode, `_get_power_from_cpu_load`), in its two
//!   tracking modes:
//!   - machine: `P = TDP x (0.1 + 0.9 x load^3)` with `load` the busy share of all of the
//!     machine's CPUs (`/proc/stat`), sampled every sampling interval of the meter and integrated
//!     over the run (the cubic is not linear, so the average load would underestimate);
//!   - process: `P = TDP x load` with `load` = the process's CPU time / (wall time x the
//!     machine's logical CPUs), linear, so the run's average is exact.
//!
//!   Energy is the integral of `P` over the wall time.
//!
//! Neither model includes memory, disk or the rest of the machine.

use serde::{Deserialize, Serialize};

/// Default power per busy core for the estimate, watts.
pub const DEFAULT_WATTS_PER_CORE: f64 = 10.0;

/// Whose CPU load drives [`CpuPowerModel::CodeCarbonLoad`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadScope {
    /// This process's CPU time over the run: `P = TDP x load`.
    Process,
    /// The whole machine's busy time (`/proc/stat`, sampled; Linux only, else the process's):
    /// `P = TDP x (0.1 + 0.9 x load^3)`.
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
    /// CodeCarbon's CPU-load model: `TDP x (0.1 + 0.9 x load^3)` for the machine's load,
    /// `TDP x load` for the process's.
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
    /// Logical CPUs of the machine (all of them, not only those this process may use).
    pub logical_cpus: usize,
    /// The machine's load over the run, where `/proc/stat` could be read.
    pub machine_load: Option<MachineLoad>,
}

/// The machine's CPU load over a run, from `/proc/stat`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MachineLoad {
    /// The average busy share, in [0, 1].
    pub average: f64,
    /// `integral of (0.1 + 0.9 x load^3) dt` over the run, seconds: the energy of the machine
    /// mode divided by TDP.
    pub cubic_factor_seconds: f64,
    /// Number of samples behind it.
    pub samples: usize,
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
                let cpus = usage.logical_cpus.max(1);
                let process = || {
                    let load = if wall > 0.0 {
                        (cpu / (wall * cpus as f64)).min(1.0)
                    } else {
                        0.0
                    };
                    (
                        codecarbon_process_watts(tdp_watts, load) * wall,
                        format!(
                            "CodeCarbon CPU-load model, process mode: TDP {tdp_watts} W x load {load:.3} (CPU time {cpu:.3} s / ({wall:.3} s wall x {cpus} logical CPUs)) x wall time (memory not included)"
                        ),
                    )
                };
                match (scope, usage.machine_load) {
                    (LoadScope::Process, _) => process(),
                    (LoadScope::Machine, Some(m)) => (
                        tdp_watts * m.cubic_factor_seconds,
                        format!(
                            "CodeCarbon CPU-load model, machine mode: TDP {tdp_watts} W x (0.1 + 0.9 x load^3) integrated over {} samples of the machine's load (/proc/stat, {cpus} logical CPUs, average {:.3}) (memory not included)",
                            m.samples, m.average
                        ),
                    ),
                    (LoadScope::Machine, None) => {
                        let (j, how) = process();
                        (j, format!("{how}; the machine's load could not be read"))
                    }
                }
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

/// CodeCarbon's CPU power in machine mode at the machine's `load` in [0, 1]:
/// `TDP x (0.1 + 0.9 x load^3)`.
///
/// ```
/// use smallscale_pepr_score::codecarbon_machine_watts;
/// assert_eq!(codecarbon_machine_watts(100.0, 0.0), 10.0);
/// assert_eq!(codecarbon_machine_watts(100.0, 1.0), 100.0);
/// assert!((codecarbon_machine_watts(100.0, 0.5) - 21.25).abs() < 1e-12);
/// ```
pub fn codecarbon_machine_watts(tdp_watts: f64, load: f64) -> f64 {
    tdp_watts * (0.1 + 0.9 * load.clamp(0.0, 1.0).powi(3))
}

/// CodeCarbon's CPU power in process mode at the process's `load` in [0, 1]: `TDP x load`.
///
/// ```
/// use smallscale_pepr_score::codecarbon_process_watts;
/// assert_eq!(codecarbon_process_watts(100.0, 0.25), 25.0);
/// ```
pub fn codecarbon_process_watts(tdp_watts: f64, load: f64) -> f64 {
    tdp_watts * load.clamp(0.0, 1.0)
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

/// The machine's logical CPUs: the `cpuN` lines of `/proc/stat` (all CPUs, not only those this
/// process may run on), else what the standard library reports.
pub(crate) fn machine_logical_cpus() -> usize {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .map(|text| {
            text.lines()
                .filter(|l| {
                    l.strip_prefix("cpu")
                        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
                })
                .count()
        })
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Integrates CodeCarbon's machine-mode load factor over a run from `/proc/stat` readings.
#[derive(Debug, Clone, Default)]
pub(crate) struct MachineLoadAccumulator {
    last: Option<((u64, u64), std::time::Instant)>,
    busy: u64,
    total: u64,
    cubic_factor_seconds: f64,
    samples: usize,
}

impl MachineLoadAccumulator {
    /// Adds the step since the previous reading of `/proc/stat`.
    pub(crate) fn sample(&mut self) {
        if let Some(now) = machine_cpu_jiffies() {
            self.add(now, std::time::Instant::now());
        }
    }

    /// Adds the step from the previous reading to `now` (busy, total jiffies) taken `at`.
    fn add(&mut self, now: (u64, u64), at: std::time::Instant) {
        if let Some((prev, prev_at)) = self.last
            && let Some(load) = load_between(prev, now)
        {
            self.busy += now.0 - prev.0;
            self.total += now.1 - prev.1;
            let dt = at.duration_since(prev_at).as_secs_f64();
            self.cubic_factor_seconds += (0.1 + 0.9 * load.powi(3)) * dt;
            self.samples += 1;
        }
        self.last = Some((now, at));
    }

    /// The load over the run, if at least one step was read.
    pub(crate) fn finish(&self) -> Option<MachineLoad> {
        (self.samples > 0 && self.total > 0).then(|| MachineLoad {
            average: self.busy as f64 / self.total as f64,
            cubic_factor_seconds: self.cubic_factor_seconds,
            samples: self.samples,
        })
    }
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
        // 1 CPU of 4 busy: 25 % -> 20 W; no floor in process mode.
        assert_eq!(process.energy_joules(&usage(10.0, 10.0, None)).0, 200.0);
        assert_eq!(process.energy_joules(&usage(0.0, 10.0, None)).0, 0.0);
        let machine = CpuPowerModel::CodeCarbonLoad {
            tdp_watts: 80.0,
            scope: LoadScope::Machine,
        };
        // Machine mode: TDP x the integrated cubic factor.
        let load = MachineLoad {
            average: 0.5,
            cubic_factor_seconds: 2.125,
            samples: 10,
        };
        let (j, how) = machine.energy_joules(&usage(10.0, 10.0, Some(load)));
        assert_eq!(j, 80.0 * 2.125);
        assert!(
            how.contains("machine mode") && how.contains("10 samples"),
            "{how}"
        );
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

    #[test]
    fn the_machine_load_accumulator_integrates_the_cubic_factor() {
        use std::time::{Duration, Instant};
        let mut acc = MachineLoadAccumulator::default();
        assert_eq!(acc.finish(), None);
        let t0 = Instant::now();
        acc.add((0, 0), t0);
        // 2 s at full load, then 2 s idle.
        acc.add((200, 200), t0 + Duration::from_secs(2));
        acc.add((200, 400), t0 + Duration::from_secs(4));
        let m = acc.finish().unwrap();
        assert_eq!(m.samples, 2);
        assert_eq!(m.average, 0.5);
        // 2 s x 1.0 + 2 s x 0.1, more than 4 s x (0.1 + 0.9 x 0.5^3) from the average load.
        assert!((m.cubic_factor_seconds - 2.2).abs() < 1e-9);
        assert!(m.cubic_factor_seconds > 4.0 * (0.1 + 0.9 * 0.125));
        assert!(machine_logical_cpus() >= 1);
    }
}
