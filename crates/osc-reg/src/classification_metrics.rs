//! Classification metrics beyond accuracy, for imbalanced test sets such as PneumoniaMNIST
//! (62.5 % pneumonia): balanced accuracy, per-class recall, and for two classes the area under
//! the ROC curve of the class-1 probability.

use candle_core::{D, DType};
use serde::{Deserialize, Serialize};
use smallscale_datasets::{ChannelNormalization, ImageDataset};
use smallscale_models::{Model, QuantizationState};

use crate::data::{batch_tensors, eval_batcher};
use crate::errors::Result;

/// The metrics of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    /// Share of correct predictions, in [0, 1].
    pub accuracy: f64,
    /// Mean over the classes present of the share of their examples predicted correctly.
    pub balanced_accuracy: f64,
    /// Recall of each class (`None` for a class without examples).
    pub per_class_recall: Vec<Option<f64>>,
    /// For two classes: the area under the ROC curve of the class-1 score (the logit margin
    /// `logit_1 - logit_0`, which orders the examples as the softmax probability does) (`None`
    /// with more classes, or when one class has no examples).
    pub auc: Option<f64>,
    /// Number of examples.
    pub examples: usize,
}

/// Balanced accuracy and per-class recall of `predictions` against `labels` over `classes`
/// classes; classes without examples are left out of the mean.
///
/// ```
/// use smallscale_osc_reg::balanced_accuracy;
/// // 3 of 4 of class 0 right, 1 of 2 of class 1 right.
/// let (b, recall) = balanced_accuracy(&[0, 0, 0, 0, 1, 1], &[0, 0, 0, 1, 1, 0], 2);
/// assert_eq!(recall, [Some(0.75), Some(0.5)]);
/// assert_eq!(b, 0.625);
/// ```
pub fn balanced_accuracy(
    labels: &[u32],
    predictions: &[u32],
    classes: usize,
) -> (f64, Vec<Option<f64>>) {
    let mut hits = vec![0usize; classes];
    let mut counts = vec![0usize; classes];
    for (&y, &p) in labels.iter().zip(predictions) {
        if let Some(c) = counts.get_mut(y as usize) {
            *c += 1;
            if y == p {
                hits[y as usize] += 1;
            }
        }
    }
    let recall: Vec<Option<f64>> = hits
        .iter()
        .zip(&counts)
        .map(|(&h, &n)| (n > 0).then(|| h as f64 / n as f64))
        .collect();
    let present: Vec<f64> = recall.iter().flatten().copied().collect();
    let mean = if present.is_empty() {
        0.0
    } else {
        present.iter().sum::<f64>() / present.len() as f64
    };
    (mean, recall)
}

/// The area under the ROC curve of `scores` for the positive examples (`positive[i]`): the
/// probability that a random positive scores above a random negative, ties counting one half
/// (the Mann-Whitney statistic, as scikit-learn's `roc_auc_score`). `None` when either class is
/// absent or a score is not finite.
///
/// ```
/// use smallscale_osc_reg::roc_auc;
/// assert_eq!(roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), Some(0.75));
/// assert_eq!(roc_auc(&[0.5, 0.5], &[false, true]), Some(0.5));
/// assert_eq!(roc_auc(&[0.5, 0.7], &[true, true]), None);
/// ```
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> Option<f64> {
    if scores.len() != positive.len() || scores.iter().any(|s| !s.is_finite()) {
        return None;
    }
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    // Ranks with ties averaged, then U = sum of positive ranks - n_pos (n_pos + 1) / 2.
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0f64;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mean_rank = (i + j + 2) as f64 / 2.0;
        for &k in &order[i..=j] {
            if positive[k] {
                rank_sum_pos += mean_rank;
            }
        }
        i = j + 1;
    }
    let u = rank_sum_pos - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

/// Accuracy, balanced accuracy, per-class recall and (for two classes) AUC of `model` on `data`
/// with the quantization state `state` (restored afterwards), BatchNorm in eval mode.
pub fn classification_metrics(
    model: &dyn Model,
    data: &ImageDataset,
    normalization: &ChannelNormalization,
    state: QuantizationState,
    batch_size: usize,
) -> Result<ClassificationMetrics> {
    let classes = data.num_classes();
    model.quant().with_state(state, || {
        let batcher = eval_batcher(data, normalization, batch_size)?;
        let (mut labels, mut predictions, mut scores) = (Vec::new(), Vec::new(), Vec::new());
        for batch in batcher.epoch(0) {
            let batch = batch?;
            let (x, y) = batch_tensors(&batch, model.context().device())?;
            let logits = model.forward_t(&x, false)?.to_dtype(DType::F32)?;
            predictions.extend(logits.argmax(D::Minus1)?.to_vec1::<u32>()?);
            labels.extend(y.to_vec1::<u32>()?);
            if classes == 2 {
                // logit_1 - logit_0 orders the examples as the class-1 probability does, without
                // the f32 softmax saturating to 1.0 (and tying) for confident predictions.
                let margin = (logits.narrow(1, 1, 1)? - logits.narrow(1, 0, 1)?)?;
                scores.extend(margin.flatten_all()?.to_vec1::<f32>()?);
            }
        }
        let correct = labels
            .iter()
            .zip(&predictions)
            .filter(|(y, p)| y == p)
            .count();
        let (balanced, per_class_recall) = balanced_accuracy(&labels, &predictions, classes);
        let auc = if classes == 2 {
            let positive: Vec<bool> = labels.iter().map(|&y| y == 1).collect();
            roc_auc(&scores, &positive)
        } else {
            None
        };
        Ok(ClassificationMetrics {
            accuracy: correct as f64 / labels.len().max(1) as f64,
            balanced_accuracy: balanced,
            per_class_recall,
            auc,
            examples: labels.len(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The AUC by counting every (positive, negative) pair.
    fn auc_by_pairs(scores: &[f32], positive: &[bool]) -> Option<f64> {
        let (mut wins, mut pairs) = (0.0, 0usize);
        for (i, &pi) in positive.iter().enumerate() {
            for (j, &pj) in positive.iter().enumerate() {
                if pi && !pj {
                    pairs += 1;
                    wins += match scores[i].total_cmp(&scores[j]) {
                        std::cmp::Ordering::Greater => 1.0,
                        std::cmp::Ordering::Equal => 0.5,
                        std::cmp::Ordering::Less => 0.0,
                    };
                }
            }
        }
        (pairs > 0).then(|| wins / pairs as f64)
    }

    proptest! {
        #[test]
        fn auc_equals_the_share_of_correctly_ordered_pairs(
            data in proptest::collection::vec((0u8..6, any::<bool>()), 1..60)
        ) {
            // Few distinct scores, so ties are common.
            let scores: Vec<f32> = data.iter().map(|(s, _)| f32::from(*s) / 5.0).collect();
            let positive: Vec<bool> = data.iter().map(|(_, p)| *p).collect();
            let got = roc_auc(&scores, &positive);
            let want = auc_by_pairs(&scores, &positive);
            match (got, want) {
                (Some(g), Some(w)) => prop_assert!((g - w).abs() < 1e-12, "{} vs {}", g, w),
                (g, w) => prop_assert_eq!(g, w),
            }
        }

        #[test]
        fn balanced_accuracy_is_the_mean_recall_of_the_present_classes(
            data in proptest::collection::vec((0u32..3, 0u32..3), 1..60)
        ) {
            let labels: Vec<u32> = data.iter().map(|d| d.0).collect();
            let preds: Vec<u32> = data.iter().map(|d| d.1).collect();
            let (b, recall) = balanced_accuracy(&labels, &preds, 3);
            let mut sum = 0.0;
            let mut present = 0;
            for c in 0..3u32 {
                let n = labels.iter().filter(|&&y| y == c).count();
                let hit = labels.iter().zip(&preds).filter(|(y, p)| **y == c && **p == c).count();
                if n > 0 {
                    sum += hit as f64 / n as f64;
                    present += 1;
                    prop_assert_eq!(recall[c as usize], Some(hit as f64 / n as f64));
                } else {
                    prop_assert_eq!(recall[c as usize], None);
                }
            }
            prop_assert!((b - sum / present as f64).abs() < 1e-12);
        }
    }

    #[test]
    fn perfect_and_reversed_scores() {
        let pos = [false, false, true, true];
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &pos), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &pos), Some(0.0));
        assert_eq!(roc_auc(&[0.1, f32::NAN, 0.8, 0.9], &pos), None);
    }
}
