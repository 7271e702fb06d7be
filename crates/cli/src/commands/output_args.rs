//! The output options every subcommand takes alike: `--json`, `--no-progress`, `--quiet`.

use clap::Args;

/// How a command reports on the terminal (files it writes are the same either way).
#[derive(Debug, Clone, Copy, Default, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Print the results as JSON on standard output instead of tables.
    #[arg(long, conflicts_with = "quiet")]
    pub json: bool,
    /// Hide progress bars (on standard error).
    #[arg(long)]
    pub no_progress: bool,
    /// Print nothing but warnings and errors; files are written as usual.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl OutputArgs {
    /// Whether to draw progress bars: not asked off, not quiet, and standard error is a terminal.
    pub fn progress(&self) -> bool {
        !self.no_progress && !self.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr())
    }

    /// Whether to print informational lines on standard error.
    pub fn chatty(&self) -> bool {
        !self.quiet
    }
}
