//! Policies as stage inputs and outputs: building a policy from `models.<name>` (a
//! `tiny_vlm`, or a Qwen checkpoint; see [`super::stage_policy`]), reading training
//! samples, and the policy folder that training stages leave behind.
//!
//! A `tiny_vlm` folder has the layout of [`crate::actfer::policy_folder`]
//! (`policy/model.safetensors`, `policy/tokenizer.json`, `policy/tiny_vlm.json`); a Qwen
//! folder is a Hugging Face checkpoint with `policy/assay_policy.json`. `evaluate` loads
//! what `sft` and `grpo` write.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use assay_train::candle_core::{DType, Device};
use assay_train::rollout::expand_image_tokens;
use assay_train::trajectory::{read_ppm, read_samples, Sample, Segment};
use assay_train::{Image, Policy, TextCodec, TinyVlm, TinyVlmConfig, TokenLayout, Tokenizer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::stage_policy::{self, LoadedPolicy, QwenModelParams, QwenPolicyRecord, StageCodec, StagePolicy, QWEN_KINDS, QWEN_POLICY_FILE};
use crate::actfer::policy_folder::{load_policy_folder, POLICY_DIR};
use crate::spec::{self, Diagnostic, Experiment, ModelSpec};
use crate::stage::StageContext;

/// Model kind that these stages build and train.
pub const TINY_VLM: &str = "tiny_vlm";

/// Location of a stage's samples file: in an input stage's folder, or at a path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSource {
    /// Input stage whose folder contains the samples file; it must be listed under the
    /// stage's `inputs`. Default: the only input stage. Not allowed together with `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Samples file (JSON lines) inside the input stage's folder. Default `samples.jsonl`.
    #[serde(default = "default_samples_file")]
    pub file: String,
    /// Samples file outside the run, relative to the spec file. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

fn default_samples_file() -> String {
    "samples.jsonl".into()
}

impl Default for DataSource {
    fn default() -> Self {
        Self { stage: None, file: default_samples_file(), path: None }
    }
}

impl DataSource {
    /// Checks that `stage` and `path` are not both set and that `stage` names a stage of
    /// the spec.
    pub fn validate(&self, key: &str, spec: &Experiment) -> Vec<Diagnostic> {
        if self.stage.is_some() && self.path.is_some() {
            return vec![Diagnostic::for_key(
                key,
                format!("`{key}` sets both `stage` and `path`: keep one (a stage's `{}`, or a file)", self.file),
            )];
        }
        match &self.stage {
            Some(stage) => validate_stage_name(spec, &format!("{key}.stage"), stage).into_iter().collect(),
            None => Vec::new(),
        }
    }

    /// Resolves the samples file of a running stage.
    ///
    /// # Errors
    /// The named stage is not an input, or no stage is named and the stage does not have
    /// exactly one input.
    pub fn samples_path(&self, ctx: &StageContext) -> anyhow::Result<PathBuf> {
        if let Some(path) = &self.path {
            return Ok(ctx.resolve(path));
        }
        Ok(input_folder(ctx, self.stage.as_deref())?.join(&self.file))
    }
}

/// Checks that `name`, given at `key`, is a stage of the spec; the message lists the
/// stages there are. (Any kind may write a policy folder, so the kind is not checked.)
pub fn validate_stage_name(spec: &Experiment, key: &str, name: &str) -> Option<Diagnostic> {
    if spec.stages.iter().any(|stage| stage.name == name) {
        return None;
    }
    let names: Vec<&str> = spec.stages.iter().map(|stage| stage.name.as_str()).collect();
    Some(Diagnostic::for_key(key, format!("`{key}` names stage `{name}`, which the spec does not have; its stages are {names:?}")))
}

/// Returns the output folder of input stage `name`, or of the only input when `name` is
/// `None`.
///
/// # Errors
/// `name` is not among the stage's inputs, or `None` is given and there is not exactly one.
pub fn input_folder(ctx: &StageContext, name: Option<&str>) -> anyhow::Result<PathBuf> {
    match name {
        Some(name) => ctx.inputs.get(name).cloned().with_context(|| {
            let listed: Vec<&str> = ctx.inputs.keys().map(String::as_str).collect();
            format!("stage `{}` reads stage `{name}`, which is not among its inputs {listed:?}: add it under `inputs`", ctx.name)
        }),
        None => match ctx.inputs.values().collect::<Vec<_>>().as_slice() {
            [only] => Ok((*only).clone()),
            other => bail!(
                "stage `{}` has {} input stages, so it cannot tell which one to read: name it with `stage:`",
                ctx.name,
                other.len()
            ),
        },
    }
}

/// Reads the `tiny_vlm` sizes from a model's `params`; no params gives the defaults.
///
/// # Errors
/// The params do not deserialize or describe an invalid model.
pub fn tiny_vlm_config(name: &str, model: &ModelSpec) -> anyhow::Result<TinyVlmConfig> {
    let config: TinyVlmConfig = match &model.params {
        Some(node) => spec::from_node(node).map_err(|d| anyhow::anyhow!(spec::render_diagnostics(&d)))?,
        None => TinyVlmConfig::default(),
    };
    config.validate().with_context(|| format!("invalid sizes in `models.{name}.params`"))?;
    Ok(config)
}

/// Checks that `models.<name>` exists and is a model the training stages build: a
/// `tiny_vlm` in `f32` with valid sizes, or a Qwen checkpoint (`qwen3_vl`, `qwen3`) with a
/// `path` and valid `params`. `key` is the stage parameter that names the model.
pub fn validate_model(spec: &Experiment, key: &str, name: &str) -> Vec<Diagnostic> {
    if let Some(problem) = spec::model(spec, key, name) {
        return vec![problem];
    }
    let model = &spec.models[name];
    let mut problems = Vec::new();
    if QWEN_KINDS.contains(&model.kind.as_str()) {
        if model.path.is_none() {
            problems.push(Diagnostic::for_key(
                key,
                format!("model `{name}` of kind `{}` needs `path`: set `models.{name}.path` to the Hugging Face checkpoint folder", model.kind),
            ));
        }
        match QwenModelParams::from_spec(model) {
            Ok(params) if !params.trains() => problems.push(Diagnostic::for_key(
                key,
                format!("model `{name}` trains nothing: set `models.{name}.params.train` (parameter groups) or `models.{name}.params.lora`"),
            )),
            Ok(_) => {}
            Err(error) => problems.push(Diagnostic::for_key(key, format!("invalid `models.{name}.params`: {error:#}"))),
        }
        return problems;
    }
    if model.kind != TINY_VLM {
        problems.push(Diagnostic::for_key(
            key,
            format!("model `{name}` has kind `{}`, but training stages build only `{TINY_VLM}`, `qwen3_vl` and `qwen3` models", model.kind),
        ));
        return problems;
    }
    if model.dtype != spec::DType::F32 {
        problems.push(Diagnostic::for_key(
            key,
            format!("model `{name}` has dtype `{:?}`: `{TINY_VLM}` trains in `f32` only; set `models.{name}.dtype: f32`", model.dtype),
        ));
    }
    if let Err(error) = tiny_vlm_config(name, model) {
        problems.push(Diagnostic::for_key(key, format!("{error:#}")));
    }
    problems
}

/// Checks that each optimizer group of a stage training the Qwen model `models.<name>`
/// names variables that its `params` train. Other models are checked when the stage
/// builds them.
pub fn validate_optimizer_groups(spec: &Experiment, name: &str, groups: impl IntoIterator<Item = String>) -> Vec<Diagnostic> {
    let Some(model) = spec.models.get(name).filter(|m| QWEN_KINDS.contains(&m.kind.as_str())) else { return Vec::new() };
    let Ok(params) = QwenModelParams::from_spec(model) else { return Vec::new() };
    let prefixes = params.group_prefixes();
    groups
        .into_iter()
        .filter(|group| !prefixes.contains(group.as_str()))
        .map(|group| {
            Diagnostic::for_key(
                format!("training.optimizer.groups.{group}"),
                format!(
                    "optimizer group `{group}` matches no trained weight of model `{name}` (trained groups: {prefixes:?}); \
                     remove it, or train it through `models.{name}.params.train`"
                ),
            )
        })
        .collect()
}

/// Builds the policy `models.<name>`.
///
/// A `tiny_vlm` is built on the CPU in f32. When it has a `path`, the path names the output
/// folder of an `sft` or `grpo` stage (or the `policy/` folder inside it), whose weights,
/// sizes and tokenizer are loaded; `params` are then ignored. Otherwise the weights are
/// drawn from `seed` and the vocabulary is `tokenizer()`.
///
/// A Qwen model loads its checkpoint folder `path` in its `dtype` on `experiment.device`,
/// with its own tokenizer, and trains what its `params` select; `seed` draws the LoRA
/// initialisation.
///
/// # Errors
/// Fails when the model is missing or of an unknown kind, or its files cannot be read.
pub fn build_policy(spec: &Experiment, name: &str, seed: u64, tokenizer: impl FnOnce() -> anyhow::Result<Tokenizer>) -> anyhow::Result<LoadedPolicy> {
    let model = spec.models.get(name).with_context(|| format!("model `{name}` is not defined under `models`"))?;
    if QWEN_KINDS.contains(&model.kind.as_str()) {
        let path = model.path.as_deref().with_context(|| format!("model `{name}` needs `path`: the Hugging Face checkpoint folder"))?;
        let params = QwenModelParams::from_spec(model).with_context(|| format!("invalid `models.{name}.params`"))?;
        let device = stage_policy::candle_device(spec.experiment.device)?;
        let record = QwenPolicyRecord { kind: model.kind.clone(), dtype: model.dtype, params };
        return stage_policy::load_qwen(path, record, &device, seed).with_context(|| format!("failed to load model `{name}` from {}", path.display()));
    }
    if model.kind != TINY_VLM {
        bail!("model `{name}` has kind `{}`, but training stages build only `{TINY_VLM}`, `qwen3_vl` and `qwen3` models", model.kind);
    }
    if let Some(path) = &model.path {
        let folder = if path.ends_with(POLICY_DIR) { path.parent().map(Path::to_path_buf).unwrap_or_default() } else { path.clone() };
        let (policy, tokenizer) = load_policy_folder(&folder).with_context(|| format!("failed to load `models.{name}.path` {}", path.display()))?;
        return Ok(LoadedPolicy { policy: StagePolicy::Tiny(policy), codec: StageCodec::Word(tokenizer), qwen: None });
    }
    let config = tiny_vlm_config(name, model)?;
    let tokenizer = tokenizer()?;
    let layout = TokenLayout { vocab_size: tokenizer.vocab_size(), image_token_id: tokenizer.special().image };
    // TODO: a `tiny_vlm` trains on the CPU even when the experiment names a CUDA device.
    let policy = TinyVlm::new(&config, layout, seed, DType::F32, &Device::Cpu)?;
    Ok(LoadedPolicy { policy: StagePolicy::Tiny(policy), codec: StageCodec::Word(tokenizer), qwen: None })
}

/// Loads the policy folder that an `sft` or `grpo` stage wrote into `stage_dir`: to train
/// further (`train`: a Qwen policy keeps its recorded trainable parts), or for inference.
///
/// # Errors
/// The folder or one of its files is missing or invalid.
pub fn load_policy(spec: &Experiment, stage_dir: &Path, train: bool, seed: u64) -> anyhow::Result<LoadedPolicy> {
    let dir = stage_dir.join(POLICY_DIR);
    if dir.join(QWEN_POLICY_FILE).is_file() {
        let device = stage_policy::candle_device(spec.experiment.device)?;
        return stage_policy::load_qwen_folder(&dir, train, &device, seed);
    }
    let (policy, tokenizer) = load_policy_folder(stage_dir)?;
    Ok(LoadedPolicy { policy: StagePolicy::Tiny(policy), codec: StageCodec::Word(tokenizer), qwen: None })
}

/// Reads a samples file; an empty file is an error because no stage can train on it.
///
/// # Errors
/// The file is missing, malformed or empty.
pub fn read_sample_file(path: &Path) -> anyhow::Result<Vec<Sample>> {
    let samples = read_samples(path).with_context(|| format!("failed to read samples from {}", path.display()))?;
    if samples.is_empty() {
        bail!("samples file {} is empty: check the stage that wrote it", path.display());
    }
    Ok(samples)
}

/// Builds a word-level tokenizer from every prompt, target text and answer of `samples`.
pub fn corpus_tokenizer(samples: &[Sample]) -> Tokenizer {
    let mut texts: Vec<&str> = Vec::new();
    for sample in samples {
        texts.push(&sample.prompt);
        texts.extend(sample.answer.as_deref());
        for segment in &sample.target {
            match segment {
                Segment::Assistant { text } | Segment::Observation { text, .. } => texts.push(text),
            }
        }
    }
    Tokenizer::from_corpus(texts)
}

/// Loads the prompt's images of a sample, relative to `folder`.
///
/// # Errors
/// An image file is missing or not a binary PPM.
pub fn prompt_images(folder: &Path, sample: &Sample) -> anyhow::Result<Vec<Image>> {
    sample
        .images
        .iter()
        .map(|file| read_ppm(&folder.join(file)).with_context(|| format!("image `{file}` of sample `{}`", sample.id)))
        .collect()
}

/// Loads the prompt's images, then every observation's, relative to `folder`: the order
/// in which an SFT example uses them.
///
/// # Errors
/// An image file is missing or not a binary PPM.
pub fn trajectory_images(folder: &Path, sample: &Sample) -> anyhow::Result<Vec<Image>> {
    let mut images = prompt_images(folder, sample)?;
    for segment in &sample.target {
        if let Segment::Observation { images: files, .. } = segment {
            for file in files {
                images.push(read_ppm(&folder.join(file)).with_context(|| format!("image `{file}` of sample `{}`", sample.id))?);
            }
        }
    }
    Ok(images)
}

/// Tokenizes a sample's prompt in the codec's chat layout, with its image placeholders
/// expanded, for generation.
///
/// # Errors
/// Fails when the prompt cannot be encoded, or its `<image>` markers and images disagree.
pub fn prompt_sequence<P: Policy>(policy: &P, codec: &dyn TextCodec, sample: &Sample, images: Vec<Image>) -> anyhow::Result<assay_train::Sequence> {
    let ids = codec.encode(&codec.frame_prompt(&sample.prompt)).with_context(|| format!("prompt of sample `{}`", sample.id))?;
    let ids = expand_image_tokens(policy, &ids, codec.image_id(), &images).with_context(|| format!("prompt of sample `{}`", sample.id))?;
    Ok(assay_train::Sequence { ids, images })
}

/// Logs each step's metrics (all but `step`) under the step number.
///
/// # Errors
/// The scalar log cannot be written.
pub fn log_step(scalars: &mut crate::run::ScalarLog, metrics: &assay_train::sft::StepMetrics) -> anyhow::Result<()> {
    let step = metrics.get("step").copied().unwrap_or_default() as u64;
    for (name, value) in metrics.iter().filter(|(name, _)| name.as_str() != "step") {
        scalars.log(step, name, *value)?;
    }
    Ok(())
}
