//! The Qwen3 decoder: grouped-query attention with per-head RMSNorm on queries and keys,
//! SwiGLU MLP, pre-norm residual blocks. Shared by Qwen3 and Qwen3-VL.

use anyhow::Result;
use candle_core::{DType, Tensor};

use crate::config::TextConfig;
use crate::lora::{Linear, Pass};
use crate::ops;
use crate::params::{Loader, ParamGroup};

/// Keys and values of earlier tokens, per layer: `(batch, kv_heads, cached_len, head_dim)`.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    pub layers: Vec<Option<(Tensor, Tensor)>>,
}

impl KvCache {
    /// Number of cached token columns (0 when empty).
    pub fn len(&self) -> usize {
        self.layers
            .first()
            .and_then(|l| l.as_ref())
            .map_or(0, |(k, _)| k.dim(2).unwrap_or(0))
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps only the batch rows in `rows`, e.g. to drop finished sequences.
    pub fn select_rows(&mut self, rows: &Tensor) -> candle_core::Result<()> {
        for (k, v) in self.layers.iter_mut().flatten() {
            *k = k.index_select(rows, 0)?;
            *v = v.index_select(rows, 0)?;
        }
        Ok(())
    }
}

#[derive(Clone)]
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    q_norm: Tensor,
    k_norm: Tensor,
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
    eps: f64,
}

#[derive(Clone)]
struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

#[derive(Clone)]
struct DecoderLayer {
    self_attn: Attention,
    mlp: Mlp,
    input_layernorm: Tensor,
    post_attention_layernorm: Tensor,
}

/// The language model: embeddings, decoder layers, final norm and output head.
#[derive(Clone)]
pub struct TextModel {
    pub(crate) embed_tokens: Tensor,
    layers: Vec<DecoderLayer>,
    norm: Tensor,
    /// `(vocab, hidden)`; the embedding table when tied.
    lm_head: Tensor,
    pub(crate) config: TextConfig,
}

/// Inputs to the decoder besides the hidden states.
pub(crate) struct DecoderInputs<'a> {
    /// `(batch, seq, head_dim)` each.
    pub cos: &'a Tensor,
    pub sin: &'a Tensor,
    /// Additive mask `(batch, 1, seq, cached + seq)`: 0 where attention is allowed.
    pub mask: &'a Tensor,
    /// Deepstack features added after layer `i` to the visual positions: the gather index
    /// `(batch * seq,)` into `[zeros; features]` rows, and one `(visual_tokens, hidden)`
    /// tensor per level.
    pub deepstack: Option<(&'a Tensor, &'a [Tensor])>,
}

impl TextModel {
    /// Loads the language model under `prefix` (`model.language_model` for Qwen3-VL,
    /// `model` for Qwen3); the untied head is `lm_head.weight`.
    pub(crate) fn load(config: &TextConfig, prefix: &str, loader: &mut Loader) -> Result<Self> {
        let hidden = config.hidden_size;
        let embed_tokens = loader.tensor(
            &format!("{prefix}.embed_tokens.weight"),
            &[config.vocab_size, hidden],
            ParamGroup::Embeddings,
        )?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for index in 0..config.num_hidden_layers {
            layers.push(DecoderLayer::load(config, &format!("{prefix}.layers.{index}"), loader)?);
        }
        let norm = loader.tensor(&format!("{prefix}.norm.weight"), &[hidden], ParamGroup::LanguageNorm)?;
        let lm_head = if config.tie_word_embeddings {
            embed_tokens.clone()
        } else {
            loader.tensor("lm_head.weight", &[config.vocab_size, hidden], ParamGroup::LmHead)?
        };
        Ok(TextModel { embed_tokens, layers, norm, lm_head, config: config.clone() })
    }

    /// Looks up token embeddings: `(batch, seq)` ids to `(batch, seq, hidden)`.
    pub fn embed(&self, input_ids: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, seq) = input_ids.dims2()?;
        let flat = input_ids.flatten_all()?;
        self.embed_tokens
            .index_select(&flat, 0)?
            .reshape((batch, seq, self.config.hidden_size))
    }

    /// Runs the decoder layers and the final norm: `(batch, seq, hidden)` in and out.
    /// With a cache, new keys and values are appended and earlier ones attended to.
    pub(crate) fn forward_hidden(
        &self,
        mut xs: Tensor,
        inputs: &DecoderInputs,
        mut cache: Option<&mut KvCache>,
        pass: &Pass,
    ) -> candle_core::Result<Tensor> {
        if let Some(cache) = cache.as_deref_mut() {
            if cache.layers.len() != self.layers.len() {
                cache.layers = vec![None; self.layers.len()];
            }
        }
        for (index, layer) in self.layers.iter().enumerate() {
            let slot = cache.as_deref_mut().map(|c| &mut c.layers[index]);
            xs = layer.forward(&xs, inputs, slot, pass)?;
            if let Some((gather, levels)) = inputs.deepstack {
                if let Some(features) = levels.get(index) {
                    xs = add_at_positions(&xs, gather, features)?;
                }
            }
        }
        ops::rms_norm(&xs, &self.norm, self.config.rms_norm_eps)
    }

    /// Projects hidden states `(batch, seq, hidden)` to logits `(batch, seq, vocab)`.
    pub fn logits(&self, hidden: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, seq, width) = hidden.dims3()?;
        hidden
            .reshape((batch * seq, width))?
            .matmul(&self.lm_head.t()?)?
            .reshape((batch, seq, ()))
    }

    /// Element type of the weights.
    pub fn dtype(&self) -> DType {
        self.embed_tokens.dtype()
    }
}

/// Adds `features` (`(visual, hidden)`) to the rows of `xs` (`(batch, seq, hidden)`) that
/// `gather` maps to them; `gather[i] = 0` leaves row `i` unchanged and `k + 1` adds
/// `features[k]`. A gather is used instead of a scatter because `index_select` records a
/// backward pass.
pub(crate) fn add_at_positions(xs: &Tensor, gather: &Tensor, features: &Tensor) -> candle_core::Result<Tensor> {
    let (batch, seq, hidden) = xs.dims3()?;
    let zero = Tensor::zeros((1, hidden), xs.dtype(), xs.device())?;
    let table = Tensor::cat(&[&zero, &features.to_dtype(xs.dtype())?], 0)?;
    let spread = table.index_select(gather, 0)?.reshape((batch, seq, hidden))?;
    xs + spread
}

impl DecoderLayer {
    fn load(config: &TextConfig, prefix: &str, loader: &mut Loader) -> Result<Self> {
        let hidden = config.hidden_size;
        let head_dim = config.head_dim;
        let q_width = config.num_attention_heads * head_dim;
        let kv_width = config.num_key_value_heads * head_dim;
        let bias = config.attention_bias;
        let group = ParamGroup::LanguageLinear;
        let attn = format!("{prefix}.self_attn");
        let self_attn = Attention {
            q_proj: loader.linear(&format!("{attn}.q_proj"), hidden, q_width, bias, group)?,
            k_proj: loader.linear(&format!("{attn}.k_proj"), hidden, kv_width, bias, group)?,
            v_proj: loader.linear(&format!("{attn}.v_proj"), hidden, kv_width, bias, group)?,
            o_proj: loader.linear(&format!("{attn}.o_proj"), q_width, hidden, bias, group)?,
            q_norm: loader.tensor(&format!("{attn}.q_norm.weight"), &[head_dim], ParamGroup::LanguageNorm)?,
            k_norm: loader.tensor(&format!("{attn}.k_norm.weight"), &[head_dim], ParamGroup::LanguageNorm)?,
            num_heads: config.num_attention_heads,
            num_kv_heads: config.num_key_value_heads,
            head_dim,
            eps: config.rms_norm_eps,
        };
        let intermediate = config.intermediate_size;
        let mlp_prefix = format!("{prefix}.mlp");
        let mlp = Mlp {
            gate_proj: loader.linear(&format!("{mlp_prefix}.gate_proj"), hidden, intermediate, false, group)?,
            up_proj: loader.linear(&format!("{mlp_prefix}.up_proj"), hidden, intermediate, false, group)?,
            down_proj: loader.linear(&format!("{mlp_prefix}.down_proj"), intermediate, hidden, false, group)?,
        };
        Ok(DecoderLayer {
            self_attn,
            mlp,
            input_layernorm: loader.tensor(
                &format!("{prefix}.input_layernorm.weight"),
                &[hidden],
                ParamGroup::LanguageNorm,
            )?,
            post_attention_layernorm: loader.tensor(
                &format!("{prefix}.post_attention_layernorm.weight"),
                &[hidden],
                ParamGroup::LanguageNorm,
            )?,
        })
    }

    fn forward(
        &self,
        xs: &Tensor,
        inputs: &DecoderInputs,
        cache: Option<&mut Option<(Tensor, Tensor)>>,
        pass: &Pass,
    ) -> candle_core::Result<Tensor> {
        let eps = self.self_attn.eps;
        let normed = ops::rms_norm(xs, &self.input_layernorm, eps)?;
        let attended = self.self_attn.forward(&normed, inputs, cache, pass)?;
        let xs = (xs + attended)?;
        let normed = ops::rms_norm(&xs, &self.post_attention_layernorm, eps)?;
        let gate = self.mlp.gate_proj.forward(&normed, pass)?.silu()?;
        let up = self.mlp.up_proj.forward(&normed, pass)?;
        let down = self.mlp.down_proj.forward(&(gate * up)?, pass)?;
        xs + down
    }
}

impl Attention {
    fn forward(
        &self,
        xs: &Tensor,
        inputs: &DecoderInputs,
        cache: Option<&mut Option<(Tensor, Tensor)>>,
        pass: &Pass,
    ) -> candle_core::Result<Tensor> {
        let (batch, seq, _) = xs.dims3()?;
        let split_heads = |t: Tensor, heads: usize| {
            t.reshape((batch, seq, heads, self.head_dim))?.transpose(1, 2)
        };
        // (batch, heads, seq, head_dim)
        let q = split_heads(self.q_proj.forward(xs, pass)?, self.num_heads)?;
        let k = split_heads(self.k_proj.forward(xs, pass)?, self.num_kv_heads)?;
        let v = split_heads(self.v_proj.forward(xs, pass)?, self.num_kv_heads)?.contiguous()?;
        let q = ops::rms_norm(&q, &self.q_norm, self.eps)?;
        let k = ops::rms_norm(&k, &self.k_norm, self.eps)?;
        // (batch, 1, seq, head_dim) so the tables broadcast over heads.
        let cos = inputs.cos.unsqueeze(1)?;
        let sin = inputs.sin.unsqueeze(1)?;
        let q = ops::apply_rotary(&q, &cos, &sin)?;
        let k = ops::apply_rotary(&k, &cos, &sin)?.contiguous()?;

        let (k, v) = match cache {
            None => (k, v),
            Some(slot) => {
                let (k, v) = match slot.take() {
                    None => (k, v),
                    Some((past_k, past_v)) => {
                        (Tensor::cat(&[&past_k, &k], 2)?, Tensor::cat(&[&past_v, &v], 2)?)
                    }
                };
                *slot = Some((k.clone(), v.clone()));
                (k, v)
            }
        };
        let groups = self.num_heads / self.num_kv_heads;
        let k = ops::repeat_kv(&k, groups)?;
        let v = ops::repeat_kv(&v, groups)?;

        // Scores in f32 so that bf16/f16 weights do not lose the softmax precision.
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let compute = ops::compute_dtype(q.dtype());
        let scores = (q.to_dtype(compute)?.matmul(&k.to_dtype(compute)?.t()?)? * scale)?;
        let scores = scores.broadcast_add(&inputs.mask.to_dtype(compute)?)?;
        let probs = ops::softmax_last_dim(&scores)?.to_dtype(v.dtype())?;
        let context = probs.matmul(&v)?; // (batch, heads, seq, head_dim)
        let context = context.transpose(1, 2)?.reshape((batch, seq, self.num_heads * self.head_dim))?;
        self.o_proj.forward(&context, pass)
    }
}
