//! The trait a native plugin implements; [`crate::export_plugin!`] turns it into the C ABI.

use serde::{Deserialize, Serialize};

use crate::{PluginError, TensorView};

/// Kind of service a plugin provides to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginKind {
    Reward,
    Metric,
    Dataset,
    Environment,
    InferenceModel,
    Tool,
}

impl PluginKind {
    /// Returns the name used in the ABI table and in specs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Reward => "reward",
            Self::Metric => "metric",
            Self::Dataset => "dataset",
            Self::Environment => "environment",
            Self::InferenceModel => "inference_model",
            Self::Tool => "tool",
        }
    }

    /// Parses a name produced by [`PluginKind::as_str`].
    ///
    /// # Errors
    /// Returns a message listing the valid names.
    pub fn parse(name: &str) -> Result<Self, String> {
        const ALL: [PluginKind; 6] = [
            PluginKind::Reward,
            PluginKind::Metric,
            PluginKind::Dataset,
            PluginKind::Environment,
            PluginKind::InferenceModel,
            PluginKind::Tool,
        ];
        ALL.into_iter().find(|k| k.as_str() == name).ok_or_else(|| {
            format!(
                "unknown plugin kind `{name}`; expected one of reward, metric, dataset, \
                 environment, inference_model, tool"
            )
        })
    }
}

/// The arguments of one native call: parsed JSON plus borrowed buffers.
#[derive(Debug)]
pub struct CallInput<'a> {
    pub json: serde_json::Value,
    pub bytes: Vec<TensorView<'a, u8>>,
    pub floats: Vec<TensorView<'a, f32>>,
}

/// A native plugin, written in Rust against owned types. [`crate::export_plugin!`]
/// generates the C entry points, JSON (de)serialisation and panic catching around it.
pub trait NativePlugin: Sized + Send + 'static {
    /// Kind of service the plugin provides.
    const KIND: PluginKind;
    /// Plugin name as specs refer to it.
    const NAME: &'static str;
    /// Plugin version, semantic versioning.
    const VERSION: &'static str;

    /// Returns a JSON object with at least `"schema"`: the JSON Schema of the
    /// configuration that [`NativePlugin::create`] accepts. It may add `"description"`.
    fn describe() -> serde_json::Value;

    /// Creates an instance from a configuration that should match the schema.
    ///
    /// # Errors
    /// Returns [`PluginError::InvalidInput`] naming the bad field.
    fn create(config: serde_json::Value) -> Result<Self, PluginError>;

    /// Runs one call and returns its JSON result.
    ///
    /// # Errors
    /// Returns a [`PluginError`] for bad input or a failed computation.
    fn call(&mut self, input: CallInput<'_>) -> Result<serde_json::Value, PluginError>;
}
