//! Resource limits of the WebAssembly sandbox.

use std::path::PathBuf;
use std::time::Duration;

/// Limits applied to every call of a [`crate::WasmTool`].
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxLimits {
    /// Cap on the guest's linear memory, in bytes. Default 256 MiB. Growing past it
    /// fails the call with [`crate::ToolCallError::OutOfMemory`].
    pub memory_bytes: u64,
    /// Fuel per call: a deterministic CPU budget of roughly one unit per WebAssembly
    /// instruction. Default 10 billion. Bulk memory copies cost less than their size, so
    /// `timeout` bounds wall time as well.
    pub fuel: u64,
    /// Wall-clock deadline per call, including instantiation. Default 10 s. Enforced by
    /// epoch interruption at a granularity of [`SandboxLimits::EPOCH_TICK`], so a call
    /// stops up to one tick late.
    pub timeout: Duration,
    /// A host folder the guest may read (never write), mounted at `/data` in the guest.
    /// Default none, so the guest can open no files at all.
    pub read_only_dir: Option<PathBuf>,
    /// Calls that may run at the same time on one tool (the size of the instance pool).
    /// Default 16, valid 1..=1024. Further concurrent calls fail with a trap error.
    pub max_concurrent_calls: u32,
}

impl SandboxLimits {
    /// Interval of the thread that advances the engine's epoch.
    pub const EPOCH_TICK: Duration = Duration::from_millis(10);

    /// Checks that every limit is in its valid range.
    ///
    /// # Errors
    /// Returns a message naming the field, its value and the valid range.
    pub fn validate(&self) -> Result<(), String> {
        if self.memory_bytes < 1 << 20 || self.memory_bytes > 4 << 30 {
            return Err(format!(
                "`memory_bytes` is {}; it must be between 1 MiB and 4 GiB",
                self.memory_bytes
            ));
        }
        if self.fuel == 0 {
            return Err("`fuel` is 0; it must be at least 1".to_string());
        }
        if self.timeout < Self::EPOCH_TICK {
            return Err(format!(
                "`timeout` is {:?}; it must be at least {:?}",
                self.timeout,
                Self::EPOCH_TICK
            ));
        }
        if !(1..=1024).contains(&self.max_concurrent_calls) {
            return Err(format!(
                "`max_concurrent_calls` is {}; it must be in 1..=1024",
                self.max_concurrent_calls
            ));
        }
        Ok(())
    }

    /// Converts the timeout to epoch ticks, rounded up.
    pub(crate) fn deadline_ticks(&self) -> u64 {
        let tick = Self::EPOCH_TICK.as_nanos();
        self.timeout.as_nanos().div_ceil(tick).max(1) as u64
    }
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            fuel: 10_000_000_000,
            timeout: Duration::from_secs(10),
            read_only_dir: None,
            max_concurrent_calls: 16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        SandboxLimits::default().validate().unwrap();
    }

    #[test]
    fn tiny_memory_is_rejected() {
        let limits = SandboxLimits {
            memory_bytes: 1000,
            ..SandboxLimits::default()
        };
        assert!(limits.validate().unwrap_err().contains("`memory_bytes` is 1000"));
    }

    #[test]
    fn deadline_rounds_up_to_ticks() {
        let limits = SandboxLimits {
            timeout: Duration::from_millis(25),
            ..SandboxLimits::default()
        };
        assert_eq!(limits.deadline_ticks(), 3);
    }
}
