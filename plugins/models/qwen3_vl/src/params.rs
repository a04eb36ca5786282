//! Parameters read from a checkpoint, and which of them train.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use candle_core::{safetensors::MmapedSafetensors, DType, Device, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::lora::{Linear, LoraAdapter, LoraConfig};

/// A group of parameters that is trained or frozen as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamGroup {
    /// Token embedding table (also the output head when `tie_word_embeddings` is set).
    Embeddings,
    /// The q, k, v, o, gate, up and down projections of every language layer.
    LanguageLinear,
    /// RMSNorm weights of the language model.
    LanguageNorm,
    /// Output projection to the vocabulary (untied checkpoints only).
    LmHead,
    /// The vision patch merger and the deepstack mergers that project into the language model.
    Projector,
    /// The vision transformer: patch embedding, position table and blocks.
    Vision,
}

impl ParamGroup {
    /// Returns the optimizer group prefix of this group's variables in
    /// [`assay_train::Policy::named_vars`]: `vision`, `projector`, or `llm` for the
    /// language model.
    pub fn policy_prefix(self) -> &'static str {
        match self {
            ParamGroup::Vision => "vision",
            ParamGroup::Projector => "projector",
            _ => "llm",
        }
    }
}

/// Trainable parts: full fine-tuning of whole groups, LoRA on chosen linear layers, or both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainableParams {
    /// Groups trained in full. Empty with `lora: None` gives an inference-only model.
    pub full: Vec<ParamGroup>,
    /// LoRA adapters; their targets keep their base weights frozen unless also in `full`.
    pub lora: Option<LoraConfig>,
    /// Seed for the LoRA `A` initialisation. Default 0.
    #[serde(default)]
    pub seed: u64,
}

/// One trainable tensor.
#[derive(Debug, Clone)]
pub struct TrainableParam {
    /// Checkpoint name, or `<module>.lora_A.weight` / `<module>.lora_B.weight` for adapters.
    pub name: String,
    pub group: ParamGroup,
    pub var: Var,
}

/// Every weight in use, the trainable variables and the LoRA adapters.
#[derive(Debug, Clone, Default)]
pub struct Parameters {
    /// Current values by checkpoint name (trainable ones share storage with their `Var`).
    pub base: BTreeMap<String, Tensor>,
    pub trainable: Vec<TrainableParam>,
    /// LoRA adapters by module name.
    pub adapters: BTreeMap<String, LoraAdapter>,
}

impl Parameters {
    /// Groups the trainable variables for per-group optimizers. Adapters are listed under
    /// the group of the layer they adapt.
    pub fn groups(&self) -> BTreeMap<ParamGroup, Vec<Var>> {
        let mut groups: BTreeMap<ParamGroup, Vec<Var>> = BTreeMap::new();
        for param in &self.trainable {
            groups.entry(param.group).or_default().push(param.var.clone());
        }
        groups
    }

    /// Lists every trainable variable.
    pub fn vars(&self) -> Vec<Var> {
        self.trainable.iter().map(|p| p.var.clone()).collect()
    }
}

/// Reads tensors from memory-mapped shards and builds layers from them.
pub(crate) struct Loader<'a> {
    shards: &'a MmapedSafetensors,
    pub dtype: DType,
    pub device: Device,
    trainable: &'a TrainableParams,
    rng: ChaCha8Rng,
    pub params: Parameters,
}

impl<'a> Loader<'a> {
    pub fn new(
        shards: &'a MmapedSafetensors,
        dtype: DType,
        device: &Device,
        trainable: &'a TrainableParams,
    ) -> Result<Self> {
        if let Some(lora) = &trainable.lora {
            lora.validate()?;
        }
        Ok(Loader {
            shards,
            dtype,
            device: device.clone(),
            trainable,
            rng: ChaCha8Rng::seed_from_u64(trainable.seed),
            params: Parameters::default(),
        })
    }

    /// Loads `name`, checks its shape and makes it a `Var` when `group` trains in full.
    pub fn tensor(&mut self, name: &str, shape: &[usize], group: ParamGroup) -> Result<Tensor> {
        if let Some(existing) = self.params.base.get(name) {
            return Ok(existing.clone());
        }
        let tensor = self
            .shards
            .load(name, &self.device)
            .with_context(|| format!("checkpoint has no tensor `{name}` (or it cannot be read)"))?;
        if tensor.dims() != shape {
            bail!(
                "tensor `{name}` has shape {:?} but the config implies {:?}: config.json and the weights disagree",
                tensor.dims(),
                shape
            );
        }
        let tensor = tensor.to_dtype(self.dtype)?;
        let tensor = if self.trainable.full.contains(&group) {
            let var = Var::from_tensor(&tensor)?;
            let tensor = var.as_tensor().clone();
            self.params.trainable.push(TrainableParam { name: name.to_string(), group, var });
            tensor
        } else {
            tensor
        };
        self.params.base.insert(name.to_string(), tensor.clone());
        Ok(tensor)
    }

    /// Builds the linear layer `module` with weight `(out, in)`, an optional bias and a LoRA
    /// adapter when the LoRA config targets it.
    pub fn linear(
        &mut self,
        module: &str,
        in_features: usize,
        out_features: usize,
        bias: bool,
        group: ParamGroup,
    ) -> Result<Linear> {
        let weight = self.tensor(&format!("{module}.weight"), &[out_features, in_features], group)?;
        let bias = if bias {
            Some(self.tensor(&format!("{module}.bias"), &[out_features], group)?)
        } else {
            None
        };
        let lora = match &self.trainable.lora {
            Some(config) if config.targets(module) => {
                Some(self.new_adapter(module, in_features, out_features, config.clone(), group)?)
            }
            _ => None,
        };
        Ok(Linear { name: module.to_string(), weight, bias, lora })
    }

    /// Creates an adapter with `A` uniform in `±1/sqrt(in)` (Kaiming-uniform with `a = sqrt 5`,
    /// as PEFT does) and `B = 0`.
    fn new_adapter(
        &mut self,
        module: &str,
        in_features: usize,
        out_features: usize,
        config: LoraConfig,
        group: ParamGroup,
    ) -> Result<LoraAdapter> {
        use rand::Rng;
        let bound = 1.0 / (in_features as f64).sqrt();
        let values: Vec<f32> = (0..config.rank * in_features)
            .map(|_| self.rng.random_range(-bound..bound) as f32)
            .collect();
        let a = Tensor::from_vec(values, (config.rank, in_features), &self.device)?.to_dtype(self.dtype)?;
        let a = Var::from_tensor(&a)?;
        let b = Var::zeros((out_features, config.rank), self.dtype, &self.device)?;
        self.params.trainable.push(TrainableParam {
            name: format!("{module}.lora_A.weight"),
            group,
            var: a.clone(),
        });
        self.params.trainable.push(TrainableParam {
            name: format!("{module}.lora_B.weight"),
            group,
            var: b.clone(),
        });
        let adapter = LoraAdapter { a, b, scale: config.scale(), dropout: config.dropout };
        self.params.adapters.insert(module.to_string(), adapter.clone());
        Ok(adapter)
    }
}
