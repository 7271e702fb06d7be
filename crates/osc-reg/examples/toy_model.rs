//! The univariate toy model of the paper (spec §2): QAT makes the weight oscillate around the threshold
//! between the two levels next to the optimum, with a time average of q(w) equal to the optimum.
//!
//! `cargo run -p smallscale-osc-reg --example toy_model`

use smallscale_osc_reg::UnivariateToyModel;

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
    let long = toy.qat_trajectory(200);
    match UnivariateToyModel::find_cycle(&long, 1e-9) {
        Some(c) => println!(
            "cycle of period {} through {:?}; mean q(w) over the cycle = {:.4}",
            c.period, c.weights, c.mean_quantized
        ),
        None => println!("no cycle found"),
    }
}
