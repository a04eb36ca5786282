//! Plugin traits through which the engine calls plugins. Built-in plugins implement them directly; the
//! host adapts native libraries and WebAssembly tools to them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Image, PluginError, ToolCallError};

/// One completion to score, with the reference it is scored against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardInput {
    /// The prompt the policy answered.
    pub prompt: String,
    /// The policy's full completion text.
    pub completion: String,
    /// Ground truth for this example; its fields depend on the reward.
    pub reference: serde_json::Value,
}

/// A scalar reward and its named parts, which reports show per component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardOutput {
    pub reward: f64,
    #[serde(default)]
    pub components: BTreeMap<String, f64>,
}

/// Scores completions during RL (e.g. the GRPO stage).
pub trait Reward: Send + Sync {
    /// Name as specs refer to it.
    fn name(&self) -> &str;

    /// Scores one completion.
    ///
    /// # Errors
    /// Returns a [`PluginError`] when the reference is malformed or the plugin fails;
    /// a badly formatted completion is a low reward, not an error.
    fn score(&self, input: &RewardInput) -> Result<RewardOutput, PluginError>;
}

/// Accumulates predictions and references, then reports named values.
pub trait Metric: Send {
    fn name(&self) -> &str;

    /// Adds one prediction and its reference.
    ///
    /// # Errors
    /// Returns [`PluginError::InvalidInput`] when either value has the wrong shape.
    fn update(
        &mut self,
        prediction: &serde_json::Value,
        reference: &serde_json::Value,
    ) -> Result<(), PluginError>;

    /// Returns the metric values over everything added so far.
    ///
    /// # Errors
    /// Returns a [`PluginError`] when nothing was added or the values are undefined.
    fn compute(&self) -> Result<BTreeMap<String, f64>, PluginError>;
}

/// One dataset example: a prompt, optional images and the reference answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub id: String,
    pub prompt: String,
    #[serde(default)]
    pub images: Vec<Image>,
    pub reference: serde_json::Value,
}

/// A finite, indexable set of examples.
pub trait Dataset: Send + Sync {
    fn name(&self) -> &str;

    /// Number of examples.
    fn len(&self) -> usize;

    /// Returns whether the dataset has no examples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns example `index`, in `0..len()`.
    ///
    /// # Errors
    /// Returns [`PluginError::InvalidInput`] for an index out of range.
    fn get(&self, index: usize) -> Result<Example, PluginError>;
}

/// What a tool or environment returns to the policy: text plus zero or more images.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Observation {
    pub text: String,
    #[serde(default)]
    pub images: Vec<Image>,
}

/// The result of one environment step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepOutcome {
    pub observation: Observation,
    /// Reward for this step; 0 when the environment scores only at the end.
    pub reward: f64,
    /// Whether the episode has ended.
    pub done: bool,
}

/// A multi-turn environment that a rollout steps through.
pub trait Environment: Send {
    fn name(&self) -> &str;

    /// Starts an episode on `example` and returns the first observation.
    ///
    /// # Errors
    /// Returns a [`PluginError`] when the example does not fit the environment.
    fn reset(&mut self, example: &Example, seed: u64) -> Result<Observation, PluginError>;

    /// Applies the policy's action text.
    ///
    /// # Errors
    /// Returns a [`PluginError`] when the environment itself fails; an invalid action
    /// is an observation that reports it, not an error.
    fn step(&mut self, action: &str) -> Result<StepOutcome, PluginError>;
}

/// A frozen model used for inference only (a judge, a detector, a reference policy).
pub trait InferenceModel: Send + Sync {
    fn name(&self) -> &str;

    /// Runs the model on a prompt and images and returns its JSON output.
    ///
    /// # Errors
    /// Returns a [`PluginError`] when the inputs do not fit the model.
    fn infer(&self, prompt: &str, images: &[Image]) -> Result<serde_json::Value, PluginError>;
}

/// Name, version and argument schema of a tool, shown to the policy and in reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDescription {
    pub name: String,
    pub version: String,
    /// JSON Schema of the `args` object that [`Tool::invoke`] accepts.
    pub parameters_schema: serde_json::Value,
}

/// A tool the policy calls during a rollout.
pub trait Tool: Send + Sync {
    fn describe(&self) -> ToolDescription;

    /// Calls the tool with JSON arguments and an optional input image.
    ///
    /// # Errors
    /// Returns a [`ToolCallError`]; the engine decides what a failed call means.
    fn invoke(
        &self,
        args: &serde_json::Value,
        image: Option<&Image>,
    ) -> Result<Observation, ToolCallError>;
}
