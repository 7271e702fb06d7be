//! Optimizers (Adam, SGD with momentum) with a saveable state, their hyperparameters and
//! learning-rate schedules, next to the fused update kernels they call.

mod config;
mod optimizer;
mod schedule;

pub use config::OptimizerConfig;
pub use optimizer::Optimizer;
pub use schedule::Schedule;
