//! Shared fixtures: a tiny model, a colour-naming task and a zoom tool.

#![allow(dead_code)]

use assay_train::grpo::{GrpoPrompt, Reward};
use assay_train::rollout::{expand_image_tokens, Observation, Rollout, ToolRunner};
use assay_train::sft::{encode_sft_example, SftExample};
use assay_train::trajectory::{Sample, Segment};
use assay_train::{Image, Policy, Sequence, TinyVlm, TinyVlmConfig, TokenLayout, Tokenizer};
use candle_core::{DType, Device};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const COLOURS: [&str; 3] = ["red", "green", "blue"];
pub const PROMPT: &str = "<image> what colour is the square ?";
pub const TOOL_CALL: &str = "<tool>zoom_in{\"region\":\"center\"}</tool>";

pub fn tokenizer() -> Tokenizer {
    let answers: Vec<String> = COLOURS.iter().map(|c| format!("<answer>{c}</answer>")).collect();
    let mut corpus = vec![PROMPT, TOOL_CALL, "error : unknown tool ok { } {}"];
    corpus.extend(answers.iter().map(String::as_str));
    Tokenizer::from_corpus(corpus)
}

pub fn tiny_config() -> TinyVlmConfig {
    TinyVlmConfig {
        hidden_size: 32,
        num_layers: 1,
        num_heads: 2,
        intermediate_size: 64,
        max_seq_len: 128,
        image_size: 8,
        patch_size: 4,
        vision_hidden_size: 16,
        vision_layers: 1,
        vision_heads: 2,
        vision_intermediate_size: 32,
        init_std: 0.1,
        ..TinyVlmConfig::default()
    }
}

pub fn tiny_model(tokenizer: &Tokenizer, dtype: DType, seed: u64) -> TinyVlm {
    let layout = TokenLayout { vocab_size: tokenizer.vocab_size(), image_token_id: tokenizer.special().image };
    TinyVlm::new(&tiny_config(), layout, seed, dtype, &Device::Cpu).unwrap()
}

/// Draws a 16x16 grey image with a 6x6 square of `colour` near the centre.
pub fn square_image(colour: usize, rng: &mut ChaCha8Rng) -> Image {
    let (size, side) = (16, 6);
    let top = rng.random_range(4..=6);
    let left = rng.random_range(4..=6);
    let mut pixels = vec![0.5f32; 3 * size * size];
    for y in top..top + side {
        for x in left..left + side {
            for c in 0..3 {
                pixels[(c * size + y) * size + x] = if c == colour { 1.0 } else { 0.0 };
            }
        }
    }
    Image::new(size, size, pixels).unwrap()
}

/// Returns the centre 8x8 crop of the prompt image for `zoom_in`, an error otherwise.
pub struct ZoomTool;

impl ToolRunner for ZoomTool {
    fn call(&mut self, name: &str, _args: &serde_json::Value, image: Option<&Image>) -> Result<Observation, String> {
        if name != "zoom_in" {
            return Err(format!("unknown tool `{name}`"));
        }
        let image = image.ok_or("no image")?;
        let crop = image.crop(4, 4, 8, 8).map_err(|e| e.to_string())?;
        Ok(Observation { text: String::new(), images: vec![crop] })
    }
}

/// One task instance: the sample and its prompt image.
pub struct Task {
    pub sample: Sample,
    pub image: Image,
    pub colour: usize,
}

pub fn tasks(count: usize, seed: u64) -> Vec<Task> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let colour = rng.random_range(0..3);
            let image = square_image(colour, &mut rng);
            // SFT answers are random colours: SFT teaches the format, not the mapping.
            let shown = rng.random_range(0..3);
            let sample = Sample {
                id: format!("task-{i}"),
                prompt: PROMPT.into(),
                images: vec![format!("task-{i}.ppm")],
                target: vec![
                    Segment::Assistant { text: TOOL_CALL.into() },
                    Segment::Observation { text: "<image>".into(), images: vec![format!("task-{i}-zoom.ppm")] },
                    Segment::Assistant { text: format!("<answer>{}</answer><eos>", COLOURS[shown]) },
                ],
                answer: Some(COLOURS[colour].into()),
                metadata: serde_json::Value::Null,
            };
            Task { sample, image, colour }
        })
        .collect()
}

pub fn sft_examples<P: Policy>(policy: &P, tokenizer: &Tokenizer, tasks: &[Task]) -> Vec<SftExample> {
    tasks
        .iter()
        .map(|task| {
            let zoom = task.image.crop(4, 4, 8, 8).unwrap();
            encode_sft_example(policy, tokenizer, &task.sample, &[task.image.clone(), zoom]).unwrap()
        })
        .collect()
}

pub fn grpo_prompts<P: Policy>(policy: &P, tokenizer: &Tokenizer, tasks: &[Task]) -> Vec<GrpoPrompt> {
    tasks
        .iter()
        .map(|task| {
            let ids = expand_image_tokens(policy, &tokenizer.encode(PROMPT), tokenizer.special().image, std::slice::from_ref(&task.image)).unwrap();
            GrpoPrompt { sample: task.sample.clone(), prompt: Sequence { ids, images: vec![task.image.clone()] } }
        })
        .collect()
}

/// 1 when the answer names the sample's colour, 0 otherwise (also without an answer).
pub struct CorrectColour;

impl Reward for CorrectColour {
    fn name(&self) -> &str {
        "correct_colour"
    }

    fn score(&mut self, sample: &Sample, rollout: &Rollout) -> Option<f64> {
        Some(if rollout.answer.is_some() && rollout.answer == sample.answer { 1.0 } else { 0.0 })
    }
}

/// A reward that always returns the same value.
pub struct Constant(pub &'static str, pub f64);

impl Reward for Constant {
    fn name(&self) -> &str {
        self.0
    }

    fn score(&mut self, _sample: &Sample, _rollout: &Rollout) -> Option<f64> {
        Some(self.1)
    }
}
