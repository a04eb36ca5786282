//! Behaviours every SFT and GRPO implementation must get right, one test each.

use std::cell::{Cell, RefCell};
use std::path::Path;

use assay_train::advantage::{combine_rewards, group_advantages};
use assay_train::grpo::{train_grpo, GrpoConfig, GrpoInputs, NoHooks, WeightedReward};
use assay_train::kl::{kl_estimate, KlEstimator};
use assay_train::loss::{
    eos_loss_mask, next_token_log_probs, policy_loss, shifted_mask, sft_token_mask, Aggregation, LossNormalizer,
    PolicyLossInputs, PolicyLossSettings, RatioLevel,
};
use assay_train::rollout::{generate_rollout, Observation, RolloutConfig, ToolRunner};
use assay_train::sft::{train_sft, SftConfig};
use assay_train::{Image, KvCache, Policy, Sequence, TinyVlm};
use candle_core::{DType, Device, Tensor, Var};

use super::common::{self, tokenizer, tiny_model, Constant};

fn assert_close(actual: f64, expected: f64, tolerance: f64, what: &str) {
    assert!((actual - expected).abs() <= tolerance, "{what}: got {actual}, expected {expected}");
}

#[test]
fn zero_variance_group_gives_exact_zeros() {
    let result = group_advantages(&[Some(1.0); 4], true);
    assert_eq!(result.advantages, vec![0.0; 4]);
    assert!(result.zero_variance);
}

#[test]
// The expected values are the six-decimal figures of the case, not an approximated constant.
#[allow(clippy::approx_constant)]
fn two_member_group_advantages() {
    let scaled = group_advantages(&[Some(1.0), Some(0.0)], true).advantages;
    assert_close(scaled[0], 0.707107, 1e-6, "scaled first");
    assert_close(scaled[1], -0.707107, 1e-6, "scaled second");
    assert_eq!(group_advantages(&[Some(1.0), Some(0.0)], false).advantages, vec![0.5, -0.5]);
}

#[test]
fn abstaining_reward_left_out_of_baseline() {
    let advantages = group_advantages(&[Some(1.0), Some(0.0), None, Some(0.0)], false).advantages;
    let expected = [0.666667, -0.333333, 0.0, -0.333333];
    for (a, e) in advantages.iter().zip(expected) {
        assert_close(*a, e, 1e-6, "advantage");
    }
    assert_eq!(advantages[2], 0.0);
    assert_eq!(combine_rewards(&[None, None], &[0.5, 0.5]), None);
}

#[test]
fn kl_term_pulls_toward_reference() {
    let log_prob = Var::new(&[-1.0f64], &Device::Cpu).unwrap();
    let reference = Tensor::new(&[-1.1f64], &Device::Cpu).unwrap();
    let kl = kl_estimate(log_prob.as_tensor(), &reference, KlEstimator::K3).unwrap();
    assert_close(kl.to_vec1::<f64>().unwrap()[0], 0.004837, 1e-6, "k3");

    // Through the full policy loss: zero advantage and ratio 1 leave only the KL term.
    let zeros = Tensor::new(&[[0.0f64, 0.0]], &Device::Cpu).unwrap();
    let log_probs = Var::new(&[[-1.0f64, -1.0]], &Device::Cpu).unwrap();
    let settings = PolicyLossSettings {
        clip_epsilon_low: 0.2,
        clip_epsilon_high: 0.2,
        ratio_level: RatioLevel::Token,
        kl_coef: 0.1,
        kl_estimator: KlEstimator::K3,
        entropy_coef: 0.0,
        aggregation: Aggregation::TokenMean,
    };
    let loss = policy_loss(
        &PolicyLossInputs {
            log_probs: log_probs.as_tensor(),
            old_log_probs: &log_probs.as_tensor().detach(),
            ref_log_probs: Some(&Tensor::new(&[[-1.1f64, -1.1]], &Device::Cpu).unwrap()),
            advantages: &zeros,
            mask: &Tensor::new(&[[1.0f64, 0.0]], &Device::Cpu).unwrap(),
            entropy: None,
        },
        &settings,
        LossNormalizer { tokens: 1.0, sequences: 1.0 },
    )
    .unwrap();
    assert_close(loss.loss.to_scalar::<f64>().unwrap(), 0.000484, 5e-7, "loss increase");
    let grads = loss.loss.backward().unwrap();
    let grad = grads.get(log_probs.as_tensor()).unwrap().to_vec2::<f64>().unwrap();
    assert_close(grad[0][0], 0.009516, 1e-6, "gradient on the masked-in token");
    assert_eq!(grad[0][1], 0.0, "masked token gets no gradient");
}

#[test]
fn weighted_rewards_are_trained_and_logged() {
    assert_eq!(combine_rewards(&[Some(1.0), Some(0.0)], &[0.7, 0.3]), Some(0.7));

    // The same numbers come out of a GRPO step's metrics.
    let tokenizer = tokenizer();
    let mut policy = tiny_model(&tokenizer, DType::F32, 1);
    let tasks = common::tasks(2, 5);
    let prompts = common::grpo_prompts(&policy, &tokenizer, &tasks);
    let mut rewards = vec![
        WeightedReward { reward: Box::new(Constant("one", 1.0)), weight: 0.7 },
        WeightedReward { reward: Box::new(Constant("zero", 0.0)), weight: 0.3 },
    ];
    let config = GrpoConfig {
        steps: 1,
        prompts_per_step: 2,
        rollout: RolloutConfig { group_size: 4, max_completion_tokens: 8, ..RolloutConfig::default() },
        ..GrpoConfig::default()
    };
    let mut seen = Vec::new();
    let inputs = GrpoInputs { codec: &tokenizer, prompts: &prompts, rewards: &mut rewards, tools: &mut common::ZoomTool, hooks: &mut NoHooks };
    train_grpo(&config, &mut policy, None, inputs, None, &mut |m| {
        seen.push(m.clone());
        Ok(())
    })
    .unwrap();
    let metrics = &seen[0];
    assert_close(metrics["reward/mean"], 0.7, 1e-12, "combined reward");
    assert_close(metrics["reward/one/mean"], 0.7, 1e-12, "weighted reward of `one`");
    assert_eq!(metrics["reward/zero/mean"], 0.0);
    // Every group has equal rewards: the zero-variance fraction is 1 and nothing moves.
    assert_eq!(metrics["zero_variance_fraction"], 1.0);
    assert_eq!(metrics["advantage/max"], 0.0);
}

/// Emits a fixed script of tokens, one per call to `step`, whatever the input.
struct ScriptedPolicy {
    script: Vec<u32>,
    calls: Cell<usize>,
    /// Every id fed to `step`, in order.
    fed: RefCell<Vec<u32>>,
    vocab_size: usize,
    image_token_id: u32,
    device: Device,
}

impl Policy for ScriptedPolicy {
    fn device(&self) -> &Device {
        &self.device
    }
    fn dtype(&self) -> DType {
        DType::F32
    }
    fn vocab_size(&self) -> usize {
        self.vocab_size
    }
    fn image_token_id(&self) -> u32 {
        self.image_token_id
    }
    fn image_token_count(&self, _image: &Image) -> usize {
        2
    }
    fn forward(&self, _batch: &[Sequence]) -> anyhow::Result<Tensor> {
        anyhow::bail!("not used")
    }
    fn new_cache(&self) -> KvCache {
        KvCache::new(0)
    }
    fn step(&self, _cache: &mut KvCache, ids: &[u32], _images: &[Image]) -> anyhow::Result<Tensor> {
        self.fed.borrow_mut().extend_from_slice(ids);
        let mut logits = vec![0.0f32; self.vocab_size];
        logits[self.script[self.calls.get()] as usize] = 100.0;
        self.calls.set(self.calls.get() + 1);
        Ok(Tensor::new(logits, &self.device)?)
    }
    fn named_vars(&self) -> Vec<(String, Var)> {
        Vec::new()
    }
    fn save(&self, _path: &Path) -> anyhow::Result<()> {
        Ok(())
    }
    fn load(&mut self, _path: &Path) -> anyhow::Result<()> {
        Ok(())
    }
    fn duplicate(&self) -> anyhow::Result<Self> {
        anyhow::bail!("not used")
    }
}

struct FixedTool(Observation);

impl ToolRunner for FixedTool {
    fn call(&mut self, _name: &str, _args: &serde_json::Value, _image: Option<&Image>) -> Result<Observation, String> {
        Ok(self.0.clone())
    }
}

#[test]
fn tool_tokens_never_retokenized() {
    let tokenizer = tokenizer();
    let special = tokenizer.special();
    let id = |t: &str| tokenizer.token_id(t).unwrap();
    // `{` then `}` as two tokens: re-encoding the text would give the single token `{}`.
    let call = vec![special.tool_open, id("zoom_in"), id("{"), id("}"), special.tool_close];
    assert_ne!(tokenizer.encode(&tokenizer.decode(&call)), call);
    let tail = vec![id("ok"), special.eos];
    for with_image in [false, true] {
        let policy = ScriptedPolicy {
            script: call.iter().chain(&tail).copied().collect(),
            calls: Cell::new(0),
            fed: RefCell::new(Vec::new()),
            vocab_size: tokenizer.vocab_size(),
            image_token_id: special.image,
            device: Device::Cpu,
        };
        let images = if with_image { vec![Image::new(1, 1, vec![0.0; 3]).unwrap()] } else { Vec::new() };
        let mut tool = FixedTool(Observation { text: "ok".into(), images });
        let prompt = Sequence { ids: vec![id("what")], images: Vec::new() };
        let config = RolloutConfig { temperature: 0.0, ..RolloutConfig::default() };
        let rollout = generate_rollout(&policy, &tokenizer, &mut tool, &prompt, &config, 0).unwrap();

        let mut observation = vec![special.obs_open, id("ok")];
        if with_image {
            observation.extend([special.image, special.image]);
        }
        observation.push(special.obs_close);
        let expected: Vec<u32> = call.iter().chain(&observation).chain(&tail).copied().collect();
        assert_eq!(rollout.completion, expected);
        let mut mask = vec![1.0; call.len()];
        mask.extend(vec![0.0; observation.len()]);
        mask.extend([1.0, 1.0]);
        assert_eq!(rollout.completion_mask, mask);
        // The model saw exactly the stored sequence, up to the final EOS it generated.
        let full = rollout.full_sequence().ids;
        assert_eq!(*policy.fed.borrow(), full[..full.len() - 1].to_vec());
        assert_eq!(rollout.tool_calls, 1);
        assert_eq!(rollout.completion_images.len(), usize::from(with_image));
    }
}

#[test]
fn loss_mask_from_end_of_sequence() {
    assert_eq!(eos_loss_mask(&[5, 6, 3, 0, 0], &[2, 3], 5), vec![1.0, 1.0, 1.0, 0.0, 0.0]);
    assert_eq!(eos_loss_mask(&[5, 6, 7, 0, 0], &[2, 3], 3), vec![1.0, 1.0, 1.0, 0.0, 0.0]);
    assert_eq!(eos_loss_mask(&[2, 6], &[2, 3], 2), vec![1.0, 0.0]);
}

#[test]
fn sft_shift_predicts_each_response_token() {
    // Prompt [p1, p2, p3] = [7, 8, 9], response [r1, r2, EOS] = [4, 5, 1].
    let ids = vec![7u32, 8, 9, 4, 5, 1];
    let mask = sft_token_mask(3, &[1.0, 1.0, 1.0]);
    let vocab = 10;
    let values: Vec<f32> = (0..ids.len() * vocab).map(|i| ((i * 37) % 11) as f32 * 0.3).collect();
    let logits = Tensor::from_vec(values.clone(), (1, ids.len(), vocab), &Device::Cpu).unwrap();
    let log_probs = next_token_log_probs(&logits, std::slice::from_ref(&ids)).unwrap();
    let shifted = shifted_mask(&[mask], ids.len(), DType::F32, &Device::Cpu).unwrap();
    let terms: Vec<f32> = shifted.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(terms, vec![0.0, 0.0, 1.0, 1.0, 1.0], "three terms, at positions of p3, r1 and r2");

    // The terms are log p(r1 | ..p3), log p(r2 | ..r1), log p(EOS | ..r2), computed by hand.
    let hand = |position: usize, target: usize| -> f64 {
        let row = &values[position * vocab..(position + 1) * vocab];
        let log_sum = row.iter().map(|v| (*v as f64).exp()).sum::<f64>().ln();
        row[target] as f64 - log_sum
    };
    let got: Vec<f32> = (log_probs * shifted).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    assert_close(got[2] as f64, hand(2, 4), 1e-5, "r1 from p3");
    assert_close(got[3] as f64, hand(3, 5), 1e-5, "r2 from r1");
    assert_close(got[4] as f64, hand(4, 1), 1e-5, "EOS from r2");
}

fn weights_of(policy: &TinyVlm) -> Vec<(String, Vec<f32>)> {
    policy
        .named_vars()
        .into_iter()
        .map(|(name, var)| (name, var.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap()))
        .collect()
}

#[test]
fn resume_at_epoch_boundary() {
    let tokenizer = tokenizer();
    let tasks = common::tasks(6, 9);
    let config = SftConfig { epochs: 2, batch_size: 2, micro_batch_size: 1, checkpoint_every: 3, ..SftConfig::default() };
    let config = SftConfig { optimizer: assay_train::optim::OptimizerConfig { learning_rate: 1e-2, ..config.optimizer.clone() }, ..config };

    // Uninterrupted run.
    let mut policy = tiny_model(&tokenizer, DType::F32, 3);
    let examples = common::sft_examples(&policy, &tokenizer, &tasks);
    let dir = tempfile::tempdir().unwrap();
    let mut full = Vec::new();
    train_sft(&config, &mut policy, &examples, Some(&dir.path().join("full")), &mut |m| {
        full.push((m["step"], m["loss"]));
        Ok(())
    })
    .unwrap();
    let full_weights = weights_of(&policy);

    // Interrupted while reporting step 4, then resumed in a fresh model. Metrics are
    // reported before the checkpoint, so the last checkpoint is the one of step 3.
    let resumable = dir.path().join("resumable");
    let mut first = tiny_model(&tokenizer, DType::F32, 3);
    let stopped = train_sft(&config, &mut first, &examples, Some(&resumable), &mut |m| {
        anyhow::ensure!(m["step"] < 4.0, "simulated crash");
        Ok(())
    });
    assert!(stopped.is_err());
    let mut resumed = tiny_model(&tokenizer, DType::F32, 77);
    let mut rest = Vec::new();
    let summary = train_sft(&config, &mut resumed, &examples, Some(&resumable), &mut |m| {
        rest.push((m["step"], m["loss"]));
        Ok(())
    })
    .unwrap();
    assert_eq!(summary.steps_run, 3);
    assert_eq!(rest, full[3..].to_vec(), "steps 4 to 6 repeat with the same losses");
    assert_eq!(weights_of(&resumed), full_weights, "final weights are bit-identical");
}

#[test]
fn seeds_reach_sampling() {
    let tokenizer = tokenizer();
    let policy = tiny_model(&tokenizer, DType::F32, 11);
    let tasks = common::tasks(1, 2);
    let prompt = &common::grpo_prompts(&policy, &tokenizer, &tasks)[0].prompt;
    let config = RolloutConfig { max_completion_tokens: 24, ..RolloutConfig::default() };
    let run = |seed| generate_rollout(&policy, &tokenizer, &mut common::ZoomTool, prompt, &config, seed).unwrap().completion;
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}
