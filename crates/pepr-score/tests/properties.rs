//! Properties of the score that the paper states, checked with proptest.

use proptest::prelude::*;
use smallscale_pepr_score::{
    ModelRun, Pool, ScoreParams, break_even_performance, iso_pepr_performance, min_max_normalize,
    pareto_front, pepr, pepr_weighted,
};

fn unit() -> impl Strategy<Value = f64> {
    0.0f64..=1.0
}

/// A pool of up to 40 models with coarse values, so ties are common.
fn pool_strategy() -> impl Strategy<Value = Vec<(f64, f64)>> {
    proptest::collection::vec(
        (
            (0u32..=20).prop_map(|p| f64::from(p) / 20.0),
            (0u32..=10).prop_map(f64::from),
        ),
        1..40,
    )
}

fn make_pool(points: &[(f64, f64)]) -> Pool {
    let runs = points
        .iter()
        .enumerate()
        .map(|(i, &(p, r))| ModelRun::new(format!("m{i}"), p).with_resource("energy", r))
        .collect();
    Pool::new("prop", runs).unwrap()
}

proptest! {
    #[test]
    fn pepr_between_half_p_and_p(p in unit(), r in unit()) {
        let s = pepr(p, r).unwrap();
        prop_assert!(p / 2.0 <= s && s <= p);
    }

    #[test]
    fn pepr_monotone(p1 in unit(), p2 in unit(), r1 in unit(), r2 in unit()) {
        let (plo, phi) = if p1 <= p2 { (p1, p2) } else { (p2, p1) };
        let (rlo, rhi) = if r1 <= r2 { (r1, r2) } else { (r2, r1) };
        prop_assert!(pepr(plo, r1).unwrap() <= pepr(phi, r1).unwrap());
        prop_assert!(pepr(p1, rhi).unwrap() <= pepr(p1, rlo).unwrap());
        if plo < phi { prop_assert!(pepr(plo, r1).unwrap() < pepr(phi, r1).unwrap()); }
        if rlo < rhi && p1 > 0.0 { prop_assert!(pepr(p1, rhi).unwrap() < pepr(p1, rlo).unwrap()); }
    }

    #[test]
    fn pepr_is_weighted_with_w_one(p in unit(), r in unit()) {
        prop_assert_eq!(pepr(p, r).unwrap(), pepr_weighted(p, r, 1.0).unwrap());
    }

    #[test]
    fn iso_lines_pass_through_minus_one_zero(c in 0.0f64..1.0, r1 in unit(), r2 in unit()) {
        let p1 = iso_pepr_performance(c, r1).unwrap();
        let p2 = iso_pepr_performance(c, r2).unwrap();
        // (-1, 0), (r1, p1), (r2, p2) are collinear: zero cross product.
        let cross = (r1 + 1.0) * p2 - (r2 + 1.0) * p1;
        prop_assert!(cross.abs() < 1e-12);
        // And the slope from (-1, 0) is the score.
        prop_assert!((p1 / (r1 + 1.0) - c).abs() < 1e-12);
        if p1 <= 1.0 { prop_assert!((pepr(p1, r1).unwrap() - c).abs() < 1e-12); }
    }

    #[test]
    fn break_even_rule(pa in 0.01f64..0.5, ra in unit(), rb in unit(), pb in unit()) {
        let needed = break_even_performance(pa, ra, rb).unwrap();
        let wins = pepr(pb, rb).unwrap() > pepr(pa, ra).unwrap();
        // Relative gain above dR / (1 + R_a) <=> wins (away from the boundary).
        let gain = (pb - pa) / pa;
        let threshold = (rb - ra) / (1.0 + ra);
        if (gain - threshold).abs() > 1e-9 {
            prop_assert_eq!(wins, gain > threshold);
            prop_assert_eq!(wins, pb > needed);
        }
    }

    #[test]
    fn twice_the_accuracy(pa in 0.01f64..0.5, factor in 0.5f64..3.0) {
        // The most expensive model (R = 1) beats the cheapest (R = 0) iff P_b > 2 P_a.
        let pb = (pa * factor).min(1.0);
        let wins = pepr(pb, 1.0).unwrap() > pepr(pa, 0.0).unwrap();
        if (pb - 2.0 * pa).abs() > 1e-12 {
            prop_assert_eq!(wins, pb > 2.0 * pa);
        }
        prop_assert_eq!(break_even_performance(pa, 0.0, 1.0).unwrap(), 2.0 * pa);
    }

    #[test]
    fn normalization_maps_pool_to_unit_interval(v in proptest::collection::vec(0.0f64..1e6, 1..50)) {
        let n = min_max_normalize(&v).unwrap();
        prop_assert!(n.values.iter().all(|r| (0.0..=1.0).contains(r)));
        if !n.degenerate {
            prop_assert!(n.values.contains(&0.0) && n.values.contains(&1.0));
        } else {
            prop_assert!(n.values.iter().all(|r| *r == 0.0));
        }
    }

    #[test]
    fn maximizer_is_on_the_pareto_front(points in pool_strategy()) {
        let pool = make_pool(&points);
        let scores = pool.pepr("energy").unwrap();
        let best = scores.best();
        prop_assert!(best.on_pareto_front, "best {:?} not on front", best);
        // It has the maximal score.
        let max = scores.pepr_values().into_iter().fold(f64::NEG_INFINITY, f64::max);
        prop_assert_eq!(best.pepr, max);
        // Scores are within [P/2, P] and ranks are a permutation.
        let mut ranks: Vec<usize> = scores.models.iter().map(|m| m.rank).collect();
        ranks.sort_unstable();
        prop_assert_eq!(ranks, (1..=points.len()).collect::<Vec<_>>());
        for m in &scores.models {
            prop_assert!(m.performance / 2.0 <= m.pepr && m.pepr <= m.performance);
        }
    }

    #[test]
    fn maximizer_on_front_with_extensions(
        points in pool_strategy(),
        mem in proptest::collection::vec((0u32..=5).prop_map(f64::from), 40),
        w in 0.0f64..4.0,
        share in 0.0f64..2.0,
    ) {
        let runs = points.iter().enumerate().map(|(i, &(p, r))| {
            ModelRun::new(format!("m{i}"), p).with_resource("energy", r).with_resource("mem", mem[i])
        }).collect();
        let pool = Pool::new("prop", runs).unwrap();
        let params = ScoreParams::new("energy")
            .and_resource("mem", share)
            .with_weight(w)
            .with_reference_bounds("energy", 1.0, 8.0)
            .check()
            .unwrap();
        let scores = pool.score(&params).unwrap();
        prop_assert!(scores.best().on_pareto_front);
    }

    #[test]
    fn pareto_front_matches_brute_force(points in pool_strategy()) {
        let p: Vec<f64> = points.iter().map(|x| x.0).collect();
        let r: Vec<f64> = points.iter().map(|x| x.1).collect();
        let front = pareto_front(&p, &r).unwrap();
        let brute: Vec<usize> = (0..p.len()).filter(|&i| {
            !(0..p.len()).any(|j| p[j] >= p[i] && r[j] <= r[i] && (p[j] > p[i] || r[j] < r[i]))
        }).collect();
        prop_assert_eq!(front, brute);
    }
}
