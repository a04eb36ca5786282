//! UC-GRPO: utility-calibrated reward shaping for the decision to inspect a region.
//!
//! Per query, the utility of inspection is the mean accuracy reward of the rollouts that
//! called `zoom_in` minus the mean of those that did not. That per-query estimate is noisy
//! (a group has few rollouts), so it is blended with an exponential moving average of the
//! utility of earlier queries with the same ground-truth emotion. When a group holds only
//! one kind of rollout the per-query estimate does not exist and the average is used
//! alone. Rollouts that inspected then get `bonus_coef * u` added when the calibrated
//! utility `u` is positive, and `penalty_coef * u` (a penalty) when it is negative.

use std::collections::BTreeMap;

use anyhow::Context;

use assay_train::grpo::GrpoHooks;
use assay_train::rollout::Rollout;
use assay_train::trajectory::Sample;
use assay_train::TextCodec;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::answer::Answer;
use super::reward::{reference_answer, AccuracyReward};

/// Constants of the utility calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct UtilityConfig {
    /// Name of the inspection tool whose use is rewarded or penalised. Default `zoom_in`.
    pub inspect_tool: String,
    /// Weight of the previous average in the per-emotion moving average:
    /// `ema = ema_decay * ema + (1 - ema_decay) * u_query`. Default 0.9; in `[0, 1)`.
    pub ema_decay: f64,
    /// Value of every emotion's average before its first update. Default 0.0.
    pub initial_utility: f64,
    /// Weight of the moving average against the per-query estimate when both exist:
    /// `u = calibration_weight * ema + (1 - calibration_weight) * u_query`. Default 0.5;
    /// in `[0, 1]`.
    pub calibration_weight: f64,
    /// Reward added per unit of positive calibrated utility to rollouts that inspected.
    /// Default 0.5; at least 0.
    pub bonus_coef: f64,
    /// Reward added per unit of negative calibrated utility (so a penalty) to rollouts
    /// that inspected. Default 0.5; at least 0.
    pub penalty_coef: f64,
}

impl Default for UtilityConfig {
    fn default() -> Self {
        Self {
            inspect_tool: "zoom_in".to_string(),
            ema_decay: 0.9,
            initial_utility: 0.0,
            calibration_weight: 0.5,
            bonus_coef: 0.5,
            penalty_coef: 0.5,
        }
    }
}

impl UtilityConfig {
    /// Checks the ranges stated on each field.
    ///
    /// # Errors
    /// Names the first field out of range.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(0.0..1.0).contains(&self.ema_decay) {
            anyhow::bail!("`ema_decay` is {}; it must be in [0, 1)", self.ema_decay);
        }
        if !(0.0..=1.0).contains(&self.calibration_weight) {
            anyhow::bail!("`calibration_weight` is {}; it must be in [0, 1]", self.calibration_weight);
        }
        for (name, value) in [("bonus_coef", self.bonus_coef), ("penalty_coef", self.penalty_coef)] {
            if !(value >= 0.0 && value.is_finite()) {
                anyhow::bail!("`{name}` is {value}; it must be a finite number of at least 0");
            }
        }
        if !self.initial_utility.is_finite() {
            anyhow::bail!("`initial_utility` is {}; it must be finite", self.initial_utility);
        }
        Ok(())
    }
}

/// Utility estimates of one group, before shaping.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupUtility {
    /// Mean accuracy with inspection minus mean without; `None` when the group has one kind.
    pub per_query: Option<f64>,
    /// The blend of the per-query estimate and the emotion's moving average.
    pub calibrated: f64,
}

/// Computes the calibrated utility from accuracy rewards and inspection flags.
///
/// `average` is the emotion's moving average before this query. Rollouts whose reward is
/// `None` (abstained) are left out of both means.
pub fn group_utility(config: &UtilityConfig, accuracy: &[Option<f64>], inspected: &[bool], average: f64) -> GroupUtility {
    let mean = |want: bool| -> Option<f64> {
        let values: Vec<f64> =
            accuracy.iter().zip(inspected).filter(|(_, &flag)| flag == want).filter_map(|(value, _)| *value).collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let per_query = match (mean(true), mean(false)) {
        (Some(with), Some(without)) => Some(with - without),
        _ => None,
    };
    let calibrated = match per_query {
        Some(estimate) => config.calibration_weight * average + (1.0 - config.calibration_weight) * estimate,
        None => average,
    };
    GroupUtility { per_query, calibrated }
}

/// Returns the reward change of a rollout that inspected, given the calibrated utility.
pub fn inspection_shaping(config: &UtilityConfig, calibrated: f64) -> f64 {
    if calibrated > 0.0 {
        config.bonus_coef * calibrated
    } else {
        config.penalty_coef * calibrated
    }
}

/// UC-GRPO as GRPO hooks: see the module documentation.
pub struct UtilityCalibration {
    config: UtilityConfig,
    accuracy: AccuracyReward,
    codec: Box<dyn TextCodec>,
    /// Moving average of the utility per ground-truth emotion.
    averages: BTreeMap<String, f64>,
    /// Calibrated utility of the most recent group, for logging.
    last: Option<GroupUtility>,
}

impl UtilityCalibration {
    /// Builds the hook. `accuracy` scores R_acc again inside the hook, because the GRPO
    /// loop hands hooks only the combined reward. `codec` decodes completions to find
    /// calls of the inspection tool.
    ///
    /// # Errors
    /// A constant is out of range.
    pub fn new(config: UtilityConfig, accuracy: AccuracyReward, codec: impl TextCodec + 'static) -> anyhow::Result<Self> {
        config.validate()?;
        Ok(Self { config, accuracy, codec: Box::new(codec), averages: BTreeMap::new(), last: None })
    }

    /// Moving average of the utility for `emotion`, or the initial value before any update.
    pub fn average(&self, emotion: &str) -> f64 {
        self.averages.get(emotion).copied().unwrap_or(self.config.initial_utility)
    }

    /// Utility of the most recent group.
    pub fn last(&self) -> Option<GroupUtility> {
        self.last
    }

    /// Returns whether the rollout's generated text calls the inspection tool.
    pub fn inspected(&self, rollout: &Rollout) -> bool {
        let generated: Vec<u32> =
            rollout.completion.iter().zip(&rollout.completion_mask).filter(|(_, &m)| m > 0.0).map(|(&id, _)| id).collect();
        let text = self.codec.decode(&generated);
        let call = format!("<tool>{}", self.config.inspect_tool);
        text.contains(&call)
    }

    /// Shapes one group given its accuracy rewards and inspection flags, updating the
    /// emotion's moving average; the testable core of [`GrpoHooks::shape_rewards`].
    pub fn shape(&mut self, reference: &Answer, accuracy: &[Option<f64>], inspected: &[bool], rewards: &mut [Option<f64>]) {
        let average = self.average(&reference.emotion);
        let utility = group_utility(&self.config, accuracy, inspected, average);
        if let Some(estimate) = utility.per_query {
            let updated = self.config.ema_decay * average + (1.0 - self.config.ema_decay) * estimate;
            self.averages.insert(reference.emotion.clone(), updated);
        }
        let change = inspection_shaping(&self.config, utility.calibrated);
        for (reward, &flag) in rewards.iter_mut().zip(inspected) {
            if let (Some(value), true) = (reward.as_mut(), flag) {
                *value += change;
            }
        }
        self.last = Some(utility);
    }
}

impl GrpoHooks for UtilityCalibration {
    fn shape_rewards(&mut self, sample: &Sample, group: &[Rollout], rewards: &mut [Option<f64>]) {
        let Some(reference) = reference_answer(sample) else {
            return;
        };
        let accuracy: Vec<Option<f64>> =
            group.iter().map(|rollout| self.accuracy.score_answer(rollout.answer.as_deref(), &reference).ok()).collect();
        let inspected: Vec<bool> = group.iter().map(|rollout| self.inspected(rollout)).collect();
        self.shape(&reference, &accuracy, &inspected, rewards);
    }

    /// Stores the moving averages as `{"averages": {emotion: f64 bits as u64}}`. Bit patterns,
    /// not decimal numbers, because serde_json's default float parser may round the last
    /// bit, and a resumed run must continue from exactly the same averages.
    fn state(&self) -> serde_json::Value {
        let bits: BTreeMap<&str, u64> = self.averages.iter().map(|(emotion, value)| (emotion.as_str(), value.to_bits())).collect();
        serde_json::json!({ "averages": bits })
    }

    fn restore_state(&mut self, state: &serde_json::Value) -> anyhow::Result<()> {
        let bits: BTreeMap<String, u64> = serde_json::from_value(state.get("averages").cloned().unwrap_or_default())
            .context("UC-GRPO state has no valid `averages` map of emotion to f64 bit pattern")?;
        let mut averages = BTreeMap::new();
        for (emotion, bits) in bits {
            let value = f64::from_bits(bits);
            if !value.is_finite() {
                anyhow::bail!("UC-GRPO state contains a non-finite moving average ({value}) for `{emotion}`");
            }
            averages.insert(emotion, value);
        }
        self.averages = averages;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use assay_actfer_reward::ActferConfig;

    fn hook(config: UtilityConfig) -> UtilityCalibration {
        let accuracy = AccuracyReward::new(ActferConfig::default()).unwrap();
        UtilityCalibration::new(config, accuracy, assay_train::Tokenizer::from_corpus(["zoom_in"])).unwrap()
    }

    fn config() -> UtilityConfig {
        UtilityConfig { ema_decay: 0.8, calibration_weight: 0.25, bonus_coef: 0.5, penalty_coef: 2.0, ..UtilityConfig::default() }
    }

    #[test]
    fn mixed_group_contrasts_means() {
        // With inspection: (1.5 + 1.0) / 2 = 1.25; without: (0.5 + 0.0 + 0.25) / 3 = 0.25.
        let accuracy = [Some(1.5), Some(0.5), Some(1.0), Some(0.0), Some(0.25)];
        let inspected = [true, false, true, false, false];
        let utility = group_utility(&config(), &accuracy, &inspected, 0.4);
        assert_eq!(utility.per_query, Some(1.0));
        // 0.25 * 0.4 + 0.75 * 1.0.
        assert!((utility.calibrated - 0.85).abs() < 1e-12);
    }

    #[test]
    fn one_kind_group_uses_average() {
        let utility = group_utility(&config(), &[Some(1.0), Some(0.0)], &[true, true], -0.3);
        assert_eq!(utility.per_query, None);
        assert_eq!(utility.calibrated, -0.3);
    }

    #[test]
    fn abstained_rewards_are_left_out() {
        let utility = group_utility(&config(), &[Some(1.0), None, Some(0.2)], &[true, true, false], 0.0);
        assert!((utility.per_query.unwrap() - 0.8).abs() < 1e-12);
    }

    #[test]
    fn bonus_and_penalty_use_their_coefficients() {
        assert!((inspection_shaping(&config(), 0.4) - 0.2).abs() < 1e-12);
        assert!((inspection_shaping(&config(), -0.1) - (-0.2)).abs() < 1e-12);
        assert_eq!(inspection_shaping(&config(), 0.0), 0.0);
    }

    #[test]
    fn shape_updates_average_and_inspecting_rewards() {
        let mut hook = hook(config());
        let reference = Answer::new("fear", [1, 2]).unwrap();
        let accuracy = [Some(1.0), Some(0.0)];
        let inspected = [true, false];
        let mut rewards = [Some(1.5), Some(0.5)];
        hook.shape(&reference, &accuracy, &inspected, &mut rewards);

        // u_query = 1; calibrated = 0.25 * 0 + 0.75 * 1 = 0.75; bonus 0.5 * 0.75 = 0.375.
        assert!((rewards[0].unwrap() - 1.875).abs() < 1e-12);
        assert_eq!(rewards[1], Some(0.5));
        // ema = 0.8 * 0 + 0.2 * 1 = 0.2, for fear only.
        assert!((hook.average("fear") - 0.2).abs() < 1e-12);
        assert_eq!(hook.average("anger"), 0.0);
    }

    #[test]
    fn one_kind_group_keeps_average() {
        let mut hook = hook(config());
        let reference = Answer::new("anger", [4]).unwrap();
        hook.shape(&reference, &[Some(1.0), Some(0.0)], &[true, false], &mut [Some(0.0), Some(0.0)]);
        let before = hook.average("anger");
        let mut rewards = [Some(0.3), None];
        hook.shape(&reference, &[Some(0.0), None], &[true, true], &mut rewards);

        assert_eq!(hook.average("anger"), before);
        // calibrated = ema 0.2 > 0, so bonus 0.5 * 0.2; the abstained reward stays None.
        assert!((rewards[0].unwrap() - 0.4).abs() < 1e-12);
        assert_eq!(rewards[1], None);
    }

    #[test]
    fn negative_utility_penalises_inspection() {
        let mut hook = hook(UtilityConfig { calibration_weight: 0.0, ..config() });
        let reference = Answer::new("neutral", []).unwrap();
        let mut rewards = [Some(0.0), Some(1.0)];
        hook.shape(&reference, &[Some(0.0), Some(1.0)], &[true, false], &mut rewards);
        // u = -1, penalty 2.0 * -1.
        assert_eq!(rewards[0], Some(-2.0));
        assert_eq!(rewards[1], Some(1.0));
    }

    #[test]
    fn state_round_trip_is_exact() {
        let mut original = hook(config());
        // 0.1 has no exact binary form, so a decimal round trip could change its last bit.
        original.shape(&Answer::new("fear", [1]).unwrap(), &[Some(0.1), Some(0.0)], &[true, false], &mut [None, None]);
        original.shape(&Answer::new("anger", [4]).unwrap(), &[Some(0.0), Some(0.3)], &[true, false], &mut [None, None]);
        let state = original.state();

        let mut restored = hook(config());
        restored.restore_state(&state).unwrap();
        assert_eq!(restored.average("fear").to_bits(), original.average("fear").to_bits());
        assert_eq!(restored.average("anger").to_bits(), original.average("anger").to_bits());
        assert_eq!(restored.average("sadness"), 0.0);
    }

    #[test]
    fn restore_rejects_invalid_state() {
        let mut calibration = hook(config());
        let error = calibration.restore_state(&serde_json::json!({"averages": {"fear": "high"}})).unwrap_err();
        assert!(format!("{error:#}").contains("averages"), "{error:#}");
        let nan = serde_json::json!({"averages": {"fear": f64::NAN.to_bits()}});
        let error = calibration.restore_state(&nan).unwrap_err();
        assert!(error.to_string().contains("fear"), "{error}");
    }

    #[test]
    fn rejects_out_of_range_decay() {
        let accuracy = AccuracyReward::new(ActferConfig::default()).unwrap();
        let error = UtilityCalibration::new(UtilityConfig { ema_decay: 1.0, ..config() }, accuracy, assay_train::Tokenizer::from_corpus([""]))
            .err()
            .unwrap();
        assert!(error.to_string().contains("ema_decay"), "{error}");
    }
}
