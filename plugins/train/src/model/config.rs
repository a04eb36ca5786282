//! Sizes of the tiny vision-language policy.

use anyhow::{bail, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Sizes of [`super::TinyVlm`]: a ViT-style patch encoder, a two-layer projector and a
/// decoder-only transformer. The vocabulary size and image token id come from the tokenizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TinyVlmConfig {
    /// Width of the language model's residual stream. Default 64; 8 to 4096, a multiple
    /// of `num_heads` with an even head size (rotary positions rotate pairs).
    pub hidden_size: usize,
    /// Number of decoder layers. Default 2; 1 to 64.
    pub num_layers: usize,
    /// Attention heads per decoder layer. Default 4; at least 1.
    pub num_heads: usize,
    /// Hidden width of each decoder layer's SwiGLU feed-forward block. Default 128; at least 1.
    pub intermediate_size: usize,
    /// Base of the rotary position frequencies. Default 10000; greater than 1.
    pub rope_theta: f64,
    /// Epsilon added inside RMSNorm's square root. Default 1e-6; greater than 0.
    pub rms_norm_eps: f64,
    /// Maximum sequence length the policy accepts, in tokens, image placeholders included.
    /// Default 1024; at least 1.
    pub max_seq_len: usize,
    /// Side of the square that every image is resized to, in pixels. Default 16; a
    /// multiple of `patch_size`.
    pub image_size: usize,
    /// Side of a square patch, in pixels. Default 4; at least 1. An image becomes
    /// `(image_size / patch_size)^2` tokens.
    pub patch_size: usize,
    /// Width of the vision encoder. Default 32; a multiple of `vision_heads`.
    pub vision_hidden_size: usize,
    /// Number of vision encoder layers. Default 1; 0 to 64.
    pub vision_layers: usize,
    /// Attention heads per vision layer. Default 2; at least 1.
    pub vision_heads: usize,
    /// Hidden width of each vision layer's GELU feed-forward block. Default 64; at least 1.
    pub vision_intermediate_size: usize,
    /// Standard deviation of the initial weights (uniform with that spread). Default 0.02;
    /// greater than 0.
    pub init_std: f64,
}

impl Default for TinyVlmConfig {
    fn default() -> Self {
        Self {
            hidden_size: 64,
            num_layers: 2,
            num_heads: 4,
            intermediate_size: 128,
            rope_theta: 10_000.0,
            rms_norm_eps: 1e-6,
            max_seq_len: 1024,
            image_size: 16,
            patch_size: 4,
            vision_hidden_size: 32,
            vision_layers: 1,
            vision_heads: 2,
            vision_intermediate_size: 64,
            init_std: 0.02,
        }
    }
}

impl TinyVlmConfig {
    /// Size of one attention head of the language model.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_heads
    }

    /// Number of tokens one image occupies.
    pub fn tokens_per_image(&self) -> usize {
        let side = self.image_size / self.patch_size;
        side * side
    }

    /// Checks the ranges stated on each field.
    ///
    /// # Errors
    /// Names the first field out of range and the rule it breaks.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("hidden_size", self.hidden_size),
            ("num_layers", self.num_layers),
            ("num_heads", self.num_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_seq_len", self.max_seq_len),
            ("image_size", self.image_size),
            ("patch_size", self.patch_size),
            ("vision_hidden_size", self.vision_hidden_size),
            ("vision_heads", self.vision_heads),
            ("vision_intermediate_size", self.vision_intermediate_size),
        ];
        for (name, value) in positive {
            if value == 0 {
                bail!("`{name}` is 0: set it to at least 1");
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_heads) || !self.head_dim().is_multiple_of(2) {
            bail!(
                "`hidden_size` {} must be a multiple of `num_heads` {} with an even head size",
                self.hidden_size,
                self.num_heads
            );
        }
        if !self.vision_hidden_size.is_multiple_of(self.vision_heads) {
            bail!(
                "`vision_hidden_size` {} must be a multiple of `vision_heads` {}",
                self.vision_hidden_size,
                self.vision_heads
            );
        }
        if !self.image_size.is_multiple_of(self.patch_size) {
            bail!("`image_size` {} must be a multiple of `patch_size` {}", self.image_size, self.patch_size);
        }
        if self.rope_theta <= 1.0 || self.rms_norm_eps <= 0.0 || self.init_std <= 0.0 {
            bail!(
                "`rope_theta` ({}) must be above 1, `rms_norm_eps` ({}) and `init_std` ({}) above 0",
                self.rope_theta,
                self.rms_norm_eps,
                self.init_std
            );
        }
        // Large sizes would abort on allocation rather than fail: check them here.
        let weights = self.weight_count_without_vocabulary();
        if weights > MAX_WEIGHTS {
            bail!(
                "these sizes give about {weights} weights (without the vocabulary), above the {MAX_WEIGHTS} that \
                 the built-in `tiny_vlm` allows: lower `hidden_size`, `num_layers` or `intermediate_size`, \
                 or train a Qwen checkpoint for a large model"
            );
        }
        if self.max_seq_len > MAX_SEQ_LEN || self.image_size > MAX_IMAGE_SIZE {
            bail!(
                "`max_seq_len` {} (at most {MAX_SEQ_LEN}) or `image_size` {} (at most {MAX_IMAGE_SIZE}) is too large for `tiny_vlm`",
                self.max_seq_len,
                self.image_size
            );
        }
        Ok(())
    }

    /// Number of weights of the decoder, vision encoder and projector, without the
    /// embedding and output rows that scale with the vocabulary. Saturates instead of
    /// overflowing.
    pub fn weight_count_without_vocabulary(&self) -> u128 {
        let (h, i, l) = (self.hidden_size as u128, self.intermediate_size as u128, self.num_layers as u128);
        let (vh, vi, vl) = (self.vision_hidden_size as u128, self.vision_intermediate_size as u128, self.vision_layers as u128);
        let patch = 3 * (self.patch_size as u128).pow(2);
        let decoder = l * (4 * h * h + 3 * h * i + 2 * h);
        let vision = patch * vh + vl * (4 * vh * vh + 2 * vh * vi + 2 * vh);
        decoder.saturating_add(vision).saturating_add(vh * h)
    }
}

/// Largest `tiny_vlm` accepted, in weights without the vocabulary: 10^9, about 4 GB in f32
/// before gradients and optimizer states.
pub const MAX_WEIGHTS: u128 = 1_000_000_000;
/// Maximum context length of a `tiny_vlm`, in tokens.
pub const MAX_SEQ_LEN: usize = 1 << 20;
/// Maximum image side of a `tiny_vlm`, in pixels.
pub const MAX_IMAGE_SIZE: usize = 8192;
