//! Tiny random checkpoints written to disk in the Hugging Face layout (two shards and an
//! index), so the loaders under test read real files.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

pub const IMAGE_TOKEN: u32 = 100;
pub const VISION_START: u32 = 102;
pub const VISION_END: u32 = 103;
pub const VOCAB: usize = 128;
pub const PATCH: usize = 4;

/// Shapes of every tensor of the tiny Qwen3-VL model.
fn vl_shapes(tied: bool) -> Vec<(String, Vec<usize>)> {
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
    shapes.extend(text_shapes("model.language_model"));
    if !tied {
        shapes.push(("lm_head.weight".into(), vec![VOCAB, 64]));
    }
    shapes
}

fn text_shapes(prefix: &str) -> Vec<(String, Vec<usize>)> {
    let mut shapes = vec![(format!("{prefix}.embed_tokens.weight"), vec![VOCAB, 64])];
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

fn text_config_json() -> serde_json::Value {
    json!({
        "vocab_size": VOCAB, "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "head_dim": 16, "hidden_act": "silu", "max_position_embeddings": 256,
        "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "attention_bias": false,
        "sliding_window": null, "max_window_layers": 2, "use_sliding_window": false,
    })
}

/// Writes random tensors: norm weights near 1, everything else uniform in `±scale`.
fn write_shards(dir: &Path, shapes: &[(String, Vec<usize>)], seed: u64, scale: f32) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut shards: [HashMap<String, Tensor>; 2] = Default::default();
    let mut weight_map = serde_json::Map::new();
    for (index, (name, shape)) in shapes.iter().enumerate() {
        let count: usize = shape.iter().product();
        let is_norm = name.contains("norm") && name.ends_with("weight");
        // The merger activation is exact GELU in Transformers but the tanh approximation in
        // candle-transformers 0.11.1. Weights at the usual 0.02 initialisation scale keep
        // its inputs small, where the two agree far below the 1e-4 logit tolerance.
        let scale = if name.contains("merger") && name.ends_with("linear_fc1.weight") { 0.02 } else { scale };
        let values: Vec<f32> = (0..count)
            .map(|_| {
                let noise = rng.random_range(-scale..scale);
                if is_norm { 1.0 + noise } else { noise }
            })
            .collect();
        let tensor = Tensor::from_vec(values, shape.as_slice(), &Device::Cpu).unwrap();
        let shard = index % 2;
        shards[shard].insert(name.clone(), tensor);
        weight_map.insert(name.clone(), json!(format!("model-0000{}-of-00002.safetensors", shard + 1)));
    }
    for (shard, tensors) in shards.iter().enumerate() {
        let path = dir.join(format!("model-0000{}-of-00002.safetensors", shard + 1));
        candle_core::safetensors::save(tensors, path).unwrap();
    }
    let index = json!({"metadata": {"total_size": 0}, "weight_map": weight_map});
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
}

/// Writes a tiny Qwen3-VL checkpoint (hidden 64, 2 layers, a 2-block vision tower with
/// two deepstack levels) into `dir`.
pub fn write_tiny_qwen3_vl(dir: &Path) {
    write_tiny_qwen3_vl_with(dir, false);
}

/// Like [`write_tiny_qwen3_vl`], with the output head tied to the embeddings when `tied`.
pub fn write_tiny_qwen3_vl_with(dir: &Path, tied: bool) {
    let config = json!({
        "model_type": "qwen3_vl",
        "image_token_id": IMAGE_TOKEN, "video_token_id": 101,
        "vision_start_token_id": VISION_START, "vision_end_token_id": VISION_END,
        "tie_word_embeddings": tied,
        "text_config": {
            "tie_word_embeddings": tied,
            "rope_scaling": {"rope_type": "default", "mrope_section": [2, 3, 3], "mrope_interleaved": true},
            "vocab_size": VOCAB, "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "head_dim": 16, "hidden_act": "silu", "max_position_embeddings": 256,
            "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "attention_bias": false,
            "sliding_window": null,
        },
        "vision_config": {
            "depth": 2, "hidden_size": 32, "out_hidden_size": 64, "hidden_act": "gelu_pytorch_tanh",
            "intermediate_size": 64, "num_heads": 2, "in_channels": 3, "in_chans": 3,
            "patch_size": PATCH, "spatial_merge_size": 2, "temporal_patch_size": 2,
            "num_position_embeddings": 16, "deepstack_visual_indexes": [0, 1],
        },
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let processor = json!({
        "patch_size": PATCH, "temporal_patch_size": 2, "merge_size": 2,
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
        "min_pixels": 64, "max_pixels": 4096,
    });
    std::fs::write(dir.join("preprocessor_config.json"), processor.to_string()).unwrap();
    write_shards(dir, &vl_shapes(tied), 7, 0.2);
}

/// Writes a tiny text-only Qwen3 checkpoint into `dir`.
pub fn write_tiny_qwen3(dir: &Path, tie_word_embeddings: bool) {
    let mut config = text_config_json();
    config["model_type"] = json!("qwen3");
    config["tie_word_embeddings"] = json!(tie_word_embeddings);
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let mut shapes = text_shapes("model");
    if !tie_word_embeddings {
        shapes.push(("lm_head.weight".into(), vec![VOCAB, 64]));
    }
    write_shards(dir, &shapes, 11, 0.2);
}

/// Paths of the two shards, for candle-transformers' loader.
pub fn shard_paths(dir: &Path) -> Vec<std::path::PathBuf> {
    (1..=2).map(|i| dir.join(format!("model-0000{i}-of-00002.safetensors"))).collect()
}

/// Deterministic pixel patches `(patches, 3 * 2 * PATCH * PATCH)` in `[-1, 1]`.
pub fn random_patches(patches: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..patches * 3 * 2 * PATCH * PATCH).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Largest absolute difference between two tensors of equal shape.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a.to_dtype(DType::F32).unwrap() - b.to_dtype(DType::F32).unwrap())
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}
