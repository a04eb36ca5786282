//! Plugin traits and the versioned C ABI for Assay plugins.
//!
//! Two audiences use this crate:
//!
//! - The engine calls every plugin, built-in or loaded, through the traits in [`traits`]
//!   ([`Reward`], [`Metric`], [`Dataset`], [`Environment`], [`InferenceModel`], [`Tool`]),
//!   which take and return simple owned data ([`Image`], [`Observation`], JSON values).
//! - Authors of native plugins implement [`NativePlugin`] and call [`export_plugin!`],
//!   which exports the C ABI described in [`abi`].
//!
//! Native plugins are shared libraries loaded into the engine's process: they run with
//! the host's privileges (files, network, memory) and are trusted code. Untrusted code
//! belongs in a WebAssembly tool, which the host runs in a sandbox.

pub mod abi;
pub mod error;
pub mod export;
pub mod image;
pub mod native;
pub mod tensor;
pub mod traits;

pub use error::{PluginError, ToolCallError};
pub use image::Image;
pub use native::{CallInput, NativePlugin, PluginKind};
pub use tensor::{TensorView, TensorViewError};
pub use traits::{
    Dataset, Environment, Example, InferenceModel, Metric, Observation, Reward, RewardInput,
    RewardOutput, StepOutcome, Tool, ToolDescription,
};
