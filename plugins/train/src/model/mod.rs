//! `TinyVlm`: a small vision-language policy that trains in minutes on a few CPU cores.
//!
//! Weight names start with their group: `vision.` (patch encoder), `projector.` (vision to
//! language width) and `llm.` (decoder, embeddings and output layer).

mod config;
mod layers;
mod llm;
mod params;
mod vision;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor, Var};

pub use config::TinyVlmConfig;
pub use layers::{log_softmax_last, softmax_last};

use crate::image::Image;
use crate::policy::{KvCache, Policy, Sequence};
use llm::Decoder;
use params::ParamStore;
use vision::{Projector, VisionEncoder};

/// Token layout that the model needs from the tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLayout {
    /// Number of token ids, at least 1.
    pub vocab_size: usize,
    /// Id of the image placeholder token, below `vocab_size`.
    pub image_token_id: u32,
}

/// The small vision-language policy: see the module documentation.
pub struct TinyVlm {
    config: TinyVlmConfig,
    layout: TokenLayout,
    vision: VisionEncoder,
    projector: Projector,
    decoder: Decoder,
    vars: BTreeMap<String, Var>,
    dtype: DType,
    device: Device,
}

impl TinyVlm {
    /// Builds a model with weights drawn from `seed`.
    ///
    /// # Errors
    /// Fails when the configuration is out of range or the image token id is not below the
    /// vocabulary size.
    pub fn new(config: &TinyVlmConfig, layout: TokenLayout, seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        config.validate()?;
        if layout.vocab_size == 0 || layout.image_token_id as usize >= layout.vocab_size {
            bail!(
                "image token id {} must be below the vocabulary size {}",
                layout.image_token_id,
                layout.vocab_size
            );
        }
        let mut store = ParamStore::new(seed, dtype, device);
        let vision = VisionEncoder::new(&mut store, config)?;
        let projector = Projector::new(&mut store, config)?;
        let decoder = Decoder::new(&mut store, config, layout.vocab_size)?;
        Ok(Self {
            config: config.clone(),
            layout,
            vision,
            projector,
            decoder,
            vars: store.into_vars(),
            dtype,
            device: device.clone(),
        })
    }

    pub fn config(&self) -> &TinyVlmConfig {
        &self.config
    }

    pub fn layout(&self) -> TokenLayout {
        self.layout
    }

    /// Number of trainable scalars.
    pub fn parameter_count(&self) -> usize {
        self.vars.values().map(|v| v.elem_count()).sum()
    }

    /// Builds input embeddings `(batch, max_len, hidden)` with image embeddings in place of
    /// the placeholders, padding short sequences with token 0.
    fn embed(&self, batch: &[Sequence], offset: usize) -> Result<Tensor> {
        let max_len = batch.iter().map(|s| s.ids.len()).max().unwrap_or(0);
        let per_image = self.config.tokens_per_image();
        let mut flat_ids = Vec::with_capacity(batch.len() * max_len);
        let mut images: Vec<Image> = Vec::new();
        for (row, sequence) in batch.iter().enumerate() {
            if sequence.ids.is_empty() {
                bail!("sequence {row} of the batch is empty: every sequence needs at least one token");
            }
            if offset + sequence.ids.len() > self.config.max_seq_len {
                bail!(
                    "sequence {row} reaches {} tokens, above `max_seq_len` {}: raise it or shorten the input",
                    offset + sequence.ids.len(),
                    self.config.max_seq_len
                );
            }
            if let Some(bad) = sequence.ids.iter().find(|&&id| id as usize >= self.layout.vocab_size) {
                bail!("token id {bad} in sequence {row} is outside the vocabulary of {}", self.layout.vocab_size);
            }
            let placeholders = sequence.ids.iter().filter(|&&id| id == self.layout.image_token_id).count();
            if placeholders != sequence.images.len() * per_image {
                bail!(
                    "sequence {row} has {placeholders} image placeholders but {} images of {per_image} tokens each",
                    sequence.images.len()
                );
            }
            flat_ids.extend_from_slice(&sequence.ids);
            flat_ids.extend(std::iter::repeat_n(0u32, max_len - sequence.ids.len()));
            images.extend(sequence.images.iter().cloned());
        }
        let ids = Tensor::from_vec(flat_ids.clone(), flat_ids.len(), &self.device)?;
        let tokens = self.decoder.embed_tokens.index_select(&ids, 0)?; // (batch * max_len, hidden)
        let hidden = self.config.hidden_size;
        if images.is_empty() {
            return Ok(tokens.reshape((batch.len(), max_len, hidden))?);
        }

        // Encode every image of the batch at once, then pick rows: a placeholder takes the
        // next image row, any other position keeps its token row.
        let encoded = self.vision.forward(&images, self.dtype, &self.device)?;
        let projected = self.projector.forward(&encoded)?.reshape((images.len() * per_image, hidden))?;
        let source = Tensor::cat(&[&tokens, &projected], 0)?;
        let token_rows = flat_ids.len() as u32;
        let mut next_image_row = 0u32;
        let mut index = Vec::with_capacity(flat_ids.len());
        for (position, &id) in flat_ids.iter().enumerate() {
            let is_real = position % max_len < batch[position / max_len].ids.len();
            if is_real && id == self.layout.image_token_id {
                index.push(token_rows + next_image_row);
                next_image_row += 1;
            } else {
                index.push(position as u32);
            }
        }
        let index = Tensor::from_vec(index, flat_ids.len(), &self.device)?;
        Ok(source.index_select(&index, 0)?.reshape((batch.len(), max_len, hidden))?)
    }

    fn load_tensors(&mut self, tensors: HashMap<String, Tensor>, origin: &str) -> Result<()> {
        for (name, var) in &self.vars {
            let tensor = tensors
                .get(name)
                .with_context(|| format!("weight `{name}` is missing from {origin}"))?;
            if tensor.dims() != var.dims() {
                bail!("weight `{name}` in {origin} has shape {:?}, the model needs {:?}", tensor.dims(), var.dims());
            }
            var.set(&tensor.to_dtype(self.dtype)?.to_device(&self.device)?)?;
        }
        Ok(())
    }
}

impl Policy for TinyVlm {
    fn device(&self) -> &Device {
        &self.device
    }

    fn dtype(&self) -> DType {
        self.dtype
    }

    fn vocab_size(&self) -> usize {
        self.layout.vocab_size
    }

    fn image_token_id(&self) -> u32 {
        self.layout.image_token_id
    }

    fn image_token_count(&self, _image: &Image) -> usize {
        self.config.tokens_per_image()
    }

    fn forward(&self, batch: &[Sequence]) -> Result<Tensor> {
        if batch.is_empty() {
            bail!("the batch is empty: pass at least one sequence");
        }
        let embeds = self.embed(batch, 0)?;
        self.decoder.forward(&embeds, None)
    }

    fn new_cache(&self) -> KvCache {
        KvCache::new(self.decoder.num_layers())
    }

    fn step(&self, cache: &mut KvCache, ids: &[u32], images: &[Image]) -> Result<Tensor> {
        let sequence = Sequence { ids: ids.to_vec(), images: images.to_vec() };
        let embeds = self.embed(std::slice::from_ref(&sequence), cache.len)?;
        let logits = self.decoder.forward(&embeds, Some(cache))?; // (1, len, vocab)
        Ok(logits.get(0)?.get(ids.len() - 1)?.to_dtype(DType::F32)?)
    }

    fn named_vars(&self) -> Vec<(String, Var)> {
        self.vars.iter().map(|(name, var)| (name.clone(), var.clone())).collect()
    }

    fn save(&self, path: &Path) -> Result<()> {
        let tensors: HashMap<String, Tensor> =
            self.vars.iter().map(|(name, var)| (name.clone(), var.as_tensor().clone())).collect();
        candle_core::safetensors::save(&tensors, path)
            .with_context(|| format!("failed to write weights to {}", path.display()))
    }

    fn load(&mut self, path: &Path) -> Result<()> {
        let tensors = candle_core::safetensors::load(path, &self.device)
            .with_context(|| format!("failed to read weights from {}", path.display()))?;
        self.load_tensors(tensors, &path.display().to_string())
    }

    fn duplicate(&self) -> Result<Self> {
        let mut copy = TinyVlm::new(&self.config, self.layout, 0, self.dtype, &self.device)?;
        let tensors: HashMap<String, Tensor> =
            self.vars.iter().map(|(name, var)| (name.clone(), var.as_tensor().clone())).collect();
        copy.load_tensors(tensors, "the original model")?;
        Ok(copy)
    }
}
