//! One module per subcommand.

pub mod quantize;
