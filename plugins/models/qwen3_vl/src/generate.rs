//! Batched generation with the KV cache: one prefill of the left-padded prompts, then one
//! decode call per new token for the whole batch.

use anyhow::{bail, Result};
use candle_core::{Tensor, D};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::image_processing::ImagePatches;
use crate::lora::Pass;
use crate::model::{DecodeState, Padding, Qwen3Vl};

/// Sampling settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    /// Softmax temperature, at least 0. At 0 the most likely token is taken (greedy).
    pub temperature: f64,
    /// Maximum number of new tokens per sequence.
    pub max_new_tokens: usize,
    /// Token ids that end a sequence (kept in its output).
    pub stop_tokens: Vec<u32>,
    /// Seed of the sampling random number generator.
    pub seed: u64,
}

impl Qwen3Vl {
    /// Generates a completion for each prompt. `images[b]` are the preprocessed images of
    /// prompt `b`. Finished rows keep receiving their stop token, which is not returned.
    ///
    /// # Errors
    /// When `temperature` is negative or not finite, or a forward pass fails.
    pub fn generate(&self, prompts: &[Vec<u32>], images: &[Vec<ImagePatches>], sampling: &Sampling) -> Result<Vec<Vec<u32>>> {
        if !(sampling.temperature >= 0.0 && sampling.temperature.is_finite()) {
            bail!("invalid `temperature` {}: expected a finite value >= 0", sampling.temperature);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(sampling.seed);
        let mut state = DecodeState::default();
        let pass = Pass::eval();
        let batch = prompts.len();
        let mut completions: Vec<Vec<u32>> = vec![Vec::new(); batch];
        let mut finished = vec![false; batch];
        if sampling.max_new_tokens == 0 {
            return Ok(completions);
        }

        // Prefill, then keep only the last column's logits: (batch, vocab).
        let logits = self.forward(prompts, images, Padding::Left, Some(&mut state), &pass)?;
        let seq = logits.dim(1)?;
        let mut last = logits.narrow(1, seq - 1, 1)?.squeeze(1)?;
        let no_images: Vec<Vec<ImagePatches>> = vec![Vec::new(); batch];
        for _ in 0..sampling.max_new_tokens {
            let tokens = sample_rows(&last, sampling.temperature, &mut rng)?;
            let mut next = Vec::with_capacity(batch);
            for (row, &token) in tokens.iter().enumerate() {
                if finished[row] {
                    // Feed a valid token so the batch stays rectangular; it is never returned.
                    next.push(vec![*completions[row].last().unwrap_or(&token)]);
                    continue;
                }
                completions[row].push(token);
                if sampling.stop_tokens.contains(&token) {
                    finished[row] = true;
                }
                next.push(vec![token]);
            }
            if finished.iter().all(|&f| f) {
                break;
            }
            let logits = self.forward(&next, &no_images, Padding::Left, Some(&mut state), &pass)?;
            last = logits.squeeze(1)?;
        }
        Ok(completions)
    }
}

/// Draws one token per row of `logits` `(batch, vocab)`: the arg-max at temperature 0,
/// else a sample from `softmax(logits / temperature)`.
fn sample_rows(logits: &Tensor, temperature: f64, rng: &mut ChaCha8Rng) -> Result<Vec<u32>> {
    if temperature == 0.0 {
        return Ok(logits.argmax(D::Minus1)?.to_vec1::<u32>()?);
    }
    let probs = crate::ops::softmax_last_dim(&(logits.to_dtype(candle_core::DType::F64)? / temperature)?)?;
    let mut tokens = Vec::with_capacity(probs.dim(0)?);
    for row in probs.to_vec2::<f64>()? {
        let mut draw: f64 = rng.random();
        let mut token = row.len() - 1;
        for (index, p) in row.iter().enumerate() {
            draw -= p;
            if draw <= 0.0 {
                token = index;
                break;
            }
        }
        tokens.push(token as u32);
    }
    Ok(tokens)
}
