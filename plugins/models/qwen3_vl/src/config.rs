//! Model configuration read from a Hugging Face `config.json`.
//!
//! Two layouts are accepted: Qwen3-VL (`model_type: "qwen3_vl"`, with nested `text_config`
//! and `vision_config`) and text-only Qwen3 (`model_type: "qwen3"`, fields at the top level).

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// Activation function named by `hidden_act`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Silu,
    /// Exact GELU, `0.5 x (1 + erf(x / sqrt 2))`.
    Gelu,
    /// GELU with the tanh approximation (`gelu_pytorch_tanh` in Transformers).
    #[serde(alias = "gelu_new", alias = "gelu_fast")]
    GeluPytorchTanh,
}

/// Multimodal rotary embedding layout: how the `head_dim / 2` rotary frequencies are shared
/// between the temporal, height and width position axes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MropeConfig {
    /// Number of frequencies per axis `[t, h, w]`; sums to `head_dim / 2`.
    pub section: [usize; 3],
    /// When true (Qwen3-VL), frequency `j` belongs to axis `j % 3` while that axis has
    /// frequencies left; when false (Qwen2-VL), the axes take contiguous blocks.
    pub interleaved: bool,
}

/// The decoder-only language model shared by Qwen3 and Qwen3-VL.
#[derive(Debug, Clone, Deserialize)]
pub struct TextConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub hidden_act: Activation,
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Bias on the q, k, v and o projections (false for released Qwen3 checkpoints).
    #[serde(default)]
    pub attention_bias: bool,
    /// Older Transformers releases store the M-RoPE layout here.
    #[serde(default)]
    rope_scaling: Option<serde_json::Value>,
    /// Newer Transformers releases store the M-RoPE layout and `rope_theta` here.
    #[serde(default)]
    rope_parameters: Option<serde_json::Value>,
    /// Set after parsing: `None` for plain 1-D RoPE (text-only Qwen3).
    #[serde(skip)]
    pub mrope: Option<MropeConfig>,
}

/// The Qwen3-VL vision tower.
#[derive(Debug, Clone, Deserialize)]
pub struct VisionConfig {
    pub depth: usize,
    pub hidden_size: usize,
    pub out_hidden_size: usize,
    #[serde(default = "default_vision_act")]
    pub hidden_act: Activation,
    pub intermediate_size: usize,
    pub num_heads: usize,
    #[serde(default = "default_in_channels")]
    pub in_channels: usize,
    pub patch_size: usize,
    #[serde(default = "default_merge_size")]
    pub spatial_merge_size: usize,
    #[serde(default = "default_temporal_patch_size")]
    pub temporal_patch_size: usize,
    /// Learned absolute position table size; a perfect square (`side * side`).
    pub num_position_embeddings: usize,
    /// Vision blocks whose outputs are merged and added to the first language layers.
    #[serde(default)]
    pub deepstack_visual_indexes: Vec<usize>,
}

/// Special token ids that place images in the token sequence.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct VisionTokens {
    pub image_token_id: u32,
    pub video_token_id: u32,
    pub vision_start_token_id: u32,
    pub vision_end_token_id: u32,
}

/// A parsed `config.json`.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub text: TextConfig,
    /// `None` for text-only Qwen3.
    pub vision: Option<VisionConfig>,
    pub vision_tokens: Option<VisionTokens>,
}

fn default_max_position_embeddings() -> usize {
    32768
}
fn default_rms_norm_eps() -> f64 {
    1e-6
}
fn default_rope_theta() -> f64 {
    1_000_000.0
}
fn default_vision_act() -> Activation {
    Activation::GeluPytorchTanh
}
fn default_in_channels() -> usize {
    3
}
fn default_merge_size() -> usize {
    2
}
fn default_temporal_patch_size() -> usize {
    2
}

impl ModelConfig {
    /// Reads and validates `config.json`.
    ///
    /// # Errors
    /// When the file is missing, is not JSON, names an unsupported `model_type`, or has
    /// inconsistent sizes (the message names the field).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read model config {}", path.display()))?;
        Self::from_json(&text).with_context(|| format!("invalid model config {}", path.display()))
    }

    /// Parses a `config.json` body; see [`ModelConfig::from_file`].
    pub fn from_json(json: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(json).context("not valid JSON")?;
        let model_type = value.get("model_type").and_then(|v| v.as_str()).unwrap_or("");
        let config = match model_type {
            "qwen3_vl" => {
                let text_value = value
                    .get("text_config")
                    .context("missing `text_config` for `model_type` qwen3_vl")?;
                let vision_value = value
                    .get("vision_config")
                    .context("missing `vision_config` for `model_type` qwen3_vl")?;
                let mut text: TextConfig = serde_json::from_value(text_value.clone())
                    .context("invalid `text_config`")?;
                text.tie_word_embeddings = value
                    .get("tie_word_embeddings")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(text.tie_word_embeddings);
                let vision: VisionConfig = serde_json::from_value(vision_value.clone())
                    .context("invalid `vision_config`")?;
                let tokens: VisionTokens = serde_json::from_value(value.clone())
                    .context("missing image token ids (`image_token_id`, `video_token_id`, `vision_start_token_id`, `vision_end_token_id`)")?;
                text.mrope = Some(parse_mrope(&text)?);
                ModelConfig { text, vision: Some(vision), vision_tokens: Some(tokens) }
            }
            "qwen3" => {
                let text: TextConfig =
                    serde_json::from_value(value.clone()).context("invalid Qwen3 config")?;
                ModelConfig { text, vision: None, vision_tokens: None }
            }
            other => bail!(
                "unsupported `model_type` {other:?}: this plugin loads `qwen3_vl` and `qwen3` checkpoints"
            ),
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        let t = &self.text;
        if t.num_attention_heads == 0 || t.num_key_value_heads == 0 {
            bail!("`num_attention_heads` and `num_key_value_heads` must be positive");
        }
        if !t.num_attention_heads.is_multiple_of(t.num_key_value_heads) {
            bail!(
                "`num_attention_heads` ({}) must be a multiple of `num_key_value_heads` ({})",
                t.num_attention_heads,
                t.num_key_value_heads
            );
        }
        if !t.head_dim.is_multiple_of(2) {
            bail!("`head_dim` ({}) must be even for rotary embeddings", t.head_dim);
        }
        if let Some(mrope) = &t.mrope {
            let total: usize = mrope.section.iter().sum();
            if total != t.head_dim / 2 {
                bail!(
                    "`mrope_section` {:?} sums to {total}, expected `head_dim / 2` = {}",
                    mrope.section,
                    t.head_dim / 2
                );
            }
        }
        if let Some(v) = &self.vision {
            if v.num_heads == 0 || v.hidden_size % v.num_heads != 0 {
                bail!(
                    "vision `hidden_size` ({}) must be a multiple of `num_heads` ({})",
                    v.hidden_size,
                    v.num_heads
                );
            }
            let side = (v.num_position_embeddings as f64).sqrt().round() as usize;
            if side * side != v.num_position_embeddings {
                bail!(
                    "vision `num_position_embeddings` ({}) must be a perfect square",
                    v.num_position_embeddings
                );
            }
            if v.out_hidden_size != t.hidden_size {
                bail!(
                    "vision `out_hidden_size` ({}) must equal the text `hidden_size` ({})",
                    v.out_hidden_size,
                    t.hidden_size
                );
            }
            if let Some(&bad) = v.deepstack_visual_indexes.iter().find(|&&i| i >= v.depth) {
                bail!("`deepstack_visual_indexes` contains {bad}, but the vision `depth` is {}", v.depth);
            }
            if v.deepstack_visual_indexes.len() > t.num_hidden_layers {
                bail!(
                    "{} deepstack levels need at least as many language layers (have {})",
                    v.deepstack_visual_indexes.len(),
                    t.num_hidden_layers
                );
            }
        }
        Ok(())
    }

    /// True when the checkpoint has a vision tower.
    pub fn is_multimodal(&self) -> bool {
        self.vision.is_some()
    }
}

/// Reads `mrope_section` and `mrope_interleaved` from `rope_scaling` or `rope_parameters`.
fn parse_mrope(text: &TextConfig) -> Result<MropeConfig> {
    let source = text
        .rope_parameters
        .as_ref()
        .filter(|v| v.get("mrope_section").is_some())
        .or(text.rope_scaling.as_ref())
        .context("missing `rope_scaling.mrope_section` in `text_config`")?;
    let section: Vec<usize> = serde_json::from_value(
        source.get("mrope_section").cloned().context("missing `mrope_section`")?,
    )
    .context("`mrope_section` must be a list of three integers")?;
    let section: [usize; 3] = section
        .try_into()
        .map_err(|s: Vec<usize>| anyhow::anyhow!("`mrope_section` has {} entries, expected 3", s.len()))?;
    let interleaved = source.get("mrope_interleaved").and_then(|v| v.as_bool()).unwrap_or(true);
    Ok(MropeConfig { section, interleaved })
}

impl TextConfig {
    /// `rope_theta`, read from `rope_parameters` when the newer layout puts it there.
    pub fn rope_base(&self) -> f64 {
        self.rope_parameters
            .as_ref()
            .and_then(|v| v.get("rope_theta"))
            .and_then(|v| v.as_f64())
            .unwrap_or(self.rope_theta)
    }
}
