//! The paper's claims decided over seeds by statistics: for each comparison a claim makes, the
//! per-seed differences, their mean with a 95 % confidence interval, and a paired t-test.
//!
//! A comparison *holds* when the whole interval lies on the claimed side of its margin, *does not
//! hold* when the whole interval lies on the other side, and is *undecided at this number of seeds*
//! otherwise (or with a single seed, which has no interval). A claim holds when every comparison it
//! makes holds and does not hold when any of them does not. The comparisons are not corrected for
//! multiplicity: each interval is a 95 % interval on its own.

use serde::{Deserialize, Serialize};
use smallscale_pepr_score::{OneSampleTTest, one_sample_t_test};

use crate::report::{
    CLAIM_CROSS_BIT, CLAIM_QAT_AT_2, MATCH_TOLERANCE_PP, claim_matches_text, cross_bit_differences,
};
use crate::reproduce::ReproduceResults;

/// The confidence level of the intervals behind every decided claim.
pub const CLAIM_CONFIDENCE: f64 = 0.95;

/// What the statistics say of a claim or of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The interval lies wholly on the claimed side of the margin.
    Holds,
    /// The interval lies wholly on the other side.
    DoesNotHold,
    /// The interval straddles the margin, or there is one seed (no interval).
    Undecided,
    /// The settings do not test it (for example 2 bits was not a target).
    NotTested,
}

impl Verdict {
    /// The verdict in words.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Holds => "holds",
            Self::DoesNotHold => "does not hold",
            Self::Undecided => "undecided at this number of seeds",
            Self::NotTested => "not tested",
        }
    }

    /// Decides one comparison from its test: the interval against the margin.
    fn of_test(test: Option<&OneSampleTTest>, margin: f64) -> Self {
        match test {
            Some(t) if t.ci_low > margin => Self::Holds,
            Some(t) if t.ci_high < margin => Self::DoesNotHold,
            _ => Self::Undecided,
        }
    }

    /// Combines the verdicts of a claim's comparisons (all must hold; one failure fails it).
    fn all(verdicts: impl IntoIterator<Item = Self>) -> Self {
        let verdicts: Vec<Self> = verdicts.into_iter().collect();
        if verdicts.is_empty() {
            Self::NotTested
        } else if verdicts.contains(&Self::DoesNotHold) {
            Self::DoesNotHold
        } else if verdicts.iter().all(|&v| v == Self::Holds) {
            Self::Holds
        } else {
            Self::Undecided
        }
    }
}

/// One comparison of a claim, over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedComparison {
    /// What is compared (`4 bits`, `target 3`).
    pub label: String,
    /// The difference of every seed, in percentage points, in seed order.
    pub differences: Vec<f64>,
    /// The claim needs the mean difference above this (percentage points).
    pub margin: f64,
    /// The paired t-test of the differences against the margin, with the interval of their mean;
    /// `None` with a single seed.
    pub test: Option<OneSampleTTest>,
    /// What the interval says.
    pub verdict: Verdict,
}

/// One claim of the paper decided over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimDecision {
    /// The claim in words (as in [`check_claims`](crate::check_claims)).
    pub claim: String,
    /// What each difference is.
    pub difference: String,
    /// The comparisons the claim makes.
    pub comparisons: Vec<SeedComparison>,
    /// The claim's verdict.
    pub verdict: Verdict,
}

fn comparison(label: String, differences: Vec<f64>, margin: f64) -> SeedComparison {
    let test = one_sample_t_test(&differences, margin, CLAIM_CONFIDENCE).ok();
    SeedComparison {
        verdict: Verdict::of_test(test.as_ref(), margin),
        label,
        differences,
        margin,
        test,
    }
}

fn decision(claim: String, difference: &str, comparisons: Vec<SeedComparison>) -> ClaimDecision {
    ClaimDecision {
        verdict: Verdict::all(comparisons.iter().map(|c| c.verdict)),
        claim,
        difference: difference.to_string(),
        comparisons,
    }
}

/// Per seed, the accuracy difference `a - b` in percentage points, when every seed has both.
fn per_seed(
    results: &[ReproduceResults],
    difference: impl Fn(&ReproduceResults) -> Option<f64>,
) -> Option<Vec<f64>> {
    results.iter().map(difference).collect()
}

/// Decides the paper's three claims (spec §4) over the seeds of `results` (one
/// [`ReproduceResults`] per seed, same settings; see [`summarize_seeds`](crate::summarize_seeds)).
///
/// - Reg matches QAT at each target >= 3 bits: `Reg - QAT` at the target, margin
///   `-MATCH_TOLERANCE_PP` (a non-inferiority comparison);
/// - QAT beats Reg at 2 bits: `QAT - Reg` at 2 bits, margin 0;
/// - Reg beats QAT cross-bit, for every target: `Reg - QAT` averaged over the other evaluation
///   bits, margin 0.
///
/// ```
/// # use smallscale_osc_reg::{Verdict, decide_claims};
/// // With no results nothing is tested.
/// assert!(decide_claims(&[]).iter().all(|c| c.verdict == Verdict::NotTested));
/// ```
pub fn decide_claims(results: &[ReproduceResults]) -> Vec<ClaimDecision> {
    let pp = |x: f64| 100.0 * x;
    let targets = results
        .first()
        .map(|r| r.params.target_bits.clone())
        .unwrap_or_default();
    let matches: Vec<SeedComparison> = targets
        .iter()
        .filter(|&&b| b >= 3)
        .filter_map(|&b| {
            let d = per_seed(results, |r| {
                Some(pp(r.reg(b)?.test.at(b)? - r.qat(b)?.test.at(b)?))
            })?;
            Some(comparison(format!("{b} bits"), d, -MATCH_TOLERANCE_PP))
        })
        .collect();
    let at_2: Vec<SeedComparison> = targets
        .iter()
        .filter(|&&b| b == 2)
        .filter_map(|&b| {
            let d = per_seed(results, |r| {
                Some(pp(r.qat(b)?.test.at(b)? - r.reg(b)?.test.at(b)?))
            })?;
            Some(comparison("2 bits".into(), d, 0.0))
        })
        .collect();
    let cross: Vec<SeedComparison> = targets
        .iter()
        .filter_map(|&t| {
            let d = per_seed(results, |r| {
                let d = cross_bit_differences(r, t)?;
                Some(d.iter().sum::<f64>() / d.len() as f64)
            })?;
            Some(comparison(format!("target {t}"), d, 0.0))
        })
        .collect();
    vec![
        decision(
            claim_matches_text(),
            "Reg - QAT at the target bit (pp)",
            matches,
        ),
        decision(CLAIM_QAT_AT_2.into(), "QAT - Reg at 2 bits (pp)", at_2),
        decision(
            CLAIM_CROSS_BIT.into(),
            "Reg - QAT averaged over the other evaluation bits (pp)",
            cross,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ci_low: f64, ci_high: f64) -> OneSampleTTest {
        OneSampleTTest {
            mean: 0.5 * (ci_low + ci_high),
            sd: 1.0,
            n: 3,
            mu: 0.0,
            t: 0.0,
            df: 2.0,
            p_value: 0.5,
            confidence: 0.95,
            ci_low,
            ci_high,
        }
    }

    #[test]
    fn verdicts_from_intervals_and_their_combination() {
        assert_eq!(Verdict::of_test(Some(&t(0.1, 2.0)), 0.0), Verdict::Holds);
        assert_eq!(
            Verdict::of_test(Some(&t(-2.0, -0.1)), 0.0),
            Verdict::DoesNotHold
        );
        assert_eq!(
            Verdict::of_test(Some(&t(-0.1, 2.0)), 0.0),
            Verdict::Undecided
        );
        // Non-inferiority: within 1 pp below is still "matches".
        assert_eq!(Verdict::of_test(Some(&t(-0.9, -0.2)), -1.0), Verdict::Holds);
        assert_eq!(Verdict::of_test(None, 0.0), Verdict::Undecided);
        use Verdict::*;
        assert_eq!(Verdict::all([Holds, Holds]), Holds);
        assert_eq!(Verdict::all([Holds, Undecided]), Undecided);
        assert_eq!(Verdict::all([Undecided, DoesNotHold]), DoesNotHold);
        assert_eq!(Verdict::all([]), NotTested);
    }
}
