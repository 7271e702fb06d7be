//! The worked example of the fairness guide: a small binary data set, its metrics, the
//! minimal memorization per target with bounds, and the plan applied to the rows.
//!
//! Run with `cargo run -p smallscale-fairness-memo --example worked_example`.

use smallscale_fairness_memo::*;

fn rows() -> Result<Rows> {
    // (group, label, prediction, count); group 1 is protected
    let strata = [
        (0u8, 0u32, 0u32, 320usize),
        (0, 0, 1, 80),
        (0, 1, 0, 120),
        (0, 1, 1, 480),
        (1, 0, 0, 450),
        (1, 0, 1, 50),
        (1, 1, 0, 200),
        (1, 1, 1, 300),
    ];
    let (mut g, mut y, mut p) = (Vec::new(), Vec::new(), Vec::new());
    for (a, label, pred, n) in strata {
        g.extend(std::iter::repeat_n(a, n));
        y.extend(std::iter::repeat_n(label, n));
        p.extend(std::iter::repeat_n(pred, n));
    }
    Rows::new(g, y, p)
}

fn fmt(v: impl IntoIterator<Item = f64>) -> String {
    let parts: Vec<String> = v.into_iter().map(|x| format!("{x:+.4}")).collect();
    format!("[{}]", parts.join(", "))
}

fn main() -> Result<()> {
    let rows = rows()?;
    let report = analyze(&rows, &AnalysisOptions::default())?;
    println!(
        "rows: {}, classes: {}, P(A=-) = {:.3}, P(A=+) = {:.3}",
        report.n_rows, report.n_classes, report.group_mass[0], report.group_mass[1]
    );
    let m = &report.metrics;
    println!(
        "SP    = {}   max-abs {:.4}",
        fmt(m.statistical_parity.gaps.iter().copied()),
        m.statistical_parity.aggregates.max_abs
    );
    if let (Some(eopp), Some(eodds)) = (&m.equal_opportunity, &m.equalized_odds) {
        println!(
            "EOpp  = {}   max-abs {:.4}",
            fmt(eopp.gaps.iter().copied()),
            eopp.aggregates.max_abs
        );
        for (yh, row) in eodds.gaps.rows().into_iter().enumerate() {
            println!("EOdds[yh={yh}, y=.] = {}", fmt(row.iter().copied()));
        }
    }
    if let Some(b) = &report.binary {
        println!(
            "fairlearn: demographic_parity_difference {:.4}, equalized_odds_difference {:.4}",
            b.demographic_parity_difference, b.equalized_odds_difference
        );
        println!(
            "AIF360: statistical_parity_difference {:+.4}, equal_opportunity_difference {:+.4}",
            b.statistical_parity_difference, b.equal_opportunity_difference
        );
    }
    for t in &report.targets {
        println!();
        println!("target: {}", t.target.name());
        match &t.minimal {
            Some(MinimalMemorization::Feasible(plan)) => {
                println!(
                    "  minimal mass p_D* = {:.4} ({:?})",
                    plan.total_mass, plan.method
                );
                for g in Group::BOTH {
                    let masses: Vec<f64> = (0..report.n_classes)
                        .map(|y| plan.plan.mass(g, y))
                        .collect();
                    let shares: Vec<f64> = (0..report.n_classes)
                        .map(|y| plan.plan.share(g, y))
                        .collect();
                    println!(
                        "  {:<11} masses m_y = {}  shares r_y = {}",
                        g.name(),
                        fmt(masses),
                        fmt(shares)
                    );
                }
            }
            Some(MinimalMemorization::Infeasible { reason, .. }) => {
                println!("  infeasible: {reason}")
            }
            None => println!("  undefined: {}", t.undefined.as_deref().unwrap_or("")),
        }
        if let Some(b) = &t.bounds {
            let upper = b.upper.map_or("none".to_string(), |u| format!("{u:.4}"));
            println!(
                "  bounds: {:.4} <= p_D* <= {}   ({}; {})",
                b.lower, upper, b.lower_rule, b.upper_rule
            );
        }
        if let Some(v) = &t.applied {
            println!(
                "  applied to rows: realised mass {:.4}, max |empirical - closed form| = {:.2e} (rounding bound {:.2e})",
                v.realised_total_mass, v.max_deviation, v.rounding_bound
            );
            println!(
                "  SP after (rows) = {}",
                fmt(v.empirical.statistical_parity.gaps.iter().copied())
            );
            if let Some(e) = &v.empirical.equalized_odds {
                println!("  EOdds max-abs after (rows) = {:.4}", e.aggregates.max_abs);
            }
        }
    }
    let dist = rows.distribution()?;
    println!();
    for model in [
        MemorizationModel::ConfusionRow,
        MemorizationModel::Distribution,
    ] {
        if let Some(mass) = binary_statistical_parity_minimum(&dist, model)?.total_mass() {
            println!("binary SP closed form, {model:?} model: p_D* = {mass:.4}");
        }
    }
    Ok(())
}
