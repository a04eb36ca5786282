//! Tiny random checkpoints written to disk in the Hugging Face layout (two shards and an
//! index), so the loaders under test read real files.

use std::path::Path;

use candle_core::{DType, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use assay_qwen3_vl::tiny::{self, TinyCheckpoint};

pub const IMAGE_TOKEN: u32 = 100;
pub const VISION_START: u32 = 102;
pub const VISION_END: u32 = 103;
pub const VOCAB: usize = 128;
pub const PATCH: usize = tiny::PATCH;

/// Returns the sizes the tests use: a 128-row vocabulary without a tokenizer file.
fn tiny(tied: bool, seed: u64) -> TinyCheckpoint {
    TinyCheckpoint {
        vocab_size: VOCAB,
        image_token_id: IMAGE_TOKEN,
        video_token_id: 101,
        vision_start_token_id: VISION_START,
        vision_end_token_id: VISION_END,
        tie_word_embeddings: tied,
        seed,
        tokenizer: false,
    }
}

/// Writes a tiny Qwen3-VL checkpoint (hidden 64, 2 layers, a 2-block vision tower with
/// two deepstack levels) into `dir`.
pub fn write_tiny_qwen3_vl(dir: &Path) {
    write_tiny_qwen3_vl_with(dir, false);
}

/// Like [`write_tiny_qwen3_vl`], with the output head tied to the embeddings when `tied`.
pub fn write_tiny_qwen3_vl_with(dir: &Path, tied: bool) {
    tiny::write_tiny_qwen3_vl(dir, &tiny(tied, 7)).unwrap();
}

/// Writes a tiny text-only Qwen3 checkpoint into `dir`.
pub fn write_tiny_qwen3(dir: &Path, tie_word_embeddings: bool) {
    tiny::write_tiny_qwen3(dir, &tiny(tie_word_embeddings, 11)).unwrap();
}

/// Paths of the two shards, for candle-transformers' loader.
pub fn shard_paths(dir: &Path) -> Vec<std::path::PathBuf> {
    tiny::shard_paths(dir)
}

/// Deterministic pixel patches `(patches, 3 * 2 * PATCH * PATCH)` in `[-1, 1]`.
pub fn random_patches(patches: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..patches * 3 * 2 * PATCH * PATCH).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Largest absolute difference between two tensors of equal shape.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a.to_dtype(DType::F32).unwrap() - b.to_dtype(DType::F32).unwrap())
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}
