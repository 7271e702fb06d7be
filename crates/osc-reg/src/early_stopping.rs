//! Early stopping and model selection: the best monitored validation accuracy so far, and when
//! to stop.

use serde::{Deserialize, Serialize};

/// Tracks the monitored validation accuracy epoch by epoch: an epoch is the best when it beats
/// every earlier one strictly (ties keep the earlier epoch), and training stops once `patience`
/// epochs in a row did not improve on the best.
///
/// ```
/// use smallscale_osc_reg::EarlyStopping;
/// let mut stop = EarlyStopping::new(Some(2));
/// assert!(stop.observe(0, 0.50)); // best
/// assert!(!stop.observe(1, 0.50)); // a tie is no improvement
/// assert!(!stop.should_stop());
/// assert!(!stop.observe(2, 0.40));
/// assert!(stop.should_stop()); // two epochs without improvement
/// assert_eq!(stop.best_epoch(), Some(0));
/// ```
///
/// Serialized, it keeps its record (best epoch, best accuracy, epochs since) but not the
/// patience, which is a setting: give it again with [`with_patience`](Self::with_patience) after
/// deserializing (a deserialized value never stops early until then).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Epochs without improvement that end training; `None` never stops early.
    #[serde(skip)]
    patience: Option<usize>,
    /// The selected epoch (0-based) so far.
    best_epoch: Option<usize>,
    /// Its monitored accuracy (minus infinity before the first epoch).
    best_monitored: f64,
    /// Epochs since the best one.
    epochs_since_best: usize,
}

impl EarlyStopping {
    /// Nothing observed yet.
    pub fn new(patience: Option<usize>) -> Self {
        Self {
            patience,
            best_epoch: None,
            best_monitored: f64::NEG_INFINITY,
            epochs_since_best: 0,
        }
    }

    /// Sets the patience (a resumed run keeps its record but takes the current setting).
    pub fn with_patience(mut self, patience: Option<usize>) -> Self {
        self.patience = patience;
        self
    }

    /// Records `epoch`'s monitored accuracy; returns whether it is the best so far.
    pub fn observe(&mut self, epoch: usize, monitored: f64) -> bool {
        let best = monitored > self.best_monitored;
        if best {
            self.best_monitored = monitored;
            self.best_epoch = Some(epoch);
            self.epochs_since_best = 0;
        } else {
            self.epochs_since_best += 1;
        }
        best
    }

    /// Whether the patience is used up.
    pub fn should_stop(&self) -> bool {
        self.patience
            .is_some_and(|patience| self.epochs_since_best >= patience)
    }

    /// The selected epoch, if any epoch was observed.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }

    /// The selected epoch's monitored accuracy (minus infinity before the first epoch).
    pub fn best_monitored(&self) -> f64 {
        self.best_monitored
    }

    /// Epochs observed since the best one.
    pub fn epochs_since_best(&self) -> usize {
        self.epochs_since_best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Against a direct computation over the whole history: the best epoch is the first
        /// arg-max, and training stops at the first epoch that ends `patience` epochs without a
        /// strict improvement.
        #[test]
        fn best_epoch_and_stop_match_a_direct_computation(
            accs in proptest::collection::vec(0u8..6, 1..30),
            patience in 1usize..5,
        ) {
            let mut stop = EarlyStopping::new(Some(patience));
            for (epoch, &a) in accs.iter().enumerate() {
                let is_best = stop.observe(epoch, f64::from(a));
                let seen = &accs[..=epoch];
                let max = *seen.iter().max().unwrap();
                let first_max = seen.iter().position(|&x| x == max).unwrap();
                prop_assert_eq!(stop.best_epoch(), Some(first_max));
                prop_assert_eq!(is_best, first_max == epoch);
                prop_assert_eq!(stop.should_stop(), epoch - first_max >= patience);
            }
        }
    }

    #[test]
    fn without_patience_it_never_stops() {
        let mut stop = EarlyStopping::new(None);
        for epoch in 0..100 {
            stop.observe(epoch, 0.0);
        }
        assert!(!stop.should_stop());
        assert_eq!(stop.best_epoch(), Some(0));
        assert_eq!(stop.epochs_since_best(), 99);
    }
}
