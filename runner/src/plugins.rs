//! Plugins named in a spec: their identities (for manifests and cache keys) and loading.
//!
//! Native plugins run inside this process with the host's privileges: a native library
//! can read every file and open every socket that `assay` can. WebAssembly tools run in a
//! sandbox with the limits of their spec entry.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use anyhow::Context;
use assay_plugin_host::{NativePlugin, NativeReward};
use assay_plugin_sdk::{Reward as _, RewardInput};
use assay_train::rollout::Rollout;
use assay_train::trajectory::Sample;
use assay_train::TextCodec;
use serde::{Deserialize, Serialize};

use crate::spec::{Experiment, PluginKind, PluginSection, PluginSpec};

/// Names of the built-in rewards and reward-shaping hooks, from the `grpo` stage's
/// registries, as (section, name).
pub fn builtin_plugins() -> Vec<(&'static str, &'static str)> {
    let rewards = crate::stages::grpo::reward_builders().into_keys().map(|name| ("rewards", name));
    let hooks = crate::stages::grpo::hook_builders().into_keys().map(|name| ("hooks", name));
    rewards.chain(hooks).collect()
}

/// Identity of one plugin as recorded in the manifest and hashed into cache keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginIdentity {
    pub section: String,
    pub name: String,
    /// `builtin`, `native` or `wasm`.
    pub kind: String,
    /// The plugin's own name and version as it reports them (built-ins: Assay's version).
    pub version: String,
    /// Lowercase hex SHA-256 of the plugin file; empty for built-ins.
    pub sha256: String,
}

impl PluginIdentity {
    /// Formats the identity for cache keys: `section/name@version sha256`.
    pub fn key(&self) -> String {
        format!("{}/{}@{} {}", self.section, self.name, self.version, self.sha256)
    }
}

/// Loads (for native and wasm plugins) and identifies the plugin `name` of `section`.
///
/// # Errors
/// The plugin is not declared in the spec, or its file fails to load.
pub fn identify(spec: &Experiment, section: PluginSection, name: &str) -> anyhow::Result<PluginIdentity> {
    let plugin = spec
        .plugins
        .get(section, name)
        .with_context(|| format!("plugin `{name}` is not declared under `plugins.{}`", section.key()))?;
    let (kind, version, sha256) = match plugin.kind {
        PluginKind::Builtin => ("builtin", env!("CARGO_PKG_VERSION").to_string(), String::new()),
        PluginKind::Native | PluginKind::Wasm => {
            let path = plugin.path.as_deref().context("native and wasm plugins need `path`")?;
            let info = assay_plugin_host::describe_file(path)
                .with_context(|| format!("failed to load plugin `{name}` from {}", path.display()))?;
            let expected = section_plugin_kind(section);
            anyhow::ensure!(
                info.kind == expected,
                "plugin `{name}` under `plugins.{}` is a `{}` plugin ({}), not a `{expected}` plugin; point `path` at a {expected} library",
                section.key(),
                info.kind,
                path.display()
            );
            let kind = if plugin.kind == PluginKind::Native { "native" } else { "wasm" };
            (kind, format!("{} {}", info.name, info.version), info.sha256)
        }
    };
    Ok(PluginIdentity {
        section: section.key().to_string(),
        name: name.to_string(),
        kind: kind.to_string(),
        version,
        sha256,
    })
}

/// Returns the plugin kind, as plugin files report it, that a section of `plugins:` contains.
fn section_plugin_kind(section: PluginSection) -> &'static str {
    match section {
        PluginSection::Tools => "tool",
        PluginSection::Rewards => "reward",
        PluginSection::Metrics => "metric",
        PluginSection::Datasets => "dataset",
    }
}

/// Converts the limits of a WebAssembly plugin entry into sandbox limits.
pub fn sandbox_limits(plugin: &PluginSpec) -> assay_plugin_host::SandboxLimits {
    assay_plugin_host::SandboxLimits {
        memory_bytes: plugin.limits.memory_mib * 1024 * 1024,
        fuel: plugin.limits.fuel,
        timeout: Duration::from_millis(plugin.limits.timeout_ms),
        read_only_dir: plugin.grant_dir.clone(),
        ..assay_plugin_host::SandboxLimits::default()
    }
}

/// Loads the WebAssembly tool `name` declared under `plugins.tools`.
///
/// # Errors
/// The tool is not declared, is not `kind: wasm`, or fails to load.
pub fn load_wasm_tool(spec: &Experiment, name: &str) -> anyhow::Result<assay_plugin_host::WasmTool> {
    let plugin = spec
        .plugins
        .get(PluginSection::Tools, name)
        .with_context(|| format!("tool `{name}` is not declared under `plugins.tools`"))?;
    anyhow::ensure!(plugin.kind == PluginKind::Wasm, "tool `{name}` must be `kind: wasm`; tools run only in the sandbox");
    let path = plugin.path.as_deref().context("wasm tools need `path`")?;
    assay_plugin_host::WasmTool::load(path, sandbox_limits(plugin))
        .with_context(|| format!("failed to load tool `{name}` from {}", path.display()))
}

/// The first error a reward plugin raised while scoring, shared by the rewards of one
/// stage. `assay_train::grpo::Reward::score` cannot return an error, so a failing reward
/// records it here and abstains, and the stage checks [`RewardErrors::check`] after each
/// training step.
#[derive(Debug, Clone, Default)]
pub struct RewardErrors(Rc<RefCell<Option<anyhow::Error>>>);

impl RewardErrors {
    /// Keeps `error` unless an earlier one is already recorded.
    pub fn record(&self, error: anyhow::Error) {
        let mut slot = self.0.borrow_mut();
        if slot.is_none() {
            tracing::error!(error = %format!("{error:#}"), "reward plugin failed");
            *slot = Some(error);
        }
    }

    /// Returns the recorded error, if any, and clears it.
    ///
    /// # Errors
    /// The error that a reward recorded since the last check.
    pub fn check(&self) -> anyhow::Result<()> {
        match self.0.borrow_mut().take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// A native reward plugin (`kind: native` under `plugins.rewards`) that scores GRPO
/// rollouts through the C ABI of `assay-plugin-sdk`.
///
/// Each rollout becomes one call with this [`RewardInput`]:
/// - `prompt`: the sample's prompt;
/// - `completion`: the rollout's completion decoded with the policy's codec (tool
///   calls and observations included, a final `<eos>` dropped), so it ends with
///   `<answer>...</answer>` when the policy answered;
/// - `reference`: the sample's `metadata` object with the reference `answer` added under
///   `answer` (a non-object `metadata` goes under `metadata`).
///
/// The plugin's `reward` is the score. Samples without a reference answer are not sent,
/// and the reward abstains on them, as the built-in rewards do.
pub struct NativeRolloutReward {
    /// Name of the `plugins.rewards` entry, used in metric keys (`reward/<name>/mean`).
    name: String,
    path: PathBuf,
    reward: NativeReward,
    codec: crate::stages::stage_policy::StageCodec,
    errors: RewardErrors,
}

/// Loads the native reward `name` from its `plugins.rewards` entry and creates an
/// instance with the entry's `config` (null becomes `{}`).
///
/// # Errors
/// The entry has no `path`, the library fails to load (missing file, not a library,
/// missing entry symbol, ABI mismatch), it is not a reward plugin, or it rejects `config`.
/// Each message names the entry and the library path.
pub fn load_native_reward(name: &str, plugin: &PluginSpec, codec: &crate::stages::stage_policy::StageCodec, errors: &RewardErrors) -> anyhow::Result<NativeRolloutReward> {
    let path = plugin
        .path
        .as_deref()
        .with_context(|| format!("reward `{name}` is `kind: native` but has no `path`; set it to the plugin's shared library"))?;
    let library = NativePlugin::load(path).with_context(|| format!("failed to load native reward `{name}` from {}", path.display()))?;
    let config = if plugin.config.is_null() { serde_json::json!({}) } else { plugin.config.clone() };
    let reward = NativeReward::new(&library, &config)
        .with_context(|| format!("failed to create native reward `{name}` from {} with its `config`", path.display()))?;
    tracing::info!(reward = name, plugin = library.name(), version = library.version(), path = %path.display(), "loaded native reward");
    Ok(NativeRolloutReward {
        name: name.to_string(),
        path: path.to_path_buf(),
        reward,
        codec: codec.clone(),
        errors: errors.clone(),
    })
}

impl NativeRolloutReward {
    /// Builds the plugin's input for one rollout, or `None` when the sample has no reference
    /// answer.
    fn reward_input(&self, sample: &Sample, rollout: &Rollout) -> Option<RewardInput> {
        let answer = sample.answer.as_deref()?;
        let mut generated = rollout.completion.as_slice();
        if let Some((&last, rest)) = generated.split_last() {
            if last == self.codec.turn_ends().eos {
                generated = rest;
            }
        }
        Some(RewardInput {
            prompt: sample.prompt.clone(),
            completion: self.codec.decode(generated),
            reference: reference_of(sample, answer),
        })
    }
}

/// Builds the reference sent to a native reward: `metadata`'s fields plus `answer`.
fn reference_of(sample: &Sample, answer: &str) -> serde_json::Value {
    let mut reference = match &sample.metadata {
        serde_json::Value::Object(fields) => fields.clone(),
        serde_json::Value::Null => serde_json::Map::new(),
        other => serde_json::Map::from_iter([("metadata".to_string(), other.clone())]),
    };
    reference.insert("answer".to_string(), serde_json::Value::String(answer.to_string()));
    serde_json::Value::Object(reference)
}

impl assay_train::grpo::Reward for NativeRolloutReward {
    fn name(&self) -> &str {
        &self.name
    }

    /// Returns the plugin's reward. A plugin error, panic or non-finite reward is
    /// recorded in the stage's [`RewardErrors`] and the reward abstains.
    fn score(&mut self, sample: &Sample, rollout: &Rollout) -> Option<f64> {
        let input = self.reward_input(sample, rollout)?;
        let failure = match self.reward.score(&input) {
            Ok(output) if output.reward.is_finite() => return Some(output.reward),
            Ok(output) => format!("returned the non-finite reward {}", output.reward),
            Err(error) => error.to_string(),
        };
        self.errors.record(anyhow::anyhow!(
            "native reward `{}` ({}) failed on sample `{}`: {failure}",
            self.name,
            self.path.display(),
            sample.id
        ));
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_plugins_match_registries() {
        let plugins = builtin_plugins();
        assert!(plugins.contains(&("rewards", "actfer_accuracy")));
        assert!(plugins.contains(&("hooks", "utility_calibration")));
        assert_eq!(plugins.len(), crate::stages::grpo::reward_builders().len() + crate::stages::grpo::hook_builders().len());
    }

    fn sample(metadata: serde_json::Value) -> Sample {
        Sample {
            id: "s".into(),
            prompt: "which emotion ?".into(),
            images: Vec::new(),
            target: Vec::new(),
            answer: Some("fear; AU1".into()),
            metadata,
        }
    }

    #[test]
    fn reference_merges_metadata_and_answer() {
        let object = sample(serde_json::json!({"emotion": "fear", "action_units": [1]}));
        assert_eq!(reference_of(&object, "fear; AU1"), serde_json::json!({"emotion": "fear", "action_units": [1], "answer": "fear; AU1"}));
        let null = sample(serde_json::Value::Null);
        assert_eq!(reference_of(&null, "fear; AU1"), serde_json::json!({"answer": "fear; AU1"}));
        let list = sample(serde_json::json!([1, 2]));
        assert_eq!(reference_of(&list, "fear; AU1"), serde_json::json!({"metadata": [1, 2], "answer": "fear; AU1"}));
    }

    #[test]
    fn reward_errors_keep_first_until_checked() {
        let errors = RewardErrors::default();
        assert!(errors.check().is_ok());
        errors.record(anyhow::anyhow!("first"));
        errors.clone().record(anyhow::anyhow!("second"));
        assert_eq!(errors.check().unwrap_err().to_string(), "first");
        assert!(errors.check().is_ok(), "a checked error is cleared");
    }

    #[test]
    fn section_kinds_match_plugin_kinds() {
        for (section, kind) in [
            (PluginSection::Tools, assay_plugin_sdk::PluginKind::Tool),
            (PluginSection::Rewards, assay_plugin_sdk::PluginKind::Reward),
            (PluginSection::Metrics, assay_plugin_sdk::PluginKind::Metric),
            (PluginSection::Datasets, assay_plugin_sdk::PluginKind::Dataset),
        ] {
            assert_eq!(section_plugin_kind(section), kind.as_str());
        }
    }
}
