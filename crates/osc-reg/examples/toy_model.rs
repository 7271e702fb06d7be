//! The univariate toy model of the paper (spec §2): QAT makes the weight oscillate around the threshold
//! between the two levels next to the optimum, with a time average of q(w) equal to the optimum; the
//! paper's regularizer drives the weight to the threshold and makes it oscillate there; Nagel et al.'s
//! dampening removes the oscillation.
//!
//! `cargo run -p smallscale-osc-reg --example toy_model`; with `--features plots -- FILE.svg` it
//! also draws the three trajectories.

use smallscale_osc_reg::{ToyStep, UnivariateToyModel};

/// The weight of the regularizer and the dampening weight of the printout and the plot.
const REG_LAMBDA: f64 = 2.0;
const DAMPEN_LAMBDA: f64 = 0.5;

fn describe(name: &str, trajectory: &[ToyStep]) {
    match UnivariateToyModel::find_cycle(trajectory, 1e-9) {
        Some(c) => println!(
            "{name}: cycle of period {} through {:?}; mean q(w) over the cycle = {:.4}",
            c.period, c.weights, c.mean_quantized
        ),
        None => {
            let last = &trajectory[trajectory.len() - 1];
            let switches = trajectory.windows(2).filter(|p| p[0].q != p[1].q).count();
            println!(
                "{name}: no cycle; ends at w = {:.4} (q = {}), q(w) changed {switches} times",
                last.w, last.q
            );
        }
    }
}

fn main() {
    let toy = UnivariateToyModel::spec_example();
    println!(
        "levels {{0, 1}}, x = 1, y = 0.75 (optimum w* = {}), w0 = {}, learning rate {}",
        toy.optimum(),
        toy.w0,
        toy.learning_rate
    );
    println!("{:>4}  {:>8}  {:>4}", "step", "w", "q(w)");
    let steps = toy.qat_trajectory(16);
    for (t, s) in steps.iter().enumerate() {
        println!("{t:>4}  {:>8.4}  {:>4}", s.w, s.q);
    }
    describe("QAT", &toy.qat_trajectory(200));
    describe(
        &format!("Reg (lambda {REG_LAMBDA})"),
        &toy.regularized_trajectory(200, REG_LAMBDA),
    );
    describe(
        &format!("QAT + dampening (lambda_d {DAMPEN_LAMBDA})"),
        &toy.dampened_trajectory(200, DAMPEN_LAMBDA),
    );
    if let Some(path) = std::env::args().nth(1) {
        #[cfg(feature = "plots")]
        {
            let svg =
                smallscale_osc_reg::toy_trajectories_plot(&toy, 40, REG_LAMBDA, DAMPEN_LAMBDA)
                    .expect("the toy model's parameters are valid");
            std::fs::write(&path, svg).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
            println!("wrote {path}");
        }
        #[cfg(not(feature = "plots"))]
        eprintln!("{path}: drawing needs --features plots");
    }
}
