//! Losses over next-token log-probabilities: SFT cross-entropy and the clipped GRPO/GSPO
//! policy objective with KL and entropy terms.
//!
//! Shapes: logits `(batch, len, vocab)`; everything per token is `(batch, len - 1)`, where
//! entry `t` belongs to the prediction of token `t + 1` from position `t`.

use anyhow::{bail, Result};
use candle_core::{DType, Device, Tensor, D};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::kl::{kl_estimate, KlEstimator};
use crate::model::log_softmax_last;

/// Log-probability of each next token: `(batch, len - 1)` from logits `(batch, len, vocab)`.
/// Positions past a sequence's end read token 0; mask them out.
pub fn next_token_log_probs(logits: &Tensor, sequences: &[Vec<u32>]) -> Result<Tensor> {
    let (batch, len, _) = logits.dims3()?;
    if batch != sequences.len() || len < 2 {
        bail!("next-token log-probs need {} sequences of at least 2 tokens, got logits {:?}", sequences.len(), logits.dims());
    }
    let mut targets = Vec::with_capacity(batch * (len - 1));
    for sequence in sequences {
        for t in 1..len {
            targets.push(sequence.get(t).copied().unwrap_or(0));
        }
    }
    let targets = Tensor::from_vec(targets, (batch, len - 1, 1), logits.device())?;
    let log_probs = log_softmax_last(&logits.narrow(1, 0, len - 1)?)?;
    Ok(log_probs.gather(&targets, 2)?.squeeze(2)?)
}

/// Entropy of each next-token distribution in nats: `(batch, len - 1)`.
pub fn next_token_entropy(logits: &Tensor) -> Result<Tensor> {
    let len = logits.dim(1)?;
    let log_probs = log_softmax_last(&logits.narrow(1, 0, len - 1)?)?;
    Ok((log_probs.exp()? * &log_probs)?.sum(D::Minus1)?.neg()?)
}

/// Shifts per-token masks (1 = train on this token) to the prediction layout: entry `t`
/// of the result is `masks[row][t + 1]`, padded with 0 to `(batch, len - 1)`.
pub fn shifted_mask(masks: &[Vec<f32>], len: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let mut values = Vec::with_capacity(masks.len() * (len - 1));
    for mask in masks {
        for t in 1..len {
            values.push(mask.get(t).copied().unwrap_or(0.0));
        }
    }
    Ok(Tensor::from_vec(values, (masks.len(), len - 1), device)?.to_dtype(dtype)?)
}

/// SFT token mask: 0 for the first `prompt_len` tokens, then `response_mask` (1 for
/// assistant tokens, 0 for observation tokens).
pub fn sft_token_mask(prompt_len: usize, response_mask: &[f32]) -> Vec<f32> {
    let mut mask = vec![0.0; prompt_len];
    mask.extend_from_slice(response_mask);
    mask
}

/// Loss mask of a completion: 1 up to and including the first end-of-sequence token
/// (the EOS token is trained), 0 after it. Without an EOS in the first `length` tokens
/// (a truncated completion), the first `length` tokens are 1.
pub fn eos_loss_mask(completion: &[u32], eos_ids: &[u32], length: usize) -> Vec<f32> {
    let end = completion
        .iter()
        .position(|id| eos_ids.contains(id))
        .map_or(length.min(completion.len()), |eos| eos + 1);
    (0..completion.len()).map(|i| if i < end { 1.0 } else { 0.0 }).collect()
}

/// Sum of the masked token cross-entropies and the number of masked tokens. Divide the
/// sum by the token count of the whole batch (not the micro-batch) so that gradient
/// accumulation gives the same result for any split.
pub fn cross_entropy_sum(log_probs: &Tensor, mask: &Tensor) -> Result<(Tensor, f64)> {
    let count = mask.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()?;
    let sum = (log_probs * mask)?.sum_all()?.neg()?;
    Ok((sum, count))
}

/// Reduction of per-token losses to one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Sum over all masked tokens of the batch divided by their count (DAPO).
    TokenMean,
    /// Per-sequence token mean, then the mean over sequences (original GRPO).
    SeqMeanTokenMean,
    /// Per-sequence token sum, then the mean over sequences (Dr. GRPO).
    SeqMeanTokenSum,
}

/// Whether the importance ratio is per token (GRPO) or per sequence (GSPO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RatioLevel {
    /// `π(y_t) / π_old(y_t)` for each token.
    Token,
    /// `exp(mean_t log(π(y_t) / π_old(y_t)))` for each sequence, shared by its tokens.
    Sequence,
}

/// Settings of the clipped policy objective.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolicyLossSettings {
    pub clip_epsilon_low: f64,
    pub clip_epsilon_high: f64,
    pub ratio_level: RatioLevel,
    /// Weight of the KL term in the loss; 0 leaves it out.
    pub kl_coef: f64,
    pub kl_estimator: KlEstimator,
    /// Weight of the entropy bonus (subtracted from the loss); 0 leaves it out.
    pub entropy_coef: f64,
    pub aggregation: Aggregation,
}

/// Per-token inputs of the policy objective, all `(batch, len - 1)`.
pub struct PolicyLossInputs<'a> {
    /// Log-probs under the policy being trained (tracked).
    pub log_probs: &'a Tensor,
    /// Log-probs under the policy that sampled the tokens (constant).
    pub old_log_probs: &'a Tensor,
    /// Log-probs under the frozen reference policy, when `kl_coef > 0`.
    pub ref_log_probs: Option<&'a Tensor>,
    /// Advantage of each token (a sequence's advantage, possibly reweighted per token).
    pub advantages: &'a Tensor,
    /// 1 for generated tokens to train on, 0 for prompt, observation and padding.
    pub mask: &'a Tensor,
    /// Entropy of each next-token distribution (tracked), when `entropy_coef > 0`.
    pub entropy: Option<&'a Tensor>,
}

/// Denominators of the whole optimizer batch, so micro-batches add up to its loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossNormalizer {
    /// Masked tokens in the whole batch.
    pub tokens: f64,
    /// Sequences in the whole batch.
    pub sequences: f64,
}

/// The policy loss of a micro-batch with its statistics (means over masked tokens).
pub struct PolicyLoss {
    pub loss: Tensor,
    pub clip_fraction: f64,
    pub kl_mean: f64,
    pub entropy_mean: f64,
    pub tokens: f64,
}

/// Computes the clipped surrogate `−min(ρA, clip(ρ, 1 − ε_low, 1 + ε_high)A)` per token,
/// adds `kl_coef · KL` and subtracts `entropy_coef · H`, and aggregates with `settings.aggregation`.
pub fn policy_loss(inputs: &PolicyLossInputs, settings: &PolicyLossSettings, normalizer: LossNormalizer) -> Result<PolicyLoss> {
    let mask = inputs.mask;
    let tokens = mask.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()?;
    let log_ratio = (inputs.log_probs - inputs.old_log_probs.detach())?;
    let ratio = match settings.ratio_level {
        RatioLevel::Token => log_ratio.exp()?,
        RatioLevel::Sequence => {
            let lengths = mask.sum_keepdim(1)?.clamp(1.0, f64::INFINITY)?;
            let mean = (&log_ratio * mask)?.sum_keepdim(1)?.div(&lengths)?;
            mean.exp()?.broadcast_as(log_ratio.shape())?.contiguous()?
        }
    };
    let advantages = inputs.advantages.detach();
    let clipped_ratio = ratio.clamp(1.0 - settings.clip_epsilon_low, 1.0 + settings.clip_epsilon_high)?;
    let surrogate = (&ratio * &advantages)?.minimum(&(&clipped_ratio * &advantages)?)?;
    let mut per_token = surrogate.neg()?;

    let clipped = ratio.ne(&clipped_ratio)?.to_dtype(mask.dtype())?;
    let clip_fraction = masked_mean(&clipped, mask, tokens)?;

    let mut kl_mean = 0.0;
    if let Some(ref_log_probs) = inputs.ref_log_probs {
        let kl = kl_estimate(inputs.log_probs, ref_log_probs, settings.kl_estimator)?;
        kl_mean = masked_mean(&kl, mask, tokens)?;
        if settings.kl_coef != 0.0 {
            per_token = (per_token + (kl * settings.kl_coef)?)?;
        }
    }
    let mut entropy_mean = 0.0;
    if let Some(entropy) = inputs.entropy {
        entropy_mean = masked_mean(entropy, mask, tokens)?;
        if settings.entropy_coef != 0.0 {
            per_token = (per_token - (entropy * settings.entropy_coef)?)?;
        }
    }

    let loss = aggregate(&per_token, mask, settings.aggregation, normalizer)?;
    Ok(PolicyLoss { loss, clip_fraction, kl_mean, entropy_mean, tokens })
}

/// Aggregates per-token losses `(batch, len - 1)` with the batch-wide denominators.
pub fn aggregate(per_token: &Tensor, mask: &Tensor, aggregation: Aggregation, normalizer: LossNormalizer) -> Result<Tensor> {
    let masked = (per_token * mask)?;
    let loss = match aggregation {
        Aggregation::TokenMean => (masked.sum_all()? / normalizer.tokens.max(1.0))?,
        Aggregation::SeqMeanTokenMean => {
            let lengths = mask.sum(1)?.clamp(1.0, f64::INFINITY)?;
            (masked.sum(1)?.div(&lengths)?.sum_all()? / normalizer.sequences.max(1.0))?
        }
        Aggregation::SeqMeanTokenSum => (masked.sum_all()? / normalizer.sequences.max(1.0))?,
    };
    Ok(loss)
}

fn masked_mean(values: &Tensor, mask: &Tensor, count: f64) -> Result<f64> {
    if count == 0.0 {
        return Ok(0.0);
    }
    let sum = (values.detach() * mask)?.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()?;
    Ok(sum / count)
}
