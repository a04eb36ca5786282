//! Linear layers with optional LoRA adapters.
//!
//! A LoRA adapter adds `scale * B A x` to a frozen `W x + b`, with `A: (rank, in)`,
//! `B: (out, rank)` and `scale = alpha / rank`. `A` starts random and `B` at zero, so a fresh
//! adapter leaves the output unchanged. The frozen base with adapters switched off is the
//! reference policy for the KL term, so no second copy of the weights is kept.

use std::cell::RefCell;

use anyhow::{bail, Result};
use candle_core::{DType, Tensor, Var};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// LoRA settings for the linear layers named in `target_modules`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraConfig {
    /// Adapter rank `r`; at least 1. Typical values: 8 to 64.
    pub rank: usize,
    /// Scaling numerator; the update is multiplied by `alpha / rank`. Default 16.
    pub alpha: f64,
    /// Dropout probability on the adapter input during training, in `[0, 1)`. Default 0.
    pub dropout: f64,
    /// Module names that receive adapters, matched against the last name component
    /// (`q_proj` matches `model.language_model.layers.3.self_attn.q_proj`) or a full
    /// dotted suffix.
    pub target_modules: Vec<String>,
}

impl LoraConfig {
    /// Checks the ranges documented on the fields.
    ///
    /// # Errors
    /// Names the invalid field and its value.
    pub fn validate(&self) -> Result<()> {
        if self.rank == 0 {
            bail!("invalid LoRA `rank` 0: use a rank of at least 1");
        }
        if !(0.0..1.0).contains(&self.dropout) {
            bail!("invalid LoRA `dropout` {}: expected a probability in [0, 1)", self.dropout);
        }
        if self.target_modules.is_empty() {
            bail!("LoRA `target_modules` is empty: name at least one linear layer, e.g. `q_proj`");
        }
        Ok(())
    }

    /// True when the linear layer `module` (a dotted name without `.weight`) is targeted.
    pub fn targets(&self, module: &str) -> bool {
        self.target_modules
            .iter()
            .any(|target| module == target || module.ends_with(&format!(".{target}")))
    }

    /// `alpha / rank`.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }
}

/// Settings of one forward pass.
pub struct Pass {
    /// False for the reference policy: LoRA adapters are skipped.
    pub adapters: bool,
    /// Source of LoRA dropout masks; `None` turns dropout off (evaluation and rollouts).
    pub dropout_rng: Option<RefCell<ChaCha8Rng>>,
}

impl Pass {
    /// Evaluation with adapters on and no dropout.
    pub fn eval() -> Self {
        Pass { adapters: true, dropout_rng: None }
    }

    /// The frozen base model: adapters off, no dropout.
    pub fn reference() -> Self {
        Pass { adapters: false, dropout_rng: None }
    }

    /// Training with adapter dropout drawn from `rng`.
    pub fn train(rng: ChaCha8Rng) -> Self {
        Pass { adapters: true, dropout_rng: Some(RefCell::new(rng)) }
    }
}

/// A trainable low-rank update of one linear layer.
#[derive(Debug, Clone)]
pub struct LoraAdapter {
    /// `(rank, in_features)`.
    pub a: Var,
    /// `(out_features, rank)`.
    pub b: Var,
    pub scale: f64,
    pub dropout: f64,
}

/// `y = x W^T + b`, plus an optional LoRA update.
#[derive(Debug, Clone)]
pub struct Linear {
    /// Dotted module name in the checkpoint, without `.weight`.
    pub name: String,
    /// `(out_features, in_features)`.
    pub weight: Tensor,
    /// `(out_features,)`.
    pub bias: Option<Tensor>,
    pub lora: Option<LoraAdapter>,
}

impl Linear {
    /// Applies the layer to `xs` of shape `(..., in_features)`.
    pub fn forward(&self, xs: &Tensor, pass: &Pass) -> candle_core::Result<Tensor> {
        let dims = xs.dims().to_vec();
        let in_features = *dims.last().expect("linear input has at least one dimension");
        let rows: usize = dims[..dims.len() - 1].iter().product();
        let flat = xs.reshape((rows, in_features))?;
        let mut ys = flat.matmul(&self.weight.t()?)?;
        if let Some(bias) = &self.bias {
            ys = ys.broadcast_add(bias)?;
        }
        if let (Some(lora), true) = (&self.lora, pass.adapters) {
            let input = match &pass.dropout_rng {
                Some(rng) if lora.dropout > 0.0 => {
                    apply_dropout(&flat, lora.dropout, &mut rng.borrow_mut())?
                }
                _ => flat.clone(),
            };
            let low = input.matmul(&lora.a.as_tensor().t()?)?;
            let update = (low.matmul(&lora.b.as_tensor().t()?)? * lora.scale)?;
            ys = (ys + update)?;
        }
        let mut out_dims = dims;
        *out_dims.last_mut().expect("non-empty") = ys.dim(1)?;
        ys.reshape(out_dims)
    }

    /// The weight with the adapter folded in: `W + scale * B A`, in the weight's dtype.
    pub fn merged_weight(&self) -> candle_core::Result<Tensor> {
        match &self.lora {
            None => Ok(self.weight.clone()),
            Some(lora) => {
                let delta = (lora.b.as_tensor().to_dtype(DType::F32)?
                    .matmul(&lora.a.as_tensor().to_dtype(DType::F32)?)?
                    * lora.scale)?;
                (self.weight.to_dtype(DType::F32)? + delta)?.to_dtype(self.weight.dtype())
            }
        }
    }
}

/// Inverted dropout: zeroes each element with probability `p` and scales the rest by
/// `1 / (1 - p)`. The mask comes from `rng` so runs with the same seed repeat exactly.
fn apply_dropout(xs: &Tensor, p: f64, rng: &mut ChaCha8Rng) -> candle_core::Result<Tensor> {
    let keep_scale = 1.0 / (1.0 - p);
    let mask: Vec<f32> = (0..xs.elem_count())
        .map(|_| if rng.random::<f64>() < p { 0.0 } else { keep_scale as f32 })
        .collect();
    let mask = Tensor::from_vec(mask, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
    xs.mul(&mask)
}
