//! The GRPO objective by hand, and the GRPO loop's options and resume.

use anyhow::Context;
use assay_train::grpo::{train_grpo, GrpoConfig, GrpoHooks, GrpoInputs, NoHooks, WeightedReward};
use assay_train::rollout::Rollout;
use assay_train::trajectory::Sample;
use assay_train::kl::KlEstimator;
use assay_train::loss::{aggregate, policy_loss, Aggregation, LossNormalizer, PolicyLossInputs, PolicyLossSettings, RatioLevel};
use assay_train::rollout::RolloutConfig;
use assay_train::{Policy, TinyVlm};
use candle_core::{DType, Device, Tensor};

use super::common::{self, tokenizer, tiny_model, CorrectColour};

fn settings(ratio_level: RatioLevel) -> PolicyLossSettings {
    PolicyLossSettings {
        clip_epsilon_low: 0.2,
        clip_epsilon_high: 0.2,
        ratio_level,
        kl_coef: 0.0,
        kl_estimator: KlEstimator::K3,
        entropy_coef: 0.0,
        aggregation: Aggregation::TokenMean,
    }
}

/// Log-ratios [0.5, -1.0] with advantage 1 on both tokens.
fn clipped_loss(ratio_level: RatioLevel) -> (f64, f64) {
    let device = Device::Cpu;
    let log_probs = Tensor::new(&[[-1.0f64, -2.0]], &device).unwrap();
    let old = Tensor::new(&[[-1.5f64, -1.0]], &device).unwrap();
    let ones = Tensor::new(&[[1.0f64, 1.0]], &device).unwrap();
    let inputs = PolicyLossInputs { log_probs: &log_probs, old_log_probs: &old, ref_log_probs: None, advantages: &ones, mask: &ones, entropy: None };
    let loss = policy_loss(&inputs, &settings(ratio_level), LossNormalizer { tokens: 2.0, sequences: 1.0 }).unwrap();
    (loss.loss.to_scalar::<f64>().unwrap(), loss.clip_fraction)
}

#[test]
fn token_ratio_clips_each_token() {
    // Ratios e^0.5 = 1.6487 (clipped to 1.2) and e^-1 = 0.3679 (the unclipped term is smaller).
    let (loss, clip_fraction) = clipped_loss(RatioLevel::Token);
    assert!((loss - -(1.2 + (-1.0f64).exp()) / 2.0).abs() < 1e-12, "{loss}");
    assert_eq!(clip_fraction, 1.0);
}

#[test]
fn sequence_ratio_uses_mean_log_ratio() {
    // GSPO: exp(mean(0.5, -1.0)) = e^-0.25 = 0.7788, below the clipped 0.8, so the minimum keeps it.
    let (loss, _) = clipped_loss(RatioLevel::Sequence);
    assert!((loss - -(-0.25f64).exp()).abs() < 1e-12, "{loss}");
}

#[test]
fn aggregation_modes_by_hand() {
    let device = Device::Cpu;
    let per_token = Tensor::new(&[[1.0f64, 2.0, 3.0], [4.0, 0.0, 0.0]], &device).unwrap();
    let mask = Tensor::new(&[[1.0f64, 1.0, 1.0], [1.0, 0.0, 0.0]], &device).unwrap();
    let normalizer = LossNormalizer { tokens: 4.0, sequences: 2.0 };
    let value = |mode| aggregate(&per_token, &mask, mode, normalizer).unwrap().to_scalar::<f64>().unwrap();
    assert_eq!(value(Aggregation::TokenMean), 10.0 / 4.0);
    assert_eq!(value(Aggregation::SeqMeanTokenMean), (2.0 + 4.0) / 2.0);
    assert_eq!(value(Aggregation::SeqMeanTokenSum), (6.0 + 4.0) / 2.0);
}

fn weights_of(policy: &TinyVlm) -> Vec<Vec<f32>> {
    policy.named_vars().into_iter().map(|(_, var)| var.as_tensor().flatten_all().unwrap().to_vec1().unwrap()).collect()
}

/// Returns a small configuration that exercises every option: GSPO ratio, KL to a reference in
/// the loss, entropy bonus, per-sequence aggregation and two updates per batch.
fn full_options() -> GrpoConfig {
    GrpoConfig {
        steps: 2,
        prompts_per_step: 2,
        rollout: RolloutConfig { group_size: 3, max_turns: 2, max_completion_tokens: 16, ..RolloutConfig::default() },
        ratio_level: RatioLevel::Sequence,
        kl_coef: 0.1,
        entropy_coef: 0.01,
        aggregation: Aggregation::SeqMeanTokenSum,
        updates_per_batch: 2,
        micro_batch_size: 4,
        checkpoint_every: 1,
        ..GrpoConfig::default()
    }
}

fn run(policy: &mut TinyVlm, reference: &TinyVlm, checkpoint: &std::path::Path, stop_after: Option<f64>) -> anyhow::Result<Vec<Vec<(String, f64)>>> {
    run_with_hooks(policy, reference, checkpoint, stop_after, &mut NoHooks)
}

fn run_with_hooks(
    policy: &mut TinyVlm,
    reference: &TinyVlm,
    checkpoint: &std::path::Path,
    stop_after: Option<f64>,
    hooks: &mut dyn GrpoHooks,
) -> anyhow::Result<Vec<Vec<(String, f64)>>> {
    let tokenizer = tokenizer();
    let prompts = common::grpo_prompts(policy, &tokenizer, &common::tasks(4, 40));
    let mut rewards = vec![WeightedReward { reward: Box::new(CorrectColour), weight: 1.0 }];
    let inputs = GrpoInputs { codec: &tokenizer, prompts: &prompts, rewards: &mut rewards, tools: &mut common::ZoomTool, hooks };
    let mut seen = Vec::new();
    train_grpo(&full_options(), policy, Some(reference), inputs, Some(checkpoint), &mut |m| {
        // Wall-clock rates differ between runs; everything else must repeat exactly.
        seen.push(m.iter().filter(|(k, _)| !k.contains("per_second")).map(|(k, v)| (k.clone(), *v)).collect());
        if stop_after.is_some_and(|s| m["step"] >= s) {
            anyhow::bail!("simulated crash");
        }
        Ok(())
    })?;
    Ok(seen)
}

#[test]
fn grpo_resume_is_bit_identical() {
    let tokenizer = tokenizer();
    let dir = tempfile::tempdir().unwrap();
    let reference = tiny_model(&tokenizer, DType::F32, 50);

    let mut policy = reference.duplicate().unwrap();
    let full = run(&mut policy, &reference, &dir.path().join("full"), None).unwrap();
    assert!(full.iter().all(|m| m.iter().all(|(_, v)| v.is_finite())), "{full:?}");
    let kl = full[1].iter().find(|(k, _)| k == "kl").unwrap().1;
    assert!(kl > 0.0, "after one update the policy differs from the reference: KL {kl}");

    let mut first = reference.duplicate().unwrap();
    // The crash hits while step 2 is reported, before its checkpoint, so step 1 is the last.
    assert!(run(&mut first, &reference, &dir.path().join("split"), Some(2.0)).is_err());
    let mut resumed = tiny_model(&tokenizer, DType::F32, 51);
    let rest = run(&mut resumed, &reference, &dir.path().join("split"), None).unwrap();
    assert_eq!(rest, full[1..].to_vec());
    assert_eq!(weights_of(&resumed), weights_of(&policy));
}

/// Adds `0.1 × groups shaped so far` to each group's first reward, so the rewards of a step
/// depend on state carried over from earlier steps.
struct CountingHook {
    groups: u64,
    /// Whether `state` returns the count; false behaves like a hook without checkpoint support.
    saves_state: bool,
}

impl CountingHook {
    fn new(saves_state: bool) -> Self {
        Self { groups: 0, saves_state }
    }
}

impl GrpoHooks for CountingHook {
    fn shape_rewards(&mut self, _sample: &Sample, _group: &[Rollout], rewards: &mut [Option<f64>]) {
        self.groups += 1;
        if let Some(reward) = rewards[0].as_mut() {
            *reward += 0.1 * self.groups as f64;
        }
    }

    fn state(&self) -> serde_json::Value {
        if self.saves_state {
            serde_json::json!({ "groups": self.groups })
        } else {
            serde_json::Value::Null
        }
    }

    fn restore_state(&mut self, state: &serde_json::Value) -> anyhow::Result<()> {
        if self.saves_state {
            self.groups = state["groups"].as_u64().context("hook state has no `groups` count")?;
        }
        Ok(())
    }
}

/// Metrics of one step and the final weights.
type StepAndWeights = (Vec<(String, f64)>, Vec<Vec<f32>>);

/// Runs two steps uninterrupted, then the same two steps with a crash after step 1 and a
/// resume in a fresh model and hook, and returns (full, resumed) metrics of step 2 and weights.
fn interrupted_with_hook(saves_state: bool) -> (StepAndWeights, StepAndWeights) {
    let tokenizer = tokenizer();
    let dir = tempfile::tempdir().unwrap();
    let reference = tiny_model(&tokenizer, DType::F32, 50);

    let mut policy = reference.duplicate().unwrap();
    let full = run_with_hooks(&mut policy, &reference, &dir.path().join("full"), None, &mut CountingHook::new(saves_state)).unwrap();

    let mut first = reference.duplicate().unwrap();
    let split = dir.path().join("split");
    assert!(run_with_hooks(&mut first, &reference, &split, Some(2.0), &mut CountingHook::new(saves_state)).is_err());
    let mut resumed = tiny_model(&tokenizer, DType::F32, 51);
    let rest = run_with_hooks(&mut resumed, &reference, &split, None, &mut CountingHook::new(saves_state)).unwrap();
    assert_eq!(rest.len(), 1, "only step 2 runs after the resume");
    ((full[1].clone(), weights_of(&policy)), (rest[0].clone(), weights_of(&resumed)))
}

#[test]
fn grpo_resume_restores_hook_state() {
    let ((full_metrics, full_weights), (resumed_metrics, resumed_weights)) = interrupted_with_hook(true);
    assert_eq!(resumed_metrics, full_metrics);
    assert_eq!(resumed_weights, full_weights);
}

#[test]
fn grpo_resume_without_hook_state_diverges() {
    // The control for the test above: a hook that saves nothing restarts its count at 0,
    // which changes the shaped rewards of step 2.
    let ((full_metrics, _), (resumed_metrics, _)) = interrupted_with_hook(false);
    let reward = |metrics: &[(String, f64)]| metrics.iter().find(|(k, _)| k == "reward/mean").unwrap().1;
    assert_ne!(reward(&resumed_metrics), reward(&full_metrics));
}
