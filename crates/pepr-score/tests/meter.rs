//! Meters, with fake powercap trees standing in for RAPL.

use std::fs;
use std::path::Path;
use std::time::Duration;

use smallscale_pepr_score::{
    CarbonIntensity, Meter, MeterConfig, PAPER_PUE, PeprError, Provenance, RaplReader,
};

/// Writes a counter atomically, so a sampler never reads half a file.
fn set_counter(dir: &Path, uj: u64) {
    let tmp = dir.join("energy_uj.tmp");
    fs::write(&tmp, format!("{uj}\n")).unwrap();
    fs::rename(&tmp, dir.join("energy_uj")).unwrap();
}

fn domain(dir: &Path, name: &str, uj: u64, max: u64) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("name"), format!("{name}\n")).unwrap();
    fs::write(dir.join("max_energy_range_uj"), format!("{max}\n")).unwrap();
    set_counter(dir, uj);
}

/// package-0 with core and dram sub-domains, plus a top-level alias of dram
/// as in /sys/class/powercap.
fn fake_tree(root: &Path, with_dram: bool) {
    let pkg = root.join("intel-rapl:0");
    domain(&pkg, "package-0", 100, 1000);
    domain(&pkg.join("intel-rapl:0:0"), "core", 5, 1000);
    if with_dram {
        domain(&pkg.join("intel-rapl:0:1"), "dram", 10, 500);
        std::os::unix::fs::symlink(pkg.join("intel-rapl:0:1"), root.join("intel-rapl:0:1"))
            .unwrap();
    }
    fs::create_dir_all(root.join("intel-rapl")).unwrap(); // the control-type dir, not a domain
}

fn fast(root: &Path) -> MeterConfig {
    MeterConfig::default()
        .with_rapl_root(root)
        .with_sampling_interval(Duration::from_millis(2))
}

#[test]
fn rapl_energy_with_wrap_around_is_measured() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fake_tree(root, true);
    let pkg = root.join("intel-rapl:0");
    let dram = pkg.join("intel-rapl:0:1");
    let meter = Meter::new(fast(root).with_pue(PAPER_PUE)).unwrap();
    let ((), m) = meter.measure(|| {
        // package: 100 -> 900 -> 50 (wrapped at 1000) -> 300 = 800 + 150 + 250 uJ
        // dram:     10 -> 400 -> 20 (wrapped at 500)         = 390 + 120 uJ
        for (p, d) in [(900, 400), (50, 20), (300, 20)] {
            set_counter(&pkg, p);
            set_counter(&dram, d);
            // Many sampling intervals per value, so a loaded machine cannot skip one.
            std::thread::sleep(Duration::from_millis(150));
        }
    });
    let names: Vec<&str> = m
        .energy_components
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["package-0", "dram"], "{m:#?}");
    let pkg_j = m.energy_components[0].joules;
    let dram_j = m.energy_components[1].joules;
    assert!((pkg_j - 1200e-6).abs() < 1e-12, "{pkg_j}");
    assert!((dram_j - 510e-6).abs() < 1e-12, "{dram_j}");
    assert!(m.energy_components[0].source.contains("1 wrap(s)"));
    assert_eq!(m.energy.provenance, Provenance::Measured);
    let kwh = (1200e-6 + 510e-6) / 3.6e6 * PAPER_PUE;
    assert!((m.energy.value - kwh).abs() < 1e-18);
    assert!((m.co2.value - kwh * 475.0).abs() < 1e-15);
    assert_eq!(m.co2.provenance, Provenance::Estimated);
    assert!(m.wall_time.value >= 0.18);
}

#[test]
fn missing_dram_domain_is_noted() {
    let tmp = tempfile::tempdir().unwrap();
    fake_tree(tmp.path(), false);
    let reader = RaplReader::discover(tmp.path()).unwrap();
    assert_eq!(reader.domains().len(), 1);
    let (_, m) = Meter::new(fast(tmp.path())).unwrap().measure(|| ());
    assert_eq!(m.energy.provenance, Provenance::Measured);
    assert!(
        m.notes.iter().any(|n| n.contains("no RAPL DRAM domain")),
        "{:?}",
        m.notes
    );
}

#[test]
fn sampler_accumulates_several_wraps() {
    let tmp = tempfile::tempdir().unwrap();
    fake_tree(tmp.path(), false);
    let pkg = tmp.path().join("intel-rapl:0");
    let reader = RaplReader::discover(tmp.path()).unwrap();
    let sampler = reader.start_sampling(Duration::from_millis(2));
    // Three full wraps of 1000 uJ plus 200: 100 -> 600 -> 100 -> 600 -> 100 -> 600 -> 100 -> 300.
    for v in [600, 100, 600, 100, 600, 100, 300] {
        set_counter(&pkg, v);
        std::thread::sleep(Duration::from_millis(150));
    }
    let totals = sampler.stop().unwrap();
    assert_eq!(totals.domains[0].wraps, 3);
    assert!(
        (totals.joules() - 3200e-6).abs() < 1e-12,
        "{}",
        totals.joules()
    );
}

#[test]
fn unreadable_counter_falls_back_to_estimate() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("intel-rapl:0");
    fs::create_dir_all(pkg.join("energy_uj")).unwrap(); // a directory cannot be read as a file
    fs::write(pkg.join("name"), "package-0\n").unwrap();
    fs::write(pkg.join("max_energy_range_uj"), "1000\n").unwrap();
    let meter = Meter::new(fast(tmp.path()).with_watts_per_core(20.0)).unwrap();
    let (_, m) = meter.measure(|| std::hint::black_box((0..200_000u64).sum::<u64>()));
    assert_eq!(m.energy.provenance, Provenance::Estimated);
    assert_eq!(m.energy_components.len(), 1);
    let note = m
        .notes
        .iter()
        .find(|n| n.contains("RAPL not used"))
        .unwrap();
    assert!(note.contains("energy_uj"), "{note}");
    let expected = m.cpu_time.value * 20.0 / 3.6e6;
    assert!((m.energy.value - expected).abs() < 1e-18);
}

#[test]
fn permission_denied_falls_back_to_estimate() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    fake_tree(tmp.path(), true);
    let counter = tmp.path().join("intel-rapl:0/energy_uj");
    fs::set_permissions(&counter, fs::Permissions::from_mode(0o000)).unwrap();
    let (_, m) = Meter::new(fast(tmp.path())).unwrap().measure(|| ());
    if fs::read_to_string(&counter).is_err() {
        // Not root: the counter really is unreadable.
        assert_eq!(m.energy.provenance, Provenance::Estimated);
        assert!(
            m.notes.iter().any(|n| n.contains("only root")),
            "{:?}",
            m.notes
        );
    } else {
        // Root reads anything; the meter must still work.
        assert_eq!(m.energy.provenance, Provenance::Measured);
    }
}

#[test]
fn absent_powercap_falls_back_with_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("none");
    let (v, m) = Meter::new(fast(&missing)).unwrap().measure(|| 42);
    assert_eq!(v, 42);
    assert_eq!(m.energy.provenance, Provenance::Estimated);
    assert!(
        m.notes[0].contains("no powercap directory"),
        "{:?}",
        m.notes
    );
    // An empty powercap directory (a VM) says there are no domains.
    let (_, m) = Meter::new(fast(tmp.path())).unwrap().measure(|| ());
    assert!(
        m.notes[0].contains("no intel-rapl domains"),
        "{:?}",
        m.notes
    );
}

#[test]
fn start_stop_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let meter = Meter::new(
        fast(tmp.path())
            .with_carbon_intensity(CarbonIntensity::country("FR").unwrap())
            .with_pue(1.2),
    )
    .unwrap();
    let running = meter.start();
    let mut v = vec![0u8; 8 << 20];
    v.iter_mut().enumerate().for_each(|(i, x)| *x = i as u8);
    std::hint::black_box(&v);
    let m = running.stop();
    assert_eq!(m.pue, 1.2);
    assert_eq!(m.carbon_intensity.grams_per_kwh, 56.0);
    assert!((m.co2.value - m.energy.value * 56.0).abs() < 1e-15);
    let peak = m.peak_memory.as_ref().unwrap();
    assert!(peak.value >= 8.0 * 1024.0 * 1024.0, "{peak:?}");
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["energy"]["provenance"], "estimated");
    assert_eq!(json["wall_time"]["unit"], "s");
    let back: smallscale_pepr_score::Measurement = serde_json::from_value(json).unwrap();
    assert_eq!(back, m);
}

#[test]
fn dropping_a_running_meter_stops_its_thread() {
    let tmp = tempfile::tempdir().unwrap();
    fake_tree(tmp.path(), true);
    let running = Meter::new(fast(tmp.path())).unwrap().start();
    drop(running); // must not hang or panic
}

#[test]
fn invalid_meter_settings_are_errors() {
    for config in [
        MeterConfig::default().with_pue(0.9),
        MeterConfig::default().with_pue(f64::NAN),
        MeterConfig::default().with_watts_per_core(0.0),
        MeterConfig::default().with_watts_per_core(f64::INFINITY),
        MeterConfig::default().with_sampling_interval(Duration::ZERO),
        MeterConfig::default().with_sampling_interval(Duration::from_secs(7200)),
    ] {
        assert!(matches!(
            Meter::new(config),
            Err(PeprError::InvalidParameter { .. })
        ));
    }
    assert!(CarbonIntensity::new(-1.0, "x").is_err());
    assert!(
        CarbonIntensity::country("XX")
            .unwrap_err()
            .to_string()
            .contains("DK")
    );
}

#[test]
fn codecarbon_load_model_estimates_from_tdp_load_and_wall_time() {
    use smallscale_pepr_score::{CpuPowerModel, LoadScope, codecarbon_process_watts};
    let missing = tempfile::tempdir().unwrap().path().join("no-powercap");
    let cpus = fs::read_to_string("/proc/stat")
        .map(|t| {
            t.lines()
                .filter(|l| {
                    l.starts_with("cpu") && l[3..].starts_with(|c: char| c.is_ascii_digit())
                })
                .count()
        })
        .unwrap_or(0);
    for scope in [LoadScope::Process, LoadScope::Machine] {
        let model = CpuPowerModel::CodeCarbonLoad {
            tdp_watts: 65.0,
            scope,
        };
        let config = fast(&missing)
            .with_cpu_power_model(model)
            .with_sampling_interval(Duration::from_millis(5));
        let meter = Meter::new(config).unwrap();
        let (_, m) = meter.measure(|| {
            let t = std::time::Instant::now();
            let mut x = 0u64;
            while t.elapsed() < Duration::from_millis(60) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            x
        });
        let c = &m.energy_components[0];
        assert_eq!(c.provenance, Provenance::Estimated);
        let wall = m.wall_time.value;
        match scope {
            LoadScope::Process => {
                assert!(c.source.contains("process mode"), "{}", c.source);
                // The energy follows from the figures in the measurement and the machine's CPUs.
                if cpus > 0 {
                    let load = (m.cpu_time.value / (wall * cpus as f64)).min(1.0);
                    let want = codecarbon_process_watts(65.0, load) * wall;
                    assert!(
                        (c.joules - want).abs() <= 1e-9 * want.max(1.0),
                        "{} vs {want}",
                        c.joules
                    );
                    assert!(
                        c.source.contains(&format!("{cpus} logical CPUs")),
                        "{}",
                        c.source
                    );
                }
            }
            LoadScope::Machine => {
                if cpus > 0 {
                    // Sampled: between the idle 10 % and the full TDP over the wall time.
                    assert!(c.source.contains("machine mode"), "{}", c.source);
                    assert!(c.joules >= 0.1 * 65.0 * wall * 0.5, "{}", c.joules);
                    assert!(c.joules <= 65.0 * wall * (1.0 + 1e-9));
                } else {
                    assert!(c.source.contains("could not be read"), "{}", c.source);
                }
            }
        }
    }
    let bad = CpuPowerModel::CodeCarbonLoad {
        tdp_watts: -1.0,
        scope: LoadScope::Process,
    };
    let err = Meter::new(MeterConfig::default().with_cpu_power_model(bad)).unwrap_err();
    assert!(err.to_string().contains("CPU TDP"), "{err}");
}
