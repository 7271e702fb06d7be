//! Iterative weight freezing (Nagel et al. 2022, "Overcoming Oscillations in Quantization-Aware
//! Training"): a QAT baseline that stops every weight that oscillates too often.

use std::collections::BTreeMap;

use candle_core::{DType, Tensor, Var};
use serde::{Deserialize, Serialize};
use smallscale_quant_core::{BitWidth, MaxAbsQuantizer, Quantizer};

use crate::annealing::WarmupCosine;
use crate::dampening::BASELINE_WARMUP_FRACTION;
use crate::errors::{OscRegError, Result};
use crate::oscillation::{OscillationParams, OscillationTracker};

/// Validated settings of iterative weight freezing: the target bit-width, the EMA momentum `m` of
/// the oscillation frequency and of the integer codes, the frequency threshold (cosine-annealed from
/// its start to its end value after a warm-up without freezing), and the warm-up share of the steps.
///
/// Defaults: `m = 0.01`, threshold 0.1 -> 0.01 (Nagel et al.'s MobileNetV2 script), warm-up 25 %.
///
/// ```
/// use smallscale_osc_reg::FreezingParams;
/// let p = FreezingParams::new(3)?.with_thresholds(0.05, 0.01)?;
/// assert_eq!((p.threshold_start(), p.threshold_end(), p.momentum()), (0.05, 0.01, 0.01));
/// assert!(p.with_thresholds(0.0, 0.01).is_err());
/// assert!(p.with_momentum(0.0).is_err());
/// # Ok::<(), smallscale_osc_reg::OscRegError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "FreezingFields")]
pub struct FreezingParams {
    bits: BitWidth,
    momentum: f64,
    threshold_start: f64,
    threshold_end: f64,
    warmup_fraction: f64,
}

/// The fields of [`FreezingParams`] as read from a file, validated on the way in.
#[derive(Deserialize)]
struct FreezingFields {
    bits: BitWidth,
    momentum: f64,
    threshold_start: f64,
    threshold_end: f64,
    #[serde(default = "crate::dampening::default_warmup")]
    warmup_fraction: f64,
}

impl TryFrom<FreezingFields> for FreezingParams {
    type Error = OscRegError;

    fn try_from(f: FreezingFields) -> Result<Self> {
        FreezingParams::new(f.bits.get())?
            .with_momentum(f.momentum)?
            .with_thresholds(f.threshold_start, f.threshold_end)?
            .with_warmup_fraction(f.warmup_fraction)
    }
}

impl FreezingParams {
    /// Freezing for target `bits` (2..=16) with the defaults.
    pub fn new(bits: u32) -> Result<Self> {
        Ok(Self {
            bits: BitWidth::new(bits)?,
            momentum: 0.01,
            threshold_start: 0.1,
            threshold_end: 0.01,
            warmup_fraction: BASELINE_WARMUP_FRACTION,
        })
    }

    /// The same settings at another target bit-width.
    pub fn with_bits(mut self, bits: BitWidth) -> Self {
        self.bits = bits;
        self
    }

    /// Sets the EMA momentum (in `(0, 1]`).
    pub fn with_momentum(mut self, momentum: f64) -> Result<Self> {
        OscillationParams::new(momentum, 0.0)?;
        self.momentum = momentum;
        Ok(self)
    }

    /// Sets the threshold's start and end values (each in `(0, 1)`). Nagel et al. advise a threshold
    /// of at least 2 to 3 times the momentum.
    pub fn with_thresholds(mut self, start: f64, end: f64) -> Result<Self> {
        for (which, v) in [("start", start), ("end", end)] {
            if !(v > 0.0 && v < 1.0) {
                return Err(OscRegError::InvalidParameter {
                    parameter: "freezing threshold",
                    reason: format!(
                        "the {which} value must lie in (0, 1), got {v} (Nagel et al. use 0.1 -> 0.01)"
                    ),
                });
            }
        }
        self.threshold_start = start;
        self.threshold_end = end;
        Ok(self)
    }

    /// Sets the warm-up share of the steps (in `[0, 1)`), during which nothing freezes.
    pub fn with_warmup_fraction(mut self, fraction: f64) -> Result<Self> {
        WarmupCosine::new(fraction, 0.0, self.threshold_start, self.threshold_end)?;
        self.warmup_fraction = fraction;
        Ok(self)
    }

    /// The target bit-width.
    pub fn bits(&self) -> BitWidth {
        self.bits
    }

    /// The EMA momentum.
    pub fn momentum(&self) -> f64 {
        self.momentum
    }

    /// The threshold when freezing starts.
    pub fn threshold_start(&self) -> f64 {
        self.threshold_start
    }

    /// The threshold at the last step.
    pub fn threshold_end(&self) -> f64 {
        self.threshold_end
    }

    /// The warm-up share of the steps.
    pub fn warmup_fraction(&self) -> f64 {
        self.warmup_fraction
    }

    /// The threshold's schedule: 0 (no freezing) during the warm-up, then cosine from start to end.
    pub fn schedule(&self) -> WarmupCosine {
        WarmupCosine::new(
            self.warmup_fraction,
            0.0,
            self.threshold_start,
            self.threshold_end,
        )
        .expect("validated when the parameters were built")
    }
}

/// The frozen weights of one layer and the EMA of its integer codes.
#[derive(Debug, Clone)]
struct LayerFreeze {
    ema_codes: Vec<f32>,
    frozen: Vec<bool>,
    values: Vec<f32>,
}

/// Iterative weight freezing over a training run.
///
/// After every optimizer step, [`WeightFreezer::step`] first writes the weights frozen earlier back
/// to their values (so that nothing the optimizer did to them counts), then computes each quantized
/// layer's integer codes at the target bit (the reference max-abs quantizer), updates the
/// oscillation tracker (spec §5, momentum `m`) and the EMA of the codes
/// (`e_t = m x_t + (1 - m) e_{t-1}`, from the first step), and freezes every weight whose
/// oscillation frequency exceeds the step's threshold: the weight is set to `round(e_t) * s_t` (the
/// EMA's code at the current scale) and is written back to that value after every later step, so it
/// receives no further updates. A threshold of 0 (the warm-up) freezes nothing. The frozen value is
/// a float fixed at the scale of the step it froze, as the weight would be if it stopped moving;
/// Nagel et al. fix its integer code under a learned scale instead.
///
/// ```
/// use candle_core::{Device, Var};
/// use smallscale_osc_reg::{FreezingParams, WeightFreezer};
/// let p = FreezingParams::new(2)?.with_momentum(0.5)?.with_thresholds(0.3, 0.3)?.with_warmup_fraction(0.0)?;
/// let mut freezer = WeightFreezer::new(p);
/// // Ternary codes with scale 1: weight 0 flips between 0 and 1 (oscillates), weight 1 stays at -1.
/// let w = Var::new(&[0.4f32, -0.9, 1.0], &Device::Cpu)?;
/// for value in [0.6f32, 0.4, 0.6, 0.4] {
///     w.set(&candle_core::Tensor::new(&[value, -0.9, 1.0], &Device::Cpu)?)?;
///     freezer.step(&[("w".to_string(), w.clone())], 1, 2)?;
/// }
/// assert_eq!(freezer.frozen_count(), 1); // only the oscillating weight
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct WeightFreezer {
    params: FreezingParams,
    quantizer: MaxAbsQuantizer,
    tracker: OscillationTracker,
    layers: BTreeMap<String, LayerFreeze>,
}

/// Name prefixes of the freezer's state in a run's optimizer checkpoint.
const TRACKER_PREFIX: &str = "method/freezing/tracker/";
const FREEZE_PREFIX: &str = "method/freezing/layers/";

impl WeightFreezer {
    /// A freezer with nothing frozen. Its tracker counts a weight as oscillating in its statistics
    /// above the default threshold of the oscillation tracker (0.005), like the other methods'.
    pub fn new(params: FreezingParams) -> Self {
        let tracking =
            OscillationParams::new(params.momentum(), OscillationParams::default().threshold())
                .expect("validated when the parameters were built");
        Self {
            params,
            quantizer: MaxAbsQuantizer::with_bits(params.bits()),
            tracker: OscillationTracker::new(tracking),
            layers: BTreeMap::new(),
        }
    }

    /// Sets the threshold above which the tracker's statistics count a weight as oscillating (not
    /// the freezing threshold; only what [`OscillationTracker::stats`] reports).
    pub fn with_statistics_threshold(mut self, threshold: f64) -> Result<Self> {
        let tracking = OscillationParams::new(self.params.momentum(), threshold)?;
        self.tracker = OscillationTracker::new(tracking);
        Ok(self)
    }

    /// The settings.
    pub fn params(&self) -> &FreezingParams {
        &self.params
    }

    /// The oscillation tracker the freezing decisions come from.
    pub fn tracker(&self) -> &OscillationTracker {
        &self.tracker
    }

    /// The number of frozen weights.
    pub fn frozen_count(&self) -> usize {
        self.layers
            .values()
            .map(|l| l.frozen.iter().filter(|&&f| f).count())
            .sum()
    }

    /// The share of the tracked weights that are frozen (0 before the first step).
    pub fn frozen_fraction(&self) -> f64 {
        let total: usize = self.layers.values().map(|l| l.frozen.len()).sum();
        if total == 0 {
            0.0
        } else {
            self.frozen_count() as f64 / total as f64
        }
    }

    /// Which weights of layer `name` are frozen, and at what values.
    pub fn frozen(&self, name: &str) -> Option<(&[bool], &[f32])> {
        self.layers
            .get(name)
            .map(|l| (l.frozen.as_slice(), l.values.as_slice()))
    }

    /// One training step (`step` of `total_steps`, 0-based) after the optimizer's update of `vars`
    /// (the quantized weights): tracks, freezes, and writes every frozen weight back to its value.
    pub fn step(&mut self, vars: &[(String, Var)], step: usize, total_steps: usize) -> Result<()> {
        let threshold = self.params.schedule().value(step, total_steps) as f32;
        let m = self.params.momentum() as f32;
        for (name, var) in vars {
            if let Some(layer) = self.layers.get(name)
                && layer.frozen.iter().any(|&f| f)
            {
                write_frozen(var, layer)?;
            }
            let quantized = self.quantizer.quantize(var.as_tensor())?;
            let codes = &quantized.codes;
            self.tracker.update(name, codes)?;
            let scale = quantized.scales.first().copied().unwrap_or(0.0) as f32;
            let layer = self
                .layers
                .entry(name.clone())
                .or_insert_with(|| LayerFreeze {
                    ema_codes: codes.iter().map(|&c| c as f32).collect(),
                    frozen: vec![false; codes.len()],
                    values: vec![0.0; codes.len()],
                });
            if layer.ema_codes.len() != codes.len() {
                return Err(OscRegError::LayerChangedSize {
                    layer: name.clone(),
                    before: layer.ema_codes.len(),
                    after: codes.len(),
                });
            }
            for (e, &c) in layer.ema_codes.iter_mut().zip(codes) {
                *e = m * c as f32 + (1.0 - m) * *e;
            }
            let mut newly_frozen = false;
            if threshold > 0.0 {
                let frequencies = self.tracker.frequencies(name).unwrap_or(&[]);
                for (i, &f) in frequencies.iter().enumerate() {
                    if f > threshold && !layer.frozen[i] {
                        layer.frozen[i] = true;
                        layer.values[i] = layer.ema_codes[i].round_ties_even() * scale;
                        newly_frozen = true;
                    }
                }
            }
            if newly_frozen {
                write_frozen(var, layer)?;
            }
        }
        Ok(())
    }

    /// The freezer's whole state (tracker, code EMAs, frozen weights) as named tensors, for the
    /// run's checkpoint.
    pub(crate) fn state_tensors(&self) -> Result<BTreeMap<String, Tensor>> {
        let mut out = self.tracker.state_tensors(TRACKER_PREFIX)?;
        let cpu = candle_core::Device::Cpu;
        for (name, l) in &self.layers {
            let n = l.frozen.len();
            let key = |part: &str| format!("{FREEZE_PREFIX}{name}/{part}");
            out.insert(
                key("ema_codes"),
                Tensor::from_vec(l.ema_codes.clone(), n, &cpu)?,
            );
            let frozen: Vec<u8> = l.frozen.iter().map(|&f| u8::from(f)).collect();
            out.insert(key("frozen"), Tensor::from_vec(frozen, n, &cpu)?);
            out.insert(key("values"), Tensor::from_vec(l.values.clone(), n, &cpu)?);
        }
        Ok(out)
    }

    /// Restores the state [`WeightFreezer::state_tensors`] wrote.
    pub(crate) fn load_state_tensors(&mut self, tensors: &BTreeMap<String, Tensor>) -> Result<()> {
        self.tracker.load_state_tensors(TRACKER_PREFIX, tensors)?;
        self.layers.clear();
        for (key, t) in tensors {
            let Some(name) = key
                .strip_prefix(FREEZE_PREFIX)
                .and_then(|rest| rest.strip_suffix("/ema_codes"))
            else {
                continue;
            };
            let get = |part: &str| {
                tensors
                    .get(&format!("{FREEZE_PREFIX}{name}/{part}"))
                    .ok_or_else(|| OscRegError::InvalidParameter {
                        parameter: "freezing state",
                        reason: format!(
                            "the checkpoint lacks the {part} of {name}: delete the run directory to start over"
                        ),
                    })
            };
            let ema_codes = t.to_vec1::<f32>()?;
            let frozen: Vec<bool> = get("frozen")?
                .to_vec1::<u8>()?
                .into_iter()
                .map(|f| f != 0)
                .collect();
            let values = get("values")?.to_vec1::<f32>()?;
            if frozen.len() != ema_codes.len() || values.len() != ema_codes.len() {
                return Err(OscRegError::InvalidParameter {
                    parameter: "freezing state",
                    reason: format!(
                        "the checkpoint's state of {name} has inconsistent sizes: delete the run directory to start over"
                    ),
                });
            }
            self.layers.insert(
                name.to_string(),
                LayerFreeze {
                    ema_codes,
                    frozen,
                    values,
                },
            );
        }
        Ok(())
    }
}

/// Writes the frozen values of `layer` into `var`, leaving the other weights as they are.
fn write_frozen(var: &Var, layer: &LayerFreeze) -> Result<()> {
    let t = var.as_tensor();
    let dtype = t.dtype();
    let mut values = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
    for ((v, &frozen), &fixed) in values.iter_mut().zip(&layer.frozen).zip(&layer.values) {
        if frozen {
            *v = fixed;
        }
    }
    let updated = Tensor::from_vec(values, t.dims(), t.device())?.to_dtype(dtype)?;
    var.set(&updated)?;
    Ok(())
}
