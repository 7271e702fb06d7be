//! NVIDIA GPU energy through NVML (cargo feature `nvml`).
//!
//! Reads each GPU's total-energy counter (`nvmlDeviceGetTotalEnergyConsumption`,
//! millijoules since driver load, 64-bit so it does not wrap; Volta and newer)
//! at start and stop. The NVML library is loaded at run time: without a
//! driver, or on GPUs without the counter, the reader explains why and the
//! meter records no GPU energy. Like RAPL, NVML measures the whole device, not
//! this process alone.

use nvml_wrapper::Nvml;

/// A handle on NVML and the energy counters of all visible GPUs.
///
/// # Example
///
/// ```no_run
/// use smallscale_pepr_score::NvmlReader;
///
/// match NvmlReader::init() {
///     Ok(r) => println!("{} GPU(s): {:?}", r.device_names().len(), r.read_millijoules()),
///     Err(why) => println!("no NVML: {why}"),
/// }
/// ```
pub struct NvmlReader {
    nvml: Nvml,
    names: Vec<String>,
}

impl std::fmt::Debug for NvmlReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NvmlReader")
            .field("devices", &self.names)
            .finish()
    }
}

impl NvmlReader {
    /// Loads NVML and checks that every GPU's energy counter can be read.
    ///
    /// # Errors
    ///
    /// A message: NVML library not found, no GPU, or a GPU without an energy
    /// counter.
    pub fn init() -> std::result::Result<Self, String> {
        let nvml =
            Nvml::init().map_err(|e| format!("NVML unavailable ({e}); no GPU energy measured"))?;
        let count = nvml
            .device_count()
            .map_err(|e| format!("NVML cannot count GPUs ({e})"))?;
        if count == 0 {
            return Err("NVML found no GPU".to_string());
        }
        let mut names = Vec::new();
        for i in 0..count {
            let dev = nvml
                .device_by_index(i)
                .map_err(|e| format!("NVML cannot open GPU {i} ({e})"))?;
            dev.total_energy_consumption().map_err(|e| {
                format!("GPU {i} has no readable energy counter ({e}); NVML needs Volta or newer")
            })?;
            names.push(dev.name().unwrap_or_else(|_| format!("GPU {i}")));
        }
        Ok(Self { nvml, names })
    }

    /// The GPU names, in NVML index order.
    pub fn device_names(&self) -> &[String] {
        &self.names
    }

    /// Each GPU's energy counter in millijoules.
    ///
    /// # Errors
    ///
    /// A message naming the GPU whose counter failed.
    pub fn read_millijoules(&self) -> std::result::Result<Vec<u64>, String> {
        (0..self.names.len() as u32)
            .map(|i| {
                self.nvml
                    .device_by_index(i)
                    .and_then(|d| d.total_energy_consumption())
                    .map_err(|e| format!("cannot read the energy counter of GPU {i} ({e})"))
            })
            .collect()
    }
}
