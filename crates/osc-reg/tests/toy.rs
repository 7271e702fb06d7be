//! The univariate toy model of spec §2.

use smallscale_osc_reg::UnivariateToyModel;

#[test]
fn spec_example_trajectory_is_exact_and_settles_into_a_period_four_cycle() {
    let toy = UnivariateToyModel::spec_example();
    toy.validate().unwrap();
    let steps = toy.qat_trajectory(60);
    // The gradient is q(w) - 0.75: +0.1125 per step while q = 0, -0.0375 while q = 1.
    let want_w = [
        0.1, 0.2125, 0.325, 0.4375, 0.55, 0.5125, 0.475, 0.5875, 0.55, 0.5125, 0.475,
    ];
    let want_q = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0];
    for (i, (w, q)) in want_w.iter().zip(&want_q).enumerate() {
        assert!(
            (steps[i].w - w).abs() < 1e-12,
            "step {i}: w = {} instead of {w}",
            steps[i].w
        );
        assert_eq!(steps[i].q, *q, "step {i}");
    }
    // The weight climbs to the threshold 0.5, then cycles around it with period 4 ...
    let cycle = UnivariateToyModel::find_cycle(&steps, 1e-9).unwrap();
    assert_eq!(cycle.period, 4);
    assert!(cycle.weights.iter().all(|w| (w - 0.5).abs() < 0.1));
    // ... in which q(w) = 1 three steps out of four: its time average is the optimum 0.75.
    assert!((cycle.mean_quantized - toy.optimum()).abs() < 1e-12);
    // QAT has no fixed point: the weight never stops moving.
    assert!(steps.windows(2).all(|p| p[0].w != p[1].w));
}

#[test]
fn regularized_gradient_has_the_same_extra_term_and_fp_training_converges() {
    let toy = UnivariateToyModel::spec_example();
    // With lambda = E[x^2], the regularized gradient equals the QAT gradient.
    for w in [0.1, 0.45, 0.55, 0.9] {
        assert_eq!(toy.regularized_gradient(w, 1.0), toy.qat_gradient(w));
    }
    // Without the extra term (lambda = 0), plain gradient descent converges to w* = 0.75.
    let fp = toy.regularized_trajectory(400, 0.0);
    assert!((fp.last().unwrap().w - 0.75).abs() < 1e-9);
    // With a grid that contains the optimum, QAT has a fixed point there.
    let on_grid = UnivariateToyModel { delta: 0.25, ..toy };
    let steps = on_grid.qat_trajectory(400);
    assert!((steps.last().unwrap().q - 0.75).abs() < 1e-12);
}

#[test]
fn invalid_toy_parameters_are_rejected() {
    let toy = UnivariateToyModel {
        learning_rate: -0.1,
        ..UnivariateToyModel::spec_example()
    };
    assert!(toy.validate().is_err());
}

#[test]
fn dampening_stops_the_toy_oscillation_once_it_outweighs_the_qat_push() {
    let toy = UnivariateToyModel::spec_example();
    // Levels {0, 1}, w* = 0.75: just above the threshold 0.5 QAT pushes w down with 0.25; the
    // dampening term 2 lambda_d (w - 1) pulls it up by about lambda_d. Above lambda_d = 0.25 the weight
    // settles at the fixed point 1 - 0.125 / lambda_d on the level 1 (0.75 for lambda_d = 0.5).
    let damped = toy.dampened_trajectory(400, 0.5);
    assert!(UnivariateToyModel::find_cycle(&damped, 1e-9).is_none_or(|c| c.period == 1));
    let tail = &damped[300..];
    assert!(tail.iter().all(|s| s.q == 1.0));
    assert!((tail[tail.len() - 1].w - 0.75).abs() < 1e-6);
    // Too weak a dampening leaves the oscillation: q(w) still switches at the end.
    let weak = toy.dampened_trajectory(400, 0.1);
    assert!(weak[300..].windows(2).any(|p| p[0].q != p[1].q));
    // Without dampening it is QAT, step by step.
    assert_eq!(toy.dampened_trajectory(50, 0.0), toy.qat_trajectory(50));
    // The paper's regularizer with lambda = 2 keeps the weight switching across the threshold.
    let reg = toy.regularized_trajectory(400, 2.0);
    assert!(reg[300..].windows(2).any(|p| p[0].q != p[1].q));
    // The gradient is QAT's plus the dampening term, by hand at w = 0.6 (q = 1).
    let g = toy.dampened_gradient(0.6, 0.5);
    assert!((g - ((1.0 - 0.75) + 2.0 * 0.5 * (0.6 - 1.0))).abs() < 1e-15);
}
