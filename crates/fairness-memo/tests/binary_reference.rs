//! The binary case against the definitions documented by fairlearn and AIF360, on a
//! hand-computed example.
//!
//! Unprotected (AIF360 privileged), 10 rows: 5 positives predicted 1,1,1,1,0 (TPR 0.8),
//! 5 negatives predicted 1,0,0,0,0 (FPR 0.2), selection rate 0.5.
//! Protected (unprivileged), 10 rows: 4 positives predicted 1,1,0,0 (TPR 0.5),
//! 6 negatives predicted 1,1,0,0,0,0 (FPR 1/3), selection rate 0.4.

use smallscale_fairness_memo::*;

fn rows() -> Rows {
    let mut g = Vec::new();
    let mut y = Vec::new();
    let mut p = Vec::new();
    let mut add = |group: u8, label: u32, preds: &[u32]| {
        for &q in preds {
            g.push(group);
            y.push(label);
            p.push(q);
        }
    };
    add(0, 1, &[1, 1, 1, 1, 0]);
    add(0, 0, &[1, 0, 0, 0, 0]);
    add(1, 1, &[1, 1, 0, 0]);
    add(1, 0, &[1, 1, 0, 0, 0, 0]);
    Rows::new(g, y, p).unwrap()
}

#[test]
fn fairlearn_and_aif360_definitions() {
    let d = rows().distribution().unwrap();
    let b = binary_fairness(&d, 1).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    assert!(close(b.selection_rate[0], 0.5) && close(b.selection_rate[1], 0.4));
    // fairlearn demographic_parity_difference: max - min selection rate
    assert!(close(b.demographic_parity_difference, 0.1));
    // fairlearn equalized_odds_difference: max(|TPR gap|, |FPR gap|) = max(0.3, 0.1333)
    assert!(close(b.equalized_odds_difference, 0.3));
    // AIF360 statistical_parity_difference: unprivileged - privileged
    assert!(close(b.statistical_parity_difference, -0.1));
    // AIF360 equal_opportunity_difference: TPR_unpriv - TPR_priv
    assert!(close(b.equal_opportunity_difference, -0.3));

    // The multi-class metrics reduce to them.
    let sign = SignConvention::ProtectedMinusUnprotected;
    let sp = statistical_parity(&d, sign);
    assert!(close(sp[1], -0.1) && close(sp[0], 0.1));
    assert!(close(sp[1].abs(), b.demographic_parity_difference));
    let eopp = equal_opportunity(&d, sign).unwrap();
    assert!(close(eopp[1], b.equal_opportunity_difference));
    let eodds = equalized_odds(&d, sign).unwrap();
    assert!(close(eodds[[1, 1]], -0.3) && close(eodds[[0, 1]], 0.3));
    assert!(close(eodds[[1, 0]], 1.0 / 3.0 - 0.2) && close(eodds[[0, 0]], 0.2 - 1.0 / 3.0));
    // fairlearn's EOD is the max-abs aggregate of the binary EOdds matrix
    assert!(close(
        Aggregates::of(eodds.iter().copied()).max_abs,
        b.equalized_odds_difference
    ));
    // the other sign convention flips the signed gaps only
    let flipped = statistical_parity(&d, SignConvention::UnprotectedMinusProtected);
    assert!(close(flipped[1], 0.1));
}

#[test]
fn string_groups_and_labels() {
    let groups = ["m", "m", "f", "f"];
    let labels = ["no", "yes", "no", "yes"];
    let preds = ["no", "yes", "yes", "yes"];
    let enc = ClassEncoding::fit(&labels, &preds);
    let rows = Rows::from_group_values(
        &groups,
        Some(&"f"),
        enc.encode(&labels).unwrap(),
        enc.encode(&preds).unwrap(),
    )
    .unwrap();
    let b = binary_fairness(&rows.distribution().unwrap(), 1).unwrap();
    assert_eq!(b.selection_rate, [0.5, 1.0]);
    assert_eq!(b.statistical_parity_difference, 0.5);
    assert_eq!(b.false_positive_rate, [0.0, 1.0]);
}
