//! Rank correlations and Welch's t-test, to recompute the paper's findings.
//!
//! * [`spearman`]: Spearman's rho = Pearson correlation of average ranks
//!   (ties get the mean of the ranks they span); p-value from the
//!   t-approximation `t = rho sqrt((n - 2) / (1 - rho^2))` with `n - 2`
//!   degrees of freedom (as scipy's `spearmanr`).
//! * [`kendall_tau_b`]: Kendall's tau-b (tie-corrected), computed in
//!   `O(n log n)` by Knight's merge-sort algorithm; two-sided p-value from the
//!   normal approximation with the tie-corrected variance (as scipy's
//!   `kendalltau(method="asymptotic")`).
//! * [`welch_t_test`]: two-sample t-test without assuming equal variances,
//!   Welch-Satterthwaite degrees of freedom, two-sided p-value from
//!   `statrs`' Student's t distribution.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::errors::{PeprError, Result, check_finite, invalid_parameter};

/// A correlation coefficient with its two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Correlation {
    /// The coefficient in `[-1, 1]`.
    pub coefficient: f64,
    /// Two-sided p-value for "no association"; `None` for fewer than 3 pairs.
    pub p_value: Option<f64>,
    /// Number of pairs.
    pub n: usize,
}

fn check_pairs(statistic: &str, x: &[f64], y: &[f64]) -> Result<()> {
    if x.len() != y.len() {
        return Err(PeprError::LengthMismatch {
            what: statistic.to_string(),
            left: x.len(),
            right: y.len(),
        });
    }
    if x.len() < 2 {
        return Err(PeprError::UndefinedStatistic {
            statistic: statistic.to_string(),
            reason: format!("it needs at least 2 pairs, got {}", x.len()),
        });
    }
    check_finite(&format!("first input of {statistic}"), x)?;
    check_finite(&format!("second input of {statistic}"), y)?;
    Ok(())
}

fn constant_input(statistic: &str) -> PeprError {
    PeprError::UndefinedStatistic {
        statistic: statistic.to_string(),
        reason: "one input is constant (all values tied), so there is no ranking to correlate"
            .to_string(),
    }
}

/// Average ranks (1-based): tied values get the mean of the ranks they span.
///
/// # Errors
///
/// [`PeprError::NonFinite`] for NaN or infinite values.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::average_ranks;
///
/// assert_eq!(average_ranks(&[10.0, 20.0, 10.0, 5.0])?, vec![2.5, 4.0, 2.5, 1.0]);
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
pub fn average_ranks(values: &[f64]) -> Result<Vec<f64>> {
    check_finite("values to rank", values)?;
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        // Positions i..=j (0-based) share ranks i+1..=j+1.
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    Ok(ranks)
}

fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    Some((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// Spearman's rank correlation rho (average ranks for ties).
///
/// # Errors
///
/// [`PeprError::LengthMismatch`], [`PeprError::NonFinite`], or
/// [`PeprError::UndefinedStatistic`] for fewer than 2 pairs or a constant
/// input.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::spearman;
///
/// let size = [1.0, 2.0, 3.0, 4.0];
/// let score = [0.9, 0.8, 0.85, 0.5];
/// let rho = spearman(&size, &score)?;
/// assert!((rho.coefficient - -0.8).abs() < 1e-12);
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
pub fn spearman(x: &[f64], y: &[f64]) -> Result<Correlation> {
    const NAME: &str = "Spearman's rho";
    check_pairs(NAME, x, y)?;
    let rho =
        pearson(&average_ranks(x)?, &average_ranks(y)?).ok_or_else(|| constant_input(NAME))?;
    let n = x.len();
    let p_value = if n < 3 {
        None
    } else if n <= EXACT_PERMUTATION_MAX_N {
        let rx = average_ranks(x)?;
        let ry = average_ranks(y)?;
        let centered = |r: &[f64]| {
            let m = r.iter().sum::<f64>() / r.len() as f64;
            r.iter().map(|v| v - m).collect::<Vec<f64>>()
        };
        let (cx, cy) = (centered(&rx), centered(&ry));
        let score = |perm: &[f64]| cx.iter().zip(perm).map(|(a, b)| a * b).sum::<f64>();
        Some(exact_permutation_p(&cy, score))
    } else if rho.abs() >= 1.0 {
        Some(0.0)
    } else {
        let df = (n - 2) as f64;
        let t = rho * (df / ((1.0 - rho) * (1.0 + rho))).sqrt();
        student_two_sided(t, df)
    };
    Ok(Correlation {
        coefficient: rho,
        p_value,
        n,
    })
}

/// Sample sizes up to which [`spearman`] and [`kendall_tau_b`] give exact permutation p-values
/// (all `n!` orderings; 362,880 at 9); above it, the t (Spearman) and normal (Kendall)
/// approximations, which are too liberal for a handful of models (they give p = 0 for a perfect
/// ranking of 3, whose exact p is 1/3).
pub const EXACT_PERMUTATION_MAX_N: usize = 9;

/// The two-sided permutation p-value of a statistic linear in the pairing: the share of the
/// orderings of `values` whose `score` is at least as far from 0 as the observed one (the
/// identity ordering), enumerated with Heap's algorithm.
fn exact_permutation_p(values: &[f64], score: impl Fn(&[f64]) -> f64) -> f64 {
    let mut perm = values.to_vec();
    let observed = score(&perm).abs();
    let tolerance = 1e-9 * observed.max(1.0);
    let n = perm.len();
    let mut counts = vec![0usize; n];
    let (mut extreme, mut total) = (1u64, 1u64);
    let mut i = 1;
    while i < n {
        if counts[i] < i {
            if i % 2 == 0 {
                perm.swap(0, i);
            } else {
                perm.swap(counts[i], i);
            }
            total += 1;
            if score(&perm).abs() >= observed - tolerance {
                extreme += 1;
            }
            counts[i] += 1;
            i = 1;
        } else {
            counts[i] = 0;
            i += 1;
        }
    }
    extreme as f64 / total as f64
}

fn student_two_sided(t: f64, df: f64) -> Option<f64> {
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some((2.0 * dist.sf(t.abs())).min(1.0))
}

/// Counts inversions (pairs i < j with v[i] > v[j]) while sorting `v`.
fn merge_count(v: &mut [f64], buf: &mut Vec<f64>) -> u64 {
    let n = v.len();
    if n < 2 {
        return 0;
    }
    let mid = n / 2;
    let mut swaps = merge_count(&mut v[..mid], buf) + merge_count(&mut v[mid..], buf);
    buf.clear();
    let (mut i, mut j) = (0, mid);
    while i < mid && j < n {
        if v[i] <= v[j] {
            buf.push(v[i]);
            i += 1;
        } else {
            buf.push(v[j]);
            swaps += (mid - i) as u64;
            j += 1;
        }
    }
    buf.extend_from_slice(&v[i..mid]);
    buf.extend_from_slice(&v[j..n]);
    v.copy_from_slice(buf);
    swaps
}

/// Tie statistics of sorted values: (pairs tied, sum t(t-1)(t-2), sum t(t-1)(2t+5)).
fn tie_stats(sorted: &[f64]) -> (u64, f64, f64) {
    let (mut pairs, mut v0, mut v1) = (0u64, 0.0, 0.0);
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i + 1;
        while j < sorted.len() && sorted[j] == sorted[i] {
            j += 1;
        }
        let t = (j - i) as u64;
        pairs += t * (t - 1) / 2;
        let tf = t as f64;
        v0 += tf * (tf - 1.0) * (tf - 2.0);
        v1 += tf * (tf - 1.0) * (2.0 * tf + 5.0);
        i = j;
    }
    (pairs, v0, v1)
}

/// Kendall's tau-b: `(C - D) / sqrt((n0 - n1)(n0 - n2))`, with `C`/`D` the
/// concordant/discordant pairs, `n0 = n(n-1)/2` and `n1`, `n2` the pairs
/// tied in `x`, in `y`.
///
/// # Errors
///
/// As [`spearman`].
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::kendall_tau_b;
///
/// let tau = kendall_tau_b(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0])?;
/// assert!((tau.coefficient - 1.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> Result<Correlation> {
    const NAME: &str = "Kendall's tau-b";
    check_pairs(NAME, x, y)?;
    let n = x.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]).then(y[a].total_cmp(&y[b])));
    let n0 = (n as u64) * (n as u64 - 1) / 2;
    // Pairs tied in x, and tied in both.
    let xs: Vec<f64> = order.iter().map(|&i| x[i]).collect();
    let (n1, x0, x1) = tie_stats(&xs);
    let mut n3 = 0u64;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && x[order[j]] == x[order[i]] && y[order[j]] == y[order[i]] {
            j += 1;
        }
        let t = (j - i) as u64;
        n3 += t * (t - 1) / 2;
        i = j;
    }
    let mut ys: Vec<f64> = order.iter().map(|&i| y[i]).collect();
    let mut buf = Vec::with_capacity(n);
    let discordant = merge_count(&mut ys, &mut buf);
    let (n2, y0, y1) = tie_stats(&ys);
    if n1 == n0 || n2 == n0 {
        return Err(constant_input(NAME));
    }
    let con_minus_dis = n0 as f64 - n1 as f64 - n2 as f64 + n3 as f64 - 2.0 * discordant as f64;
    let tau = (con_minus_dis / ((n0 - n1) as f64 * (n0 - n2) as f64).sqrt()).clamp(-1.0, 1.0);
    let p_value = if n < 3 {
        None
    } else if n <= EXACT_PERMUTATION_MAX_N {
        let sign = |v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                0.0
            }
        };
        let score = |perm: &[f64]| {
            let mut s = 0.0;
            for i in 0..perm.len() {
                for j in i + 1..perm.len() {
                    s += sign(x[i] - x[j]) * sign(perm[i] - perm[j]);
                }
            }
            s
        };
        Some(exact_permutation_p(y, score))
    } else {
        let nf = n as f64;
        let m = nf * (nf - 1.0);
        let var = (m * (2.0 * nf + 5.0) - x1 - y1) / 18.0
            + 2.0 * n1 as f64 * n2 as f64 / m
            + x0 * y0 / (9.0 * m * (nf - 2.0));
        if var > 0.0 {
            let z = con_minus_dis / var.sqrt();
            Normal::new(0.0, 1.0)
                .ok()
                .map(|d| (2.0 * d.sf(z.abs())).min(1.0))
        } else {
            None
        }
    };
    Ok(Correlation {
        coefficient: tau,
        p_value,
        n,
    })
}

/// The result of Welch's two-sample t-test (group `a` minus group `b`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WelchTTest {
    /// Mean of group a.
    pub mean_a: f64,
    /// Mean of group b.
    pub mean_b: f64,
    /// Size of group a.
    pub n_a: usize,
    /// Size of group b.
    pub n_b: usize,
    /// The t statistic `(mean_a - mean_b) / sqrt(s_a^2/n_a + s_b^2/n_b)`.
    pub t: f64,
    /// Welch-Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, var)
}

/// Welch's t-test between two groups of runs (unequal variances).
///
/// # Errors
///
/// [`PeprError::NonFinite`]; [`PeprError::UndefinedStatistic`] if a group has
/// fewer than 2 values or both groups are constant.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::welch_t_test;
///
/// let t = welch_t_test(&[0.9, 0.85, 0.88, 0.92], &[0.7, 0.75, 0.72, 0.69])?;
/// assert!(t.t > 0.0 && t.p_value < 0.001);
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
pub fn welch_t_test(a: &[f64], b: &[f64]) -> Result<WelchTTest> {
    const NAME: &str = "Welch's t-test";
    for (label, g) in [("group a", a), ("group b", b)] {
        if g.len() < 2 {
            return Err(PeprError::UndefinedStatistic {
                statistic: NAME.to_string(),
                reason: format!(
                    "{label} has {} value(s); each group needs at least 2",
                    g.len()
                ),
            });
        }
        check_finite(&format!("{label} of {NAME}"), g)?;
    }
    let (ma, va) = mean_var(a);
    let (mb, vb) = mean_var(b);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (sa, sb) = (va / na, vb / nb);
    let se2 = sa + sb;
    if se2 <= 0.0 {
        return Err(PeprError::UndefinedStatistic {
            statistic: NAME.to_string(),
            reason: "both groups are constant (zero variance)".to_string(),
        });
    }
    let t = (ma - mb) / se2.sqrt();
    let df = se2 * se2 / (sa * sa / (na - 1.0) + sb * sb / (nb - 1.0));
    let p_value = student_two_sided(t, df).ok_or_else(|| PeprError::UndefinedStatistic {
        statistic: NAME.to_string(),
        reason: format!("invalid degrees of freedom {df}"),
    })?;
    Ok(WelchTTest {
        mean_a: ma,
        mean_b: mb,
        n_a: a.len(),
        n_b: b.len(),
        t,
        df,
        p_value,
    })
}

/// The result of a one-sample t-test of `mean == mu`, with a confidence interval of the mean: the
/// paired t-test when the values are per-pair differences (per-seed differences of two methods).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OneSampleTTest {
    /// Mean of the values.
    pub mean: f64,
    /// Sample standard deviation (divisor n - 1).
    pub sd: f64,
    /// Number of values.
    pub n: usize,
    /// The hypothesised mean.
    pub mu: f64,
    /// The t statistic `(mean - mu) / (sd / sqrt(n))`; infinite when the values are all equal and
    /// differ from `mu`, 0 when they all equal `mu`.
    pub t: f64,
    /// Degrees of freedom, `n - 1`.
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// The confidence level of the interval.
    pub confidence: f64,
    /// Lower end of the interval `mean -+ t_{(1+c)/2, n-1} sd / sqrt(n)`.
    pub ci_low: f64,
    /// Upper end of the interval.
    pub ci_high: f64,
}

/// One-sample t-test of `values` against `mu`, with a two-sided `confidence` interval of the mean
/// (Student's t with `n - 1` degrees of freedom). Applied to per-pair differences it is the paired
/// t-test.
///
/// # Errors
///
/// [`PeprError::NonFinite`]; [`PeprError::UndefinedStatistic`] with fewer than 2 values;
/// [`PeprError::InvalidParameter`] for a confidence outside (0, 1) or a non-finite `mu`.
///
/// # Example
///
/// R's `t.test(1:5)`: t = 4.2426, df = 4, p = 0.01324, 95 % interval [1.036757, 4.963243].
///
/// ```
/// use smallscale_pepr_score::one_sample_t_test;
///
/// let t = one_sample_t_test(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.0, 0.95)?;
/// assert!((t.t - 4.242641).abs() < 1e-6 && t.df == 4.0);
/// assert!((t.p_value - 0.013236).abs() < 1e-6);
/// assert!((t.ci_low - 1.036757).abs() < 1e-6 && (t.ci_high - 4.963243).abs() < 1e-6);
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
pub fn one_sample_t_test(values: &[f64], mu: f64, confidence: f64) -> Result<OneSampleTTest> {
    const NAME: &str = "one-sample t-test";
    if values.len() < 2 {
        return Err(PeprError::UndefinedStatistic {
            statistic: NAME.to_string(),
            reason: format!("{} value(s); at least 2 are needed", values.len()),
        });
    }
    check_finite(NAME, values)?;
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(invalid_parameter(
            "confidence",
            confidence,
            "the confidence level lies strictly between 0 and 1, e.g. 0.95",
        ));
    }
    if !mu.is_finite() {
        return Err(invalid_parameter(
            "mu",
            mu,
            "the hypothesised mean must be finite",
        ));
    }
    let (mean, var) = mean_var(values);
    let n = values.len();
    let df = (n - 1) as f64;
    let se = (var / n as f64).sqrt();
    let undefined = |reason: String| PeprError::UndefinedStatistic {
        statistic: NAME.to_string(),
        reason,
    };
    let dist = StudentsT::new(0.0, 1.0, df)
        .map_err(|e| undefined(format!("invalid degrees of freedom {df} ({e})")))?;
    let critical = dist.inverse_cdf(0.5 + confidence / 2.0);
    let (t, p_value) = if se > 0.0 {
        let t = (mean - mu) / se;
        let p = student_two_sided(t, df)
            .ok_or_else(|| undefined(format!("invalid degrees of freedom {df}")))?;
        (t, p)
    } else if mean == mu {
        (0.0, 1.0)
    } else {
        ((mean - mu).signum() * f64::INFINITY, 0.0)
    };
    Ok(OneSampleTTest {
        mean,
        sd: var.sqrt(),
        n,
        mu,
        t,
        df,
        p_value,
        confidence,
        ci_low: mean - critical * se,
        ci_high: mean + critical * se,
    })
}
