//! The whole model: loading a Hugging Face folder, the batched forward pass and the
//! incremental decode state.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::{safetensors::MmapedSafetensors, DType, Device, Tensor};

use crate::config::ModelConfig;
use crate::image_processing::{ImagePatches, ImageProcessorConfig};
use crate::lora::Pass;
use crate::memory::{MemoryEstimate, Workload};
use crate::params::{Loader, Parameters, TrainableParams};
use crate::rope::{self, Position};
use crate::text::{DecoderInputs, KvCache, TextModel};
use crate::vision::VisionModel;

/// Additive mask value for disallowed attention. Finite, so that a fully masked padding
/// row yields a uniform (not NaN) distribution that cannot poison later layers.
const MASKED: f32 = -1e9;

/// How to load a checkpoint.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Element type of the weights: f32, bf16 or f16.
    pub dtype: DType,
    pub device: Device,
    pub trainable: TrainableParams,
    /// Fail before reading any weight when the memory estimate exceeds this many bytes.
    /// `None` skips the check (the estimate is still logged).
    pub memory_budget_bytes: Option<u64>,
    /// Batch shape used for the activation part of the estimate.
    pub workload: Workload,
}

impl LoadOptions {
    /// Inference in `dtype` on `device`, nothing trainable, no memory budget.
    pub fn inference(dtype: DType, device: &Device) -> Self {
        LoadOptions {
            dtype,
            device: device.clone(),
            trainable: TrainableParams::default(),
            memory_budget_bytes: None,
            workload: Workload::default(),
        }
    }
}

/// Side of a short row that receives padding in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// Real tokens first; used for training so positions line up with the ids.
    Right,
    /// Real tokens last; used for batched generation so every row ends in the same column.
    Left,
}

/// Incremental generation state of a batch.
#[derive(Debug, Clone, Default)]
pub struct DecodeState {
    pub cache: KvCache,
    /// `(batch, cached_len)`: false for padding columns, which no query attends to.
    pub key_valid: Vec<Vec<bool>>,
    /// Position of the next token of each row (M-RoPE continues after the largest
    /// position used so far).
    pub next_position: Vec<i64>,
}

/// A Qwen3-VL or Qwen3 model loaded from a Hugging Face folder.
///
/// `Clone` is shallow: the copy shares every weight tensor and trainable variable.
#[derive(Clone)]
pub struct Qwen3Vl {
    pub config: ModelConfig,
    pub(crate) text: TextModel,
    pub(crate) vision: Option<VisionModel>,
    pub(crate) params: Parameters,
    /// `None` for text-only checkpoints or folders without `preprocessor_config.json`.
    pub image_processor: Option<ImageProcessorConfig>,
    pub(crate) folder: PathBuf,
    pub(crate) options: LoadOptions,
    device: Device,
    /// Whether [`assay_train::Policy::forward`] applies LoRA dropout.
    pub(crate) training: bool,
    /// Seed of the next dropout mask; advanced by every training forward pass.
    pub(crate) dropout_seed: std::cell::Cell<u64>,
    /// Whether [`assay_train::Policy::forward`] applies the LoRA adapters; `false` in the
    /// view that [`Qwen3Vl::frozen_base`] returns.
    pub(crate) adapters: bool,
}

/// Lists the safetensors shards of a folder: those named by `model.safetensors.index.json`,
/// else `model.safetensors`, else every `*.safetensors` file.
pub fn shard_paths(folder: &Path) -> Result<Vec<PathBuf>> {
    let index = folder.join("model.safetensors.index.json");
    if index.exists() {
        let text = std::fs::read_to_string(&index)
            .with_context(|| format!("failed to read {}", index.display()))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("invalid JSON in {}", index.display()))?;
        let map = value
            .get("weight_map")
            .and_then(|m| m.as_object())
            .with_context(|| format!("{} has no `weight_map` object", index.display()))?;
        let mut files: Vec<String> = map.values().filter_map(|v| v.as_str().map(str::to_string)).collect();
        files.sort();
        files.dedup();
        let paths: Vec<PathBuf> = files.iter().map(|f| folder.join(f)).collect();
        if let Some(missing) = paths.iter().find(|p| !p.exists()) {
            bail!("shard {} named in {} is missing", missing.display(), index.display());
        }
        return Ok(paths);
    }
    let single = folder.join("model.safetensors");
    if single.exists() {
        return Ok(vec![single]);
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(folder)
        .with_context(|| format!("failed to list checkpoint folder {}", folder.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("no `*.safetensors` weights in {}: point the path at a Hugging Face model folder", folder.display());
    }
    Ok(paths)
}

impl Qwen3Vl {
    /// Loads `config.json`, the memory-mapped weight shards and, when present,
    /// `preprocessor_config.json` from `folder`.
    ///
    /// # Errors
    /// When a file is missing or invalid, the dtype is not a float type, a weight is
    /// missing or has the wrong shape, or the memory estimate exceeds the budget.
    pub fn load(folder: &Path, options: &LoadOptions) -> Result<Self> {
        // f64 is accepted for finite-difference gradient checks.
        if !matches!(options.dtype, DType::F32 | DType::BF16 | DType::F16 | DType::F64) {
            bail!("unsupported dtype {:?}: use f32, bf16 or f16", options.dtype);
        }
        let config = ModelConfig::from_file(&folder.join("config.json"))?;
        let paths = shard_paths(folder)?;
        // SAFETY: the shards are memory-mapped read-only; like every mmap-based loader this
        // assumes no other process truncates them while the model is loaded.
        let shards = unsafe { MmapedSafetensors::multi(&paths) }
            .with_context(|| format!("failed to map the safetensors shards in {}", folder.display()))?;

        // Estimate memory before reading any weight.
        let estimate = MemoryEstimate::from_checkpoint(&config, &shards, options)?;
        tracing::info!(folder = %folder.display(), "{estimate}");
        if let Some(budget) = options.memory_budget_bytes {
            estimate.check_budget(budget)?;
        }

        let mut loader = Loader::new(&shards, options.dtype, &options.device, &options.trainable)?;
        let (text, vision) = match &config.vision {
            Some(vision_config) => {
                let vision = VisionModel::load(vision_config, "model.visual", &mut loader)?;
                let text = TextModel::load(&config.text, "model.language_model", &mut loader)?;
                (text, Some(vision))
            }
            None => (TextModel::load(&config.text, "model", &mut loader)?, None),
        };
        let processor_path = folder.join("preprocessor_config.json");
        let image_processor = if config.is_multimodal() && processor_path.exists() {
            Some(ImageProcessorConfig::from_file(&processor_path)?)
        } else {
            None
        };
        tracing::info!(
            trainable_tensors = loader.params.trainable.len(),
            lora_adapters = loader.params.adapters.len(),
            "loaded checkpoint"
        );
        Ok(Qwen3Vl {
            config,
            text,
            vision,
            params: loader.params,
            image_processor,
            folder: folder.to_path_buf(),
            options: options.clone(),
            device: options.device.clone(),
            training: false,
            dropout_seed: std::cell::Cell::new(options.trainable.seed),
            adapters: true,
        })
    }

    /// Parameters in use, trainable variables and adapters.
    pub fn parameters(&self) -> &Parameters {
        &self.params
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn dtype(&self) -> DType {
        self.text.dtype()
    }

    /// Number of placeholder tokens per merged image patch block.
    pub fn merge_size(&self) -> usize {
        self.config.vision.as_ref().map_or(1, |v| v.spatial_merge_size)
    }

    /// Computes logits `(batch, max_len, vocab)` of a batch, in f32 (f64 for f64 weights).
    ///
    /// `images[b]` contains the preprocessed images of row `b` in placeholder order. With a
    /// `state`, the rows continue the cached sequences; otherwise they start at position 0.
    ///
    /// # Errors
    /// When a row is empty, or images and placeholder runs disagree.
    pub fn forward(
        &self,
        rows: &[Vec<u32>],
        images: &[Vec<ImagePatches>],
        padding: Padding,
        state: Option<&mut DecodeState>,
        pass: &Pass,
    ) -> Result<Tensor> {
        let hidden = self.forward_hidden(rows, images, padding, state, pass)?;
        Ok(self.text.logits(&hidden)?.to_dtype(crate::ops::compute_dtype(self.dtype()))?)
    }

    /// Like [`Qwen3Vl::forward`] but returns the final hidden states `(batch, max_len, hidden)`.
    pub fn forward_hidden(
        &self,
        rows: &[Vec<u32>],
        images: &[Vec<ImagePatches>],
        padding: Padding,
        state: Option<&mut DecodeState>,
        pass: &Pass,
    ) -> Result<Tensor> {
        let batch = rows.len();
        if batch == 0 {
            bail!("empty batch: pass at least one token sequence");
        }
        if let Some(empty) = rows.iter().position(|r| r.is_empty()) {
            bail!("sequence {empty} of the batch is empty");
        }
        if images.len() != batch && !images.is_empty() {
            bail!("{} image lists for a batch of {batch} sequences", images.len());
        }
        let seq = rows.iter().map(Vec::len).max().unwrap_or(0);
        let pad = |row: &Vec<u32>| seq - row.len();
        let column = |row: &Vec<u32>, i: usize| match padding {
            Padding::Right => i,
            Padding::Left => pad(row) + i,
        };

        // Lay out ids and validity, and compute positions per row.
        let mut ids = vec![0u32; batch * seq];
        let mut valid = vec![false; batch * seq];
        let mut positions: Vec<Vec<Position>> = vec![vec![[0; 3]; seq]; batch];
        let starts: Vec<i64> = match &state {
            Some(s) if !s.next_position.is_empty() => s.next_position.clone(),
            _ => vec![0; batch],
        };
        let mut next_position = Vec::with_capacity(batch);
        for (b, row) in rows.iter().enumerate() {
            let grids: Vec<[usize; 3]> = images.get(b).map(|list| list.iter().map(|p| p.grid).collect()).unwrap_or_default();
            let row_positions = self.positions(row, &grids, starts[b])?;
            for (i, (&id, position)) in row.iter().zip(&row_positions).enumerate() {
                let c = column(row, i);
                ids[b * seq + c] = id;
                valid[b * seq + c] = true;
                positions[b][c] = *position;
            }
            let largest = row_positions.iter().flat_map(|p| p.iter().copied()).max().unwrap_or(starts[b] - 1);
            next_position.push(largest + 1);
        }
        let device = &self.device;
        let ids_tensor = Tensor::from_vec(ids.clone(), (batch, seq), device)?;
        let mut embeds = self.text.embed(&ids_tensor)?;

        // Replace image placeholders by vision embeddings.
        let mut deepstack_gather = None;
        let mut deepstack_levels = Vec::new();
        let image_count: usize = images.iter().map(Vec::len).sum();
        if image_count > 0 {
            let (gather, levels) = self.merge_images(&mut embeds, &ids, &valid, images, pass)?;
            deepstack_gather = Some(gather);
            deepstack_levels = levels;
        }

        // Build the additive mask: causal over all columns, and no attention to padding.
        let past = state.as_ref().map_or(0, |s| s.cache.len());
        let mut key_valid: Vec<Vec<bool>> = match &state {
            Some(s) if past > 0 => s.key_valid.clone(),
            _ => vec![Vec::new(); batch],
        };
        for (b, keys) in key_valid.iter_mut().enumerate() {
            keys.extend_from_slice(&valid[b * seq..(b + 1) * seq]);
        }
        let total = past + seq;
        let mut mask = vec![0f32; batch * seq * total];
        for b in 0..batch {
            for q in 0..seq {
                for k in 0..total {
                    if k > past + q || !key_valid[b][k] {
                        mask[(b * seq + q) * total + k] = MASKED;
                    }
                }
            }
        }
        let mask = Tensor::from_vec(mask, (batch, 1, seq, total), device)?;
        let (cos, sin) = rope::rotary_tables(
            &positions,
            self.config.text.head_dim,
            self.config.text.rope_base(),
            self.config.text.mrope.as_ref(),
            self.dtype(),
            device,
        )?;
        let inputs = DecoderInputs {
            cos: &cos,
            sin: &sin,
            mask: &mask,
            deepstack: deepstack_gather.as_ref().map(|g| (g, deepstack_levels.as_slice())),
        };
        let hidden = match state {
            Some(state) => {
                let hidden = self.text.forward_hidden(embeds, &inputs, Some(&mut state.cache), pass)?;
                state.key_valid = key_valid;
                state.next_position = next_position;
                hidden
            }
            None => self.text.forward_hidden(embeds, &inputs, None, pass)?,
        };
        Ok(hidden)
    }

    /// Positions of one row: M-RoPE for Qwen3-VL, consecutive for Qwen3.
    fn positions(&self, row: &[u32], grids: &[[usize; 3]], start: i64) -> Result<Vec<Position>> {
        match &self.config.vision_tokens {
            Some(tokens) => rope::mrope_positions(row, tokens.image_token_id, grids, self.merge_size(), start),
            None => {
                if !grids.is_empty() {
                    bail!("this text-only Qwen3 checkpoint cannot take images");
                }
                Ok((0..row.len() as i64).map(|i| [start + i; 3]).collect())
            }
        }
    }

    /// Runs the vision tower and writes its embeddings over the placeholder rows of
    /// `embeds`. Returns the gather index used for deepstack and the deepstack features.
    fn merge_images(
        &self,
        embeds: &mut Tensor,
        ids: &[u32],
        valid: &[bool],
        images: &[Vec<ImagePatches>],
        pass: &Pass,
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let vision = self.vision.as_ref().context("this text-only Qwen3 checkpoint cannot take images")?;
        let image_token = self.config.vision_tokens.expect("multimodal config has token ids").image_token_id;
        let all: Vec<&ImagePatches> = images.iter().flatten().collect();
        let patch_width = all[0].patch_width;
        let mut values = Vec::new();
        let mut grids = Vec::with_capacity(all.len());
        for image in &all {
            if image.patch_width != patch_width {
                bail!("images in one batch must share the patch width ({} vs {patch_width})", image.patch_width);
            }
            values.extend_from_slice(&image.values);
            grids.push(image.grid);
        }
        let patches = values.len() / patch_width;
        let pixel_values = Tensor::from_vec(values, (patches, patch_width), &self.device)?;
        let output = vision.forward(&pixel_values, &grids, pass)?;

        // gather[i] = k + 1 for the k-th placeholder in reading order, 0 elsewhere.
        let mut gather = vec![0u32; ids.len()];
        let mut keep = vec![1f32; ids.len()];
        let mut count = 0u32;
        for i in 0..ids.len() {
            if valid[i] && ids[i] == image_token {
                count += 1;
                gather[i] = count;
                keep[i] = 0.0;
            }
        }
        let expected = output.embeds.dim(0)?;
        if count as usize != expected {
            bail!("the batch has {count} image placeholder tokens but its images produce {expected} embeddings");
        }
        let (batch, seq, _) = embeds.dims3()?;
        let gather = Tensor::from_vec(gather, batch * seq, &self.device)?;
        let keep = Tensor::from_vec(keep, (batch, seq, 1), &self.device)?.to_dtype(embeds.dtype())?;
        let text_only = embeds.broadcast_mul(&keep)?;
        *embeds = crate::text::add_at_positions(&text_only, &gather, &output.embeds)?;
        Ok((gather, output.deepstack))
    }
}
