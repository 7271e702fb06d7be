//! One module per subcommand, plus the helpers they share.

pub mod adult_model;
pub mod eval;
pub mod experiment_args;
pub mod fairness;
pub mod fairness_table;
pub mod model_args;
pub mod pepr;
pub mod pepr_plot;
pub mod quantize;
pub mod reproduce;
pub mod run_files;
pub mod train;
