//! Differentiable tensor compositions.
//!
//! candle 0.11 records no backward pass for its fused `softmax_last_dim`, the fast
//! `rms_norm`/`layer_norm` paths, the rotary kernels and `sdpa`, so gradients would stop
//! silently at them. Every function here is built from elementary ops that do record one.

use candle_core::{DType, Result, Tensor, D};

use crate::config::Activation;

/// Element type for numerically sensitive steps (norms, attention scores): f32, or f64
/// when the weights are f64 (finite-difference gradient checks).
pub fn compute_dtype(dtype: DType) -> DType {
    if dtype == DType::F64 {
        DType::F64
    } else {
        DType::F32
    }
}

/// Softmax over the last dimension. The row maximum is subtracted for stability and
/// detached, which leaves the gradient unchanged because softmax is shift invariant.
pub fn softmax_last_dim(xs: &Tensor) -> Result<Tensor> {
    let max = xs.max_keepdim(D::Minus1)?.detach();
    let exp = xs.broadcast_sub(&max)?.exp()?;
    let sum = exp.sum_keepdim(D::Minus1)?;
    exp.broadcast_div(&sum)
}

/// Log-softmax over the last dimension, `(..., vocab)`.
pub fn log_softmax_last_dim(xs: &Tensor) -> Result<Tensor> {
    let max = xs.max_keepdim(D::Minus1)?.detach();
    let shifted = xs.broadcast_sub(&max)?;
    let log_sum = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    shifted.broadcast_sub(&log_sum)
}

/// RMSNorm over the last dimension: `x / sqrt(mean(x^2) + eps) * weight`, computed in
/// [`compute_dtype`].
pub fn rms_norm(xs: &Tensor, weight: &Tensor, eps: f64) -> Result<Tensor> {
    let dtype = xs.dtype();
    let xs = xs.to_dtype(compute_dtype(dtype))?;
    let mean_square = xs.sqr()?.mean_keepdim(D::Minus1)?;
    let normed = xs.broadcast_div(&(mean_square + eps)?.sqrt()?)?;
    normed.to_dtype(dtype)?.broadcast_mul(weight)
}

/// LayerNorm over the last dimension with the biased variance, computed in
/// [`compute_dtype`].
pub fn layer_norm(xs: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    let dtype = xs.dtype();
    let xs = xs.to_dtype(compute_dtype(dtype))?;
    let mean = xs.mean_keepdim(D::Minus1)?;
    let centered = xs.broadcast_sub(&mean)?;
    let variance = centered.sqr()?.mean_keepdim(D::Minus1)?;
    let normed = centered.broadcast_div(&(variance + eps)?.sqrt()?)?;
    normed.to_dtype(dtype)?.broadcast_mul(weight)?.broadcast_add(bias)
}

/// Applies `act` elementwise.
pub fn activate(xs: &Tensor, act: Activation) -> Result<Tensor> {
    match act {
        Activation::Silu => xs.silu(),
        Activation::Gelu => xs.gelu_erf(),
        Activation::GeluPytorchTanh => xs.gelu(),
    }
}

/// Rotates the two halves of the last dimension: `[x1, x2] -> [-x2, x1]`.
pub fn rotate_half(xs: &Tensor) -> Result<Tensor> {
    let half = xs.dim(D::Minus1)? / 2;
    let x1 = xs.narrow(D::Minus1, 0, half)?;
    let x2 = xs.narrow(D::Minus1, half, half)?;
    Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)
}

/// Applies rotary embeddings in the rotate-half layout: `x * cos + rotate_half(x) * sin`.
/// `cos` and `sin` broadcast against `xs`.
pub fn apply_rotary(xs: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    xs.broadcast_mul(cos)? + rotate_half(xs)?.broadcast_mul(sin)?
}

/// Repeats key/value heads for grouped-query attention: `(batch, kv_heads, seq, head_dim)`
/// to `(batch, kv_heads * groups, seq, head_dim)`.
pub fn repeat_kv(xs: &Tensor, groups: usize) -> Result<Tensor> {
    if groups == 1 {
        return Ok(xs.clone());
    }
    let (batch, kv_heads, seq, head_dim) = xs.dims4()?;
    xs.unsqueeze(2)?
        .broadcast_as((batch, kv_heads, groups, seq, head_dim))?
        .reshape((batch, kv_heads * groups, seq, head_dim))
}
