//! Stage kinds and the registry that maps a spec's `kind:` to its implementation.
//!
//! A stage kind is one file under `stages/` that implements [`StageRunner`]: typed
//! parameters (deserialized from the spec with locations, and turned into JSON Schema)
//! and a `run` function. Tests register their own kinds through [`Registry::register`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::spec::{Diagnostic, Experiment, Node, PluginSection};

/// Everything a running stage may read or write.
pub struct StageContext<'a> {
    /// The stage's unique name in the spec.
    pub name: &'a str,
    /// Root of the run folder.
    pub run_dir: &'a Path,
    /// Working folder of this stage. It survives a crash (checkpoints go here) and is
    /// renamed to `stages/<name>/` only when `run` returns `Ok`.
    pub work_dir: PathBuf,
    /// Finished output folders of the stages named in `inputs`, by stage name.
    pub inputs: BTreeMap<String, PathBuf>,
    /// RNG seed of this stage, derived from the experiment seed and the stage name.
    pub seed: u64,
    /// The whole resolved spec, for stages that read `data`, `models` or `plugins`.
    pub spec: &'a Experiment,
    /// True when this stage was started before and its work folder may hold a checkpoint.
    pub resuming: bool,
    /// Step-level scalars; they end up in the run's `metrics.parquet`.
    pub scalars: crate::run::ScalarLog,
    /// Folder of the spec file the run started from; relative paths in stage
    /// parameters are resolved against it.
    pub spec_dir: PathBuf,
}

impl StageContext<'_> {
    /// Resolves a path from the stage's parameters against the spec file's folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.spec_dir.join(path)
        }
    }
}

/// A stage kind with typed parameters: implement this once per file under `stages/`.
pub trait StageRunner: Send + Sync + 'static {
    /// Kind-specific parameters: every key of the stage entry except `name`, `kind`
    /// and `inputs`. Use `#[serde(deny_unknown_fields)]`.
    type Params: DeserializeOwned + Serialize + JsonSchema + Send + Sync;

    /// The value of `kind:` that selects this stage kind.
    const KIND: &'static str;

    /// One line shown in `assay --help` and in the schema.
    const DESCRIPTION: &'static str;

    /// Checks that go beyond types (ranges, cross-field rules). The default accepts all.
    fn validate(_params: &Self::Params, _spec: &Experiment) -> Vec<Diagnostic> {
        Vec::new()
    }

    /// Plugins the stage uses, as (section, name). Their names, versions and file hashes
    /// enter the stage's cache key and the run manifest. The default uses none.
    fn plugins(_params: &Self::Params) -> Vec<(PluginSection, String)> {
        Vec::new()
    }

    /// Runs the stage. Outputs go under `ctx.work_dir`.
    fn run(params: &Self::Params, ctx: &mut StageContext) -> anyhow::Result<()>;
}

/// Parameters that passed a stage kind's checks.
#[derive(Debug, Clone)]
pub struct CheckedParams {
    /// Canonical JSON of the typed parameters, defaults filled in; enters the cache key.
    pub params: serde_json::Value,
    /// Plugins the stage uses, as (section, name).
    pub plugins: Vec<(PluginSection, String)>,
}

/// Object-safe view of a [`StageRunner`], so kinds of different types share one registry.
pub trait StageKind: Send + Sync {
    fn kind(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn params_schema(&self, generator: &mut schemars::SchemaGenerator) -> schemars::Schema;

    /// Deserializes and validates the parameters; returns them as canonical JSON, which
    /// is what enters the stage's cache key.
    fn check(&self, params: &Node, spec: &Experiment) -> Result<CheckedParams, Vec<Diagnostic>>;

    /// Deserializes the parameters again and runs the stage.
    fn run(&self, params: &Node, ctx: &mut StageContext) -> anyhow::Result<()>;
}

struct Typed<S: StageRunner>(std::marker::PhantomData<S>);

impl<S: StageRunner> StageKind for Typed<S> {
    fn kind(&self) -> &'static str {
        S::KIND
    }

    fn description(&self) -> &'static str {
        S::DESCRIPTION
    }

    fn params_schema(&self, generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        generator.subschema_for::<S::Params>()
    }

    fn check(&self, params: &Node, spec: &Experiment) -> Result<CheckedParams, Vec<Diagnostic>> {
        let typed: S::Params = crate::spec::from_node(params)?;
        let problems = S::validate(&typed, spec);
        if !problems.is_empty() {
            return Err(problems);
        }
        let json = serde_json::to_value(&typed).map_err(|error| {
            vec![Diagnostic::at_node(params, format!("parameters of `{}` cannot be serialized: {error}", S::KIND))]
        })?;
        Ok(CheckedParams { params: json, plugins: S::plugins(&typed) })
    }

    fn run(&self, params: &Node, ctx: &mut StageContext) -> anyhow::Result<()> {
        let typed: S::Params = crate::spec::from_node(params)
            .map_err(|diagnostics| anyhow::anyhow!(crate::spec::render_diagnostics(&diagnostics)))?;
        S::run(&typed, ctx)
    }
}

/// Stage kinds by name.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<&'static str, Arc<dyn StageKind>>,
}

impl Registry {
    /// Creates an empty registry. [`Registry::builtin`] has the kinds that ship with Assay.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates a registry of the stage kinds that ship with Assay.
    pub fn builtin() -> Self {
        let mut registry = Self::new();
        crate::stages::register_builtin(&mut registry);
        registry
    }

    /// Adds a kind; a later registration under the same name replaces the earlier one.
    pub fn register<S: StageRunner>(&mut self) -> &mut Self {
        self.kinds.insert(S::KIND, Arc::new(Typed::<S>(std::marker::PhantomData)));
        self
    }

    pub fn get(&self, kind: &str) -> Option<&Arc<dyn StageKind>> {
        self.kinds.get(kind)
    }

    /// Kind names in alphabetical order, for suggestions and help text.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.kinds.keys().copied()
    }
}
