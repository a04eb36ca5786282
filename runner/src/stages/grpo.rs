//! `grpo` stage kind: Group Relative Policy Optimization of a policy (`tiny_vlm` or Qwen) with
//! multi-turn, tool-using rollouts.
//!
//! The policy starts from the policy folder of an input stage (usually `sft`) or from
//! `models.<name>`. Rewards are the `plugins.rewards` entries named in `rewards`, tools the
//! `plugins.tools` entries named in `tools`, and an optional `shaping` hook reshapes rewards
//! or advantages. Reward, tool and hook implementations are looked up by name in the small
//! registries below ([`reward_builders`], [`build_tools`], [`hook_builders`]), so a
//! paper-specific module plugs in with one line each. A `kind: native` reward is a shared
//! library loaded at run time instead ([`build_reward`]).
//!
//! Writes the policy folder (`policy/`) and logs every GRPO metric per step: reward
//! mean/std per function, advantage statistics, zero-variance fraction, KL, entropy, clip
//! fraction, grad norm, lengths, tool use and tokens/s. Checkpoints go under `checkpoints/`
//! in the work folder. A resumed run continues from them bit-identically unless a reward or
//! hook keeps state across steps.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use assay_train::grpo::{train_grpo, GrpoConfig, GrpoHooks, GrpoInputs, GrpoPrompt, NoHooks, Reward, WeightedReward};
use assay_train::rollout::{Rollout, StopReason, ToolRunner};
use assay_train::trajectory::Sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::policy_io::{self, DataSource};
use super::stage_policy::StageCodec;
use crate::actfer::tools::WasmToolRunner;
use crate::plugins::RewardErrors;
use crate::spec::{self, Diagnostic, Experiment, PluginKind, PluginSection, PluginSpec};
use crate::stage::{StageContext, StageRunner};

/// Folder of the training checkpoints inside the stage's work folder.
pub const CHECKPOINT_DIR: &str = "checkpoints";

/// Parameters of a `grpo` stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrpoParams {
    /// Input stage whose `policy/` folder (written by `sft` or `grpo`) is the starting
    /// policy and, when `training.kl_coef > 0`, the frozen reference. Default: none; then
    /// `model` is required. Not allowed together with `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Model under `models` to start from when no `policy` stage is given (kind
    /// `tiny_vlm`, dtype `f32`). Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Source of the prompts: samples whose `answer` the rewards compare against. Default:
    /// `samples.jsonl` of the only input stage.
    #[serde(default)]
    pub data: DataSource,
    /// Reward functions and their weights in the combined reward; at least one.
    pub rewards: Vec<RewardWeight>,
    /// Names of the `plugins.tools` entries the policy may call. Default: none (every
    /// tool call becomes an error observation).
    #[serde(default)]
    pub tools: Vec<String>,
    /// Reward shaping or advantage reweighting hook. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shaping: Option<Shaping>,
    /// GRPO settings: steps, prompts per step, rollout (`group_size`, `max_turns`,
    /// sampling), clipping, KL, entropy, aggregation, optimizer, checkpoints. The sampling
    /// seed `training.seed` is added to the stage seed. Defaults: those of each field.
    #[serde(default)]
    pub training: GrpoConfig,
}

/// One reward function of the combined reward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RewardWeight {
    /// Name of an entry under `plugins.rewards`.
    pub name: String,
    /// Weight in the combined reward, unitless. Default 1.0; any finite value.
    #[serde(default = "default_weight")]
    pub weight: f64,
}

fn default_weight() -> f64 {
    1.0
}

/// A hook selected by name, with its own configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shaping {
    /// Hook name; one of those in [`hook_builders`].
    pub name: String,
    /// Hook-specific settings as a map. Default: null (the hook's defaults).
    #[serde(default)]
    pub config: serde_json::Value,
}

/// Inputs of a reward builder: the plugin entry and the policy's codec.
pub struct RewardContext<'a> {
    /// Name of the entry under `plugins.rewards`.
    pub name: &'a str,
    pub plugin: &'a PluginSpec,
    pub codec: &'a StageCodec,
}

/// Builds a reward function from its plugin entry.
pub type RewardBuilder = fn(&RewardContext) -> anyhow::Result<Box<dyn Reward>>;

/// Builds the reward of one `plugins.rewards` entry: a built-in from [`reward_builders`],
/// or a native plugin that scores through the C ABI. A native reward records scoring
/// errors in `errors`, which the stage checks after each step.
///
/// # Errors
/// The built-in name is unknown, the entry is `kind: wasm`, or the built-in or native
/// reward fails to build (the native message names the entry and library path).
pub fn build_reward(ctx: &RewardContext, errors: &RewardErrors) -> anyhow::Result<Box<dyn Reward>> {
    match ctx.plugin.kind {
        PluginKind::Builtin => {
            let builtin = builtin_name(ctx.name, ctx.plugin);
            let builders = reward_builders();
            let builder = builders.get(builtin).with_context(|| format!("reward `{}` has no built-in implementation `{builtin}`", ctx.name))?;
            builder(ctx)
        }
        PluginKind::Native => Ok(Box::new(crate::plugins::load_native_reward(ctx.name, ctx.plugin, ctx.codec, errors)?)),
        PluginKind::Wasm => bail!("reward `{}` has kind `wasm`, but rewards run as `builtin` or `native` plugins", ctx.name),
    }
}

/// Built-in reward functions by the name that `plugins.rewards.<name>.builtin` (or the
/// entry's own name) selects.
pub fn reward_builders() -> BTreeMap<&'static str, RewardBuilder> {
    let mut builders: BTreeMap<&'static str, RewardBuilder> = BTreeMap::new();
    builders.insert(ExactAnswer::NAME, |ctx| Ok(Box::new(ExactAnswer { name: ctx.name.to_string() })));
    builders.insert(AnswerPresent::NAME, |ctx| Ok(Box::new(AnswerPresent { name: ctx.name.to_string() })));
    builders.insert("answer_format", |_| Ok(Box::new(crate::actfer::FormatReward)));
    builders.insert("actfer_accuracy", |ctx| {
        let weights = serde_json::from_value(if ctx.plugin.config.is_null() { serde_json::json!({}) } else { ctx.plugin.config.clone() })
            .with_context(|| format!("invalid `config` of reward `{}`", ctx.name))?;
        Ok(Box::new(crate::actfer::AccuracyReward::new(weights)?))
    });
    builders
}

/// Inputs of a hook builder: its configuration, the policy's vocabulary and the spec.
pub struct HookContext<'a> {
    pub config: &'a serde_json::Value,
    pub codec: &'a StageCodec,
    pub spec: &'a Experiment,
}

/// Builds a reward shaping / advantage reweighting hook.
pub type HookBuilder = fn(&HookContext) -> anyhow::Result<Box<dyn GrpoHooks>>;

/// Hooks that `shaping.name` selects.
pub fn hook_builders() -> BTreeMap<&'static str, HookBuilder> {
    let mut builders: BTreeMap<&'static str, HookBuilder> = BTreeMap::new();
    builders.insert("none", |_| Ok(Box::new(NoHooks)));
    // ActFER's utility calibration (UC-GRPO). `config` contains `utility` (UtilityConfig) and
    // `accuracy` (the accuracy reward's weights), each defaulting to `{}`.
    builders.insert("utility_calibration", |ctx| {
        let section = |key: &str| ctx.config.get(key).cloned().unwrap_or_else(|| serde_json::json!({}));
        let utility: crate::actfer::UtilityConfig =
            serde_json::from_value(section("utility")).context("invalid `shaping.config.utility`")?;
        let weights = serde_json::from_value(section("accuracy")).context("invalid `shaping.config.accuracy`")?;
        let accuracy = crate::actfer::AccuracyReward::new(weights)?;
        Ok(Box::new(crate::actfer::UtilityCalibration::new(utility, accuracy, ctx.codec.clone())?))
    });
    builders
}

/// Loads the tools named in `names` from `plugins.tools` into one runner. Only `wasm`
/// tools are supported; no names gives a runner that rejects every call.
///
/// # Errors
/// A name is not defined, is not a `wasm` plugin, or its component does not load.
pub fn build_tools(spec: &Experiment, names: &[String]) -> anyhow::Result<Box<dyn ToolRunner>> {
    let mut tools = BTreeMap::new();
    for name in names {
        let plugin = spec.plugins.tools.get(name).with_context(|| format!("tool `{name}` is not defined under `plugins.tools`"))?;
        if plugin.kind != PluginKind::Wasm {
            // TODO: built-in and native tools need their own adapters.
            bail!("tool `{name}` has kind `{:?}`: the `grpo` stage runs only `wasm` tools", plugin.kind);
        }
        tools.insert(name.clone(), crate::plugins::load_wasm_tool(spec, name)?);
    }
    Ok(Box::new(WasmToolRunner::new(tools)))
}

/// Name of the built-in implementation of a reward entry.
fn builtin_name<'a>(name: &'a str, plugin: &'a PluginSpec) -> &'a str {
    plugin.builtin.as_deref().unwrap_or(name)
}

/// Reward 1 when the rollout's answer equals the sample's reference `answer`, ignoring case
/// and repeated whitespace, else 0. It abstains on samples without a reference.
pub struct ExactAnswer {
    name: String,
}

impl ExactAnswer {
    pub const NAME: &'static str = "exact_answer";
}

fn normalize_answer(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

impl Reward for ExactAnswer {
    fn name(&self) -> &str {
        &self.name
    }

    fn score(&mut self, sample: &Sample, rollout: &Rollout) -> Option<f64> {
        let reference = sample.answer.as_deref()?;
        let correct = rollout.answer.as_deref().is_some_and(|answer| normalize_answer(answer) == normalize_answer(reference));
        Some(if correct { 1.0 } else { 0.0 })
    }
}

/// Reward 1 when the rollout ended with an `<answer>…</answer>` block, whatever its
/// content, else 0.
pub struct AnswerPresent {
    name: String,
}

impl AnswerPresent {
    pub const NAME: &'static str = "answer_present";
}

impl Reward for AnswerPresent {
    fn name(&self) -> &str {
        &self.name
    }

    fn score(&mut self, _sample: &Sample, rollout: &Rollout) -> Option<f64> {
        Some(if rollout.stop_reason == StopReason::Answer { 1.0 } else { 0.0 })
    }
}

/// The `grpo` stage kind.
pub struct GrpoStage;

impl StageRunner for GrpoStage {
    type Params = GrpoParams;

    const KIND: &'static str = "grpo";

    const DESCRIPTION: &'static str = "GRPO of a tiny_vlm or Qwen policy with multi-turn tool-using rollouts and weighted rewards";

    fn validate(params: &GrpoParams, spec: &Experiment) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        match (&params.policy, &params.model) {
            (Some(_), Some(_)) => problems.push(Diagnostic::for_key(
                "model",
                "`policy` and `model` are both set: keep `policy` to start from an input stage, or `model` to start from `models`",
            )),
            (None, None) => problems.push(Diagnostic::for_key(
                "policy",
                "the stage needs a starting policy: set `policy` to an input stage (e.g. the `sft` stage) or `model` to a `models` entry",
            )),
            (None, Some(model)) => {
                problems.extend(policy_io::validate_model(spec, "model", model));
                problems.extend(policy_io::validate_optimizer_groups(spec, model, params.training.optimizer.groups.keys().cloned()));
            }
            (Some(stage), None) => problems.extend(policy_io::validate_stage_name(spec, "policy", stage)),
        }
        problems.extend(params.data.validate("data", spec));

        if params.rewards.is_empty() {
            problems.push(Diagnostic::for_key("rewards", "`rewards` is empty: name at least one `plugins.rewards` entry"));
        }
        let builders = reward_builders();
        for (index, reward) in params.rewards.iter().enumerate() {
            let key = format!("rewards.{index}.name");
            if let Some(problem) = spec::plugin(spec, PluginSection::Rewards, &key, &reward.name) {
                problems.push(problem);
                continue;
            }
            let plugin = &spec.plugins.rewards[&reward.name];
            let builtin = builtin_name(&reward.name, plugin);
            match plugin.kind {
                PluginKind::Builtin if !builders.contains_key(builtin) => {
                    let known: Vec<&str> = builders.keys().copied().collect();
                    problems.push(Diagnostic::for_key(
                        &key,
                        format!("reward `{}` is not a built-in reward the `grpo` stage knows; built-in rewards: {}", reward.name, known.join(", ")),
                    ));
                }
                // The spec check has already required an existing `path`; the library itself
                // is loaded and identified when the run is planned.
                PluginKind::Builtin | PluginKind::Native => {}
                PluginKind::Wasm => problems.push(
                    Diagnostic::for_key(&key, format!("reward `{}` has kind `wasm`, but rewards run as `builtin` or `native` plugins", reward.name))
                        .with_help("build the reward as a native plugin (a cdylib using `assay_plugin_sdk::export_plugin!`)"),
                ),
            }
            if !reward.weight.is_finite() {
                problems.push(Diagnostic::for_key(format!("rewards.{index}.weight"), format!("reward weight must be finite, found {}", reward.weight)));
            }
        }
        for (index, tool) in params.tools.iter().enumerate() {
            problems.extend(spec::plugin(spec, PluginSection::Tools, &format!("tools.{index}"), tool));
        }
        if let Some(shaping) = &params.shaping {
            let hooks = hook_builders();
            if !hooks.contains_key(shaping.name.as_str()) {
                let known: Vec<&str> = hooks.keys().copied().collect();
                problems.push(Diagnostic::for_key(
                    "shaping.name",
                    format!("unknown shaping hook `{}`; known hooks: {}", shaping.name, known.join(", ")),
                ));
            }
        }

        let training = &params.training;
        problems.extend(spec::at_least("training.steps", training.steps, 1));
        problems.extend(spec::at_least("training.prompts_per_step", training.prompts_per_step, 1));
        problems.extend(spec::at_least("training.rollout.group_size", training.rollout.group_size, 2));
        problems.extend(spec::at_least("training.rollout.max_turns", training.rollout.max_turns, 1));
        problems.extend(spec::at_least("training.rollout.max_completion_tokens", training.rollout.max_completion_tokens, 1));
        problems.extend(spec::at_least("training.rollout.temperature", training.rollout.temperature, 0.0));
        if !(training.rollout.top_p > 0.0 && training.rollout.top_p <= 1.0) {
            problems.push(Diagnostic::for_key(
                "training.rollout.top_p",
                format!("`training.rollout.top_p` must be in (0, 1], found {}", training.rollout.top_p),
            ));
        }
        if !(0.0..1.0).contains(&training.clip_epsilon_low) {
            problems.push(Diagnostic::for_key(
                "training.clip_epsilon_low",
                format!("`training.clip_epsilon_low` must be in [0, 1), found {}", training.clip_epsilon_low),
            ));
        }
        problems.extend(spec::at_least("training.clip_epsilon_high", training.clip_epsilon_high, 0.0));
        problems.extend(spec::at_least("training.kl_coef", training.kl_coef, 0.0));
        problems.extend(spec::at_least("training.entropy_coef", training.entropy_coef, 0.0));
        problems.extend(spec::at_least("training.updates_per_batch", training.updates_per_batch, 1));
        problems.extend(spec::at_least("training.micro_batch_size", training.micro_batch_size, 1));
        problems.extend(spec::positive("training.optimizer.learning_rate", training.optimizer.learning_rate));
        if let Err(error) = training.optimizer.validate() {
            problems.push(Diagnostic::for_key("training.optimizer", format!("{error:#}")));
        }
        problems
    }

    fn plugins(params: &GrpoParams) -> Vec<(PluginSection, String)> {
        let rewards = params.rewards.iter().map(|reward| (PluginSection::Rewards, reward.name.clone()));
        let tools = params.tools.iter().map(|tool| (PluginSection::Tools, tool.clone()));
        rewards.chain(tools).collect()
    }

    fn run(params: &GrpoParams, ctx: &mut StageContext) -> anyhow::Result<()> {
        // The starting policy: an input stage's policy folder, or a `models` entry.
        let samples_path = params.data.samples_path(ctx)?;
        let samples = policy_io::read_sample_file(&samples_path)?;
        let folder = samples_path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut loaded = match (&params.policy, &params.model) {
            (Some(stage), _) => policy_io::load_policy(ctx.spec, &policy_io::input_folder(ctx, Some(stage))?, true, ctx.seed)?,
            (None, Some(model)) => policy_io::build_policy(ctx.spec, model, ctx.seed, || Ok(policy_io::corpus_tokenizer(&samples)))?,
            (None, None) => bail!("stage `{}` has neither `policy` nor `model`: set one", ctx.name),
        };
        // The reference is the starting policy, rebuilt the same way on resume, before
        // `train_grpo` loads the checkpoint into `policy`. A LoRA-only Qwen policy shares
        // its frozen base weights with the reference instead of copying them.
        let reference = if params.training.kl_coef > 0.0 { Some(loaded.policy.reference()?) } else { None };

        let mut prompts = Vec::with_capacity(samples.len());
        for sample in &samples {
            let images = policy_io::prompt_images(&folder, sample)?;
            let prompt = policy_io::prompt_sequence(&loaded.policy, &loaded.codec, sample, images)?;
            prompts.push(GrpoPrompt { sample: sample.clone(), prompt });
        }

        // Rewards, tools and hooks by name.
        let reward_errors = RewardErrors::default();
        let mut rewards = Vec::with_capacity(params.rewards.len());
        for entry in &params.rewards {
            let plugin = ctx.spec.plugins.rewards.get(&entry.name).with_context(|| format!("reward `{}` is not defined under `plugins.rewards`", entry.name))?;
            let reward = build_reward(&RewardContext { name: &entry.name, plugin, codec: &loaded.codec }, &reward_errors)?;
            rewards.push(WeightedReward { reward, weight: entry.weight });
        }
        let mut tools = build_tools(ctx.spec, &params.tools)?;
        let mut hooks: Box<dyn GrpoHooks> = match &params.shaping {
            Some(shaping) => {
                let builder = hook_builders().get(shaping.name.as_str()).copied().with_context(|| format!("unknown shaping hook `{}`", shaping.name))?;
                builder(&HookContext { config: &shaping.config, codec: &loaded.codec, spec: ctx.spec })?
            }
            None => Box::new(NoHooks),
        };

        // Train, resuming from the latest checkpoint of an interrupted attempt.
        let config = GrpoConfig { seed: params.training.seed.wrapping_add(ctx.seed), ..params.training.clone() };
        let inputs = GrpoInputs { codec: &loaded.codec, prompts: &prompts, rewards: &mut rewards, tools: tools.as_mut(), hooks: hooks.as_mut() };
        let checkpoints = ctx.work_dir.join(CHECKPOINT_DIR);
        let scalars = &mut ctx.scalars;
        let summary = train_grpo(&config, &mut loaded.policy, reference.as_ref(), inputs, Some(&checkpoints), &mut |metrics| {
            // A reward plugin that failed during this step fails the stage before the step
            // is logged or checkpointed.
            reward_errors.check()?;
            policy_io::log_step(scalars, metrics)
        })?;
        tracing::info!(stage = ctx.name, steps = summary.steps_run, total_steps = summary.total_steps, "grpo finished");

        loaded.save(&ctx.work_dir)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use assay_train::Sequence;

    fn rollout(answer: Option<&str>, stop_reason: StopReason) -> Rollout {
        Rollout {
            prompt: Sequence { ids: vec![1], images: Vec::new() },
            completion: vec![2],
            completion_mask: vec![1.0],
            completion_images: Vec::new(),
            turns: 1,
            tool_calls: 0,
            tool_failures: 0,
            answer: answer.map(str::to_string),
            stop_reason,
        }
    }

    fn sample(answer: Option<&str>) -> Sample {
        Sample {
            id: "s".into(),
            prompt: "what colour".into(),
            images: Vec::new(),
            target: Vec::new(),
            answer: answer.map(str::to_string),
            metadata: serde_json::Value::Null,
        }
    }

    #[test]
    fn exact_answer_normalizes_and_abstains() {
        let mut reward = ExactAnswer { name: "acc".into() };
        assert_eq!(reward.score(&sample(Some("Red  square")), &rollout(Some(" red square"), StopReason::Answer)), Some(1.0));
        assert_eq!(reward.score(&sample(Some("red")), &rollout(Some("blue"), StopReason::Answer)), Some(0.0));
        assert_eq!(reward.score(&sample(Some("red")), &rollout(None, StopReason::MaxTurns)), Some(0.0));
        assert_eq!(reward.score(&sample(None), &rollout(Some("red"), StopReason::Answer)), None);
    }

    #[test]
    fn answer_present_rewards_only_answers() {
        let mut reward = AnswerPresent { name: "format".into() };
        assert_eq!(reward.score(&sample(None), &rollout(Some("x"), StopReason::Answer)), Some(1.0));
        assert_eq!(reward.score(&sample(None), &rollout(None, StopReason::TokenBudget)), Some(0.0));
    }
}
