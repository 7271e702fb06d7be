//! Rank correlations and Welch's t-test against independent computations:
//! brute-force pair counting, the textbook Pearson-of-ranks formula, and
//! reference values computed once with scipy 1.x (hard-coded; no python needed).

use proptest::prelude::*;
use smallscale_pepr_score::{
    PeprError, average_ranks, kendall_tau_b, one_sample_t_test, spearman, welch_t_test,
};

/// Kendall's tau-b by counting all pairs.
fn brute_tau_b(x: &[f64], y: &[f64]) -> f64 {
    let (mut c, mut d, mut tx, mut ty) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let n = x.len();
    let mut n0 = 0.0f64;
    for i in 0..n {
        for j in i + 1..n {
            n0 += 1.0;
            let dx = x[i] - x[j];
            let dy = y[i] - y[j];
            if dx == 0.0 {
                tx += 1.0;
            }
            if dy == 0.0 {
                ty += 1.0;
            }
            if dx * dy > 0.0 {
                c += 1.0;
            } else if dx * dy < 0.0 {
                d += 1.0;
            }
        }
    }
    (c - d) / ((n0 - tx) * (n0 - ty)).sqrt()
}

/// Average ranks by counting, for each value, how many are smaller and equal.
fn brute_ranks(v: &[f64]) -> Vec<f64> {
    v.iter()
        .map(|a| {
            let less = v.iter().filter(|b| *b < a).count() as f64;
            let equal = v.iter().filter(|b| *b == a).count() as f64;
            less + (equal + 1.0) / 2.0
        })
        .collect()
}

fn brute_pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let sx: f64 = x.iter().sum();
    let sy: f64 = y.iter().sum();
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
    let sxx: f64 = x.iter().map(|a| a * a).sum();
    let syy: f64 = y.iter().map(|b| b * b).sum();
    (n * sxy - sx * sy) / ((n * sxx - sx * sx).sqrt() * (n * syy - sy * sy).sqrt())
}

const X: [f64; 10] = [1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 4.0, 5.0, 6.0, 7.0];
const Y: [f64; 10] = [2.0, 1.0, 3.0, 3.0, 5.0, 4.0, 6.0, 6.0, 8.0, 7.0];

#[test]
fn spearman_matches_scipy_with_ties() {
    let r = spearman(&X, &Y).unwrap();
    assert!((r.coefficient - 0.93812095999547).abs() < 1e-12);
    assert!((r.p_value.unwrap() - 5.950220707696844e-05).abs() < 1e-9);
}

#[test]
fn kendall_matches_scipy_with_ties() {
    let t = kendall_tau_b(&X, &Y).unwrap();
    assert!((t.coefficient - 0.8335696394016967).abs() < 1e-12);
    assert!((t.p_value.unwrap() - 0.0013041918629363403).abs() < 1e-9);
    assert!((t.coefficient - brute_tau_b(&X, &Y)).abs() < 1e-12);
}

#[test]
fn welch_matches_scipy() {
    let a = [0.81, 0.79, 0.85, 0.88, 0.76, 0.9];
    let b = [0.7, 0.74, 0.69, 0.8, 0.72];
    let w = welch_t_test(&a, &b).unwrap();
    assert!((w.t - 3.447923855559754).abs() < 1e-10);
    assert!((w.df - 8.998013197833036).abs() < 1e-10);
    assert!((w.p_value - 0.007301005402373704).abs() < 1e-8);
    // Independently: t from the definition.
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let var = |v: &[f64]| {
        let m = mean(v);
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    };
    let t = (mean(&a) - mean(&b)) / (var(&a) / 6.0 + var(&b) / 5.0).sqrt();
    assert!((w.t - t).abs() < 1e-12);
    // Swapping groups flips the sign only.
    let s = welch_t_test(&b, &a).unwrap();
    assert!((s.t + w.t).abs() < 1e-12 && (s.p_value - w.p_value).abs() < 1e-12);
}

#[test]
fn perfect_and_reversed_orders() {
    let x = [1.0, 2.0, 3.0, 4.0, 5.0];
    let up = [10.0, 20.0, 30.0, 40.0, 50.0];
    let down = [5.0, 4.0, 3.0, 2.0, 1.0];
    assert!((spearman(&x, &up).unwrap().coefficient - 1.0).abs() < 1e-12);
    assert!((spearman(&x, &down).unwrap().coefficient + 1.0).abs() < 1e-12);
    assert_eq!(kendall_tau_b(&x, &up).unwrap().coefficient, 1.0);
    assert_eq!(kendall_tau_b(&x, &down).unwrap().coefficient, -1.0);
}

#[test]
fn undefined_inputs_are_errors_not_nan() {
    let c = [1.0, 1.0, 1.0];
    let x = [1.0, 2.0, 3.0];
    assert!(matches!(
        spearman(&c, &x),
        Err(PeprError::UndefinedStatistic { .. })
    ));
    assert!(matches!(
        kendall_tau_b(&x, &c),
        Err(PeprError::UndefinedStatistic { .. })
    ));
    assert!(matches!(
        spearman(&[1.0], &[1.0]),
        Err(PeprError::UndefinedStatistic { .. })
    ));
    assert!(matches!(
        spearman(&x, &[1.0, 2.0]),
        Err(PeprError::LengthMismatch { .. })
    ));
    assert!(matches!(
        kendall_tau_b(&[1.0, f64::NAN, 2.0], &x),
        Err(PeprError::NonFinite { index: 1, .. })
    ));
    assert!(matches!(
        welch_t_test(&[1.0], &x),
        Err(PeprError::UndefinedStatistic { .. })
    ));
    assert!(matches!(
        welch_t_test(&[1.0, 1.0], &[2.0, 2.0]),
        Err(PeprError::UndefinedStatistic { .. })
    ));
    let msg = spearman(&c, &x).unwrap_err().to_string();
    assert!(msg.contains("constant"), "{msg}");
}

fn small_ints(n: std::ops::Range<usize>) -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    n.prop_flat_map(|n| {
        (
            proptest::collection::vec((0i32..6).prop_map(f64::from), n),
            proptest::collection::vec((0i32..6).prop_map(f64::from), n),
        )
    })
}

proptest! {
    #[test]
    fn average_ranks_match_counting(v in proptest::collection::vec((0i32..8).prop_map(f64::from), 1..40)) {
        let r = average_ranks(&v).unwrap();
        prop_assert_eq!(r, brute_ranks(&v));
    }

    #[test]
    fn kendall_matches_brute_force((x, y) in small_ints(2..60)) {
        let brute = brute_tau_b(&x, &y);
        match kendall_tau_b(&x, &y) {
            Ok(t) => prop_assert!((t.coefficient - brute).abs() < 1e-12, "{} vs {}", t.coefficient, brute),
            Err(_) => prop_assert!(!brute.is_finite()),
        }
    }

    #[test]
    fn spearman_is_pearson_of_average_ranks((x, y) in small_ints(2..60)) {
        let brute = brute_pearson(&brute_ranks(&x), &brute_ranks(&y));
        match spearman(&x, &y) {
            Ok(r) => prop_assert!((r.coefficient - brute).abs() < 1e-9, "{} vs {}", r.coefficient, brute),
            Err(_) => prop_assert!(!brute.is_finite()),
        }
    }

    #[test]
    fn correlations_are_symmetric_and_bounded((x, y) in small_ints(3..40)) {
        if let (Ok(a), Ok(b)) = (kendall_tau_b(&x, &y), kendall_tau_b(&y, &x)) {
            prop_assert!((a.coefficient - b.coefficient).abs() < 1e-12);
            prop_assert!((-1.0..=1.0).contains(&a.coefficient));
            let p = a.p_value.unwrap();
            prop_assert!((0.0..=1.0).contains(&p));
        }
        if let Ok(r) = spearman(&x, &y) {
            prop_assert!((-1.0..=1.0).contains(&r.coefficient));
        }
    }
}

#[test]
fn one_sample_t_test_against_r_and_its_edge_cases() {
    // SciPy 1.x: ttest_1samp([2.1, -0.4, 1.7, 0.9, 3.2, 1.1], 0.5) and its confidence_interval(0.95).
    let v = [2.1, -0.4, 1.7, 0.9, 3.2, 1.1];
    let t = one_sample_t_test(&v, 0.5, 0.95).unwrap();
    assert!((t.mean - 1.433_333_333_333_333_6).abs() < 1e-12);
    assert!((t.t - 1.880_084_030_123_286_4).abs() < 1e-10, "{}", t.t);
    assert!(
        (t.p_value - 0.118_863_856_573_904_1).abs() < 1e-10,
        "{}",
        t.p_value
    );
    assert!(
        (t.ci_low - 0.157_214_992_440_223_08).abs() < 1e-9,
        "{}",
        t.ci_low
    );
    assert!(
        (t.ci_high - 2.709_451_674_226_444).abs() < 1e-9,
        "{}",
        t.ci_high
    );
    // Constant values: a zero-width interval, decided by the mean.
    let c = one_sample_t_test(&[2.0, 2.0, 2.0], 0.0, 0.95).unwrap();
    assert_eq!((c.ci_low, c.ci_high, c.p_value), (2.0, 2.0, 0.0));
    assert_eq!(c.t, f64::INFINITY);
    let same = one_sample_t_test(&[1.0, 1.0], 1.0, 0.95).unwrap();
    assert_eq!((same.t, same.p_value), (0.0, 1.0));
    assert!(matches!(
        one_sample_t_test(&[1.0], 0.0, 0.95),
        Err(PeprError::UndefinedStatistic { .. })
    ));
    assert!(one_sample_t_test(&[1.0, f64::NAN], 0.0, 0.95).is_err());
    assert!(one_sample_t_test(&[1.0, 2.0], 0.0, 1.0).is_err());
}

proptest! {
    /// The interval and the test agree: mu lies outside the (1 - alpha) interval exactly when the
    /// two-sided p-value is below alpha; the interval holds the mean.
    #[test]
    fn interval_and_test_are_dual(
        v in prop::collection::vec(-10.0f64..10.0, 2..12),
        mu in -10.0f64..10.0,
        confidence in 0.5f64..0.999,
    ) {
        let t = one_sample_t_test(&v, mu, confidence).unwrap();
        prop_assert!(t.ci_low <= t.mean && t.mean <= t.ci_high);
        let outside = mu < t.ci_low || mu > t.ci_high;
        let alpha = 1.0 - confidence;
        // Skip the knife edge where rounding decides.
        if (t.p_value - alpha).abs() > 1e-9 {
            prop_assert_eq!(outside, t.p_value < alpha, "{:?}", t);
        }
    }
}

/// Every ordering of `0..n`, by insertion (independent of the library's Heap enumeration).
fn all_orderings(n: usize) -> Vec<Vec<usize>> {
    let mut out = vec![vec![]];
    for k in 0..n {
        out = out
            .into_iter()
            .flat_map(|p| {
                (0..=p.len()).map(move |pos| {
                    let mut q = p.clone();
                    q.insert(pos, k);
                    q
                })
            })
            .collect();
    }
    out
}

#[test]
fn small_samples_get_exact_permutation_p_values() {
    // A perfect ranking of 3 is one of 6 orderings (and its mirror): p = 2/6, not 0.
    let r = spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]).unwrap();
    assert!((r.p_value.unwrap() - 1.0 / 3.0).abs() < 1e-12);
    let t = kendall_tau_b(&[1.0, 2.0, 3.0, 4.0], &[4.0, 3.0, 2.0, 1.0]).unwrap();
    assert!((t.p_value.unwrap() - 2.0 / 24.0).abs() < 1e-12);
    // Against brute force over every ordering, with ties.
    let cases: [(&[f64], &[f64]); 3] = [
        (
            &[1.0, 2.0, 2.0, 3.0, 5.0, 4.0, 7.0],
            &[2.0, 1.0, 3.0, 3.0, 4.0, 6.0, 5.0],
        ),
        (
            &[0.3, 0.1, 0.4, 0.1, 0.5, 0.9],
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        ),
        (
            &[5.0, 3.0, 8.0, 1.0, 9.0, 2.0, 6.0, 4.0],
            &[1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0],
        ),
    ];
    for (x, y) in cases {
        let n = x.len();
        let rho = brute_pearson(&brute_ranks(x), &brute_ranks(y));
        let tau = brute_tau_b(x, y);
        let (mut rho_extreme, mut tau_extreme, mut total) = (0, 0, 0);
        for order in all_orderings(n) {
            let yp: Vec<f64> = order.iter().map(|&i| y[i]).collect();
            total += 1;
            if brute_pearson(&brute_ranks(x), &brute_ranks(&yp)).abs() >= rho.abs() - 1e-9 {
                rho_extreme += 1;
            }
            if brute_tau_b(x, &yp).abs() >= tau.abs() - 1e-9 {
                tau_extreme += 1;
            }
        }
        let s = spearman(x, y).unwrap();
        let k = kendall_tau_b(x, y).unwrap();
        assert!(
            (s.p_value.unwrap() - rho_extreme as f64 / total as f64).abs() < 1e-12,
            "{x:?}"
        );
        assert!(
            (k.p_value.unwrap() - tau_extreme as f64 / total as f64).abs() < 1e-12,
            "{x:?}"
        );
    }
}
