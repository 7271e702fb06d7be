//! The human-readable output of `smallscale fairness`.

use smallscale_fairness_memo::{
    Aggregates, FairnessMetrics, Group, Interval, MemorizationModel, MetricIntervals,
    MinimalMemorization, Rounding, SignConvention, Target, TargetAnalysis, Verification,
};

use super::fairness::{FairnessReport, Source};

fn signed(v: f64) -> String {
    format!("{v:+.4}")
}

fn aggregates(a: &Aggregates) -> String {
    format!(
        "max-abs {:.4}, L1 {:.4}, TV {:.4}",
        a.max_abs, a.l1, a.total_variation
    )
}

fn group_name(report: &FairnessReport, g: Group) -> String {
    match g {
        Group::Protected => format!("{} (+)", report.groups.protected),
        Group::Unprotected => format!("{} (-)", report.groups.unprotected.join("|")),
    }
}

/// Prints the report as text.
pub fn print(report: &FairnessReport) {
    print_source(report);
    print_metrics(report, &report.analysis.metrics);
    print_binary(report);
    if let Some(b) = &report.analysis.bootstrap {
        outln!();
        outln!(
            "Bootstrap {:.0}% percentile intervals ({} resamples, seed {}):",
            b.options.confidence * 100.0,
            b.options.n_resamples,
            b.options.seed
        );
        let show = |name: &str, m: &Option<MetricIntervals>| match m {
            Some(m) => outln!(
                "  {name:<18} max-abs {}   L1 {}",
                interval(&m.max_abs),
                interval(&m.l1)
            ),
            None => outln!("  {name:<18} undefined in every resample"),
        };
        show("statistical parity", &b.statistical_parity);
        show("equal opportunity", &b.equal_opportunity);
        show("equalized odds", &b.equalized_odds);
        if b.dropped_statistical_parity + b.dropped_conditional > 0 {
            outln!(
                "  dropped resamples: {} (empty group), {} (empty cell)",
                b.dropped_statistical_parity,
                b.dropped_conditional
            );
        }
    }
    outln!();
    outln!(
        "Minimal memorization (memorized rows are predicted correctly; p_D = memorized share of all rows)"
    );
    for t in &report.analysis.targets {
        print_target(report, t);
    }
}

fn interval(i: &Interval) -> String {
    format!("{:.4} [{:.4}, {:.4}]", i.estimate, i.lower, i.upper)
}

fn print_source(report: &FairnessReport) {
    match &report.source {
        Source::Csv {
            path,
            group_column,
            label_column,
            prediction_column,
            weight_column,
        } => {
            outln!(
                "input: {path} ({} rows; group `{group_column}`, label `{label_column}`, prediction `{prediction_column}`{})",
                report.analysis.n_rows,
                weight_column
                    .as_ref()
                    .map_or(String::new(), |w| format!(", weight `{w}`"))
            );
        }
        Source::Adult { model } => {
            outln!(
                "UCI Adult (embedded, rows with a missing value dropped): {} training rows, {} test rows",
                model.n_train,
                model.n_test
            );
            outln!(
                "model: logistic regression, L2 alpha {}, {} features ({}), fitted on the training split",
                model.alpha,
                model.n_features,
                if model.include_sex {
                    "sex included"
                } else {
                    "sex excluded"
                }
            );
            outln!(
                "accuracy: train {:.2}%, test {:.2}%; share >50K on test: true {:.4}, predicted {:.4}",
                100.0 * model.train_accuracy,
                100.0 * model.test_accuracy,
                model.test_positive_rate,
                model.predicted_positive_rate
            );
            outln!(
                "analysis on the test split: group = sex, label = income, prediction = the model's"
            );
        }
    }
    let mass = report.analysis.group_mass;
    outln!(
        "groups: protected (+) = {} ({} rows, mass {:.4}); unprotected (-) = {} ({} rows, mass {:.4}){}",
        report.groups.protected,
        report.group_rows[1],
        mass[1],
        report.groups.unprotected.join(", "),
        report.group_rows[0],
        mass[0],
        if report.groups.chosen_by_default {
            " [protected = the larger of the two values; choose with --protected]"
        } else {
            ""
        }
    );
    let classes: Vec<String> = report
        .classes
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{i} = {c}"))
        .collect();
    outln!("classes: {}", classes.join(", "));
    outln!(
        "signed gaps: {}",
        match report.options.sign {
            SignConvention::ProtectedMinusUnprotected => "protected minus unprotected",
            SignConvention::UnprotectedMinusProtected => "unprotected minus protected",
        }
    );
}

fn class_header(report: &FairnessReport, indent: usize) -> String {
    let mut h = " ".repeat(indent);
    for c in &report.classes {
        h.push_str(&format!("  {:>9}", truncate(c, 9)));
    }
    h
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('~');
        t
    }
}

fn vector_line(label: &str, gaps: impl Iterator<Item = f64>) -> String {
    let mut line = format!("  {label:<14}");
    for g in gaps {
        line.push_str(&format!("  {:>9}", signed(g)));
    }
    line
}

fn print_metrics(report: &FairnessReport, m: &FairnessMetrics) {
    outln!();
    outln!("Metrics (per class y)");
    outln!("{}", class_header(report, 16));
    let sp = &m.statistical_parity;
    outln!(
        "{}   {}",
        vector_line("SP(y)", sp.gaps.iter().copied()),
        aggregates(&sp.aggregates)
    );
    match (&m.equal_opportunity, &m.equalized_odds) {
        (Some(eopp), Some(eodds)) => {
            outln!(
                "{}   {}",
                vector_line("EOpp(y)", eopp.gaps.iter().copied()),
                aggregates(&eopp.aggregates)
            );
            outln!(
                "  EOdds[prediction, label]: {}",
                aggregates(&eodds.aggregates)
            );
            outln!("{}", class_header(report, 16));
            for (yh, row) in eodds.gaps.rows().into_iter().enumerate() {
                let name = format!("pred {}", truncate(&report.classes[yh], 9));
                outln!("{}", vector_line(&name, row.iter().copied()));
            }
        }
        _ => outln!(
            "  EOpp, EOdds: undefined ({})",
            m.undefined.as_deref().unwrap_or("an empty cell")
        ),
    }
}

fn print_binary(report: &FairnessReport) {
    let Some(b) = &report.analysis.binary else {
        return;
    };
    let (u, p) = (Group::Unprotected.index(), Group::Protected.index());
    outln!(
        "  binary, positive class {}: selection rate + {:.4} / - {:.4}; TPR + {:.4} / - {:.4}; FPR + {:.4} / - {:.4}",
        report.classes[b.positive_class],
        b.selection_rate[p],
        b.selection_rate[u],
        b.true_positive_rate[p],
        b.true_positive_rate[u],
        b.false_positive_rate[p],
        b.false_positive_rate[u]
    );
    outln!(
        "  fairlearn: demographic_parity_difference {:.4}, equalized_odds_difference {:.4}; AIF360: statistical_parity_difference {:+.4}, equal_opportunity_difference {:+.4}",
        b.demographic_parity_difference,
        b.equalized_odds_difference,
        b.statistical_parity_difference,
        b.equal_opportunity_difference
    );
}

fn print_target(report: &FairnessReport, t: &TargetAnalysis) {
    outln!();
    let name = t.target.name();
    if let Some(reason) = &t.undefined {
        outln!("{name}: undefined: {reason}");
        return;
    }
    match &t.minimal {
        Some(MinimalMemorization::Feasible(plan)) => {
            let model = match plan.model {
                MemorizationModel::ConfusionRow => "confusion-row model",
                MemorizationModel::Distribution => "distribution model",
            };
            let method = match plan.method {
                smallscale_fairness_memo::SolutionMethod::LinearProgram => "linear program",
                smallscale_fairness_memo::SolutionMethod::ClosedForm => "closed form",
            };
            let model = if t.target == Target::StatisticalParity {
                format!("{method}, {model}")
            } else {
                method.to_string()
            };
            outln!(
                "{name}: feasible, minimal mass p_D* = {:.4} ({model})",
                plan.total_mass
            );
            outln!(
                "  {:<28}  {:>9}  {:>9}  {:>9}",
                "cell (label, group)",
                "p_y^a",
                "m_y^a",
                "r_{y,a}"
            );
            for g in [Group::Protected, Group::Unprotected] {
                for (y, class) in report.classes.iter().enumerate() {
                    let cell = format!("{}, {}", truncate(class, 9), group_name(report, g));
                    outln!(
                        "  {:<28}  {:>9.4}  {:>9.4}  {:>9.4}",
                        truncate(&cell, 28),
                        report.cell_masses[g.index()][y],
                        plan.plan.mass(g, y),
                        plan.plan.share(g, y)
                    );
                }
            }
            for c in plan
                .per_class
                .iter()
                .filter(|c| c.ratio_condition == Some(false))
            {
                outln!(
                    "  class {}: the ratio condition fails, so the whole cells with errors are memorized",
                    report.classes[c.label]
                );
            }
            outln!(
                "  remaining gap (closed form): {}",
                aggregates(&plan.remaining)
            );
        }
        Some(MinimalMemorization::Infeasible { reason, .. }) => {
            outln!("{name}: infeasible: {reason}");
        }
        None => outln!("{name}: not computed"),
    }
    if let Some(b) = &t.bounds {
        let upper = b
            .upper
            .map_or_else(|| "none".to_string(), |u| format!("{u:.4}"));
        outln!(
            "  bounds: {:.4} <= p_D* <= {upper}   (lower: {}; upper: {})",
            b.lower,
            b.lower_rule,
            b.upper_rule
        );
    }
    if let Some(v) = &t.applied {
        print_applied(report, v);
    } else if matches!(t.minimal, Some(MinimalMemorization::Feasible(_))) {
        outln!("  not applied to the rows (distribution-model plans are not realisable on rows)");
    }
}

fn print_applied(report: &FairnessReport, v: &Verification) {
    let rounding = match report.options.apply.rounding {
        Rounding::WholeRows => "whole rows",
        Rounding::SplitRows => "split rows",
    };
    outln!(
        "  applied to the rows (seed {}, {rounding}): realised mass {:.4}; metrics after memorization:",
        report.options.apply.seed,
        v.realised_total_mass
    );
    let e = &v.empirical;
    outln!(
        "{}   {}",
        vector_line("  SP(y)", e.statistical_parity.gaps.iter().copied()),
        aggregates(&e.statistical_parity.aggregates)
    );
    if let (Some(eopp), Some(eodds)) = (&e.equal_opportunity, &e.equalized_odds) {
        outln!(
            "{}   {}",
            vector_line("  EOpp(y)", eopp.gaps.iter().copied()),
            aggregates(&eopp.aggregates)
        );
        outln!("    EOdds: {}", aggregates(&eodds.aggregates));
    }
    outln!(
        "    max |rows - closed form| = {:.2e} (whole-row rounding bound {:.2e})",
        v.max_deviation,
        v.rounding_bound
    );
}
