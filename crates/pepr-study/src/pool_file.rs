//! The model pool of a study: a JSON file the user can edit, with three presets shipped.
//!
//! ```json
//! {
//!   "description": "what the pool is for",
//!   "models": [
//!     { "name": "mlp-w4", "model": "mlp", "width": 4 },
//!     { "name": "vit-d64", "model": "vit", "config": { "embed_dim": 64, "depth": 2, "num_heads": 2 } },
//!     { "name": "resnet18-w16", "model": "resnet18", "width": 16, "efficient": false }
//!   ]
//! }
//! ```
//!
//! `model` is a registered architecture (`mlp`, `small-cnn`, `vit`, `resnet18`), `config` the
//! fields to change from its default configuration, `width` the width of its first stage or
//! layer; the input shape and the classes come from the data. `efficient` fills the column of
//! that name in the study's table (the authors flag architectures designed for efficiency).

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use smallscale_models::{ModelConfig, ModelSpec};

use crate::errors::{Result, StudyError};

const QUICK_POOL: &str = include_str!("../pools/quick.json");
const DEFAULT_POOL: &str = include_str!("../pools/default.json");
const FULL_POOL: &str = include_str!("../pools/full.json");

/// The size of a shipped study: pool, epochs and caps (see [`crate::StudyParams::preset`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StudyPreset {
    /// Three tiny models, two epochs: seconds (well under a minute); checks the pipeline,
    /// decides nothing.
    Quick,
    /// Seven models of four families over three orders of magnitude: at most 15 minutes on 2 cores.
    Default,
    /// Fifteen models up to the full ResNet-18: hours on a CPU.
    Full,
}

impl StudyPreset {
    /// The preset's name (`quick`, `default`, `full`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Quick => "quick",
            Self::Default => "default",
            Self::Full => "full",
        }
    }

    /// The preset's pool file as shipped (to copy and edit).
    pub fn pool_json(self) -> &'static str {
        match self {
            Self::Quick => QUICK_POOL,
            Self::Default => DEFAULT_POOL,
            Self::Full => FULL_POOL,
        }
    }
}

/// One model of a pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolModel {
    /// The name in the study's table (unique within the pool; letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// The registered architecture.
    pub model: String,
    /// Fields to change from the architecture's default configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Map<String, Value>>,
    /// Width of the first stage or layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<usize>,
    /// Whether the architecture counts as designed for efficiency (the authors' `efficient`).
    #[serde(default)]
    pub efficient: bool,
}

impl PoolModel {
    /// The model spec (architecture, fields, width).
    pub fn spec(&self) -> ModelSpec {
        ModelSpec {
            model: Some(self.model.clone()),
            config: self.config.clone(),
            width: self.width,
            classes: None,
        }
    }

    /// The configuration for `shape` images and `classes` classes.
    ///
    /// # Errors
    ///
    /// [`StudyError::Model`] naming the model.
    pub fn resolve(&self, shape: [usize; 3], classes: usize) -> Result<ModelConfig> {
        self.spec()
            .resolve(shape, classes)
            .map_err(|source| StudyError::Model {
                name: self.name.clone(),
                source: Box::new(source),
            })
    }

    /// The family: `CNN`, `Transformer` or `MLP` (the table's `family` column; its `type`
    /// column uses the authors' `CNN` / `Other`).
    pub fn family(&self) -> &'static str {
        match self.model.as_str() {
            "vit" => "Transformer",
            "mlp" => "MLP",
            _ => "CNN",
        }
    }
}

/// A pool of models ([`StudyPool::validate`] says what a usable one is; [`StudyPool::from_json`]
/// and [`crate::StudyParams::check`] check it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyPool {
    /// What the pool is for.
    #[serde(default)]
    pub description: String,
    /// The models, in the order they are trained and listed.
    pub models: Vec<PoolModel>,
}

impl StudyPool {
    /// Parses and checks a pool file's text; `origin` names it in errors.
    ///
    /// # Errors
    ///
    /// [`StudyError::Pool`]: not JSON of this layout, fewer than two models, a repeated or
    /// unusable name, or a model that cannot be configured (checked on 1x28x28 images with 2
    /// classes; the study checks again on its data).
    ///
    /// ```
    /// use smallscale_pepr_study::StudyPool;
    /// let pool = StudyPool::from_json(r#"{"models": [
    ///     {"name": "a", "model": "mlp", "width": 8},
    ///     {"name": "b", "model": "small-cnn"}]}"#, "inline")?;
    /// assert_eq!(pool.models.len(), 2);
    /// assert!(StudyPool::from_json(r#"{"models": [{"name": "a", "model": "mlp"}, {"name": "a", "model": "mlp"}]}"#, "inline").is_err());
    /// # Ok::<(), smallscale_pepr_study::StudyError>(())
    /// ```
    pub fn from_json(text: &str, origin: &str) -> Result<Self> {
        let error = |reason: String| StudyError::Pool {
            origin: origin.to_string(),
            reason,
        };
        let pool: Self = serde_json::from_str(text).map_err(|e| {
            error(format!(
                "not a pool file ({e}); write {{\"models\": [{{\"name\": \"mlp-w4\", \"model\": \"mlp\", \"width\": 4}}, ...]}} (`smallscale study --print-pool` prints the default one)"
            ))
        })?;
        pool.validate(origin)?;
        Ok(pool)
    }

    /// Checks the pool: at least two models, unique names (ignoring case, since they become
    /// directory names) made of letters, digits, `-`, `_` and `.`, every model configurable
    /// (on 1x28x28 images with 2 classes; the study checks again on its data). `origin` names the
    /// pool in errors.
    ///
    /// # Errors
    ///
    /// [`StudyError::Pool`] with the reason.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let error = |reason: String| StudyError::Pool {
            origin: origin.to_string(),
            reason,
        };
        if self.models.len() < 2 {
            return Err(error(format!(
                "has {} model(s); a pool needs at least two to compare",
                self.models.len()
            )));
        }
        let mut seen = BTreeSet::new();
        for m in &self.models {
            let ok = !m.name.is_empty()
                && m.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && !m.name.starts_with('.');
            if !ok {
                return Err(error(format!(
                    "model name {:?} is not usable as a table entry and a directory name: use letters, digits, '-', '_' and '.'",
                    m.name
                )));
            }
            if !seen.insert(m.name.to_ascii_lowercase()) {
                return Err(error(format!(
                    "model name {:?} appears twice (names are compared ignoring case); names must be unique",
                    m.name
                )));
            }
            m.resolve([1, 28, 28], 2)
                .map_err(|e| error(e.to_string()))?;
        }
        Ok(())
    }

    /// Reads and checks a pool file.
    ///
    /// # Errors
    ///
    /// [`StudyError::Pool`] as [`StudyPool::from_json`], or when the file cannot be read.
    pub fn read(path: &Path) -> Result<Self> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| StudyError::Pool {
            origin: origin.clone(),
            reason: format!("cannot be read ({e})"),
        })?;
        Self::from_json(&text, &origin)
    }

    /// A shipped pool.
    pub fn preset(preset: StudyPreset) -> Self {
        Self::from_json(preset.pool_json(), preset.name())
            .expect("the shipped pools are valid (tested)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_pools_parse_and_the_default_spans_three_orders_of_magnitude() {
        for preset in [StudyPreset::Quick, StudyPreset::Default, StudyPreset::Full] {
            let pool = StudyPool::preset(preset);
            assert!(pool.models.len() >= 3, "{}", preset.name());
        }
        let pool = StudyPool::preset(StudyPreset::Default);
        let sizes: Vec<usize> = pool
            .models
            .iter()
            .map(|m| {
                let config = m.resolve([1, 28, 28], 2).unwrap();
                let ctx = smallscale_models::ModelContext::new(candle_core::Device::Cpu);
                smallscale_models::build_model(&config, &ctx)
                    .unwrap()
                    .num_parameters()
            })
            .collect();
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(*max as f64 / *min as f64 >= 1000.0, "{sizes:?}");
        let families: BTreeSet<&str> = pool.models.iter().map(|m| m.model.as_str()).collect();
        assert_eq!(families.len(), 4, "{families:?}");
    }

    #[test]
    fn bad_pools_are_refused_with_the_reason() {
        let cases = [
            ("[]", "not a pool file"),
            (
                r#"{"models": [{"name": "a", "model": "mlp"}]}"#,
                "at least two",
            ),
            (
                r#"{"models": [{"name": "a/b", "model": "mlp"}, {"name": "c", "model": "mlp"}]}"#,
                "not usable",
            ),
            (
                r#"{"models": [{"name": "a", "model": "lenet"}, {"name": "c", "model": "mlp"}]}"#,
                "unknown model",
            ),
            (
                r#"{"models": [{"name": "a", "model": "mlp", "config": {"depth": 2}}, {"name": "c", "model": "mlp"}]}"#,
                "not a valid mlp configuration",
            ),
            (
                r#"{"models": [{"name": "a", "model": "mlp", "widht": 2}, {"name": "c", "model": "mlp"}]}"#,
                "unknown field",
            ),
        ];
        for (text, expected) in cases {
            let err = StudyPool::from_json(text, "test.json")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(expected) && err.contains("test.json"),
                "{text}: {err}"
            );
        }
    }
}
