//! One SFT step and one GRPO step of a tiny random Qwen3-VL checkpoint, timed.
//!
//! Run by `scripts/gpu-check.sh` with `--features cuda`; on a machine without CUDA it runs
//! on the CPU. Prints the wall time of each step.

#[path = "../tests/fixture.rs"]
#[allow(dead_code)]
mod fixture;

use std::time::Instant;

use anyhow::Result;
use assay_qwen3_vl::ops::log_softmax_last_dim;
use assay_qwen3_vl::{LoadOptions, LoraConfig, ParamGroup, Qwen3Vl, TrainableParams};
use assay_train::{Image, Policy, Sequence};
use candle_core::{DType, Device, Tensor, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Samples per GRPO group.
const GROUP_SIZE: usize = 4;
/// Tokens generated per rollout.
const MAX_NEW_TOKENS: usize = 8;
/// Weight of the KL penalty to the frozen base.
const KL_COEF: f64 = 0.04;

fn main() -> Result<()> {
    // Show the loader's memory estimate, which it logs with `tracing`.
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let device = Device::cuda_if_available(0)?;
    let dir = tempfile::tempdir()?;
    fixture::write_tiny_qwen3_vl(dir.path());
    let trainable = TrainableParams {
        full: vec![ParamGroup::Projector],
        lora: Some(LoraConfig {
            rank: 8,
            alpha: 16.0,
            dropout: 0.05,
            target_modules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }),
        seed: 0,
    };
    let dtype = if device.is_cuda() { DType::BF16 } else { DType::F32 };
    let options = LoadOptions { trainable, ..LoadOptions::inference(dtype, &device) };
    let mut model = Qwen3Vl::load(dir.path(), &options)?;
    model.set_training(true);
    let mut optimizer = AdamW::new(model.parameters().vars(), ParamsAdamW { lr: 1e-3, ..Default::default() })?;
    println!("device: {device:?}, dtype: {dtype:?}");

    // SFT: next-token cross-entropy on one image+text sequence.
    let image = Image::new(16, 16, (0..3 * 256).map(|i| (i % 13) as f32 / 13.0).collect())?;
    let count = model.image_token_count(&image);
    let mut ids = vec![4, fixture::VISION_START];
    ids.extend(std::iter::repeat_n(fixture::IMAGE_TOKEN, count));
    ids.extend([fixture::VISION_END, 9, 10, 11, 12]);
    let sequence = Sequence { ids: ids.clone(), images: vec![image.clone()] };
    let started = Instant::now();
    let logits = Policy::forward(&model, std::slice::from_ref(&sequence))?.to_dtype(DType::F32)?;
    let log_probs = log_softmax_last_dim(&logits.narrow(1, 0, ids.len() - 1)?)?;
    let targets = Tensor::new(&ids[1..], &device)?.reshape((1, ids.len() - 1, 1))?;
    let sft_loss = log_probs.gather(&targets, 2)?.mean_all()?.neg()?;
    optimizer.backward_step(&sft_loss)?;
    device.synchronize()?;
    println!("sft step: loss {:.4}, {:.1} ms", sft_loss.to_scalar::<f32>()?, started.elapsed().as_secs_f64() * 1e3);

    // GRPO: sample a group with the KV cache, score, and take one clipped policy-gradient
    // step with a KL penalty to the frozen base (adapters off).
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let prompt = &ids[..ids.len() - 4];
    let mut rollouts = Vec::with_capacity(GROUP_SIZE);
    for _ in 0..GROUP_SIZE {
        let mut cache = model.new_cache();
        let mut logits = model.step(&mut cache, prompt, std::slice::from_ref(&image))?;
        let mut completion = Vec::with_capacity(MAX_NEW_TOKENS);
        for _ in 0..MAX_NEW_TOKENS {
            let probs = candle_nn::ops::softmax(&logits.to_dtype(DType::F32)?, D::Minus1)?.to_vec1::<f32>()?;
            let mut draw = rng.random::<f32>();
            let token = probs.iter().position(|&p| { draw -= p; draw <= 0.0 }).unwrap_or(probs.len() - 1) as u32;
            completion.push(token);
            logits = model.step(&mut cache, &[token], &[])?;
        }
        rollouts.push(completion);
    }
    // Toy reward: the share of even token ids.
    let rewards: Vec<f64> = rollouts
        .iter()
        .map(|c| c.iter().filter(|&&t| t % 2 == 0).count() as f64 / c.len() as f64)
        .collect();
    let mean = rewards.iter().sum::<f64>() / rewards.len() as f64;
    let std = (rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / rewards.len() as f64).sqrt();
    let batch: Vec<Sequence> = rollouts
        .iter()
        .map(|c| Sequence { ids: [prompt, c.as_slice()].concat(), images: vec![image.clone()] })
        .collect();
    let len = batch[0].ids.len();
    let logits = Policy::forward(&model, &batch)?.to_dtype(DType::F32)?;
    let reference = model.reference_forward(&batch)?.to_dtype(DType::F32)?;
    let targets: Vec<u32> = batch.iter().flat_map(|s| s.ids[1..].to_vec()).collect();
    let targets = Tensor::from_vec(targets, (GROUP_SIZE, len - 1, 1), &device)?;
    let token_log_probs = log_softmax_last_dim(&logits.narrow(1, 0, len - 1)?)?.gather(&targets, 2)?.squeeze(2)?;
    let ref_log_probs = log_softmax_last_dim(&reference.narrow(1, 0, len - 1)?)?.gather(&targets, 2)?.squeeze(2)?;
    // Only completion tokens count: positions prompt.len() - 1 .. len - 1 predict them.
    let start = prompt.len() - 1;
    let token_log_probs = token_log_probs.narrow(1, start, MAX_NEW_TOKENS)?;
    let ref_log_probs = ref_log_probs.narrow(1, start, MAX_NEW_TOKENS)?;
    let advantages: Vec<f32> = rewards.iter().map(|r| ((r - mean) / (std + 1e-6)) as f32).collect();
    let advantages = Tensor::from_vec(advantages, (GROUP_SIZE, 1), &device)?;
    // On-policy: the old log-probs are the current ones detached, so the ratio is 1 and
    // clipping is inactive, but the gradient is the full policy gradient.
    let ratio = (&token_log_probs - token_log_probs.detach())?.exp()?;
    let surrogate = ratio.broadcast_mul(&advantages)?;
    let delta = (&ref_log_probs - &token_log_probs)?;
    let kl = ((delta.exp()? - &delta)? - 1.0)?;
    let grpo_loss = ((kl * KL_COEF)? - surrogate)?.mean_all()?;
    optimizer.backward_step(&grpo_loss)?;
    device.synchronize()?;
    println!(
        "grpo step: group {GROUP_SIZE} x {MAX_NEW_TOKENS} tokens, mean reward {mean:.3}, loss {:.4}, {:.1} ms",
        grpo_loss.to_scalar::<f32>()?,
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}
