//! [`assay_train::Policy`] for Qwen3-VL and Qwen3, so the SFT and GRPO loops train them.

use std::path::Path;

use anyhow::{bail, Context, Result};
use assay_train::{Image, KvCache as PolicyCache, Policy, Sequence};
use candle_core::{DType, Device, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::image_processing::ImagePatches;
use crate::lora::Pass;
use crate::model::{DecodeState, Padding, Qwen3Vl};
use crate::text::KvCache;

/// Token rows and the preprocessed images of each row.
type SplitBatch = (Vec<Vec<u32>>, Vec<Vec<ImagePatches>>);

impl Qwen3Vl {
    /// Turns LoRA dropout on (`true`) or off for [`Policy::forward`].
    pub fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    /// The pass settings for the next policy forward: dropout with a fresh seed in training.
    fn policy_pass(&self) -> Pass {
        if !self.adapters {
            return Pass::reference();
        }
        if !self.training {
            return Pass::eval();
        }
        let seed = self.dropout_seed.get();
        self.dropout_seed.set(seed.wrapping_add(1));
        Pass::train(ChaCha8Rng::seed_from_u64(seed))
    }

    /// Preprocesses the images of each sequence.
    fn preprocess(&self, images: &[Image]) -> Result<Vec<ImagePatches>> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let processor = self
            .image_processor
            .as_ref()
            .context("the checkpoint has no `preprocessor_config.json` (or no vision tower), so it cannot take images")?;
        images.iter().map(|image| processor.preprocess(image)).collect()
    }

    /// Logits of the frozen base model (LoRA adapters off), `(batch, max_len, vocab)` in f32:
    /// the KL reference of a LoRA policy without a second copy of the weights.
    ///
    /// # Errors
    /// As [`Policy::forward`].
    pub fn reference_forward(&self, batch: &[Sequence]) -> Result<Tensor> {
        let (rows, images) = self.split_batch(batch)?;
        self.forward(&rows, &images, Padding::Right, None, &Pass::reference())
    }

    /// Returns the frozen base model as a policy of its own for the KL reference: LoRA
    /// adapters off, every weight shared with `self` (no second copy).
    ///
    /// # Errors
    /// A parameter group is trained in full: its weights change in place, so the view
    /// would not stay frozen; use [`Policy::duplicate`] then.
    pub fn frozen_base(&self) -> Result<Self> {
        if !self.options.trainable.full.is_empty() {
            bail!(
                "groups {:?} train in full, so a view of the base would change with them: use a separate copy as the reference",
                self.options.trainable.full
            );
        }
        let mut view = self.clone();
        view.adapters = false;
        view.training = false;
        Ok(view)
    }

    /// Returns whether [`Qwen3Vl::frozen_base`] can give the KL reference without a copy.
    pub fn has_frozen_base_view(&self) -> bool {
        self.options.trainable.full.is_empty()
    }

    fn split_batch(&self, batch: &[Sequence]) -> Result<SplitBatch> {
        let rows = batch.iter().map(|s| s.ids.clone()).collect();
        let images = batch.iter().map(|s| self.preprocess(&s.images)).collect::<Result<Vec<_>>>()?;
        Ok((rows, images))
    }
}

impl Policy for Qwen3Vl {
    fn device(&self) -> &Device {
        Qwen3Vl::device(self)
    }

    fn dtype(&self) -> DType {
        Qwen3Vl::dtype(self)
    }

    fn vocab_size(&self) -> usize {
        self.config.text.vocab_size
    }

    /// `u32::MAX` for text-only checkpoints, which have no image token.
    fn image_token_id(&self) -> u32 {
        self.config.vision_tokens.map_or(u32::MAX, |t| t.image_token_id)
    }

    /// 0 when the image cannot be preprocessed (text-only checkpoint or an image below the
    /// minimum size); `forward` then reports the cause.
    fn image_token_count(&self, image: &Image) -> usize {
        let Some(processor) = &self.image_processor else { return 0 };
        match processor.smart_resize(image.height, image.width) {
            Ok((height, width)) => {
                let merge = processor.merge_size;
                (height / processor.patch_size) * (width / processor.patch_size) / (merge * merge)
            }
            Err(error) => {
                tracing::warn!(%error, "image cannot be preprocessed");
                0
            }
        }
    }

    fn forward(&self, batch: &[Sequence]) -> Result<Tensor> {
        let (rows, images) = self.split_batch(batch)?;
        let logits = Qwen3Vl::forward(self, &rows, &images, Padding::Right, None, &self.policy_pass())?;
        Ok(logits.to_dtype(Qwen3Vl::dtype(self))?)
    }

    fn new_cache(&self) -> PolicyCache {
        PolicyCache::new(self.config.text.num_hidden_layers)
    }

    fn step(&self, cache: &mut PolicyCache, ids: &[u32], images: &[Image]) -> Result<Tensor> {
        if ids.is_empty() {
            bail!("`step` needs at least one token id");
        }
        let next_position = cache.extra.as_ref().and_then(|e| e.downcast_ref::<i64>()).copied().unwrap_or(0);
        let mut state = DecodeState {
            cache: KvCache { layers: std::mem::take(&mut cache.layers) },
            key_valid: vec![vec![true; cache.len]],
            next_position: vec![next_position],
        };
        let patches = self.preprocess(images)?;
        let result = Qwen3Vl::forward(self, &[ids.to_vec()], &[patches], Padding::Right, Some(&mut state), &Pass::eval());
        cache.layers = state.cache.layers;
        let logits = result?;
        cache.len += ids.len();
        cache.extra = Some(Box::new(state.next_position[0]));
        Ok(logits.get(0)?.get(ids.len() - 1)?)
    }

    fn named_vars(&self) -> Vec<(String, Var)> {
        let mut vars: Vec<(String, Var)> = self
            .params
            .trainable
            .iter()
            .map(|p| (format!("{}.{}", p.group.policy_prefix(), p.name), p.var.clone()))
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars
    }

    /// Writes the base weights under their checkpoint names and the LoRA matrices as
    /// `<module>.lora_A.weight` / `<module>.lora_B.weight`.
    fn save(&self, path: &Path) -> Result<()> {
        let mut tensors: std::collections::HashMap<String, Tensor> =
            self.params.base.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for param in &self.params.trainable {
            tensors.insert(param.name.clone(), param.var.as_tensor().clone());
        }
        candle_core::safetensors::save(&tensors, path).with_context(|| format!("failed to write {}", path.display()))
    }

    /// Overwrites the trainable variables; frozen weights never change, so they are only
    /// checked for presence.
    fn load(&mut self, path: &Path) -> Result<()> {
        let tensors = candle_core::safetensors::load(path, Qwen3Vl::device(self))
            .with_context(|| format!("failed to read {}", path.display()))?;
        for name in self.params.base.keys() {
            if !tensors.contains_key(name) {
                bail!("{} has no weight `{name}`: it was not written by this model's `save`", path.display());
            }
        }
        for param in &self.params.trainable {
            let tensor = tensors
                .get(&param.name)
                .with_context(|| format!("{} has no weight `{}`", path.display(), param.name))?;
            if tensor.dims() != param.var.dims() {
                bail!(
                    "weight `{}` in {} has shape {:?}, expected {:?}",
                    param.name,
                    path.display(),
                    tensor.dims(),
                    param.var.dims()
                );
            }
            param.var.set(&tensor.to_dtype(param.var.dtype())?)?;
        }
        Ok(())
    }

    /// Reloads the checkpoint (memory-mapped, so cheap) and copies the current trainable
    /// values. For a LoRA KL reference prefer [`Qwen3Vl::reference_forward`], which keeps no
    /// second copy.
    fn duplicate(&self) -> Result<Self> {
        let mut copy = Qwen3Vl::load(&self.folder, &self.options)?;
        copy.training = self.training;
        for (mine, theirs) in self.params.trainable.iter().zip(&copy.params.trainable) {
            debug_assert_eq!(mine.name, theirs.name);
            theirs.var.set(&mine.var.as_tensor().copy()?)?;
        }
        Ok(copy)
    }
}
