//! A `kind: native` reward in the `grpo` stage: the ActFER reward cdylib loads through the
//! C ABI, scores rollouts beside both WebAssembly tools, and is recorded in the manifest.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assay::plugins::{load_native_reward, RewardErrors};
use assay::run::manifest::{Manifest, RunStatus};
use assay::run::scalars::read_scalars;
use assay::spec::PluginSpec;
use assay::stages::stage_policy::StageCodec;
use assay_plugin_host::guest_build::{ensure_native_plugin_built, guest_path};
use assay_train::grpo::Reward;
use assay_train::rollout::{Rollout, StopReason};
use assay_train::trajectory::Sample;
use assay_train::{Sequence, Tokenizer};
use serde_json::json;

fn fixture_spec() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/specs/native_reward.yaml")
}

fn actfer_library() -> PathBuf {
    ensure_native_plugin_built("assay-actfer-reward", "assay_actfer_reward").unwrap_or_else(|e| panic!("building the ActFER reward plugin failed: {e}"))
}

/// `--set` arguments that point the fixture at the freshly built plugins and write runs
/// under `dir`.
fn plugin_overrides(dir: &Path, library: &Path) -> Vec<String> {
    let tool = |name: &str| guest_path(name).unwrap_or_else(|e| panic!("building the WebAssembly guests failed: {e}"));
    vec![
        format!("experiment.output_root={}", dir.join("runs").display()),
        format!("plugins.tools.face_align.path={}", tool("face_align").display()),
        format!("plugins.tools.zoom_in.path={}", tool("zoom_in").display()),
        format!("plugins.rewards.accuracy_native.path={}", library.display()),
    ]
}

fn assay(dir: &Path, command: &str, overrides: &[String]) -> Output {
    let mut args = vec![command.to_string(), fixture_spec().display().to_string()];
    for setting in overrides {
        args.push("--set".to_string());
        args.push(setting.clone());
    }
    Command::new(env!("CARGO_BIN_EXE_assay")).args(&args).current_dir(dir).output().unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Returns the only run folder under `<dir>/runs/native-reward/`. Hidden folders, such as
/// the stage cache, are not runs.
fn only_run(dir: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.join("runs/native-reward"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| !path.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(runs.len(), 1, "expected one run folder: {runs:?}");
    runs[0].clone()
}

/// Values of the scalar `name` of a stage, by step.
fn scalar_by_step(run_dir: &Path, stage: &str, name: &str) -> Vec<(u64, f64)> {
    let scalars = read_scalars(&run_dir.join("stages").join(stage)).unwrap();
    scalars.iter().filter(|scalar| scalar.name == name).map(|scalar| (scalar.step, scalar.value)).collect()
}

#[test]
fn native_reward_spec_validates_and_runs() {
    let library = actfer_library();
    let dir = tempfile::tempdir().unwrap();
    let overrides = plugin_overrides(dir.path(), &library);

    let validated = assay(dir.path(), "validate", &overrides);
    assert!(validated.status.success(), "{}", text(&validated));
    assert!(text(&validated).contains("ok (3 stages)"), "{}", text(&validated));

    let run = assay(dir.path(), "run", &overrides);
    assert!(run.status.success(), "{}", text(&run));
    let run_dir = only_run(dir.path());

    // The manifest names the library's own name and version and hashes the file.
    let manifest = Manifest::read(&run_dir).unwrap();
    assert_eq!(manifest.status, RunStatus::Succeeded);
    let native = manifest.plugins.iter().find(|plugin| plugin.name == "accuracy_native").expect("the manifest lists the native reward");
    assert_eq!(native.section, "rewards");
    assert_eq!(native.kind, "native");
    assert_eq!(native.version, format!("actfer_accuracy {}", env!("CARGO_PKG_VERSION")));
    assert_eq!(native.sha256, assay_plugin_host::sha256_file(&library).unwrap());
    for tool in ["face_align", "zoom_in"] {
        let identity = manifest.plugins.iter().find(|plugin| plugin.name == tool).unwrap_or_else(|| panic!("the manifest lists no `{tool}`"));
        assert_eq!(identity.kind, "wasm");
        assert!(identity.version.starts_with(tool), "{identity:?}");
        assert_eq!(identity.sha256, assay_plugin_host::sha256_file(&guest_path(tool).unwrap()).unwrap());
    }

    // The native reward scored every step. With the format bonus off it computes the
    // built-in reward's formula, on the decoded completion instead of the parsed answer.
    // NOTE: a policy trained this briefly rarely writes a parsable answer, so most scores
    // are r_wrong. `native_reward_scores_decoded_completion` checks scored answers.
    let native = scalar_by_step(&run_dir, "grpo", "reward/accuracy_native/mean");
    let builtin = scalar_by_step(&run_dir, "grpo", "reward/actfer_accuracy/mean");
    assert_eq!(native.iter().map(|(step, _)| *step).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(native.len(), builtin.len());
    for ((step, native_mean), (_, builtin_mean)) in native.iter().zip(&builtin) {
        assert!((native_mean - builtin_mean).abs() < 1e-9, "step {step}: native {native_mean}, built-in {builtin_mean}");
        // Every score lies in [r_wrong, w_y + w_au] = [-0.375, 1.5]. A reward that
        // abstained on every rollout would log exactly 0.
        assert!((-0.375..=1.5).contains(native_mean), "step {step}: mean {native_mean}");
        assert_ne!(*native_mean, 0.0, "step {step}: the native reward scored no rollout");
    }
}

#[test]
fn native_reward_not_a_library_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_library = dir.path().join("reward.so");
    std::fs::write(&not_a_library, "not a shared library").unwrap();
    let overrides = plugin_overrides(dir.path(), &not_a_library);

    let run = assay(dir.path(), "run", &overrides);
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    let output = text(&run);
    assert!(output.contains("failed to load plugin `accuracy_native`"), "{output}");
    assert!(output.contains(&not_a_library.display().to_string()), "{output}");
    assert!(output.contains("is not a loadable shared library"), "{output}");
}

#[test]
fn native_reward_bad_config_fails_stage() {
    let library = actfer_library();
    let dir = tempfile::tempdir().unwrap();
    let mut overrides = plugin_overrides(dir.path(), &library);
    overrides.push("plugins.rewards.accuracy_native.config.w_au=-1".into());
    // A shorter SFT: the reward is created before the first GRPO step.
    overrides.push("stages.sft.training.epochs=1".into());

    let run = assay(dir.path(), "run", &overrides);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let output = text(&run);
    assert!(output.contains(&format!("failed to create native reward `accuracy_native` from {}", library.display())), "{output}");
    assert!(output.contains("`w_au` is -1"), "{output}");
    let manifest = Manifest::read(&only_run(dir.path())).unwrap();
    let grpo = manifest.stages.iter().find(|stage| stage.name == "grpo").unwrap();
    assert!(grpo.error.as_deref().is_some_and(|error| error.contains("accuracy_native")), "{grpo:?}");
}

fn native_entry(library: &Path) -> PluginSpec {
    serde_json::from_value(json!({
        "kind": "native",
        "path": library,
        "config": {"w_y": 1.0, "w_au": 0.5, "r_wrong": -0.375, "w_format": 0.25}
    }))
    .unwrap()
}

fn sample(answer: Option<&str>, metadata: serde_json::Value) -> Sample {
    Sample { id: "face-1".into(), prompt: "which emotion ?".into(), images: Vec::new(), target: Vec::new(), answer: answer.map(str::to_string), metadata }
}

fn rollout(tokenizer: &Tokenizer, completion: &str) -> Rollout {
    let completion = tokenizer.encode(completion);
    Rollout {
        prompt: Sequence { ids: tokenizer.encode("which emotion ?"), images: Vec::new() },
        completion_mask: vec![1.0; completion.len()],
        completion,
        completion_images: Vec::new(),
        turns: 1,
        tool_calls: 0,
        tool_failures: 0,
        answer: None,
        stop_reason: StopReason::Answer,
    }
}

#[test]
fn native_reward_scores_decoded_completion() {
    let library = actfer_library();
    let tokenizer = Tokenizer::from_corpus(["which emotion ? <answer> fear; AU1, AU2 </answer> <eos> surprise"]);
    let errors = RewardErrors::default();
    let mut reward = load_native_reward("accuracy", &native_entry(&library), &StageCodec::Word(tokenizer.clone()), &errors).unwrap();
    assert_eq!(reward.name(), "accuracy");
    let reference = sample(Some("fear; AU1, AU2"), json!({"emotion": "fear", "action_units": [1, 2], "domain": "rafdb"}));

    // Right emotion, F1({1}, {1, 2}) = 2 / 3: 1 + 0.5 * 2/3 + 0.25 (format).
    let right = rollout(&tokenizer, "<answer>fear; AU1</answer>");
    let expected = 1.0 + 0.5 * 2.0 / 3.0 + 0.25;
    assert!((reward.score(&reference, &right).unwrap() - expected).abs() < 1e-12);
    // A final `<eos>` is dropped before the completion is sent.
    let with_eos = rollout(&tokenizer, "<answer>fear; AU1</answer><eos>");
    assert!((reward.score(&reference, &with_eos).unwrap() - expected).abs() < 1e-12);
    // Wrong emotion, F1({1, 2}, {1, 2}) = 1: -0.375 + 0.5 * 0.5 * 1 + 0.25.
    let wrong = rollout(&tokenizer, "<answer>surprise; AU1, AU2</answer>");
    assert!((reward.score(&reference, &wrong).unwrap() - 0.125).abs() < 1e-12);
    // No answer block: r_wrong and no format bonus.
    let unanswered = rollout(&tokenizer, "fear");
    assert_eq!(reward.score(&reference, &unanswered), Some(-0.375));
    // No reference answer: the reward abstains without calling the plugin.
    assert_eq!(reward.score(&sample(None, json!({})), &right), None);
    assert!(errors.check().is_ok());
}

#[test]
fn native_reward_plugin_error_names_plugin_and_path() {
    let library = actfer_library();
    let tokenizer = Tokenizer::from_corpus(["<answer> fear; AU1 </answer>"]);
    let errors = RewardErrors::default();
    let mut reward = load_native_reward("accuracy", &native_entry(&library), &StageCodec::Word(tokenizer.clone()), &errors).unwrap();
    let bad_reference = sample(Some("joy; AU1"), json!({"emotion": "joy", "action_units": [1]}));

    assert_eq!(reward.score(&bad_reference, &rollout(&tokenizer, "<answer>fear; AU1</answer>")), None);
    let message = format!("{:#}", errors.check().unwrap_err());
    assert!(message.contains("native reward `accuracy`"), "{message}");
    assert!(message.contains(&library.display().to_string()), "{message}");
    assert!(message.contains("sample `face-1`"), "{message}");
    assert!(message.contains("`joy`"), "{message}");
}

#[test]
fn native_reward_missing_library_names_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.so");
    let tokenizer = Tokenizer::from_corpus(["fear"]);
    let error = match load_native_reward("accuracy", &native_entry(&missing), &StageCodec::Word(tokenizer.clone()), &RewardErrors::default()) {
        Ok(_) => panic!("a missing library loaded"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("failed to load native reward `accuracy`"), "{error}");
    assert!(error.contains(&missing.display().to_string()), "{error}");
    assert!(error.contains("not found"), "{error}");
}

#[test]
fn plugins_list_shows_every_kind() {
    let library = actfer_library();
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["plugins".to_string(), "list".to_string(), fixture_spec().display().to_string()];
    for setting in plugin_overrides(dir.path(), &library) {
        args.extend(["--set".to_string(), setting]);
    }
    let listed = Command::new(env!("CARGO_BIN_EXE_assay")).args(&args).current_dir(dir.path()).output().unwrap();
    assert!(listed.status.success(), "{}", text(&listed));
    let output = text(&listed);
    let line = |kind: &str, name: &str| {
        output
            .lines()
            .find(|line| line.split_whitespace().next() == Some(kind) && line.split_whitespace().nth(2) == Some(name))
            .unwrap_or_else(|| panic!("no `{kind}` line for `{name}`:\n{output}"))
            .to_string()
    };
    let version = env!("CARGO_PKG_VERSION");
    assert!(line("builtin", "exact_answer").contains(version), "{output}");
    let native = line("native", "accuracy_native");
    assert!(native.contains(&format!("actfer_accuracy {version}")), "{native}");
    assert!(native.contains(&assay_plugin_host::sha256_file(&library).unwrap()), "{native}");
    for tool in ["face_align", "zoom_in"] {
        let wasm = line("wasm", tool);
        assert!(wasm.contains(&assay_plugin_host::sha256_file(&guest_path(tool).unwrap()).unwrap()), "{wasm}");
    }
}

#[test]
fn plugins_check_prints_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let check = |path: &Path| {
        let output = Command::new(env!("CARGO_BIN_EXE_assay")).args(["plugins", "check"]).arg(path).current_dir(dir.path()).output().unwrap();
        assert!(output.status.success(), "{}", text(&output));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&output)))
    };

    let native = check(&actfer_library());
    assert_eq!(native["format"], "native");
    assert_eq!(native["kind"], "reward");
    assert_eq!(native["name"], "actfer_accuracy");
    assert_eq!(native["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(native["schema"]["properties"]["w_au"]["minimum"], 0);

    let zoom_in = check(&guest_path("zoom_in").unwrap());
    assert_eq!(zoom_in["format"], "wasm");
    assert_eq!(zoom_in["kind"], "tool");
    assert_eq!(zoom_in["name"], "zoom_in");
    assert_eq!(zoom_in["schema"]["type"], "object");

    let not_a_plugin = dir.path().join("notes.txt");
    std::fs::write(&not_a_plugin, "text").unwrap();
    let failed = Command::new(env!("CARGO_BIN_EXE_assay")).args(["plugins", "check"]).arg(&not_a_plugin).output().unwrap();
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    assert!(text(&failed).contains("not a loadable shared library"), "{}", text(&failed));
}
