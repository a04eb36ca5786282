//! Plugins named in a spec: their identities (for manifests and cache keys) and loading.
//!
//! Native plugins run inside this process with the host's privileges: a native library
//! can read every file and open every socket that `assay` can. WebAssembly tools run in a
//! sandbox with the limits of their spec entry.

use std::time::Duration;

use anyhow::Context;
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
}
