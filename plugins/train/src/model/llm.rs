//! Decoder-only transformer: pre-norm RMSNorm, rotary positions, causal attention with an
//! optional KV cache, SwiGLU feed-forward blocks.

use anyhow::Result;
use candle_core::Tensor;

use super::config::TinyVlmConfig;
use super::layers::{apply_rotary, causal_mask, rotary_tables, Attention, Linear, RmsNorm};
use super::params::{Init, ParamStore};
use crate::policy::KvCache;

struct DecoderLayer {
    input_norm: RmsNorm,
    attention: Attention,
    post_attention_norm: RmsNorm,
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

pub struct Decoder {
    /// `(vocab, hidden)`.
    pub embed_tokens: Tensor,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    lm_head: Linear,
    head_dim: usize,
    rope_theta: f64,
}

impl Decoder {
    pub fn new(store: &mut ParamStore, config: &TinyVlmConfig, vocab_size: usize) -> Result<Self> {
        let hidden = config.hidden_size;
        let std = config.init_std;
        let embed_tokens = store.var("llm.embed_tokens.weight", &[vocab_size, hidden], Init::Uniform(std))?;
        let mut layers = Vec::with_capacity(config.num_layers);
        for i in 0..config.num_layers {
            let name = format!("llm.layers.{i}");
            layers.push(DecoderLayer {
                input_norm: RmsNorm::new(store, &format!("{name}.input_norm"), hidden, config.rms_norm_eps)?,
                attention: Attention::new(
                    store,
                    &format!("{name}.self_attn"),
                    hidden,
                    config.num_heads,
                    false,
                    std,
                    ["q_proj", "k_proj", "v_proj", "o_proj"],
                )?,
                post_attention_norm: RmsNorm::new(store, &format!("{name}.post_attention_norm"), hidden, config.rms_norm_eps)?,
                gate_proj: Linear::new(store, &format!("{name}.mlp.gate_proj"), hidden, config.intermediate_size, false, std)?,
                up_proj: Linear::new(store, &format!("{name}.mlp.up_proj"), hidden, config.intermediate_size, false, std)?,
                down_proj: Linear::new(store, &format!("{name}.mlp.down_proj"), config.intermediate_size, hidden, false, std)?,
            });
        }
        let norm = RmsNorm::new(store, "llm.norm", hidden, config.rms_norm_eps)?;
        let lm_head = Linear::new(store, "llm.lm_head", hidden, vocab_size, false, std)?;
        Ok(Self { embed_tokens, layers, norm, lm_head, head_dim: config.head_dim(), rope_theta: config.rope_theta })
    }

    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Runs input embeddings `(batch, len, hidden)` through the decoder and returns logits
    /// `(batch, len, vocab)`. With a cache (batch 1 only), the positions continue after the
    /// cached ones and the new keys and values are appended.
    pub fn forward(&self, embeds: &Tensor, mut cache: Option<&mut KvCache>) -> Result<Tensor> {
        let (_, len, _) = embeds.dims3()?;
        let offset = cache.as_ref().map_or(0, |c| c.len);
        let (dtype, device) = (embeds.dtype(), embeds.device());
        let (cos, sin) = rotary_tables(offset, len, self.head_dim, self.rope_theta, dtype, device)?;
        let mask = causal_mask(len, offset, dtype, device)?;
        let mut x = embeds.clone();
        for (index, layer) in self.layers.iter().enumerate() {
            let h = layer.input_norm.forward(&x)?;
            let attention = &layer.attention;
            let q = apply_rotary(&attention.split_heads(&attention.q.forward(&h)?)?, &cos, &sin)?;
            let mut k = apply_rotary(&attention.split_heads(&attention.k.forward(&h)?)?, &cos, &sin)?;
            let mut v = attention.split_heads(&attention.v.forward(&h)?)?;
            if let Some(cache) = cache.as_deref_mut() {
                if let Some((cached_k, cached_v)) = &cache.layers[index] {
                    k = Tensor::cat(&[cached_k, &k], 2)?;
                    v = Tensor::cat(&[cached_v, &v], 2)?;
                }
                cache.layers[index] = Some((k.clone(), v.clone()));
            }
            x = (x + attention.attend(&q, &k, &v, Some(&mask))?)?;
            let h = layer.post_attention_norm.forward(&x)?;
            let gated = layer.gate_proj.forward(&h)?.silu()?.mul(&layer.up_proj.forward(&h)?)?;
            x = (&x + layer.down_proj.forward(&gated)?)?;
        }
        if let Some(cache) = cache {
            cache.len += len;
        }
        self.lm_head.forward(&self.norm.forward(&x)?)
    }
}
