//! Seeded, order-independent parameter initialization.
//!
//! candle's CPU random generator cannot be seeded, so parameters are drawn from a small SplitMix64
//! generator seeded by the model seed and the parameter's full name: the same seed and
//! configuration give the same weights on every device, whatever the construction order.

use candle_core::{DType, Device, Tensor};

/// How a parameter is initialized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// All zeros (biases of norms, ...).
    Zeros,
    /// All ones (norm gammas).
    Ones,
    /// Uniform on `[-bound, bound]` (PyTorch's default for conv and linear layers uses
    /// `bound = 1 / sqrt(fan_in)`).
    Uniform {
        /// Half-width of the interval.
        bound: f64,
    },
    /// Normal with mean 0 (He init: `std = sqrt(2 / fan)`; ViT tokens: `std = 0.02`).
    Normal {
        /// Standard deviation.
        std: f64,
    },
}

impl Init {
    /// PyTorch's default for conv and linear weights and biases: `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`.
    pub fn fan_in_uniform(fan_in: usize) -> Self {
        Self::Uniform {
            bound: 1.0 / (fan_in.max(1) as f64).sqrt(),
        }
    }

    /// He (Kaiming) normal for ReLU networks, `std = sqrt(2 / fan)`.
    pub fn kaiming_normal(fan: usize) -> Self {
        Self::Normal {
            std: (2.0 / fan.max(1) as f64).sqrt(),
        }
    }

    /// A tensor of `shape` drawn with this rule from the stream keyed by `(seed, name)`.
    pub fn tensor(
        self,
        seed: u64,
        name: &str,
        shape: &[usize],
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = match self {
            Self::Zeros => vec![0.0; n],
            Self::Ones => vec![1.0; n],
            Self::Uniform { bound } => {
                let mut rng = SplitMix64::keyed(seed, name);
                (0..n)
                    .map(|_| ((2.0 * rng.next_unit() - 1.0) * bound) as f32)
                    .collect()
            }
            Self::Normal { std } => {
                let mut rng = SplitMix64::keyed(seed, name);
                (0..n).map(|_| (rng.next_normal() * std) as f32).collect()
            }
        };
        Tensor::from_vec(values, shape, device)?.to_dtype(dtype)
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014): tiny, fast, good enough for initialization.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator keyed by a seed and a name (FNV-1a hash of the name mixed with the seed).
    pub(crate) fn keyed(seed: u64, name: &str) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Self(h ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub(crate) fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller; one value per call).
    pub(crate) fn next_normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_unit(); // (0, 1]
        let u2 = self.next_unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_stream_and_moments_are_sane() {
        let a: Vec<u64> = (0..4)
            .scan(SplitMix64::keyed(1, "w"), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .scan(SplitMix64::keyed(1, "w"), |r, _| Some(r.next_u64()))
            .collect();
        let c: Vec<u64> = (0..4)
            .scan(SplitMix64::keyed(2, "w"), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut r = SplitMix64::keyed(0, "normal");
        let xs: Vec<f64> = (0..20_000).map(|_| r.next_normal()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
    }
}
