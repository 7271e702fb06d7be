//! Accuracy at a quantization state, PTQ and cross-bit evaluation, and BatchNorm re-estimation.

/// The batch size of every evaluation pass (the trainer's validation, `reproduce`, `train` and
/// `eval`); it changes only the speed, never the accuracy (BatchNorm is in eval mode).
pub const EVAL_BATCH_SIZE: usize = 512;

use candle_core::{D, Tensor};
use serde::{Deserialize, Serialize};
use smallscale_datasets::{BatchParams, ChannelNormalization, ImageBatcher, ImageDataset};
use smallscale_models::{
    BufferSnapshot, BufferStore, Model, QuantizationState, RunningStatsUpdate,
};
use smallscale_quant_core::BitWidth;

use crate::data::{batch_tensors, eval_batcher};
use crate::errors::{OscRegError, Result};

/// Top-1 accuracy of `model` on `data` with the quantization state `state` (switched on for the
/// evaluation and restored afterwards, even on error), BatchNorm in eval mode.
pub fn accuracy(
    model: &dyn Model,
    data: &ImageDataset,
    normalization: &ChannelNormalization,
    state: QuantizationState,
    batch_size: usize,
) -> Result<f64> {
    model.quant().with_state(state, || {
        let batcher = eval_batcher(data, normalization, batch_size)?;
        let (mut correct, mut total) = (0usize, 0usize);
        for batch in batcher.epoch(0) {
            let batch = batch?;
            let (x, y) = batch_tensors(&batch, model.context().device())?;
            let logits = model.forward_t(&x, false)?;
            correct += count_correct(&logits, &y)?;
            total += batch.len();
        }
        Ok(if total == 0 {
            0.0
        } else {
            correct as f64 / total as f64
        })
    })
}

pub(crate) fn count_correct(logits: &Tensor, labels: &Tensor) -> Result<usize> {
    let pred = logits.argmax(D::Minus1)?;
    Ok(pred
        .eq(labels)?
        .to_dtype(candle_core::DType::U32)?
        .sum_all()?
        .to_scalar::<u32>()? as usize)
}

/// Accuracy at full precision and after PTQ at each bit-width (spec §4.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossBitAccuracy {
    /// Accuracy with quantization off.
    pub fp: f64,
    /// `(bits, accuracy)` with the reference quantizer at each bit-width, ascending.
    pub per_bit: Vec<(BitWidth, f64)>,
    /// With [`CrossBitEvaluation::with_batch_norm_reestimation`]: `(bits, accuracy)` after the
    /// BatchNorm statistics were re-estimated at that bit-width, ascending; `None` without it or
    /// for a model without BatchNorm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_bit_bn_reestimated: Option<Vec<(BitWidth, f64)>>,
}

impl CrossBitAccuracy {
    /// The accuracy at `bits`, if evaluated.
    pub fn at(&self, bits: BitWidth) -> Option<f64> {
        find_bit(&self.per_bit, bits)
    }

    /// The accuracy at `bits` after BatchNorm re-estimation, if evaluated.
    pub fn bn_reestimated_at(&self, bits: BitWidth) -> Option<f64> {
        self.per_bit_bn_reestimated
            .as_deref()
            .and_then(|per_bit| find_bit(per_bit, bits))
    }
}

fn find_bit(per_bit: &[(BitWidth, f64)], bits: BitWidth) -> Option<f64> {
    per_bit.iter().find(|(b, _)| *b == bits).map(|(_, a)| *a)
}

/// How BatchNorm statistics are re-estimated at each bit-width (an extension beyond the paper,
/// which keeps the FP statistics): `batches` training batches of `batch_size` examples.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BatchNormReestimation<'a> {
    /// The training images to pass through (no augmentation, seeded order).
    pub train: &'a ImageDataset,
    /// Number of batches (at least 1).
    pub batches: usize,
    /// Examples per batch (at least 2).
    pub batch_size: usize,
}

/// Cross-bit evaluation (spec §4.5): accuracy at full precision and with the reference
/// quantizer at every bit-width, keeping the model's exclude list; optionally also after
/// re-estimating the BatchNorm statistics at each bit-width. The model's quantization state and
/// buffers are restored afterwards.
///
/// ```no_run
/// # fn demo(model: &dyn smallscale_models::Model, data: &smallscale_osc_reg::ImageData) -> smallscale_osc_reg::Result<()> {
/// use smallscale_osc_reg::{CrossBitEvaluation, EVAL_BATCH_SIZE};
/// use smallscale_quant_core::BitWidth;
/// let four = BitWidth::new(4)?;
/// let result = CrossBitEvaluation::new(&BitWidth::list(&[2, 4, 8])?)
///     .with_batch_size(EVAL_BATCH_SIZE)
///     .with_batch_norm_reestimation(&data.train, 20, 256)
///     .run(model, &data.test, &data.normalization)?;
/// println!("FP {:.4}, 4-bit {:?}, re-estimated {:?}", result.fp, result.at(four), result.bn_reestimated_at(four));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CrossBitEvaluation<'a> {
    bits: Vec<BitWidth>,
    batch_size: usize,
    batch_norm: Option<BatchNormReestimation<'a>>,
    learned: Option<&'a crate::lsq_training::LsqSteps>,
}

impl<'a> CrossBitEvaluation<'a> {
    /// Evaluation at `bits` (sorted and deduplicated), batch size [`EVAL_BATCH_SIZE`], no
    /// BatchNorm re-estimation.
    pub fn new(bits: &[BitWidth]) -> Self {
        let mut bits = bits.to_vec();
        bits.sort_unstable();
        bits.dedup();
        Self {
            bits,
            batch_size: EVAL_BATCH_SIZE,
            batch_norm: None,
            learned: None,
        }
    }

    /// Evaluates the bit-width of `steps` with these learned LSQ steps (the model as an LSQ run
    /// deployed it) instead of the reference quantizer; the other bits stay reference PTQ.
    pub fn with_learned_steps(mut self, steps: &'a crate::lsq_training::LsqSteps) -> Self {
        self.learned = Some(steps);
        self
    }

    fn state_at(
        &self,
        bits: BitWidth,
        selector: &smallscale_quant_core::TensorSelector,
    ) -> Result<QuantizationState> {
        match self.learned {
            Some(steps) if steps.bits() == bits => steps.state(selector.clone()),
            _ => Ok(QuantizationState::reference(bits.get())?.with_selector(selector.clone())),
        }
    }

    /// Sets the evaluation batch size.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Also evaluates each bit-width after re-estimating the BatchNorm statistics on `batches`
    /// batches of `batch_size` images of `train` (see [`reestimate_batch_norm`]).
    pub fn with_batch_norm_reestimation(
        mut self,
        train: &'a ImageDataset,
        batches: usize,
        batch_size: usize,
    ) -> Self {
        self.batch_norm = Some(BatchNormReestimation {
            train,
            batches,
            batch_size,
        });
        self
    }

    /// Runs the evaluation on `data`.
    pub fn run(
        &self,
        model: &dyn Model,
        data: &ImageDataset,
        normalization: &ChannelNormalization,
    ) -> Result<CrossBitAccuracy> {
        if let Some(bn) = &self.batch_norm
            && (bn.batches == 0 || bn.batch_size < 2)
        {
            return Err(OscRegError::InvalidParameter {
                parameter: "BatchNorm re-estimation",
                reason: format!(
                    "{} batches of {} examples: give at least 1 batch of at least 2 examples",
                    bn.batches, bn.batch_size
                ),
            });
        }
        let selector = model.quant().get().selector().clone();
        let at =
            |state: QuantizationState| accuracy(model, data, normalization, state, self.batch_size);
        let fp = at(QuantizationState::off().with_selector(selector.clone()))?;
        let mut per_bit = Vec::with_capacity(self.bits.len());
        for &b in &self.bits {
            per_bit.push((b, at(self.state_at(b, &selector)?)?));
        }
        let per_bit_bn_reestimated = match &self.batch_norm {
            Some(bn) if has_batch_norm(model) => {
                let mut out = Vec::with_capacity(self.bits.len());
                for &b in &self.bits {
                    let state = self.state_at(b, &selector)?;
                    let saved = reestimate_batch_norm(
                        model,
                        bn.train,
                        normalization,
                        state.clone(),
                        bn.batches,
                        bn.batch_size,
                    )?;
                    let acc = at(state);
                    model.buffers().restore(&saved);
                    out.push((b, acc?));
                }
                Some(out)
            }
            _ => None,
        };
        Ok(CrossBitAccuracy {
            fp,
            per_bit,
            per_bit_bn_reestimated,
        })
    }
}

/// Evaluates `model` at full precision and with the reference quantizer at every bit-width in `bits`,
/// keeping the model's exclude list; the model's quantization state is restored afterwards. Short
/// for [`CrossBitEvaluation::new`]`(bits).with_batch_size(batch_size).run(..)`.
pub fn cross_bit_evaluation(
    model: &dyn Model,
    data: &ImageDataset,
    normalization: &ChannelNormalization,
    bits: &[BitWidth],
    batch_size: usize,
) -> Result<CrossBitAccuracy> {
    CrossBitEvaluation::new(bits)
        .with_batch_size(batch_size)
        .run(model, data, normalization)
}

/// Whether the model has a BatchNorm layer (a layer tracks `num_batches_tracked`).
pub fn has_batch_norm(model: &dyn Model) -> bool {
    model
        .buffer_names()
        .iter()
        .any(|n| n.ends_with("num_batches_tracked"))
}

/// Re-estimates the BatchNorm running statistics with the quantization state `state` on (an
/// extension beyond the paper, which keeps the FP statistics for Reg): `batches` training batches
/// (no augmentation, no gradient, a fixed seeded order) are passed through in train mode with the
/// buffer store's [`RunningStatsUpdate::Cumulative`] mode, so each running statistic becomes the
/// plain average of the per-batch statistics and nothing of the old statistics remains. Returns
/// the previous buffers so the caller can put them back with
/// [`BufferStore::restore`](smallscale_models::BufferStore::restore); on error they are
/// restored before returning.
pub fn reestimate_batch_norm(
    model: &dyn Model,
    data: &ImageDataset,
    normalization: &ChannelNormalization,
    state: QuantizationState,
    batches: usize,
    batch_size: usize,
) -> Result<BufferSnapshot> {
    let buffers = model.buffers();
    // Puts the previous buffers back unless disarmed: on error and on panic.
    struct Restore<'a> {
        store: &'a BufferStore,
        snapshot: Option<BufferSnapshot>,
    }
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            if let Some(s) = self.snapshot.take() {
                self.store.restore(&s);
            }
        }
    }
    let mut guard = Restore {
        store: buffers,
        snapshot: Some(buffers.copy()?),
    };
    let result = model.quant().with_state(state, || {
        buffers.with_running_stats_update(RunningStatsUpdate::Cumulative, || -> Result<()> {
            let params = BatchParams::new(batch_size)?.with_seed(0x5eed);
            let batcher = ImageBatcher::new(data, params).with_normalization(normalization.clone());
            let mut seen = 0usize;
            for batch in batcher.epoch(0).take(batches) {
                let (x, _) = batch_tensors(&batch?, model.context().device())?;
                model.forward_t(&x.detach(), true)?;
                seen += 1;
            }
            if seen == 0 {
                return Err(OscRegError::NoReestimationBatch);
            }
            Ok(())
        })
    });
    result?;
    Ok(guard
        .snapshot
        .take()
        .expect("the snapshot is taken only here"))
}
