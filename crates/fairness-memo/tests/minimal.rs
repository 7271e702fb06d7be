//! Minimal memorization: the LP and closed forms against brute-force grid search, the binary
//! closed form against the LP, the bounds, and infeasible cases.

mod common;

use common::*;
use ndarray::{Array1, Array2};
use proptest::prelude::*;
use smallscale_fairness_memo::*;

const SIGN: SignConvention = SignConvention::ProtectedMinusUnprotected;

/// Solves a small dense system by Gaussian elimination; `None` if singular.
#[allow(clippy::needless_range_loop)]
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for c in 0..n {
        let piv = (c..n).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[piv][c].abs() < 1e-12 {
            return None;
        }
        a.swap(c, piv);
        b.swap(c, piv);
        for r in 0..n {
            if r != c {
                let f = a[r][c] / a[c][c];
                for j in 0..n {
                    a[r][j] -= f * a[c][j];
                }
                b[r] -= f * b[c];
            }
        }
    }
    Some((0..n).map(|i| b[i] / a[i][i]).collect())
}

/// Brute-force SP minimum: every vertex-style candidate — K-1 free variables solved from the
/// (affine) SP equations, the others on a grid over [0, p] — keeping feasible points.
fn grid_sp_minimum(
    dist: &JointDistribution,
    model: MemorizationModel,
    steps: usize,
) -> Option<f64> {
    let k = dist.n_classes();
    let cells = dist.cell_masses();
    let n = 2 * k;
    let p: Vec<f64> = (0..n).map(|j| cells[[j / k, j % k]]).collect();
    let sp_of = |m: &[f64]| -> Array1<f64> {
        let plan = MemorizationPlan::from_masses(
            dist,
            Array2::from_shape_vec((2, k), m.to_vec()).unwrap(),
        )
        .unwrap();
        statistical_parity_after(dist, &plan, model, SIGN)
    };
    let zero = vec![0.0; n];
    let f0 = sp_of(&zero);
    let cols: Vec<Array1<f64>> = (0..n)
        .map(|j| {
            let mut e = zero.clone();
            e[j] = p[j];
            (sp_of(&e) - &f0) / p[j]
        })
        .collect();
    let mut best: Option<f64> = None;
    // choose K-1 free variables
    let subsets: Vec<Vec<usize>> = (0..1usize << n)
        .filter(|s| s.count_ones() as usize == k - 1)
        .map(|s| (0..n).filter(|j| s >> j & 1 == 1).collect())
        .collect();
    for free in subsets {
        let fixed: Vec<usize> = (0..n).filter(|j| !free.contains(j)).collect();
        let total = (steps + 1).pow(fixed.len() as u32);
        for code in 0..total {
            let mut m = vec![0.0; n];
            let mut c = code;
            for &j in &fixed {
                m[j] = p[j] * (c % (steps + 1)) as f64 / steps as f64;
                c /= steps + 1;
            }
            // equations yh = 0..K-2: f0 + sum_j cols[j] m_j = 0
            let rhs: Vec<f64> = (0..k - 1)
                .map(|yh| -f0[yh] - fixed.iter().map(|&j| cols[j][yh] * m[j]).sum::<f64>())
                .collect();
            let a: Vec<Vec<f64>> = (0..k - 1)
                .map(|yh| free.iter().map(|&j| cols[j][yh]).collect())
                .collect();
            let Some(x) = solve(a, rhs) else { continue };
            if free
                .iter()
                .zip(&x)
                .all(|(&j, &v)| v >= -1e-12 && v <= p[j] + 1e-12)
            {
                for (&j, &v) in free.iter().zip(&x) {
                    m[j] = v.clamp(0.0, p[j]);
                }
                if sp_of(&m).iter().all(|v| v.abs() < 1e-9) {
                    let mass: f64 = m.iter().sum();
                    best = Some(best.map_or(mass, |b: f64| b.min(mass)));
                }
            }
        }
    }
    best
}

fn small_dist(k: usize) -> impl Strategy<Value = JointDistribution> {
    masses(k).prop_map(|m| JointDistribution::from_masses(m).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn sp_linear_program_matches_grid_search_k2(dist in small_dist(2)) {
        for model in [MemorizationModel::ConfusionRow, MemorizationModel::Distribution] {
            let opts = MinimalOptions { model, ..Default::default() };
            let lp = minimal_memorization(&dist, Target::StatisticalParity, opts).unwrap();
            let grid = grid_sp_minimum(&dist, model, 4);
            match (lp.total_mass(), grid) {
                (Some(a), Some(b)) => prop_assert!((a - b).abs() < 1e-7, "lp {} grid {}", a, b),
                (None, None) => {}
                (a, b) => prop_assert!(false, "lp {:?} grid {:?}", a, b),
            }
            if let Some(plan) = lp.plan() {
                prop_assert!(plan.remaining.max_abs < 1e-7);
            }
        }
    }

    #[test]
    fn sp_linear_program_matches_grid_search_k3(dist in small_dist(3)) {
        for model in [MemorizationModel::ConfusionRow, MemorizationModel::Distribution] {
            let opts = MinimalOptions { model, ..Default::default() };
            let lp = minimal_memorization(&dist, Target::StatisticalParity, opts).unwrap();
            let grid = grid_sp_minimum(&dist, model, 2);
            match (lp.total_mass(), grid) {
                (Some(a), Some(b)) => prop_assert!((a - b).abs() < 1e-7, "lp {} grid {}", a, b),
                (None, None) => {}
                (a, b) => prop_assert!(false, "lp {:?} grid {:?}", a, b),
            }
        }
    }

    #[test]
    fn binary_closed_form_matches_the_lp(dist in small_dist(2)) {
        for model in [MemorizationModel::ConfusionRow, MemorizationModel::Distribution] {
            let closed = binary_statistical_parity_minimum(&dist, model).unwrap();
            let lp = minimal_memorization(&dist, Target::StatisticalParity, MinimalOptions { model, ..Default::default() }).unwrap();
            match (closed.total_mass(), lp.total_mass()) {
                (Some(a), Some(b)) => prop_assert!((a - b).abs() < 1e-8, "closed {} lp {}", a, b),
                (None, None) => {}
                (a, b) => prop_assert!(false, "closed {:?} lp {:?}", a, b),
            }
        }
    }

    #[test]
    fn eopp_and_eodds_closed_forms_match_grid_search(dist in (2usize..=3).prop_flat_map(small_dist)) {
        let k = dist.n_classes();
        let cells = dist.cell_masses();
        let steps = 200;
        let mut eopp_grid = 0.0;
        let mut eodds_grid = 0.0;
        for y in 0..k {
            let c_plus = dist.confusion_row(Group::Protected, y).unwrap();
            let c_minus = dist.confusion_row(Group::Unprotected, y).unwrap();
            let (t_plus, t_minus) = (c_plus[y], c_minus[y]);
            let mut best_eopp = f64::INFINITY;
            let mut best_eodds = cells[[0, y]] + cells[[1, y]]; // r = 1 in both cells always works
            for i in 0..=steps {
                let r = i as f64 / steps as f64;
                // solve the other group's share from the EOpp condition, in both directions
                for (r_plus, r_minus) in [(r, 1.0 - (1.0 - r) * (1.0 - t_plus) / (1.0 - t_minus)), (1.0 - (1.0 - r) * (1.0 - t_minus) / (1.0 - t_plus), r)] {
                    if !(-1e-12..=1.0 + 1e-12).contains(&r_plus) || !(-1e-12..=1.0 + 1e-12).contains(&r_minus) { continue; }
                    let mass = r_plus.max(0.0) * cells[[1, y]] + r_minus.max(0.0) * cells[[0, y]];
                    best_eopp = best_eopp.min(mass);
                    let odds_ok = (0..k).filter(|&h| h != y).all(|h| ((1.0 - r_plus) * c_plus[h] - (1.0 - r_minus) * c_minus[h]).abs() < 1e-9);
                    if odds_ok { best_eodds = best_eodds.min(mass); }
                }
            }
            // whole cells with errors only
            let whole: f64 = [(1usize, t_plus), (0usize, t_minus)].iter().filter(|(_, t)| *t < 1.0).map(|(a, _)| cells[[*a, y]]).sum();
            best_eodds = best_eodds.min(whole);
            eopp_grid += best_eopp;
            eodds_grid += best_eodds;
        }
        let eopp = minimal_memorization(&dist, Target::EqualOpportunity, MinimalOptions::default()).unwrap();
        let eodds = minimal_memorization(&dist, Target::EqualizedOdds, MinimalOptions::default()).unwrap();
        prop_assert!((eopp.total_mass().unwrap() - eopp_grid).abs() < 1e-9);
        prop_assert!((eodds.total_mass().unwrap() - eodds_grid).abs() < 1e-9, "{} vs {}", eodds.total_mass().unwrap(), eodds_grid);
        prop_assert!(eopp.plan().unwrap().remaining.max_abs < 1e-9);
        prop_assert!(eodds.plan().unwrap().remaining.max_abs < 1e-9);
        if k == 2 {
            // the ratio condition holds automatically for K = 2
            prop_assert!(eodds.plan().unwrap().per_class.iter().all(|c| c.ratio_condition == Some(true)));
        }
    }

    #[test]
    fn bounds_bracket_the_minimum(dist in (2usize..=4).prop_flat_map(small_dist)) {
        let opts = MinimalOptions::default();
        for target in Target::ALL {
            let b = memorization_bounds(&dist, target, opts).unwrap();
            if let Some(exact) = minimal_memorization(&dist, target, opts).unwrap().total_mass() {
                prop_assert!(b.lower <= exact + 1e-9, "{:?}: lower {} exact {}", target, b.lower, exact);
                if let Some(u) = b.upper { prop_assert!(exact <= u + 1e-9, "{:?}: exact {} upper {}", target, exact, u); }
            }
        }
        // the SP lower bound holds in the distribution model too
        let opts = MinimalOptions { model: MemorizationModel::Distribution, ..Default::default() };
        let b = memorization_bounds(&dist, Target::StatisticalParity, opts).unwrap();
        if let Some(exact) = minimal_memorization(&dist, Target::StatisticalParity, opts).unwrap().total_mass() {
            prop_assert!(b.lower <= exact + 1e-9);
            if let Some(u) = b.upper { prop_assert!(exact <= u + 1e-9); }
        }
    }
}

#[test]
fn spec_binary_closed_form_by_hand() {
    // protected: P(Yhat=1) = 0.3, unprotected 0.5; p+ = p- = 1/2; big cells.
    // distribution model: p_D* = d min(p+/(1 - s1+), p-/s1-) = 0.2 * min(0.5/0.7, 0.5/0.5) = 1/7
    let d = dist(2, &[40., 10., 10., 40., 50., 20., 20., 10.]);
    let closed = binary_statistical_parity_minimum(&d, MemorizationModel::Distribution).unwrap();
    assert!((closed.total_mass().unwrap() - 0.2 * (0.5f64 / 0.7)).abs() < 1e-12);
    let plan = &closed.plan().unwrap().plan;
    assert!(plan.mass(Group::Protected, 1) > 0.0 && plan.mass(Group::Unprotected, 0) == 0.0);
    // confusion-row model: protected positives have FNR 20/30, so gain per unit mass is (2/3)/0.5
    let closed = binary_statistical_parity_minimum(&d, MemorizationModel::ConfusionRow).unwrap();
    let expected = 0.2f64.min(0.2 * 0.5 / (2.0 / 3.0)); // capacity p_1^+ = 0.3 suffices
    assert!((closed.total_mass().unwrap() - expected).abs() < 1e-12);
}

#[test]
fn eopp_closed_form_by_hand() {
    // label 1: TPR protected 0.6, unprotected 0.8 -> r* = 0.2 / 0.4 = 0.5 of the protected cell
    let d = dist(2, &[40., 10., 10., 40., 45., 5., 20., 30.]);
    let m = minimal_memorization(&d, Target::EqualOpportunity, MinimalOptions::default()).unwrap();
    let plan = m.plan().unwrap();
    assert!((plan.plan.share(Group::Protected, 1) - 0.5).abs() < 1e-12);
    // label 0: TNR protected 0.9, unprotected 0.8 -> r* = 0.1 / 0.2 = 0.5 of the unprotected cell
    assert!((plan.plan.share(Group::Unprotected, 0) - 0.5).abs() < 1e-12);
    assert_eq!(plan.per_class[1].disadvantaged, Some(Group::Protected));
    assert!((plan.total_mass - (0.5 * 0.25 + 0.5 * 0.25)).abs() < 1e-12);
}

#[test]
fn eodds_ratio_condition_and_whole_cell_fallback() {
    // K = 3; label 0 error rows: protected (0, 2, 2)/10, unprotected (0, 1, 1)/10 -> proportional
    // label 1 error rows: protected (3, 0, 1)/10, unprotected (1, 0, 3)/10 -> not proportional
    #[rustfmt::skip]
    let counts = [
        // unprotected: label 0, 1, 2 rows (predictions 0, 1, 2)
        8., 1., 1.,   1., 6., 3.,   0., 0., 10.,
        // protected
        6., 2., 2.,   3., 6., 1.,   0., 0., 10.,
    ];
    let d = dist(3, &counts);
    assert!(ratio_condition(&d, 0, 1e-12).unwrap());
    assert!(!ratio_condition(&d, 1, 1e-12).unwrap());
    let m = minimal_memorization(&d, Target::EqualizedOdds, MinimalOptions::default()).unwrap();
    let plan = m.plan().unwrap();
    let c0 = &plan.per_class[0];
    assert_eq!((c0.ratio_condition, c0.whole_cells), (Some(true), false));
    assert!((c0.shares[1] - 0.5).abs() < 1e-12 && c0.shares[0] == 0.0); // (0.6 -> 0.8): r = 0.2/0.4
    let c1 = &plan.per_class[1];
    assert_eq!((c1.ratio_condition, c1.whole_cells), (Some(false), true));
    assert_eq!(c1.shares, [1.0, 1.0]);
    assert_eq!(plan.per_class[2].mass, 0.0);
    assert!(plan.remaining.max_abs < 1e-12);
    let eopp =
        minimal_memorization(&d, Target::EqualOpportunity, MinimalOptions::default()).unwrap();
    assert!(eopp.total_mass().unwrap() < m.total_mass().unwrap());
}

#[test]
fn infeasible_sp_is_a_result_not_an_error() {
    // protected has no positive labels; unprotected predicts perfectly: nothing can move rates
    let d = dist(2, &[10., 0., 0., 10., 15., 5., 0., 0.]);
    let m = minimal_memorization(&d, Target::StatisticalParity, MinimalOptions::default()).unwrap();
    match &m {
        MinimalMemorization::Infeasible { reason, .. } => {
            assert!(reason.contains("empty"), "{reason}")
        }
        other => panic!("expected infeasible, got {other:?}"),
    }
    // the distribution model holds s^a fixed, so memorizing unprotected negatives lowers their
    // rate there: feasible in that (non-realisable) model
    let opts = MinimalOptions {
        model: MemorizationModel::Distribution,
        ..Default::default()
    };
    assert!(
        minimal_memorization(&d, Target::StatisticalParity, opts)
            .unwrap()
            .plan()
            .is_some()
    );
    let closed = binary_statistical_parity_minimum(&d, MemorizationModel::ConfusionRow).unwrap();
    assert!(matches!(closed, MinimalMemorization::Infeasible { .. }));
    // perfect classifier, different base rates: the polytope is empty, no empty cells
    let d = dist(2, &[10., 0., 0., 10., 15., 0., 0., 5.]);
    let m = minimal_memorization(&d, Target::StatisticalParity, MinimalOptions::default()).unwrap();
    match m {
        MinimalMemorization::Infeasible { reason, .. } => assert!(reason.contains("base rates")),
        other => panic!("expected infeasible, got {other:?}"),
    }
    let json = serde_json::to_string(
        &minimal_memorization(&d, Target::StatisticalParity, MinimalOptions::default()).unwrap(),
    )
    .unwrap();
    assert!(json.contains("\"status\":\"infeasible\""));
}

#[test]
fn elimination_decisions() {
    let d = dist(2, &[40., 10., 10., 40., 45., 5., 20., 30.]);
    let none = MemorizationPlan::nothing(&d);
    for target in Target::ALL {
        let check = eliminates(&d, &none, target, MemorizationModel::ConfusionRow, 1e-9).unwrap();
        assert!(!check.eliminated);
        let m = minimal_memorization(&d, target, MinimalOptions::default()).unwrap();
        let check = eliminates(
            &d,
            &m.plan().unwrap().plan,
            target,
            MemorizationModel::ConfusionRow,
            1e-9,
        )
        .unwrap();
        assert!(check.eliminated, "{target:?} {check:?}");
    }
}

#[test]
fn larger_lp_is_feasible_and_exact() {
    // K = 10 with a strong diagonal: the LP must find a plan that removes SP
    let k = 10;
    let mut counts = vec![0.0; 2 * k * k];
    for a in 0..2 {
        for y in 0..k {
            for yh in 0..k {
                let base = if y == yh {
                    50.0
                } else {
                    1.0 + ((a * 7 + y * 3 + yh) % 5) as f64
                };
                counts[(a * k + y) * k + yh] = base;
            }
        }
    }
    let d = dist(k, &counts);
    let m = minimal_memorization(&d, Target::StatisticalParity, MinimalOptions::default()).unwrap();
    let plan = m.plan().expect("feasible");
    assert!(plan.remaining.max_abs < 1e-8);
    let b = memorization_bounds(&d, Target::StatisticalParity, MinimalOptions::default()).unwrap();
    assert!(b.lower <= plan.total_mass + 1e-12 && plan.total_mass <= b.upper.unwrap() + 1e-9);
}
