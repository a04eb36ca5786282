//! Per-token estimators of KL(policy ‖ reference) from sampled tokens.

use anyhow::Result;
use candle_core::Tensor;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Estimator of the KL divergence from a token sampled from the policy (Schulman's
/// "Approximating KL divergence" note): with `d = log π_ref − log π`,
/// `k1 = −d`, `k2 = d² / 2`, `k3 = exp(d) − d − 1`. k3 is unbiased and never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KlEstimator {
    K1,
    K2,
    K3,
}

/// Computes the per-token KL estimate from the policy's and the reference's log-probs of
/// the same tokens (same shape; the result has that shape too). The gradient flows
/// through `log_probs` only when it is a tracked tensor; `ref_log_probs` is a constant.
pub fn kl_estimate(log_probs: &Tensor, ref_log_probs: &Tensor, estimator: KlEstimator) -> Result<Tensor> {
    let delta = (ref_log_probs.detach() - log_probs)?;
    let kl = match estimator {
        KlEstimator::K1 => delta.neg()?,
        KlEstimator::K2 => (delta.sqr()? * 0.5)?,
        KlEstimator::K3 => ((delta.exp()? - &delta)? - 1.0)?,
    };
    Ok(kl)
}

/// Computes the same estimate for plain numbers, for KL folded into the reward.
pub fn kl_estimate_scalar(log_prob: f64, ref_log_prob: f64, estimator: KlEstimator) -> f64 {
    let delta = ref_log_prob - log_prob;
    match estimator {
        KlEstimator::K1 => -delta,
        KlEstimator::K2 => 0.5 * delta * delta,
        KlEstimator::K3 => delta.exp() - delta - 1.0,
    }
}
