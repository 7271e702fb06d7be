//! The progress bar over the grid of runs: drawn with indicatif when the `progress` feature is
//! on, nothing otherwise.

/// A bar over the runs of a study (hidden when not shown or without the feature).
pub(crate) struct GridBar {
    #[cfg(feature = "progress")]
    bar: indicatif::ProgressBar,
}

impl GridBar {
    /// A bar of `len` runs, drawn on the terminal if `show`.
    pub(crate) fn new(show: bool, len: u64) -> Self {
        #[cfg(feature = "progress")]
        {
            use indicatif::{ProgressBar, ProgressStyle};
            let bar = if show {
                ProgressBar::new(len)
            } else {
                ProgressBar::hidden()
            };
            if let Ok(style) = ProgressStyle::with_template(
                "study [{bar:30}] {pos}/{len} runs {msg} ({elapsed}, about {eta} left)",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            Self { bar }
        }
        #[cfg(not(feature = "progress"))]
        {
            let _ = (show, len);
            Self {}
        }
    }

    /// The run now training.
    pub(crate) fn start(&self, run: &str) {
        #[cfg(feature = "progress")]
        self.bar.set_message(run.to_string());
        #[cfg(not(feature = "progress"))]
        let _ = run;
    }

    /// Runs `f` (which prints) with the bar cleared.
    pub(crate) fn suspend(&self, f: impl FnOnce()) {
        #[cfg(feature = "progress")]
        self.bar.suspend(f);
        #[cfg(not(feature = "progress"))]
        f();
    }

    /// One more run done.
    pub(crate) fn finish_one(&self) {
        #[cfg(feature = "progress")]
        self.bar.inc(1);
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        #[cfg(feature = "progress")]
        self.bar.finish_and_clear();
    }
}
