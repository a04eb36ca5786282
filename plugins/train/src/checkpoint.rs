//! Training checkpoints in one safetensors file: weights (`model.…`), Adam moments
//! (`optim.m.…`, `optim.v.…`) and a JSON metadata blob (`meta`, u8) with the step, the
//! RNG state and loop-specific progress. Files are written atomically: a temporary file
//! is written and fsynced, then renamed over the final name, then the folder is fsynced.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::optim::GroupedAdamW;
use crate::policy::Policy;

/// Exact position of a ChaCha stream, so a resumed run draws the same numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// The 32-byte key as hexadecimal.
    pub seed: String,
    pub stream: u64,
    /// Word position within the stream, as decimal text (it is a u128).
    pub word_pos: String,
}

impl RngState {
    pub fn capture(rng: &ChaCha8Rng) -> Self {
        let seed: String = rng.get_seed().iter().map(|b| format!("{b:02x}")).collect();
        Self { seed, stream: rng.get_stream(), word_pos: rng.get_word_pos().to_string() }
    }

    pub fn restore(&self) -> Result<ChaCha8Rng> {
        if self.seed.len() != 64 {
            bail!("checkpoint RNG seed has {} hex digits, expected 64", self.seed.len());
        }
        let mut seed = [0u8; 32];
        for (i, byte) in seed.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&self.seed[2 * i..2 * i + 2], 16).context("checkpoint RNG seed is not hexadecimal")?;
        }
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(self.word_pos.parse().context("checkpoint RNG word position is not a number")?);
        Ok(rng)
    }
}

/// Progress stored beside the tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Training-loop steps completed.
    pub step: u64,
    /// Optimizer updates applied (Adam's bias correction counter).
    pub optimizer_step: u64,
    pub rng: RngState,
    /// Loop-specific state (for example the epoch's shuffled order).
    #[serde(default)]
    pub extra: serde_json::Value,
}

/// Path of the checkpoint after `step` steps inside `dir`.
pub fn checkpoint_path(dir: &Path, step: u64) -> PathBuf {
    dir.join(format!("checkpoint-{step:08}.safetensors"))
}

/// Finds the checkpoint with the highest step in `dir`, if any.
pub fn latest_checkpoint(dir: &Path) -> Result<Option<PathBuf>> {
    if !dir.exists() {
        return Ok(None);
    }
    let mut best: Option<(u64, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).with_context(|| format!("failed to list {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Some(step) = name.strip_prefix("checkpoint-").and_then(|n| n.strip_suffix(".safetensors")) else {
            continue;
        };
        if let Ok(step) = step.parse::<u64>() {
            if best.as_ref().is_none_or(|(b, _)| step > *b) {
                best = Some((step, path));
            }
        }
    }
    Ok(best.map(|(_, path)| path))
}

/// Writes a checkpoint of `policy` and `optimizer` after `meta.step` steps into `dir`.
pub fn save_checkpoint<P: Policy>(dir: &Path, policy: &P, optimizer: &GroupedAdamW, meta: &CheckpointMeta) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create checkpoint folder {}", dir.display()))?;
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    for (name, var) in policy.named_vars() {
        tensors.insert(format!("model.{name}"), var.as_tensor().clone());
    }
    for param in optimizer.params() {
        tensors.insert(format!("optim.m.{}", param.name), param.m.clone());
        tensors.insert(format!("optim.v.{}", param.name), param.v.clone());
    }
    let meta_bytes = serde_json::to_vec(meta)?;
    let len = meta_bytes.len();
    tensors.insert("meta".into(), Tensor::from_vec(meta_bytes, len, &Device::Cpu)?);

    let path = checkpoint_path(dir, meta.step);
    let temporary = dir.join(format!(".checkpoint-{:08}.tmp", meta.step));
    candle_core::safetensors::save(&tensors, &temporary)
        .with_context(|| format!("failed to write checkpoint {}", temporary.display()))?;
    std::fs::File::open(&temporary)?.sync_all()?;
    std::fs::rename(&temporary, &path).with_context(|| format!("failed to move checkpoint to {}", path.display()))?;
    std::fs::File::open(dir)?.sync_all()?;
    tracing::debug!(path = %path.display(), step = meta.step, "checkpoint written");
    Ok(path)
}

/// Restores weights and optimizer moments from `path` and returns its metadata.
///
/// # Errors
/// Fails when a weight or moment is missing or has another shape, which happens when the
/// model or the frozen groups changed since the checkpoint was written.
pub fn load_checkpoint<P: Policy>(path: &Path, policy: &mut P, optimizer: &mut GroupedAdamW) -> Result<CheckpointMeta> {
    let device = policy.device().clone();
    let tensors = candle_core::safetensors::load(path, &device)
        .with_context(|| format!("failed to read checkpoint {}", path.display()))?;
    let fetch = |key: &str, dims: &[usize]| -> Result<Tensor> {
        let tensor = tensors
            .get(key)
            .with_context(|| format!("`{key}` is missing from checkpoint {}", path.display()))?;
        if tensor.dims() != dims {
            bail!("`{key}` in checkpoint {} has shape {:?}, expected {dims:?}", path.display(), tensor.dims());
        }
        Ok(tensor.clone())
    };
    for (name, var) in policy.named_vars() {
        var.set(&fetch(&format!("model.{name}"), var.dims())?.to_dtype(var.dtype())?)?;
    }
    for param in optimizer.params_mut() {
        param.m = fetch(&format!("optim.m.{}", param.name), param.var.dims())?.to_dtype(param.var.dtype())?;
        param.v = fetch(&format!("optim.v.{}", param.name), param.var.dims())?.to_dtype(param.var.dtype())?;
    }
    let meta_bytes: Vec<u8> = tensors
        .get("meta")
        .with_context(|| format!("`meta` is missing from checkpoint {}", path.display()))?
        .to_device(&Device::Cpu)?
        .to_vec1()?;
    let meta: CheckpointMeta = serde_json::from_slice(&meta_bytes)
        .with_context(|| format!("invalid metadata in checkpoint {}", path.display()))?;
    optimizer.step = meta.optimizer_step;
    Ok(meta)
}

/// Returns whether a checkpoint is due after `done` of `total` steps: at the last step,
/// and every `every` steps when `every` is above 0.
pub fn checkpoint_due(done: u64, total: u64, every: usize) -> bool {
    done == total || (every > 0 && done % every as u64 == 0)
}

#[cfg(test)]
mod due_tests {
    use super::checkpoint_due;

    #[test]
    fn checkpoint_due_at_interval_and_end() {
        let due: Vec<u64> = (1..=7).filter(|&done| checkpoint_due(done, 7, 3)).collect();
        assert_eq!(due, vec![3, 6, 7]);
        let only_last: Vec<u64> = (1..=7).filter(|&done| checkpoint_due(done, 7, 0)).collect();
        assert_eq!(only_last, vec![7]);
    }
}
