//! Rotary position embeddings for the language model, including multimodal RoPE (M-RoPE).
//!
//! Every token has a position on three axes `[t, h, w]`. Text tokens use the same value on
//! all three, so M-RoPE then equals 1-D RoPE. The tokens of an image get `t` from the frame,
//! and `h`, `w` from their cell in the merged patch grid, all offset by the position where
//! the image starts. The text after an image continues at `max(image positions) + 1`.

use anyhow::{bail, Result};
use candle_core::{DType, Device, Tensor};

use crate::config::MropeConfig;

/// Position of one token on the `[t, h, w]` axes.
pub type Position = [i64; 3];

/// Computes the M-RoPE positions of one unpadded token sequence.
///
/// `image_grids` holds `[t, h, w]` in patches (before merging) for each image, in the order
/// the images appear; each image occupies `t * h * w / merge_size^2` consecutive
/// `image_token_id` tokens. `start` is the position of the first token.
///
/// # Errors
/// When the number of image tokens and the grids disagree.
pub fn mrope_positions(
    tokens: &[u32],
    image_token_id: u32,
    image_grids: &[[usize; 3]],
    merge_size: usize,
    start: i64,
) -> Result<Vec<Position>> {
    let mut positions = Vec::with_capacity(tokens.len());
    let mut next = start;
    let mut index = 0;
    let mut images = image_grids.iter();
    while index < tokens.len() {
        if tokens[index] != image_token_id {
            positions.push([next; 3]);
            next += 1;
            index += 1;
            continue;
        }
        let Some(&[t, h, w]) = images.next() else {
            bail!("the prompt has more image placeholder runs than images ({})", image_grids.len());
        };
        let (grid_h, grid_w) = (h / merge_size, w / merge_size);
        let count = t * grid_h * grid_w;
        if index + count > tokens.len() || tokens[index..index + count].iter().any(|&id| id != image_token_id) {
            bail!(
                "image with grid [{t}, {h}, {w}] needs {count} consecutive image tokens at index {index}"
            );
        }
        let mut largest = next;
        for frame in 0..t {
            for row in 0..grid_h {
                for col in 0..grid_w {
                    let position = [next + frame as i64, next + row as i64, next + col as i64];
                    largest = largest.max(position[0]).max(position[1]).max(position[2]);
                    positions.push(position);
                }
            }
        }
        next = largest + 1;
        index += count;
    }
    if images.next().is_some() {
        bail!("{} images were given but the prompt has fewer image placeholder runs", image_grids.len());
    }
    Ok(positions)
}

/// Returns the axis (0 = t, 1 = h, 2 = w) that owns rotary frequency `j`.
pub fn frequency_axis(j: usize, mrope: Option<&MropeConfig>) -> usize {
    let Some(mrope) = mrope else { return 0 };
    let [t, h, w] = mrope.section;
    if mrope.interleaved {
        if j % 3 == 1 && j < 3 * h {
            1
        } else if j % 3 == 2 && j < 3 * w {
            2
        } else {
            0
        }
    } else if j < t {
        0
    } else if j < t + h {
        1
    } else {
        2
    }
}

/// Builds `(cos, sin)` of shape `(batch, seq, head_dim)` for the given positions.
///
/// Frequencies are `base^(-2j / head_dim)`; angles are computed in f32 as Transformers does,
/// then cast to `dtype`.
pub fn rotary_tables(
    positions: &[Vec<Position>],
    head_dim: usize,
    base: f64,
    mrope: Option<&MropeConfig>,
    dtype: DType,
    device: &Device,
) -> candle_core::Result<(Tensor, Tensor)> {
    let half = head_dim / 2;
    let inv_freq: Vec<f32> =
        (0..half).map(|j| 1.0 / (base as f32).powf((2 * j) as f32 / head_dim as f32)).collect();
    let axes: Vec<usize> = (0..half).map(|j| frequency_axis(j, mrope)).collect();
    let batch = positions.len();
    let seq = positions.first().map_or(0, |p| p.len());
    let mut cos = Vec::with_capacity(batch * seq * head_dim);
    let mut sin = Vec::with_capacity(batch * seq * head_dim);
    for row in positions {
        assert_eq!(row.len(), seq, "every row of a batch has the same length");
        for position in row {
            let angles: Vec<f32> =
                (0..half).map(|j| position[axes[j]] as f32 * inv_freq[j]).collect();
            for _ in 0..2 {
                cos.extend(angles.iter().map(|a| a.cos()));
                sin.extend(angles.iter().map(|a| a.sin()));
            }
        }
    }
    let cos = Tensor::from_vec(cos, (batch, seq, head_dim), device)?.to_dtype(dtype)?;
    let sin = Tensor::from_vec(sin, (batch, seq, head_dim), device)?.to_dtype(dtype)?;
    Ok((cos, sin))
}
