//! Errors that plugins and tools return to the engine.

use serde::{Deserialize, Serialize};

/// A failure inside a plugin call, as the engine receives it.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum PluginError {
    /// The input or configuration was invalid; the message names the value and the fix.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The plugin ran and failed for another reason.
    #[error("{0}")]
    Failed(String),
    /// The plugin panicked; the message is the panic payload.
    #[error("plugin panicked: {0}")]
    Panicked(String),
}

/// Failure of a tool call, one variant per cause. The engine decides what a failure
/// means, and in a rollout it usually becomes an error observation for the policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ToolCallError {
    /// The tool rejected the call, for example bad arguments or no face found.
    #[error("tool error: {0}")]
    ToolError(String),
    /// The call used up its fuel (deterministic CPU budget).
    #[error("tool ran out of fuel after {fuel} units")]
    OutOfFuel { fuel: u64 },
    /// The call ran past its wall-clock deadline.
    #[error("tool timed out after {timeout_ms} ms")]
    TimedOut { timeout_ms: u64 },
    /// The call tried to grow its memory past the cap.
    #[error("tool ran out of memory: cap is {limit_bytes} bytes")]
    OutOfMemory { limit_bytes: u64 },
    /// The call trapped (a panic, an unreachable instruction, an invalid access).
    #[error("tool trapped: {message}; stderr tail: {stderr_tail:?}")]
    Trapped {
        /// The trap or runtime error.
        message: String,
        /// The last bytes the guest wrote to stderr (up to 4 KiB), which hold a
        /// Rust guest's panic message.
        stderr_tail: String,
    },
}
