//! A wall clock that always reads the Unix epoch, so guests cannot read the time of day.

use std::time::Duration;

use wasmtime_wasi::HostWallClock;

/// Reads `0` seconds since the Unix epoch, with a resolution of one second.
pub struct FrozenWallClock;

impl HostWallClock for FrozenWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}
