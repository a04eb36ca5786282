//! Throughput of the tiny policy on CPU: SFT training tokens per second, generated tokens
//! per second with and without the KV cache, and the f32 matmul throughput of this
//! machine. Each rate is also printed as a fraction of that matmul throughput, counting
//! 6N FLOPs per trained token and 2N per generated token (N = decoder parameters).
//!
//! Model size: hidden 128, 4 layers, 4 heads, SwiGLU width 512 and a 38-token vocabulary.
//! Images are 16x16 in 4x4 patches (16 tokens per image). That is 1.09M parameters, of
//! which 1.05M are in the decoder.
//! Run: `cargo bench -p assay-train --bench throughput`.

use std::time::{Duration, Instant};

use assay_train::optim::{GradAccumulator, GroupedAdamW, OptimizerConfig};
use assay_train::rollout::expand_image_tokens;
use assay_train::sft::sft_batch_gradient;
use assay_train::sft::SftExample;
use assay_train::{Image, Policy, Sequence, TinyVlm, TinyVlmConfig, TokenLayout, Tokenizer};
use candle_core::{DType, Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn config() -> TinyVlmConfig {
    TinyVlmConfig {
        hidden_size: 128,
        num_layers: 4,
        num_heads: 4,
        intermediate_size: 512,
        max_seq_len: 512,
        ..TinyVlmConfig::default()
    }
}

fn setup() -> (Tokenizer, TinyVlm, Sequence) {
    let tokenizer = Tokenizer::from_corpus(["<image> what colour is the square ? red green blue zoom_in{\"region\":\"center\"} a b c d e f g h i j k"]);
    let layout = TokenLayout { vocab_size: tokenizer.vocab_size(), image_token_id: tokenizer.special().image };
    let policy = TinyVlm::new(&config(), layout, 0, DType::F32, &Device::Cpu).unwrap();
    let image = Image::new(16, 16, (0..768).map(|i| (i % 7) as f32 / 7.0).collect()).unwrap();
    let ids = expand_image_tokens(&policy, &tokenizer.encode("<image> what colour is the square ?"), tokenizer.special().image, std::slice::from_ref(&image)).unwrap();
    (tokenizer, policy, Sequence { ids, images: vec![image] })
}

/// Parameters that every text token passes through (decoder weights without the embedding).
fn decoder_parameters(policy: &TinyVlm) -> f64 {
    policy
        .named_vars()
        .iter()
        .filter(|(name, _)| name.starts_with("llm.") && !name.contains("embed_tokens"))
        .map(|(_, var)| var.elem_count() as f64)
        .sum()
}

/// Measured f32 matmul throughput in FLOP/s on a 512x512 by 512x512 product.
fn matmul_flops_per_second() -> f64 {
    let a = Tensor::randn(0f32, 1.0, (512, 512), &Device::Cpu).unwrap();
    let b = Tensor::randn(0f32, 1.0, (512, 512), &Device::Cpu).unwrap();
    let _ = a.matmul(&b).unwrap();
    let runs = 50;
    let started = Instant::now();
    for _ in 0..runs {
        let _ = a.matmul(&b).unwrap();
    }
    2.0 * 512f64.powi(3) * runs as f64 / started.elapsed().as_secs_f64()
}

/// Generates `count` tokens greedily after `prompt`, with the KV cache or by recomputing
/// the whole sequence per token. Returns the last token so the work is not optimised away.
fn decode(policy: &TinyVlm, prompt: &Sequence, count: usize, kv_cache: bool) -> u32 {
    let mut sequence = prompt.clone();
    let mut cache = policy.new_cache();
    let mut logits = policy.step(&mut cache, &prompt.ids, &prompt.images).unwrap();
    for _ in 0..count {
        let next = logits.argmax(0).unwrap().to_scalar::<u32>().unwrap();
        sequence.ids.push(next);
        logits = if kv_cache {
            policy.step(&mut cache, &[next], &[]).unwrap()
        } else {
            let all = policy.forward(std::slice::from_ref(&sequence)).unwrap();
            all.get(0).unwrap().get(sequence.ids.len() - 1).unwrap()
        };
    }
    *sequence.ids.last().unwrap()
}

/// Mean seconds per call of `work` over `runs` calls, after one warm-up call.
fn seconds_per_call(runs: usize, mut work: impl FnMut()) -> f64 {
    work();
    let started = Instant::now();
    for _ in 0..runs {
        work();
    }
    started.elapsed().as_secs_f64() / runs as f64
}

fn bench(c: &mut Criterion) {
    let (_tokenizer, policy, prompt) = setup();
    let peak = matmul_flops_per_second();
    let n = decoder_parameters(&policy);
    println!("model: {} parameters, {n} in the decoder; matmul peak {:.2} GFLOP/s", policy.parameter_count(), peak / 1e9);

    // SFT: a batch of 8 sequences of 64 tokens, all trained.
    let mut sequence = prompt.clone();
    while sequence.ids.len() < 64 {
        sequence.ids.push(20);
    }
    let example = SftExample { token_mask: vec![1.0; sequence.ids.len()], sequence };
    let batch: Vec<&SftExample> = std::iter::repeat_n(&example, 8).collect();
    let tokens = 8.0 * 63.0;
    let mut optimizer = GroupedAdamW::new(policy.named_vars(), &OptimizerConfig::default()).unwrap();
    let vars = optimizer.trainable();
    let mut sft_step = || {
        let mut grads = GradAccumulator::default();
        sft_batch_gradient(&policy, &batch, 8, &vars, &mut grads).unwrap();
        optimizer.update(&grads, 1.0).unwrap();
    };
    let sft_rate = tokens / seconds_per_call(3, &mut sft_step);
    // Training costs about 6 FLOPs per parameter per token (forward 2, backward 4).
    println!("sft: {sft_rate:.0} tokens/s, {:.1}% of matmul peak at 6N FLOPs per token", 100.0 * sft_rate * 6.0 * n / peak);

    let mut group = c.benchmark_group("tiny_vlm");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(tokens as u64));
    group.bench_function("sft_step_8x64", |b| b.iter(&mut sft_step));

    let generated = 64;
    group.throughput(Throughput::Elements(generated as u64));
    for kv_cache in [true, false] {
        let name = if kv_cache { "decode_64_kv_cache" } else { "decode_64_recompute" };
        let rate = generated as f64 / seconds_per_call(3, || {
            decode(&policy, &prompt, generated, kv_cache);
        });
        println!("{name}: {rate:.0} tokens/s, {:.2}% of matmul peak at 2N FLOPs per token", 100.0 * rate * 2.0 * n / peak);
        group.bench_function(name, |b| b.iter(|| decode(&policy, &prompt, generated, kv_cache)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
