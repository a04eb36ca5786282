//! Tiny random checkpoints in the Hugging Face layout, for smoke runs and tests.
//!
//! [`write_tiny_qwen3_vl`] writes what a downloaded Qwen3-VL folder holds, at toy size
//! (hidden size 64, 2 layers, a 2-block vision tower with two deepstack levels):
//! `config.json`, two safetensors shards with their index, `preprocessor_config.json`,
//! `tokenizer.json` and `tokenizer_config.json`. The tokenizer is byte-level BPE without
//! merges (one token per byte, as Qwen's tokenizer before its merges) plus the Qwen
//! special tokens, so the same chat layout and tool-call format run end to end.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// Side of a square vision patch in pixels.
pub const PATCH: usize = 4;

/// Qwen special tokens in the order the tiny tokenizer numbers them after the 256 bytes.
pub const SPECIAL_TOKENS: [&str; 13] = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
];

/// Vocabulary rows of the tiny byte-level checkpoint: 256 bytes, the special tokens and
/// spare rows (real Qwen checkpoints also have more embedding rows than tokens).
pub const BYTE_LEVEL_VOCAB: usize = 288;

/// Sizes and token ids of a tiny checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct TinyCheckpoint {
    /// Rows of the embedding table and of the output head.
    pub vocab_size: usize,
    pub image_token_id: u32,
    pub video_token_id: u32,
    pub vision_start_token_id: u32,
    pub vision_end_token_id: u32,
    /// Output head shares the embedding table.
    pub tie_word_embeddings: bool,
    /// Seed of the random weights.
    pub seed: u64,
    /// Write the byte-level `tokenizer.json`; needs `vocab_size >= 256 + 13` and the
    /// token ids above to be those of [`SPECIAL_TOKENS`].
    pub tokenizer: bool,
}

impl TinyCheckpoint {
    /// Returns the settings of a checkpoint with the byte-level tokenizer and matching token ids.
    pub fn byte_level(seed: u64) -> Self {
        let id = |token: &str| 256 + SPECIAL_TOKENS.iter().position(|t| *t == token).expect("a listed token") as u32;
        TinyCheckpoint {
            vocab_size: BYTE_LEVEL_VOCAB,
            image_token_id: id("<|image_pad|>"),
            video_token_id: id("<|video_pad|>"),
            vision_start_token_id: id("<|vision_start|>"),
            vision_end_token_id: id("<|vision_end|>"),
            tie_word_embeddings: false,
            seed,
            tokenizer: true,
        }
    }
}

/// Shapes of every tensor of the tiny Qwen3-VL model.
fn vl_shapes(vocab: usize, tied: bool) -> Vec<(String, Vec<usize>)> {
    let mut shapes = Vec::new();
    let mut add = |name: String, shape: &[usize]| shapes.push((name, shape.to_vec()));
    let v = "model.visual";
    add(format!("{v}.patch_embed.proj.weight"), &[32, 3, 2, PATCH, PATCH]);
    add(format!("{v}.patch_embed.proj.bias"), &[32]);
    add(format!("{v}.pos_embed.weight"), &[16, 32]);
    for i in 0..2 {
        let b = format!("{v}.blocks.{i}");
        for norm in ["norm1", "norm2"] {
            add(format!("{b}.{norm}.weight"), &[32]);
            add(format!("{b}.{norm}.bias"), &[32]);
        }
        add(format!("{b}.attn.qkv.weight"), &[96, 32]);
        add(format!("{b}.attn.qkv.bias"), &[96]);
        add(format!("{b}.attn.proj.weight"), &[32, 32]);
        add(format!("{b}.attn.proj.bias"), &[32]);
        add(format!("{b}.mlp.linear_fc1.weight"), &[64, 32]);
        add(format!("{b}.mlp.linear_fc1.bias"), &[64]);
        add(format!("{b}.mlp.linear_fc2.weight"), &[32, 64]);
        add(format!("{b}.mlp.linear_fc2.bias"), &[32]);
    }
    let mergers = ["merger".to_string(), "deepstack_merger_list.0".to_string(), "deepstack_merger_list.1".to_string()];
    for (index, merger) in mergers.iter().enumerate() {
        let m = format!("{v}.{merger}");
        let norm_width = if index == 0 { 32 } else { 128 };
        add(format!("{m}.norm.weight"), &[norm_width]);
        add(format!("{m}.norm.bias"), &[norm_width]);
        add(format!("{m}.linear_fc1.weight"), &[128, 128]);
        add(format!("{m}.linear_fc1.bias"), &[128]);
        add(format!("{m}.linear_fc2.weight"), &[64, 128]);
        add(format!("{m}.linear_fc2.bias"), &[64]);
    }
    shapes.extend(text_shapes("model.language_model", vocab));
    if !tied {
        shapes.push(("lm_head.weight".into(), vec![vocab, 64]));
    }
    shapes
}

fn text_shapes(prefix: &str, vocab: usize) -> Vec<(String, Vec<usize>)> {
    let mut shapes = vec![(format!("{prefix}.embed_tokens.weight"), vec![vocab, 64])];
    for i in 0..2 {
        let l = format!("{prefix}.layers.{i}");
        for (name, shape) in [
            ("self_attn.q_proj.weight", vec![64, 64]),
            ("self_attn.k_proj.weight", vec![32, 64]),
            ("self_attn.v_proj.weight", vec![32, 64]),
            ("self_attn.o_proj.weight", vec![64, 64]),
            ("self_attn.q_norm.weight", vec![16]),
            ("self_attn.k_norm.weight", vec![16]),
            ("mlp.gate_proj.weight", vec![128, 64]),
            ("mlp.up_proj.weight", vec![128, 64]),
            ("mlp.down_proj.weight", vec![64, 128]),
            ("input_layernorm.weight", vec![64]),
            ("post_attention_layernorm.weight", vec![64]),
        ] {
            shapes.push((format!("{l}.{name}"), shape));
        }
    }
    shapes.push((format!("{prefix}.norm.weight"), vec![64]));
    shapes
}

/// `text_config` of the tiny model (shared by the multimodal and the text-only layout).
fn text_config_json(vocab: usize) -> Value {
    json!({
        "vocab_size": vocab, "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "head_dim": 16, "hidden_act": "silu", "max_position_embeddings": 4096,
        "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "attention_bias": false,
        "sliding_window": null, "max_window_layers": 2, "use_sliding_window": false,
    })
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(value)?).with_context(|| format!("failed to write {}", path.display()))
}

/// Writes random tensors over two shards and the index: norm weights near 1, everything
/// else uniform in `±scale`.
fn write_shards(dir: &Path, shapes: &[(String, Vec<usize>)], seed: u64, scale: f32) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut shards: [HashMap<String, Tensor>; 2] = Default::default();
    let mut weight_map = serde_json::Map::new();
    for (index, (name, shape)) in shapes.iter().enumerate() {
        let count: usize = shape.iter().product();
        let is_norm = name.contains("norm") && name.ends_with("weight");
        // The merger activation is exact GELU in Transformers but the tanh approximation in
        // candle-transformers 0.11.1. Weights at the usual 0.02 initialisation scale keep
        // its inputs small, where the two agree far below a 1e-4 logit tolerance.
        let scale = if name.contains("merger") && name.ends_with("linear_fc1.weight") { 0.02 } else { scale };
        let values: Vec<f32> = (0..count)
            .map(|_| {
                let noise = rng.random_range(-scale..scale);
                if is_norm { 1.0 + noise } else { noise }
            })
            .collect();
        let tensor = Tensor::from_vec(values, shape.as_slice(), &Device::Cpu)?;
        let shard = index % 2;
        shards[shard].insert(name.clone(), tensor);
        weight_map.insert(name.clone(), json!(shard_name(shard)));
    }
    for (shard, tensors) in shards.iter().enumerate() {
        let path = dir.join(shard_name(shard));
        candle_core::safetensors::save(tensors, &path).with_context(|| format!("failed to write {}", path.display()))?;
    }
    write_json(&dir.join("model.safetensors.index.json"), &json!({"metadata": {"total_size": 0}, "weight_map": weight_map}))
}

fn shard_name(shard: usize) -> String {
    format!("model-0000{}-of-00002.safetensors", shard + 1)
}

/// Paths of the two shards that the tiny writers create in `dir`.
pub fn shard_paths(dir: &Path) -> Vec<PathBuf> {
    (0..2).map(|shard| dir.join(shard_name(shard))).collect()
}

/// Writes a tiny Qwen3-VL checkpoint into `dir`, which must exist.
///
/// # Errors
/// A file cannot be written.
pub fn write_tiny_qwen3_vl(dir: &Path, spec: &TinyCheckpoint) -> Result<()> {
    let tied = spec.tie_word_embeddings;
    let mut text_config = text_config_json(spec.vocab_size);
    text_config["tie_word_embeddings"] = json!(tied);
    text_config["rope_scaling"] = json!({"rope_type": "default", "mrope_section": [2, 3, 3], "mrope_interleaved": true});
    let config = json!({
        "model_type": "qwen3_vl",
        "image_token_id": spec.image_token_id, "video_token_id": spec.video_token_id,
        "vision_start_token_id": spec.vision_start_token_id, "vision_end_token_id": spec.vision_end_token_id,
        "tie_word_embeddings": tied,
        "text_config": text_config,
        "vision_config": {
            "depth": 2, "hidden_size": 32, "out_hidden_size": 64, "hidden_act": "gelu_pytorch_tanh",
            "intermediate_size": 64, "num_heads": 2, "in_channels": 3, "in_chans": 3,
            "patch_size": PATCH, "spatial_merge_size": 2, "temporal_patch_size": 2,
            "num_position_embeddings": 16, "deepstack_visual_indexes": [0, 1],
        },
    });
    write_json(&dir.join("config.json"), &config)?;
    let processor = json!({
        "patch_size": PATCH, "temporal_patch_size": 2, "merge_size": 2,
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
        "min_pixels": 64, "max_pixels": 4096,
    });
    write_json(&dir.join("preprocessor_config.json"), &processor)?;
    if spec.tokenizer {
        write_byte_level_tokenizer(dir)?;
    }
    write_shards(dir, &vl_shapes(spec.vocab_size, tied), spec.seed, 0.2)
}

/// Writes a tiny text-only Qwen3 checkpoint into `dir`, which must exist.
///
/// # Errors
/// A file cannot be written.
pub fn write_tiny_qwen3(dir: &Path, spec: &TinyCheckpoint) -> Result<()> {
    let mut config = text_config_json(spec.vocab_size);
    config["model_type"] = json!("qwen3");
    config["tie_word_embeddings"] = json!(spec.tie_word_embeddings);
    write_json(&dir.join("config.json"), &config)?;
    if spec.tokenizer {
        write_byte_level_tokenizer(dir)?;
    }
    let mut shapes = text_shapes("model", spec.vocab_size);
    if !spec.tie_word_embeddings {
        shapes.push(("lm_head.weight".into(), vec![spec.vocab_size, 64]));
    }
    write_shards(dir, &shapes, spec.seed, 0.2)
}

/// Maps each byte to the printable character that byte-level BPE uses for it (GPT-2's
/// table): visible Latin-1 characters stand for themselves, and the other bytes take code
/// points from 256 up, in byte order.
fn byte_to_char() -> Vec<char> {
    let visible = |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut shifted = 0;
    (0u32..256)
        .map(|b| {
            if visible(b) {
                char::from_u32(b).expect("Latin-1 code point")
            } else {
                shifted += 1;
                char::from_u32(255 + shifted).expect("code point below 0x200")
            }
        })
        .collect()
}

/// Writes `tokenizer.json` (byte-level BPE without merges, the Qwen special tokens from id
/// 256) and a ChatML `tokenizer_config.json` into `dir`.
///
/// # Errors
/// A file cannot be written.
pub fn write_byte_level_tokenizer(dir: &Path) -> Result<()> {
    let vocab: serde_json::Map<String, Value> =
        byte_to_char().into_iter().enumerate().map(|(id, c)| (c.to_string(), json!(id))).collect();
    // As in Qwen's own files, the chat-control tokens are `special` (skipped when decoding
    // without special tokens) and the tool and thinking tags are not.
    let added: Vec<Value> = SPECIAL_TOKENS
        .iter()
        .enumerate()
        .map(|(index, token)| {
            json!({"id": 256 + index, "content": token, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": token.starts_with("<|")})
        })
        .collect();
    let tokenizer = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "vocab": vocab, "merges": []},
    });
    write_json(&dir.join("tokenizer.json"), &tokenizer)?;
    let config = json!({
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "chat_template": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    });
    write_json(&dir.join("tokenizer_config.json"), &config)
}
