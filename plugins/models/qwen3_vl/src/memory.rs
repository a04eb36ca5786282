//! Memory estimate for loading and training a checkpoint, computed from the shard headers
//! before any weight is read.

use std::fmt;

use anyhow::{bail, Result};
use candle_core::safetensors::MmapedSafetensors;
use serde::{Deserialize, Serialize};

use crate::config::ModelConfig;
use crate::model::LoadOptions;
use crate::params::ParamGroup;

/// Batch shape that sizes the activation estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    /// Sequences per optimizer micro-batch. Default 1.
    pub batch_size: usize,
    /// Tokens per sequence, image placeholders included. Default 2048.
    pub seq_len: usize,
}

impl Default for Workload {
    fn default() -> Self {
        Workload { batch_size: 1, seq_len: 2048 }
    }
}

/// Estimated device memory in bytes, by purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEstimate {
    pub total_params: u64,
    pub trainable_params: u64,
    pub weights: u64,
    pub gradients: u64,
    /// AdamW first and second moments, stored in the variable dtype as candle's AdamW does.
    pub optimizer_states: u64,
    /// Saved activations of one training micro-batch (an estimate from the layer shapes,
    /// without the vision tower's activations).
    pub activations: u64,
}

impl MemoryEstimate {
    /// Sum of all parts.
    pub fn total(&self) -> u64 {
        self.weights + self.gradients + self.optimizer_states + self.activations
    }

    /// Estimates memory from tensor shapes in the shard headers.
    pub fn from_checkpoint(config: &ModelConfig, shards: &MmapedSafetensors, options: &LoadOptions) -> Result<Self> {
        let dtype_bytes = options.dtype.size_in_bytes() as u64;
        let mut total_params = 0u64;
        let mut trainable_params = 0u64;
        for (name, view) in shards.tensors() {
            if name == "lm_head.weight" && config.text.tie_word_embeddings {
                continue;
            }
            let count: u64 = view.shape().iter().map(|&d| d as u64).product();
            total_params += count;
            let group = group_of(&name);
            if options.trainable.full.contains(&group) {
                trainable_params += count;
            }
            if let (Some(lora), Some(module)) = (&options.trainable.lora, name.strip_suffix(".weight")) {
                if view.shape().len() == 2 && lora.targets(module) && !name.contains("norm") {
                    let adapter = (lora.rank * (view.shape()[0] + view.shape()[1])) as u64;
                    total_params += adapter;
                    trainable_params += adapter;
                }
            }
        }
        let activations = if trainable_params > 0 { activation_bytes(config, options) } else { 0 };
        Ok(MemoryEstimate {
            total_params,
            trainable_params,
            weights: total_params * dtype_bytes,
            gradients: trainable_params * dtype_bytes,
            optimizer_states: 2 * trainable_params * dtype_bytes,
            activations,
        })
    }

    /// Checks the estimate against `budget_bytes`.
    ///
    /// # Errors
    /// When the estimate exceeds the budget; the message lists the parts and what to change.
    pub fn check_budget(&self, budget_bytes: u64) -> Result<()> {
        if self.total() > budget_bytes {
            bail!(
                "the model needs an estimated {} but the memory budget is {} ({self}): \
                 use bf16, LoRA instead of full fine-tuning, a smaller batch or shorter sequences",
                format_bytes(self.total()),
                format_bytes(budget_bytes)
            );
        }
        Ok(())
    }
}

/// Bytes of saved activations for one micro-batch: per language layer the inputs of the
/// norms, projections and MLP, plus attention scores and probabilities in f32, plus the
/// f32 logits and log-probabilities.
fn activation_bytes(config: &ModelConfig, options: &LoadOptions) -> u64 {
    let t = &config.text;
    let dtype_bytes = options.dtype.size_in_bytes() as u64;
    let batch = options.workload.batch_size as u64;
    let seq = options.workload.seq_len as u64;
    let tokens = batch * seq;
    let hidden = t.hidden_size as u64;
    let q_width = (t.num_attention_heads * t.head_dim) as u64;
    let kv_width = (t.num_key_value_heads * t.head_dim) as u64;
    let intermediate = t.intermediate_size as u64;
    let per_token = 4 * hidden + 2 * q_width + 4 * kv_width + 4 * intermediate;
    let scores = 2 * batch * t.num_attention_heads as u64 * seq * seq * 4;
    let per_layer = tokens * per_token * dtype_bytes + scores;
    let logits = 2 * tokens * t.vocab_size as u64 * 4;
    per_layer * t.num_hidden_layers as u64 + logits
}

/// The training group of a checkpoint tensor, by name.
pub fn group_of(name: &str) -> ParamGroup {
    if name.contains("visual.merger") || name.contains("visual.deepstack_merger_list") {
        ParamGroup::Projector
    } else if name.contains("visual.") {
        ParamGroup::Vision
    } else if name.contains("embed_tokens") {
        ParamGroup::Embeddings
    } else if name.starts_with("lm_head") {
        ParamGroup::LmHead
    } else if name.contains("norm") {
        ParamGroup::LanguageNorm
    } else {
        ParamGroup::LanguageLinear
    }
}

/// Formats bytes in GiB or MiB.
pub fn format_bytes(bytes: u64) -> String {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    if bytes as f64 >= GIB {
        format!("{:.2} GiB", bytes as f64 / GIB)
    } else {
        format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

impl fmt::Display for MemoryEstimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memory estimate {}: weights {}, gradients {}, optimizer states {}, activations {} \
             ({} parameters, {} trainable)",
            format_bytes(self.total()),
            format_bytes(self.weights),
            format_bytes(self.gradients),
            format_bytes(self.optimizer_states),
            format_bytes(self.activations),
            self.total_params,
            self.trainable_params
        )
    }
}
