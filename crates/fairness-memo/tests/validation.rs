//! Invalid inputs give clear errors, never panics or NaN.

use ndarray::{Array2, Array3};
use smallscale_fairness_memo::*;

#[test]
fn invalid_rows_are_rejected() {
    assert!(matches!(
        Rows::new(vec![0, 1], vec![0], vec![0, 1]),
        Err(FairnessError::LengthMismatch {
            input: "labels",
            ..
        })
    ));
    assert!(matches!(
        Rows::new(vec![0, 1], vec![0, 1], vec![0]),
        Err(FairnessError::LengthMismatch {
            input: "predictions",
            ..
        })
    ));
    assert!(matches!(
        Rows::new(vec![], vec![], vec![]),
        Err(FairnessError::NoRows { .. })
    ));
    assert!(matches!(
        Rows::new(vec![0, 0], vec![0, 1], vec![0, 1]),
        Err(FairnessError::EmptyGroup {
            group: "protected",
            ..
        })
    ));
    assert!(matches!(
        Rows::new(vec![0, 2], vec![0, 1], vec![0, 1]),
        Err(FairnessError::GroupCodeOutOfRange { row: 1, value: 2 })
    ));
    assert!(matches!(
        Rows::with_classes(vec![0, 1], vec![0, 3], vec![0, 1], None, 3),
        Err(FairnessError::ClassOutOfRange {
            input: "labels",
            row: 1,
            value: 3,
            ..
        })
    ));
    assert!(matches!(
        Rows::with_classes(vec![0, 1], vec![0, 0], vec![0, 0], None, 1),
        Err(FairnessError::TooFewClasses { .. })
    ));
    let rows = Rows::new(vec![0, 1], vec![0, 1], vec![0, 1]).unwrap();
    assert!(matches!(
        rows.clone().weighted(vec![1.0, -1.0]),
        Err(FairnessError::Negative {
            input: "weights",
            ..
        })
    ));
    assert!(matches!(
        rows.clone().weighted(vec![1.0, f64::NAN]),
        Err(FairnessError::NotFinite { .. })
    ));
    assert!(matches!(
        rows.clone().weighted(vec![1.0]),
        Err(FairnessError::LengthMismatch {
            input: "weights",
            ..
        })
    ));
    assert!(matches!(
        rows.weighted(vec![1.0, 0.0]),
        Err(FairnessError::EmptyGroup { .. })
    ));
}

#[test]
fn group_values_need_a_protected_value_beyond_two() {
    let three = ["a", "b", "c"];
    let err = Rows::from_group_values(&three, None, vec![0, 1, 0], vec![0, 1, 1]).unwrap_err();
    assert!(matches!(
        err,
        FairnessError::AmbiguousGroups { n_groups: 3, .. }
    ));
    assert!(err.to_string().contains("choose the protected value"));
    let rows = Rows::from_group_values(&three, Some(&"b"), vec![0, 1, 0], vec![0, 1, 1]).unwrap();
    assert_eq!(rows.groups(), &[0, 1, 0]);
    assert!(matches!(
        Rows::from_group_values(&three, Some(&"z"), vec![0, 1, 0], vec![0, 1, 1]),
        Err(FairnessError::UnknownProtectedValue { .. })
    ));
    // two integer codes: the larger one is protected
    let rows = Rows::from_group_values(&[7, 3, 7], None, vec![0, 1, 0], vec![0, 1, 1]).unwrap();
    assert_eq!(rows.groups(), &[1, 0, 1]);
}

#[test]
fn invalid_distributions_are_rejected() {
    let bad_sum = Array3::from_elem((2, 2, 2), 0.2);
    assert!(matches!(
        JointDistribution::new(bad_sum),
        Err(FairnessError::NotNormalized { .. })
    ));
    let ok = JointDistribution::new(Array3::from_elem((2, 2, 2), 0.125)).unwrap();
    assert_eq!(ok.n_classes(), 2);
    assert!(matches!(
        JointDistribution::from_masses(Array3::from_elem((3, 2, 2), 1.0)),
        Err(FairnessError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        JointDistribution::from_masses(Array3::from_elem((2, 1, 1), 1.0)),
        Err(FairnessError::TooFewClasses { .. })
    ));
    let mut neg = Array3::from_elem((2, 2, 2), 1.0);
    neg[[0, 1, 1]] = -1.0;
    assert!(matches!(
        JointDistribution::from_masses(neg),
        Err(FairnessError::Negative { .. })
    ));
    let mut empty_group = Array3::from_elem((2, 2, 2), 1.0);
    empty_group.index_axis_mut(ndarray::Axis(0), 1).fill(0.0);
    assert!(matches!(
        JointDistribution::from_masses(empty_group),
        Err(FairnessError::EmptyGroup {
            group: "protected",
            ..
        })
    ));
}

#[test]
fn empty_cells_make_conditional_metrics_undefined_not_nan() {
    let mut m = Array3::from_elem((2, 2, 2), 1.0);
    m[[1, 1, 0]] = 0.0;
    m[[1, 1, 1]] = 0.0;
    let d = JointDistribution::from_masses(m).unwrap();
    assert_eq!(d.empty_cells(), vec![(Group::Protected, 1)]);
    let err = equal_opportunity(&d, SignConvention::default()).unwrap_err();
    assert!(matches!(
        err,
        FairnessError::EmptyCell {
            label: 1,
            group: "protected",
            ..
        }
    ));
    let metrics = FairnessMetrics::compute(&d, SignConvention::default());
    assert!(metrics.equal_opportunity.is_none() && metrics.undefined.is_some());
    assert!(
        metrics
            .statistical_parity
            .gaps
            .iter()
            .all(|v| v.is_finite())
    );
    assert!(minimal_memorization(&d, Target::EqualOpportunity, MinimalOptions::default()).is_err());
}

#[test]
fn invalid_plans_and_options_are_rejected() {
    let d = JointDistribution::from_masses(Array3::from_elem((2, 2, 2), 1.0)).unwrap();
    assert!(matches!(
        MemorizationPlan::from_masses(&d, Array2::from_elem((2, 2), 0.3)),
        Err(FairnessError::InvalidPlan { .. })
    ));
    assert!(matches!(
        MemorizationPlan::from_shares(&d, Array2::from_elem((2, 2), 1.5)),
        Err(FairnessError::InvalidPlan { .. })
    ));
    assert!(matches!(
        MemorizationPlan::from_shares(&d, Array2::from_elem((2, 3), 0.5)),
        Err(FairnessError::ShapeMismatch { .. })
    ));
    let opts = MinimalOptions {
        tolerance: f64::NAN,
        ..Default::default()
    };
    assert!(matches!(
        minimal_memorization(&d, Target::StatisticalParity, opts),
        Err(FairnessError::InvalidParameter { .. })
    ));
    let rows = Rows::new(vec![0, 1], vec![0, 1], vec![0, 1]).unwrap();
    let bad = BootstrapOptions {
        confidence: 1.5,
        ..Default::default()
    };
    assert!(matches!(
        bootstrap_intervals(&rows, bad),
        Err(FairnessError::InvalidParameter { .. })
    ));
    assert!(DistributionModel::new(Array2::from_elem((2, 2), 0.3)).is_err());
    assert!(
        binary_statistical_parity_minimum(
            &JointDistribution::from_masses(Array3::from_elem((2, 3, 3), 1.0)).unwrap(),
            MemorizationModel::ConfusionRow
        )
        .is_err()
    );
}
