//! The per-epoch progress bar of the trainer: drawn with indicatif when the `progress` feature is
//! on, nothing otherwise.

/// A progress bar over one epoch's batches (hidden when not shown or without the feature).
pub(crate) struct EpochBar {
    #[cfg(feature = "progress")]
    bar: indicatif::ProgressBar,
}

impl EpochBar {
    /// A bar of `len` batches labelled `prefix`, drawn on the terminal if `show`.
    pub(crate) fn new(show: bool, len: u64, prefix: String) -> Self {
        #[cfg(feature = "progress")]
        {
            use indicatif::{ProgressBar, ProgressStyle};
            if !show {
                return Self {
                    bar: ProgressBar::hidden(),
                };
            }
            let bar = ProgressBar::new(len);
            if let Ok(style) =
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(prefix);
            Self { bar }
        }
        #[cfg(not(feature = "progress"))]
        {
            let _ = (show, len, prefix);
            Self {}
        }
    }

    /// Sets the message after the counts.
    pub(crate) fn set_message(&self, message: impl FnOnce() -> String) {
        #[cfg(feature = "progress")]
        if !self.bar.is_hidden() {
            self.bar.set_message(message());
        }
        #[cfg(not(feature = "progress"))]
        let _ = message;
    }

    /// One more batch done.
    pub(crate) fn inc(&self) {
        #[cfg(feature = "progress")]
        self.bar.inc(1);
    }

    /// Removes the bar at the end of the epoch.
    pub(crate) fn finish_and_clear(&self) {
        #[cfg(feature = "progress")]
        self.bar.finish_and_clear();
    }
}
