#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod errors;
mod oscillation;
mod regularizer;
mod toy;

pub use errors::{OscRegError, Result};
pub use oscillation::{LayerOscillation, OscillationParams, OscillationTracker};
pub use regularizer::{OscillationRegularizer, RegularizerParams, oscillation_regularizer};
pub use toy::{ToyCycle, ToyStep, UnivariateToyModel};
