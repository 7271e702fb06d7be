//! A model as a user writes it: an architecture name, the fields to change from its default
//! configuration, a width and a class count; resolved against the data's image shape and
//! classes into a complete, validated [`ModelConfig`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::errors::{ModelError, Result};
use crate::registry::ModelConfig;

/// The default architecture when a spec names none.
pub const DEFAULT_ARCHITECTURE: &str = "small-cnn";

/// A partial model description (the `--model`, `--model-config`, `--width` and `--classes` of
/// the command line, and an entry of a PePR study's pool file).
///
/// Resolution: the default configuration of `model`, fitted to the data's shape and classes,
/// then the fields of `config`, then `width` ([`ModelConfig::with_width`]) and `classes`; the
/// result is validated and checked against the data.
///
/// ```
/// use smallscale_models::{ModelConfig, ModelSpec};
/// let spec: ModelSpec = serde_json::from_str(r#"{"model": "resnet18", "width": 8, "config": {"blocks": [1, 1, 1, 1]}}"#)?;
/// let ModelConfig::ResNet(c) = spec.resolve([1, 28, 28], 2)? else { unreachable!() };
/// assert_eq!((c.in_channels, c.num_classes, c.base_width, c.blocks), (1, 2, 8, [1, 1, 1, 1]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Registered architecture name [default: [`DEFAULT_ARCHITECTURE`]].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Fields of the configuration to change from the default (a JSON object; it may repeat
    /// the `model` tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Map<String, Value>>,
    /// Width of the first stage or layer (later layers keep their ratio to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<usize>,
    /// Output classes [default: the data's].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<usize>,
}

fn invalid(reason: String) -> ModelError {
    ModelError::InvalidConfig {
        model: "given",
        field: "model:",
        reason,
    }
}

impl ModelSpec {
    /// The architecture the spec names (`model`, else the `model` tag of `config`, else the
    /// default); `model` and the tag must agree.
    ///
    /// # Errors
    ///
    /// [`ModelError::InvalidConfig`] when they disagree.
    pub fn architecture(&self) -> Result<String> {
        let tagged = self
            .config
            .as_ref()
            .and_then(|c| c.get("model"))
            .and_then(Value::as_str);
        match (&self.model, tagged) {
            (Some(a), Some(b)) if a != b => Err(invalid(format!(
                "the architecture {a} disagrees with \"model\": \"{b}\" in the configuration: give one of them"
            ))),
            (Some(a), _) => Ok(a.clone()),
            (None, Some(b)) => Ok(b.to_string()),
            (None, None) => Ok(DEFAULT_ARCHITECTURE.to_string()),
        }
    }

    /// The complete configuration for `[channels, height, width]` images and `classes` classes.
    ///
    /// # Errors
    ///
    /// An unknown architecture, fields the architecture does not have, an invalid result, or one
    /// that does not fit the data.
    pub fn resolve(&self, shape: [usize; 3], classes: usize) -> Result<ModelConfig> {
        let name = self.architecture()?;
        let default = ModelConfig::default_for(&name)?;
        let mut value = serde_json::to_value(default.fitted_to(shape, classes))
            .map_err(|e| invalid(e.to_string()))?;
        if let (Some(fields), Value::Object(target)) = (&self.config, &mut value) {
            for (k, v) in fields {
                target.insert(k.clone(), v.clone());
            }
        }
        let mut config: ModelConfig = serde_json::from_value(value)
            .map_err(|e| invalid(format!("not a valid {name} configuration ({e})")))?;
        if let Some(width) = self.width {
            config = config.with_width(width)?;
        }
        if let Some(classes) = self.classes {
            config = config.with_classes(classes);
        }
        config.validate()?;
        config.check_fits(shape, classes)?;
        Ok(config)
    }
}
