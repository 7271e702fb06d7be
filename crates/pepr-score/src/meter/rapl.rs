//! Intel RAPL energy counters through the Linux powercap interface.
//!
//! Under a root directory (default `/sys/class/powercap`) each RAPL domain is
//! a directory `intel-rapl:N` (CPU package `N`) or `intel-rapl:N:M` (a
//! sub-domain such as `dram`), holding the files `name`, `energy_uj` (a
//! counter of micro-joules) and `max_energy_range_uj` (where the counter wraps
//! back to 0). This reader uses the `package-*` and `dram` domains (`core`,
//! `uncore` and `psys` overlap them and are skipped).
//!
//! Counters can wrap several times during a long run, so [`RaplSampler`]
//! reads them from a background thread at a fixed interval and accumulates
//! the deltas, adding `max_energy_range_uj` whenever a counter went down.
//! A counter that wraps more than once between two samples is undercounted:
//! keep the interval well below the wrap period (minutes at full power).
//!
//! Since 2020 `energy_uj` is readable only by root on most distributions;
//! virtual machines and many AMD systems have no RAPL domains at all. The
//! reader then reports why in plain words and the meter falls back to an
//! estimate; it never panics. RAPL measures the whole package (all
//! processes), not this process alone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The default powercap root.
pub const DEFAULT_POWERCAP_ROOT: &str = "/sys/class/powercap";

/// One readable RAPL domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaplDomain {
    /// The domain's `name` file, e.g. `package-0` or `dram`.
    pub name: String,
    /// The domain directory.
    pub path: PathBuf,
    /// The counter's wrap-around value in micro-joules (0 if unknown).
    pub max_energy_range_uj: u64,
}

impl RaplDomain {
    /// Reads `energy_uj`.
    ///
    /// # Errors
    ///
    /// A message naming the file and the reason (permission, absent,
    /// unparsable).
    pub fn read_energy_uj(&self) -> std::result::Result<u64, String> {
        read_u64(&self.path.join("energy_uj"))
    }
}

fn read_u64(path: &Path) -> std::result::Result<u64, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
            " (only root may read RAPL counters on this system; run as root or grant read access to energy_uj)"
        } else {
            ""
        };
        format!("cannot read {}: {e}{hint}", path.display())
    })?;
    text.trim().parse().map_err(|_| {
        format!(
            "{} does not hold an integer: `{}`",
            path.display(),
            text.trim()
        )
    })
}

/// The readable RAPL domains under a powercap root.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::RaplReader;
///
/// // On machines without RAPL (VMs, macOS) this is an explanation, not a panic.
/// match RaplReader::discover("/sys/class/powercap") {
///     Ok(reader) => println!("{} RAPL domain(s)", reader.domains().len()),
///     Err(why) => println!("no RAPL: {why}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaplReader {
    domains: Vec<RaplDomain>,
    notes: Vec<String>,
}

fn is_rapl_dir(name: &str) -> bool {
    name.starts_with("intel-rapl:")
}

fn candidate_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return out;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_rapl_dir(&name) {
            continue;
        }
        let dir = entry.path();
        if let Ok(sub) = std::fs::read_dir(&dir) {
            for s in sub.flatten() {
                if is_rapl_dir(&s.file_name().to_string_lossy()) {
                    out.push(s.path());
                }
            }
        }
        out.push(dir);
    }
    out.sort();
    out
}

impl RaplReader {
    /// Finds the `package-*` and `dram` domains under `root` whose counters
    /// can be read now.
    ///
    /// # Errors
    ///
    /// A message saying why no package counter is usable (no powercap root,
    /// no RAPL domain, or counters unreadable, e.g. permission denied).
    pub fn discover(root: impl AsRef<Path>) -> std::result::Result<Self, String> {
        let root = root.as_ref();
        if !root.is_dir() {
            return Err(format!(
                "no powercap directory {} (not Linux, or no RAPL support)",
                root.display()
            ));
        }
        let mut seen = BTreeSet::new();
        let mut domains = Vec::new();
        let mut notes = Vec::new();
        for dir in candidate_dirs(root) {
            let key = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
            if !seen.insert(key) {
                continue;
            }
            let Ok(name) = std::fs::read_to_string(dir.join("name")) else {
                continue;
            };
            let name = name.trim().to_string();
            if !(name.starts_with("package") || name == "dram") {
                continue;
            }
            let max = match read_u64(&dir.join("max_energy_range_uj")) {
                Ok(m) => m,
                Err(e) => {
                    notes.push(format!(
                        "{e}; counter wrap-around of `{name}` cannot be corrected"
                    ));
                    0
                }
            };
            let domain = RaplDomain {
                name,
                path: dir,
                max_energy_range_uj: max,
            };
            match domain.read_energy_uj() {
                Ok(_) => domains.push(domain),
                Err(e) => notes.push(format!("RAPL domain `{}` skipped: {e}", domain.name)),
            }
        }
        if !domains.iter().any(|d| d.name.starts_with("package")) {
            let mut why = format!("no readable RAPL package counter under {}", root.display());
            if notes.is_empty() {
                why.push_str(" (no intel-rapl domains: virtual machine, or a CPU without RAPL powercap support)");
            } else {
                why.push_str(": ");
                why.push_str(&notes.join("; "));
            }
            return Err(why);
        }
        if !domains.iter().any(|d| d.name == "dram") {
            notes.push("no RAPL DRAM domain: memory energy is not included".to_string());
        }
        Ok(Self { domains, notes })
    }

    /// The domains found.
    pub fn domains(&self) -> &[RaplDomain] {
        &self.domains
    }

    /// Remarks from discovery (skipped domains, missing DRAM domain).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Starts sampling every `interval` on a background thread.
    pub fn start_sampling(&self, interval: Duration) -> RaplSampler {
        RaplSampler::start(self.domains.clone(), interval)
    }
}

/// The energy a counter advanced from `previous` to `current`, with one
/// wrap-around at `max_range` (micro-joules) if the counter went down.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::rapl_delta_uj;
///
/// assert_eq!(rapl_delta_uj(100, 250, 1000), 150);
/// assert_eq!(rapl_delta_uj(900, 50, 1000), 150); // wrapped at 1000
/// ```
pub fn rapl_delta_uj(previous: u64, current: u64, max_range: u64) -> u64 {
    if current >= previous {
        current - previous
    } else {
        max_range.saturating_sub(previous) + current
    }
}

/// Energy accumulated by one domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEnergy {
    /// Domain name (`package-0`, `dram`, ...).
    pub name: String,
    /// Accumulated energy in joules.
    pub joules: f64,
    /// How many times the counter wrapped.
    pub wraps: u64,
}

/// What a sampler returns when stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaplTotals {
    /// Energy per domain.
    pub domains: Vec<DomainEnergy>,
    /// Number of samples taken (including the first and last).
    pub samples: u64,
    /// Read failures during the run, if any.
    pub notes: Vec<String>,
}

impl RaplTotals {
    /// Total energy of all domains, joules.
    pub fn joules(&self) -> f64 {
        self.domains.iter().map(|d| d.joules).sum()
    }
}

struct Accumulator {
    domains: Vec<RaplDomain>,
    last: Vec<Option<u64>>,
    totals_uj: Vec<u128>,
    wraps: Vec<u64>,
    samples: u64,
    notes: Vec<String>,
}

impl Accumulator {
    fn new(domains: Vec<RaplDomain>) -> Self {
        let n = domains.len();
        let mut acc = Self {
            domains,
            last: vec![None; n],
            totals_uj: vec![0; n],
            wraps: vec![0; n],
            samples: 0,
            notes: Vec::new(),
        };
        acc.sample();
        acc
    }

    fn sample(&mut self) {
        self.samples += 1;
        for i in 0..self.domains.len() {
            match self.domains[i].read_energy_uj() {
                Ok(now) => {
                    if let Some(prev) = self.last[i] {
                        if now < prev {
                            self.wraps[i] += 1;
                        }
                        let d = rapl_delta_uj(prev, now, self.domains[i].max_energy_range_uj);
                        self.totals_uj[i] += u128::from(d);
                    }
                    self.last[i] = Some(now);
                }
                Err(e) => {
                    if self.notes.len() < 8 {
                        self.notes
                            .push(format!("sample {} skipped: {e}", self.samples));
                    }
                }
            }
        }
    }

    fn finish(self) -> RaplTotals {
        RaplTotals {
            domains: self
                .domains
                .iter()
                .zip(&self.totals_uj)
                .zip(&self.wraps)
                .map(|((d, uj), w)| DomainEnergy {
                    name: d.name.clone(),
                    joules: *uj as f64 * 1e-6,
                    wraps: *w,
                })
                .collect(),
            samples: self.samples,
            notes: self.notes,
        }
    }
}

/// A background thread reading RAPL counters periodically.
///
/// The first reading is taken synchronously in [`RaplReader::start_sampling`]
/// and the last one in [`RaplSampler::stop`], so the totals cover exactly the
/// span between the two calls. Dropping the sampler stops the thread too.
#[derive(Debug)]
pub struct RaplSampler {
    stop: Option<Sender<()>>,
    handle: Option<JoinHandle<RaplTotals>>,
}

impl RaplSampler {
    fn start(domains: Vec<RaplDomain>, interval: Duration) -> Self {
        let mut acc = Accumulator::new(domains);
        let (tx, rx) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("pepr-rapl-sampler".to_string())
            .spawn(move || {
                // Sample on every timeout; stop on a message or when the
                // sender is dropped.
                while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(interval) {
                    acc.sample();
                }
                acc.sample();
                acc.finish()
            });
        match handle {
            Ok(h) => Self {
                stop: Some(tx),
                handle: Some(h),
            },
            Err(_) => Self {
                stop: None,
                handle: None,
            },
        }
    }

    /// Takes a last reading, stops the thread and returns the totals.
    ///
    /// `None` if the thread could not be spawned or panicked.
    pub fn stop(mut self) -> Option<RaplTotals> {
        self.finish()
    }

    fn finish(&mut self) -> Option<RaplTotals> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.handle.take().and_then(|h| h.join().ok())
    }
}

impl Drop for RaplSampler {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}
