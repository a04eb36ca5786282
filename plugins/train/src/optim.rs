//! AdamW with parameter groups, frozen groups, global-norm gradient clipping, a warmup plus
//! cosine learning-rate schedule and gradient accumulation.
//!
//! candle 0.11's `AdamW` has neither groups nor clipping and keeps its moments private, so
//! checkpoints could not hold them; this optimizer owns its moments.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Overrides for one parameter group (the weight-name prefix before the first dot:
/// `vision`, `projector` or `llm` for the tiny policy).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupOverride {
    /// Peak learning rate of the group; default the optimizer's `learning_rate`. At least 0.
    #[serde(default)]
    pub learning_rate: Option<f64>,
    /// Decoupled weight decay of the group; default the optimizer's `weight_decay`.
    #[serde(default)]
    pub weight_decay: Option<f64>,
    /// Keep the group's weights fixed (no gradient, no update). Default false.
    #[serde(default)]
    pub frozen: bool,
}

/// Optimizer and schedule settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OptimizerConfig {
    /// Peak learning rate. Default 1e-5; at least 0.
    pub learning_rate: f64,
    /// Decoupled weight decay (AdamW). Default 0.01; at least 0.
    pub weight_decay: f64,
    /// Adam's first-moment decay. Default 0.9; in [0, 1).
    pub beta1: f64,
    /// Adam's second-moment decay. Default 0.999; in [0, 1).
    pub beta2: f64,
    /// Adam's denominator epsilon. Default 1e-8; greater than 0.
    pub eps: f64,
    /// Clip gradients to this global L2 norm before the update; `null` turns clipping off.
    /// Default 1.0; greater than 0.
    pub max_grad_norm: Option<f64>,
    /// Optimizer steps of linear warmup from 0 to the peak learning rate. Default 0.
    pub warmup_steps: usize,
    /// Learning rate at the end of the cosine decay, as a fraction of the peak. Default 0;
    /// in [0, 1].
    pub min_lr_ratio: f64,
    /// Per-group overrides by group name, for example `{vision: {frozen: true}}`.
    pub groups: BTreeMap<String, GroupOverride>,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            learning_rate: 1e-5,
            weight_decay: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            max_grad_norm: Some(1.0),
            warmup_steps: 0,
            min_lr_ratio: 0.0,
            groups: BTreeMap::new(),
        }
    }
}

impl OptimizerConfig {
    /// Checks the ranges stated on each field.
    pub fn validate(&self) -> Result<()> {
        if !(self.learning_rate >= 0.0 && self.weight_decay >= 0.0) {
            bail!("`learning_rate` ({}) and `weight_decay` ({}) must be at least 0", self.learning_rate, self.weight_decay);
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) || self.eps <= 0.0 {
            bail!("`beta1` ({}) and `beta2` ({}) must be in [0, 1) and `eps` ({}) above 0", self.beta1, self.beta2, self.eps);
        }
        if self.max_grad_norm.is_some_and(|norm| norm <= 0.0) || !(0.0..=1.0).contains(&self.min_lr_ratio) {
            bail!("`max_grad_norm` must be above 0 and `min_lr_ratio` ({}) in [0, 1]", self.min_lr_ratio);
        }
        Ok(())
    }
}

/// Learning-rate multiplier of update `step` (0-based) out of `total_steps`: linear warmup
/// `(step + 1) / warmup_steps`, then cosine decay from 1 to `min_lr_ratio` at the last step.
pub fn schedule_factor(step: usize, total_steps: usize, warmup_steps: usize, min_lr_ratio: f64) -> f64 {
    if step < warmup_steps {
        return (step + 1) as f64 / warmup_steps as f64;
    }
    let decay_steps = total_steps.saturating_sub(warmup_steps).max(1);
    let progress = ((step - warmup_steps) as f64 / decay_steps as f64).min(1.0);
    min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// Summed gradients by weight name, over the micro-batches of one optimizer step.
#[derive(Default)]
pub struct GradAccumulator {
    sums: BTreeMap<String, Tensor>,
}

impl GradAccumulator {
    /// Adds the gradients of `vars` found in `grads`.
    pub fn add(&mut self, vars: &[(String, Var)], grads: &GradStore) -> Result<()> {
        for (name, var) in vars {
            if let Some(grad) = grads.get(var.as_tensor()) {
                let sum = match self.sums.remove(name) {
                    Some(previous) => (previous + grad)?,
                    None => grad.clone(),
                };
                self.sums.insert(name.clone(), sum);
            }
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.sums.get(name)
    }

    pub fn clear(&mut self) {
        self.sums.clear();
    }
}

/// Adam state of one weight.
pub struct ParamState {
    pub name: String,
    pub var: Var,
    pub learning_rate: f64,
    pub weight_decay: f64,
    /// First moment, same shape as the weight.
    pub m: Tensor,
    /// Second moment, same shape as the weight.
    pub v: Tensor,
}

/// AdamW over the non-frozen weights, with per-group learning rate and weight decay.
pub struct GroupedAdamW {
    config: OptimizerConfig,
    params: Vec<ParamState>,
    /// Updates applied so far (Adam's bias correction uses `step`).
    pub step: u64,
}

/// Statistics of one update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdateStats {
    /// Global L2 norm of the gradient before clipping.
    pub grad_norm: f64,
    /// Learning-rate multiplier from the schedule.
    pub lr_factor: f64,
}

impl GroupedAdamW {
    /// Builds the optimizer over `vars` (named `group.…`), skipping frozen groups.
    ///
    /// # Errors
    /// Fails on out-of-range settings or an override for a group no weight belongs to.
    pub fn new(vars: Vec<(String, Var)>, config: &OptimizerConfig) -> Result<Self> {
        config.validate()?;
        let groups: std::collections::BTreeSet<String> =
            vars.iter().map(|(name, _)| name.split('.').next().unwrap_or_default().to_string()).collect();
        for group in config.groups.keys() {
            if !groups.contains(group) {
                bail!("optimizer group `{group}` matches no weight: the model's groups are {groups:?}");
            }
        }
        let mut params = Vec::new();
        for (name, var) in vars {
            let group = name.split('.').next().unwrap_or_default();
            let overrides = config.groups.get(group).cloned().unwrap_or_default();
            if overrides.frozen {
                continue;
            }
            let m = var.zeros_like()?;
            let v = var.zeros_like()?;
            params.push(ParamState {
                name,
                learning_rate: overrides.learning_rate.unwrap_or(config.learning_rate),
                weight_decay: overrides.weight_decay.unwrap_or(config.weight_decay),
                var,
                m,
                v,
            });
        }
        Ok(Self { config: config.clone(), params, step: 0 })
    }

    /// Returns the trained (non-frozen) weights by name.
    pub fn trainable(&self) -> Vec<(String, Var)> {
        self.params.iter().map(|p| (p.name.clone(), p.var.clone())).collect()
    }

    pub fn params(&self) -> &[ParamState] {
        &self.params
    }

    pub fn params_mut(&mut self) -> &mut [ParamState] {
        &mut self.params
    }

    /// Global L2 norm of the accumulated gradients of the trained weights.
    pub fn grad_norm(&self, grads: &GradAccumulator) -> Result<f64> {
        let mut sum = 0.0;
        for param in &self.params {
            if let Some(grad) = grads.get(&param.name) {
                sum += grad.to_dtype(DType::F64)?.sqr()?.sum_all()?.to_scalar::<f64>()?;
            }
        }
        Ok(sum.sqrt())
    }

    /// Applies one AdamW update with the learning rates scaled by `lr_factor`, after
    /// clipping the gradients to `max_grad_norm`. Weights without a gradient still decay
    /// and move with their moments, as in PyTorch's AdamW for a zero gradient.
    pub fn update(&mut self, grads: &GradAccumulator, lr_factor: f64) -> Result<UpdateStats> {
        let grad_norm = self.grad_norm(grads)?;
        if !grad_norm.is_finite() {
            bail!("gradient norm is {grad_norm}: the loss diverged; lower the learning rate or check the data");
        }
        let clip_scale = match self.config.max_grad_norm {
            Some(max) if grad_norm > max => max / (grad_norm + 1e-6),
            _ => 1.0,
        };
        self.step += 1;
        let (beta1, beta2) = (self.config.beta1, self.config.beta2);
        let bias1 = 1.0 - beta1.powi(self.step as i32);
        let bias2 = 1.0 - beta2.powi(self.step as i32);
        for param in &mut self.params {
            let grad = match grads.get(&param.name) {
                Some(grad) => (grad * clip_scale)?,
                None => param.var.zeros_like()?,
            };
            param.m = ((&param.m * beta1)? + (&grad * (1.0 - beta1))?)?;
            param.v = ((&param.v * beta2)? + (grad.sqr()? * (1.0 - beta2))?)?;
            let lr = param.learning_rate * lr_factor;
            let m_hat = (&param.m / bias1)?;
            let v_hat = (&param.v / bias2)?;
            let step = (m_hat / (v_hat.sqrt()? + self.config.eps)?)?;
            let decayed = (param.var.as_tensor() * (1.0 - lr * param.weight_decay))?;
            param.var.set(&(decayed - (step * lr)?)?)?;
        }
        Ok(UpdateStats { grad_norm, lr_factor })
    }
}
