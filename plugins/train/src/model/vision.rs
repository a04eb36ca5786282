//! ViT-style patch encoder and the projector into the language model's width.

use anyhow::Result;
use candle_core::{DType, Device, Tensor};

use super::config::TinyVlmConfig;
use super::layers::{Attention, LayerNorm, Linear};
use super::params::{Init, ParamStore};
use crate::image::Image;

struct VisionLayer {
    norm1: LayerNorm,
    attention: Attention,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

/// Patch embedding, learned positions, pre-norm bidirectional transformer layers, final norm.
pub struct VisionEncoder {
    patch_embed: Linear,
    /// `(patches, vision_hidden_size)`.
    position_embedding: Tensor,
    layers: Vec<VisionLayer>,
    post_norm: LayerNorm,
    image_size: usize,
    patch_size: usize,
}

impl VisionEncoder {
    pub fn new(store: &mut ParamStore, config: &TinyVlmConfig) -> Result<Self> {
        let width = config.vision_hidden_size;
        let std = config.init_std;
        let patch_dim = 3 * config.patch_size * config.patch_size;
        let patch_embed = Linear::new(store, "vision.patch_embed", patch_dim, width, true, std)?;
        let position_embedding =
            store.var("vision.position_embedding", &[config.tokens_per_image(), width], Init::Uniform(std))?;
        let mut layers = Vec::with_capacity(config.vision_layers);
        for i in 0..config.vision_layers {
            let name = format!("vision.layers.{i}");
            layers.push(VisionLayer {
                norm1: LayerNorm::new(store, &format!("{name}.norm1"), width, 1e-6)?,
                attention: Attention::new(store, &format!("{name}.attn"), width, config.vision_heads, true, std, ["q", "k", "v", "o"])?,
                norm2: LayerNorm::new(store, &format!("{name}.norm2"), width, 1e-6)?,
                fc1: Linear::new(store, &format!("{name}.mlp.fc1"), width, config.vision_intermediate_size, true, std)?,
                fc2: Linear::new(store, &format!("{name}.mlp.fc2"), config.vision_intermediate_size, width, true, std)?,
            });
        }
        let post_norm = LayerNorm::new(store, "vision.post_norm", width, 1e-6)?;
        Ok(Self { patch_embed, position_embedding, layers, post_norm, image_size: config.image_size, patch_size: config.patch_size })
    }

    /// Resizes each image, normalises channels to `[-1, 1]` and cuts patches in row-major
    /// order: returns `(images, patches, 3 * patch_size^2)`.
    fn patchify(&self, images: &[Image], dtype: DType, device: &Device) -> Result<Tensor> {
        let side = self.image_size / self.patch_size;
        let patch = self.patch_size;
        let mut values = Vec::with_capacity(images.len() * 3 * self.image_size * self.image_size);
        for image in images {
            let resized = image.resized(self.image_size, self.image_size);
            for py in 0..side {
                for px in 0..side {
                    for c in 0..3 {
                        for y in 0..patch {
                            for x in 0..patch {
                                let value = resized.at(c, py * patch + y, px * patch + x);
                                values.push(value * 2.0 - 1.0);
                            }
                        }
                    }
                }
            }
        }
        let shape = (images.len(), side * side, 3 * patch * patch);
        Ok(Tensor::from_vec(values, shape, device)?.to_dtype(dtype)?)
    }

    /// Encodes images to `(images, patches, vision_hidden_size)`.
    pub fn forward(&self, images: &[Image], dtype: DType, device: &Device) -> Result<Tensor> {
        let patches = self.patchify(images, dtype, device)?;
        let mut x = self.patch_embed.forward(&patches)?.broadcast_add(&self.position_embedding)?;
        for layer in &self.layers {
            let h = layer.norm1.forward(&x)?;
            let q = layer.attention.split_heads(&layer.attention.q.forward(&h)?)?;
            let k = layer.attention.split_heads(&layer.attention.k.forward(&h)?)?;
            let v = layer.attention.split_heads(&layer.attention.v.forward(&h)?)?;
            x = (x + layer.attention.attend(&q, &k, &v, None)?)?;
            let h = layer.norm2.forward(&x)?;
            x = (&x + layer.fc2.forward(&layer.fc1.forward(&h)?.gelu_erf()?)?)?;
        }
        self.post_norm.forward(&x)
    }
}

/// Two-layer GELU MLP from the vision width to the language model's width.
pub struct Projector {
    fc1: Linear,
    fc2: Linear,
}

impl Projector {
    pub fn new(store: &mut ParamStore, config: &TinyVlmConfig) -> Result<Self> {
        let std = config.init_std;
        Ok(Self {
            fc1: Linear::new(store, "projector.fc1", config.vision_hidden_size, config.hidden_size, true, std)?,
            fc2: Linear::new(store, "projector.fc2", config.hidden_size, config.hidden_size, true, std)?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.fc2.forward(&self.fc1.forward(x)?.gelu_erf()?)
    }
}
