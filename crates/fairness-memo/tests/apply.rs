//! Applying plans to rows: the recomputed metrics match the closed form (exactly with split
//! rows, within the rounding bound with whole rows, exactly when the shares are integral).

use proptest::prelude::*;
use smallscale_fairness_memo::*;

fn random_rows(k: usize) -> impl Strategy<Value = Rows> {
    proptest::collection::vec((0u8..2, 0..k as u32, 0..k as u32), 40..300).prop_filter_map(
        "both groups and all cells",
        move |v| {
            let (g, (y, p)): (Vec<u8>, (Vec<u32>, Vec<u32>)) =
                v.into_iter().map(|(a, b, c)| (a, (b, c))).unzip();
            let rows = Rows::with_classes(g, y, p, None, k).ok()?;
            rows.distribution()
                .ok()?
                .empty_cells()
                .is_empty()
                .then_some(rows)
        },
    )
}

fn rows_and_shares() -> impl Strategy<Value = (Rows, ndarray::Array2<f64>)> {
    (2usize..=3).prop_flat_map(|k| {
        (
            random_rows(k),
            proptest::collection::vec(0.0f64..=1.0, 2 * k),
        )
            .prop_map(move |(r, s)| (r, ndarray::Array2::from_shape_vec((2, k), s).unwrap()))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(60))]

    #[test]
    fn split_rows_realise_the_closed_form_exactly((rows, shares) in rows_and_shares(), seed in 0u64..1000) {
        let dist = rows.distribution().unwrap();
        let plan = MemorizationPlan::from_shares(&dist, shares).unwrap();
        let applied = apply_plan(&rows, &plan, ApplyOptions { seed, rounding: Rounding::SplitRows, ..Default::default() }).unwrap();
        prop_assert!(applied.verification.max_deviation < 1e-9, "{}", applied.verification.max_deviation);
        prop_assert!((applied.verification.realised_total_mass - plan.total_mass()).abs() < 1e-9);
        prop_assert!((applied.realised_plan.masses() - plan.masses()).iter().all(|v| v.abs() < 1e-9));
        // memorized rows are exactly right
        for j in 0..applied.rows.len() {
            if applied.memorized[j] { prop_assert_eq!(applied.rows.predictions()[j], applied.rows.labels()[j]); }
        }
    }

    #[test]
    fn whole_rows_stay_within_the_rounding_bound((rows, shares) in rows_and_shares(), seed in 0u64..1000) {
        let dist = rows.distribution().unwrap();
        let plan = MemorizationPlan::from_shares(&dist, shares).unwrap();
        let applied = apply_plan(&rows, &plan, ApplyOptions { seed, ..Default::default() }).unwrap();
        let v = &applied.verification;
        prop_assert!(v.max_deviation <= v.rounding_bound + 1e-12, "{} > {}", v.max_deviation, v.rounding_bound);
        prop_assert_eq!(applied.rows.len(), rows.len());
    }

    #[test]
    fn minimal_plans_remove_the_bias_on_rows(rows in random_rows(2), seed in 0u64..100) {
        let dist = rows.distribution().unwrap();
        for target in Target::ALL {
            if let Some(p) = minimal_memorization(&dist, target, MinimalOptions::default()).unwrap().plan() {
                let applied = apply_plan(&rows, &p.plan, ApplyOptions { seed, rounding: Rounding::SplitRows, ..Default::default() }).unwrap();
                let m = applied.verification.empirical;
                let remaining = match target {
                    Target::StatisticalParity => m.statistical_parity.aggregates.max_abs,
                    Target::EqualOpportunity => m.equal_opportunity.unwrap().aggregates.max_abs,
                    Target::EqualizedOdds => m.equalized_odds.unwrap().aggregates.max_abs,
                };
                prop_assert!(remaining < 1e-7, "{:?}: {}", target, remaining);
            }
        }
    }
}

#[test]
fn integral_shares_match_exactly_with_whole_rows() {
    // every stratum has an even count; shares of one half are realised exactly
    let mut g = Vec::new();
    let mut y = Vec::new();
    let mut p = Vec::new();
    for (a, label, pred, n) in [
        (0u8, 0u32, 0u32, 8),
        (0, 0, 1, 2),
        (0, 1, 0, 4),
        (0, 1, 1, 6),
        (1, 0, 0, 6),
        (1, 0, 1, 4),
        (1, 1, 0, 6),
        (1, 1, 1, 4),
    ] {
        for _ in 0..n {
            g.push(a);
            y.push(label);
            p.push(pred);
        }
    }
    let rows = Rows::new(g, y, p).unwrap();
    let dist = rows.distribution().unwrap();
    let plan = MemorizationPlan::from_shares(
        &dist,
        ndarray::Array2::from_shape_vec((2, 2), vec![0.5, 0.0, 0.0, 0.5]).unwrap(),
    )
    .unwrap();
    let applied = apply_plan(&rows, &plan, ApplyOptions::default()).unwrap();
    assert!(applied.verification.max_deviation < 1e-12);
    assert!((applied.verification.realised_total_mass - plan.total_mass()).abs() < 1e-12);
    assert_eq!(applied.memorized.iter().filter(|&&m| m).count(), 5 + 5);
}

#[test]
fn seeds_make_the_choice_reproducible() {
    let n = 400;
    let g: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
    let y: Vec<u32> = (0..n).map(|i| ((i / 2) % 2) as u32).collect();
    let p: Vec<u32> = (0..n).map(|i| ((i / 4) % 2) as u32).collect();
    let rows = Rows::new(g, y, p).unwrap();
    let dist = rows.distribution().unwrap();
    let plan =
        MemorizationPlan::from_shares(&dist, ndarray::Array2::from_elem((2, 2), 0.3)).unwrap();
    let a = apply_plan(
        &rows,
        &plan,
        ApplyOptions {
            seed: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let b = apply_plan(
        &rows,
        &plan,
        ApplyOptions {
            seed: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let c = apply_plan(
        &rows,
        &plan,
        ApplyOptions {
            seed: 2,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(a.memorized, b.memorized);
    assert_ne!(a.memorized, c.memorized);
    // the metrics do not depend on which rows are chosen inside a stratum
    assert_eq!(a.verification.empirical, c.verification.empirical);
}

#[test]
fn weighted_rows_and_bootstrap_and_analysis() {
    let n = 600;
    let g: Vec<u8> = (0..n).map(|i| (i % 3 == 0) as u8).collect();
    let y: Vec<u32> = (0..n).map(|i| ((i * 7 / 3) % 2) as u32).collect();
    let p: Vec<u32> = (0..n)
        .map(|i| {
            if i % 5 == 0 {
                1 - ((i * 7 / 3) % 2) as u32
            } else {
                ((i * 7 / 3) % 2) as u32
            }
        })
        .collect();
    let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 4) as f64 * 0.25).collect();
    let rows = Rows::new(g, y, p).unwrap().weighted(w).unwrap();
    let dist = rows.distribution().unwrap();
    let plan =
        MemorizationPlan::from_shares(&dist, ndarray::Array2::from_elem((2, 2), 0.37)).unwrap();
    let exact = apply_plan(
        &rows,
        &plan,
        ApplyOptions {
            rounding: Rounding::SplitRows,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(exact.verification.max_deviation < 1e-9);
    let whole = apply_plan(&rows, &plan, ApplyOptions::default()).unwrap();
    assert!(whole.verification.max_deviation <= whole.verification.rounding_bound);

    let opts = BootstrapOptions {
        n_resamples: 200,
        confidence: 0.9,
        seed: 7,
    };
    let a = bootstrap_intervals(&rows, opts).unwrap();
    let b = bootstrap_intervals(&rows, opts).unwrap();
    assert_eq!(a, b);
    let sp = a.statistical_parity.unwrap();
    assert!(sp.l1.lower <= sp.l1.upper && sp.total_variation.lower * 2.0 - sp.l1.lower < 1e-12);
    assert!(a.equalized_odds.is_some());

    let report = analyze(
        &rows,
        &AnalysisOptions {
            bootstrap: Some(opts),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(report.targets.len(), 3);
    for t in &report.targets {
        let applied = t.applied.as_ref().unwrap();
        assert!(applied.max_deviation <= applied.rounding_bound);
    }
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["targets"][0]["minimal"]["plan"]["masses"].is_array());
    assert!(json["binary"]["demographic_parity_difference"].is_number());
}
