//! Fitting a model configuration to a data set: input shape, classes and width.

use crate::errors::{ModelError, Result};
use crate::registry::ModelConfig;

/// Scales `widths` so that the first is `width`, keeping the ratios of the others to it.
fn scaled(widths: &[usize], width: usize) -> Vec<usize> {
    let first = widths.first().copied().unwrap_or(1).max(1) as f64;
    widths
        .iter()
        .map(|&w| ((w as f64 * width as f64 / first).round() as usize).max(1))
        .collect()
}

impl ModelConfig {
    /// This configuration with its input set to `[channels, height, width]` images and `classes`
    /// outputs (the MLP takes the flattened image).
    ///
    /// ```
    /// use smallscale_models::ModelConfig;
    /// let cifar = ModelConfig::default_for("small-cnn")?.fitted_to([3, 32, 32], 10);
    /// let ModelConfig::SmallCnn(c) = cifar else { unreachable!() };
    /// assert_eq!((c.in_channels, c.image_size, c.num_classes), (3, 32, 10));
    /// # Ok::<(), smallscale_models::ModelError>(())
    /// ```
    pub fn fitted_to(self, [c, h, w]: [usize; 3], classes: usize) -> Self {
        match self {
            Self::ResNet(mut m) => {
                m.in_channels = c;
                m.num_classes = classes;
                Self::ResNet(m)
            }
            Self::Vit(mut m) => {
                m.in_channels = c;
                m.image_size = h;
                m.num_classes = classes;
                Self::Vit(m)
            }
            Self::SmallCnn(mut m) => {
                m.in_channels = c;
                m.image_size = h;
                m.num_classes = classes;
                Self::SmallCnn(m)
            }
            Self::Mlp(mut m) => {
                m.input_dim = c * h * w;
                m.num_classes = classes;
                Self::Mlp(m)
            }
        }
    }

    /// The name prefix of the classifier, the layer that fine-tuning on another task replaces:
    /// `fc` (ResNet, small CNN), `head` (ViT), the last `fcN` (MLP).
    ///
    /// ```
    /// use smallscale_models::ModelConfig;
    /// assert_eq!(ModelConfig::default_for("vit")?.head_prefix(), "head");
    /// assert_eq!(ModelConfig::default_for("resnet18")?.head_prefix(), "fc");
    /// # Ok::<(), smallscale_models::ModelError>(())
    /// ```
    pub fn head_prefix(&self) -> String {
        match self {
            Self::ResNet(_) | Self::SmallCnn(_) => "fc".into(),
            Self::Vit(_) => "head".into(),
            Self::Mlp(m) => format!("fc{}", m.hidden.len() + 1),
        }
    }

    /// This configuration with `classes` outputs.
    pub fn with_classes(self, classes: usize) -> Self {
        match self {
            Self::ResNet(mut m) => {
                m.num_classes = classes;
                Self::ResNet(m)
            }
            Self::Vit(mut m) => {
                m.num_classes = classes;
                Self::Vit(m)
            }
            Self::SmallCnn(mut m) => {
                m.num_classes = classes;
                Self::SmallCnn(m)
            }
            Self::Mlp(mut m) => {
                m.num_classes = classes;
                Self::Mlp(m)
            }
        }
    }

    /// This configuration with its first stage or layer `width` wide: the ResNet's base width, the
    /// ViT's embedding dimension, the small CNN's first block and the MLP's first hidden layer; later
    /// blocks and layers keep their ratio to the first (the small CNN's default 8, 16 becomes
    /// `width`, `2 * width`).
    ///
    /// # Errors
    ///
    /// [`ModelError::InvalidConfig`] for width 0, or an MLP without hidden layers.
    ///
    /// ```
    /// use smallscale_models::ModelConfig;
    /// let ModelConfig::SmallCnn(c) = ModelConfig::default_for("small-cnn")?.with_width(4)? else {
    ///     unreachable!()
    /// };
    /// assert_eq!(c.channels, [4, 8]);
    /// # Ok::<(), smallscale_models::ModelError>(())
    /// ```
    pub fn with_width(self, width: usize) -> Result<Self> {
        let model = self.architecture();
        let invalid = |reason: &str| ModelError::InvalidConfig {
            model,
            field: "width",
            reason: reason.to_string(),
        };
        if width == 0 {
            return Err(invalid("must be at least 1"));
        }
        Ok(match self {
            Self::ResNet(mut m) => {
                m.base_width = width;
                Self::ResNet(m)
            }
            Self::Vit(mut m) => {
                m.embed_dim = width;
                Self::Vit(m)
            }
            Self::SmallCnn(mut m) => {
                m.channels = scaled(&m.channels, width);
                Self::SmallCnn(m)
            }
            Self::Mlp(mut m) => {
                if m.hidden.is_empty() {
                    return Err(invalid("cannot be set: this MLP has no hidden layer"));
                }
                m.hidden = scaled(&m.hidden, width);
                Self::Mlp(m)
            }
        })
    }

    /// Checks that a model built from this configuration accepts `[channels, height, width]`
    /// images and has an output for each of `classes` classes.
    ///
    /// # Errors
    ///
    /// [`ModelError::InvalidConfig`] saying what differs and which field to set.
    ///
    /// ```
    /// use smallscale_models::ModelConfig;
    /// let mnist = ModelConfig::default_for("small-cnn")?.fitted_to([1, 28, 28], 10);
    /// assert!(mnist.check_fits([1, 28, 28], 10).is_ok());
    /// let err = mnist.check_fits([3, 32, 32], 10).unwrap_err();
    /// assert!(err.to_string().contains("in_channels 3"));
    /// # Ok::<(), smallscale_models::ModelError>(())
    /// ```
    pub fn check_fits(&self, [c, h, w]: [usize; 3], classes: usize) -> Result<()> {
        let model = self.architecture();
        let invalid = |field: &'static str, reason: String| ModelError::InvalidConfig {
            model,
            field,
            reason,
        };
        let (channels, size, outputs) = match self {
            Self::ResNet(m) => (Some(m.in_channels), None, m.num_classes),
            Self::Vit(m) => (Some(m.in_channels), Some(m.image_size), m.num_classes),
            Self::SmallCnn(m) => (Some(m.in_channels), Some(m.image_size), m.num_classes),
            Self::Mlp(m) => {
                if m.input_dim != c * h * w {
                    return Err(invalid(
                        "input_dim",
                        format!(
                            "{} does not fit {c}x{h}x{w} images: use a model configured for this data (input_dim {})",
                            m.input_dim,
                            c * h * w
                        ),
                    ));
                }
                (None, None, m.num_classes)
            }
        };
        if let Some(channels) = channels
            && channels != c
        {
            return Err(invalid(
                "in_channels",
                format!(
                    "{channels} does not fit the data's {c}-channel images ({c}x{h}x{w}): use a model configured for this data (in_channels {c})"
                ),
            ));
        }
        if let Some(size) = size
            && (size != h || size != w)
        {
            return Err(invalid(
                "image_size",
                format!(
                    "{size} does not fit the data's {h}x{w} images: use a model configured for this data (image_size {h})"
                ),
            ));
        }
        if outputs < classes {
            return Err(invalid(
                "num_classes",
                format!(
                    "{outputs} is fewer than the data's {classes} classes: use a model with num_classes {classes}"
                ),
            ));
        }
        Ok(())
    }
}
