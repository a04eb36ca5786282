//! Sandboxed WebAssembly tools: components exporting `assay:tool/guest@1.0.0`, run by
//! wasmtime with one fresh store per call.

mod bindings;
mod clock;
mod error;
mod limits;
mod tool;

pub use error::WasmLoadError;
pub use limits::SandboxLimits;
pub use tool::{WasmTool, INTERFACE_NAME};
