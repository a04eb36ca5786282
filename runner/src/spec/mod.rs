//! Spec language: parsing, composition, typing, validation and schema of experiment
//! specs.
//!
//! [`load`] reads a spec in these steps: parse YAML into a located [`Node`] tree
//! ([`parse`]), merge the files it `extends` ([`compose`]), apply `--set` overrides
//! ([`overrides`]), deserialize the typed [`Experiment`] ([`de`]) and check what types
//! cannot ([`validate`], and each stage kind's own checks). Every error carries the
//! file:line:column or override of the value it concerns, and all errors are returned
//! together.

mod check;
mod compose;
mod de;
mod diagnostic;
mod emit;
mod experiment;
mod explain;
mod location;
mod node;
mod overrides;
mod parse;
mod reports;
mod scalar;
mod schema;
mod stage_spec;
mod suggest;
mod validate;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use check::{at_least, dataset, in_range, model, open_unit_interval, plugin, positive};
pub use compose::{deep_merge, MAX_EXTENDS_DEPTH};
pub use de::{from_node, from_node_partial};
pub use diagnostic::{render_diagnostics, Diagnostic};
pub use emit::to_yaml;
pub use experiment::{
    DType, DatasetSpec, Device, Experiment, ExperimentInfo, ModelSpec, PluginKind, PluginLimits, PluginSection, PluginSpec, PluginsSpec,
};
pub use explain::Explanation;
pub use location::{Location, Source};
pub use node::{Entry, Node, NodeValue, ScalarStyle};
pub use overrides::apply_overrides;
pub use parse::{parse_file, parse_str, MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES};
pub use reports::{Reference, ReportTable};
pub use schema::schema;
pub use stage_spec::{StageSpec, COMMON_STAGE_KEYS};
pub use validate::{resolve_path, PathCheck};

use crate::stage::Registry;

/// A spec that parsed, composed, typed and validated.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    /// The typed spec. Paths of datasets, models and plugins are absolute.
    pub spec: Experiment,
    /// The composed tree after overrides, with the provenance of every value. Paths of
    /// datasets, models and plugins are absolute here too.
    pub root: Node,
    /// The files read: the given spec first, then the files it extends.
    pub files: Vec<PathBuf>,
}

impl LoadedSpec {
    /// Writes the composed document as YAML, keys in the order written. A run stores
    /// this text as `spec.resolved.yaml`.
    pub fn resolved_yaml(&self) -> String {
        emit::to_yaml(&self.root, false)
    }

    /// Writes the composed document with a comment on every value naming its
    /// file:line:column or override.
    pub fn resolved_yaml_with_provenance(&self) -> String {
        emit::to_yaml(&self.root, true)
    }

    /// Looks up the resolved value at a dotted `key` (stages addressed by name or
    /// index) and where it came from. Keys that no file or override wrote resolve to
    /// their default value.
    ///
    /// # Errors
    /// The key does not exist; the message suggests the nearest existing key.
    pub fn explain(&self, key: &str) -> Result<Explanation, Diagnostic> {
        explain::explain(&self.root, &self.spec, key)
    }
}

/// Loads a spec: parses `path` and the files it extends, applies `overrides`
/// (`KEY=VALUE` strings, in order), types the result and validates it, stage
/// parameters through the kinds in `registry`.
///
/// # Errors
/// Every problem found, sorted by file and position.
pub fn load(path: &Path, overrides: &[String], registry: &Registry) -> Result<LoadedSpec, Vec<Diagnostic>> {
    load_with(path, overrides, registry, PathCheck::Require)
}

/// [`load`], with the existence check of named files and folders chosen by `paths`.
///
/// # Errors
/// As [`load`].
pub fn load_with(path: &Path, overrides: &[String], registry: &Registry, paths: PathCheck) -> Result<LoadedSpec, Vec<Diagnostic>> {
    let sorted = |mut problems: Vec<Diagnostic>| {
        diagnostic::sort_diagnostics(&mut problems);
        problems
    };

    // Parse the file and the files it extends.
    let (mut root, files) = compose::load_composed(path)?;

    // Apply the overrides.
    let problems = overrides::apply_overrides(&mut root, overrides);
    if !problems.is_empty() {
        return Err(sorted(problems));
    }
    if root.entries().is_none() {
        return Err(vec![Diagnostic::at_node(&root, format!("expected a spec mapping, found {}", root.describe()))
            .with_help("a spec starts with `experiment:` and may have `data`, `models`, `plugins`, `stages`, `reports` and `reference`")]);
    }

    // Type the tree; stand-in values let the stage checks run even after type errors.
    let (typed, mut problems) = de::from_node_partial::<Experiment>(&root);
    let Some(mut spec) = typed else {
        return Err(sorted(problems));
    };

    // Check the stages, ranges, names and files. A value that failed to type was
    // replaced by a stand-in, so checks of that same value are dropped as noise.
    let mut checks = validate::validate_stages(&spec, &root, registry);
    checks.extend(validate::validate_sections(&mut spec, &root, paths));
    let typed_wrong: Vec<Location> = problems.iter().map(|problem| problem.location.clone()).collect();
    problems.extend(checks.into_iter().filter(|check| !typed_wrong.contains(&check.location)));
    if !problems.is_empty() {
        return Err(sorted(problems));
    }
    validate::write_resolved_paths(&spec, &mut root);
    tracing::debug!(spec = %path.display(), stages = spec.stages.len(), "loaded spec");
    Ok(LoadedSpec { spec, root, files })
}
