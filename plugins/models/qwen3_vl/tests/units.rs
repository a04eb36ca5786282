//! Position ids, image preprocessing, chat rendering and the memory estimate.

use assay_qwen3_vl::chat::{self, ChatMessage, Content, Role, ToolCall};
use assay_qwen3_vl::config::MropeConfig;
use assay_qwen3_vl::image_processing::ImageProcessorConfig;
use assay_qwen3_vl::rope::{frequency_axis, mrope_positions};
use assay_qwen3_vl::tokenizer::expand_image_placeholders;
use assay_qwen3_vl::{LoadOptions, LoraConfig, ParamGroup, Qwen3Vl, TrainableParams};
use assay_train::Image;
use candle_core::{DType, Device};

use crate::fixture::*;

#[test]
fn mrope_positions_hand_computed() {
    // Two text tokens, a 4x6-patch image (2x3 merged tokens), one text token.
    let mut tokens = vec![1, 2];
    tokens.extend([IMAGE_TOKEN; 6]);
    tokens.push(3);
    let positions = mrope_positions(&tokens, IMAGE_TOKEN, &[[1, 4, 6]], 2, 0).unwrap();
    let expected: Vec<[i64; 3]> = vec![
        [0, 0, 0],
        [1, 1, 1],
        [2, 2, 2],
        [2, 2, 3],
        [2, 2, 4],
        [2, 3, 2],
        [2, 3, 3],
        [2, 3, 4],
        [5, 5, 5],
    ];
    assert_eq!(positions, expected);
}

#[test]
fn mrope_positions_reject_wrong_run() {
    let tokens = vec![1, IMAGE_TOKEN, IMAGE_TOKEN, 2];
    let error = mrope_positions(&tokens, IMAGE_TOKEN, &[[1, 4, 4]], 2, 0).unwrap_err();
    assert!(error.to_string().contains("needs 4 consecutive image tokens"), "{error}");
}

#[test]
fn interleaved_frequency_axes() {
    // Qwen3-VL-4B: head_dim 128, mrope_section [24, 20, 20].
    let mrope = MropeConfig { section: [24, 20, 20], interleaved: true };
    let axes: Vec<usize> = (0..64).map(|j| frequency_axis(j, Some(&mrope))).collect();
    assert_eq!(&axes[..6], &[0, 1, 2, 0, 1, 2]);
    assert_eq!(&axes[57..64], &[0, 1, 2, 0, 0, 0, 0]);
    let counts: Vec<usize> = (0..3).map(|a| axes.iter().filter(|&&x| x == a).count()).collect();
    assert_eq!(counts, vec![24, 20, 20]);
}

fn processor(patch: usize, min: usize, max: usize) -> ImageProcessorConfig {
    serde_json::from_value(serde_json::json!({
        "patch_size": patch, "merge_size": 2, "temporal_patch_size": 2,
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
        "min_pixels": min, "max_pixels": max,
    }))
    .unwrap()
}

#[test]
fn smart_resize_hand_computed() {
    let qwen2 = processor(14, 56 * 56, 28 * 28 * 1280);
    // Too large: scaled by sqrt(1080 * 1920 / 1003520) and floored to multiples of 28.
    assert_eq!(qwen2.smart_resize(1080, 1920).unwrap(), (728, 1316));
    // Too small: scaled by sqrt(3136 / 1200) and ceiled to multiples of 28.
    assert_eq!(qwen2.smart_resize(30, 40).unwrap(), (56, 84));
    // In range: rounded to the nearest multiple.
    assert_eq!(qwen2.smart_resize(100, 200).unwrap(), (112, 196));
    assert!(qwen2.smart_resize(10, 100).is_err());
}

#[test]
fn preprocess_patch_layout() {
    let config = processor(4, 64, 4096);
    // 8x8 image whose red channel encodes the pixel index.
    let mut pixels = vec![0.0f32; 3 * 64];
    for i in 0..64 {
        pixels[i] = i as f32 / 64.0;
        pixels[64 + i] = 0.5;
        pixels[128 + i] = 1.0;
    }
    let image = Image::new(8, 8, pixels).unwrap();
    let patches = config.preprocess(&image).unwrap();
    assert_eq!(patches.grid, [1, 2, 2]);
    assert_eq!(patches.patch_width, 96);
    assert_eq!(patches.values.len(), 4 * 96);
    let normalise = |v: f32| (v - 0.5) / 0.5;
    // Patch 1 is the top-right 4x4 block; its red frame 0 starts at pixel (0, 4).
    let patch1 = &patches.values[96..192];
    assert_eq!(patch1[0], normalise(4.0 / 64.0));
    // Red frame 1 repeats frame 0.
    assert_eq!(patch1[16], normalise(4.0 / 64.0));
    // Row 1 of the patch starts at pixel (1, 4).
    assert_eq!(patch1[4], normalise(12.0 / 64.0));
    // Green channel starts after 2 frames of 16 values.
    assert_eq!(patch1[32], 0.0);
    assert_eq!(patch1[64], 1.0);
    // Patch 2 is the bottom-left block: pixel (4, 0).
    assert_eq!(patches.values[192], normalise(32.0 / 64.0));
}

#[test]
fn chat_renders_tool_calls() {
    let tools = vec![serde_json::json!({"type": "function", "function": {"name": "zoom_in"}})];
    let messages = vec![
        ChatMessage::text(Role::System, "Be brief."),
        ChatMessage { role: Role::User, content: vec![Content::Image, Content::Text("Emotion?".into())], tool_calls: vec![] },
        ChatMessage {
            role: Role::Assistant,
            content: vec![],
            tool_calls: vec![ToolCall { name: "zoom_in".into(), arguments: serde_json::json!({"x": 1}) }],
        },
        ChatMessage::text(Role::Tool, "ok"),
    ];
    let text = chat::render_chat(&messages, &tools, true);
    let expected = concat!(
        "<|im_start|>system\nBe brief.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n",
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n",
        "{\"function\":{\"name\":\"zoom_in\"},\"type\":\"function\"}\n</tools>\n\n",
        "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n",
        "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n",
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Emotion?<|im_end|>\n",
        "<|im_start|>assistant\n<tool_call>\n{\"arguments\":{\"x\":1},\"name\":\"zoom_in\"}\n</tool_call><|im_end|>\n",
        "<|im_start|>user\n<tool_response>\nok\n</tool_response><|im_end|>\n",
        "<|im_start|>assistant\n",
    );
    assert_eq!(text, expected);
    let calls = chat::parse_tool_calls("I will look.\n<tool_call>\n{\"name\": \"zoom_in\", \"arguments\": {\"x\": 1}}\n</tool_call>").unwrap();
    assert_eq!(calls, vec![ToolCall { name: "zoom_in".into(), arguments: serde_json::json!({"x": 1}) }]);
    assert!(chat::parse_tool_calls("<tool_call>{not json}</tool_call>").is_err());
    assert!(chat::check_chat_template(r#"{"chat_template": "{{ bos_token }}[INST]"}"#).is_err());
}

#[test]
fn image_placeholders_expand() {
    let ids = [1, IMAGE_TOKEN, 2, IMAGE_TOKEN];
    let expanded = expand_image_placeholders(&ids, IMAGE_TOKEN, &[2, 3]).unwrap();
    assert_eq!(expanded, vec![1, IMAGE_TOKEN, IMAGE_TOKEN, 2, IMAGE_TOKEN, IMAGE_TOKEN, IMAGE_TOKEN]);
    assert!(expand_image_placeholders(&ids, IMAGE_TOKEN, &[2]).is_err());
}

#[test]
fn memory_estimate_counts_parameters() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_qwen3_vl(dir.path());
    let trainable = TrainableParams {
        full: vec![ParamGroup::Projector],
        lora: Some(LoraConfig { rank: 4, alpha: 8.0, dropout: 0.0, target_modules: vec!["q_proj".into()] }),
        seed: 0,
    };
    let options = LoadOptions { trainable, ..LoadOptions::inference(DType::F32, &Device::Cpu) };
    let model = Qwen3Vl::load(dir.path(), &options).unwrap();
    let shards = unsafe { candle_core::safetensors::MmapedSafetensors::multi(&shard_paths(dir.path())).unwrap() };
    let estimate = assay_qwen3_vl::MemoryEstimate::from_checkpoint(&model.config, &shards, &options).unwrap();
    let trainable_count: usize = model.parameters().trainable.iter().map(|p| p.var.elem_count()).sum();
    let base_count: usize = model.parameters().base.values().map(|t| t.elem_count()).sum();
    let adapter_count: usize = model.parameters().adapters.values().map(|a| a.a.elem_count() + a.b.elem_count()).sum();
    assert_eq!(estimate.trainable_params, trainable_count as u64);
    assert_eq!(estimate.total_params, (base_count + adapter_count) as u64);
    assert_eq!(estimate.weights, 4 * estimate.total_params);
    assert_eq!(estimate.optimizer_states, 8 * estimate.trainable_params);
    assert!(estimate.activations > 0);
}

#[test]
fn memory_budget_rejects_before_loading() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_qwen3_vl(dir.path());
    let options = LoadOptions { memory_budget_bytes: Some(1024), ..LoadOptions::inference(DType::F32, &Device::Cpu) };
    let error = Qwen3Vl::load(dir.path(), &options).err().expect("a 1 KiB budget cannot hold the model");
    assert!(error.to_string().contains("memory budget"), "{error}");
}

#[test]
fn config_errors_name_the_field() {
    let error = assay_qwen3_vl::ModelConfig::from_json(r#"{"model_type": "llama"}"#).unwrap_err();
    assert!(error.to_string().contains("unsupported `model_type`"), "{error}");
}

#[test]
fn tokenizer_reads_tokenizer_json() {
    let dir = tempfile::tempdir().unwrap();
    let json = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [{"id": 3, "content": "<|im_start|>", "single_word": false, "lstrip": false,
                          "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null, "decoder": null,
        "model": {"type": "WordLevel", "vocab": {"hello": 0, "world": 1, "[UNK]": 2}, "unk_token": "[UNK]"},
    });
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, json.to_string()).unwrap();
    let tokenizer = assay_qwen3_vl::tokenizer::QwenTokenizer::from_file(&path).unwrap();
    // Added tokens follow the model vocabulary, as Qwen's special tokens do.
    assert_eq!(tokenizer.encode("<|im_start|>hello world").unwrap(), vec![3, 0, 1]);
    assert_eq!(tokenizer.token_id("<|im_start|>").unwrap(), 3);
    assert_eq!(tokenizer.decode(&[0, 1], true).unwrap(), "hello world");
    assert!(tokenizer.token_id("<|missing|>").is_err());
}
