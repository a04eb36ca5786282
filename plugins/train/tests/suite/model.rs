//! The tiny policy: gradients reach every weight and match finite differences, the KV
//! cache matches full recomputation, and weights survive a save and load.

use assay_train::loss::{next_token_log_probs, shifted_mask};
use assay_train::{Image, Policy, Sequence, TinyVlm};
use candle_core::{DType, Tensor};

use super::common::{self, tokenizer, tiny_model};

/// Builds a batch of two sequences of different lengths with two images in the first.
fn batch(policy: &TinyVlm) -> (Vec<Sequence>, Vec<Vec<f32>>) {
    let tokenizer = tokenizer();
    let tasks = common::tasks(2, 21);
    let examples = common::sft_examples(policy, &tokenizer, &tasks);
    let mut second = examples[1].clone();
    second.sequence.ids.truncate(second.sequence.ids.len() - 3);
    second.token_mask.truncate(second.sequence.ids.len());
    let sequences = vec![examples[0].sequence.clone(), second.sequence];
    let masks = vec![examples[0].token_mask.clone(), second.token_mask];
    (sequences, masks)
}

/// Mean log-likelihood of the masked tokens: a scalar that depends on every weight.
fn objective(policy: &TinyVlm, sequences: &[Sequence], masks: &[Vec<f32>]) -> Tensor {
    let logits = policy.forward(sequences).unwrap();
    let len = logits.dim(1).unwrap();
    let ids: Vec<Vec<u32>> = sequences.iter().map(|s| s.ids.clone()).collect();
    let log_probs = next_token_log_probs(&logits, &ids).unwrap();
    // Train on every real position so that the prompt image's path is exercised too.
    let all: Vec<Vec<f32>> = masks.iter().map(|m| vec![1.0; m.len()]).collect();
    let mask = shifted_mask(&all, len, policy.dtype(), policy.device()).unwrap();
    (log_probs * mask).unwrap().sum_all().unwrap()
}

#[test]
fn every_weight_gets_a_gradient() {
    let policy = tiny_model(&tokenizer(), DType::F32, 4);
    let (sequences, masks) = batch(&policy);
    let grads = objective(&policy, &sequences, &masks).backward().unwrap();
    for (name, var) in policy.named_vars() {
        let grad = grads.get(var.as_tensor()).unwrap_or_else(|| panic!("`{name}` got no gradient"));
        let values: Vec<f32> = grad.flatten_all().unwrap().to_vec1().unwrap();
        assert!(values.iter().all(|v| v.is_finite()), "`{name}` has a non-finite gradient");
        assert!(values.iter().any(|v| *v != 0.0), "`{name}` has an all-zero gradient");
    }
}

#[test]
fn gradients_match_finite_differences() {
    let policy = tiny_model(&tokenizer(), DType::F64, 8);
    let (sequences, masks) = batch(&policy);
    let grads = objective(&policy, &sequences, &masks).backward().unwrap();
    let h = 1e-5;
    for (name, var) in policy.named_vars() {
        let original = var.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let analytic = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        // Check the entry with the largest gradient and one fixed entry of every weight.
        let largest = (0..analytic.len()).max_by(|&a, &b| analytic[a].abs().total_cmp(&analytic[b].abs())).unwrap();
        for index in [largest, original.len() / 2] {
            let evaluate = |delta: f64| {
                let mut values = original.clone();
                values[index] += delta;
                var.set(&Tensor::from_vec(values, var.dims(), var.device()).unwrap()).unwrap();
                objective(&policy, &sequences, &masks).to_scalar::<f64>().unwrap()
            };
            let numeric = (evaluate(h) - evaluate(-h)) / (2.0 * h);
            evaluate(0.0);
            let tolerance = 1e-6 + 1e-4 * numeric.abs().max(analytic[index].abs());
            assert!(
                (numeric - analytic[index]).abs() <= tolerance,
                "`{name}`[{index}]: analytic {} vs numeric {numeric}",
                analytic[index]
            );
        }
    }
}

#[test]
fn kv_cache_matches_full_recompute() {
    let policy = tiny_model(&tokenizer(), DType::F32, 12);
    let (sequences, _) = batch(&policy);
    let sequence = &sequences[0];
    let full: Vec<Vec<f32>> = policy.forward(std::slice::from_ref(sequence)).unwrap().get(0).unwrap().to_vec2().unwrap();

    // Feed the prompt with its image at once, then one token at a time, then the
    // observation with the second image as one chunk.
    let per_image = policy.image_token_count(&sequence.images[0]);
    let prompt_len = 1 + per_image; // `<image>` run then at least one token
    let mut cache = policy.new_cache();
    let mut position = 0;
    let mut images_used = 0;
    let mut chunks: Vec<usize> = vec![prompt_len];
    while chunks.iter().sum::<usize>() < sequence.ids.len() {
        let start: usize = chunks.iter().sum();
        // Keep placeholder runs inside one chunk.
        let mut end = start + 1;
        while end < sequence.ids.len() && sequence.ids[end - 1] == policy.image_token_id() && sequence.ids[end] == policy.image_token_id() {
            end += 1;
        }
        if sequence.ids[start] == policy.image_token_id() {
            end = start + per_image;
        }
        chunks.push(end - start);
    }
    for length in chunks {
        let ids = &sequence.ids[position..position + length];
        let runs = ids.iter().filter(|&&id| id == policy.image_token_id()).count() / per_image;
        let images: Vec<Image> = sequence.images[images_used..images_used + runs].to_vec();
        images_used += runs;
        let logits: Vec<f32> = policy.step(&mut cache, ids, &images).unwrap().to_vec1().unwrap();
        position += length;
        for (a, b) in logits.iter().zip(&full[position - 1]) {
            assert!((a - b).abs() < 1e-4, "position {}: cached {a} vs full {b}", position - 1);
        }
    }
    assert_eq!(images_used, 2);
}

#[test]
fn padding_does_not_change_logits() {
    let policy = tiny_model(&tokenizer(), DType::F32, 13);
    let (sequences, _) = batch(&policy);
    let alone: Vec<Vec<f32>> = policy.forward(&sequences[1..]).unwrap().get(0).unwrap().to_vec2().unwrap();
    let padded: Vec<Vec<f32>> = policy.forward(&sequences).unwrap().get(1).unwrap().to_vec2().unwrap();
    for t in 0..sequences[1].ids.len() {
        for (a, b) in alone[t].iter().zip(&padded[t]) {
            assert!((a - b).abs() < 1e-5, "position {t}: {a} vs {b}");
        }
    }
}

#[test]
fn save_and_load_round_trip() {
    let tokenizer = tokenizer();
    let policy = tiny_model(&tokenizer, DType::F32, 14);
    let mut other = tiny_model(&tokenizer, DType::F32, 15);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.safetensors");
    policy.save(&path).unwrap();
    other.load(&path).unwrap();
    let (sequences, _) = batch(&policy);
    let a: Vec<f32> = policy.forward(&sequences).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let b: Vec<f32> = other.forward(&sequences).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(a, b);
}

#[test]
fn duplicate_has_independent_weights() {
    let policy = tiny_model(&tokenizer(), DType::F32, 16);
    let copy = policy.duplicate().unwrap();
    let (name, var) = &policy.named_vars()[0];
    var.set(&var.as_tensor().zeros_like().unwrap()).unwrap();
    let copied = copy.named_vars().into_iter().find(|(n, _)| n == name).unwrap().1;
    let values: Vec<f32> = copied.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
    assert!(values.iter().any(|v| *v != 0.0), "the copy changed with the original");
}

#[test]
fn mismatched_images_are_rejected() {
    let policy = tiny_model(&tokenizer(), DType::F32, 17);
    let (mut sequences, _) = batch(&policy);
    sequences[0].images.pop();
    let error = policy.forward(&sequences).unwrap_err().to_string();
    assert!(error.contains("image placeholders"), "{error}");
}
