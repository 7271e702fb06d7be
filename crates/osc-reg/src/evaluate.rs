//! Accuracy at a quantization state, PTQ and cross-bit evaluation, and BatchNorm re-estimation.

use std::collections::BTreeMap;

use candle_core::{D, Tensor};
use serde::{Deserialize, Serialize};
use smallscale_datasets::{BatchParams, ChannelNormalization, ImageBatcher, ImageDataset};
use smallscale_models::{BN_MOMENTUM, Model, QuantizationState};

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
    pub per_bit: Vec<(u32, f64)>,
}

impl CrossBitAccuracy {
    /// The accuracy at `bits`, if evaluated.
    pub fn at(&self, bits: u32) -> Option<f64> {
        self.per_bit
            .iter()
            .find(|(b, _)| *b == bits)
            .map(|(_, a)| *a)
    }
}

/// Evaluates `model` at full precision and with the reference quantizer at every bit-width in `bits`,
/// keeping the model's exclude list; the model's quantization state is restored afterwards.
pub fn cross_bit_evaluation(
    model: &dyn Model,
    data: &ImageDataset,
    normalization: &ChannelNormalization,
    bits: &[u32],
    batch_size: usize,
) -> Result<CrossBitAccuracy> {
    let selector = model.quant().get().selector().clone();
    let fp = accuracy(
        model,
        data,
        normalization,
        QuantizationState::off().with_selector(selector.clone()),
        batch_size,
    )?;
    let mut per_bit = Vec::with_capacity(bits.len());
    for &b in bits {
        let state = QuantizationState::reference(b)?.with_selector(selector.clone());
        per_bit.push((b, accuracy(model, data, normalization, state, batch_size)?));
    }
    per_bit.sort_by_key(|(b, _)| *b);
    Ok(CrossBitAccuracy { fp, per_bit })
}

/// Re-estimates the BatchNorm running statistics with the quantization state `state` on (an extension
/// beyond the paper, which keeps the FP statistics for Reg): `batches` training batches (no
/// augmentation, no gradient) are passed through in train mode and each running statistic is set to
/// the plain average of the per-batch statistics (recovered exactly from the layers' momentum
/// updates), so nothing of the old statistics remains. Returns the previous buffers so the caller
/// can restore them with [`restore_buffers`]; on error they are restored before returning.
pub fn reestimate_batch_norm(
    model: &dyn Model,
    data: &ImageDataset,
    normalization: &ChannelNormalization,
    state: QuantizationState,
    batches: usize,
    batch_size: usize,
) -> Result<BTreeMap<String, Tensor>> {
    let previous = copy_buffers(model)?;
    let result = model.quant().with_state(state, || -> Result<()> {
        let params = BatchParams::new(batch_size)?.with_seed(0x5eed);
        let batcher = ImageBatcher::new(data, params).with_normalization(normalization.clone());
        let running: Vec<String> = previous
            .keys()
            .filter(|n| n.contains("running_"))
            .cloned()
            .collect();
        let mut sums: BTreeMap<String, Tensor> = BTreeMap::new();
        let mut seen = 0usize;
        for batch in batcher.epoch(0).take(batches) {
            let (x, _) = batch_tensors(&batch?, model.context().device())?;
            let before = copy_buffers(model)?;
            model.forward_t(&x.detach(), true)?;
            // running = (1 - m) running + m batch  =>  batch = (running_new - (1 - m) running_old) / m
            let m = BN_MOMENTUM;
            for name in &running {
                let (Some(old), Some(new)) = (before.get(name), model.buffers().get(name)) else {
                    continue;
                };
                let batch_stat = ((new - (old * (1.0 - m))?)? / m)?;
                let sum = match sums.remove(name) {
                    Some(s) => (s + batch_stat)?,
                    None => batch_stat,
                };
                sums.insert(name.clone(), sum);
            }
            seen += 1;
        }
        if seen == 0 {
            return Err(OscRegError::InvalidParameter {
                parameter: "BatchNorm re-estimation",
                reason: "no training batch was available".into(),
            });
        }
        for (name, sum) in sums {
            model.buffers().set(&name, (sum / seen as f64)?);
        }
        Ok(())
    });
    match result {
        Ok(()) => Ok(previous),
        Err(e) => {
            restore_buffers(model, &previous);
            Err(e)
        }
    }
}

/// Deep copies of every buffer (BatchNorm running statistics).
pub fn copy_buffers(model: &dyn Model) -> Result<BTreeMap<String, Tensor>> {
    model
        .buffers()
        .snapshot()
        .into_iter()
        .map(|(n, t)| Ok((n, t.copy()?)))
        .collect()
}

/// Puts back buffers saved by [`copy_buffers`] or [`reestimate_batch_norm`].
pub fn restore_buffers(model: &dyn Model, buffers: &BTreeMap<String, Tensor>) {
    for (name, t) in buffers {
        model.buffers().set(name, t.clone());
    }
}
