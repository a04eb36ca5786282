//! Integration tests of the Qwen3-VL plugin against tiny checkpoints on disk.

mod codec;
mod decoding;
mod fixture;
mod policy;
mod reference;
mod training;
mod units;
