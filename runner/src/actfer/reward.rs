//! ActFER rewards as `assay_train::grpo::Reward`s: the accuracy reward R_acc of the native
//! `assay-actfer-reward` crate (used as a library) and a format reward.
//!
//! Both read the reference from `Sample::answer`, written as an answer body
//! (`happiness; AU6, AU12`), and the prediction from `Rollout::answer`.

use anyhow::{bail, Result};
use assay_actfer_reward::{ActferAccuracy, ActferConfig};
use assay_train::grpo::Reward;
use assay_train::rollout::Rollout;
use assay_train::trajectory::Sample;

use super::answer::{parse_answer, Answer};

/// Reads the reference answer of a sample, or `None` when it has none or it does not parse.
pub fn reference_answer(sample: &Sample) -> Option<Answer> {
    sample.answer.as_deref().and_then(|text| parse_answer(text).ok())
}

/// ActFER's accuracy reward R_acc: `w_y + w_au * F1_AU` for the right emotion,
/// `r_wrong + 0.5 * w_au * F1_AU` for a wrong one, and `r_wrong` for a missing or
/// unparsable answer. The format bonus of the native crate is left to [`FormatReward`].
#[derive(Debug, Clone)]
pub struct AccuracyReward {
    scorer: ActferAccuracy,
    r_wrong: f64,
}

impl AccuracyReward {
    /// Builds the reward from its weights; `w_format` is ignored here.
    ///
    /// # Errors
    /// A weight is not finite, or `w_au` is negative.
    pub fn new(config: ActferConfig) -> Result<Self> {
        let r_wrong = config.r_wrong;
        let scorer = ActferAccuracy::new(ActferConfig { w_format: 0.0, ..config })
            .map_err(|error| anyhow::anyhow!("invalid `actfer_accuracy` weights: {error}"))?;
        Ok(Self { scorer, r_wrong })
    }

    /// Scores an answer body against a reference; `None` as the prediction scores `r_wrong`.
    ///
    /// # Errors
    /// The reference emotion is not one of the eight labels.
    pub fn score_answer(&self, predicted: Option<&str>, reference: &Answer) -> Result<f64> {
        let Some(predicted) = predicted.and_then(|text| parse_answer(text).ok()) else {
            return Ok(self.r_wrong);
        };
        let output = self
            .scorer
            .score(&predicted.to_reward_block(), &reference.emotion, &reference.action_units)
            .map_err(|error| anyhow::anyhow!("failed to score an answer: {error}"))?;
        match output.components.get("accuracy") {
            Some(&accuracy) => Ok(accuracy),
            None => bail!("the `actfer_accuracy` scorer returned no `accuracy` component"),
        }
    }
}

impl Reward for AccuracyReward {
    fn name(&self) -> &str {
        "actfer_accuracy"
    }

    /// Abstains on samples without a parsable reference answer.
    fn score(&mut self, sample: &Sample, rollout: &Rollout) -> Option<f64> {
        let reference = reference_answer(sample)?;
        match self.score_answer(rollout.answer.as_deref(), &reference) {
            Ok(value) => Some(value),
            Err(error) => {
                tracing::warn!(sample = %sample.id, %error, "accuracy reward abstained");
                None
            }
        }
    }
}

/// 1 when the rollout ended in an answer block that parses, else 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct FormatReward;

impl FormatReward {
    /// Scores an answer body: 1 when it parses, 0 when it does not or is missing.
    pub fn score_answer(predicted: Option<&str>) -> f64 {
        match predicted.map(parse_answer) {
            Some(Ok(_)) => 1.0,
            _ => 0.0,
        }
    }
}

impl Reward for FormatReward {
    fn name(&self) -> &str {
        "answer_format"
    }

    fn score(&mut self, _sample: &Sample, rollout: &Rollout) -> Option<f64> {
        Some(Self::score_answer(rollout.answer.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights() -> ActferConfig {
        ActferConfig { w_y: 1.0, w_au: 0.5, r_wrong: -0.2, w_format: 0.3 }
    }

    #[test]
    fn right_emotion_adds_au_f1() {
        let reward = AccuracyReward::new(weights()).unwrap();
        let reference = Answer::new("happiness", [6, 12]).unwrap();
        // Predicted {6, 12, 25} against {6, 12}: F1 = 2*2 / (3 + 2) = 0.8, so 1 + 0.5 * 0.8.
        let value = reward.score_answer(Some("happiness; AU6, AU12, AU25"), &reference).unwrap();
        assert!((value - 1.4).abs() < 1e-12, "{value}");
    }

    #[test]
    fn wrong_emotion_halves_au_weight() {
        let reward = AccuracyReward::new(weights()).unwrap();
        let reference = Answer::new("fear", [1, 2, 4, 5, 20, 26]).unwrap();
        // {1, 2} against six units: F1 = 2*2 / (2 + 6) = 0.5, so -0.2 + 0.5 * 0.5 * 0.5.
        let value = reward.score_answer(Some("surprise;AU1,AU2"), &reference).unwrap();
        assert!((value - (-0.075)).abs() < 1e-12, "{value}");
    }

    #[test]
    fn unparsable_answer_scores_r_wrong() {
        let reward = AccuracyReward::new(weights()).unwrap();
        let reference = Answer::new("anger", [4]).unwrap();
        assert_eq!(reward.score_answer(Some("angry"), &reference).unwrap(), -0.2);
        assert_eq!(reward.score_answer(None, &reference).unwrap(), -0.2);
    }

    #[test]
    fn format_reward_checks_parse() {
        assert_eq!(FormatReward::score_answer(Some("neutral; none")), 1.0);
        assert_eq!(FormatReward::score_answer(Some("neutral")), 0.0);
        assert_eq!(FormatReward::score_answer(None), 0.0);
    }

    #[test]
    fn rejects_non_finite_weight() {
        let error = AccuracyReward::new(ActferConfig { w_y: f64::NAN, ..weights() }).unwrap_err();
        assert!(error.to_string().contains("w_y"), "{error}");
    }
}
