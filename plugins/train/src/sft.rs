//! Supervised fine-tuning: cross-entropy on assistant tokens with AdamW, gradient
//! accumulation and resumable checkpoints.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::DType;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{checkpoint_due, latest_checkpoint, load_checkpoint, save_checkpoint, CheckpointMeta, RngState};
use crate::image::Image;
use crate::loss::{cross_entropy_sum, next_token_log_probs, shifted_mask};
use crate::optim::{schedule_factor, GradAccumulator, GroupedAdamW, OptimizerConfig};
use crate::policy::{Policy, Sequence};
use crate::progress::progress_bar;
use crate::rollout::expand_image_tokens;
use crate::codec::TextCodec;
use crate::trajectory::{Sample, Segment};

/// SFT settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SftConfig {
    /// Passes over the data. Default 1; at least 1.
    pub epochs: usize,
    /// Examples per optimizer step. Default 8; at least 1.
    pub batch_size: usize,
    /// Examples per forward pass; gradients of the micro-batches of a step are summed with
    /// token weights, so the update does not depend on this value. Default 8; at least 1.
    pub micro_batch_size: usize,
    /// Optimizer, schedule and parameter groups.
    pub optimizer: OptimizerConfig,
    /// Seed of the per-epoch shuffle. Default 0.
    pub seed: u64,
    /// Shuffle the examples at each epoch. Default true.
    pub shuffle: bool,
    /// Write a checkpoint every this many steps (and always after the last). Default 100;
    /// 0 writes only the last.
    pub checkpoint_every: usize,
}

impl Default for SftConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            batch_size: 8,
            micro_batch_size: 8,
            optimizer: OptimizerConfig::default(),
            seed: 0,
            shuffle: true,
            checkpoint_every: 100,
        }
    }
}

/// One tokenized SFT example.
#[derive(Debug, Clone, PartialEq)]
pub struct SftExample {
    pub sequence: Sequence,
    /// 1 for assistant tokens (trained), 0 for prompt and observation tokens; one per id.
    pub token_mask: Vec<f32>,
}

/// Tokenizes a sample with a target trajectory: the prompt, then each segment. Assistant
/// segments are trained. Observation segments are masked and wrapped in `<obs>…</obs>`
/// when the text lacks them. `images` are the prompt's images, then the observations'.
///
/// # Errors
/// Fails when the sample has no target or the `<image>` markers and images disagree.
pub fn encode_sft_example<P: Policy>(policy: &P, codec: &dyn TextCodec, sample: &Sample, images: &[Image]) -> Result<SftExample> {
    if sample.target.is_empty() {
        bail!("sample `{}` has no target trajectory: SFT needs one", sample.id);
    }
    let image_id = codec.image_id();
    let mut ids = Vec::new();
    let mut mask = Vec::new();
    let mut used_images = 0;
    let mut push = |text: &str, trained: bool, ids: &mut Vec<u32>, mask: &mut Vec<f32>| -> Result<()> {
        let raw = codec.encode(text)?;
        let count = raw.iter().filter(|&&id| id == image_id).count();
        let segment_images = images.get(used_images..used_images + count).with_context(|| {
            format!("sample `{}` has more `<image>` markers than its {} images", sample.id, images.len())
        })?;
        used_images += count;
        let expanded = expand_image_tokens(policy, &raw, image_id, segment_images)?;
        mask.extend(std::iter::repeat_n(if trained { 1.0 } else { 0.0 }, expanded.len()));
        ids.extend(expanded);
        Ok(())
    };
    push(&codec.frame_prompt(&sample.prompt), false, &mut ids, &mut mask)?;
    let last_assistant = sample.target.iter().rposition(|s| matches!(s, Segment::Assistant { .. }));
    for (index, segment) in sample.target.iter().enumerate() {
        match segment {
            // A target that already ends with `<eos>` has its end of turn.
            Segment::Assistant { text }
                if Some(index) == last_assistant && !codec.end_of_turn().is_empty() && !text.trim_end().ends_with("<eos>") =>
            {
                push(&format!("{text}{}", codec.end_of_turn()), true, &mut ids, &mut mask)?
            }
            Segment::Assistant { text } => push(text, true, &mut ids, &mut mask)?,
            Segment::Observation { text, .. } => {
                let wrapped = if text.starts_with("<obs>") { text.clone() } else { format!("<obs>{text}</obs>") };
                push(&wrapped, false, &mut ids, &mut mask)?;
            }
        }
    }
    if used_images != images.len() {
        bail!("sample `{}` has {used_images} `<image>` markers but {} images", sample.id, images.len());
    }
    Ok(SftExample { sequence: Sequence { ids, images: images.to_vec() }, token_mask: mask })
}

/// Per-step scalars passed to the metrics callback.
pub type StepMetrics = BTreeMap<String, f64>;

/// Result of a finished SFT run.
#[derive(Debug, Clone, PartialEq)]
pub struct SftSummary {
    /// Steps run by this call (after resuming).
    pub steps_run: u64,
    pub total_steps: u64,
    /// Mean token loss of the last step.
    pub final_loss: f64,
}

/// Computes the mean token cross-entropy of `examples` as one batch, split into
/// micro-batches of `micro_batch_size`, and accumulates its gradient into `grads`.
/// Returns the loss and the token count.
pub fn sft_batch_gradient<P: Policy>(
    policy: &P,
    examples: &[&SftExample],
    micro_batch_size: usize,
    vars: &[(String, candle_core::Var)],
    grads: &mut GradAccumulator,
) -> Result<(f64, f64)> {
    let total_tokens: f64 = examples.iter().map(|e| e.token_mask.iter().skip(1).sum::<f32>() as f64).sum();
    if total_tokens == 0.0 {
        bail!("the batch has no assistant tokens to train on");
    }
    let mut loss_total = 0.0;
    for chunk in examples.chunks(micro_batch_size.max(1)) {
        let sequences: Vec<Sequence> = chunk.iter().map(|e| e.sequence.clone()).collect();
        let logits = policy.forward(&sequences)?;
        let len = logits.dim(1)?;
        let ids: Vec<Vec<u32>> = chunk.iter().map(|e| e.sequence.ids.clone()).collect();
        let log_probs = next_token_log_probs(&logits, &ids)?;
        let masks: Vec<Vec<f32>> = chunk.iter().map(|e| e.token_mask.clone()).collect();
        let mask = shifted_mask(&masks, len, policy.dtype(), policy.device())?;
        let (sum, _) = cross_entropy_sum(&log_probs, &mask)?;
        // Dividing by the whole batch's token count makes the micro-batch gradients add up
        // to the gradient of the batch mean.
        let loss = (sum / total_tokens)?;
        loss_total += loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        grads.add(vars, &loss.backward()?)?;
    }
    Ok((loss_total, total_tokens))
}

/// Runs SFT on `examples`, resuming from the latest checkpoint in `checkpoint_dir`.
///
/// `on_step` receives each step's metrics (`step`, `loss`, `grad_norm`, `learning_rate`,
/// `tokens`, `tokens_per_second`) after that step's checkpoint is written; an error from
/// it stops training.
pub fn train_sft<P: Policy>(
    config: &SftConfig,
    policy: &mut P,
    examples: &[SftExample],
    checkpoint_dir: Option<&Path>,
    on_step: &mut dyn FnMut(&StepMetrics) -> Result<()>,
) -> Result<SftSummary> {
    if examples.is_empty() {
        bail!("SFT got no examples: check the input samples file");
    }
    if config.epochs == 0 || config.batch_size == 0 || config.micro_batch_size == 0 {
        bail!("`epochs`, `batch_size` and `micro_batch_size` must be at least 1");
    }
    let mut optimizer = GroupedAdamW::new(policy.named_vars(), &config.optimizer)?;
    let steps_per_epoch = examples.len().div_ceil(config.batch_size) as u64;
    let total_steps = steps_per_epoch * config.epochs as u64;

    // Resume from the latest checkpoint.
    let mut start = 0;
    if let Some(dir) = checkpoint_dir {
        if let Some(path) = latest_checkpoint(dir)? {
            let meta = load_checkpoint(&path, policy, &mut optimizer)?;
            start = meta.step;
            tracing::info!(path = %path.display(), step = start, "resuming SFT from checkpoint");
        }
    }

    let vars = optimizer.trainable();
    let mut grads = GradAccumulator::default();
    let bar = progress_bar(total_steps, "sft");
    bar.set_position(start);
    let mut final_loss = f64::NAN;
    for step in start..total_steps {
        let started = Instant::now();

        // Pick this step's batch from the epoch's order (a pure function of seed and epoch).
        let epoch = step / steps_per_epoch;
        let order = epoch_order(examples.len(), config.seed, epoch, config.shuffle);
        let first = ((step % steps_per_epoch) as usize) * config.batch_size;
        let batch: Vec<&SftExample> =
            order[first..(first + config.batch_size).min(order.len())].iter().map(|&i| &examples[i]).collect();

        // Accumulate gradients over micro-batches, then update.
        grads.clear();
        let (loss, tokens) = sft_batch_gradient(policy, &batch, config.micro_batch_size, &vars, &mut grads)?;
        let lr_factor = schedule_factor(
            step as usize,
            total_steps as usize,
            config.optimizer.warmup_steps,
            config.optimizer.min_lr_ratio,
        );
        let update = optimizer.update(&grads, lr_factor)?;
        final_loss = loss;

        // Checkpoint, then report.
        let done = step + 1;
        // Report before the checkpoint, so a checkpoint of step N implies its metrics
        // were recorded.
        let seconds = started.elapsed().as_secs_f64();
        let metrics: StepMetrics = [
            ("step", done as f64),
            ("loss", loss),
            ("grad_norm", update.grad_norm),
            ("learning_rate", config.optimizer.learning_rate * lr_factor),
            ("tokens", tokens),
            ("tokens_per_second", tokens / seconds.max(1e-9)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        tracing::debug!(step = done, loss, grad_norm = update.grad_norm, "sft step");
        on_step(&metrics)?;
        let checkpoint_due = checkpoint_due(done, total_steps, config.checkpoint_every);
        if let (Some(dir), true) = (checkpoint_dir, checkpoint_due) {
            // The batch order derives from the seed and the epoch, so the base stream is the
            // whole RNG state.
            let meta = CheckpointMeta {
                step: done,
                optimizer_step: optimizer.step,
                rng: RngState::capture(&ChaCha8Rng::seed_from_u64(config.seed)),
                extra: serde_json::json!({"epoch": epoch}),
            };
            save_checkpoint(dir, policy, &optimizer, &meta)?;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(SftSummary { steps_run: total_steps - start, total_steps, final_loss })
}

/// Example order of `epoch`: shuffled with a stream derived from the seed and the epoch,
/// so a resumed run rebuilds the same order without stored state.
pub fn epoch_order(len: usize, seed: u64, epoch: u64, shuffle: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    if shuffle {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(epoch);
        order.shuffle(&mut rng);
    }
    order
}
