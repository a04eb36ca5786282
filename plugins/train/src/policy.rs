//! The interface that the SFT and GRPO loops are written against.
//!
//! A policy is an autoregressive vision-language model. Sequences are token ids in which
//! every image occupies a run of [`Policy::image_token_count`] consecutive
//! [`Policy::image_token_id`] placeholders. The model replaces those placeholders, in
//! reading order, with the embeddings of the images passed beside the ids.

use std::any::Any;
use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use candle_core::{DType, Device, Tensor, Var};

use crate::image::Image;

/// One sequence of a batch: token ids and the images behind its placeholder runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sequence {
    /// Token ids, image placeholders included.
    pub ids: Vec<u32>,
    /// Images in the order of their placeholder runs in `ids`.
    pub images: Vec<Image>,
}

/// Per-sequence generation state: the keys and values of every attention layer.
///
/// One cache serves one sequence (batch size 1). [`Policy::new_cache`] makes an empty
/// one and [`Policy::step`] extends it.
pub struct KvCache {
    /// Per layer, keys and values of shape `(1, kv_heads, cached_len, head_dim)`, or `None`
    /// before the first step.
    pub layers: Vec<Option<(Tensor, Tensor)>>,
    /// Number of token positions already in the cache.
    pub len: usize,
    /// Model-specific state that is not per layer (for example multimodal rotary
    /// position offsets); `None` for models that need none.
    pub extra: Option<Box<dyn Any + Send>>,
}

impl KvCache {
    /// Creates an empty cache for a model with `num_layers` attention layers.
    pub fn new(num_layers: usize) -> Self {
        Self { layers: vec![None; num_layers], len: 0, extra: None }
    }
}

/// A trainable vision-language policy.
///
/// Implementations must build every trainable block from differentiable tensor
/// operations: in candle 0.11 the fused softmax, RMSNorm/LayerNorm fast paths, rotary
/// kernels and `sdpa` record no backward pass, so gradients through them are silently zero.
pub trait Policy {
    /// Device of the weights.
    fn device(&self) -> &Device;

    /// Floating-point type of the weights and of the returned logits.
    fn dtype(&self) -> DType;

    /// Number of rows of the output layer: logits have this many entries per position.
    fn vocab_size(&self) -> usize;

    /// Token id of an image placeholder.
    fn image_token_id(&self) -> u32;

    /// Number of placeholder tokens that `image` occupies in a sequence.
    fn image_token_count(&self, image: &Image) -> usize;

    /// Computes next-token logits for a batch, `(batch, max_len, vocab_size)`.
    ///
    /// Sequences shorter than the longest are right-padded inside the model. Because
    /// attention is causal, the padding never changes the logits of real positions. The
    /// logits at padded positions are unspecified. Logits at position `t` predict the
    /// token at `t + 1`.
    ///
    /// # Errors
    /// Fails when a sequence is empty, when a sequence has more placeholder runs than
    /// images or the reverse, or when a run has the wrong length.
    fn forward(&self, batch: &[Sequence]) -> Result<Tensor>;

    /// Creates an empty generation cache for this model.
    fn new_cache(&self) -> KvCache;

    /// Appends `ids` (with `images` for the placeholder runs among them) to the cached
    /// sequence and returns the logits of the last new position, `(vocab_size,)`, as f32.
    ///
    /// Calling `step` with a whole sequence on an empty cache, or with its tokens split
    /// over several calls, gives the same logits as [`Policy::forward`] up to rounding.
    /// A placeholder run must not be split across two calls.
    fn step(&self, cache: &mut KvCache, ids: &[u32], images: &[Image]) -> Result<Tensor>;

    /// All trainable variables by full name (`vision.…`, `projector.…`, `llm.…`), sorted.
    ///
    /// A group prefix is the part of the name before the first dot. The optimizer uses
    /// it to freeze groups or give them their own learning rates.
    fn named_vars(&self) -> Vec<(String, Var)>;

    /// Writes all weights to a safetensors file.
    fn save(&self, path: &Path) -> Result<()>;

    /// Overwrites the weights in place from a safetensors file written by [`Policy::save`]
    /// (variables keep their identity, so optimizers built on them stay valid).
    ///
    /// # Errors
    /// Fails when a weight is missing from the file or has another shape.
    fn load(&mut self, path: &Path) -> Result<()>;

    /// Copies the model with its own weights, for a frozen reference policy or the old
    /// policy of an importance ratio. Changing one copy never changes the other.
    fn duplicate(&self) -> Result<Self>
    where
        Self: Sized;
}

/// Groups named variables by the prefix before their first dot (`llm`, `vision`, …).
pub fn vars_by_group(vars: Vec<(String, Var)>) -> BTreeMap<String, Vec<(String, Var)>> {
    let mut groups: BTreeMap<String, Vec<(String, Var)>> = BTreeMap::new();
    for (name, var) in vars {
        let group = name.split('.').next().unwrap_or_default().to_string();
        groups.entry(group).or_default().push((name, var));
    }
    groups
}
