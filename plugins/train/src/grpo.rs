//! Group Relative Policy Optimization with multi-turn tool-using rollouts.
//!
//! One step samples `group_size` rollouts per prompt and scores them with weighted reward
//! functions. Hooks may reshape the rewards, which become group-relative advantages. Then
//! `updates_per_batch` optimizer updates run on the clipped objective (GRPO per token or
//! GSPO per sequence), with an optional KL penalty to a frozen reference and an entropy bonus.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::advantage::{combine_rewards, group_advantages};
use crate::checkpoint::{checkpoint_due, latest_checkpoint, load_checkpoint, save_checkpoint, CheckpointMeta, RngState};
use crate::kl::{kl_estimate_scalar, KlEstimator};
use crate::loss::{
    next_token_entropy, next_token_log_probs, policy_loss, shifted_mask, Aggregation, LossNormalizer, PolicyLossInputs,
    PolicyLossSettings, RatioLevel,
};
use crate::optim::{schedule_factor, GradAccumulator, GroupedAdamW, OptimizerConfig};
use crate::policy::{Policy, Sequence};
use crate::progress::progress_bar;
use crate::rollout::{generate_rollout, rollout_seed, Rollout, RolloutConfig, ToolRunner};
use crate::sft::StepMetrics;
use crate::codec::TextCodec;
use crate::trajectory::Sample;

/// A reward function. It may abstain (`None`) when it cannot score a completion, for
/// example a format reward on a truncated rollout.
pub trait Reward {
    /// Name used in metric keys (`reward/<name>/mean`).
    fn name(&self) -> &str;

    /// Scores one rollout of `sample`.
    fn score(&mut self, sample: &Sample, rollout: &Rollout) -> Option<f64>;
}

/// A reward function with its weight in the combined reward.
pub struct WeightedReward {
    pub reward: Box<dyn Reward>,
    pub weight: f64,
}

/// Extension points for paper-specific variants. Every method defaults to doing nothing.
pub trait GrpoHooks {
    /// Reshapes the combined rewards of one group (same prompt) before advantages are
    /// computed, with the whole group in view (for example a utility calibration that
    /// rewards tool calls by how much they helped the group).
    fn shape_rewards(&mut self, _sample: &Sample, _group: &[Rollout], _rewards: &mut [Option<f64>]) {}

    /// Reweights the per-token advantages of one rollout; `advantages` has one entry per
    /// completion token, all equal to the rollout's advantage on entry.
    fn reweight_advantages(&mut self, _sample: &Sample, _rollout: &Rollout, _advantages: &mut [f64]) {}

    /// Returns the state that a resumed run needs to continue exactly (for example moving
    /// averages), stored in each checkpoint. Stateless hooks keep the default `null`.
    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Restores a state that [`GrpoHooks::state`] returned, when training resumes from a
    /// checkpoint.
    ///
    /// # Errors
    /// The state does not have the shape this hook writes.
    fn restore_state(&mut self, _state: &serde_json::Value) -> Result<()> {
        Ok(())
    }
}

/// Key of the hooks' state in the checkpoint metadata's `extra` object.
const HOOK_STATE_KEY: &str = "hook_state";

/// Hooks that change nothing.
pub struct NoHooks;

impl GrpoHooks for NoHooks {}

/// GRPO settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct GrpoConfig {
    /// GRPO steps (rollout batches). Default 100; at least 1.
    pub steps: usize,
    /// Prompts per step; each gets `rollout.group_size` rollouts. Default 4; at least 1.
    pub prompts_per_step: usize,
    /// Sampling and multi-turn settings.
    pub rollout: RolloutConfig,
    /// Divide advantages by the group's Bessel-corrected standard deviation (GRPO); false
    /// only centres them (Dr. GRPO). Default true.
    pub scale_rewards_by_std: bool,
    /// Drop zero-variance groups from the update, so that they leave the loss denominators
    /// (their advantages are 0 either way). Default false.
    pub filter_zero_variance: bool,
    /// Lower clip range of the importance ratio: ratios below `1 - clip_epsilon_low` are
    /// clipped. Default 0.2; in [0, 1).
    pub clip_epsilon_low: f64,
    /// Upper clip range: ratios above `1 + clip_epsilon_high` are clipped. Default 0.2;
    /// at least 0 (DAPO uses 0.28).
    pub clip_epsilon_high: f64,
    /// Importance ratio per token (GRPO) or per sequence (GSPO). Default `token`.
    pub ratio_level: RatioLevel,
    /// Weight of KL(policy ‖ reference). Default 0 (no reference model); 0.1 in ActFER.
    pub kl_coef: f64,
    /// KL estimator. Default `k3`.
    pub kl_estimator: KlEstimator,
    /// Subtract `kl_coef` × the sequence's summed KL from its reward instead of adding the
    /// KL to the loss. Default false.
    pub kl_in_reward: bool,
    /// Weight of the entropy bonus. Default 0; 0.01 in ActFER.
    pub entropy_coef: f64,
    /// Loss aggregation. Default `token_mean`.
    pub aggregation: Aggregation,
    /// Optimizer updates per rollout batch; updates after the first are off-policy and
    /// use the importance ratio. Default 1; at least 1.
    pub updates_per_batch: usize,
    /// Rollouts per forward pass in the update. Default 8; at least 1.
    pub micro_batch_size: usize,
    /// Optimizer, schedule and parameter groups.
    pub optimizer: OptimizerConfig,
    /// Seed of prompt order and of every rollout's sampling stream. Default 0.
    pub seed: u64,
    /// Write a checkpoint every this many steps (and after the last). Default 10; 0 writes
    /// only the last.
    pub checkpoint_every: usize,
}

impl Default for GrpoConfig {
    fn default() -> Self {
        Self {
            steps: 100,
            prompts_per_step: 4,
            rollout: RolloutConfig::default(),
            scale_rewards_by_std: true,
            filter_zero_variance: false,
            clip_epsilon_low: 0.2,
            clip_epsilon_high: 0.2,
            ratio_level: RatioLevel::Token,
            kl_coef: 0.0,
            kl_estimator: KlEstimator::K3,
            kl_in_reward: false,
            entropy_coef: 0.0,
            aggregation: Aggregation::TokenMean,
            updates_per_batch: 1,
            micro_batch_size: 8,
            optimizer: OptimizerConfig::default(),
            seed: 0,
            checkpoint_every: 10,
        }
    }
}

impl GrpoConfig {
    pub fn validate(&self) -> Result<()> {
        self.rollout.validate()?;
        self.optimizer.validate()?;
        if self.steps == 0 || self.prompts_per_step == 0 || self.updates_per_batch == 0 || self.micro_batch_size == 0 {
            bail!("`steps`, `prompts_per_step`, `updates_per_batch` and `micro_batch_size` must be at least 1");
        }
        if !(0.0..1.0).contains(&self.clip_epsilon_low) || self.clip_epsilon_high < 0.0 {
            bail!(
                "`clip_epsilon_low` ({}) must be in [0, 1) and `clip_epsilon_high` ({}) at least 0",
                self.clip_epsilon_low,
                self.clip_epsilon_high
            );
        }
        if self.kl_coef < 0.0 || self.entropy_coef < 0.0 {
            bail!("`kl_coef` ({}) and `entropy_coef` ({}) must be at least 0", self.kl_coef, self.entropy_coef);
        }
        Ok(())
    }
}

/// A GRPO prompt: the sample (for rewards and hooks) and its tokenized prompt.
#[derive(Debug, Clone)]
pub struct GrpoPrompt {
    pub sample: Sample,
    pub prompt: Sequence,
}

/// Everything a GRPO run reads besides its settings.
pub struct GrpoInputs<'a> {
    /// Encodes and decodes the policy's text (trajectory markup).
    pub codec: &'a dyn TextCodec,
    pub prompts: &'a [GrpoPrompt],
    pub rewards: &'a mut [WeightedReward],
    pub tools: &'a mut dyn ToolRunner,
    pub hooks: &'a mut dyn GrpoHooks,
}

/// A scored rollout ready for the update.
struct Scored {
    rollout: Rollout,
    sequence: Sequence,
    token_mask: Vec<f32>,
    /// Per-token advantages over the full sequence (0 on the prompt).
    token_advantages: Vec<f64>,
    old_log_probs: Vec<f64>,
    ref_log_probs: Option<Vec<f64>>,
}

/// Log-probs of each next token (length `len - 1`) for each sequence, without gradient.
fn sequence_log_probs<P: Policy>(policy: &P, sequences: &[Sequence], micro_batch_size: usize) -> Result<Vec<Vec<f64>>> {
    let mut out = Vec::with_capacity(sequences.len());
    for chunk in sequences.chunks(micro_batch_size) {
        let logits = policy.forward(chunk)?.detach();
        let ids: Vec<Vec<u32>> = chunk.iter().map(|s| s.ids.clone()).collect();
        let log_probs: Vec<Vec<f64>> = next_token_log_probs(&logits, &ids)?.to_dtype(DType::F64)?.to_vec2()?;
        for (sequence, row) in chunk.iter().zip(log_probs) {
            out.push(row[..sequence.ids.len() - 1].to_vec());
        }
    }
    Ok(out)
}

/// Pads rows to `width` with zeros and stacks them as `(rows, width)`.
fn padded_tensor<P: Policy>(policy: &P, rows: &[&[f64]], width: usize) -> Result<Tensor> {
    let mut values = Vec::with_capacity(rows.len() * width);
    for row in rows {
        values.extend(row.iter().take(width));
        values.extend(std::iter::repeat_n(0.0, width.saturating_sub(row.len())));
    }
    Ok(Tensor::from_vec(values, (rows.len(), width), policy.device())?.to_dtype(policy.dtype())?)
}

fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, variance.sqrt())
}

/// Result of a finished GRPO run.
#[derive(Debug, Clone, PartialEq)]
pub struct GrpoSummary {
    pub steps_run: u64,
    pub total_steps: u64,
}

/// Runs GRPO, resuming from the latest checkpoint in `checkpoint_dir`.
///
/// `reference` is the frozen policy for the KL term (needed when `kl_coef > 0`). `on_step`
/// receives each step's metrics after its checkpoint is written; an error stops training.
pub fn train_grpo<P: Policy>(
    config: &GrpoConfig,
    policy: &mut P,
    reference: Option<&P>,
    inputs: GrpoInputs,
    checkpoint_dir: Option<&Path>,
    on_step: &mut dyn FnMut(&StepMetrics) -> Result<()>,
) -> Result<GrpoSummary> {
    config.validate()?;
    if inputs.prompts.is_empty() {
        bail!("GRPO got no prompts: check the input samples file");
    }
    if inputs.rewards.is_empty() {
        bail!("GRPO got no reward functions: configure at least one");
    }
    if config.kl_coef > 0.0 && reference.is_none() {
        bail!("`kl_coef` is {} but no reference policy was given", config.kl_coef);
    }
    let mut optimizer = GroupedAdamW::new(policy.named_vars(), &config.optimizer)?;
    let total_steps = config.steps as u64;

    // Resume from the latest checkpoint.
    let mut start = 0;
    if let Some(dir) = checkpoint_dir {
        if let Some(path) = latest_checkpoint(dir)? {
            let meta = load_checkpoint(&path, policy, &mut optimizer)?;
            start = meta.step;
            match meta.extra.get(HOOK_STATE_KEY) {
                Some(state) => inputs
                    .hooks
                    .restore_state(state)
                    .with_context(|| format!("failed to restore the GRPO hooks' state from checkpoint {}", path.display()))?,
                None => tracing::warn!(
                    path = %path.display(),
                    "checkpoint has no hook state, so reward-shaping hooks restart from their initial state"
                ),
            }
            tracing::info!(path = %path.display(), step = start, "resuming GRPO from checkpoint");
        }
    }

    let vars = optimizer.trainable();
    let weights: Vec<f64> = inputs.rewards.iter().map(|r| r.weight).collect();
    let bar = progress_bar(total_steps, "grpo");
    bar.set_position(start);
    for step in start..total_steps {
        let started = Instant::now();
        let mut metrics = StepMetrics::new();

        // Pick prompts: passes over a seeded shuffle, a pure function of seed and step.
        let chosen: Vec<&GrpoPrompt> = (0..config.prompts_per_step as u64)
            .map(|i| {
                let flat = step * config.prompts_per_step as u64 + i;
                let pass = flat / inputs.prompts.len() as u64;
                let mut order: Vec<usize> = (0..inputs.prompts.len()).collect();
                let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
                rng.set_stream(pass);
                order.shuffle(&mut rng);
                &inputs.prompts[order[(flat % inputs.prompts.len() as u64) as usize]]
            })
            .collect();

        // Sample the rollouts.
        let generation_started = Instant::now();
        let mut groups: Vec<Vec<Rollout>> = Vec::with_capacity(chosen.len());
        for (prompt_index, prompt) in chosen.iter().enumerate() {
            let mut group = Vec::with_capacity(config.rollout.group_size);
            for sample_index in 0..config.rollout.group_size {
                let seed = rollout_seed(config.seed, step, prompt_index as u64, sample_index as u64);
                group.push(generate_rollout(&*policy, inputs.codec, inputs.tools, &prompt.prompt, &config.rollout, seed)?);
            }
            groups.push(group);
        }
        let generation_seconds = generation_started.elapsed().as_secs_f64();

        // Score: weighted rewards per function (logged as trained), then combined.
        let mut rewards: Vec<Vec<Option<f64>>> = Vec::with_capacity(groups.len());
        let mut per_function: Vec<Vec<f64>> = vec![Vec::new(); inputs.rewards.len()];
        for (prompt, group) in chosen.iter().zip(&groups) {
            let mut group_rewards = Vec::with_capacity(group.len());
            for rollout in group {
                let scores: Vec<Option<f64>> =
                    inputs.rewards.iter_mut().map(|r| r.reward.score(&prompt.sample, rollout)).collect();
                for (f, score) in scores.iter().enumerate() {
                    if let Some(score) = score {
                        per_function[f].push(weights[f] * score);
                    }
                }
                group_rewards.push(combine_rewards(&scores, &weights));
            }
            inputs.hooks.shape_rewards(&prompt.sample, group, &mut group_rewards);
            rewards.push(group_rewards);
        }
        for (f, reward) in inputs.rewards.iter().enumerate() {
            let (mean, std) = mean_std(&per_function[f]);
            metrics.insert(format!("reward/{}/mean", reward.reward.name()), mean);
            metrics.insert(format!("reward/{}/std", reward.reward.name()), std);
        }

        // Old and reference log-probs of every rollout.
        let sequences: Vec<Sequence> = groups.iter().flatten().map(Rollout::full_sequence).collect();
        let old_log_probs = sequence_log_probs(&*policy, &sequences, config.micro_batch_size)?;
        let ref_log_probs = match reference {
            Some(reference) if config.kl_coef > 0.0 => Some(sequence_log_probs(reference, &sequences, config.micro_batch_size)?),
            _ => None,
        };

        // KL in the reward: subtract the coefficient times each sequence's summed KL.
        let masks: Vec<Vec<f32>> = groups.iter().flatten().map(Rollout::token_mask).collect();
        let (mut kl_token_sum, mut kl_token_count) = (0.0, 0.0);
        if let Some(ref_lp) = &ref_log_probs {
            for (index, reward) in rewards.iter_mut().flatten().enumerate() {
                let trained: Vec<usize> = (0..old_log_probs[index].len()).filter(|&t| masks[index][t + 1] > 0.0).collect();
                let kl: f64 = trained
                    .iter()
                    .map(|&t| kl_estimate_scalar(old_log_probs[index][t], ref_lp[index][t], config.kl_estimator))
                    .sum();
                kl_token_sum += kl;
                kl_token_count += trained.len() as f64;
                if config.kl_in_reward {
                    if let Some(reward) = reward {
                        *reward -= config.kl_coef * kl;
                    }
                }
            }
        }
        let all_rewards: Vec<f64> = rewards.iter().flatten().flatten().copied().collect();
        let (reward_mean, reward_std) = mean_std(&all_rewards);
        metrics.insert("reward/mean".into(), reward_mean);
        metrics.insert("reward/std".into(), reward_std);

        // Group-relative advantages, then per-token reweighting.
        let mut scored = Vec::new();
        let mut zero_variance_groups = 0;
        let mut advantage_values = Vec::new();
        let mut flat_index = 0;
        for ((prompt, group), group_rewards) in chosen.iter().zip(groups).zip(&rewards) {
            let result = group_advantages(group_rewards, config.scale_rewards_by_std);
            if result.zero_variance {
                zero_variance_groups += 1;
            }
            for (rollout, advantage) in group.into_iter().zip(result.advantages) {
                let index = flat_index;
                flat_index += 1;
                if result.zero_variance && config.filter_zero_variance {
                    continue;
                }
                advantage_values.push(advantage);
                let mut completion_advantages = vec![advantage; rollout.completion.len()];
                inputs.hooks.reweight_advantages(&prompt.sample, &rollout, &mut completion_advantages);
                let mut token_advantages = vec![0.0; rollout.prompt.ids.len()];
                token_advantages.extend(completion_advantages);
                scored.push(Scored {
                    sequence: sequences[index].clone(),
                    token_mask: masks[index].clone(),
                    token_advantages,
                    old_log_probs: old_log_probs[index].clone(),
                    ref_log_probs: ref_log_probs.as_ref().map(|r| r[index].clone()),
                    rollout,
                });
            }
        }
        let (advantage_mean, advantage_std) = mean_std(&advantage_values);
        metrics.insert("advantage/mean".into(), advantage_mean);
        metrics.insert("advantage/std".into(), advantage_std);
        metrics.insert("advantage/min".into(), advantage_values.iter().copied().fold(f64::INFINITY, f64::min));
        metrics.insert("advantage/max".into(), advantage_values.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        metrics.insert("zero_variance_fraction".into(), zero_variance_groups as f64 / chosen.len() as f64);

        // Update: `updates_per_batch` optimizer steps over the same rollouts.
        let lr_factor = schedule_factor(step as usize, total_steps as usize, config.optimizer.warmup_steps, config.optimizer.min_lr_ratio);
        let settings = PolicyLossSettings {
            clip_epsilon_low: config.clip_epsilon_low,
            clip_epsilon_high: config.clip_epsilon_high,
            ratio_level: config.ratio_level,
            kl_coef: if config.kl_in_reward { 0.0 } else { config.kl_coef },
            kl_estimator: config.kl_estimator,
            entropy_coef: config.entropy_coef,
            aggregation: config.aggregation,
        };
        let normalizer = LossNormalizer {
            tokens: scored.iter().map(|s| s.token_mask.iter().skip(1).sum::<f32>() as f64).sum(),
            sequences: scored.len() as f64,
        };
        let (mut loss_sum, mut clip_sum, mut entropy_sum, mut grad_norm) = (0.0, 0.0, 0.0, 0.0);
        let mut grads = GradAccumulator::default();
        if normalizer.tokens > 0.0 {
            for _ in 0..config.updates_per_batch {
                grads.clear();
                for chunk in scored.chunks(config.micro_batch_size) {
                    let chunk_sequences: Vec<Sequence> = chunk.iter().map(|s| s.sequence.clone()).collect();
                    let logits = policy.forward(&chunk_sequences)?;
                    let len = logits.dim(1)?;
                    let ids: Vec<Vec<u32>> = chunk.iter().map(|s| s.sequence.ids.clone()).collect();
                    let log_probs = next_token_log_probs(&logits, &ids)?;
                    let token_masks: Vec<Vec<f32>> = chunk.iter().map(|s| s.token_mask.clone()).collect();
                    let mask = shifted_mask(&token_masks, len, policy.dtype(), policy.device())?;
                    let old: Vec<&[f64]> = chunk.iter().map(|s| s.old_log_probs.as_slice()).collect();
                    let old = padded_tensor(&*policy, &old, len - 1)?;
                    let advantages: Vec<&[f64]> = chunk.iter().map(|s| &s.token_advantages[1..]).collect();
                    let advantages = padded_tensor(&*policy, &advantages, len - 1)?;
                    let reference = match chunk[0].ref_log_probs {
                        Some(_) => {
                            let rows: Vec<&[f64]> = chunk.iter().map(|s| s.ref_log_probs.as_deref().unwrap_or_default()).collect();
                            Some(padded_tensor(&*policy, &rows, len - 1)?)
                        }
                        None => None,
                    };
                    let entropy = if config.entropy_coef > 0.0 { Some(next_token_entropy(&logits)?) } else { None };
                    let loss = policy_loss(
                        &PolicyLossInputs {
                            log_probs: &log_probs,
                            old_log_probs: &old,
                            ref_log_probs: reference.as_ref(),
                            advantages: &advantages,
                            mask: &mask,
                            entropy: entropy.as_ref(),
                        },
                        &settings,
                        normalizer,
                    )?;
                    loss_sum += loss.loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
                    clip_sum += loss.clip_fraction * loss.tokens;
                    entropy_sum += loss.entropy_mean * loss.tokens;
                    grads.add(&vars, &loss.loss.backward()?)?;
                }
                grad_norm = optimizer.update(&grads, lr_factor)?.grad_norm;
            }
        }
        let updates = config.updates_per_batch as f64;
        let token_count = normalizer.tokens.max(1.0) * updates;
        metrics.insert("loss".into(), loss_sum / updates);
        metrics.insert("clip_fraction".into(), clip_sum / token_count);
        // KL per trained token between the sampling policy and the reference.
        metrics.insert("kl".into(), kl_token_sum / kl_token_count.max(1.0));
        metrics.insert("entropy".into(), entropy_sum / token_count);
        metrics.insert("grad_norm".into(), grad_norm);
        metrics.insert("learning_rate".into(), config.optimizer.learning_rate * lr_factor);

        // Rollout statistics.
        let rollouts: Vec<&Rollout> = scored.iter().map(|s| &s.rollout).collect();
        let count = rollouts.len().max(1) as f64;
        let generated: usize = rollouts.iter().map(|r| r.generated_tokens()).sum();
        let tool_calls: usize = rollouts.iter().map(|r| r.tool_calls).sum();
        let failures: usize = rollouts.iter().map(|r| r.tool_failures).sum();
        metrics.insert("completion_length".into(), rollouts.iter().map(|r| r.completion.len()).sum::<usize>() as f64 / count);
        metrics.insert("turns".into(), rollouts.iter().map(|r| r.turns).sum::<usize>() as f64 / count);
        metrics.insert("tool_calls_per_rollout".into(), tool_calls as f64 / count);
        metrics.insert("tool_failure_rate".into(), if tool_calls == 0 { 0.0 } else { failures as f64 / tool_calls as f64 });
        metrics.insert("rollout_tokens_per_second".into(), generated as f64 / generation_seconds.max(1e-9));
        metrics.insert("tokens_per_second".into(), generated as f64 / started.elapsed().as_secs_f64().max(1e-9));

        // Report, then checkpoint: a checkpoint of step N implies its metrics were
        // recorded, so a crash between the two replays step N instead of losing its metrics.
        let done = step + 1;
        metrics.insert("step".into(), done as f64);
        tracing::debug!(step = done, reward_mean, "grpo step");
        on_step(&metrics)?;
        let checkpoint_due = checkpoint_due(done, total_steps, config.checkpoint_every);
        if let (Some(dir), true) = (checkpoint_dir, checkpoint_due) {
            // Every sampling stream derives from the seed and the step, so the base stream
            // is the whole RNG state.
            let meta = CheckpointMeta {
                step: done,
                optimizer_step: optimizer.step,
                rng: RngState::capture(&ChaCha8Rng::seed_from_u64(config.seed)),
                extra: serde_json::json!({ HOOK_STATE_KEY: inputs.hooks.state() }),
            };
            save_checkpoint(dir, &*policy, &optimizer, &meta)?;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(GrpoSummary { steps_run: total_steps - start, total_steps })
}

/// Keys of the per-step metrics, for callers that build tables.
pub fn metric_names(rewards: &[WeightedReward]) -> Vec<String> {
    let mut names: Vec<String> = rewards
        .iter()
        .flat_map(|r| [format!("reward/{}/mean", r.reward.name()), format!("reward/{}/std", r.reward.name())])
        .collect();
    names.extend(
        [
            "reward/mean", "reward/std", "advantage/mean", "advantage/std", "advantage/min", "advantage/max",
            "zero_variance_fraction", "loss", "clip_fraction", "kl", "entropy", "grad_norm", "learning_rate",
            "completion_length", "turns", "tool_calls_per_rollout", "tool_failure_rate", "rollout_tokens_per_second",
            "tokens_per_second", "step",
        ]
        .map(String::from),
    );
    names
}
