//! Oscillation tracking per layer (spec §5, after Nagel et al. 2022).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::errors::{OscRegError, Result};

/// Validated settings of the oscillation tracker.
///
/// ```
/// use smallscale_osc_reg::OscillationParams;
/// let p = OscillationParams::new(0.01, 0.005)?; // EMA momentum m, threshold on f
/// assert!(OscillationParams::new(0.0, 0.005).is_err());
/// # Ok::<(), smallscale_osc_reg::OscRegError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OscillationParams {
    momentum: f64,
    threshold: f64,
}

impl Default for OscillationParams {
    /// `m = 0.01` and a threshold of `0.005` on the oscillation frequency, as in the spec.
    fn default() -> Self {
        Self {
            momentum: 0.01,
            threshold: 0.005,
        }
    }
}

impl OscillationParams {
    /// EMA momentum `m` in (0, 1] and the frequency threshold in [0, 1).
    pub fn new(momentum: f64, threshold: f64) -> Result<Self> {
        if !(momentum > 0.0 && momentum <= 1.0) {
            return Err(OscRegError::InvalidParameter {
                parameter: "oscillation momentum",
                reason: format!("must be in (0, 1], got {momentum} (the spec uses 0.01)"),
            });
        }
        if !(0.0..1.0).contains(&threshold) {
            return Err(OscRegError::InvalidParameter {
                parameter: "oscillation threshold",
                reason: format!("must be in [0, 1), got {threshold} (typical: 0.005 to 0.02)"),
            });
        }
        Ok(Self {
            momentum,
            threshold,
        })
    }

    /// The EMA momentum `m`.
    pub fn momentum(&self) -> f64 {
        self.momentum
    }

    /// The threshold above which a weight counts as oscillating.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }
}

/// Per-weight state of one layer.
#[derive(Debug, Clone)]
struct LayerState {
    codes: Vec<i32>,
    last_switch: Vec<i8>,
    frequency: Vec<f32>,
    steps: u64,
    last_switches: usize,
}

/// Oscillation statistics of one layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerOscillation {
    /// Layer (tensor) name.
    pub name: String,
    /// Number of weights.
    pub numel: usize,
    /// Fraction of weights whose oscillation frequency `f` exceeds the threshold.
    pub oscillating_fraction: f64,
    /// Mean of `f` over the layer's weights.
    pub mean_frequency: f64,
    /// Fraction of weights whose integer code changed at the last update.
    pub switch_fraction: f64,
    /// Number of updates seen.
    pub steps: u64,
}

/// Tracks oscillations of quantized weights in the integer domain, per layer.
///
/// For each weight, with integer codes `x_t = round(w_t / s_t)`: `delta_t = x_{t-1} - x_t`; a switch
/// happens where `delta_t != 0`; an oscillation happens at `t` when this switch has the opposite sign of
/// the weight's previous switch; `f_t = m * 1[oscillation at t] + (1 - m) * f_{t-1}`.
///
/// Caveat (spec §5): with a max-abs scale, codes can change because the scale changed, not only because
/// the weight moved.
///
/// ```
/// use smallscale_osc_reg::{OscillationParams, OscillationTracker};
/// let mut t = OscillationTracker::new(OscillationParams::new(0.5, 0.1)?);
/// t.update("w", &[0, 0])?;
/// t.update("w", &[1, 0])?; // a switch (down -> up), no previous switch: no oscillation
/// t.update("w", &[0, 0])?; // the opposite switch: an oscillation, f = 0.5
/// let stats = &t.stats()[0];
/// assert_eq!(stats.oscillating_fraction, 0.5);
/// assert_eq!(stats.mean_frequency, 0.25);
/// # Ok::<(), smallscale_osc_reg::OscRegError>(())
/// ```
#[derive(Debug, Clone)]
pub struct OscillationTracker {
    params: OscillationParams,
    layers: BTreeMap<String, LayerState>,
}

impl OscillationTracker {
    /// An empty tracker.
    pub fn new(params: OscillationParams) -> Self {
        Self {
            params,
            layers: BTreeMap::new(),
        }
    }

    /// Records the integer codes of layer `name` after a training step. The first call for a layer only
    /// sets its reference codes. The number of codes must stay the same.
    pub fn update(&mut self, name: &str, codes: &[i32]) -> Result<()> {
        let m = self.params.momentum as f32;
        match self.layers.get_mut(name) {
            None => {
                self.layers.insert(
                    name.to_string(),
                    LayerState {
                        codes: codes.to_vec(),
                        last_switch: vec![0; codes.len()],
                        frequency: vec![0.0; codes.len()],
                        steps: 0,
                        last_switches: 0,
                    },
                );
            }
            Some(state) => {
                if state.codes.len() != codes.len() {
                    return Err(OscRegError::LayerChangedSize {
                        layer: name.to_string(),
                        before: state.codes.len(),
                        after: codes.len(),
                    });
                }
                let mut switches = 0;
                let weights = state
                    .codes
                    .iter()
                    .zip(codes)
                    .zip(state.last_switch.iter_mut())
                    .zip(state.frequency.iter_mut());
                for (((&old, &new), last), freq) in weights {
                    let sign = (old - new).signum() as i8;
                    let oscillated = sign != 0 && *last == -sign;
                    if sign != 0 {
                        *last = sign;
                        switches += 1;
                    }
                    let event = if oscillated { 1.0 } else { 0.0 };
                    *freq = m * event + (1.0 - m) * *freq;
                }
                state.last_switches = switches;
                state.codes.copy_from_slice(codes);
                state.steps += 1;
            }
        }
        Ok(())
    }

    /// Statistics of every tracked layer, sorted by name.
    pub fn stats(&self) -> Vec<LayerOscillation> {
        let threshold = self.params.threshold as f32;
        self.layers
            .iter()
            .map(|(name, s)| {
                let n = s.codes.len().max(1) as f64;
                LayerOscillation {
                    name: name.clone(),
                    numel: s.codes.len(),
                    oscillating_fraction: s.frequency.iter().filter(|&&f| f > threshold).count()
                        as f64
                        / n,
                    mean_frequency: s.frequency.iter().map(|&f| f64::from(f)).sum::<f64>() / n,
                    switch_fraction: s.last_switches as f64 / n,
                    steps: s.steps,
                }
            })
            .collect()
    }

    /// Forgets every layer.
    pub fn reset(&mut self) {
        self.layers.clear();
    }

    /// The settings.
    pub fn params(&self) -> OscillationParams {
        self.params
    }

    /// The oscillation frequency `f` of every weight of layer `name` (absent before its first update).
    pub fn frequencies(&self, name: &str) -> Option<&[f32]> {
        self.layers.get(name).map(|s| s.frequency.as_slice())
    }

    /// The whole per-weight state as named tensors under `prefix` (codes, last switch directions,
    /// frequencies and counters of every layer), for a checkpoint from which a run resumes exactly.
    pub(crate) fn state_tensors(
        &self,
        prefix: &str,
    ) -> Result<BTreeMap<String, candle_core::Tensor>> {
        use candle_core::{Device, Tensor};
        let mut out = BTreeMap::new();
        for (name, s) in &self.layers {
            let key = |part: &str| format!("{prefix}{name}/{part}");
            let n = s.codes.len();
            // Codes lie in [-32767, 32767] and are exact in f32; switch directions -1, 0, 1 as 0, 1, 2.
            let codes: Vec<f32> = s.codes.iter().map(|&c| c as f32).collect();
            let last: Vec<u8> = s.last_switch.iter().map(|&c| (c + 1) as u8).collect();
            out.insert(key("codes"), Tensor::from_vec(codes, n, &Device::Cpu)?);
            out.insert(key("last_switch"), Tensor::from_vec(last, n, &Device::Cpu)?);
            out.insert(
                key("frequency"),
                Tensor::from_vec(s.frequency.clone(), n, &Device::Cpu)?,
            );
            out.insert(
                key("counters"),
                Tensor::new(&[s.steps as i64, s.last_switches as i64], &Device::Cpu)?,
            );
        }
        Ok(out)
    }

    /// Restores the state [`OscillationTracker::state_tensors`] wrote under `prefix` (layers not in
    /// `tensors` are forgotten).
    pub(crate) fn load_state_tensors(
        &mut self,
        prefix: &str,
        tensors: &BTreeMap<String, candle_core::Tensor>,
    ) -> Result<()> {
        self.layers.clear();
        for (key, t) in tensors {
            let Some(name) = key
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix("/codes"))
            else {
                continue;
            };
            let get = |part: &str| {
                tensors
                    .get(&format!("{prefix}{name}/{part}"))
                    .ok_or_else(|| OscRegError::InvalidParameter {
                        parameter: "oscillation state",
                        reason: format!(
                            "the checkpoint lacks {prefix}{name}/{part}: delete the run directory to start over"
                        ),
                    })
            };
            if t.dtype() != candle_core::DType::F32 {
                return Err(OscRegError::InvalidParameter {
                    parameter: "oscillation state",
                    reason: format!(
                        "the checkpoint stores {prefix}{name}/codes as {:?}, written by an older version: delete the run directory to start over",
                        t.dtype()
                    ),
                });
            }
            let codes: Vec<i32> = t.to_vec1::<f32>()?.into_iter().map(|c| c as i32).collect();
            let last_switch: Vec<i8> = get("last_switch")?
                .to_vec1::<u8>()?
                .into_iter()
                .map(|c| c as i8 - 1)
                .collect();
            let frequency = get("frequency")?.to_vec1::<f32>()?;
            let counters = get("counters")?.to_vec1::<i64>()?;
            if last_switch.len() != codes.len()
                || frequency.len() != codes.len()
                || counters.len() != 2
            {
                return Err(OscRegError::InvalidParameter {
                    parameter: "oscillation state",
                    reason: format!(
                        "the checkpoint's state of {name} has inconsistent sizes: delete the run directory to start over"
                    ),
                });
            }
            self.layers.insert(
                name.to_string(),
                LayerState {
                    codes,
                    last_switch,
                    frequency,
                    steps: counters[0].max(0) as u64,
                    last_switches: counters[1].max(0) as usize,
                },
            );
        }
        Ok(())
    }
}
