//! End-to-end learning on a generated task: name the colour of a square, with a zoom tool.
//! SFT teaches the trajectory format with random colours, so the SFT policy answers at
//! chance; GRPO with a correctness reward must then raise the mean reward clearly.

use assay_train::grpo::{train_grpo, GrpoConfig, GrpoInputs, GrpoPrompt, NoHooks, Reward, WeightedReward};
use assay_train::optim::OptimizerConfig;
use assay_train::rollout::{generate_rollout, rollout_seed, RolloutConfig};
use assay_train::sft::{train_sft, SftConfig};
use assay_train::{TinyVlm, Tokenizer};
use candle_core::DType;

use super::common::{self, tokenizer, tiny_model, CorrectColour};

/// Mean correctness over `samples` rollouts per prompt, with fixed seeds.
pub fn mean_reward(policy: &TinyVlm, tokenizer: &Tokenizer, prompts: &[GrpoPrompt], samples: u64) -> f64 {
    let config = RolloutConfig { max_turns: 2, max_completion_tokens: 32, ..RolloutConfig::default() };
    let mut total = 0.0;
    let mut reward = CorrectColour;
    for (i, prompt) in prompts.iter().enumerate() {
        for s in 0..samples {
            let seed = rollout_seed(999, 0, i as u64, s);
            let rollout = generate_rollout(policy, tokenizer, &mut common::ZoomTool, &prompt.prompt, &config, seed).unwrap();
            total += reward.score(&prompt.sample, &rollout).unwrap();
        }
    }
    total / (prompts.len() as u64 * samples) as f64
}

#[test]
fn grpo_improves_on_sft() {
    let tokenizer = tokenizer();
    let mut policy = tiny_model(&tokenizer, DType::F32, 2024);

    // SFT on the format. The answers are random and the examples many, so the model learns
    // a uniform answer distribution instead of memorising labels.
    let train = common::tasks(256, 1);
    let examples = common::sft_examples(&policy, &tokenizer, &train);
    let sft = SftConfig {
        epochs: 3,
        batch_size: 8,
        micro_batch_size: 8,
        optimizer: OptimizerConfig { learning_rate: 5e-3, warmup_steps: 5, ..OptimizerConfig::default() },
        ..SftConfig::default()
    };
    train_sft(&sft, &mut policy, &examples, None, &mut |_| Ok(())).unwrap();

    let held_out = common::grpo_prompts(&policy, &tokenizer, &common::tasks(24, 2));
    let before = mean_reward(&policy, &tokenizer, &held_out, 4);

    // GRPO on the correctness reward.
    let prompts = common::grpo_prompts(&policy, &tokenizer, &common::tasks(64, 3));
    let optimizer = OptimizerConfig { learning_rate: 2e-3, ..OptimizerConfig::default() };
    let config = GrpoConfig {
        steps: 80,
        prompts_per_step: 4,
        rollout: RolloutConfig { group_size: 8, max_turns: 2, max_completion_tokens: 32, ..RolloutConfig::default() },
        optimizer,
        micro_batch_size: 16,
        ..GrpoConfig::default()
    };
    let mut rewards = vec![WeightedReward { reward: Box::new(CorrectColour), weight: 1.0 }];
    let inputs = GrpoInputs { codec: &tokenizer, prompts: &prompts, rewards: &mut rewards, tools: &mut common::ZoomTool, hooks: &mut NoHooks };
    let mut history = Vec::new();
    train_grpo(&config, &mut policy, None, inputs, None, &mut |m| {
        history.push(m["reward/mean"]);
        Ok(())
    })
    .unwrap();

    let after = mean_reward(&policy, &tokenizer, &held_out, 4);
    println!("held-out mean reward: {before} after SFT, {after} after GRPO");
    assert!(before < 0.5, "the SFT policy should answer near chance (1/3), got {before}");
    assert!(after > before + 0.25, "GRPO should raise the held-out reward from {before}, got {after} (training rewards {history:?})");
}
