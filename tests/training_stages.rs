//! The `sft` and `grpo` stage kinds end to end. A test stage writes a tiny colour-naming
//! dataset, `sft` fine-tunes a tiny policy on it and `grpo` continues with built-in rewards.
//! A run killed during `grpo` must resume to the same final weights as an uninterrupted run.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use assay::run::manifest::{Manifest, RunStatus};
use assay::run::scalars::read_scalars;
use assay::run::{self, RunError, RunOptions};
use assay::stage::{Registry, StageContext, StageRunner};
use assay::stages::grpo::GrpoStage;
use assay::stages::sft::SftStage;
use assay_train::trajectory::{write_ppm, write_samples, Sample, Segment};
use assay_train::Image;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

const COLOURS: [&str; 3] = ["red", "green", "blue"];

/// Writes `count` samples: an 8x8 image filled with one colour, the question, and the
/// target answer naming that colour.
pub(crate) struct ColourData;

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ColourDataParams {
    count: usize,
}

impl StageRunner for ColourData {
    type Params = ColourDataParams;
    const KIND: &'static str = "test_colour_data";
    const DESCRIPTION: &'static str = "test stage: one-colour images with the colour as answer";

    fn run(params: &ColourDataParams, ctx: &mut StageContext) -> anyhow::Result<()> {
        let size = 8;
        let mut samples = Vec::with_capacity(params.count);
        for i in 0..params.count {
            let colour = i % COLOURS.len();
            let pixels: Vec<f32> = (0..3 * size * size).map(|p| if p / (size * size) == colour { 1.0 } else { 0.0 }).collect();
            let file = format!("image-{i}.ppm");
            write_ppm(&ctx.work_dir.join(&file), &Image::new(size, size, pixels)?)?;
            samples.push(Sample {
                id: format!("sample-{i}"),
                prompt: "<image> what colour is the square ?".into(),
                images: vec![file],
                target: vec![Segment::Assistant { text: format!("<answer>{}</answer><eos>", COLOURS[colour]) }],
                answer: Some(COLOURS[colour].into()),
                metadata: serde_json::Value::Null,
            });
        }
        write_samples(&ctx.work_dir.join("samples.jsonl"), &samples)
    }
}

fn registry() -> Registry {
    let mut registry = Registry::builtin();
    registry.register::<ColourData>().register::<SftStage>().register::<GrpoStage>();
    registry
}

const SPEC: &str = "models:
  tiny:
    kind: tiny_vlm
    params:
      hidden_size: 32
      num_layers: 1
      num_heads: 2
      intermediate_size: 64
      max_seq_len: 128
      image_size: 8
      patch_size: 4
      vision_hidden_size: 16
      vision_layers: 1
      vision_heads: 2
      vision_intermediate_size: 32
      init_std: 0.1
plugins:
  rewards:
    correct:
      kind: builtin
      builtin: exact_answer
    answered:
      kind: builtin
      builtin: answer_present
stages:
  - name: data
    kind: test_colour_data
    count: 6
  - name: sft
    kind: sft
    inputs: [data]
    model: tiny
    training:
      epochs: 2
      batch_size: 3
      micro_batch_size: 2
      checkpoint_every: 1
      optimizer:
        learning_rate: 0.01
  - name: grpo
    kind: grpo
    inputs: [data, sft]
    policy: sft
    data:
      stage: data
    rewards:
      - name: correct
      - name: answered
        weight: 0.5
    training:
      steps: 5
      prompts_per_step: 2
      checkpoint_every: 1
      kl_coef: 0.1
      entropy_coef: 0.01
      rollout:
        group_size: 3
        max_turns: 2
        max_completion_tokens: 8
      optimizer:
        learning_rate: 0.01
";

fn write_spec(dir: &Path) -> PathBuf {
    let text = format!("experiment:\n  name: training\n  seed: 11\n  output_root: {}\n{SPEC}", dir.join("runs").display());
    let path = dir.join("spec.yaml");
    fs::write(&path, text).unwrap();
    path
}

fn weights(run_dir: &Path, stage: &str) -> Vec<u8> {
    fs::read(run_dir.join("stages").join(stage).join("policy/model.safetensors")).unwrap()
}

/// Scalar names logged by a finished stage, and the steps at which `name` was logged.
fn scalar_steps(run_dir: &Path, stage: &str, name: &str) -> (BTreeSet<String>, Vec<u64>) {
    let scalars = read_scalars(&run_dir.join("stages").join(stage)).unwrap();
    let names = scalars.iter().map(|s| s.name.clone()).collect();
    let steps = scalars.iter().filter(|s| s.name == name).map(|s| s.step).collect();
    for scalar in &scalars {
        assert!(scalar.value.is_finite(), "{stage} logged a non-finite {} at step {}", scalar.name, scalar.step);
    }
    (names, steps)
}

/// Runs the spec named by `ASSAY_TRAINING_CHILD_SPEC` when started as a child process by
/// `sft_then_grpo_outputs_scalars_and_resume`; does nothing in a normal test run.
#[test]
fn child_process_entry() {
    let Ok(spec) = std::env::var("ASSAY_TRAINING_CHILD_SPEC") else { return };
    run::run(Some(Path::new(&spec)), &RunOptions::default(), &registry()).unwrap();
}

#[test]
fn sft_then_grpo_outputs_scalars_and_resume() {
    // An uninterrupted run.
    let reference_dir = tempfile::tempdir().unwrap();
    let reference = run::run(Some(&write_spec(reference_dir.path())), &RunOptions::default(), &registry()).unwrap().run_dir.unwrap();
    for stage in ["sft", "grpo"] {
        for file in ["model.safetensors", "tokenizer.json", "tiny_vlm.json"] {
            assert!(reference.join("stages").join(stage).join("policy").join(file).is_file(), "{stage} did not write policy/{file}");
        }
    }
    // 6 samples in batches of 3 for 2 epochs: 4 optimizer steps.
    let (sft_names, sft_steps) = scalar_steps(&reference, "sft", "loss");
    assert_eq!(sft_steps, vec![1, 2, 3, 4]);
    for name in ["grad_norm", "learning_rate", "tokens_per_second"] {
        assert!(sft_names.contains(name), "sft did not log `{name}`: {sft_names:?}");
    }
    let (grpo_names, grpo_steps) = scalar_steps(&reference, "grpo", "reward/mean");
    assert_eq!(grpo_steps, vec![1, 2, 3, 4, 5]);
    for name in ["reward/correct/mean", "reward/answered/mean", "kl", "entropy", "clip_fraction", "zero_variance_fraction", "grad_norm"] {
        assert!(grpo_names.contains(name), "grpo did not log `{name}`: {grpo_names:?}");
    }
    // Both stages changed the weights they started from.
    let (sft_weights, grpo_weights) = (weights(&reference, "sft"), weights(&reference, "grpo"));
    assert_ne!(sft_weights, grpo_weights, "grpo left the sft weights unchanged");

    // The same spec in a child process, killed once grpo has written a checkpoint.
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "training_stages::child_process_entry", "--nocapture", "--test-threads=1"])
        .env("ASSAY_TRAINING_CHILD_SPEC", &spec)
        .spawn()
        .unwrap();
    let experiment_root = dir.path().join("runs/training");
    let deadline = Instant::now() + Duration::from_secs(600);
    let run_dir = loop {
        let found = fs::read_dir(&experiment_root).ok().and_then(|entries| {
            entries.flatten().map(|entry| entry.path()).find(|path| {
                fs::read_dir(path.join("stages/grpo.partial/checkpoints")).is_ok_and(|mut files| files.next().is_some())
            })
        });
        if let Some(run_dir) = found {
            break run_dir;
        }
        assert!(Instant::now() < deadline, "the child run never wrote a grpo checkpoint");
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(Manifest::read(&run_dir).unwrap().status, RunStatus::Running, "the child finished before it was killed");
    assert!(run_dir.join("stages/sft/policy/model.safetensors").is_file(), "sft finished before grpo started");

    // Resume in this process: the final weights equal the uninterrupted run's bytes.
    run::run(None, &RunOptions { resume: Some(run_dir.clone()), ..RunOptions::default() }, &registry()).unwrap();
    assert_eq!(Manifest::read(&run_dir).unwrap().status, RunStatus::Succeeded);
    assert!(weights(&run_dir, "sft") == sft_weights, "sft weights differ from the uninterrupted run");
    assert!(weights(&run_dir, "grpo") == grpo_weights, "resumed grpo weights differ from the uninterrupted run");
    let (_, resumed_steps) = scalar_steps(&run_dir, "grpo", "reward/mean");
    assert_eq!(resumed_steps, vec![1, 2, 3, 4, 5]);
}

#[test]
fn invalid_training_settings_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path());
    let cases = [
        ("stages.grpo.training.rollout.group_size=1", "group_size"),
        ("stages.grpo.training.optimizer.learning_rate=0", "learning_rate"),
        ("stages.grpo.training.clip_epsilon_low=1.5", "clip_epsilon_low"),
        ("stages.grpo.rewards.0.name=corect", "corect"),
        ("stages.sft.training.batch_size=0", "batch_size"),
        ("stages.sft.model=missing", "missing"),
        ("stages.grpo.tools=[zoom]", "zoom"),
        ("stages.grpo.shaping={name: reshape}", "reshape"),
        ("stages.grpo.policy=sft_agentc", "sft_agentc"),
        ("stages.grpo.data.stage=dat", "dat"),
        ("stages.sft.name=../../escape", "invalid stage name"),
        ("stages.sft.name=''", "invalid stage name"),
        ("models.tiny.params.hidden_size=10000000", "weights (without the vocabulary)"),
    ];
    assert_overrides_rejected(&spec, &registry(), &cases);
}

/// Checks that each `(override, expected)` makes a dry run of `spec` invalid with a
/// diagnostic that contains `expected`.
pub(crate) fn assert_overrides_rejected(spec: &Path, registry: &Registry, cases: &[(&str, &str)]) {
    for &(setting, expected) in cases {
        let options = RunOptions { overrides: vec![setting.into()], dry_run: true, ..RunOptions::default() };
        match run::run(Some(spec), &options, registry) {
            Err(RunError::Invalid(diagnostics)) => {
                let text = format!("{diagnostics:?}");
                assert!(text.contains(expected), "`{setting}` gave diagnostics without `{expected}`: {text}");
            }
            other => panic!("`{setting}` was accepted: {other:?}"),
        }
    }
}
