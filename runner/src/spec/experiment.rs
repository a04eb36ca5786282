//! The typed spec: what an experiment file may contain, section by section.
//!
//! The doc comments on these types are the spec reference: `assay schema` turns them
//! into the JSON Schema descriptions that editors show.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::diagnostic::Diagnostic;
use super::node::Node;
use super::reports::{Reference, ReportTable};
use super::stage_spec::StageSpec;

/// An experiment spec: the root of an `experiments/<paper>/<name>.yaml` file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Path of a base spec that this file extends, relative to this file. Mappings are
    /// merged key by key (this file wins), lists are replaced. The loader applies it
    /// before typing, so a loaded spec never has it set. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<PathBuf>,
    /// Identity and run settings.
    pub experiment: ExperimentInfo,
    /// Named datasets that stages read. Default: none.
    #[serde(default)]
    pub data: BTreeMap<String, DatasetSpec>,
    /// Named models that stages train or evaluate. Default: none.
    #[serde(default)]
    pub models: BTreeMap<String, ModelSpec>,
    /// Tools, rewards, metrics and dataset readers that stages refer to by name.
    #[serde(default)]
    pub plugins: PluginsSpec,
    /// Stages, run in the order written. Each has a unique `name`, a `kind`, the names
    /// of earlier stages whose outputs it reads (`inputs`), and the parameters of its
    /// kind. Default: none.
    #[serde(default)]
    pub stages: Vec<StageSpec>,
    /// Tables to build from the stages' metrics. Default: none.
    #[serde(default)]
    pub reports: Vec<ReportTable>,
    /// Published numbers printed beside ours: table name -> row -> column -> value.
    /// Default: none.
    #[serde(default)]
    pub reference: Reference,
}

/// Identity and run settings of an experiment.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentInfo {
    /// Experiment name; names the run folder `<output_root>/<name>/`. Letters, digits,
    /// `-`, `_` and `.` only.
    pub name: String,
    /// Short name or citation of the publication this experiment reproduces, e.g.
    /// `DeepEyes (2025)`. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paper: Option<String>,
    /// Seed from which every stage's random seed is derived. Any u64. Default: 0.
    #[serde(default)]
    pub seed: u64,
    /// Device that runs the tensors: `cpu` or `cuda:N` (N is the GPU index).
    /// Default: `cpu`.
    #[serde(default)]
    pub device: Device,
    /// Folder under which run folders are created, relative to the current folder
    /// when `assay` runs. Default: `runs`.
    #[serde(default = "default_output_root")]
    pub output_root: PathBuf,
}

fn default_output_root() -> PathBuf {
    PathBuf::from("runs")
}

/// A compute device: `cpu` or `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    #[default]
    Cpu,
    /// A CUDA GPU by index.
    Cuda(u32),
}

impl Device {
    /// Parses `cpu` or `cuda:N`.
    ///
    /// # Errors
    /// Any other text, with the accepted forms in the message.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text == "cpu" {
            return Ok(Device::Cpu);
        }
        if let Some(index) = text.strip_prefix("cuda:") {
            if let Ok(index) = index.parse::<u32>() {
                return Ok(Device::Cuda(index));
            }
        }
        Err(format!("invalid device `{text}`, expected `cpu` or `cuda:N` with N a GPU index such as `cuda:0`"))
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(index) => write!(f, "cuda:{index}"),
        }
    }
}

impl Serialize for Device {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Device {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Read the node rather than a string, so an invalid device is reported at its
        // location and the remaining fields are still checked.
        let node = Node::deserialize(deserializer)?;
        let parsed = match node.as_scalar() {
            Some(text) => Device::parse(text),
            None => Err(format!("invalid device {}, expected `cpu` or `cuda:N`", node.describe())),
        };
        match parsed {
            Ok(device) => Ok(device),
            Err(message) => {
                if super::de::report(Diagnostic::at_node(&node, message.clone())) {
                    Ok(Device::Cpu)
                } else {
                    Err(serde::de::Error::custom(message))
                }
            }
        }
    }
}

impl JsonSchema for Device {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Device".into()
    }

    fn json_schema(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(cpu|cuda:[0-9]+)$",
            "description": "`cpu` or `cuda:N` with N the GPU index."
        })
    }
}

/// A dataset that stages read.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// Dataset reader: a built-in reader name or the name of a plugin under
    /// `plugins.datasets`.
    pub kind: String,
    /// File or folder with the data, relative to the spec file that wrote it; the
    /// loader makes it absolute and checks that it exists. Default: none (readers that
    /// generate data need no path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Reader-specific parameters, checked by the reader. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Node>,
}

/// A model that stages train or evaluate.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Model architecture, e.g. `tiny_vlm` or `qwen3_vl`.
    pub kind: String,
    /// Folder or file with the weights, relative to the spec file that wrote it; the
    /// loader makes it absolute and checks that it exists. Default: none (fresh weights
    /// from the seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Numeric type of the weights. Default: `f32`.
    #[serde(default)]
    pub dtype: DType,
    /// Architecture-specific parameters (sizes, layer counts), checked by the model
    /// builder. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Node>,
}

/// Numeric type of model weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// 32-bit float.
    #[default]
    F32,
    /// bfloat16.
    Bf16,
    /// IEEE half precision.
    F16,
}

/// Plugins by section and name. Stages refer to them by name, e.g. `reward: actfer`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginsSpec {
    /// Tools that a model may call during multi-turn rollouts. Default: none.
    #[serde(default)]
    pub tools: BTreeMap<String, PluginSpec>,
    /// Reward functions for reinforcement learning. Default: none.
    #[serde(default)]
    pub rewards: BTreeMap<String, PluginSpec>,
    /// Evaluation metrics. Default: none.
    #[serde(default)]
    pub metrics: BTreeMap<String, PluginSpec>,
    /// Dataset readers. Default: none.
    #[serde(default)]
    pub datasets: BTreeMap<String, PluginSpec>,
}

/// A plugin section, for [`PluginsSpec::get`] and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PluginSection {
    Tools,
    Rewards,
    Metrics,
    Datasets,
}

impl PluginSection {
    /// Returns the section's key under `plugins:`.
    pub fn key(self) -> &'static str {
        match self {
            PluginSection::Tools => "tools",
            PluginSection::Rewards => "rewards",
            PluginSection::Metrics => "metrics",
            PluginSection::Datasets => "datasets",
        }
    }
}

impl PluginsSpec {
    /// Returns the plugins of one section.
    pub fn section(&self, section: PluginSection) -> &BTreeMap<String, PluginSpec> {
        match section {
            PluginSection::Tools => &self.tools,
            PluginSection::Rewards => &self.rewards,
            PluginSection::Metrics => &self.metrics,
            PluginSection::Datasets => &self.datasets,
        }
    }

    /// Looks up the plugin `name` of `section`.
    pub fn get(&self, section: PluginSection, name: &str) -> Option<&PluginSpec> {
        self.section(section).get(name)
    }
}

/// One plugin: where its code comes from and the sandbox limits it runs under.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginSpec {
    /// How the plugin is loaded: `builtin` (compiled into Assay), `native` (a shared
    /// library) or `wasm` (a WebAssembly component, sandboxed).
    pub kind: PluginKind,
    /// Shared library (`native`) or component file (`wasm`), relative to the spec file
    /// that wrote it. Required for `native` and `wasm`, must exist, and is not allowed
    /// for `builtin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Name of the built-in implementation (`builtin` only). Default: the plugin's own
    /// name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<String>,
    /// Resource limits of one call (`wasm` only; native plugins are not sandboxed).
    #[serde(default)]
    pub limits: PluginLimits,
    /// Folder the plugin may read (mounted read-only), relative to the spec file that
    /// wrote it; must exist. Default: none, so the plugin can read no files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_dir: Option<PathBuf>,
    /// Plugin-specific configuration, passed to the plugin as JSON. Default: null.
    #[serde(default)]
    pub config: serde_json::Value,
}

/// How a plugin's code is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// Compiled into Assay.
    Builtin,
    /// A shared library loaded into the process, not sandboxed.
    Native,
    /// A WebAssembly component run in a sandbox with [`PluginLimits`].
    Wasm,
}

/// Per-call resource limits of a sandboxed plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginLimits {
    /// Maximum linear memory, in MiB. Range 1 to 65536. Default: 256.
    #[serde(default = "default_memory_mib")]
    pub memory_mib: u64,
    /// Maximum fuel (roughly, WebAssembly instructions) per call. At least 1.
    /// Default: 1e9.
    #[serde(default = "default_fuel")]
    pub fuel: u64,
    /// Maximum wall-clock time per call, in milliseconds. At least 1. Default: 5000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_memory_mib() -> u64 {
    256
}

fn default_fuel() -> u64 {
    1_000_000_000
}

fn default_timeout_ms() -> u64 {
    5000
}

impl Default for PluginLimits {
    fn default() -> Self {
        Self { memory_mib: default_memory_mib(), fuel: default_fuel(), timeout_ms: default_timeout_ms() }
    }
}
