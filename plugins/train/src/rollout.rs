//! Multi-turn rollouts: generate until a tool call or an answer, run the tool, append its
//! observation, repeat.
//!
//! Generated ids are kept as generated: observation tokens are appended after them and
//! the text is never re-tokenized, so the trained tokens are exactly the sampled ones.

use anyhow::{bail, Result};
use candle_core::{DType, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::image::Image;
use crate::policy::{KvCache, Policy, Sequence};
use crate::codec::TextCodec;
use crate::trajectory::{parse_action, Action};

/// Tool result: text and any number of new images (for example a zoomed crop).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    pub text: String,
    pub images: Vec<Image>,
}

/// Runs the tools a policy calls. The plugin host adapts its WebAssembly tools to this.
pub trait ToolRunner {
    /// Calls tool `name` with JSON `args` on `image` (the first image of the prompt).
    ///
    /// # Errors
    /// Returns a message for the model (unknown tool, invalid arguments, tool failure); the
    /// rollout turns it into an error observation and continues.
    fn call(&mut self, name: &str, args: &serde_json::Value, image: Option<&Image>) -> Result<Observation, String>;
}

/// Rollout settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RolloutConfig {
    /// Completions sampled per prompt (G). Default 8; at least 2 for a learning signal.
    pub group_size: usize,
    /// Assistant turns per rollout (T); a turn ends at a tool call or an answer. Default 4;
    /// at least 1.
    pub max_turns: usize,
    /// Completion tokens per rollout, observations included. Default 256; at least 1.
    pub max_completion_tokens: usize,
    /// Sampling temperature; 0 picks the most likely token. Default 1.0; at least 0.
    pub temperature: f64,
    /// Nucleus sampling: draw from the smallest set of tokens whose probability reaches
    /// `top_p`. Default 1.0; in (0, 1].
    pub top_p: f64,
    /// Reuse keys and values between generated tokens. Default true; false recomputes the
    /// whole sequence per token (only useful to measure the cache's effect).
    pub kv_cache: bool,
}

impl Default for RolloutConfig {
    fn default() -> Self {
        Self { group_size: 8, max_turns: 4, max_completion_tokens: 256, temperature: 1.0, top_p: 1.0, kv_cache: true }
    }
}

impl RolloutConfig {
    pub fn validate(&self) -> Result<()> {
        if self.group_size == 0 || self.max_turns == 0 || self.max_completion_tokens == 0 {
            bail!("`group_size`, `max_turns` and `max_completion_tokens` must be at least 1");
        }
        let temperature_valid = self.temperature >= 0.0;
        let top_p_valid = self.top_p > 0.0 && self.top_p <= 1.0;
        if !temperature_valid || !top_p_valid {
            bail!("`temperature` ({}) must be at least 0 and `top_p` ({}) in (0, 1]", self.temperature, self.top_p);
        }
        Ok(())
    }
}

/// Reason a rollout stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Answer,
    EndOfSequence,
    MaxTurns,
    TokenBudget,
}

/// One sampled completion with its tool interactions.
#[derive(Debug, Clone)]
pub struct Rollout {
    /// Prompt ids (image placeholders expanded) and prompt images.
    pub prompt: Sequence,
    /// Generated and observation ids, in order.
    pub completion: Vec<u32>,
    /// 1 for generated ids (trained), 0 for observation ids (never trained).
    pub completion_mask: Vec<f32>,
    /// Images that tools returned, in the order of their placeholder runs.
    pub completion_images: Vec<Image>,
    /// Assistant turns taken.
    pub turns: usize,
    pub tool_calls: usize,
    /// Tool calls that were malformed or that the tool rejected.
    pub tool_failures: usize,
    /// Text of the final answer, when the rollout gave one.
    pub answer: Option<String>,
    pub stop_reason: StopReason,
}

impl Rollout {
    /// Prompt and completion as one sequence for scoring.
    pub fn full_sequence(&self) -> Sequence {
        let mut ids = self.prompt.ids.clone();
        ids.extend_from_slice(&self.completion);
        let mut images = self.prompt.images.clone();
        images.extend(self.completion_images.iter().cloned());
        Sequence { ids, images }
    }

    /// Loss mask over [`Rollout::full_sequence`]: 0 on the prompt, then the completion mask.
    pub fn token_mask(&self) -> Vec<f32> {
        let mut mask = vec![0.0; self.prompt.ids.len()];
        mask.extend_from_slice(&self.completion_mask);
        mask
    }

    /// Number of generated (trained) tokens.
    pub fn generated_tokens(&self) -> usize {
        self.completion_mask.iter().filter(|&&m| m > 0.0).count()
    }
}

/// Derives the sampling seed of one rollout from the run seed and its coordinates, so
/// that every rollout has its own stream and a resumed run draws the same tokens.
pub fn rollout_seed(seed: u64, step: u64, prompt: u64, sample: u64) -> u64 {
    let mut x = seed;
    for part in [step, prompt, sample] {
        // SplitMix64 finaliser over the running value mixed with each coordinate.
        x = x.wrapping_add(part.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
    }
    x
}

/// Draws a token id from logits `(vocab,)` with temperature and nucleus (top-p) sampling,
/// never returning `forbidden`. Temperature 0 returns the arg-max (lowest id on ties).
pub fn sample_token(logits: &Tensor, temperature: f64, top_p: f64, forbidden: Option<u32>, rng: &mut ChaCha8Rng) -> Result<u32> {
    let mut logits: Vec<f64> = logits.to_dtype(DType::F64)?.to_vec1()?;
    if let Some(slot) = forbidden.and_then(|id| logits.get_mut(id as usize)) {
        *slot = f64::NEG_INFINITY;
    }
    if temperature == 0.0 {
        let mut best = 0;
        for (i, &value) in logits.iter().enumerate() {
            if value > logits[best] {
                best = i;
            }
        }
        return Ok(best as u32);
    }
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = logits.iter().map(|l| ((l - max) / temperature).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]).then(a.cmp(&b)));
    let mut kept = Vec::new();
    let mut mass = 0.0;
    for index in order {
        kept.push(index);
        mass += weights[index] / total;
        if mass >= top_p {
            break;
        }
    }
    let kept_total: f64 = kept.iter().map(|&i| weights[i]).sum();
    let mut target = rng.random::<f64>() * kept_total;
    for &index in &kept {
        target -= weights[index];
        if target < 0.0 {
            return Ok(index as u32);
        }
    }
    Ok(*kept.last().expect("at least one token is kept") as u32)
}

/// Token ids of an observation: the codec's `<obs>`, the text (without image markers),
/// each image's placeholder run, then `</obs>`.
///
/// # Errors
/// The codec cannot encode the text.
pub fn observation_ids<P: Policy>(policy: &P, codec: &dyn TextCodec, observation: &Observation) -> Result<Vec<u32>> {
    let text = format!("<obs>{}{}</obs>", observation.text.replace("<image>", ""), "<image>".repeat(observation.images.len()));
    expand_image_tokens(policy, &codec.encode(&text)?, codec.image_id(), &observation.images)
}

/// Replaces every single `<image>` id with the policy's placeholder run for the matching image.
pub fn expand_image_tokens<P: Policy>(policy: &P, ids: &[u32], image_id: u32, images: &[Image]) -> Result<Vec<u32>> {
    let mut out = Vec::with_capacity(ids.len());
    let mut next = 0;
    for &id in ids {
        if id == image_id {
            let image = images.get(next).ok_or_else(|| {
                anyhow::anyhow!("the text has more `<image>` markers than the {} images given", images.len())
            })?;
            out.extend(std::iter::repeat_n(policy.image_token_id(), policy.image_token_count(image)));
            next += 1;
        } else {
            out.push(id);
        }
    }
    if next != images.len() {
        bail!("the text has {next} `<image>` markers but {} images were given", images.len());
    }
    Ok(out)
}

/// Feeds ids to the model, with or without the cache, and returns the next-token logits.
struct Generator<'a, P: Policy> {
    policy: &'a P,
    cache: Option<KvCache>,
    sequence: Sequence,
}

impl<'a, P: Policy> Generator<'a, P> {
    fn append(&mut self, ids: &[u32], images: &[Image]) -> Result<Tensor> {
        self.sequence.ids.extend_from_slice(ids);
        self.sequence.images.extend(images.iter().cloned());
        match &mut self.cache {
            Some(cache) => self.policy.step(cache, ids, images),
            None => {
                let logits = self.policy.forward(std::slice::from_ref(&self.sequence))?;
                Ok(logits.get(0)?.get(self.sequence.ids.len() - 1)?.to_dtype(DType::F32)?)
            }
        }
    }
}

/// Samples one multi-turn rollout for `prompt` with its own seed.
pub fn generate_rollout<P: Policy>(
    policy: &P,
    codec: &dyn TextCodec,
    tools: &mut dyn ToolRunner,
    prompt: &Sequence,
    config: &RolloutConfig,
    seed: u64,
) -> Result<Rollout> {
    let ends = codec.turn_ends();
    let is_answer_close = |id: u32| ends.answer_close == Some(id);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut generator = Generator {
        policy,
        cache: config.kv_cache.then(|| policy.new_cache()),
        sequence: Sequence::default(),
    };
    let mut rollout = Rollout {
        prompt: prompt.clone(),
        completion: Vec::new(),
        completion_mask: Vec::new(),
        completion_images: Vec::new(),
        turns: 0,
        tool_calls: 0,
        tool_failures: 0,
        answer: None,
        stop_reason: StopReason::TokenBudget,
    };
    let mut logits = generator.append(&prompt.ids, &prompt.images)?;
    let budget = config.max_completion_tokens;

    loop {
        // Generate one assistant turn: until `</tool>`, `</answer>`, `<eos>` or the budget.
        let turn_start = rollout.completion.len();
        let mut last = None;
        while rollout.completion.len() < budget {
            // The model may not emit an image placeholder: no image would stand behind it.
            // NOTE: the training log-probs still normalise over the placeholder token.
            let id = sample_token(&logits, config.temperature, config.top_p, Some(policy.image_token_id()), &mut rng)?;
            rollout.completion.push(id);
            rollout.completion_mask.push(1.0);
            last = Some(id);
            if id == ends.eos || is_answer_close(id) || id == ends.tool_close {
                break;
            }
            logits = generator.append(&[id], &[])?;
        }
        rollout.turns += 1;
        let turn_text = codec.decode(&rollout.completion[turn_start..]);

        // Stop on an answer or end of sequence.
        if last.is_some_and(is_answer_close) || last == Some(ends.eos) {
            if let Action::Answer(answer) = parse_action(&turn_text) {
                rollout.answer = Some(answer);
            }
            rollout.stop_reason =
                if last == Some(ends.eos) { StopReason::EndOfSequence } else { StopReason::Answer };
            return Ok(rollout);
        }
        if last != Some(ends.tool_close) {
            rollout.stop_reason = StopReason::TokenBudget;
            return Ok(rollout);
        }

        if rollout.turns >= config.max_turns {
            rollout.stop_reason = StopReason::MaxTurns;
            return Ok(rollout);
        }

        // Run the tool. A malformed call or a tool error becomes an error observation.
        rollout.tool_calls += 1;
        let observation = match parse_action(&turn_text) {
            Action::ToolCall { name, args } => match tools.call(&name, &args, prompt.images.first()) {
                Ok(observation) => observation,
                Err(message) => {
                    rollout.tool_failures += 1;
                    Observation { text: format!("error: {message}"), images: Vec::new() }
                }
            },
            Action::Malformed(message) => {
                rollout.tool_failures += 1;
                Observation { text: format!("error: {message}"), images: Vec::new() }
            }
            Action::Answer(_) | Action::Nothing => {
                rollout.tool_failures += 1;
                Observation { text: "error: no tool call found".into(), images: Vec::new() }
            }
        };
        let ids = observation_ids(policy, codec, &observation)?;
        if rollout.completion.len() + ids.len() >= budget {
            rollout.stop_reason = StopReason::TokenBudget;
            return Ok(rollout);
        }
        rollout.completion.extend_from_slice(&ids);
        rollout.completion_mask.extend(std::iter::repeat_n(0.0, ids.len()));
        rollout.completion_images.extend(observation.images.iter().cloned());

        // The sampled `</tool>` has not been fed to the model yet: feed it with the observation.
        let mut fed = vec![ends.tool_close];
        fed.extend_from_slice(&ids);
        logits = generator.append(&fed, &observation.images)?;
    }
}
