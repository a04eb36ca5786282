//! Creation of named trainable variables with a seeded initialisation.

use std::collections::BTreeMap;

use anyhow::Result;
use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Initial values of a new variable.
#[derive(Debug, Clone, Copy)]
pub enum Init {
    /// Uniform with the given standard deviation, centred on 0.
    Uniform(f64),
    /// Every entry equal to the value (norm weights 1, biases 0).
    Const(f64),
}

/// Creates variables in a fixed order from one seeded stream, so the same seed gives the
/// same weights on every machine (candle's CPU `randn` uses an unseeded thread RNG).
pub struct ParamStore {
    vars: BTreeMap<String, Var>,
    rng: ChaCha8Rng,
    dtype: DType,
    device: Device,
}

impl ParamStore {
    pub fn new(seed: u64, dtype: DType, device: &Device) -> Self {
        Self { vars: BTreeMap::new(), rng: ChaCha8Rng::seed_from_u64(seed), dtype, device: device.clone() }
    }

    /// Creates the variable `name` of `shape` and returns its tensor (which shares storage
    /// with the variable, so in-place updates reach every holder).
    pub fn var(&mut self, name: &str, shape: &[usize], init: Init) -> Result<Tensor> {
        let count: usize = shape.iter().product();
        let values: Vec<f64> = match init {
            Init::Uniform(std) => {
                let half_width = std * 3f64.sqrt();
                (0..count).map(|_| self.rng.random_range(-half_width..half_width)).collect()
            }
            Init::Const(value) => vec![value; count],
        };
        let tensor = Tensor::from_vec(values, shape, &self.device)?.to_dtype(self.dtype)?;
        let var = Var::from_tensor(&tensor)?;
        let out = var.as_tensor().clone();
        self.vars.insert(name.to_string(), var);
        Ok(out)
    }

    pub fn into_vars(self) -> BTreeMap<String, Var> {
        self.vars
    }
}
