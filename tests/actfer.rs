//! ActFER data synthesis and evaluation end to end: render faces, synthesize trajectories
//! with the real WebAssembly tools, fit a tiny policy, evaluate it with its tools.

use std::fs;
use std::path::{Path, PathBuf};

use assay::stages::evaluate::Evaluate;
use assay::actfer::policy_folder::save_policy_folder;
use assay::stages::synthesize::Synthesize;
use assay::run::{self, RunError, RunOptions};
use assay::stage::{Registry, StageContext, StageRunner};
use assay_train::sft::{encode_sft_example, train_sft, SftConfig};
use assay_train::trajectory::{read_ppm, read_samples, Sample, Segment};
use assay_train::{TinyVlm, TinyVlmConfig, TokenLayout, Tokenizer};
use polars::prelude::DataFrame;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Fits a tiny policy on a `synthesize` stage's `sft.jsonl` and writes its policy folder.
struct TinySft;

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TinySftParams {
    steps: usize,
}

fn corpus_texts(samples: &[Sample]) -> Vec<String> {
    let mut texts = Vec::new();
    for sample in samples {
        texts.push(sample.prompt.clone());
        for segment in &sample.target {
            match segment {
                Segment::Assistant { text } | Segment::Observation { text, .. } => texts.push(text.clone()),
            }
        }
    }
    texts
}

impl StageRunner for TinySft {
    type Params = TinySftParams;
    const KIND: &'static str = "test_tiny_sft";
    const DESCRIPTION: &'static str = "test stage: a few SFT steps of a tiny policy";

    fn run(params: &TinySftParams, ctx: &mut StageContext) -> anyhow::Result<()> {
        let data = ctx.inputs.values().next().unwrap().clone();
        let samples = read_samples(&data.join("sft.jsonl"))?;
        let texts = corpus_texts(&samples);
        let tokenizer = Tokenizer::from_corpus(texts.iter().map(String::as_str));
        let config = TinyVlmConfig {
            hidden_size: 32,
            num_heads: 2,
            intermediate_size: 64,
            vision_hidden_size: 16,
            vision_intermediate_size: 32,
            ..TinyVlmConfig::default()
        };
        let layout = TokenLayout { vocab_size: tokenizer.vocab_size(), image_token_id: tokenizer.special().image };
        let mut policy = TinyVlm::new(&config, layout, ctx.seed, candle_core::DType::F32, &candle_core::Device::Cpu)?;
        let mut examples = Vec::new();
        for sample in &samples {
            let mut images = Vec::new();
            for file in sample.images.iter().chain(sample.target.iter().flat_map(|s| match s {
                Segment::Observation { images, .. } => images.as_slice(),
                Segment::Assistant { .. } => &[] as &[String],
            })) {
                images.push(read_ppm(&data.join(file))?);
            }
            examples.push(encode_sft_example(&policy, &tokenizer, sample, &images)?);
        }
        let sft = SftConfig { epochs: 1, batch_size: samples.len().div_ceil(params.steps), micro_batch_size: 4, ..SftConfig::default() };
        train_sft(&sft, &mut policy, &examples, None, &mut |_| Ok(()))?;
        save_policy_folder(&ctx.work_dir, &policy, &tokenizer)?;
        Ok(())
    }
}

fn registry() -> Registry {
    let mut registry = Registry::builtin();
    registry.register::<Synthesize>().register::<Evaluate>().register::<TinySft>();
    registry
}

fn guest(name: &str) -> PathBuf {
    assay_plugin_host::guest_build::guest_path(name).expect("the WebAssembly guests build")
}

fn write_spec(dir: &Path, stages: &str) -> PathBuf {
    let text = format!(
        "experiment:\n  name: actfer-test\n  seed: 11\n  output_root: {}\nplugins:\n  tools:\n    face_align:\n      kind: wasm\n      path: {}\n    zoom_in:\n      kind: wasm\n      path: {}\n{stages}",
        dir.join("runs").display(),
        guest("face_align").display(),
        guest("zoom_in").display(),
    );
    let path = dir.join("spec.yaml");
    fs::write(&path, text).unwrap();
    path
}

const PIPELINE: &str = "stages:
  - name: data
    kind: synthesize
    domains:
      - {domain: rafdb, train: 8, test: 4}
      - {domain: sfew, train: 4, test: 3}
      - {domain: disfa, test: 3}
    subtle_intensity: 0.9
    direct_answer_rate: 0.25
    rl_prompts: 12
  - name: sft
    kind: test_tiny_sft
    inputs: [data]
    steps: 2
  - name: eval
    kind: evaluate
    inputs: [sft, data]
    policy_stage: sft
    data_stage: data
    max_completion_tokens: 48
";

fn strings(frame: &DataFrame, column: &str) -> Vec<String> {
    let values = frame.column(column).unwrap().str().unwrap();
    (0..values.len()).map(|i| values.get(i).unwrap_or_default().to_string()).collect()
}

fn result(frame: &DataFrame, dataset: &str, subset: &str, metric: &str) -> Option<f64> {
    let (datasets, subsets, metrics) = (strings(frame, "dataset"), strings(frame, "subset"), strings(frame, "metric"));
    let column = frame.column("value").unwrap().f64().unwrap();
    let values: Vec<Option<f64>> = (0..column.len()).map(|i| column.get(i)).collect();
    let row = (0..values.len()).find(|&i| datasets[i] == dataset && subsets[i] == subset && metrics[i] == metric);
    let index = row.unwrap_or_else(|| panic!("no result row {dataset}/{subset}/{metric}"));
    values[index]
}

#[test]
fn synthesize_and_evaluate_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), PIPELINE);
    let run_dir = run::run(Some(&spec), &RunOptions::default(), &registry()).unwrap().run_dir.unwrap();
    let data = run_dir.join("stages/data");

    // The generator's own split layout is written per domain and split.
    for split in ["rafdb/train", "rafdb/test", "sfew/train", "sfew/test", "disfa/test"] {
        assert!(data.join("data").join(split).join("labels.jsonl").is_file(), "{split}");
    }

    // SFT trajectories: emotion domains' training images only, some with tools, some without.
    let sft = read_samples(&data.join("sft.jsonl")).unwrap();
    assert_eq!(sft.len(), 12);
    let with_tools: Vec<&Sample> = sft.iter().filter(|s| s.target.len() > 1).collect();
    assert!(!with_tools.is_empty(), "no trajectory used tools");
    assert!(with_tools.len() < sft.len(), "every trajectory used tools");
    for sample in &with_tools {
        let Segment::Assistant { text } = &sample.target[0] else { panic!("trajectory starts with an observation") };
        assert!(text.ends_with("<tool>face_align{}</tool>"), "{text}");
        let Segment::Observation { images, .. } = &sample.target[1] else { panic!("no observation after face_align") };
        for file in images {
            let image = read_ppm(&data.join(file)).unwrap();
            assert_eq!((image.width, image.height), (112, 112), "aligned face size");
        }
    }
    let zoomed: Vec<&Sample> =
        with_tools.iter().copied().filter(|s| s.target.iter().any(|seg| matches!(seg, Segment::Assistant { text } if text.contains("<tool>zoom_in")))).collect();
    assert!(!zoomed.is_empty(), "no trajectory zoomed");
    for sample in &sft {
        let Segment::Assistant { text } = sample.target.last().unwrap() else { panic!("trajectory ends with an observation") };
        let body = text.rsplit_once("<answer>").unwrap().1.trim_end_matches("</answer>");
        assert_eq!(Some(body.to_string()), sample.answer, "answer of {}", sample.id);
        assert!(text.contains(" imply") || text.contains("implies"), "thought names no emotion: {text}");
    }

    // RL prompts and test prompts.
    assert_eq!(read_samples(&data.join("rl.jsonl")).unwrap().len(), 12);
    let test = read_samples(&data.join("test.jsonl")).unwrap();
    assert_eq!(test.len(), 10);
    assert!(test.iter().filter(|s| s.metadata["domain"] == "disfa").all(|s| s.answer.is_none()));

    // Evaluation results: emotion metrics per domain and overall, AU F1 for DISFA, alignment.
    let results = assay_report::read_results(&run_dir.join("stages/eval/results.parquet")).unwrap();
    for dataset in ["rafdb", "sfew", "all"] {
        let accuracy = result(&results, dataset, "all", "accuracy").unwrap();
        assert!((0.0..=1.0).contains(&accuracy), "{dataset} accuracy {accuracy}");
        assert!(result(&results, dataset, "all", "mean_turns").unwrap() >= 1.0);
    }
    assert!(result(&results, "disfa", "all", "au_f1").unwrap_or(0.0) >= 0.0);
    result(&results, "disfa", "AU12", "au_f1");
    let detection = result(&results, "rafdb", "all", "align_detection_rate").unwrap();
    assert!(detection > 0.5, "face_align found faces in only {detection} of clean images");
    let error = result(&results, "rafdb", "all", "align_landmark_nme").unwrap();
    assert!(error < 0.5, "landmark error {error} of the inter-ocular distance");
    let predictions = assay_report::read_predictions(&run_dir.join("stages/eval/predictions.parquet")).unwrap();
    assert_eq!(predictions.height(), 10);
}

#[test]
fn synthesis_is_deterministic() {
    let stages = "stages:
  - name: data
    kind: synthesize
    domains:
      - {domain: affectnet, train: 5, test: 2}
    rl_prompts: 6
";
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let a = run::run(Some(&write_spec(first.path(), stages)), &RunOptions::default(), &registry()).unwrap().run_dir.unwrap();
    let b = run::run(Some(&write_spec(second.path(), stages)), &RunOptions::default(), &registry()).unwrap().run_dir.unwrap();
    for file in ["sft.jsonl", "rl.jsonl", "test.jsonl"] {
        let read = |dir: &Path| fs::read(dir.join("stages/data").join(file)).unwrap();
        assert_eq!(read(&a), read(&b), "{file} differs between runs");
    }
}

#[test]
fn undeclared_tool_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let stages = "stages:
  - name: data
    kind: synthesize
    domains:
      - {domain: rafdb, train: 2}
    zoom_tool: magnify
";
    let spec = write_spec(dir.path(), stages);
    let error = match run::run(Some(&spec), &RunOptions::default(), &registry()) {
        Err(error) => format!("{error:?}"),
        Ok(outcome) => {
            let manifest = assay::run::manifest::Manifest::read(&outcome.run_dir.unwrap()).unwrap();
            panic!("run succeeded: {:?}", manifest.status)
        }
    };
    assert!(error.contains("magnify"), "{error}");
}

#[test]
fn empty_domain_list_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "stages:\n  - name: data\n    kind: synthesize\n    domains: []\n");
    match run::run(Some(&spec), &RunOptions::default(), &registry()) {
        Err(RunError::Invalid(diagnostics)) => assert!(format!("{diagnostics:?}").contains("domains"), "{diagnostics:?}"),
        other => panic!("expected an invalid-spec error, got {other:?}"),
    }
}

/// A text-only emotion task for UC-GRPO: after a short SFT on a mix of trajectories that
/// zoom and that answer directly, sampled groups mix both kinds, so the utility averages
/// change from the first step.
mod uc_grpo_resume {
    use std::path::Path;

    use assay::actfer::{AccuracyReward, UtilityCalibration, UtilityConfig};
    use assay_actfer_reward::ActferConfig;
    use assay_train::grpo::{train_grpo, GrpoConfig, GrpoHooks, GrpoInputs, GrpoPrompt, WeightedReward};
    use assay_train::optim::OptimizerConfig;
    use assay_train::rollout::{Observation, Rollout, RolloutConfig, ToolRunner};
    use assay_train::sft::{encode_sft_example, train_sft, SftConfig};
    use assay_train::trajectory::{Sample, Segment};
    use assay_train::{Image, Policy, Sequence, TinyVlm, TinyVlmConfig, TokenLayout, Tokenizer};
    use candle_core::{DType, Device};

    const PROMPT: &str = "which emotion does face";
    const ZOOM_CALL: &str = "<tool>zoom_in{}</tool>";
    const ANSWERS: [&str; 3] = ["happiness; AU6, AU12", "sadness; AU1, AU4, AU15", "surprise; AU1, AU2, AU26"];

    /// Returns a fixed text observation for `zoom_in` and rejects other tools.
    struct TextZoom;

    impl ToolRunner for TextZoom {
        fn call(&mut self, name: &str, _args: &serde_json::Value, _image: Option<&Image>) -> Result<Observation, String> {
            match name {
                "zoom_in" => Ok(Observation { text: "the mouth shows AU12".into(), images: Vec::new() }),
                other => Err(format!("unknown tool `{other}`")),
            }
        }
    }

    /// Drops its state from checkpoints: UC-GRPO as it behaved before hooks were saved.
    struct Forgetful(UtilityCalibration);

    impl GrpoHooks for Forgetful {
        fn shape_rewards(&mut self, sample: &Sample, group: &[Rollout], rewards: &mut [Option<f64>]) {
            self.0.shape_rewards(sample, group, rewards);
        }
    }

    fn tokenizer() -> Tokenizer {
        let answers: Vec<String> = ANSWERS.iter().map(|a| format!("<answer>{a}</answer><eos>")).collect();
        let mut corpus = vec![PROMPT, ZOOM_CALL, "<obs>the mouth shows AU12</obs> error unknown tool"];
        corpus.extend(answers.iter().map(String::as_str));
        Tokenizer::from_corpus(corpus)
    }

    fn sample(index: usize) -> Sample {
        let answer = ANSWERS[index % ANSWERS.len()];
        let prompt = format!("{PROMPT} {index}");
        let finish = Segment::Assistant { text: format!("<answer>{answer}</answer><eos>") };
        // Every other sample zooms before answering.
        let target = if index.is_multiple_of(2) {
            vec![
                Segment::Assistant { text: ZOOM_CALL.into() },
                Segment::Observation { text: "the mouth shows AU12".into(), images: Vec::new() },
                finish,
            ]
        } else {
            vec![finish]
        };
        Sample { id: format!("s{index}"), prompt, images: Vec::new(), target, answer: Some(answer.into()), metadata: serde_json::Value::Null }
    }

    /// Builds a tiny policy and trains it for a few SFT steps on both kinds of trajectory.
    fn starting_policy(tokenizer: &Tokenizer) -> TinyVlm {
        let config = TinyVlmConfig {
            hidden_size: 32,
            num_layers: 1,
            num_heads: 2,
            intermediate_size: 64,
            max_seq_len: 96,
            image_size: 8,
            patch_size: 4,
            vision_hidden_size: 16,
            vision_layers: 1,
            vision_heads: 2,
            vision_intermediate_size: 32,
            init_std: 0.1,
            ..TinyVlmConfig::default()
        };
        let layout = TokenLayout { vocab_size: tokenizer.vocab_size(), image_token_id: tokenizer.special().image };
        let mut policy = TinyVlm::new(&config, layout, 5, DType::F32, &Device::Cpu).unwrap();
        let samples: Vec<Sample> = (0..12).map(sample).collect();
        let examples: Vec<_> = samples.iter().map(|s| encode_sft_example(&policy, tokenizer, s, &[]).unwrap()).collect();
        let sft = SftConfig {
            epochs: 15,
            batch_size: 6,
            micro_batch_size: 6,
            optimizer: OptimizerConfig { learning_rate: 0.01, ..OptimizerConfig::default() },
            ..SftConfig::default()
        };
        train_sft(&sft, &mut policy, &examples, None, &mut |_| Ok(())).unwrap();
        policy
    }

    fn hook(tokenizer: &Tokenizer) -> UtilityCalibration {
        let accuracy = AccuracyReward::new(ActferConfig::default()).unwrap();
        let config = UtilityConfig { ema_decay: 0.5, calibration_weight: 0.5, ..UtilityConfig::default() };
        UtilityCalibration::new(config, accuracy, tokenizer.clone()).unwrap()
    }

    type StepLog = Vec<Vec<(String, f64)>>;

    /// Runs 3 UC-GRPO steps with a checkpoint after each. With `crash_at` N, the run fails
    /// while step N is reported, before its checkpoint is written.
    fn train(policy: &mut TinyVlm, tokenizer: &Tokenizer, hooks: &mut dyn GrpoHooks, checkpoints: &Path, crash_at: Option<f64>) -> anyhow::Result<StepLog> {
        let prompts: Vec<GrpoPrompt> = (0..6)
            .map(|i| {
                let sample = sample(i);
                let prompt = Sequence { ids: tokenizer.encode(&sample.prompt), images: Vec::new() };
                GrpoPrompt { sample, prompt }
            })
            .collect();
        let accuracy = AccuracyReward::new(ActferConfig::default()).unwrap();
        let mut rewards = vec![WeightedReward { reward: Box::new(accuracy), weight: 1.0 }];
        let config = GrpoConfig {
            steps: 3,
            prompts_per_step: 3,
            rollout: RolloutConfig { group_size: 4, max_turns: 2, max_completion_tokens: 32, ..RolloutConfig::default() },
            optimizer: OptimizerConfig { learning_rate: 0.003, ..OptimizerConfig::default() },
            checkpoint_every: 1,
            seed: 9,
            ..GrpoConfig::default()
        };
        let inputs = GrpoInputs { codec: tokenizer, prompts: &prompts, rewards: &mut rewards, tools: &mut TextZoom, hooks };
        let mut log = Vec::new();
        train_grpo(&config, policy, None, inputs, Some(checkpoints), &mut |metrics| {
            // Wall-clock rates differ between runs, but every other metric must repeat exactly.
            log.push(metrics.iter().filter(|(k, _)| !k.contains("per_second")).map(|(k, v)| (k.clone(), *v)).collect());
            if crash_at.is_some_and(|step| metrics["step"] >= step) {
                anyhow::bail!("simulated crash");
            }
            Ok(())
        })?;
        Ok(log)
    }

    fn weights(policy: &TinyVlm) -> Vec<Vec<f32>> {
        policy.named_vars().into_iter().map(|(_, var)| var.as_tensor().flatten_all().unwrap().to_vec1().unwrap()).collect()
    }

    /// Reads the hook state stored in a GRPO checkpoint's metadata.
    fn checkpoint_hook_state(path: &Path) -> serde_json::Value {
        let tensors = candle_core::safetensors::load(path, &Device::Cpu).unwrap();
        let bytes: Vec<u8> = tensors["meta"].to_vec1().unwrap();
        let meta: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        meta["extra"]["hook_state"].clone()
    }

    #[test]
    fn uc_grpo_resume_is_bit_identical() {
        let tokenizer = tokenizer();
        let start = starting_policy(&tokenizer);
        let dir = tempfile::tempdir().unwrap();

        let mut full_policy = start.duplicate().unwrap();
        let mut full_hook = hook(&tokenizer);
        let full = train(&mut full_policy, &tokenizer, &mut full_hook, &dir.path().join("full"), None).unwrap();

        // The averages must have moved by the first checkpoint, or the resume tests nothing.
        let state = checkpoint_hook_state(&dir.path().join("full/checkpoint-00000001.safetensors"));
        let averages = state["averages"].as_object().expect("the checkpoint stores the UC-GRPO averages");
        assert!(!averages.is_empty(), "no group mixed zooming and direct rollouts in step 1: {state}");

        let split = dir.path().join("split");
        let mut crashed = start.duplicate().unwrap();
        assert!(train(&mut crashed, &tokenizer, &mut hook(&tokenizer), &split, Some(2.0)).is_err());
        let mut resumed = start.duplicate().unwrap();
        let mut resumed_hook = hook(&tokenizer);
        let rest = train(&mut resumed, &tokenizer, &mut resumed_hook, &split, None).unwrap();

        assert_eq!(rest, full[1..].to_vec(), "metrics of steps 2 and 3");
        assert_eq!(weights(&resumed), weights(&full_policy), "final weights");
        assert_eq!(resumed_hook.state(), full_hook.state(), "final moving averages");
    }

    #[test]
    fn uc_grpo_resume_without_state_diverges() {
        // The control for the test above: the same hook with its state dropped from the
        // checkpoint restarts its averages at the initial value and trains differently.
        let tokenizer = tokenizer();
        let start = starting_policy(&tokenizer);
        let dir = tempfile::tempdir().unwrap();

        let mut full_policy = start.duplicate().unwrap();
        let full = train(&mut full_policy, &tokenizer, &mut Forgetful(hook(&tokenizer)), &dir.path().join("full"), None).unwrap();
        let split = dir.path().join("split");
        let mut crashed = start.duplicate().unwrap();
        assert!(train(&mut crashed, &tokenizer, &mut Forgetful(hook(&tokenizer)), &split, Some(2.0)).is_err());
        let mut resumed = start.duplicate().unwrap();
        let rest = train(&mut resumed, &tokenizer, &mut Forgetful(hook(&tokenizer)), &split, None).unwrap();

        assert_ne!(rest, full[1..].to_vec());
    }
}

/// The `synthesize` stage on tiny fixtures of the five real dataset layouts. The images are
/// rendered faces saved under the names each layout uses, so the tools find faces in them.
mod real_datasets {
    use std::fs;
    use std::path::Path;

    use assay::run::{self, RunError, RunOptions};
    use assay_train::trajectory::{read_samples, Segment};

    use super::{registry, write_spec};

    /// Writes a rendered face as PNG bytes at `path`, whatever its extension: the image
    /// reader detects the format from the content.
    fn write_face(path: &Path, index: u64) {
        let face = assay_facegen::render(&assay_facegen::Domain::Rafdb.config(), 3, index).unwrap();
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, assay_facegen::split::encode_png(&face).unwrap()).unwrap();
    }

    fn write_text(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// Creates one fixture per layout under `root` and returns the `data:` section.
    fn write_fixtures(root: &Path) -> String {
        // RAF-DB: labels 4 = happiness, 5 = sadness, 1 = surprise, 7 = neutral, 6 = anger.
        let raf = root.join("raf");
        write_text(&raf.join("EmoLabel/list_patition_label.txt"), "train_00001.jpg 4\ntrain_00002.jpg 5\ntrain_00003.jpg 1\ntest_0001.jpg 7\ntest_0002.jpg 6\n");
        for (k, name) in ["train_00001", "train_00002", "train_00003", "test_0001", "test_0002"].iter().enumerate() {
            write_face(&raf.join(format!("Image/aligned/{name}_aligned.jpg")), k as u64);
        }

        // AffectNet: expression 1 = happy, 2 = sad, 6 = anger.
        let affectnet = root.join("affectnet");
        let header = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal\n";
        write_text(&affectnet.join("Manually_Annotated_file_lists/training.csv"), &format!("{header}1/a.jpg,0,0,100,100,,1,0.5,0.2\n1/b.jpg,0,0,100,100,,2,-0.5,0.1\n"));
        write_text(&affectnet.join("Manually_Annotated_file_lists/validation.csv"), &format!("{header}2/c.jpg,0,0,100,100,,6,-0.6,0.7\n"));
        for (k, name) in ["1/a.jpg", "1/b.jpg", "2/c.jpg"].iter().enumerate() {
            write_face(&affectnet.join("Manually_Annotated_Images").join(name), 10 + k as u64);
        }

        // FERPlus: the majority of ten votes gives the label.
        let ferplus = root.join("ferplus");
        write_text(
            &ferplus.join("fer2013new.csv"),
            "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n\
             Training,fer0000000.png,0,10,0,0,0,0,0,0,0,0\n\
             Training,fer0000001.png,0,0,9,0,0,0,1,0,0,0\n\
             PrivateTest,fer0032221.png,0,0,0,0,0,0,10,0,0,0\n",
        );
        write_face(&ferplus.join("FER2013Train/fer0000000.png"), 20);
        write_face(&ferplus.join("FER2013Train/fer0000001.png"), 21);
        write_face(&ferplus.join("FER2013Test/fer0032221.png"), 22);

        // SFEW 2.0: one folder per split and emotion.
        let sfew = root.join("sfew");
        write_face(&sfew.join("Train/Happy/a.png"), 30);
        write_face(&sfew.join("Train/Disgust/b.png"), 31);
        write_face(&sfew.join("Val/Fear/c.png"), 32);

        // DISFA: frame 1 has AU12 at 4 of 5, frame 2 has AU1 at 3 of 5.
        let disfa = root.join("disfa");
        write_text(&disfa.join("ActionUnit_Labels/SN001/SN001_au1.txt"), "1,0\n2,3\n");
        write_text(&disfa.join("ActionUnit_Labels/SN001/SN001_au12.txt"), "1,4\n2,0\n");
        write_face(&disfa.join("frames/SN001/1.png"), 40);
        write_face(&disfa.join("frames/SN001/2.png"), 41);

        format!(
            "data:\n  raf: {{kind: rafdb, params: {{root: {}}}}}\n  aff: {{kind: affectnet, params: {{root: {}}}}}\n  fer: {{kind: ferplus, params: {{root: {}}}}}\n  sfew: {{kind: sfew, params: {{train_dir: {}, test_dir: {}}}}}\n  disfa: {{kind: disfa, params: {{labels_dir: {}, frames_dir: {}}}}}\n",
            raf.display(),
            affectnet.display(),
            ferplus.display(),
            sfew.join("Train").display(),
            sfew.join("Val").display(),
            disfa.join("ActionUnit_Labels").display(),
            disfa.join("frames").display(),
        )
    }

    const STAGES: &str = "stages:
  - name: data
    kind: synthesize
    domains:
      - {domain: rafdb, train: 3, test: 2, source: raf}
      - {domain: affectnet, train: 5, test: 1, source: aff}
      - {domain: ferplus, train: 2, test: 1, source: fer}
      - {domain: sfew, train: 2, test: 1, source: sfew}
      - {domain: disfa, test: 2, source: disfa}
    subtle_intensity: 1.0
    direct_answer_rate: 0.0
    rl_prompts: 4
";

    #[test]
    fn synthesize_reads_every_layout() {
        let dir = tempfile::tempdir().unwrap();
        let data = write_fixtures(&dir.path().join("datasets"));
        let spec = write_spec(dir.path(), &format!("{data}{STAGES}"));
        let run_dir = run::run(Some(&spec), &RunOptions::default(), &registry()).unwrap().run_dir.unwrap();
        let out = run_dir.join("stages/data");

        // Trajectories: every labelled training image, AffectNet capped at the 2 it has.
        let sft = read_samples(&out.join("sft.jsonl")).unwrap();
        let answers: Vec<(String, String)> =
            sft.iter().map(|s| (s.metadata["source_file"].as_str().unwrap().to_string(), s.answer.clone().unwrap())).collect();
        let answer_of = |suffix: &str| -> &str {
            &answers.iter().find(|(file, _)| file.ends_with(suffix)).unwrap_or_else(|| panic!("no sample from {suffix}: {answers:?}")).1
        };
        assert_eq!(sft.len(), 3 + 2 + 2 + 2);
        // Emotion-only datasets take the AUs of the emotion's EMFACS prototype.
        assert_eq!(answer_of("train_00001_aligned.jpg"), "happiness; AU6, AU12");
        assert_eq!(answer_of("train_00002_aligned.jpg"), "sadness; AU1, AU4, AU15");
        assert_eq!(answer_of("train_00003_aligned.jpg"), "surprise; AU1, AU2, AU5, AU26");
        assert_eq!(answer_of("1/b.jpg"), "sadness; AU1, AU4, AU15");
        assert_eq!(answer_of("fer0000001.png"), "surprise; AU1, AU2, AU5, AU26");
        assert_eq!(answer_of("Disgust/b.png"), "disgust; AU9, AU15, AU17");
        assert!(sft.iter().all(|s| s.metadata["prototype_units"] == true));

        // The tools ran on the real images: every trajectory aligned, and those whose face
        // was found zoomed into a region.
        let mut zoomed = 0;
        for sample in &sft {
            let Segment::Assistant { text } = &sample.target[0] else { panic!("trajectory starts with an observation") };
            assert!(text.ends_with("<tool>face_align{}</tool>"), "{text}");
            if sample.target.iter().any(|s| matches!(s, Segment::Assistant { text } if text.contains("<tool>zoom_in"))) {
                zoomed += 1;
            }
            for segment in &sample.target {
                if let Segment::Observation { images, .. } = segment {
                    assert!(images.iter().all(|file| out.join(file).is_file()), "{images:?}");
                }
            }
        }
        assert!(zoomed > 0, "no trajectory zoomed");

        // Test prompts: DISFA frames carry their AU labels and no emotion.
        let test = read_samples(&out.join("test.jsonl")).unwrap();
        assert_eq!(test.len(), 2 + 1 + 1 + 1 + 2);
        let disfa: Vec<_> = test.iter().filter(|s| s.metadata["domain"] == "disfa").collect();
        assert_eq!(disfa.len(), 2);
        assert!(disfa.iter().all(|s| s.answer.is_none()));
        assert_eq!(disfa[0].metadata["action_units"], serde_json::json!([12]));
        assert_eq!(disfa[1].metadata["action_units"], serde_json::json!([1]));
        assert_eq!(disfa[0].metadata["prototype_units"], false);
        let fear = test.iter().find(|s| s.metadata["domain"] == "sfew").unwrap();
        assert_eq!(fear.answer.as_deref(), Some("fear; AU1, AU2, AU4, AU5, AU7, AU20, AU25"));
        assert_eq!(read_samples(&out.join("rl.jsonl")).unwrap().len(), 4);

        // Real datasets are read in place, not copied into the generator's layout.
        assert!(!out.join("data").exists());
    }

    fn failure(spec: &Path) -> String {
        match run::run(Some(spec), &RunOptions::default(), &registry()) {
            Err(RunError::Failed(error)) => format!("{error:#}"),
            Err(RunError::Invalid(diagnostics)) => format!("{diagnostics:?}"),
            Ok(outcome) => panic!("run succeeded: {:?}", outcome.run_dir),
        }
    }

    #[test]
    fn missing_dataset_names_layout() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-folder");
        let data = format!("data:\n  raf: {{kind: rafdb, params: {{root: {}}}}}\n", missing.display());
        let stages = "stages:\n  - name: data\n    kind: synthesize\n    domains:\n      - {domain: rafdb, train: 2, source: raf}\n";
        let error = failure(&write_spec(dir.path(), &format!("{data}{stages}")));
        assert!(error.contains("RAF-DB not found"), "{error}");
        assert!(error.contains("EmoLabel/list_patition_label.txt"), "{error}");
        assert!(error.contains("no-such-folder"), "{error}");
    }

    #[test]
    fn missing_images_name_dataset() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("raf");
        write_text(&root.join("EmoLabel/list_patition_label.txt"), "train_00001.jpg 4\n");
        fs::create_dir_all(root.join("Image/aligned")).unwrap();
        let data = format!("data:\n  raf: {{kind: rafdb, params: {{root: {}}}}}\n", root.display());
        let stages = "stages:\n  - name: data\n    kind: synthesize\n    domains:\n      - {domain: rafdb, train: 1, source: raf}\n";
        let error = failure(&write_spec(dir.path(), &format!("{data}{stages}")));
        assert!(error.contains("RAF-DB: none of the 1 images"), "{error}");
        assert!(error.contains("train_00001_aligned.jpg"), "{error}");
    }

    #[test]
    fn source_must_name_a_data_entry() {
        let dir = tempfile::tempdir().unwrap();
        let data = "data:\n  raf: {kind: rafdb, params: {root: r}}\n  scores: {kind: csv, params: {root: r}}\n";
        let stages = "stages:\n  - name: data\n    kind: synthesize\n    domains:\n      - {domain: rafdb, train: 2, source: rfa}\n      - {domain: sfew, train: 2, source: scores}\n      - {domain: disfa, train: 2, test: 2, source: raf}\n";
        let error = failure(&write_spec(dir.path(), &format!("{data}{stages}")));
        assert!(error.contains("rfa"), "{error}");
        assert!(error.contains("`csv`"), "{error}");
        let disfa_dir = "data:\n  d: {kind: disfa, params: {labels_dir: l, frames_dir: f}}\n";
        let stages = "stages:\n  - name: data\n    kind: synthesize\n    domains:\n      - {domain: disfa, train: 2, test: 2, source: d}\n";
        let error = failure(&write_spec(dir.path(), &format!("{disfa_dir}{stages}")));
        assert!(error.contains("no train split"), "{error}");
    }
}
