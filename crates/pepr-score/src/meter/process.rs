//! Process CPU time and peak resident memory.
//!
//! CPU time comes from `getrusage(RUSAGE_SELF)` (all threads of the
//! process). Peak memory comes from `VmHWM` in `/proc/self/status` (Linux),
//! which [`reset_peak_memory`] can reset so that the peak belongs to one run;
//! elsewhere from `ru_maxrss` (the peak of the whole process lifetime).

use serde::{Deserialize, Serialize};

/// User and system CPU time of the process, in seconds.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::process_cpu_time;
///
/// let t = process_cpu_time().expect("getrusage works on Unix");
/// assert!(t.total_s() >= 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CpuTime {
    /// User-mode CPU seconds.
    pub user_s: f64,
    /// Kernel-mode CPU seconds.
    pub system_s: f64,
}

impl CpuTime {
    /// User plus system seconds.
    pub fn total_s(&self) -> f64 {
        self.user_s + self.system_s
    }
}

fn rusage_self() -> Option<libc::rusage> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` points to writable memory of the right size; getrusage
    // only writes into it and returns 0 on success.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc == 0 {
        // SAFETY: on success getrusage has initialized the struct (it was
        // zeroed before in any case).
        Some(unsafe { usage.assume_init() })
    } else {
        None
    }
}

/// The CPU time used so far by this process (all threads), or `None` if
/// `getrusage` fails.
pub fn process_cpu_time() -> Option<CpuTime> {
    let u = rusage_self()?;
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    Some(CpuTime {
        user_s: secs(u.ru_utime),
        system_s: secs(u.ru_stime),
    })
}

/// Where a peak-memory figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeakMemorySource {
    /// `VmHWM` of `/proc/self/status` (Linux).
    ProcStatusVmHwm,
    /// `ru_maxrss` of `getrusage`.
    RusageMaxRss,
}

impl PeakMemorySource {
    /// A human-readable description.
    pub fn describe(self) -> &'static str {
        match self {
            PeakMemorySource::ProcStatusVmHwm => "VmHWM of /proc/self/status",
            PeakMemorySource::RusageMaxRss => "ru_maxrss of getrusage(RUSAGE_SELF)",
        }
    }
}

/// The peak resident set size of the process in bytes, and its source.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::peak_memory_bytes;
///
/// let (bytes, _source) = peak_memory_bytes().expect("available on Linux");
/// assert!(bytes > 0);
/// ```
pub fn peak_memory_bytes() -> Option<(u64, PeakMemorySource)> {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(kib) = parse_vm_hwm_kib(&status)
    {
        return Some((kib * 1024, PeakMemorySource::ProcStatusVmHwm));
    }
    let u = rusage_self()?;
    let raw = u64::try_from(u.ru_maxrss).ok()?;
    // Linux reports KiB, macOS bytes.
    let bytes = if cfg!(target_os = "macos") {
        raw
    } else {
        raw * 1024
    };
    Some((bytes, PeakMemorySource::RusageMaxRss))
}

/// Parses the `VmHWM:` line (kB) of a `/proc/<pid>/status` text.
pub(crate) fn parse_vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Resets the process's peak-RSS mark to the current RSS (Linux >= 4.0,
/// writing `5` to `/proc/self/clear_refs`). Returns whether it worked.
///
/// The mark is per process: runs metered concurrently in one process share it.
pub fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vm_hwm() {
        let s = "Name:\tx\nVmPeak:\t  100 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(parse_vm_hwm_kib(s), Some(2048));
        assert_eq!(parse_vm_hwm_kib("Name: x\n"), None);
    }

    #[test]
    fn cpu_time_increases_with_work() {
        let before = process_cpu_time().unwrap();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed().as_millis() < 30 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = process_cpu_time().unwrap();
        assert!(after.total_s() > before.total_s());
    }
}
