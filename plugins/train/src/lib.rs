//! A small vision-language policy and the SFT and GRPO training core on candle.
//!
//! [`Policy`] is the interface the loops are written against; [`TinyVlm`] implements it.
//! [`sft::train_sft`] and [`grpo::train_grpo`] are the training loops.

pub mod advantage;
pub mod checkpoint;
pub mod codec;
pub mod grpo;
pub mod image;
pub mod kl;
pub mod loss;
pub mod model;
pub mod optim;
pub mod policy;
pub mod progress;
pub mod sft;
pub mod rollout;
pub mod tokenizer;
pub mod trajectory;

pub use codec::{TextCodec, TurnEnds};
pub use image::Image;
pub use model::{TinyVlm, TinyVlmConfig, TokenLayout};
pub use policy::{KvCache, Policy, Sequence};
pub use tokenizer::Tokenizer;

/// The candle version the policies are built on, so that callers name the same `Device`
/// and `DType` types without a dependency of their own.
pub use candle_core;
