//! Energy estimate from CPU time where no counter can be read.
//!
//! `energy (J) = CPU seconds x watts per core`. CPU seconds summed over
//! threads count how many cores were busy for how long, so this scales with
//! parallelism. Memory, disk and idle power are not included.
//!
//! The default of [`DEFAULT_WATTS_PER_CORE`] = 10 W is this crate's round
//! figure for thermal design power divided by core count of current x86 CPUs
//! (roughly 3-15 W per core, from many-core server parts to desktop parts).
//! Set your CPU's TDP / cores with
//! [`MeterConfig::with_watts_per_core`](crate::MeterConfig::with_watts_per_core).

/// Default power per busy core for the estimate, watts.
pub const DEFAULT_WATTS_PER_CORE: f64 = 10.0;

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
