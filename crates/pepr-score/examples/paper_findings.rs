//! Recomputes the PePR paper's findings from its released table (bundled in
//! `tests/data`, MIT licence of the authors).
//!
//! Run with `cargo run -p smallscale-pepr-score --example paper_findings`.

use std::collections::BTreeMap;

use smallscale_pepr_score::{
    FindingsColumns, Pool, Result, TableParams, kendall_tau_b, load_pools, paper_findings,
    spearman, welch_t_test,
};

const FULL: [&str; 4] = ["derma_pt", "derma", "lidc", "pneumonia"];

fn column(pool: &Pool, name: &str) -> Result<Vec<f64>> {
    pool.resource(name)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn p(p: Option<f64>) -> String {
    p.map_or("-".to_string(), |p| format!("{p:.1e}"))
}

fn main() -> Result<()> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/full_data_pepr_dataset_level.csv"
    );
    let spec = TableParams::new(
        "test_09",
        ["energy", "co2", "train_time", "memR", "num_param"],
    )
    .with_group_by("dataset")
    .check()?;
    let pools = load_pools(path, &spec)?;
    let by_name: BTreeMap<&str, &Pool> = pools.iter().map(|p| (p.label(), p)).collect();
    println!(
        "Loaded {} pools x {} models from the paper's table.\n",
        pools.len(),
        pools[0].len()
    );

    println!(
        "1. Size vs accuracy and vs PePR-E (full data sets; rank correlations with num_param)"
    );
    println!(
        "   {:<10} {:>10} {:>9} {:>10} {:>9} {:>10} {:>9}",
        "dataset", "rho(P)", "p", "rho(PePR)", "p", "tau(PePR)", "p"
    );
    for name in FULL {
        let pool = by_name[name];
        let size = column(pool, "num_param")?;
        let acc = pool.performances();
        let pepr_e = pool.pepr("energy")?.pepr_values();
        let rp = spearman(&size, &acc)?;
        let re = spearman(&size, &pepr_e)?;
        let te = kendall_tau_b(&size, &pepr_e)?;
        println!(
            "   {:<10} {:>10.3} {:>9} {:>10.3} {:>9} {:>10.3} {:>9}",
            name,
            rp.coefficient,
            p(rp.p_value),
            re.coefficient,
            p(re.p_value),
            te.coefficient,
            p(te.p_value)
        );
    }

    println!("\n2. Best PePR-E model vs most accurate model, per data set");
    println!(
        "   {:<16} {:<22} {:>7} {:>6} {:>5} | {:<22} {:>7} {:>6}",
        "dataset", "best PePR-E", "params", "P", "eff", "most accurate", "params", "P"
    );
    for pool in &pools {
        let scores = pool.pepr("energy")?;
        let best = scores.best();
        let run = |n: &str| {
            pool.runs()
                .iter()
                .find(|r| r.name == n)
                .expect("model of the pool")
        };
        let top = pool
            .runs()
            .iter()
            .max_by(|a, b| a.performance.total_cmp(&b.performance))
            .expect("pool is not empty");
        let b = run(&best.name);
        let front = scores.pareto_front().len();
        println!(
            "   {:<16} {:<22} {:>6.1}M {:>6.3} {:>5} | {:<22} {:>6.1}M {:>6.3}   (front: {front}, best on front: {})",
            pool.label(),
            best.name,
            b.resources["num_param"] / 1e6,
            best.performance,
            b.attributes["efficient"],
            top.name,
            top.resources["num_param"] / 1e6,
            top.performance,
            best.on_pareto_front
        );
    }

    println!("\n3. Small vs large models (split at the median num_param), Welch's t-test");
    println!(
        "   {:<16} {:>8} {:>8} {:>9} | {:>8} {:>8} {:>9}",
        "dataset", "P small", "P large", "p", "E small", "E large", "p"
    );
    for pool in &pools {
        let size = column(pool, "num_param")?;
        let m = median(&size);
        let acc = pool.performances();
        let pe = pool.pepr("energy")?.pepr_values();
        let split = |v: &[f64]| -> (Vec<f64>, Vec<f64>) {
            let small = v
                .iter()
                .zip(&size)
                .filter(|(_, s)| **s <= m)
                .map(|(x, _)| *x)
                .collect();
            let large = v
                .iter()
                .zip(&size)
                .filter(|(_, s)| **s > m)
                .map(|(x, _)| *x)
                .collect();
            (small, large)
        };
        let (ps, pl) = split(&acc);
        let (es, el) = split(&pe);
        let tp = welch_t_test(&ps, &pl)?;
        let te = welch_t_test(&es, &el)?;
        println!(
            "   {:<16} {:>8.3} {:>8.3} {:>9.1e} | {:>8.3} {:>8.3} {:>9.1e}",
            pool.label(),
            tp.mean_a,
            tp.mean_b,
            tp.p_value,
            te.mean_a,
            te.mean_b,
            te.p_value
        );
    }

    println!("\n4. Pretrained fine-tuning (derma_pt) vs training from scratch (derma)");
    let (pt, sc) = (by_name["derma_pt"], by_name["derma"]);
    for (what, a, b) in [
        ("accuracy", pt.performances(), sc.performances()),
        ("energy (kWh)", column(pt, "energy")?, column(sc, "energy")?),
        (
            "train_time (s)",
            column(pt, "train_time")?,
            column(sc, "train_time")?,
        ),
    ] {
        let t = welch_t_test(&a, &b)?;
        println!(
            "   {:<15} pretrained {:>9.4}  scratch {:>9.4}  t = {:>6.2}  df = {:>6.1}  p = {:.1e}",
            what, t.mean_a, t.mean_b, t.t, t.df, t.p_value
        );
    }
    let pairs = pt.runs().iter().filter(|r| {
        sc.runs()
            .iter()
            .find(|s| s.name == r.name)
            .is_some_and(|s| r.performance > s.performance)
    });
    println!(
        "   models more accurate when pretrained: {} of {}",
        pairs.count(),
        pt.len()
    );

    println!("\n5. Full vs reduced training data (Welch's t-test on accuracy; mean energy)");
    for (full, reduced) in [
        ("derma", "derma_small"),
        ("derma", "derma_smallest"),
        ("lidc", "lidc_small"),
        ("pneumonia", "pneumonia_small"),
    ] {
        let (f, r) = (by_name[full], by_name[reduced]);
        let t = welch_t_test(&f.performances(), &r.performances())?;
        println!(
            "   {:<10} vs {:<16} P {:.3} vs {:.3} (p = {:.1e}); energy {:.4} vs {:.4} kWh",
            full,
            reduced,
            t.mean_a,
            t.mean_b,
            t.p_value,
            mean(&column(f, "energy")?),
            mean(&column(r, "energy")?)
        );
    }
    println!("\n6. The verdicts (smallscale_pepr_score::paper_findings, alpha 0.05)");
    let findings = paper_findings(&pools, &FindingsColumns::default())?;
    for (number, v) in ["1", "2", "3a", "3b"].iter().zip(&findings.verdicts) {
        println!("   {number}. {}: {}.", v.finding, v.verdict);
        println!("      {}", v.statistic);
    }
    Ok(())
}
