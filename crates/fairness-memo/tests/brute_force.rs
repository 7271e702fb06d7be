//! Every closed form of "bias after memorization" against brute-force enumeration of the
//! joint table over (A, Y, D, Y_hat), and the identities of the spec.

mod common;

use common::*;
use ndarray::Array2;
use proptest::prelude::*;
use smallscale_fairness_memo::*;

const EPS: f64 = 1e-10;
const SIGN: SignConvention = SignConvention::ProtectedMinusUnprotected;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn confusion_row_model_matches_enumeration((dist, shares) in dist_and_shares()) {
        let k = dist.n_classes();
        let plan = MemorizationPlan::from_shares(&dist, shares).unwrap();
        let table = confusion_row_table(&dist, &plan);
        let sp = statistical_parity_after(&dist, &plan, MemorizationModel::ConfusionRow, SIGN);
        let eopp = equal_opportunity_after(&dist, &plan, SIGN).unwrap();
        let eodds = equalized_odds_after(&dist, &plan, SIGN).unwrap();
        // the memorized joint distribution gives the same metrics
        let via_joint = FairnessMetrics::compute(&memorized_distribution(&dist, &plan), SIGN);
        for yh in 0..k {
            let brute = table_prediction(&table, 1, yh) - table_prediction(&table, 0, yh);
            prop_assert!((sp[yh] - brute).abs() < EPS);
            prop_assert!((via_joint.statistical_parity.gaps[yh] - brute).abs() < EPS);
            for y in 0..k {
                let brute = table_conditional(&table, 1, y, yh) - table_conditional(&table, 0, y, yh);
                prop_assert!((eodds[[yh, y]] - brute).abs() < EPS);
                prop_assert!((via_joint.equalized_odds.as_ref().unwrap().gaps[[yh, y]] - brute).abs() < EPS);
            }
            let brute = table_conditional(&table, 1, yh, yh) - table_conditional(&table, 0, yh, yh);
            prop_assert!((eopp[yh] - brute).abs() < EPS);
        }
        // memorized mass in the table is p_D
        let p_d: f64 = table.index_axis(ndarray::Axis(2), 1).sum();
        prop_assert!((p_d - plan.total_mass()).abs() < EPS);
    }

    #[test]
    fn distribution_model_matches_enumeration((dist, shares) in dist_and_shares(), raw in proptest::collection::vec(0.05f64..1.0, 8)) {
        let k = dist.n_classes();
        let plan = MemorizationPlan::from_shares(&dist, shares).unwrap();
        // a random s^a (not the observed one)
        let mut s = Array2::from_shape_fn((2, k), |(a, y)| raw[(a * k + y) % raw.len()] + 0.01 * y as f64);
        for mut row in s.rows_mut() { let t = row.sum(); row /= t; }
        let model = DistributionModel::new(s.clone()).unwrap();
        let table = distribution_model_table(&dist, &plan, &s);
        let sp = model.statistical_parity_after(&dist, &plan, SIGN);
        for yh in 0..k {
            let brute = table_prediction(&table, 1, yh) - table_prediction(&table, 0, yh);
            prop_assert!((sp[yh] - brute).abs() < EPS, "{} vs {}", sp[yh], brute);
            for g in Group::BOTH {
                let p = model.prediction_distribution_after(&dist, &plan, g);
                prop_assert!((p[yh] - table_prediction(&table, g.index(), yh)).abs() < EPS);
            }
        }
        prop_assert!(sp.sum().abs() < EPS);
    }

    #[test]
    fn identities_hold((dist, shares) in dist_and_shares()) {
        let k = dist.n_classes();
        let plan = MemorizationPlan::from_shares(&dist, shares).unwrap();
        for sign in [SignConvention::ProtectedMinusUnprotected, SignConvention::UnprotectedMinusProtected] {
            for m in [FairnessMetrics::compute(&dist, sign), metrics_after(&dist, &plan, MemorizationModel::ConfusionRow, sign), metrics_after(&dist, &plan, MemorizationModel::Distribution, sign)] {
                prop_assert!(m.statistical_parity.gaps.sum().abs() < EPS);
                let eodds = m.equalized_odds.unwrap().gaps;
                let eopp = m.equal_opportunity.unwrap().gaps;
                for y in 0..k {
                    prop_assert!(eodds.column(y).sum().abs() < EPS);
                    prop_assert!((eodds[[y, y]] - eopp[y]).abs() < EPS);
                }
                prop_assert!((m.statistical_parity.aggregates.total_variation * 2.0 - m.statistical_parity.aggregates.l1).abs() < EPS);
            }
        }
        // the two sign conventions are negatives of each other
        let a = statistical_parity(&dist, SignConvention::ProtectedMinusUnprotected);
        let b = statistical_parity(&dist, SignConvention::UnprotectedMinusProtected);
        prop_assert!((&a + &b).iter().all(|v| v.abs() < EPS));
    }

    #[test]
    fn memorizing_everything_leaves_the_base_rate_gap((dist, _s) in dist_and_shares()) {
        let all = MemorizationPlan::everything(&dist);
        prop_assert!((all.total_mass() - 1.0).abs() < EPS);
        let base = dist.label_distribution(Group::Protected) - dist.label_distribution(Group::Unprotected);
        for model in [MemorizationModel::ConfusionRow, MemorizationModel::Distribution] {
            let sp = statistical_parity_after(&dist, &all, model, SIGN);
            prop_assert!((&sp - &base).iter().all(|v| v.abs() < EPS));
        }
        let after = metrics_after(&dist, &all, MemorizationModel::ConfusionRow, SIGN);
        prop_assert!(after.equalized_odds.unwrap().aggregates.max_abs < EPS);
    }

    #[test]
    fn nothing_memorized_changes_nothing((dist, _s) in dist_and_shares()) {
        let none = MemorizationPlan::nothing(&dist);
        let before = FairnessMetrics::compute(&dist, SIGN);
        for model in [MemorizationModel::ConfusionRow, MemorizationModel::Distribution] {
            let after = metrics_after(&dist, &none, model, SIGN);
            prop_assert!((&after.statistical_parity.gaps - &before.statistical_parity.gaps).iter().all(|v| v.abs() < EPS));
        }
    }

    #[test]
    fn eopp_rate_is_affine_in_the_share((dist, shares) in dist_and_shares()) {
        let plan = MemorizationPlan::from_shares(&dist, shares.clone()).unwrap();
        for y in 0..dist.n_classes() {
            let fn_gap = false_negative_gap_after(&dist, y, shares[[1, y]], shares[[0, y]]).unwrap();
            let eopp = equal_opportunity_after(&dist, &plan, SIGN).unwrap();
            // EOpp(y) = -(FNR+ - FNR-)
            prop_assert!((eopp[y] + fn_gap).abs() < EPS);
        }
    }
}

#[test]
fn memorization_can_amplify_statistical_parity() {
    // Equal prediction rates, different base rates: memorizing everything creates a gap.
    let d = dist(2, &[30., 20., 20., 30., 10., 10., 40., 40.]);
    assert!(statistical_parity(&d, SIGN)[1].abs() < 1e-12);
    let after = statistical_parity_after(
        &d,
        &MemorizationPlan::everything(&d),
        MemorizationModel::ConfusionRow,
        SIGN,
    );
    assert!((after[1] - (0.8 - 0.5)).abs() < 1e-12);
}
