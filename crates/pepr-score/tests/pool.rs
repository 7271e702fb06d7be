//! Pools: validation, degenerate pools, pool dependence, extensions.

use smallscale_pepr_score::{
    ModelRun, NormalizationMethod, PeprError, Pool, PoolScores, ScoreParams, pepr, pepr_weighted,
};

fn run(name: &str, p: f64, energy: f64) -> ModelRun {
    ModelRun::new(name, p).with_resource("energy", energy)
}

#[test]
fn scores_match_hand_computation() {
    let pool = Pool::new(
        "hand",
        vec![
            run("a", 0.6, 10.0),
            run("b", 0.9, 30.0),
            run("c", 0.8, 20.0),
        ],
    )
    .unwrap();
    let s = pool.pepr("energy").unwrap();
    assert_eq!(s.get("a").unwrap().pepr, 0.6);
    assert_eq!(s.get("b").unwrap().pepr, 0.45);
    assert_eq!(s.get("c").unwrap().resource, 0.5);
    assert!((s.get("c").unwrap().pepr - 0.8 / 1.5).abs() < 1e-15);
    assert_eq!(s.best().name, "a");
    assert!(s.notes.is_empty());
}

#[test]
fn adding_an_expensive_model_flips_the_ranking() {
    // Two models: the cheap one wins (0.60 / 1 > 0.80 / 2).
    let mut pool = Pool::new(
        "flip",
        vec![run("cheap", 0.60, 1.0), run("accurate", 0.80, 2.0)],
    )
    .unwrap();
    let before = pool.pepr("energy").unwrap();
    assert_eq!(before.best().name, "cheap");
    // Add one very expensive model: R of `accurate` shrinks from 1 to 1/99.
    pool.push(run("huge", 0.50, 100.0)).unwrap();
    let after = pool.pepr("energy").unwrap();
    assert_eq!(after.best().name, "accurate");
    assert!((after.get("accurate").unwrap().resource - 1.0 / 99.0).abs() < 1e-15);
    // Fixed reference bounds (extension) keep the first ranking stable.
    let params = ScoreParams::new("energy")
        .with_reference_bounds("energy", 1.0, 2.0)
        .check()
        .unwrap();
    let stable = pool.score(&params).unwrap();
    assert_eq!(stable.best().name, "cheap");
    assert_eq!(
        stable.resources[0].method,
        NormalizationMethod::ReferenceBounds
    );
    assert_eq!(stable.resources[0].clamped, 1);
    assert!(stable.notes.iter().any(|n| n.contains("clamped")));
}

#[test]
fn degenerate_pool_uses_zero_and_says_so() {
    let one = Pool::new("one", vec![run("solo", 0.7, 5.0)]).unwrap();
    let s = one.pepr("energy").unwrap();
    assert_eq!(s.models[0].pepr, 0.7);
    assert!(s.is_degenerate());
    assert!(s.notes[0].contains("R = 0"), "{}", s.notes[0]);
    let equal = Pool::new("eq", vec![run("a", 0.7, 5.0), run("b", 0.8, 5.0)]).unwrap();
    let s = equal.pepr("energy").unwrap();
    assert_eq!(s.pepr_values(), vec![0.7, 0.8]);
    assert_eq!(s.best().name, "b");
}

#[test]
fn invalid_input_is_a_clear_error() {
    let e = Pool::new("p", vec![run("a", 1.2, 1.0)]).unwrap_err();
    assert!(matches!(e, PeprError::PerformanceOutOfRange { .. }));
    assert!(e.to_string().contains("model `a`") && e.to_string().contains("100"));
    let e = Pool::new("p", vec![run("a", f64::NAN, 1.0)]).unwrap_err();
    assert!(matches!(e, PeprError::PerformanceOutOfRange { .. }));
    let e = Pool::new("p", vec![run("a", 0.5, -1.0)]).unwrap_err();
    assert!(matches!(e, PeprError::InvalidResource { .. }), "{e}");
    let e = Pool::new("p", vec![run("a", 0.5, f64::INFINITY)]).unwrap_err();
    assert!(matches!(e, PeprError::InvalidResource { .. }));
    let e = Pool::new("p", vec![]).unwrap_err();
    assert!(matches!(e, PeprError::Empty { .. }));
    let e = Pool::new("p", vec![run("a", 0.5, 1.0), run("a", 0.6, 2.0)]).unwrap_err();
    assert!(matches!(e, PeprError::DuplicateModel { .. }));
    assert!(e.to_string().contains("`a`"));
    let e = Pool::new("p", vec![run("a", 0.5, 1.0), ModelRun::new("b", 0.5)]).unwrap_err();
    assert!(matches!(e, PeprError::MissingResource { .. }), "{e}");
    let pool = Pool::new("p", vec![run("a", 0.5, 1.0)]).unwrap();
    assert!(matches!(
        pool.pepr("co2"),
        Err(PeprError::MissingResource { .. })
    ));
    assert!(pepr(0.5, 1.5).is_err());
    assert!(pepr(-0.1, 0.5).is_err());
    assert!(pepr(0.5, f64::NAN).is_err());
    assert!(pepr_weighted(0.5, 0.5, -1.0).is_err());
    assert!(pepr_weighted(0.5, 0.5, f64::NAN).is_err());
}

#[test]
fn invalid_params_never_reach_scoring() {
    for params in [
        ScoreParams::new(""),
        ScoreParams::new("energy").with_weight(-0.5),
        ScoreParams::new("energy").with_resource_share(-1.0),
        ScoreParams::new("energy").with_resource_share(0.0),
        ScoreParams::new("energy").and_resource("energy", 1.0),
        ScoreParams::new("energy").with_reference_bounds("energy", 5.0, 5.0),
        ScoreParams::new("energy").with_reference_bounds("energy", -1.0, 5.0),
        ScoreParams::new("energy").with_reference_bounds("co2", 0.0, 5.0),
    ] {
        let e = params.clone().check().unwrap_err();
        assert!(
            matches!(e, PeprError::InvalidParameter { .. }),
            "{params:?}: {e}"
        );
    }
}

#[test]
fn weighted_and_combined_extensions() {
    let runs = vec![
        run("a", 0.6, 1.0).with_resource("mem", 8.0),
        run("b", 0.9, 3.0).with_resource("mem", 2.0),
        run("c", 0.7, 2.0).with_resource("mem", 4.0),
    ];
    let pool = Pool::new("ext", runs).unwrap();
    // w = 0: score = P.
    let s = pool
        .score(&ScoreParams::new("energy").with_weight(0.0).check().unwrap())
        .unwrap();
    assert_eq!(s.pepr_values(), vec![0.6, 0.9, 0.7]);
    // w = 2 by hand.
    let s = pool
        .score(&ScoreParams::new("energy").with_weight(2.0).check().unwrap())
        .unwrap();
    assert_eq!(s.get("b").unwrap().pepr, 0.9 / 3.0);
    // Combined: shares 3:1 of energy and memory.
    let params = ScoreParams::new("energy")
        .with_resource_share(3.0)
        .and_resource("mem", 1.0)
        .check()
        .unwrap();
    let s = pool.score(&params).unwrap();
    let c = s.get("c").unwrap();
    let r = (3.0 * 0.5 + 1.0 * (2.0 / 6.0)) / 4.0;
    assert!((c.resource - r).abs() < 1e-15);
    assert!((c.pepr - 0.7 / (1.0 + r)).abs() < 1e-15);
    assert_eq!(c.normalized["mem"], 2.0 / 6.0);
    // Multi-resource Pareto front: a (cheapest energy), b (best P, cheapest mem) on it; c too
    // (it is cheaper in energy than b and in memory than a).
    assert_eq!(s.pareto_front().len(), 3);
}

#[test]
fn scores_round_trip_through_json() {
    let pool = Pool::new("json", vec![run("a", 0.6, 1.0), run("b", 0.9, 3.0)]).unwrap();
    let s = pool.pepr("energy").unwrap();
    let text = serde_json::to_string(&s).unwrap();
    let back: PoolScores = serde_json::from_str(&text).unwrap();
    assert_eq!(back, s);
    assert!(text.contains("\"pool_min_max\""));
}

#[test]
fn ranking_is_best_first() {
    let pool = Pool::new(
        "r",
        vec![run("a", 0.5, 3.0), run("b", 0.9, 1.0), run("c", 0.7, 2.0)],
    )
    .unwrap();
    let s = pool.pepr("energy").unwrap();
    let names: Vec<&str> = s.ranking().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["b", "c", "a"]);
    assert_eq!(s.pareto_front().len(), 1);
}
