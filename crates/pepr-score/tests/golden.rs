//! Golden test: the paper's released table (MIT, see tests/data/LICENSE).
//!
//! Grouping by `dataset`, normalizing each resource over the group and
//! computing `test_09 / (1 + R)` must reproduce the authors' stored columns.

use std::collections::BTreeMap;

use smallscale_pepr_score::{PeprVariant, TableParams, load_pools};

const TOL: f64 = 1e-12;

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn stored(attrs: &BTreeMap<String, String>, col: &str) -> f64 {
    attrs[col].parse().unwrap()
}

#[test]
fn dataset_level_table_reproduces_all_eight_columns() {
    let resources: Vec<&str> = PeprVariant::ALL.iter().map(|v| v.paper_column()).collect();
    let spec = TableParams::new("test_09", resources)
        .with_group_by("dataset")
        .check()
        .unwrap();
    let pools = load_pools(data("full_data_pepr_dataset_level.csv"), &spec).unwrap();
    assert_eq!(pools.len(), 8);
    let stored_cols = [
        (PeprVariant::Energy, "E_n", "pepr_e"),
        (PeprVariant::Co2, "C_n", "pepr_c"),
        (PeprVariant::TrainTime, "T_n", "pepr_t"),
        (PeprVariant::Memory, "M_n", "pepr_m"),
    ];
    let mut rows = 0;
    let mut checked = 0;
    let mut max_err: f64 = 0.0;
    for pool in &pools {
        assert_eq!(pool.len(), 131, "pool {}", pool.label());
        rows += pool.len();
        for (variant, r_col, pepr_col) in stored_cols {
            let scores = pool.pepr(variant.paper_column()).unwrap();
            assert!(!scores.is_degenerate());
            for (run, s) in pool.runs().iter().zip(&scores.models) {
                assert_eq!(run.name, s.name);
                let r_err = (s.resource - stored(&run.attributes, r_col)).abs();
                let p_err = (s.pepr - stored(&run.attributes, pepr_col)).abs();
                max_err = max_err.max(r_err).max(p_err);
                assert!(
                    r_err <= TOL,
                    "{} {} {r_col}: {r_err}",
                    pool.label(),
                    run.name
                );
                assert!(
                    p_err <= TOL,
                    "{} {} {pepr_col}: {p_err}",
                    pool.label(),
                    run.name
                );
                checked += 2;
            }
        }
    }
    assert_eq!(rows, 1048);
    assert_eq!(checked, 1048 * 8);
    assert!(max_err <= TOL);
}

#[test]
fn imagenet_pepr_m_uses_top1_over_100_and_memory_normalized_over_the_table() {
    let spec = TableParams::new("top1", ["memR"])
        .with_performance_scale(0.01)
        .check()
        .unwrap();
    let pools = load_pools(data("full_data_pepr_imagenet.csv"), &spec).unwrap();
    assert_eq!(pools.len(), 1);
    let pool = &pools[0];
    assert_eq!(pool.len(), 131);
    let scores = pool.pepr("memR").unwrap();
    for (run, s) in pool.runs().iter().zip(&scores.models) {
        // Normalizing memR over the ImageNet table gives the stored M_n
        // (the same memR values as derma_pt, hence "M_n reused").
        assert!(
            (s.resource - stored(&run.attributes, "M_n")).abs() <= TOL,
            "{}",
            run.name
        );
        assert!(
            (s.pepr - stored(&run.attributes, "pepr_m")).abs() <= TOL,
            "{}",
            run.name
        );
        // Using the stored M_n directly gives the same result.
        let p = run.performance;
        let direct = p / (1.0 + stored(&run.attributes, "M_n"));
        assert!((direct - stored(&run.attributes, "pepr_m")).abs() <= TOL);
    }
}

#[test]
fn imagenet_m_n_equals_derma_pt_m_n() {
    let spec = TableParams::new("test_09", ["memR"])
        .with_group_by("dataset")
        .check()
        .unwrap();
    let pools = load_pools(data("full_data_pepr_dataset_level.csv"), &spec).unwrap();
    let derma_pt = pools.iter().find(|p| p.label() == "derma_pt").unwrap();
    let spec = TableParams::new("top1", ["memR"])
        .with_performance_scale(0.01)
        .check()
        .unwrap();
    let imagenet = &load_pools(data("full_data_pepr_imagenet.csv"), &spec).unwrap()[0];
    let by_name: BTreeMap<&str, f64> = derma_pt
        .runs()
        .iter()
        .map(|r| (r.name.as_str(), stored(&r.attributes, "M_n")))
        .collect();
    for run in imagenet.runs() {
        let m = by_name[run.name.as_str()];
        assert!(
            (m - stored(&run.attributes, "M_n")).abs() <= TOL,
            "{}",
            run.name
        );
    }
}
