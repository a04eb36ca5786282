//! Differentiable building blocks: every operation here records a backward pass in
//! candle 0.11 (no fused softmax, norm or rotary kernels).

use anyhow::Result;
use candle_core::{DType, Device, Tensor, D};

use super::params::{Init, ParamStore};

/// A dense layer `y = x Wᵀ + b` over the last dimension.
pub struct Linear {
    /// `(out, in)`.
    weight: Tensor,
    /// `(out,)`, absent in the language model's projections.
    bias: Option<Tensor>,
}

impl Linear {
    pub fn new(store: &mut ParamStore, name: &str, input: usize, output: usize, bias: bool, std: f64) -> Result<Self> {
        let weight = store.var(&format!("{name}.weight"), &[output, input], Init::Uniform(std))?;
        let bias = if bias { Some(store.var(&format!("{name}.bias"), &[output], Init::Const(0.0))?) } else { None };
        Ok(Self { weight, bias })
    }

    /// `(..., in)` to `(..., out)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let input = *dims.last().unwrap_or(&0);
        let rows = x.elem_count() / input.max(1);
        let y = x.reshape((rows, input))?.matmul(&self.weight.t()?)?;
        let y = match &self.bias {
            Some(bias) => y.broadcast_add(bias)?,
            None => y,
        };
        let mut out_dims = dims;
        *out_dims.last_mut().expect("a linear input has at least one dimension") = self.weight.dim(0)?;
        Ok(y.reshape(out_dims)?)
    }
}

/// Root-mean-square normalisation over the last dimension, with a learned scale.
pub struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    pub fn new(store: &mut ParamStore, name: &str, size: usize, eps: f64) -> Result<Self> {
        Ok(Self { weight: store.var(&format!("{name}.weight"), &[size], Init::Const(1.0))?, eps })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mean_square = x.sqr()?.mean_keepdim(D::Minus1)?;
        let inverse_rms = (mean_square + self.eps)?.sqrt()?.recip()?;
        Ok(x.broadcast_mul(&inverse_rms)?.broadcast_mul(&self.weight)?)
    }
}

/// Layer normalisation over the last dimension, with learned scale and shift.
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub fn new(store: &mut ParamStore, name: &str, size: usize, eps: f64) -> Result<Self> {
        let weight = store.var(&format!("{name}.weight"), &[size], Init::Const(1.0))?;
        let bias = store.var(&format!("{name}.bias"), &[size], Init::Const(0.0))?;
        Ok(Self { weight, bias, eps })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let centred = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;
        let variance = centred.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centred.broadcast_div(&(variance + self.eps)?.sqrt()?)?;
        Ok(normed.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)?)
    }
}

/// Softmax over the last dimension from differentiable parts. The row maximum is
/// detached: subtracting any constant leaves softmax unchanged, so its gradient is zero.
pub fn softmax_last(x: &Tensor) -> Result<Tensor> {
    let shifted = x.broadcast_sub(&x.max_keepdim(D::Minus1)?.detach())?;
    let exp = shifted.exp()?;
    Ok(exp.broadcast_div(&exp.sum_keepdim(D::Minus1)?)?)
}

/// Log-softmax over the last dimension from differentiable parts.
pub fn log_softmax_last(x: &Tensor) -> Result<Tensor> {
    let shifted = x.broadcast_sub(&x.max_keepdim(D::Minus1)?.detach())?;
    let log_sum = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    Ok(shifted.broadcast_sub(&log_sum)?)
}

/// Cosine and sine tables `(len, head_dim)` of rotary positions `start..start + len`, in
/// the half-split layout (frequency `i` acts on dimensions `i` and `i + head_dim / 2`).
pub fn rotary_tables(start: usize, len: usize, head_dim: usize, theta: f64, dtype: DType, device: &Device) -> Result<(Tensor, Tensor)> {
    let half = head_dim / 2;
    let mut cos = Vec::with_capacity(len * head_dim);
    let mut sin = Vec::with_capacity(len * head_dim);
    for position in start..start + len {
        // The same frequencies cover both halves of the head.
        for _ in 0..2 {
            for i in 0..half {
                let frequency = theta.powf(-(2.0 * i as f64) / head_dim as f64);
                let angle = position as f64 * frequency;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
    }
    let cos = Tensor::from_vec(cos, (len, head_dim), device)?.to_dtype(dtype)?;
    let sin = Tensor::from_vec(sin, (len, head_dim), device)?.to_dtype(dtype)?;
    Ok((cos, sin))
}

/// Rotates `x` of shape `(batch, heads, len, head_dim)` by the tables of [`rotary_tables`].
pub fn apply_rotary(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let half = x.dim(D::Minus1)? / 2;
    let first = x.narrow(D::Minus1, 0, half)?;
    let second = x.narrow(D::Minus1, half, half)?;
    let rotated = Tensor::cat(&[&second.neg()?, &first], D::Minus1)?;
    Ok((x.broadcast_mul(cos)? + rotated.broadcast_mul(sin)?)?)
}

/// Multi-head attention projections shared by the vision encoder and the decoder.
pub struct Attention {
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub o: Linear,
    pub heads: usize,
}

impl Attention {
    pub fn new(store: &mut ParamStore, name: &str, width: usize, heads: usize, bias: bool, std: f64, names: [&str; 4]) -> Result<Self> {
        Ok(Self {
            q: Linear::new(store, &format!("{name}.{}", names[0]), width, width, bias, std)?,
            k: Linear::new(store, &format!("{name}.{}", names[1]), width, width, bias, std)?,
            v: Linear::new(store, &format!("{name}.{}", names[2]), width, width, bias, std)?,
            o: Linear::new(store, &format!("{name}.{}", names[3]), width, width, bias, std)?,
            heads,
        })
    }

    /// `(batch, len, width)` to `(batch, heads, len, head_dim)`.
    pub fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (batch, len, width) = x.dims3()?;
        Ok(x.reshape((batch, len, self.heads, width / self.heads))?.transpose(1, 2)?.contiguous()?)
    }

    /// Attends `q` `(batch, heads, len, head_dim)` to `k`, `v` `(batch, heads, total, head_dim)`
    /// with an optional additive mask `(len, total)`, then merges heads and projects out:
    /// returns `(batch, len, width)`.
    pub fn attend(&self, q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let (batch, heads, len, head_dim) = q.dims4()?;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?.contiguous()?)? * scale)?;
        let scores = match mask {
            Some(mask) => scores.broadcast_add(mask)?,
            None => scores,
        };
        let weights = softmax_last(&scores)?;
        let context = weights.matmul(v)?; // (batch, heads, len, head_dim)
        let merged = context.transpose(1, 2)?.contiguous()?.reshape((batch, len, heads * head_dim))?;
        self.o.forward(&merged)
    }
}

/// Additive causal mask `(len, offset + len)`: query `i` (absolute position `offset + i`)
/// sees keys `0..=offset + i`. Masked entries are -1e9 rather than -inf so that f64
/// finite differences and backward passes stay free of `inf - inf`.
pub fn causal_mask(len: usize, offset: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let total = offset + len;
    let values: Vec<f64> = (0..len)
        .flat_map(|i| (0..total).map(move |j| if j <= offset + i { 0.0 } else { -1e9 }))
        .collect();
    Ok(Tensor::from_vec(values, (len, total), device)?.to_dtype(dtype)?)
}
