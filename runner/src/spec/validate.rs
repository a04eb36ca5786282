//! Checks beyond types: stage names, inputs and kinds, plugin files and limits,
//! dataset and model paths, report tables. Every problem is collected.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::diagnostic::Diagnostic;
use super::experiment::{Experiment, PluginKind, PluginSection};
use super::location::Location;
use super::node::{Node, NodeValue};
use super::suggest;
use crate::stage::Registry;

/// Follows mapping keys from `root`.
fn node_at<'a>(root: &'a Node, keys: &[&str]) -> Option<&'a Node> {
    keys.iter().try_fold(root, |node, key| node.get(key))
}

/// Locates the value at `keys`, or its nearest written ancestor.
fn locate(root: &Node, keys: &[&str]) -> Location {
    let mut node = root;
    for key in keys {
        match node.get(key) {
            Some(child) => node = child,
            None => break,
        }
    }
    node.location.clone()
}

/// Checks the stages: unique names, `inputs` naming earlier stages, registered kinds,
/// and each kind's own parameter checks.
pub fn validate_stages(spec: &Experiment, root: &Node, registry: &Registry) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let stage_nodes: &[Node] = match root.get("stages").map(|node| &node.value) {
        Some(NodeValue::Sequence(items)) => items,
        _ => &[],
    };
    let mut first_use: HashMap<&str, Location> = HashMap::new();
    let all_names: Vec<&str> = spec.stages.iter().map(|stage| stage.name.as_str()).collect();

    for (index, stage) in spec.stages.iter().enumerate() {
        let stage_node = stage_nodes.get(index).unwrap_or(&stage.params);
        let name_location = stage_node.get("name").map_or(stage_node.location.clone(), |node| node.location.clone());

        // Check that the name is a safe folder name (it becomes `stages/<name>`) and unique.
        if !is_folder_name(&stage.name) {
            problems.push(
                Diagnostic::new(name_location.clone(), format!("invalid stage name `{}`", stage.name))
                    .with_help("use ASCII letters, digits, `-`, `_` and `.` only, because the name becomes a folder name"),
            );
        }
        if let Some(first) = first_use.get(stage.name.as_str()) {
            problems.push(
                Diagnostic::new(name_location.clone(), format!("duplicate stage name `{}`, first used at {first}", stage.name))
                    .with_help("give every stage a unique `name`"),
            );
        } else {
            first_use.insert(&stage.name, name_location);
        }

        // Check that every input is an earlier stage.
        let earlier = &all_names[..index];
        let input_nodes: &[Node] = match stage_node.get("inputs").map(|node| &node.value) {
            Some(NodeValue::Sequence(items)) => items,
            _ => &[],
        };
        for (input_index, input) in stage.inputs.iter().enumerate() {
            if earlier.contains(&input.as_str()) {
                continue;
            }
            let location = input_nodes.get(input_index).map_or(stage_node.location.clone(), |node| node.location.clone());
            let diagnostic = if all_names.contains(&input.as_str()) {
                Diagnostic::new(location, format!("input `{input}` of stage `{}` is not an earlier stage", stage.name))
                    .with_help(format!("move stage `{input}` before `{}`, because stages run in the order written", stage.name))
            } else {
                let (message, help) = suggest::unknown_name("stage", input, earlier);
                with_optional_help(Diagnostic::new(location, format!("{message} in `inputs` of stage `{}`", stage.name)), help)
            };
            problems.push(diagnostic);
        }

        // Check the kind, then let the kind check its parameters.
        let kind_location = stage_node.get("kind").map_or(stage_node.location.clone(), |node| node.location.clone());
        let Some(kind) = registry.get(&stage.kind) else {
            let kinds: Vec<&str> = registry.kinds().collect();
            let (message, help) = suggest::unknown_name("stage kind", &stage.kind, &kinds);
            let help = help.or_else(|| kinds.is_empty().then(|| "no stage kinds are registered in this build".to_string()));
            problems.push(with_optional_help(Diagnostic::new(kind_location, message), help));
            continue;
        };
        if let Err(found) = kind.check(&stage.params, spec) {
            problems.extend(found.into_iter().map(|diagnostic| place(diagnostic, &stage.params)));
        }
    }
    problems
}

/// Gives a diagnostic that a stage kind made without a node the location of its `key`
/// inside the stage's parameters, or of the stage entry.
fn place(mut diagnostic: Diagnostic, params: &Node) -> Diagnostic {
    if diagnostic.location == Location::Generated {
        let node = diagnostic.key.as_deref().and_then(|key| params.at_path(key)).unwrap_or(params);
        diagnostic.location = node.location.clone();
    }
    diagnostic
}

fn with_optional_help(diagnostic: Diagnostic, help: Option<String>) -> Diagnostic {
    match help {
        Some(help) => diagnostic.with_help(help),
        None => diagnostic,
    }
}

/// Whether validation requires the files and folders that a spec names to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathCheck {
    /// A missing data, model or plugin path is an error (what `assay run` needs).
    #[default]
    Require,
    /// Paths are resolved but not looked up, so a recipe for another machine (its
    /// datasets, checkpoints and plugin builds absent here) can still be checked.
    Skip,
}

/// Checks the sections other than stages and makes relative paths absolute, each
/// against the folder of the file that wrote it (the current folder for overrides).
pub fn validate_sections(spec: &mut Experiment, root: &Node, paths: PathCheck) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    check_experiment_name(spec, root, &mut problems);
    let mut path_problems = Vec::new();
    check_plugins(spec, root, &mut problems, &mut path_problems);
    for (name, dataset) in &mut spec.data {
        if let Some(path) = &mut dataset.path {
            check_exists(path, root, &["data", name, "path"], PathKind::Any, &mut path_problems);
        }
    }
    for (name, model) in &mut spec.models {
        if let Some(path) = &mut model.path {
            check_exists(path, root, &["models", name, "path"], PathKind::Any, &mut path_problems);
        }
    }
    if paths == PathCheck::Require {
        problems.extend(path_problems);
    }
    check_reports(spec, root, &mut problems);
    problems
}

/// Returns whether `name` is usable as one folder name on every platform: ASCII letters, digits,
/// `-`, `_` and `.`, not empty, not `.` or `..`.
fn is_folder_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) && name != "." && name != ".."
}

fn check_experiment_name(spec: &Experiment, root: &Node, problems: &mut Vec<Diagnostic>) {
    let name = &spec.experiment.name;
    if !is_folder_name(name) {
        problems.push(
            Diagnostic::new(locate(root, &["experiment", "name"]), format!("invalid experiment name `{name}`"))
                .with_help("use ASCII letters, digits, `-`, `_` and `.` only, because the name becomes a folder name"),
        );
    }
}

/// `path_problems` receives the missing-file problems, which [`PathCheck::Skip`] drops.
fn check_plugins(spec: &mut Experiment, root: &Node, problems: &mut Vec<Diagnostic>, path_problems: &mut Vec<Diagnostic>) {
    for section in [PluginSection::Tools, PluginSection::Rewards, PluginSection::Metrics, PluginSection::Datasets] {
        let plugins = match section {
            PluginSection::Tools => &mut spec.plugins.tools,
            PluginSection::Rewards => &mut spec.plugins.rewards,
            PluginSection::Metrics => &mut spec.plugins.metrics,
            PluginSection::Datasets => &mut spec.plugins.datasets,
        };
        for (name, plugin) in plugins.iter_mut() {
            let keys = ["plugins", section.key(), name.as_str()];
            let with = |last: &'static str| [keys[0], keys[1], keys[2], last];
            match (plugin.kind, &mut plugin.path) {
                (PluginKind::Native | PluginKind::Wasm, None) => problems.push(
                    Diagnostic::new(locate(root, &keys), format!("plugin `{name}` of kind `{}` has no `path`", kind_name(plugin.kind)))
                        .with_help("add `path:` with the plugin file, relative to this spec file"),
                ),
                (PluginKind::Native | PluginKind::Wasm, Some(path)) => {
                    check_exists(path, root, &with("path"), PathKind::File, path_problems)
                }
                (PluginKind::Builtin, Some(_)) => problems.push(
                    Diagnostic::new(locate(root, &with("path")), format!("builtin plugin `{name}` takes no `path`"))
                        .with_help("remove `path`, or set `kind: native` or `kind: wasm`"),
                ),
                (PluginKind::Builtin, None) => {}
            }
            if plugin.builtin.is_some() && plugin.kind != PluginKind::Builtin {
                problems.push(
                    Diagnostic::new(locate(root, &with("builtin")), format!("`builtin` is set but plugin `{name}` has kind `{}`", kind_name(plugin.kind)))
                        .with_help("remove `builtin`, or set `kind: builtin`"),
                );
            }
            if let Some(dir) = &mut plugin.grant_dir {
                check_exists(dir, root, &with("grant_dir"), PathKind::Dir, path_problems);
            }
            let limits = &plugin.limits;
            let limit_at = |field: &'static str| locate(root, &[keys[0], keys[1], keys[2], "limits", field]);
            if !(1..=65536).contains(&limits.memory_mib) {
                problems.push(Diagnostic::new(limit_at("memory_mib"), format!("`memory_mib` must be between 1 and 65536, found {}", limits.memory_mib)));
            }
            if limits.fuel == 0 {
                problems.push(Diagnostic::new(limit_at("fuel"), "`fuel` must be at least 1, found 0"));
            }
            if limits.timeout_ms == 0 {
                problems.push(Diagnostic::new(limit_at("timeout_ms"), "`timeout_ms` must be at least 1, found 0"));
            }
        }
    }
}

fn kind_name(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Builtin => "builtin",
        PluginKind::Native => "native",
        PluginKind::Wasm => "wasm",
    }
}

#[derive(Clone, Copy, PartialEq)]
enum PathKind {
    File,
    Dir,
    Any,
}

/// Resolves `path` against the folder of the file that wrote it and checks that it
/// exists (as a file or folder when `kind` requires it).
fn check_exists(path: &mut PathBuf, root: &Node, keys: &[&str], kind: PathKind, problems: &mut Vec<Diagnostic>) {
    let node = node_at(root, keys);
    let location = node.map_or(Location::Generated, |node| node.location.clone());
    let joined = match location.base_dir() {
        Some(base) if path.is_relative() => base.join(&*path),
        _ => path.clone(),
    };
    *path = resolve_path(path, &location);
    let (ok, expected) = match kind {
        PathKind::File => (path.is_file(), "file"),
        PathKind::Dir => (path.is_dir(), "folder"),
        PathKind::Any => (path.exists(), "file or folder"),
    };
    if !ok {
        problems.push(
            Diagnostic::new(location, format!("{expected} `{}` not found", joined.display()))
                .with_help("relative paths are resolved against the folder of the spec file that wrote them"),
        );
    }
}

/// `path` made absolute against the folder of the file at `location`; paths from
/// overrides are resolved against the current folder.
pub fn resolve_path(path: &Path, location: &Location) -> PathBuf {
    let joined = match location.base_dir() {
        Some(base) if path.is_relative() => base.join(path),
        _ => path.to_path_buf(),
    };
    std::path::absolute(&joined).unwrap_or(joined)
}

fn check_reports(spec: &Experiment, root: &Node, problems: &mut Vec<Diagnostic>) {
    let report_nodes: &[Node] = match root.get("reports").map(|node| &node.value) {
        Some(NodeValue::Sequence(items)) => items,
        _ => &[],
    };
    let mut seen: HashMap<&str, Location> = HashMap::new();
    for (index, table) in spec.reports.iter().enumerate() {
        let node = report_nodes.get(index);
        let at = |key: &str| node.and_then(|node| node.get(key)).or(node).map_or(Location::Generated, |node| node.location.clone());
        if let Some(first) = seen.get(table.name.as_str()) {
            problems.push(Diagnostic::new(at("name"), format!("duplicate report name `{}`, first used at {first}", table.name)));
        } else {
            seen.insert(&table.name, at("name"));
        }
        if let Err(message) = table.validate() {
            // Point at the field the renderer's message names, or at the table's name.
            const FIELDS: [&str; 8] = ["tolerance", "metrics", "rows", "columns", "aggregate", "filter", "bold_best", "reference"];
            let field = FIELDS.iter().find(|field| message.contains(&format!("`{field}`"))).copied().unwrap_or("name");
            problems.push(Diagnostic::new(at(field), message));
        }
    }
    if spec.reports.is_empty() {
        return;
    }
    let names: Vec<&str> = spec.reports.iter().map(|table| table.name.as_str()).collect();
    if let Some(reference) = root.get("reference").and_then(Node::entries) {
        for entry in reference {
            if !names.contains(&entry.key.as_str()) {
                let (message, help) = suggest::unknown_name("report table", &entry.key, &names);
                problems.push(with_optional_help(Diagnostic::new(entry.key_location.clone(), format!("{message} in `reference`")), help));
            }
        }
    }
}

/// Writes the absolute paths of `spec` back into the tree, so that the resolved YAML
/// of a run stays valid when read from another folder. Each value keeps its location.
pub fn write_resolved_paths(spec: &Experiment, root: &mut Node) {
    for (name, dataset) in &spec.data {
        set_path_text(root, &["data", name, "path"], dataset.path.as_deref());
    }
    for (name, model) in &spec.models {
        set_path_text(root, &["models", name, "path"], model.path.as_deref());
    }
    for section in [PluginSection::Tools, PluginSection::Rewards, PluginSection::Metrics, PluginSection::Datasets] {
        for (name, plugin) in spec.plugins.section(section) {
            set_path_text(root, &["plugins", section.key(), name, "path"], plugin.path.as_deref());
            set_path_text(root, &["plugins", section.key(), name, "grant_dir"], plugin.grant_dir.as_deref());
        }
    }
}

fn set_path_text(root: &mut Node, keys: &[&str], path: Option<&Path>) {
    let Some(path) = path else { return };
    let Some(node) = keys.iter().try_fold(root, |node, key| node.get_mut(key)) else { return };
    if let NodeValue::Scalar { text, style } = &mut node.value {
        *text = path.display().to_string();
        *style = super::node::ScalarStyle::Quoted;
    }
}
