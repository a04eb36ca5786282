//! The ActFER accuracy reward and its configuration.

use std::collections::{BTreeMap, BTreeSet};

use assay_plugin_sdk::{CallInput, NativePlugin, PluginError, PluginKind, RewardOutput};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::answer::{parse_answer, EMOTIONS};

/// Reward weights, read from the plugin's JSON configuration.
///
/// NOTE: the defaults are placeholders, not weights taken from the ActFER paper, so an
/// experiment spec should set all four.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActferConfig {
    /// `w_y`: reward for the right emotion. Default 1.0, finite.
    pub w_y: f64,
    /// `w_au`: weight of the Action Unit F1 (halved when the emotion is wrong).
    /// Default 1.0, finite and non-negative.
    pub w_au: f64,
    /// `r_wrong`: base reward for a wrong emotion or an unparsable answer. Default 0.0.
    pub r_wrong: f64,
    /// `w_format`: added when the answer block parses. Default 0.5, finite.
    pub w_format: f64,
}

impl Default for ActferConfig {
    fn default() -> Self {
        Self {
            w_y: 1.0,
            w_au: 1.0,
            r_wrong: 0.0,
            w_format: 0.5,
        }
    }
}

/// F1 overlap of two Action Unit sets, `2 |a ∩ b| / (|a| + |b|)`, in `[0, 1]`.
///
/// Two empty sets agree perfectly, so their F1 is 1.
pub fn au_f1(predicted: &BTreeSet<u32>, reference: &BTreeSet<u32>) -> f64 {
    let total = predicted.len() + reference.len();
    if total == 0 {
        return 1.0;
    }
    let common = predicted.intersection(reference).count();
    2.0 * common as f64 / total as f64
}

/// The reference an answer is scored against. Other fields are ignored, so a sample's
/// whole metadata object (domain, split, landmarks, ...) can be passed as the reference.
#[derive(Debug, Deserialize)]
struct Reference {
    emotion: String,
    action_units: BTreeSet<u32>,
}

#[derive(Debug, Deserialize)]
struct ScoreRequest {
    completion: String,
    reference: Reference,
    #[serde(default)]
    #[allow(dead_code)]
    prompt: Option<String>,
}

/// The ActFER accuracy reward plugin; see the crate documentation for the formula.
#[derive(Debug, Clone)]
pub struct ActferAccuracy {
    config: ActferConfig,
}

impl ActferAccuracy {
    /// Builds the reward after checking the weights.
    ///
    /// # Errors
    /// Returns [`PluginError::InvalidInput`] naming a weight that is not finite, or a
    /// negative `w_au`.
    pub fn new(config: ActferConfig) -> Result<Self, PluginError> {
        for (name, value) in [
            ("w_y", config.w_y),
            ("w_au", config.w_au),
            ("r_wrong", config.r_wrong),
            ("w_format", config.w_format),
        ] {
            if !value.is_finite() {
                return Err(PluginError::InvalidInput(format!(
                    "`{name}` is {value}; it must be a finite number"
                )));
            }
        }
        if config.w_au < 0.0 {
            return Err(PluginError::InvalidInput(format!(
                "`w_au` is {}; it must be at least 0",
                config.w_au
            )));
        }
        Ok(Self { config })
    }

    /// Scores one completion against the reference emotion and Action Units.
    ///
    /// # Errors
    /// Returns [`PluginError::InvalidInput`] when the reference emotion is not one of the
    /// eight labels.
    pub fn score(
        &self,
        completion: &str,
        reference_emotion: &str,
        reference_aus: &BTreeSet<u32>,
    ) -> Result<RewardOutput, PluginError> {
        let reference_emotion = reference_emotion.to_ascii_lowercase();
        if !EMOTIONS.contains(&reference_emotion.as_str()) {
            return Err(PluginError::InvalidInput(format!(
                "reference emotion `{reference_emotion}` is not one of {}",
                EMOTIONS.join(", ")
            )));
        }
        let c = &self.config;

        let (format, accuracy, f1, correct) = match parse_answer(completion) {
            Ok(answer) => {
                let f1 = au_f1(&answer.action_units, reference_aus);
                let correct = answer.emotion == reference_emotion;
                let accuracy = if correct {
                    c.w_y + c.w_au * f1
                } else {
                    c.r_wrong + 0.5 * c.w_au * f1
                };
                (1.0, accuracy, f1, correct)
            }
            Err(_) => (0.0, c.r_wrong, 0.0, false),
        };

        let components = BTreeMap::from([
            ("accuracy".to_string(), accuracy),
            ("format".to_string(), format),
            ("au_f1".to_string(), f1),
            ("emotion_correct".to_string(), if correct { 1.0 } else { 0.0 }),
        ]);
        Ok(RewardOutput {
            reward: accuracy + c.w_format * format,
            components,
        })
    }
}

impl NativePlugin for ActferAccuracy {
    const KIND: PluginKind = PluginKind::Reward;
    const NAME: &'static str = "actfer_accuracy";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn describe() -> Value {
        json!({
            "description": "ActFER accuracy reward: emotion match plus Action Unit set F1, \
                            plus a format reward for a parsable <answer> block",
            "schema": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "w_y": {"type": "number", "default": 1.0,
                            "description": "reward for the right emotion"},
                    "w_au": {"type": "number", "minimum": 0, "default": 1.0,
                             "description": "weight of the Action Unit F1, halved when the emotion is wrong"},
                    "r_wrong": {"type": "number", "default": 0.0,
                                "description": "base reward for a wrong emotion or unparsable answer"},
                    "w_format": {"type": "number", "default": 0.5,
                                 "description": "added when the answer block parses"}
                }
            },
            "call": {
                "type": "object",
                "required": ["completion", "reference"],
                "properties": {
                    "prompt": {"type": "string"},
                    "completion": {"type": "string"},
                    "reference": {
                        "type": "object",
                        "required": ["emotion", "action_units"],
                        "properties": {
                            "emotion": {"enum": EMOTIONS},
                            "action_units": {"type": "array", "items": {"type": "integer", "minimum": 0}}
                        }
                    }
                }
            }
        })
    }

    fn create(config: Value) -> Result<Self, PluginError> {
        let config: ActferConfig = serde_json::from_value(config)
            .map_err(|e| PluginError::InvalidInput(format!("invalid reward configuration: {e}")))?;
        Self::new(config)
    }

    fn call(&mut self, input: CallInput<'_>) -> Result<Value, PluginError> {
        let request: ScoreRequest = serde_json::from_value(input.json).map_err(|e| {
            PluginError::InvalidInput(format!(
                "invalid call input: {e}; expected {{\"completion\": ..., \"reference\": \
                 {{\"emotion\": ..., \"action_units\": [...]}}}}"
            ))
        })?;
        let output = self.score(
            &request.completion,
            &request.reference.emotion,
            &request.reference.action_units,
        )?;
        serde_json::to_value(output)
            .map_err(|e| PluginError::Failed(format!("failed to serialise the reward: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[u32]) -> BTreeSet<u32> {
        items.iter().copied().collect()
    }

    fn reward() -> ActferAccuracy {
        ActferAccuracy::new(ActferConfig {
            w_y: 1.0,
            w_au: 0.6,
            r_wrong: -0.2,
            w_format: 0.1,
        })
        .unwrap()
    }

    #[test]
    fn au_f1_hand_values() {
        // |{6,12} ∩ {6,12,25}| = 2, sizes 2 + 3: F1 = 4/5.
        assert!((au_f1(&set(&[6, 12]), &set(&[6, 12, 25])) - 0.8).abs() < 1e-12);
        assert_eq!(au_f1(&set(&[1]), &set(&[2])), 0.0);
        assert_eq!(au_f1(&set(&[]), &set(&[])), 1.0);
        assert_eq!(au_f1(&set(&[]), &set(&[4])), 0.0);
    }

    #[test]
    fn right_emotion_uses_full_au_weight() {
        let out = reward()
            .score("<answer>AUs: AU6, AU12\nEmotion: happiness</answer>", "happiness", &set(&[6, 12, 25]))
            .unwrap();
        // accuracy = 1.0 + 0.6 * 0.8 = 1.48; reward = 1.48 + 0.1.
        assert!((out.components["accuracy"] - 1.48).abs() < 1e-12);
        assert!((out.reward - 1.58).abs() < 1e-12);
        assert_eq!(out.components["emotion_correct"], 1.0);
    }

    #[test]
    fn wrong_emotion_halves_au_weight() {
        let out = reward()
            .score("<answer>AUs: AU6, AU12\nEmotion: surprise</answer>", "happiness", &set(&[6, 12, 25]))
            .unwrap();
        // accuracy = -0.2 + 0.5 * 0.6 * 0.8 = 0.04.
        assert!((out.components["accuracy"] - 0.04).abs() < 1e-12);
        assert!((out.reward - 0.14).abs() < 1e-12);
        assert_eq!(out.components["emotion_correct"], 0.0);
    }

    #[test]
    fn unparsable_answer_gets_r_wrong_and_no_format() {
        let out = reward().score("I think it is happiness", "happiness", &set(&[6])).unwrap();
        assert_eq!(out.components["format"], 0.0);
        assert!((out.reward - -0.2).abs() < 1e-12);
    }

    #[test]
    fn call_ignores_extra_reference_fields() {
        let mut plugin = reward();
        let request = json!({
            "completion": "<tool>face_align{}</tool><answer>happiness;AU6,AU12</answer>",
            "reference": {"emotion": "happiness", "action_units": [6, 12, 25], "domain": "rafdb", "landmarks": [[1.0, 2.0]]}
        });
        let output = plugin.call(CallInput { json: request, bytes: Vec::new(), floats: Vec::new() }).unwrap();
        let output: RewardOutput = serde_json::from_value(output).unwrap();
        // accuracy = 1.0 + 0.6 * 0.8 = 1.48; reward = 1.48 + 0.1.
        assert!((output.reward - 1.58).abs() < 1e-12, "{output:?}");
    }

    #[test]
    fn call_without_reference_emotion_is_error() {
        let mut plugin = reward();
        let request = json!({"completion": "<answer>fear; AU1</answer>", "reference": {"action_units": [1]}});
        let err = plugin.call(CallInput { json: request, bytes: Vec::new(), floats: Vec::new() }).unwrap_err();
        assert!(err.to_string().contains("emotion"), "{err}");
    }

    #[test]
    fn invalid_reference_emotion_is_error() {
        let err = reward()
            .score("<answer>AUs: 1\nEmotion: fear</answer>", "joy", &set(&[1]))
            .unwrap_err();
        assert!(err.to_string().contains("`joy`"), "{err}");
    }

    #[test]
    fn config_rejects_unknown_field_and_negative_weight() {
        let err = ActferAccuracy::create(json!({"w_yy": 1.0})).err().unwrap();
        assert!(err.to_string().contains("w_yy"), "{err}");
        let err = ActferAccuracy::create(json!({"w_au": -1.0})).err().unwrap();
        assert!(err.to_string().contains("`w_au` is -1"), "{err}");
    }
}
