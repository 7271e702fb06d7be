//! `--model`, `--model-config`, `--width` and `--classes`: which architecture to build and how,
//! fitted to the data's image shape and classes. Shared by the experiment commands.

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::Value;
use smallscale_models::{ModelConfig, ModelSpec, available_models};

use smallscale_osc_reg::DataDescription;

/// The registered architecture names, for `--model`'s possible values.
fn model_names() -> Vec<&'static str> {
    available_models().iter().map(|m| m.name).collect()
}

/// Which model to build.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Model")]
pub struct ModelArgs {
    /// Architecture [default: small-cnn].
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(model_names()))]
    pub model: Option<String>,
    /// Model configuration as JSON, inline or in a file: a full configuration
    /// ('{"model":"resnet18","in_channels":3,"num_classes":10,"base_width":16,"blocks":[2,2,2,2]}')
    /// or only the fields to change from the default ('{"base_width":16}').
    #[arg(long, value_name = "JSON|FILE")]
    pub model_config: Option<String>,
    /// Width of the first stage or layer: ResNet base_width, ViT embed_dim, small-CNN first block
    /// and MLP first hidden layer (later layers keep their ratio to the first).
    #[arg(long, value_name = "W")]
    pub width: Option<usize>,
    /// Number of output classes [default: the data's].
    #[arg(long, value_name = "K")]
    pub classes: Option<usize>,
}

impl ModelArgs {
    /// Whether any model option was given.
    pub fn is_given(&self) -> bool {
        self.model.is_some()
            || self.model_config.is_some()
            || self.width.is_some()
            || self.classes.is_some()
    }

    /// The configuration to build, fitted to `data`: the default configuration of the architecture,
    /// with its input shape and classes set from the data, then the fields of `--model-config`,
    /// then `--width` and `--classes`. The result is validated and checked against the data.
    pub fn resolve(&self, data: &DataDescription) -> Result<ModelConfig> {
        let config = match &self.model_config {
            Some(text) => match parse_config_argument(text)? {
                Value::Object(fields) => Some(fields),
                _ => bail!("--model-config must be a JSON object such as '{{\"base_width\": 16}}'"),
            },
            None => None,
        };
        let spec = ModelSpec {
            model: self.model.clone(),
            config,
            width: self.width,
            classes: self.classes,
        };
        spec.resolve(data.shape, data.classes)
            .context("--model / --model-config / --width / --classes")
    }
}

/// Parses `--model-config`: inline JSON when it starts with `{`, else the path of a JSON file.
fn parse_config_argument(text: &str) -> Result<Value> {
    let json = if text.trim_start().starts_with('{') {
        text.to_string()
    } else {
        std::fs::read_to_string(text).with_context(|| {
            format!("--model-config {text}: not inline JSON and not a readable file")
        })?
    };
    let value: Value = serde_json::from_str(&json).context("--model-config is not valid JSON")?;
    if !value.is_object() {
        bail!("--model-config must be a JSON object such as '{{\"base_width\": 16}}'");
    }
    Ok(value)
}

/// Checks that a model built from `config` accepts the data's images and has an output for every
/// class; the error says what differs.
pub fn check_fits_data(config: &ModelConfig, data: &DataDescription) -> Result<()> {
    Ok(config.check_fits(data.shape, data.classes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smallscale_datasets::DataSource;

    fn data(shape: [usize; 3], classes: usize) -> DataDescription {
        DataDescription {
            source: DataSource::EmbeddedFashionMnist,
            validation_fraction: 0.1,
            released_validation: false,
            split_seed: 0,
            limit_train: None,
            limit_validation: None,
            limit_test: None,
            train_fraction: None,
            shape,
            classes,
            train_examples: 1,
            validation_examples: 1,
            test_examples: 1,
            mean: vec![0.0; shape[0]],
            std: vec![1.0; shape[0]],
        }
    }

    #[test]
    fn defaults_are_fitted_to_the_data_and_overridden_by_partial_json() {
        let args = ModelArgs {
            model: Some("resnet18".into()),
            model_config: Some(r#"{"base_width": 4, "blocks": [1, 1, 1, 1]}"#.into()),
            ..ModelArgs::default()
        };
        let ModelConfig::ResNet(c) = args.resolve(&data([1, 28, 28], 10)).unwrap() else {
            panic!("not a resnet")
        };
        assert_eq!(
            (c.in_channels, c.num_classes, c.base_width, c.blocks),
            (1, 10, 4, [1, 1, 1, 1])
        );
        let mlp = ModelArgs {
            model: Some("mlp".into()),
            width: Some(64),
            ..ModelArgs::default()
        };
        let ModelConfig::Mlp(m) = mlp.resolve(&data([3, 32, 32], 10)).unwrap() else {
            panic!("not an mlp")
        };
        assert_eq!((m.input_dim, m.hidden), (3072, vec![64, 32]));
    }

    #[test]
    fn mismatches_are_errors() {
        let wrong = ModelArgs {
            model_config: Some(r#"{"model": "small-cnn", "in_channels": 3}"#.into()),
            ..ModelArgs::default()
        };
        let err = wrong.resolve(&data([1, 28, 28], 10)).unwrap_err();
        assert!(format!("{err:#}").contains("in_channels 1"), "{err:#}");
        let conflict = ModelArgs {
            model: Some("mlp".into()),
            model_config: Some(r#"{"model": "vit"}"#.into()),
            ..ModelArgs::default()
        };
        assert!(conflict.resolve(&data([1, 28, 28], 10)).is_err());
        let unknown_field = ModelArgs {
            model_config: Some(r#"{"depth": 3}"#.into()),
            ..ModelArgs::default()
        };
        assert!(unknown_field.resolve(&data([1, 28, 28], 10)).is_err());
    }
}
