//! Loads Assay plugins at run time: native libraries and sandboxed WebAssembly tools.
//!
//! - [`NativePlugin`] loads a shared library that exports the versioned C ABI of
//!   `assay-plugin-sdk`. Native plugins are trusted: they run inside the engine's process
//!   with the host's privileges (every file, socket and byte of memory the engine can
//!   reach). Load only libraries you would run as part of the engine itself. Libraries
//!   are never unloaded, so function pointers and static data stay valid for the
//!   process's lifetime.
//! - [`WasmTool`] runs a WebAssembly component that exports `assay:tool/guest@1.0.0`
//!   (`plugins/wit/tool.wit`) in a sandbox: a fresh store per call, no files, network or
//!   environment unless a read-only folder is granted, a memory cap, a fuel budget and a
//!   wall-clock deadline. Every failure becomes a [`ToolCallError`]; the host keeps going.
//! - [`describe_file`] inspects either kind and returns a [`PluginInfo`] (kind, name,
//!   version, SHA-256, schema) for `assay plugins list/check` and for run manifests.

mod describe;
pub mod guest_build;
mod hash;
pub mod native;
pub mod wasm;

pub use assay_plugin_sdk::{Image, Observation, ToolCallError, ToolDescription};
pub use describe::{describe_file, PluginFormat, PluginInfo};
pub use hash::sha256_file;
pub use native::{Buffer, NativeError, NativeInstance, NativePlugin, NativeReward};
pub use wasm::{SandboxLimits, WasmLoadError, WasmTool};
