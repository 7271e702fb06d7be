//! What machine a measurement was taken on.

use serde::{Deserialize, Serialize};

/// The machine a run was measured on: resource figures mean little without it (the same training
/// step takes 2.25x PyTorch's time on one CPU and 1.31x on another).
///
/// ```
/// let m = smallscale_pepr_score::MachineInfo::detect();
/// assert!(m.logical_cpus >= 1);
/// assert!(!m.os.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineInfo {
    /// The CPU's model name (`/proc/cpuinfo` on Linux), when the system says it.
    pub cpu_model: Option<String>,
    /// Logical CPUs available to this process.
    pub logical_cpus: usize,
    /// The operating system (`linux`, `macos`, ...).
    pub os: String,
    /// The CPU architecture (`x86_64`, `aarch64`, ...).
    pub arch: String,
}

impl MachineInfo {
    /// Describes this machine.
    pub fn detect() -> Self {
        Self {
            cpu_model: cpu_model(),
            logical_cpus: std::thread::available_parallelism().map_or(1, usize::from),
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
        }
    }
}

/// The first `model name` (x86) or `Model`/`Hardware` (Arm) line of `/proc/cpuinfo`.
fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    cpu_model_from_cpuinfo(&text)
}

pub(crate) fn cpu_model_from_cpuinfo(text: &str) -> Option<String> {
    ["model name", "Model", "Hardware"].iter().find_map(|key| {
        text.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k.trim() == *key && !v.trim().is_empty()).then(|| v.trim().to_string())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::cpu_model_from_cpuinfo;

    #[test]
    fn model_name_from_cpuinfo() {
        let x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel\t\t: 1\nmodel name\t: AMD EPYC 9554 64-Core Processor\n";
        assert_eq!(
            cpu_model_from_cpuinfo(x86).as_deref(),
            Some("AMD EPYC 9554 64-Core Processor")
        );
        let arm =
            "processor\t: 0\nBogoMIPS\t: 108.00\n\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n";
        assert_eq!(
            cpu_model_from_cpuinfo(arm).as_deref(),
            Some("Raspberry Pi 4 Model B Rev 1.4")
        );
        assert_eq!(cpu_model_from_cpuinfo("processor : 0\n"), None);
    }
}
