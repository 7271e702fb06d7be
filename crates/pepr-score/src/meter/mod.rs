//! Resource meters: wall time, CPU time, peak memory, energy and CO2 of a run.
//!
//! A [`Meter`] wraps a closure ([`Meter::measure`]) or a span between
//! [`Meter::start`] and [`RunningMeter::stop`], and returns a serializable
//! [`Measurement`]. Every figure is a [`Figure`] labelled
//! [`Provenance::Measured`] or [`Provenance::Estimated`] with its source.
//!
//! Energy sources, in order:
//!
//! 1. Intel RAPL powercap counters (CPU packages and DRAM), sampled from a
//!    background thread, wrap-around corrected ([`RaplReader`]);
//! 2. NVML GPU energy counters (cargo feature `nvml`), added to 1 or 3;
//! 3. where no RAPL counter is readable, an estimate ([`CpuPowerModel`]): CPU
//!    time x watts per core (the default), or CodeCarbon's CPU-load model
//!    (machine: `TDP x (0.1 + 0.9 x load^3)` sampled over the run; process:
//!    `TDP x load`).
//!
//! Energy is then multiplied by the PUE (default [`DEFAULT_PUE`] = 1.0; the
//! paper used [`PAPER_PUE`] = 1.55) and CO2 = energy x carbon intensity
//! (default world average, 475 g/kWh, see [`CarbonIntensity`]).
//!
//! Whatever cannot be read becomes a note in [`Measurement::notes`], never a
//! panic. Each measurement owns its counters and samples, so runs are never
//! mixed; but RAPL, NVML and peak memory are machine- or process-wide.

pub mod carbon;
pub mod estimate;
pub mod machine;
#[cfg(feature = "nvml")]
pub mod nvml;
pub mod process;
pub mod rapl;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::errors::{Result, invalid_parameter};
use carbon::{CarbonIntensity, DEFAULT_PUE};
use estimate::{CpuPowerModel, CpuUsage, LoadScope, MachineLoadAccumulator, machine_logical_cpus};
use process::{CpuTime, peak_memory_bytes, process_cpu_time, reset_peak_memory};
use rapl::{DEFAULT_POWERCAP_ROOT, RaplReader, RaplSampler};

#[cfg(doc)]
use carbon::PAPER_PUE;

/// Whether a figure was measured by a counter or estimated from a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provenance {
    /// Read from a clock or hardware/OS counter.
    Measured,
    /// Computed from assumptions (TDP per core, average carbon intensity).
    Estimated,
}

/// A number with its unit, provenance and source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// The value, in `unit`.
    pub value: f64,
    /// The unit, e.g. `"s"`, `"kWh"`.
    pub unit: String,
    /// Measured or estimated.
    pub provenance: Provenance,
    /// Where the value came from, in words.
    pub source: String,
}

impl Figure {
    fn new(value: f64, unit: &str, provenance: Provenance, source: impl Into<String>) -> Self {
        Self {
            value,
            unit: unit.to_string(),
            provenance,
            source: source.into(),
        }
    }
}

/// Energy of one component (a RAPL domain, a GPU, or the CPU estimate),
/// before PUE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnergyComponent {
    /// Component name, e.g. `package-0`, `dram`, `GPU 0`, `cpu (estimate)`.
    pub name: String,
    /// Energy in joules.
    pub joules: f64,
    /// Measured or estimated.
    pub provenance: Provenance,
    /// Where the value came from.
    pub source: String,
}

/// The result of metering one run.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::{Meter, Provenance};
///
/// let meter = Meter::new(Default::default())?;
/// let (sum, m) = meter.measure(|| (0..1_000_000u64).sum::<u64>());
/// assert_eq!(sum, 499_999_500_000);
/// assert_eq!(m.wall_time.provenance, Provenance::Measured);
/// assert!(m.energy.value >= 0.0 && m.co2.value >= 0.0);
/// let json = serde_json::to_string(&m).unwrap();
/// assert!(json.contains("\"energy\""));
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Wall-clock time, seconds (monotonic clock).
    pub wall_time: Figure,
    /// Process CPU time (user + system, all threads), seconds.
    pub cpu_time: Figure,
    /// Peak resident memory, bytes (`None` if unavailable).
    pub peak_memory: Option<Figure>,
    /// Total energy after PUE, kWh.
    pub energy: Figure,
    /// The parts of the energy, before PUE.
    pub energy_components: Vec<EnergyComponent>,
    /// The PUE applied.
    pub pue: f64,
    /// CO2-equivalent, grams (always an estimate: average grid intensity).
    pub co2: Figure,
    /// The carbon intensity used.
    pub carbon_intensity: CarbonIntensity,
    /// Why a counter was not used, what is not included, and similar.
    pub notes: Vec<String>,
}

/// Meter settings (builder); validated by [`Meter::new`].
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use smallscale_pepr_score::{CarbonIntensity, Meter, MeterConfig, PAPER_PUE};
///
/// let config = MeterConfig::default()
///     .with_rapl_root("/sys/class/powercap")
///     .with_sampling_interval(Duration::from_millis(500))
///     .with_watts_per_core(7.5)
///     .with_pue(PAPER_PUE)
///     .with_carbon_intensity(CarbonIntensity::country("FR")?);
/// let meter = Meter::new(config)?;
/// assert!(Meter::new(MeterConfig::default().with_pue(0.5)).is_err());
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeterConfig {
    rapl_root: PathBuf,
    use_rapl: bool,
    use_nvml: bool,
    sampling_interval: Duration,
    #[serde(default)]
    cpu_power: CpuPowerModel,
    pue: f64,
    carbon_intensity: CarbonIntensity,
    reset_peak_memory: bool,
}

impl Default for MeterConfig {
    fn default() -> Self {
        Self {
            rapl_root: PathBuf::from(DEFAULT_POWERCAP_ROOT),
            use_rapl: true,
            use_nvml: true,
            sampling_interval: Duration::from_secs(1),
            cpu_power: CpuPowerModel::default(),
            pue: DEFAULT_PUE,
            carbon_intensity: CarbonIntensity::world_average(),
            reset_peak_memory: true,
        }
    }
}

impl MeterConfig {
    /// The powercap root holding `intel-rapl:*` (default
    /// `/sys/class/powercap`).
    pub fn with_rapl_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.rapl_root = root.into();
        self
    }

    /// Whether to try RAPL (default `true`).
    pub fn with_use_rapl(mut self, yes: bool) -> Self {
        self.use_rapl = yes;
        self
    }

    /// Whether to try NVML when the `nvml` feature is enabled (default `true`).
    pub fn with_use_nvml(mut self, yes: bool) -> Self {
        self.use_nvml = yes;
        self
    }

    /// How often the background thread reads RAPL counters (default 1 s;
    /// between 1 ms and 1 hour).
    pub fn with_sampling_interval(mut self, interval: Duration) -> Self {
        self.sampling_interval = interval;
        self
    }

    /// The per-busy-core estimate at `watts` per core (the default, 10 W; finite, > 0).
    pub fn with_watts_per_core(mut self, watts: f64) -> Self {
        self.cpu_power = CpuPowerModel::PerCore {
            watts_per_core: watts,
        };
        self
    }

    /// How CPU energy is estimated where RAPL cannot be read (default: 10 W per busy core).
    pub fn with_cpu_power_model(mut self, model: CpuPowerModel) -> Self {
        self.cpu_power = model;
        self
    }

    /// The CPU power model of the estimate.
    pub fn cpu_power_model(&self) -> CpuPowerModel {
        self.cpu_power
    }

    /// Power usage effectiveness of the data centre (default 1.0; >= 1).
    pub fn with_pue(mut self, pue: f64) -> Self {
        self.pue = pue;
        self
    }

    /// Grid carbon intensity (default world average, 475 g/kWh).
    pub fn with_carbon_intensity(mut self, intensity: CarbonIntensity) -> Self {
        self.carbon_intensity = intensity;
        self
    }

    /// Whether to reset the process's peak-RSS mark at start so the peak
    /// belongs to the run (Linux; default `true`).
    pub fn with_reset_peak_memory(mut self, yes: bool) -> Self {
        self.reset_peak_memory = yes;
        self
    }

    fn check(self) -> Result<Self> {
        let iv = self.sampling_interval;
        if iv < Duration::from_millis(1) || iv > Duration::from_secs(3600) {
            return Err(invalid_parameter(
                "sampling interval",
                format!("{iv:?}"),
                "must be between 1 ms and 1 hour (1 s is a good default)",
            ));
        }
        if let Err((name, value, what)) = self.cpu_power.check() {
            return Err(invalid_parameter(name, value, what));
        }
        if !(self.pue.is_finite() && self.pue >= 1.0) {
            return Err(invalid_parameter(
                "PUE",
                self.pue,
                "power usage effectiveness must be finite and >= 1 (1.0 = no data-centre overhead)",
            ));
        }
        let ci = self.carbon_intensity.grams_per_kwh;
        if !(ci.is_finite() && ci >= 0.0) {
            return Err(invalid_parameter(
                "carbon intensity",
                ci,
                "must be finite and >= 0 g CO2eq/kWh",
            ));
        }
        Ok(self)
    }
}

/// Meters runs; see the [module docs](self).
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::Meter;
///
/// let meter = Meter::new(Default::default())?;
/// let running = meter.start();
/// let v: Vec<u64> = (0..10_000).collect();
/// let m = running.stop();
/// assert_eq!(v.len(), 10_000);
/// println!("{:.3} s, {:.2e} kWh ({:?})", m.wall_time.value, m.energy.value, m.energy.provenance);
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Meter {
    config: MeterConfig,
}

impl Meter {
    /// A meter with validated settings.
    ///
    /// # Errors
    ///
    /// [`crate::PeprError::InvalidParameter`] for a sampling interval outside
    /// 1 ms..1 h, non-positive watts per core, PUE below 1, or a negative
    /// carbon intensity.
    pub fn new(config: MeterConfig) -> Result<Self> {
        Ok(Self {
            config: config.check()?,
        })
    }

    /// The settings.
    pub fn config(&self) -> &MeterConfig {
        &self.config
    }

    /// Runs `run` and returns its value with the measurement.
    pub fn measure<T>(&self, run: impl FnOnce() -> T) -> (T, Measurement) {
        let running = self.start();
        let value = run();
        (value, running.stop())
    }

    /// Starts metering; call [`RunningMeter::stop`] at the end of the run.
    pub fn start(&self) -> RunningMeter {
        let mut notes = Vec::new();
        let peak_reset = self.config.reset_peak_memory && reset_peak_memory();
        let rapl = if self.config.use_rapl {
            match RaplReader::discover(&self.config.rapl_root) {
                Ok(reader) => {
                    notes.extend(reader.notes().iter().cloned());
                    let sampler = reader.start_sampling(self.config.sampling_interval);
                    Some((reader, sampler))
                }
                Err(why) => {
                    notes.push(format!("RAPL not used: {why}; CPU energy is estimated"));
                    None
                }
            }
        } else {
            notes.push("RAPL disabled by configuration; CPU energy is estimated".to_string());
            None
        };
        // The machine-mode load model needs the load sampled through the run (its power is
        // cubic in the load); only when the estimate will be used.
        let machine_load_sampler = match self.config.cpu_power {
            CpuPowerModel::CodeCarbonLoad {
                scope: LoadScope::Machine,
                ..
            } if rapl.is_none() => Some(LoadSampler::start(self.config.sampling_interval)),
            _ => None,
        };
        #[cfg(feature = "nvml")]
        let nvml = if self.config.use_nvml {
            match nvml::NvmlReader::init().and_then(|r| r.read_millijoules().map(|s| (r, s))) {
                Ok(pair) => Some(pair),
                Err(why) => {
                    notes.push(why);
                    None
                }
            }
        } else {
            None
        };
        RunningMeter {
            config: self.config.clone(),
            notes,
            peak_reset,
            rapl,
            #[cfg(feature = "nvml")]
            nvml,
            cpu_start: process_cpu_time(),
            machine_load: machine_load_sampler,
            wall_start: Instant::now(),
        }
    }
}

/// A run being metered; [`stop`](RunningMeter::stop) it to get the
/// [`Measurement`]. Dropping it without stopping stops its sampler thread.
#[derive(Debug)]
pub struct RunningMeter {
    config: MeterConfig,
    notes: Vec<String>,
    peak_reset: bool,
    rapl: Option<(RaplReader, RaplSampler)>,
    #[cfg(feature = "nvml")]
    nvml: Option<(nvml::NvmlReader, Vec<u64>)>,
    cpu_start: Option<CpuTime>,
    machine_load: Option<LoadSampler>,
    wall_start: Instant,
}

/// Samples the machine's CPU load from `/proc/stat` on a background thread.
#[derive(Debug)]
struct LoadSampler {
    stop: Option<std::sync::mpsc::Sender<()>>,
    handle: Option<std::thread::JoinHandle<MachineLoadAccumulator>>,
}

impl LoadSampler {
    fn start(interval: Duration) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("pepr-load-sampler".to_string())
            .spawn(move || {
                let mut acc = MachineLoadAccumulator::default();
                acc.sample();
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    rx.recv_timeout(interval)
                {
                    acc.sample();
                }
                acc.sample();
                acc
            })
            .ok();
        Self {
            stop: handle.as_ref().map(|_| tx),
            handle,
        }
    }

    fn finish(&mut self) -> Option<estimate::MachineLoad> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.handle
            .take()
            .and_then(|h| h.join().ok())
            .and_then(|acc| acc.finish())
    }
}

impl Drop for LoadSampler {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

impl RunningMeter {
    /// Stops metering and returns the measurement.
    pub fn stop(mut self) -> Measurement {
        let wall = self.wall_start.elapsed().as_secs_f64();
        let cpu_end = process_cpu_time();
        let mut notes = self.notes;
        let config = self.config;
        let wall_time = Figure::new(
            wall,
            "s",
            Provenance::Measured,
            "monotonic clock (std::time::Instant)",
        );
        let cpu_s = match (self.cpu_start, cpu_end) {
            (Some(a), Some(b)) => Some((b.total_s() - a.total_s()).max(0.0)),
            _ => {
                notes.push("getrusage failed: CPU time unknown, reported as 0".to_string());
                None
            }
        };
        let cpu_time = Figure::new(
            cpu_s.unwrap_or(0.0),
            "s",
            Provenance::Measured,
            "getrusage(RUSAGE_SELF), user + system, all threads of the process",
        );
        let peak_memory = peak_memory_bytes().map(|(bytes, src)| {
            let scope = if self.peak_reset && src == process::PeakMemorySource::ProcStatusVmHwm {
                "peak of this run (mark reset at start)"
            } else {
                "peak of the whole process so far"
            };
            Figure::new(
                bytes as f64,
                "bytes",
                Provenance::Measured,
                format!("{}, {scope}", src.describe()),
            )
        });
        if peak_memory.is_none() {
            notes.push("peak memory unavailable on this system".to_string());
        }

        let mut components = Vec::new();
        let mut cpu_measured = false;
        if let Some((reader, sampler)) = self.rapl {
            match sampler.stop() {
                Some(totals) => {
                    cpu_measured = true;
                    notes.extend(totals.notes.iter().cloned());
                    for d in &totals.domains {
                        let path = reader
                            .domains()
                            .iter()
                            .find(|x| x.name == d.name)
                            .map(|x| x.path.display().to_string())
                            .unwrap_or_default();
                        components.push(EnergyComponent {
                            name: d.name.clone(),
                            joules: d.joules,
                            provenance: Provenance::Measured,
                            source: format!(
                                "Intel RAPL powercap {path}/energy_uj, {} samples, {} wrap(s) corrected; whole package, all processes",
                                totals.samples, d.wraps
                            ),
                        });
                    }
                }
                None => {
                    notes.push("RAPL sampler thread failed; CPU energy is estimated".to_string())
                }
            }
        }
        if !cpu_measured {
            let usage = CpuUsage {
                cpu_seconds: cpu_s.unwrap_or(0.0),
                wall_seconds: wall,
                logical_cpus: machine_logical_cpus(),
                machine_load: self.machine_load.as_mut().and_then(LoadSampler::finish),
            };
            let (joules, source) = config.cpu_power.energy_joules(&usage);
            components.push(EnergyComponent {
                name: "cpu (estimate)".to_string(),
                joules,
                provenance: Provenance::Estimated,
                source,
            });
        }
        #[cfg(feature = "nvml")]
        if let Some((reader, start)) = self.nvml {
            match reader.read_millijoules() {
                Ok(end) => {
                    for (i, (a, b)) in start.iter().zip(&end).enumerate() {
                        components.push(EnergyComponent {
                            name: format!("GPU {i} ({})", reader.device_names()[i]),
                            joules: b.saturating_sub(*a) as f64 * 1e-3,
                            provenance: Provenance::Measured,
                            source: "NVML total energy counter; whole device, all processes"
                                .to_string(),
                        });
                    }
                }
                Err(why) => notes.push(format!("{why}; GPU energy not included")),
            }
        }
        #[cfg(not(feature = "nvml"))]
        let _ = config.use_nvml;

        let joules: f64 = components.iter().map(|c| c.joules).sum();
        let kwh = joules / 3.6e6 * config.pue;
        let all_measured = components
            .iter()
            .all(|c| c.provenance == Provenance::Measured);
        let parts = components
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(" + ");
        let energy = Figure::new(
            kwh,
            "kWh",
            if all_measured {
                Provenance::Measured
            } else {
                Provenance::Estimated
            },
            format!("{parts}, x PUE {}", config.pue),
        );
        let co2 = Figure::new(
            config.carbon_intensity.co2_grams(kwh),
            "g CO2eq",
            Provenance::Estimated,
            format!(
                "energy x {} g/kWh ({})",
                config.carbon_intensity.grams_per_kwh, config.carbon_intensity.source
            ),
        );
        Measurement {
            wall_time,
            cpu_time,
            peak_memory,
            energy,
            energy_components: components,
            pue: config.pue,
            co2,
            carbon_intensity: config.carbon_intensity,
            notes,
        }
    }
}
