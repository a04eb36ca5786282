//! Logits of our loader against candle-transformers 0.11.1 on the same files.

use assay_qwen3_vl::image_processing::ImagePatches;
use assay_qwen3_vl::{LoadOptions, Padding, Pass, Qwen3Vl};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::{qwen3, qwen3_vl};

use crate::fixture::*;

/// candle-transformers' Qwen3-VL applies no causal mask when a call has more than one
/// token, and it uses 1-D RoPE. So the reference is fed one token per call, and each image
/// covers one merged token (a 2x2 patch grid), where M-RoPE and 1-D RoPE coincide. The
/// head is tied (as in Qwen3-VL-4B) because the reference expects an `lm_head.bias`, which
/// untied Qwen3-VL checkpoints do not have.
#[test]
fn qwen3_vl_logits_match_candle_transformers() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_qwen3_vl_with(dir.path(), true);
    let device = Device::Cpu;

    let prompt = vec![5, 6, VISION_START, IMAGE_TOKEN, VISION_END, 7, 8, VISION_START, IMAGE_TOKEN, VISION_END, 9];
    let images = [random_patches(4, 1), random_patches(4, 2)];
    let patches: Vec<ImagePatches> = images
        .iter()
        .map(|values| ImagePatches { values: values.clone(), grid: [1, 2, 2], patch_width: 96 })
        .collect();

    let ours = Qwen3Vl::load(dir.path(), &LoadOptions::inference(DType::F32, &device)).unwrap();
    let logits = ours
        .forward(&[prompt.clone()], &[patches], Padding::Right, None, &Pass::eval())
        .unwrap();
    assert_eq!(logits.dims(), &[1, prompt.len(), VOCAB]);

    let config: qwen3_vl::Config =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap()).unwrap();
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&shard_paths(dir.path()), DType::F32, &device).unwrap() };
    let reference = qwen3_vl::Qwen3VLModel::new(&config, vb).unwrap();
    let mut image_index = 0;
    for (step, &token) in prompt.iter().enumerate() {
        let ids = Tensor::new(&[[token]], &device).unwrap();
        let (pixels, grid, spans) = if token == IMAGE_TOKEN {
            let pixels = Tensor::from_vec(images[image_index].clone(), (4, 96), &device).unwrap();
            image_index += 1;
            (Some(pixels), Some(Tensor::new(&[[1u32, 2, 2]], &device).unwrap()), vec![vec![(0, 1)]])
        } else {
            (None, None, vec![])
        };
        let expected = reference
            .forward(&ids, pixels, None, grid, None, vec![1], spans, vec![], &[step])
            .unwrap();
        let actual = logits.get(0).unwrap().get(step).unwrap().unsqueeze(0).unwrap();
        let diff = max_abs_diff(&actual, &expected);
        assert!(diff < 1e-4, "position {step} (token {token}): max |diff| {diff}");
    }
}

#[test]
fn qwen3_logits_match_candle_transformers() {
    for tied in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_qwen3(dir.path(), tied);
        let device = Device::Cpu;
        let prompt: Vec<u32> = vec![3, 14, 15, 92, 65, 35, 89, 79, 32, 38];

        let ours = Qwen3Vl::load(dir.path(), &LoadOptions::inference(DType::F32, &device)).unwrap();
        let logits = ours.forward(&[prompt.clone()], &[], Padding::Right, None, &Pass::eval()).unwrap();

        let config: qwen3::Config =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap()).unwrap();
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&shard_paths(dir.path()), DType::F32, &device).unwrap() };
        let mut reference = qwen3::ModelForCausalLM::new(&config, vb).unwrap();
        // The whole prompt at once: the reference's causal CPU attention covers every position.
        let ids = Tensor::new(prompt.as_slice(), &device).unwrap().unsqueeze(0).unwrap();
        let expected = reference.forward(&ids, 0).unwrap().squeeze(0).unwrap().squeeze(0).unwrap();
        let actual = logits.get(0).unwrap().get(prompt.len() - 1).unwrap();
        let diff = max_abs_diff(&actual, &expected);
        assert!(diff < 1e-4, "tied {tied}: last-position max |diff| {diff}");

        // Then token by token through the reference's KV cache, to cover every position.
        reference.clear_kv_cache();
        for (step, &token) in prompt.iter().enumerate() {
            let ids = Tensor::new(&[[token]], &device).unwrap();
            let expected = reference.forward(&ids, step).unwrap().squeeze(0).unwrap().squeeze(0).unwrap();
            let actual = logits.get(0).unwrap().get(step).unwrap();
            let diff = max_abs_diff(&actual, &expected);
            assert!(diff < 1e-4, "tied {tied}, position {step}: max |diff| {diff}");
        }
    }
}
