//! The policies that training and evaluation stages build, train and hand on: the
//! built-in `tiny_vlm` and Hugging Face Qwen checkpoints (`qwen3_vl`, text-only `qwen3`),
//! behind one [`Policy`] and one [`TextCodec`].
//!
//! A Qwen model's `params` in the spec choose what trains (see [`QwenModelParams`]); its
//! `path` is the checkpoint folder. A stage that trains a Qwen policy leaves a Hugging Face
//! folder under `policy/` (LoRA merged into the weights) with `assay_policy.json`, which
//! records the dtype and the trainable parts so that a later `grpo` stage continues with
//! the same settings.

use std::path::Path;

use anyhow::{bail, Context, Result};
use assay_qwen3_vl::{LoadOptions, LoraConfig, ParamGroup, QwenCodec, Qwen3Vl, TrainableParams, Workload};
use assay_train::candle_core::{DType, Device, Tensor, Var};
use assay_train::{Image, KvCache, Policy, Sequence, TextCodec, TinyVlm, Tokenizer, TurnEnds};
use serde::{Deserialize, Serialize};

use crate::spec;

/// Model kinds read from Hugging Face Qwen checkpoints.
pub const QWEN_KINDS: [&str; 2] = ["qwen3_vl", "qwen3"];

/// File that marks a Qwen policy folder and records how it trains.
pub const QWEN_POLICY_FILE: &str = "assay_policy.json";

/// `models.<name>.params` of a Qwen model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QwenModelParams {
    /// Parameter groups trained in full: `embeddings`, `language_linear`,
    /// `language_norm`, `lm_head`, `projector`, `vision`. Default: none.
    #[serde(default)]
    pub train: Vec<ParamGroup>,
    /// LoRA adapters on linear layers (`rank`, `alpha`, `dropout`, `target_modules`).
    /// Default: none.
    #[serde(default)]
    pub lora: Option<LoraConfig>,
    /// Stop before loading any weight when the memory estimate (weights, gradients,
    /// AdamW states, activations) exceeds this many GiB. Default: on the CPU, the memory
    /// the system reports available; on a GPU, no limit (the estimate is still logged).
    #[serde(default)]
    pub memory_budget_gib: Option<f64>,
    /// Sequences per micro-batch and tokens per sequence that the activation part of the
    /// estimate assumes. Default: 1 and 2048.
    #[serde(default)]
    pub estimate_batch_size: Option<usize>,
    #[serde(default)]
    pub estimate_seq_len: Option<usize>,
}

impl QwenModelParams {
    /// Reads `params` (none gives the defaults).
    ///
    /// # Errors
    /// The params do not deserialize or describe invalid settings.
    pub fn from_spec(model: &spec::ModelSpec) -> Result<Self> {
        let params: QwenModelParams = match &model.params {
            Some(node) => spec::from_node(node).map_err(|d| anyhow::anyhow!(spec::render_diagnostics(&d)))?,
            None => QwenModelParams::default(),
        };
        if let Some(lora) = &params.lora {
            lora.validate()?;
        }
        if let Some(budget) = params.memory_budget_gib {
            anyhow::ensure!(budget.is_finite() && budget > 0.0, "`memory_budget_gib` must be positive, found {budget}");
        }
        Ok(params)
    }

    /// Optimizer group prefixes of the trained variables (`llm`, `projector`, `vision`),
    /// as [`Policy::named_vars`] names them.
    pub fn group_prefixes(&self) -> std::collections::BTreeSet<&'static str> {
        let mut prefixes: std::collections::BTreeSet<&'static str> = self.train.iter().map(|group| group.policy_prefix()).collect();
        if self.lora.is_some() {
            // TODO: LoRA on vision or projector layers also lands in `llm` here.
            prefixes.insert("llm");
        }
        prefixes
    }

    /// Returns whether any parameter trains.
    pub fn trains(&self) -> bool {
        !self.train.is_empty() || self.lora.is_some()
    }

    fn load_options(&self, dtype: DType, device: &Device, seed: u64) -> LoadOptions {
        let defaults = Workload::default();
        LoadOptions {
            dtype,
            device: device.clone(),
            trainable: TrainableParams { full: self.train.clone(), lora: self.lora.clone(), seed },
            memory_budget_bytes: match self.memory_budget_gib {
                Some(gib) => Some((gib * (1u64 << 30) as f64) as u64),
                None if device.is_cpu() => available_memory(),
                None => None,
            },
            workload: Workload {
                batch_size: self.estimate_batch_size.unwrap_or(defaults.batch_size),
                seq_len: self.estimate_seq_len.unwrap_or(defaults.seq_len),
            },
        }
    }
}

/// Bytes of memory available to new allocations, from `/proc/meminfo` (`MemAvailable`);
/// `None` where the file is missing (not Linux) or has no such line.
fn available_memory() -> Option<u64> {
    parse_mem_available(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

/// Reads the `MemAvailable:   <n> kB` line of a `/proc/meminfo` text, in bytes.
fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Load settings of a Qwen policy, as [`QWEN_POLICY_FILE`] records them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QwenPolicyRecord {
    /// `qwen3_vl` or `qwen3`.
    pub kind: String,
    pub dtype: spec::DType,
    pub params: QwenModelParams,
}

/// A policy with its codec, and for Qwen policies the settings to save beside them.
pub struct LoadedPolicy {
    pub policy: StagePolicy,
    pub codec: StageCodec,
    pub qwen: Option<QwenPolicyRecord>,
}

impl LoadedPolicy {
    /// Writes the policy folder into a stage's output folder and returns its path.
    ///
    /// # Errors
    /// A file cannot be written.
    pub fn save(&self, stage_dir: &Path) -> Result<std::path::PathBuf> {
        match (&self.policy, &self.codec, &self.qwen) {
            (StagePolicy::Tiny(policy), StageCodec::Word(tokenizer), _) => {
                crate::actfer::policy_folder::save_policy_folder(stage_dir, policy, tokenizer)
            }
            (StagePolicy::Qwen(model), _, Some(record)) => {
                let dir = stage_dir.join(crate::actfer::policy_folder::POLICY_DIR);
                std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
                save_qwen(&dir, model, record)?;
                Ok(dir)
            }
            _ => bail!("the policy and its tokenizer do not match, so the policy folder cannot be written"),
        }
    }
}

/// Returns the candle dtype of a spec dtype.
pub fn candle_dtype(dtype: spec::DType) -> DType {
    match dtype {
        spec::DType::F32 => DType::F32,
        spec::DType::Bf16 => DType::BF16,
        spec::DType::F16 => DType::F16,
    }
}

/// Opens the candle device that `experiment.device` names.
///
/// # Errors
/// A CUDA device in a build without the `cuda` feature, or a GPU that cannot be opened.
pub fn candle_device(device: spec::Device) -> Result<Device> {
    match device {
        spec::Device::Cpu => Ok(Device::Cpu),
        spec::Device::Cuda(index) => Device::new_cuda(index as usize).with_context(|| {
            format!(
                "cannot open `cuda:{index}`: build assay with `--features cuda` on a machine with the CUDA toolkit, \
                 or set `experiment.device: cpu`"
            )
        }),
    }
}

/// Loads the Qwen checkpoint `folder` with the settings of `record`.
///
/// # Errors
/// The folder, its tokenizer or its weights cannot be read, or the memory estimate
/// exceeds `memory_budget_gib`.
pub fn load_qwen(folder: &Path, record: QwenPolicyRecord, device: &Device, seed: u64) -> Result<LoadedPolicy> {
    let codec = QwenCodec::from_folder(folder)?;
    let params = &record.params;
    let options = params.load_options(candle_dtype(record.dtype), device, seed);
    let mut model = Qwen3Vl::load(folder, &options).with_context(|| format!("failed to load the checkpoint in {}", folder.display()))?;
    if model.config.vision_tokens.is_some() && Policy::image_token_id(&model) != codec.image_id() {
        bail!(
            "{}: `image_token_id` {} in config.json is not the id {} of `<|image_pad|>` in tokenizer.json",
            folder.display(),
            Policy::image_token_id(&model),
            codec.image_id()
        );
    }
    model.set_training(params.trains());
    Ok(LoadedPolicy { policy: StagePolicy::Qwen(Box::new(model)), codec: StageCodec::Qwen(codec), qwen: Some(record) })
}

/// Writes a Qwen policy folder: the merged Hugging Face export and [`QWEN_POLICY_FILE`].
///
/// # Errors
/// A file cannot be written.
fn save_qwen(dir: &Path, model: &Qwen3Vl, record: &QwenPolicyRecord) -> Result<()> {
    model.export_merged(dir)?;
    crate::run::atomic::write_atomic(&dir.join(QWEN_POLICY_FILE), serde_json::to_string_pretty(record)?.as_bytes())
}

/// Loads a Qwen policy folder written by [`save_qwen`]: to continue training with the
/// recorded settings (`train`), or for inference.
///
/// # Errors
/// A file is missing or invalid.
pub fn load_qwen_folder(dir: &Path, train: bool, device: &Device, seed: u64) -> Result<LoadedPolicy> {
    let path = dir.join(QWEN_POLICY_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("failed to read {}", path.display()))?;
    let mut record: QwenPolicyRecord = serde_json::from_str(&text).with_context(|| format!("invalid {}", path.display()))?;
    if !train {
        record.params.train.clear();
        record.params.lora = None;
    }
    load_qwen(dir, record, device, seed)
}

/// A policy that a stage trains or evaluates.
// One value per stage and never stored in bulk, so the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum StagePolicy {
    Tiny(TinyVlm),
    Qwen(Box<Qwen3Vl>),
}

impl StagePolicy {
    /// Returns the frozen reference of the KL term. For a Qwen policy trained only through
    /// LoRA, this is a view of the base weights with the adapters off, so no second copy
    /// is made. Any other policy is copied.
    ///
    /// # Errors
    /// The copy cannot be made.
    pub fn reference(&self) -> Result<Self> {
        match self {
            StagePolicy::Qwen(model) if model.has_frozen_base_view() => Ok(StagePolicy::Qwen(Box::new(model.frozen_base()?))),
            other => other.duplicate(),
        }
    }
}

impl StagePolicy {
    fn inner(&self) -> &dyn Policy {
        match self {
            StagePolicy::Tiny(model) => model,
            StagePolicy::Qwen(model) => model.as_ref(),
        }
    }

    fn inner_mut(&mut self) -> &mut dyn Policy {
        match self {
            StagePolicy::Tiny(model) => model,
            StagePolicy::Qwen(model) => model.as_mut(),
        }
    }
}

impl Policy for StagePolicy {
    fn device(&self) -> &Device {
        self.inner().device()
    }

    fn dtype(&self) -> DType {
        self.inner().dtype()
    }

    fn vocab_size(&self) -> usize {
        self.inner().vocab_size()
    }

    fn image_token_id(&self) -> u32 {
        self.inner().image_token_id()
    }

    fn image_token_count(&self, image: &Image) -> usize {
        self.inner().image_token_count(image)
    }

    fn forward(&self, batch: &[Sequence]) -> Result<Tensor> {
        self.inner().forward(batch)
    }

    fn new_cache(&self) -> KvCache {
        self.inner().new_cache()
    }

    fn step(&self, cache: &mut KvCache, ids: &[u32], images: &[Image]) -> Result<Tensor> {
        self.inner().step(cache, ids, images)
    }

    fn named_vars(&self) -> Vec<(String, Var)> {
        self.inner().named_vars()
    }

    fn save(&self, path: &Path) -> Result<()> {
        self.inner().save(path)
    }

    fn load(&mut self, path: &Path) -> Result<()> {
        self.inner_mut().load(path)
    }

    fn duplicate(&self) -> Result<Self> {
        Ok(match self {
            StagePolicy::Tiny(m) => StagePolicy::Tiny(m.duplicate()?),
            StagePolicy::Qwen(m) => StagePolicy::Qwen(Box::new(m.duplicate()?)),
        })
    }
}

/// The codec of a [`StagePolicy`].
#[derive(Clone)]
#[allow(clippy::large_enum_variant)]
pub enum StageCodec {
    Word(Tokenizer),
    Qwen(QwenCodec),
}

impl StageCodec {
    fn inner(&self) -> &dyn TextCodec {
        match self {
            StageCodec::Word(tokenizer) => tokenizer,
            StageCodec::Qwen(codec) => codec,
        }
    }
}

impl TextCodec for StageCodec {
    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.inner().encode(text)
    }

    fn decode(&self, ids: &[u32]) -> String {
        self.inner().decode(ids)
    }

    fn image_id(&self) -> u32 {
        self.inner().image_id()
    }

    fn turn_ends(&self) -> TurnEnds {
        self.inner().turn_ends()
    }

    fn frame_prompt(&self, prompt: &str) -> String {
        self.inner().frame_prompt(prompt)
    }

    fn end_of_turn(&self) -> &str {
        self.inner().end_of_turn()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_available_is_read_in_bytes() {
        let meminfo = "MemTotal:       24576000 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(parse_mem_available(meminfo), Some(20_000_000 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 5 kB\n"), None);
        assert_eq!(parse_mem_available("MemAvailable: lots\n"), None);
    }
}
