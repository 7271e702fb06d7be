//! The paper's findings checked on the authors' released table (bundled in tests/data, MIT).

use smallscale_pepr_score::{
    FindingVerdict, FindingsColumns, TableParams, load_pools, paper_findings, spearman,
};

fn released() -> Vec<smallscale_pepr_score::Pool> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/full_data_pepr_dataset_level.csv"
    );
    let spec = TableParams::new("test_09", ["energy", "num_param"])
        .with_group_by("dataset")
        .check()
        .unwrap();
    load_pools(path, &spec).unwrap()
}

#[test]
fn the_released_table_supports_findings_one_and_two_contradicts_3a_and_cannot_decide_3b() {
    let pools = released();
    let f = paper_findings(&pools, &FindingsColumns::default()).unwrap();
    let verdicts: Vec<FindingVerdict> = f.verdicts.iter().map(|v| v.verdict).collect();
    assert_eq!(
        verdicts,
        [
            FindingVerdict::Holds,
            FindingVerdict::Holds,
            // Paired over the 131 models, pretrained runs used 0.7 % more energy (p = 0.04).
            FindingVerdict::DoesNotHold,
            // No pretrained experiment on reduced data.
            FindingVerdict::Undecided,
        ],
        "{:#?}",
        f.verdicts
    );
    // The pairs the labels imply.
    let pairs: Vec<(&str, &str)> = f
        .pretrained_vs_scratch
        .iter()
        .map(|c| (c.a.as_str(), c.b.as_str()))
        .collect();
    assert_eq!(pairs, [("derma_pt", "derma")]);
    let reduced: Vec<(&str, &str)> = f
        .full_vs_reduced
        .iter()
        .map(|c| (c.a.as_str(), c.b.as_str()))
        .collect();
    assert_eq!(
        reduced,
        [
            ("derma", "derma_small"),
            ("derma", "derma_smallest"),
            ("derma_pt", "derma_pt_small"),
            ("lidc", "lidc_small"),
            ("pneumonia", "pneumonia_small"),
        ]
        .into_iter()
        .filter(|(_, b)| pools.iter().any(|p| p.label() == *b))
        .collect::<Vec<_>>()
    );
    let c = &f.pretrained_vs_scratch[0];
    assert_eq!(c.paired_models, 131);
    let ratio = c.paired_log_energy_ratio.unwrap();
    assert!(
        ratio.mean > 0.0 && ratio.mean < 0.01 && ratio.p_value < 0.05,
        "{ratio:?}"
    );
    // Welch's test on the groups sees no difference (the same models, the same costs).
    assert!(c.energy.unwrap().p_value > 0.9);
    let t = c.accuracy.unwrap();
    assert!(
        (t.mean_a - 0.7970).abs() < 5e-5 && (t.mean_b - 0.7174).abs() < 5e-5,
        "{t:?}"
    );
    assert!(t.p_value < 1e-20);
    // Per-experiment correlations are those of the columns themselves.
    for (c, pool) in f.size_correlations.iter().zip(&pools) {
        assert_eq!(c.experiment, pool.label());
        let direct = spearman(&pool.resource("num_param").unwrap(), &pool.performances()).unwrap();
        assert_eq!(c.accuracy_spearman.unwrap(), direct);
    }
    // The best PePR-E model of pneumonia is dla46_c (1.3 M), not the most accurate pnasnet5large.
    let b = f
        .best_models
        .iter()
        .find(|b| b.experiment == "pneumonia")
        .unwrap();
    assert_eq!(
        (b.best_pepr.as_str(), b.most_accurate.as_str()),
        ("dla46_c", "pnasnet5large")
    );
    assert!(b.best_pepr_size < b.median_size);
}
