//! One description of any plugin file, for `assay plugins list/check` and run manifests.

use std::path::Path;

use serde::Serialize;

use crate::{NativePlugin, SandboxLimits, WasmTool};

/// Packaging of a plugin file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginFormat {
    /// A shared library with the native C ABI (trusted, runs with host privileges).
    Native,
    /// A WebAssembly component exporting `assay:tool/guest@1.0.0` (sandboxed).
    Wasm,
}

/// Identity and schema of a plugin file, as `assay plugins check` prints it and run
/// manifests record it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginInfo {
    pub format: PluginFormat,
    /// The plugin kind (`reward`, `metric`, ..., `tool`).
    pub kind: String,
    pub name: String,
    pub version: String,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
    /// JSON Schema of the configuration (native) or of the call arguments (tools).
    pub schema: serde_json::Value,
}

/// Loads the plugin at `path` (a `.wasm` file is a WebAssembly tool, anything else a
/// native library), validates it and returns its description.
///
/// # Errors
/// Returns the loader's error, or the plugin's `describe` error.
pub fn describe_file(path: &Path) -> anyhow::Result<PluginInfo> {
    let is_wasm = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("wasm"));
    if is_wasm {
        let tool = WasmTool::load(path, SandboxLimits::default())?;
        let description = tool.describe();
        return Ok(PluginInfo {
            format: PluginFormat::Wasm,
            kind: "tool".to_string(),
            name: description.name,
            version: description.version,
            sha256: tool.sha256().to_string(),
            schema: description.parameters_schema,
        });
    }
    let plugin = NativePlugin::load(path)?;
    let description = plugin.describe()?;
    Ok(PluginInfo {
        format: PluginFormat::Native,
        kind: plugin.kind().as_str().to_string(),
        name: plugin.name().to_string(),
        version: plugin.version().to_string(),
        sha256: plugin.sha256().to_string(),
        schema: description.get("schema").cloned().unwrap_or(serde_json::Value::Null),
    })
}
