//! `sft` stage kind: supervised fine-tuning of a policy (`tiny_vlm`, or a Qwen checkpoint)
//! on samples with target trajectories (cross-entropy on assistant tokens only).
//!
//! Reads a samples file (and the PPM images it names, relative to that file) from an input
//! stage or a path. A `tiny_vlm` uses a `tokenizer.json` beside the samples when present,
//! and otherwise builds its vocabulary from the samples; a Qwen model uses its own. Writes the policy folder (`policy/`) into its
//! output folder, logs `loss`, `grad_norm`, `learning_rate`, `tokens` and
//! `tokens_per_second` per optimizer step, and checkpoints under `checkpoints/` in its work
//! folder, from which a resumed run continues bit-identically.

use std::path::Path;

use anyhow::Context;
use assay_train::sft::{encode_sft_example, train_sft, SftConfig};
use assay_train::Tokenizer;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::policy_io::{self, DataSource};
use crate::spec::{self, Diagnostic, Experiment};
use crate::stage::{StageContext, StageRunner};

/// Folder of the training checkpoints inside the stage's work folder.
pub const CHECKPOINT_DIR: &str = "checkpoints";

/// Parameters of an `sft` stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SftParams {
    /// Name of the model under `models` to fine-tune: a `tiny_vlm` in `f32` (without a
    /// `path` its weights are drawn from the stage seed), or a `qwen3_vl` / `qwen3`
    /// checkpoint whose `params` select the trained parts.
    pub model: String,
    /// Location of the samples with target trajectories. Default: `samples.jsonl` of the
    /// only input stage.
    #[serde(default)]
    pub data: DataSource,
    /// Epochs, batch sizes, optimizer and checkpoint settings. The shuffle seed
    /// `training.seed` is added to the stage seed. Defaults: those of each field.
    #[serde(default)]
    pub training: SftConfig,
}

/// The `sft` stage kind.
pub struct SftStage;

impl StageRunner for SftStage {
    type Params = SftParams;

    const KIND: &'static str = "sft";

    const DESCRIPTION: &'static str = "Supervised fine-tuning of a tiny_vlm or Qwen policy on target trajectories";

    fn validate(params: &SftParams, spec: &Experiment) -> Vec<Diagnostic> {
        let mut problems = policy_io::validate_model(spec, "model", &params.model);
        problems.extend(policy_io::validate_optimizer_groups(spec, &params.model, params.training.optimizer.groups.keys().cloned()));
        problems.extend(params.data.validate("data", spec));
        let training = &params.training;
        problems.extend(spec::at_least("training.epochs", training.epochs, 1));
        problems.extend(spec::at_least("training.batch_size", training.batch_size, 1));
        problems.extend(spec::at_least("training.micro_batch_size", training.micro_batch_size, 1));
        problems.extend(spec::positive("training.optimizer.learning_rate", training.optimizer.learning_rate));
        if let Err(error) = training.optimizer.validate() {
            problems.push(Diagnostic::for_key("training.optimizer", format!("{error:#}")));
        }
        problems
    }

    fn run(params: &SftParams, ctx: &mut StageContext) -> anyhow::Result<()> {
        // Read the samples, then build the policy and its vocabulary.
        let samples_path = params.data.samples_path(ctx)?;
        let samples = policy_io::read_sample_file(&samples_path)?;
        let folder = samples_path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let tokenizer_path = folder.join("tokenizer.json");
        let mut loaded = policy_io::build_policy(ctx.spec, &params.model, ctx.seed, || {
            if tokenizer_path.is_file() {
                Tokenizer::load(&tokenizer_path)
            } else {
                Ok(policy_io::corpus_tokenizer(&samples))
            }
        })?;

        // Tokenize with image placeholders expanded and only assistant tokens trained.
        let mut examples = Vec::with_capacity(samples.len());
        for sample in &samples {
            let images = policy_io::trajectory_images(&folder, sample)?;
            examples.push(
                encode_sft_example(&loaded.policy, &loaded.codec, sample, &images)
                    .with_context(|| format!("cannot encode sample `{}` of {}", sample.id, samples_path.display()))?,
            );
        }

        // Train, resuming from the latest checkpoint of an interrupted attempt.
        let config = SftConfig { seed: params.training.seed.wrapping_add(ctx.seed), ..params.training.clone() };
        let checkpoints = ctx.work_dir.join(CHECKPOINT_DIR);
        let scalars = &mut ctx.scalars;
        let summary = train_sft(&config, &mut loaded.policy, &examples, Some(&checkpoints), &mut |metrics| policy_io::log_step(scalars, metrics))?;
        tracing::info!(stage = ctx.name, steps = summary.steps_run, total_steps = summary.total_steps, final_loss = summary.final_loss, "sft finished");

        loaded.save(&ctx.work_dir)?;
        Ok(())
    }
}
