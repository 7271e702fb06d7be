//! One module per subcommand, plus the helpers they share.

pub mod baseline_args;
pub mod bits_arg;
pub mod eval;
pub mod experiment_args;
pub mod fairness;
pub mod fairness_table;
pub mod model_args;
pub mod output_args;
pub mod pepr;
pub mod pepr_plot;
pub mod quantize;
pub mod reproduce;
pub mod study;
pub mod sweep;
pub mod train;

/// This process's command line, version, build commit, thread count and machine, for results files.
pub fn run_environment() -> smallscale_osc_reg::RunEnvironment {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    smallscale_osc_reg::RunEnvironment::detect(
        command,
        option_env!("SMALLSCALE_GIT_COMMIT").map(str::to_string),
    )
}
