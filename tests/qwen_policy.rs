//! A Qwen3-VL checkpoint in the Hugging Face layout, trained by the same `sft` and `grpo`
//! stages as the built-in policy: the tiny random checkpoint that
//! `assay_qwen3_vl::tiny` writes (byte-level tokenizer, Qwen special tokens), LoRA on the
//! attention projections, and the KL reference as the frozen base view.

use std::fs;
use std::path::{Path, PathBuf};

use assay::run::scalars::read_scalars;
use assay::run::{self, RunOptions};
use assay::stage::Registry;
use assay::stages::grpo::GrpoStage;
use assay::stages::sft::SftStage;
use assay_qwen3_vl::tiny::{write_tiny_qwen3_vl, TinyCheckpoint};
use assay_qwen3_vl::{LoadOptions, Qwen3Vl};
use assay_train::candle_core::{DType, Device};
use assay_train::{Policy, Sequence};

use crate::training_stages::{assert_overrides_rejected, ColourData};

fn registry() -> Registry {
    let mut registry = Registry::builtin();
    registry.register::<ColourData>().register::<SftStage>().register::<GrpoStage>();
    registry
}

/// Writes the checkpoint and a spec that fine-tunes it with LoRA and continues with GRPO.
fn write_spec(dir: &Path) -> PathBuf {
    let checkpoint = dir.join("qwen3-vl-tiny");
    fs::create_dir_all(&checkpoint).unwrap();
    write_tiny_qwen3_vl(&checkpoint, &TinyCheckpoint::byte_level(5)).unwrap();
    let text = format!(
        "experiment:
  name: qwen
  seed: 3
  output_root: {runs}
models:
  policy:
    kind: qwen3_vl
    path: {checkpoint}
    params:
      lora: {{rank: 4, alpha: 8.0, dropout: 0.0, target_modules: [q_proj, v_proj]}}
plugins:
  rewards:
    correct: {{kind: builtin, builtin: exact_answer}}
stages:
  - name: data
    kind: test_colour_data
    count: 3
  - name: sft
    kind: sft
    inputs: [data]
    model: policy
    training:
      epochs: 4
      batch_size: 3
      micro_batch_size: 3
      shuffle: false
      checkpoint_every: 2
      optimizer: {{learning_rate: 0.02}}
  - name: grpo
    kind: grpo
    inputs: [data, sft]
    policy: sft
    data: {{stage: data}}
    rewards: [{{name: correct}}]
    training:
      steps: 2
      prompts_per_step: 1
      kl_coef: 0.1
      # Random outputs earn no reward, so the entropy bonus carries the gradient.
      entropy_coef: 0.05
      rollout: {{group_size: 2, max_turns: 1, max_completion_tokens: 6}}
      optimizer: {{learning_rate: 0.01}}
",
        runs = dir.join("runs").display(),
        checkpoint = checkpoint.display()
    );
    let path = dir.join("spec.yaml");
    fs::write(&path, text).unwrap();
    path
}

fn scalar(run_dir: &Path, stage: &str, name: &str) -> Vec<f64> {
    let scalars = read_scalars(&run_dir.join("stages").join(stage)).unwrap();
    scalars.iter().filter(|s| s.name == name).map(|s| s.value).collect()
}

/// Logits of a stage's policy folder, loaded as a plain Hugging Face checkpoint.
fn folder_logits(folder: &Path) -> Vec<f32> {
    let model = Qwen3Vl::load(folder, &LoadOptions::inference(DType::F32, &Device::Cpu)).unwrap();
    let batch = [Sequence { ids: vec![60, 61, 62, 63], images: Vec::new() }];
    Policy::forward(&model, &batch).unwrap().flatten_all().unwrap().to_vec1().unwrap()
}

#[test]
fn sft_and_grpo_train_a_qwen_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = run::run(Some(&write_spec(dir.path())), &RunOptions::default(), &registry()).unwrap().run_dir.unwrap();

    // SFT on one fixed batch: the loss falls over the four steps.
    let losses = scalar(&run_dir, "sft", "loss");
    assert_eq!(losses.len(), 4, "{losses:?}");
    assert!(losses[3] < losses[0], "sft loss did not fall: {losses:?}");

    // GRPO logged its KL to the frozen base, which starts at 0 and stays finite.
    let kl = scalar(&run_dir, "grpo", "kl");
    assert_eq!(kl.len(), 2);
    assert!(kl.iter().all(|v| v.is_finite() && *v >= -1e-6), "{kl:?}");

    // Each stage left a loadable Hugging Face folder, with its tokenizer and settings, and
    // training changed the weights (LoRA merged into them).
    let stages = run_dir.join("stages");
    for stage in ["sft", "grpo"] {
        for file in ["config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json", "assay_policy.json"] {
            assert!(stages.join(stage).join("policy").join(file).is_file(), "{stage} did not write policy/{file}");
        }
    }
    let base = folder_logits(&dir.path().join("qwen3-vl-tiny"));
    let sft = folder_logits(&stages.join("sft/policy"));
    let grpo = folder_logits(&stages.join("grpo/policy"));
    let differs = |a: &[f32], b: &[f32]| a.iter().zip(b).any(|(x, y)| (x - y).abs() > 1e-6);
    assert!(differs(&base, &sft), "sft did not change the weights");
    assert!(differs(&sft, &grpo), "grpo did not change the weights");
}

#[test]
fn qwen_settings_are_checked_before_loading() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path());
    let invalid = [
        ("models.policy.params.lora.rank=0", "rank"),
        ("models.policy.params.train=[vison]", "vison"),
        ("models.policy.params.memory_budget_gib=-1", "memory_budget_gib"),
        ("models.policy.kind=qwen4", "qwen4"),
        ("models.policy.params={}", "trains nothing"),
        ("stages.sft.training.optimizer.groups={vision: {frozen: true}}", "vision"),
    ];
    assert_overrides_rejected(&spec, &registry(), &invalid);

    // A budget below the estimate stops the stage before any weight is read.
    let options = RunOptions { overrides: vec!["models.policy.params.memory_budget_gib=1.0e-6".into()], ..RunOptions::default() };
    let error = format!("{:?}", run::run(Some(&spec), &options, &registry()).unwrap_err());
    assert!(error.contains("memory"), "{error}");
}
