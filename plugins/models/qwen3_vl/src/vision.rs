//! The Qwen3-VL vision tower: patch embedding, interpolated absolute positions, transformer
//! blocks with 2-D rotary embeddings, the patch merger into the language width, and the
//! deepstack mergers whose outputs are added to the first language layers.

use anyhow::Result;
use candle_core::{Device, Tensor};

use crate::config::{Activation, VisionConfig};
use crate::lora::{Linear, Pass};
use crate::ops;
use crate::params::{Loader, ParamGroup};

/// LayerNorm epsilon of every vision norm.
const NORM_EPS: f64 = 1e-6;
/// Base of the vision rotary frequencies.
const ROPE_THETA: f32 = 10_000.0;

#[derive(Clone)]
struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
}

impl LayerNorm {
    fn load(prefix: &str, width: usize, group: ParamGroup, loader: &mut Loader) -> Result<Self> {
        Ok(LayerNorm {
            weight: loader.tensor(&format!("{prefix}.weight"), &[width], group)?,
            bias: loader.tensor(&format!("{prefix}.bias"), &[width], group)?,
        })
    }

    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        ops::layer_norm(xs, &self.weight, &self.bias, NORM_EPS)
    }
}

#[derive(Clone)]
struct VisionBlock {
    norm1: LayerNorm,
    norm2: LayerNorm,
    qkv: Linear,
    proj: Linear,
    fc1: Linear,
    fc2: Linear,
}

/// Projects groups of `merge_size^2` neighbouring patches into the language width.
#[derive(Clone)]
struct PatchMerger {
    norm: LayerNorm,
    /// Deepstack mergers normalise after concatenating the group, the final merger before.
    postshuffle_norm: bool,
    fc1: Linear,
    fc2: Linear,
    merged_width: usize,
}

/// Output of the vision tower for a batch of images.
pub struct VisionOutput {
    /// `(merged_tokens, text_hidden)`, images concatenated in order.
    pub embeds: Tensor,
    /// One `(merged_tokens, text_hidden)` tensor per deepstack level.
    pub deepstack: Vec<Tensor>,
}

/// The vision transformer and its mergers.
#[derive(Clone)]
pub struct VisionModel {
    patch_weight: Tensor,
    patch_bias: Tensor,
    pos_embed: Tensor,
    blocks: Vec<VisionBlock>,
    merger: PatchMerger,
    deepstack_mergers: Vec<PatchMerger>,
    config: VisionConfig,
}

impl VisionModel {
    /// Loads the tower under `prefix` (`model.visual`).
    pub(crate) fn load(config: &VisionConfig, prefix: &str, loader: &mut Loader) -> Result<Self> {
        let width = config.hidden_size;
        let group = ParamGroup::Vision;
        let patch_weight = loader.tensor(
            &format!("{prefix}.patch_embed.proj.weight"),
            &[width, config.in_channels, config.temporal_patch_size, config.patch_size, config.patch_size],
            group,
        )?;
        let patch_bias = loader.tensor(&format!("{prefix}.patch_embed.proj.bias"), &[width], group)?;
        let pos_embed =
            loader.tensor(&format!("{prefix}.pos_embed.weight"), &[config.num_position_embeddings, width], group)?;
        let mut blocks = Vec::with_capacity(config.depth);
        for index in 0..config.depth {
            let block = format!("{prefix}.blocks.{index}");
            blocks.push(VisionBlock {
                norm1: LayerNorm::load(&format!("{block}.norm1"), width, group, loader)?,
                norm2: LayerNorm::load(&format!("{block}.norm2"), width, group, loader)?,
                qkv: loader.linear(&format!("{block}.attn.qkv"), width, 3 * width, true, group)?,
                proj: loader.linear(&format!("{block}.attn.proj"), width, width, true, group)?,
                fc1: loader.linear(&format!("{block}.mlp.linear_fc1"), width, config.intermediate_size, true, group)?,
                fc2: loader.linear(&format!("{block}.mlp.linear_fc2"), config.intermediate_size, width, true, group)?,
            });
        }
        let merger = PatchMerger::load(config, &format!("{prefix}.merger"), false, loader)?;
        let deepstack_mergers = (0..config.deepstack_visual_indexes.len())
            .map(|i| PatchMerger::load(config, &format!("{prefix}.deepstack_merger_list.{i}"), true, loader))
            .collect::<Result<Vec<_>>>()?;
        Ok(VisionModel {
            patch_weight,
            patch_bias,
            pos_embed,
            blocks,
            merger,
            deepstack_mergers,
            config: config.clone(),
        })
    }

    /// Encodes flattened patches `(patches, channels * temporal_patch * patch * patch)`, laid
    /// out as the image processor emits them, for images with the given `[t, h, w]` patch
    /// grids.
    pub fn forward(&self, pixel_values: &Tensor, grids: &[[usize; 3]], pass: &Pass) -> candle_core::Result<VisionOutput> {
        let dtype = self.patch_weight.dtype();
        let device = pixel_values.device().clone();
        let width = self.config.hidden_size;

        // Embed patches. The temporal 3-D convolution has stride equal to its kernel, so it
        // is a linear map of each flattened patch.
        let in_width = self.patch_weight.elem_count() / width;
        let kernel = self.patch_weight.reshape((width, in_width))?;
        let mut xs = pixel_values.to_dtype(dtype)?.matmul(&kernel.t()?)?.broadcast_add(&self.patch_bias)?;

        // Add interpolated absolute positions, and build the 2-D rotary tables.
        let cells = merge_order_cells(grids, self.config.spatial_merge_size);
        xs = (xs + self.interpolated_positions(grids, &cells, &device)?)?;
        let (cos, sin) = self.rotary_tables(&cells, &device)?;

        let mut frame_bounds = vec![0usize];
        for &[t, h, w] in grids {
            for _ in 0..t {
                frame_bounds.push(frame_bounds.last().copied().unwrap_or(0) + h * w);
            }
        }

        let mut deepstack = Vec::with_capacity(self.deepstack_mergers.len());
        for (index, block) in self.blocks.iter().enumerate() {
            xs = block.forward(&xs, &frame_bounds, &cos, &sin, self.config.num_heads, self.config.hidden_act, pass)?;
            if let Some(level) = self.config.deepstack_visual_indexes.iter().position(|&i| i == index) {
                deepstack.push(self.deepstack_mergers[level].forward(&xs, pass)?);
            }
        }
        let embeds = self.merger.forward(&xs, pass)?;
        Ok(VisionOutput { embeds, deepstack })
    }

    /// Bilinear interpolation of the learned `side x side` position table onto each image's
    /// `h x w` grid, sampling at `linspace(0, side - 1, h)` rows and the like for columns.
    fn interpolated_positions(
        &self,
        grids: &[[usize; 3]],
        cells: &[(usize, usize, usize)],
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let side = (self.config.num_position_embeddings as f64).sqrt().round() as usize;
        let linspace = |steps: usize, i: usize| -> f32 {
            if steps == 1 {
                0.0
            } else {
                i as f32 * ((side - 1) as f32 / (steps - 1) as f32)
            }
        };
        let mut indices: [Vec<u32>; 4] = Default::default();
        let mut weights: [Vec<f32>; 4] = Default::default();
        for &(image, row, col) in cells {
            let [_, h, w] = grids[image];
            let (y, x) = (linspace(h, row), linspace(w, col));
            let (y0, x0) = (y.floor() as usize, x.floor() as usize);
            let (y1, x1) = ((y.ceil() as usize).min(side - 1), (x.ceil() as usize).min(side - 1));
            let (dy, dx) = (y - y0 as f32, x - x0 as f32);
            let corners = [
                (y0 * side + x0, (1.0 - dy) * (1.0 - dx)),
                (y0 * side + x1, (1.0 - dy) * dx),
                (y1 * side + x0, dy * (1.0 - dx)),
                (y1 * side + x1, dy * dx),
            ];
            for (k, (index, weight)) in corners.into_iter().enumerate() {
                indices[k].push(index as u32);
                weights[k].push(weight);
            }
        }
        let count = cells.len();
        let mut total: Option<Tensor> = None;
        for k in 0..4 {
            let index = Tensor::from_vec(indices[k].clone(), count, device)?;
            let weight = Tensor::from_vec(weights[k].clone(), (count, 1), device)?.to_dtype(self.pos_embed.dtype())?;
            let term = self.pos_embed.index_select(&index, 0)?.broadcast_mul(&weight)?;
            total = Some(match total {
                None => term,
                Some(sum) => (sum + term)?,
            });
        }
        Ok(total.expect("four corners"))
    }

    /// `(cos, sin)` of shape `(patches, head_dim)` in f32: the first half of the rotary
    /// frequencies follows the row, the second half the column.
    fn rotary_tables(&self, cells: &[(usize, usize, usize)], device: &Device) -> candle_core::Result<(Tensor, Tensor)> {
        let head_dim = self.config.hidden_size / self.config.num_heads;
        let dim = head_dim / 2;
        let inv_freq: Vec<f32> = (0..dim).step_by(2).map(|i| 1.0 / ROPE_THETA.powf(i as f32 / dim as f32)).collect();
        let mut cos = Vec::with_capacity(cells.len() * head_dim);
        let mut sin = Vec::with_capacity(cells.len() * head_dim);
        for &(_, row, col) in cells {
            let angles: Vec<f32> = inv_freq
                .iter()
                .map(|f| row as f32 * f)
                .chain(inv_freq.iter().map(|f| col as f32 * f))
                .collect();
            for _ in 0..2 {
                cos.extend(angles.iter().map(|a| a.cos()));
                sin.extend(angles.iter().map(|a| a.sin()));
            }
        }
        let shape = (cells.len(), head_dim);
        Ok((Tensor::from_vec(cos, shape, device)?, Tensor::from_vec(sin, shape, device)?))
    }
}

/// Lists `(image, row, col)` of every patch in the order the image processor emits them:
/// frames, then `merge x merge` blocks in row-major order, then patches inside a block.
pub fn merge_order_cells(grids: &[[usize; 3]], merge: usize) -> Vec<(usize, usize, usize)> {
    let mut cells = Vec::new();
    for (image, &[t, h, w]) in grids.iter().enumerate() {
        for _ in 0..t {
            for block_row in 0..h / merge {
                for block_col in 0..w / merge {
                    for inner_row in 0..merge {
                        for inner_col in 0..merge {
                            cells.push((image, block_row * merge + inner_row, block_col * merge + inner_col));
                        }
                    }
                }
            }
        }
    }
    cells
}

impl VisionBlock {
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        xs: &Tensor,
        frame_bounds: &[usize],
        cos: &Tensor,
        sin: &Tensor,
        num_heads: usize,
        act: Activation,
        pass: &Pass,
    ) -> candle_core::Result<Tensor> {
        let (patches, width) = xs.dims2()?;
        let head_dim = width / num_heads;
        let normed = self.norm1.forward(xs)?;
        // (3, heads, patches, head_dim)
        let qkv = self
            .qkv
            .forward(&normed, pass)?
            .reshape((patches, 3, num_heads, head_dim))?
            .permute((1, 2, 0, 3))?
            .to_dtype(ops::compute_dtype(xs.dtype()))?;
        let cos = cos.to_dtype(qkv.dtype())?.unsqueeze(0)?;
        let sin = sin.to_dtype(qkv.dtype())?.unsqueeze(0)?;
        let q = ops::apply_rotary(&qkv.get(0)?, &cos, &sin)?;
        let k = ops::apply_rotary(&qkv.get(1)?, &cos, &sin)?;
        let v = qkv.get(2)?;

        // Patches attend only within their own frame.
        let scale = 1.0 / (head_dim as f64).sqrt();
        let mut outputs = Vec::with_capacity(frame_bounds.len());
        for bounds in frame_bounds.windows(2) {
            let (start, len) = (bounds[0], bounds[1] - bounds[0]);
            let q = q.narrow(1, start, len)?.contiguous()?;
            let k = k.narrow(1, start, len)?.contiguous()?;
            let v = v.narrow(1, start, len)?.contiguous()?;
            let probs = ops::softmax_last_dim(&(q.matmul(&k.t()?)? * scale)?)?;
            // (heads, len, head_dim) to (len, width)
            outputs.push(probs.matmul(&v)?.transpose(0, 1)?.reshape((len, width))?);
        }
        let attended = Tensor::cat(&outputs, 0)?.to_dtype(xs.dtype())?;
        let xs = (xs + self.proj.forward(&attended, pass)?)?;
        let hidden = ops::activate(&self.fc1.forward(&self.norm2.forward(&xs)?, pass)?, act)?;
        xs + self.fc2.forward(&hidden, pass)?
    }
}

impl PatchMerger {
    fn load(config: &VisionConfig, prefix: &str, postshuffle_norm: bool, loader: &mut Loader) -> Result<Self> {
        let merged_width = config.hidden_size * config.spatial_merge_size.pow(2);
        let norm_width = if postshuffle_norm { merged_width } else { config.hidden_size };
        let group = ParamGroup::Projector;
        Ok(PatchMerger {
            norm: LayerNorm::load(&format!("{prefix}.norm"), norm_width, group, loader)?,
            postshuffle_norm,
            fc1: loader.linear(&format!("{prefix}.linear_fc1"), merged_width, merged_width, true, group)?,
            fc2: loader.linear(&format!("{prefix}.linear_fc2"), merged_width, config.out_hidden_size, true, group)?,
            merged_width,
        })
    }

    /// `(patches, width)` to `(patches / merge^2, out_width)`.
    fn forward(&self, xs: &Tensor, pass: &Pass) -> candle_core::Result<Tensor> {
        let merged = if self.postshuffle_norm {
            self.norm.forward(&xs.reshape(((), self.merged_width))?)?
        } else {
            self.norm.forward(xs)?.reshape(((), self.merged_width))?
        };
        // Exact GELU, as `nn.GELU()` in the Transformers reference.
        let hidden = self.fc1.forward(&merged, pass)?.gelu_erf()?;
        self.fc2.forward(&hidden, pass)
    }
}
