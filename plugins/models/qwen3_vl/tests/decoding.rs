//! KV-cache decoding against full recomputation, single and batched.

use assay_qwen3_vl::{DecodeState, LoadOptions, Padding, Pass, Qwen3Vl};
use candle_core::{DType, Device};

use crate::fixture::*;
use crate::training::image_prompt;

#[test]
fn kv_cache_decode_equals_full_recompute() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_qwen3_vl(dir.path());
    let model = Qwen3Vl::load(dir.path(), &LoadOptions::inference(DType::F32, &Device::Cpu)).unwrap();
    let (prompt, images) = image_prompt();
    let full = model.forward(&[prompt.clone()], &[images.clone()], Padding::Right, None, &Pass::eval()).unwrap();

    // Prefill through the image, then one token per call.
    let prefill = 8;
    let mut state = DecodeState::default();
    let first = model
        .forward(&[prompt[..prefill].to_vec()], &[images.clone()], Padding::Right, Some(&mut state), &Pass::eval())
        .unwrap();
    let diff = max_abs_diff(&first, &full.narrow(1, 0, prefill).unwrap());
    assert!(diff < 1e-4, "prefill differs by {diff}");
    for position in prefill..prompt.len() {
        let step = model
            .forward(&[vec![prompt[position]]], &[vec![]], Padding::Right, Some(&mut state), &Pass::eval())
            .unwrap();
        let diff = max_abs_diff(&step, &full.narrow(1, position, 1).unwrap());
        assert!(diff < 1e-4, "decode position {position} differs by {diff}");
    }
    assert_eq!(state.cache.len(), prompt.len());
}

#[test]
fn batched_left_padded_decode_matches_single_rows() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_qwen3_vl(dir.path());
    let model = Qwen3Vl::load(dir.path(), &LoadOptions::inference(DType::F32, &Device::Cpu)).unwrap();
    let (long, images) = image_prompt();
    let short = vec![11u32, 12, 13];
    let next = [[20u32, 21], [30, 31]];

    let mut state = DecodeState::default();
    let rows = vec![long.clone(), short.clone()];
    let prefill = model
        .forward(&rows, &[images.clone(), vec![]], Padding::Left, Some(&mut state), &Pass::eval())
        .unwrap();
    let mut batched_last = vec![prefill.narrow(1, long.len() - 1, 1).unwrap()];
    for step in 0..2 {
        let tokens = vec![vec![next[0][step]], vec![next[1][step]]];
        batched_last.push(model.forward(&tokens, &[vec![], vec![]], Padding::Left, Some(&mut state), &Pass::eval()).unwrap());
    }

    for (row, (prompt, row_images)) in [(long, images), (short, vec![])].into_iter().enumerate() {
        let mut full_row = prompt.clone();
        full_row.extend(next[row]);
        let full = model.forward(&[full_row], &[row_images], Padding::Right, None, &Pass::eval()).unwrap();
        for (step, batched) in batched_last.iter().enumerate() {
            let position = prompt.len() - 1 + step;
            let expected = full.narrow(1, position, 1).unwrap();
            let actual = batched.narrow(0, row, 1).unwrap();
            let diff = max_abs_diff(&actual, &expected);
            assert!(diff < 1e-4, "row {row}, step {step}: differs by {diff}");
        }
    }
}

#[test]
fn right_padding_keeps_real_positions() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_qwen3(dir.path(), false);
    let model = Qwen3Vl::load(dir.path(), &LoadOptions::inference(DType::F32, &Device::Cpu)).unwrap();
    let long = vec![1u32, 2, 3, 4, 5, 6];
    let short = vec![7u32, 8, 9];
    let batch = model.forward(&[long.clone(), short.clone()], &[], Padding::Right, None, &Pass::eval()).unwrap();
    let alone = model.forward(&[short.clone()], &[], Padding::Right, None, &Pass::eval()).unwrap();
    let diff = max_abs_diff(&batch.narrow(0, 1, 1).unwrap().narrow(1, 0, 3).unwrap(), &alone);
    assert!(diff < 1e-5, "padding changed real positions by {diff}");
}

#[test]
fn batched_greedy_generation_matches_single_rows() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_qwen3_vl(dir.path());
    let model = Qwen3Vl::load(dir.path(), &LoadOptions::inference(DType::F32, &Device::Cpu)).unwrap();
    let (long, images) = image_prompt();
    let short = vec![11u32, 12, 13];
    let sampling = assay_qwen3_vl::Sampling { temperature: 0.0, max_new_tokens: 5, stop_tokens: vec![], seed: 0 };
    let batched = model.generate(&[long.clone(), short.clone()], &[images.clone(), vec![]], &sampling).unwrap();
    assert_eq!(batched.len(), 2);
    assert_eq!(batched[0], model.generate(&[long.clone()], &[images.clone()], &sampling).unwrap()[0]);
    assert_eq!(batched[1], model.generate(&[short.clone()], &[vec![]], &sampling).unwrap()[0]);

    // Greedy decoding by full recomputation gives the same tokens.
    let mut sequence = long.clone();
    for _ in 0..5 {
        let logits = model.forward(&[sequence.clone()], &[images.clone()], Padding::Right, None, &Pass::eval()).unwrap();
        let last = logits.get(0).unwrap().get(sequence.len() - 1).unwrap();
        sequence.push(last.argmax(0).unwrap().to_scalar::<u32>().unwrap());
    }
    assert_eq!(batched[0], sequence[long.len()..].to_vec());

    // A stop token ends a row and is kept.
    let stop = batched[1][1];
    let stopping = assay_qwen3_vl::Sampling { stop_tokens: vec![stop], ..sampling };
    let stopped = model.generate(&[short], &[vec![]], &stopping).unwrap();
    let end = batched[1].iter().position(|&t| t == stop).unwrap();
    assert_eq!(stopped[0], batched[1][..=end].to_vec());
}
