//! Integration tests of the Qwen3-VL plugin against tiny checkpoints on disk.

mod fixture;
mod reference;
