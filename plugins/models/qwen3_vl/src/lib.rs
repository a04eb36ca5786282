//! Qwen3-VL and Qwen3 policies from Hugging Face checkpoints.
//!
//! [`Qwen3Vl::load`] reads a model folder (`config.json`, sharded safetensors with their
//! index, `preprocessor_config.json`); [`chat`] renders Qwen ChatML prompts with tool calls
//! and [`tokenizer`] wraps `tokenizer.json`. Every trainable block is built from
//! differentiable candle ops (see [`ops`]), so full fine-tuning and LoRA both receive
//! gradients end to end.

pub mod chat;
pub mod codec;
pub mod config;
pub mod export;
pub mod generate;
pub mod image_processing;
pub mod lora;
pub mod memory;
pub mod model;
pub mod ops;
pub mod params;
pub mod policy;
pub mod rope;
pub mod text;
pub mod tiny;
pub mod tokenizer;
pub mod vision;

pub use codec::QwenCodec;
pub use config::ModelConfig;
pub use generate::Sampling;
pub use lora::{LoraConfig, Pass};
pub use memory::{MemoryEstimate, Workload};
pub use model::{DecodeState, LoadOptions, Padding, Qwen3Vl};
pub use params::{ParamGroup, TrainableParams};
