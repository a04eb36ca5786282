//! Errors of loading a WebAssembly tool.

use std::path::PathBuf;

use assay_plugin_sdk::ToolCallError;

/// Failure to load a WebAssembly tool.
#[derive(Debug, thiserror::Error)]
pub enum WasmLoadError {
    #[error("WebAssembly tool `{path}` not found; build the guests with `cargo build --release --target wasm32-wasip2 --manifest-path plugins/tools/Cargo.toml`")]
    NotFound { path: PathBuf },
    #[error("invalid sandbox limits: {0}")]
    InvalidLimits(String),
    #[error("`{path}` is not a WebAssembly component (build guests for `wasm32-wasip2`, not `wasm32-wasip1`): {reason}")]
    NotAComponent { path: PathBuf, reason: String },
    #[error("`{path}` exports `{found}` but this host supports `{expected}`; rebuild the tool against `plugins/wit/tool.wit`")]
    WrongInterfaceVersion {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("`{path}` does not export `{expected}`; its exports are: {exports}")]
    MissingInterface {
        path: PathBuf,
        expected: String,
        exports: String,
    },
    #[error("failed to prepare `{path}` for instantiation: {reason}")]
    Link { path: PathBuf, reason: String },
    #[error("failed to set up the WebAssembly engine: {0}")]
    Engine(String),
    #[error("`describe` of `{path}` failed: {source}")]
    Describe {
        path: PathBuf,
        source: ToolCallError,
    },
}
