//! Which named tensors a quantizer applies to.

use candle_core::DType;
use glob::Pattern;

use crate::error::{QuantError, Result};

/// Chooses the named tensors to quantize: floating tensors only, optionally only parameters named
/// `weight` (the paper's reference choice), minus every name that matches an exclude pattern.
///
/// Patterns are globs matched against the full name (`*` matches any run of characters, dots
/// included): `"*.bias"`, `"fc.*"`, `"layer1.0.conv1.weight"`.
///
/// ```
/// use candle_core::DType;
/// use smallscale_quant_core::TensorSelector;
/// let sel = TensorSelector::reference_weights().exclude("head.*")?;
/// assert!(sel.selects("layer1.conv.weight", DType::F32));
/// assert!(sel.selects("norm.weight", DType::F32)); // norm gammas are quantized too
/// assert!(!sel.selects("layer1.conv.bias", DType::F32)); // never biases
/// assert!(!sel.selects("head.weight", DType::F32)); // excluded
/// assert!(!sel.selects("steps.weight", DType::I64)); // not floating
/// # Ok::<(), smallscale_quant_core::QuantError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TensorSelector {
    weights_only: bool,
    exclude: Vec<Pattern>,
}

impl TensorSelector {
    /// Every floating tensor.
    pub fn all_floating() -> Self {
        Self::default()
    }

    /// The reference's choice: every floating parameter whose name is `weight` or ends in `.weight`
    /// (conv, linear, norm gammas, embeddings), never biases or free parameters.
    pub fn reference_weights() -> Self {
        Self {
            weights_only: true,
            exclude: Vec::new(),
        }
    }

    /// Adds an exclude pattern (a glob over the full name).
    pub fn exclude(mut self, pattern: &str) -> Result<Self> {
        let p = Pattern::new(pattern).map_err(|e| QuantError::InvalidPattern {
            pattern: pattern.to_string(),
            reason: e.msg.to_string(),
        })?;
        self.exclude.push(p);
        Ok(self)
    }

    /// Adds several exclude patterns.
    pub fn exclude_all<S: AsRef<str>>(self, patterns: impl IntoIterator<Item = S>) -> Result<Self> {
        patterns
            .into_iter()
            .try_fold(self, |sel, p| sel.exclude(p.as_ref()))
    }

    /// The exclude patterns, as given.
    pub fn exclude_patterns(&self) -> Vec<&str> {
        self.exclude.iter().map(Pattern::as_str).collect()
    }

    /// The exclude patterns that match none of `names` (most likely a typo: say so rather than
    /// quantize a tensor the user meant to keep).
    ///
    /// ```
    /// use smallscale_quant_core::TensorSelector;
    /// let sel = TensorSelector::all_floating().exclude_all(["*.bias", "fc2.*"])?;
    /// assert_eq!(sel.unmatched_patterns(["fc.weight", "fc.bias"]), ["fc2.*"]);
    /// # Ok::<(), smallscale_quant_core::QuantError>(())
    /// ```
    pub fn unmatched_patterns<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Vec<&str> {
        let names: Vec<&str> = names.into_iter().collect();
        self.exclude
            .iter()
            .filter(|p| !names.iter().any(|n| p.matches(n)))
            .map(Pattern::as_str)
            .collect()
    }

    /// Whether a tensor with this name and dtype is quantized.
    pub fn selects(&self, name: &str, dtype: DType) -> bool {
        dtype.is_float()
            && (!self.weights_only || name == "weight" || name.ends_with(".weight"))
            && !self.exclude.iter().any(|p| p.matches(name))
    }
}
