//! What differs between the configuration a run directory holds and the one asked for.

use serde_json::Value;

/// One leaf of two JSON configurations that differs.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigDifference {
    /// The dotted path of the leaf (`train.epochs`, `model.channels`).
    pub path: String,
    /// Its value in the saved configuration (`null` when absent).
    pub old: Value,
    /// Its value in the requested configuration (`null` when absent).
    pub new: Value,
}

impl std::fmt::Display for ConfigDifference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (was {}, now {})", self.path, self.old, self.new)
    }
}

impl ConfigDifference {
    /// Whether this difference only raises the maximum number of epochs (the leaf `epochs` at the
    /// top or under `train`), which continues a run instead of starting another.
    pub fn raises_epochs(&self) -> bool {
        (self.path == "epochs" || self.path == "train.epochs")
            && matches!((self.old.as_u64(), self.new.as_u64()), (Some(a), Some(b)) if b > a)
    }
}

/// The leaves where `old` and `new` differ, in path order.
///
/// ```
/// use serde_json::json;
/// use smallscale_osc_reg::config_differences;
/// let d = config_differences(
///     &json!({"train": {"epochs": 8, "lr": 0.001}, "model": "mlp"}),
///     &json!({"train": {"epochs": 10, "lr": 0.001}, "model": "mlp"}),
/// );
/// assert_eq!(d.len(), 1);
/// assert_eq!(d[0].to_string(), "train.epochs (was 8, now 10)");
/// assert!(d[0].raises_epochs());
/// ```
pub fn config_differences(old: &Value, new: &Value) -> Vec<ConfigDifference> {
    let mut out = Vec::new();
    collect("", old, new, &mut out);
    out
}

fn collect(path: &str, a: &Value, b: &Value, out: &mut Vec<ConfigDifference>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                collect(
                    &sub,
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ if a != b => out.push(ConfigDifference {
            path: path.to_string(),
            old: a.clone(),
            new: b.clone(),
        }),
        _ => {}
    }
}

/// The differences as one list for a message (at most `max`, then how many more).
pub(crate) fn listed(differences: &[ConfigDifference], max: usize) -> String {
    let mut s: Vec<String> = differences
        .iter()
        .take(max)
        .map(ToString::to_string)
        .collect();
    if differences.len() > max {
        s.push(format!("and {} more", differences.len() - max));
    }
    s.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leaf_paths_absent_keys_and_epochs() {
        let a = json!({"train": {"epochs": 2, "seed": 0}, "x": [1], "gone": 1});
        let b = json!({"train": {"epochs": 3, "seed": 0}, "x": [2], "new": true});
        let d = config_differences(&a, &b);
        let shown: Vec<String> = d.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "gone (was 1, now null)",
                "new (was null, now true)",
                "train.epochs (was 2, now 3)",
                "x (was [1], now [2])"
            ]
        );
        assert_eq!(
            d.iter()
                .map(ConfigDifference::raises_epochs)
                .collect::<Vec<_>>(),
            [false, false, true, false]
        );
        assert!(config_differences(&a, &a).is_empty());
        // Fewer epochs, or epochs somewhere else, do not continue a run.
        let fewer = config_differences(&json!({"epochs": 3}), &json!({"epochs": 2}));
        assert!(!fewer[0].raises_epochs());
        let nested = config_differences(
            &json!({"model": {"epochs": 1}}),
            &json!({"model": {"epochs": 2}}),
        );
        assert!(!nested[0].raises_epochs());
        assert_eq!(
            listed(&d, 2),
            "gone (was 1, now null), new (was null, now true), and 2 more"
        );
    }
}
