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
