//! Stage kind `evaluate`: runs a trained ActFER policy on the test prompts with its tools
//! and writes the metrics of the ActFER paper's tables.
//!
//! Rollouts are greedy (temperature 0). A failed or malformed tool call becomes an error
//! observation and the rollout continues. `results.parquet` gets, per domain and over all
//! emotion domains (`all`): `accuracy`, `macro_f1`, `f1` per emotion (subset = emotion),
//! `format_rate`, `tool_call_rate`, `mean_tool_calls`, `mean_turns` and `latency_ms`;
//! for domains labelled with Action Units only, `au_f1` per DISFA unit (subset `AU1`, …)
//! and averaged (subset `all`). The alignment tool is also run alone on every test image
//! and scored against the generator's truth: `align_detection_rate` and
//! `align_landmark_nme` (mean eye and mouth error over the true inter-ocular distance).
//! `predictions.parquet` has one row per test sample.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use assay_facegen::ActionUnit;
use assay_report::{PredictionsWriter, ResultsWriter};
use assay_stats::f1::{macro_f1, multilabel_f1, per_class_f1, ZeroDivision};
use assay_train::rollout::{generate_rollout, RolloutConfig};
use assay_train::trajectory::{read_ppm, read_samples, Sample};
use assay_train::TextCodec;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::actfer::answer::{parse_answer, EMOTIONS};
use crate::actfer::tools::WasmToolRunner;
use crate::spec::{Diagnostic, Experiment, PluginSection};
use crate::stage::{StageContext, StageRunner};

/// Name of the dataset row that pools every emotion-labelled domain.
pub const OVERALL: &str = "all";

/// Parameters of the `evaluate` stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateParams {
    /// Input stage whose output folder contains the policy (`policy/`).
    pub policy_stage: String,
    /// Input stage whose output folder contains `test.jsonl` (a `synthesize` stage).
    pub data_stage: String,
    /// Tools the policy may call, declared under `plugins.tools`. Default
    /// `[face_align, zoom_in]`; an empty list evaluates without tools.
    #[serde(default = "default_tools")]
    pub tools: Vec<String>,
    /// Tool whose detection rate and landmark error are measured; `null` skips it.
    /// Default `face_align`.
    #[serde(default = "default_align_tool")]
    pub align_tool: Option<String>,
    /// Assistant turns per rollout. Default 4; 1 to 16.
    #[serde(default = "default_max_turns")]
    pub max_turns: usize,
    /// Completion tokens per rollout, observations included. Default 192; at least 1.
    #[serde(default = "default_max_completion_tokens")]
    pub max_completion_tokens: usize,
    /// Test prompts evaluated per domain, in file order; `null` evaluates all. Default null.
    #[serde(default)]
    pub max_per_domain: Option<usize>,
}

fn default_tools() -> Vec<String> {
    vec!["face_align".to_string(), "zoom_in".to_string()]
}
fn default_align_tool() -> Option<String> {
    Some("face_align".to_string())
}
fn default_max_turns() -> usize {
    4
}
fn default_max_completion_tokens() -> usize {
    192
}

/// The `evaluate` stage kind.
pub struct Evaluate;

impl StageRunner for Evaluate {
    type Params = EvaluateParams;
    const KIND: &'static str = "evaluate";
    const DESCRIPTION: &'static str = "run an ActFER policy with its tools on the test prompts and write accuracy, F1 and tool use";

    fn validate(params: &EvaluateParams, spec: &Experiment) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        for (index, name) in params.tools.iter().enumerate() {
            problems.extend(crate::spec::plugin(spec, PluginSection::Tools, &format!("tools[{index}]"), name));
        }
        if let Some(name) = &params.align_tool {
            problems.extend(crate::spec::plugin(spec, PluginSection::Tools, "align_tool", name));
        }
        problems.extend(super::policy_io::validate_stage_name(spec, "policy_stage", &params.policy_stage));
        problems.extend(super::policy_io::validate_stage_name(spec, "data_stage", &params.data_stage));
        if !(1..=16).contains(&params.max_turns) {
            problems.push(Diagnostic::for_key("max_turns", format!("`max_turns` is {}; it must be 1 to 16", params.max_turns)));
        }
        if params.max_completion_tokens == 0 {
            problems.push(Diagnostic::for_key("max_completion_tokens", "`max_completion_tokens` is 0; it must be at least 1"));
        }
        problems
    }

    fn plugins(params: &EvaluateParams) -> Vec<(PluginSection, String)> {
        let mut names: Vec<String> = params.tools.clone();
        names.extend(params.align_tool.clone());
        names.sort();
        names.dedup();
        names.into_iter().map(|name| (PluginSection::Tools, name)).collect()
    }

    fn run(params: &EvaluateParams, ctx: &mut StageContext) -> Result<()> {
        let started = Instant::now();
        let input = |name: &str| -> Result<PathBuf> {
            ctx.inputs.get(name).cloned().with_context(|| {
                format!("stage `{}` reads stage `{name}`, which is not in its `inputs`: add it there", ctx.name)
            })
        };
        let policy_dir = input(&params.policy_stage)?;
        let data_dir = input(&params.data_stage)?;

        // Load the policy, the test prompts and the tools.
        let loaded = super::policy_io::load_policy(ctx.spec, &policy_dir, false, ctx.seed)?;
        let (policy, codec) = (&loaded.policy, &loaded.codec);
        let samples = select_samples(read_samples(&data_dir.join("test.jsonl"))?, params.max_per_domain);
        let mut tools = BTreeMap::new();
        for name in &params.tools {
            tools.insert(name.clone(), crate::plugins::load_wasm_tool(ctx.spec, name)?);
        }
        let mut runner = WasmToolRunner::new(tools);
        let config = RolloutConfig {
            group_size: 1,
            max_turns: params.max_turns,
            max_completion_tokens: params.max_completion_tokens,
            temperature: 0.0,
            top_p: 1.0,
            kv_cache: true,
        };
        let run_id = ctx.run_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut predictions = PredictionsWriter::new(&run_id, ctx.name);

        // Run one greedy rollout per test prompt.
        let mut outcomes = Vec::with_capacity(samples.len());
        let bar = indicatif::ProgressBar::new(samples.len() as u64);
        for sample in &samples {
            let image = read_ppm(&data_dir.join(&sample.images[0]))?;
            let prompt = super::policy_io::prompt_sequence(policy, codec, sample, vec![image])?;
            let begin = Instant::now();
            let rollout = generate_rollout(policy, codec, &mut runner, &prompt, &config, 0)?;
            let latency_ms = begin.elapsed().as_secs_f64() * 1000.0;
            let zoomed = codec.decode(&rollout.completion).contains("<tool>zoom_in");
            let outcome = SampleOutcome::new(sample, rollout.answer.as_deref(), rollout.tool_calls, rollout.turns, zoomed, latency_ms)?;
            predictions.push(&outcome.domain, &sample.id, &outcome.prediction_columns())?;
            outcomes.push(outcome);
            bar.inc(1);
        }
        bar.finish_and_clear();

        // Score per domain and over all emotion domains.
        let mut results = ResultsWriter::new(&run_id, ctx.name);
        let mut by_domain: BTreeMap<String, Vec<&SampleOutcome>> = BTreeMap::new();
        for outcome in &outcomes {
            by_domain.entry(outcome.domain.clone()).or_default().push(outcome);
        }
        let emotion_outcomes: Vec<&SampleOutcome> = outcomes.iter().filter(|o| o.true_emotion.is_some()).collect();
        for (domain, group) in &by_domain {
            record_metrics(&mut results, domain, group)?;
        }
        if !emotion_outcomes.is_empty() {
            record_metrics(&mut results, OVERALL, &emotion_outcomes)?;
        }

        // Measure the alignment tool against the generator's truth.
        if let Some(align) = &params.align_tool {
            let tool = crate::plugins::load_wasm_tool(ctx.spec, align)?;
            let mut per_domain: BTreeMap<String, AlignmentScore> = BTreeMap::new();
            for sample in &samples {
                let image = read_ppm(&data_dir.join(&sample.images[0]))?;
                let observation = tool.invoke("{}", Some(&crate::actfer::tools::to_host_image(&image)));
                let score = per_domain.entry(domain_of(sample)).or_default();
                score.add(observation.ok().as_ref().map(|o| o.text.as_str()), &sample.metadata);
            }
            for (domain, score) in per_domain {
                results.record(&domain, "align_detection_rate", score.detection_rate());
                results.record_subset(&domain, OVERALL, "align_landmark_nme", score.mean_error());
            }
        }

        results.write(&ctx.work_dir)?;
        predictions.write(&ctx.work_dir)?;
        tracing::info!(stage = ctx.name, samples = outcomes.len(), seconds = started.elapsed().as_secs_f64(), "evaluated ActFER policy");
        Ok(())
    }
}

fn domain_of(sample: &Sample) -> String {
    sample.metadata["domain"].as_str().unwrap_or("unknown").to_string()
}

/// Keeps at most `limit` samples per domain, in file order.
fn select_samples(samples: Vec<Sample>, limit: Option<usize>) -> Vec<Sample> {
    let Some(limit) = limit else {
        return samples;
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    samples
        .into_iter()
        .filter(|sample| {
            let count = seen.entry(domain_of(sample)).or_default();
            *count += 1;
            *count <= limit
        })
        .collect()
}

/// The scored result of one test prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleOutcome {
    pub domain: String,
    /// Ground-truth emotion; `None` for domains labelled with Action Units only.
    pub true_emotion: Option<String>,
    /// Predicted emotion, `None` when the answer is missing or does not parse.
    pub predicted_emotion: Option<String>,
    pub true_units: Vec<u32>,
    pub predicted_units: Vec<u32>,
    pub tool_calls: usize,
    pub turns: usize,
    /// Whether the rollout called `zoom_in`.
    pub zoomed: bool,
    pub latency_ms: f64,
}

impl SampleOutcome {
    /// Scores an answer body against a test sample's metadata.
    ///
    /// # Errors
    /// The sample's metadata lacks its domain or Action Units.
    pub fn new(sample: &Sample, answer: Option<&str>, tool_calls: usize, turns: usize, zoomed: bool, latency_ms: f64) -> Result<Self> {
        let metadata = &sample.metadata;
        let domain = metadata["domain"].as_str().with_context(|| format!("test sample `{}` has no `domain` in its metadata", sample.id))?;
        let true_units: Vec<u32> = serde_json::from_value(metadata["action_units"].clone())
            .with_context(|| format!("test sample `{}` has no `action_units` list in its metadata", sample.id))?;
        let parsed = answer.and_then(|text| parse_answer(text).ok());
        Ok(Self {
            domain: domain.to_string(),
            true_emotion: metadata["emotion"].as_str().map(str::to_string),
            predicted_emotion: parsed.as_ref().map(|a| a.emotion.clone()),
            true_units,
            predicted_units: parsed.map(|a| a.action_units.into_iter().collect()).unwrap_or_default(),
            tool_calls,
            turns,
            zoomed,
            latency_ms,
        })
    }

    /// Columns of `predictions.parquet`; emotions are stored as their index in
    /// [`EMOTIONS`], and a missing prediction as -1.
    pub fn prediction_columns(&self) -> Vec<(&'static str, f64)> {
        let index = |emotion: &Option<String>| -> f64 {
            emotion.as_deref().and_then(|e| EMOTIONS.iter().position(|x| *x == e)).map_or(-1.0, |i| i as f64)
        };
        let mut columns = vec![
            ("y_pred", index(&self.predicted_emotion)),
            ("parsed", f64::from(u8::from(self.predicted_emotion.is_some()))),
            ("tool_calls", self.tool_calls as f64),
            ("zoomed", f64::from(u8::from(self.zoomed))),
            ("turns", self.turns as f64),
            ("latency_ms", self.latency_ms),
        ];
        if self.true_emotion.is_some() {
            columns.push(("y_true", index(&self.true_emotion)));
            columns.push(("correct", f64::from(u8::from(self.true_emotion == self.predicted_emotion))));
        }
        let truth: std::collections::BTreeSet<u32> = self.true_units.iter().copied().collect();
        let predicted: std::collections::BTreeSet<u32> = self.predicted_units.iter().copied().collect();
        columns.push(("au_f1", assay_actfer_reward::au_f1(&predicted, &truth)));
        columns
    }
}

/// Records the metrics of one group of outcomes under dataset name `dataset`.
///
/// # Errors
/// A statistic rejects its input.
pub fn record_metrics(results: &mut ResultsWriter, dataset: &str, group: &[&SampleOutcome]) -> Result<()> {
    if group.is_empty() {
        return Ok(());
    }
    let count = group.len() as f64;
    let mean = |f: &dyn Fn(&SampleOutcome) -> f64| group.iter().map(|&o| f(o)).sum::<f64>() / count;
    results.record(dataset, "format_rate", mean(&|o| f64::from(u8::from(o.predicted_emotion.is_some()))));
    results.record(dataset, "tool_call_rate", mean(&|o| f64::from(u8::from(o.tool_calls > 0))));
    results.record(dataset, "zoom_rate", mean(&|o| f64::from(u8::from(o.zoomed))));
    results.record(dataset, "mean_tool_calls", mean(&|o| o.tool_calls as f64));
    results.record(dataset, "mean_turns", mean(&|o| o.turns as f64));
    results.record(dataset, "latency_ms", mean(&|o| o.latency_ms));

    // Emotion metrics on the samples that carry an emotion label.
    let labelled: Vec<&SampleOutcome> = group.iter().copied().filter(|o| o.true_emotion.is_some()).collect();
    if !labelled.is_empty() {
        // A missing prediction is a label outside the eight, so it counts against the true class.
        let y_true: Vec<String> = labelled.iter().map(|o| o.true_emotion.clone().unwrap_or_default()).collect();
        let y_pred: Vec<String> = labelled.iter().map(|o| o.predicted_emotion.clone().unwrap_or_else(|| "unparsed".into())).collect();
        let classes: Vec<String> = EMOTIONS.iter().map(|e| e.to_string()).collect();
        let correct = y_true.iter().zip(&y_pred).filter(|(t, p)| t == p).count();
        results.record(dataset, "accuracy", correct as f64 / labelled.len() as f64);
        results.record(dataset, "macro_f1", macro_f1(&y_true, &y_pred, Some(classes.as_slice()), ZeroDivision::Exclude)?);
        for class in per_class_f1(&y_true, &y_pred, Some(classes.as_slice()))? {
            results.record_subset(dataset, &class.label, "f1", class.f1);
        }
    }

    // Action Unit metrics on the samples labelled with Action Units only.
    let au_only: Vec<&SampleOutcome> = group.iter().copied().filter(|o| o.true_emotion.is_none()).collect();
    if !au_only.is_empty() {
        let units: Vec<u32> = ActionUnit::DISFA.iter().map(|au| u32::from(au.number())).collect();
        let rows = |pick: &dyn Fn(&SampleOutcome) -> &Vec<u32>| -> Vec<Vec<bool>> {
            au_only.iter().map(|&o| units.iter().map(|u| pick(o).contains(u)).collect()).collect()
        };
        let (y_true, y_pred) = (rows(&|o| &o.true_units), rows(&|o| &o.predicted_units));
        // With no unit in the truth or the predictions every F1 is 0 / 0, so all are undefined.
        let any_unit = y_true.iter().chain(&y_pred).flatten().any(|&present| present);
        let scores = if any_unit { Some(multilabel_f1(&y_true, &y_pred, ZeroDivision::Exclude)?) } else { None };
        for (index, unit) in units.iter().enumerate() {
            let f1 = scores.as_ref().and_then(|s| s.per_label[index]);
            results.record_subset(dataset, &format!("AU{unit}"), "au_f1", f1);
        }
        results.record_subset(dataset, OVERALL, "au_f1", scores.map(|s| s.mean));
    }
    Ok(())
}

/// Detection and landmark error of the alignment tool over one domain.
#[derive(Debug, Clone, Default)]
pub struct AlignmentScore {
    pub images: usize,
    pub detected: usize,
    /// Per detected image: mean landmark distance over the true inter-ocular distance.
    pub errors: Vec<f64>,
}

impl AlignmentScore {
    /// Adds one image: the tool's observation text (`None` when it found no face) and the
    /// sample metadata with the true `landmarks`.
    pub fn add(&mut self, observation: Option<&str>, metadata: &serde_json::Value) {
        self.images += 1;
        let Some(text) = observation else {
            return;
        };
        self.detected += 1;
        if let Some(error) = normalized_landmark_error(text, metadata) {
            self.errors.push(error);
        }
    }

    /// Fraction of images in which the tool found a face; NaN for no images.
    pub fn detection_rate(&self) -> f64 {
        self.detected as f64 / self.images as f64
    }

    /// Mean normalised error over detected images; `None` when none was detected.
    pub fn mean_error(&self) -> Option<f64> {
        (!self.errors.is_empty()).then(|| self.errors.iter().sum::<f64>() / self.errors.len() as f64)
    }
}

/// Mean distance between the tool's eye and mouth centres and the true ones, divided by
/// the true inter-ocular distance. `None` when a point is missing.
pub fn normalized_landmark_error(observation: &str, metadata: &serde_json::Value) -> Option<f64> {
    let found: serde_json::Value = serde_json::from_str(observation).ok()?;
    let point = |value: &serde_json::Value| -> Option<(f64, f64)> {
        match value {
            serde_json::Value::Array(items) => Some((items.first()?.as_f64()?, items.get(1)?.as_f64()?)),
            serde_json::Value::Object(map) => Some((map.get("x")?.as_f64()?, map.get("y")?.as_f64()?)),
            _ => None,
        }
    };
    let truth = &metadata["landmarks"];
    let pairs = [("left_eye", "left_eye"), ("right_eye", "right_eye"), ("mouth", "mouth_center")];
    let mut total = 0.0;
    for (tool_key, truth_key) in pairs {
        let (fx, fy) = point(&found["landmarks"][tool_key])?;
        let (tx, ty) = point(&truth[truth_key])?;
        total += (fx - tx).hypot(fy - ty);
    }
    let (lx, ly) = point(&truth["left_eye"])?;
    let (rx, ry) = point(&truth["right_eye"])?;
    let interocular = (lx - rx).hypot(ly - ry);
    (interocular > 0.0).then(|| total / 3.0 / interocular)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outcome(domain: &str, truth: Option<&str>, predicted: Option<&str>, true_units: &[u32], predicted_units: &[u32]) -> SampleOutcome {
        SampleOutcome {
            domain: domain.into(),
            true_emotion: truth.map(str::to_string),
            predicted_emotion: predicted.map(str::to_string),
            true_units: true_units.to_vec(),
            predicted_units: predicted_units.to_vec(),
            tool_calls: 0,
            turns: 1,
            zoomed: false,
            latency_ms: 2.0,
        }
    }

    fn value(results: &ResultsWriter, subset: &str, metric: &str) -> Option<f64> {
        results.rows().iter().find(|r| r.subset == subset && r.metric == metric).and_then(|r| r.value)
    }

    #[test]
    fn emotion_metrics_by_hand() {
        let outcomes = [
            outcome("rafdb", Some("happiness"), Some("happiness"), &[], &[]),
            outcome("rafdb", Some("happiness"), Some("sadness"), &[], &[]),
            outcome("rafdb", Some("sadness"), Some("sadness"), &[], &[]),
            outcome("rafdb", Some("fear"), None, &[], &[]),
        ];
        let refs: Vec<&SampleOutcome> = outcomes.iter().collect();
        let mut results = ResultsWriter::new("r", "s");
        record_metrics(&mut results, "rafdb", &refs).unwrap();

        assert_eq!(value(&results, "all", "accuracy"), Some(0.5));
        assert_eq!(value(&results, "all", "format_rate"), Some(0.75));
        // happiness: TP 1, FN 1 -> 2/3; sadness: TP 1, FP 1 -> 2/3; fear: FN 1 -> 0.
        assert!((value(&results, "happiness", "f1").unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(value(&results, "fear", "f1"), Some(0.0));
        assert_eq!(value(&results, "anger", "f1"), None);
        // Classes that never occur are left out: (2/3 + 2/3 + 0) / 3.
        assert!((value(&results, "all", "macro_f1").unwrap() - 4.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn au_metrics_by_hand() {
        let outcomes = [
            outcome("disfa", None, Some("happiness"), &[6, 12], &[12]),
            outcome("disfa", None, None, &[12, 25], &[]),
        ];
        let refs: Vec<&SampleOutcome> = outcomes.iter().collect();
        let mut results = ResultsWriter::new("r", "s");
        record_metrics(&mut results, "disfa", &refs).unwrap();

        // AU12: TP 1, FN 1 -> 2/3; AU6 and AU25: FN only -> 0; the other five never occur.
        assert!((value(&results, "AU12", "au_f1").unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(value(&results, "AU6", "au_f1"), Some(0.0));
        assert_eq!(value(&results, "AU1", "au_f1"), None);
        assert!((value(&results, "all", "au_f1").unwrap() - 2.0 / 9.0).abs() < 1e-12);
        assert_eq!(value(&results, "all", "accuracy"), None);
    }

    #[test]
    fn landmark_error_normalised_by_interocular() {
        let metadata = json!({"landmarks": {
            "left_eye": {"x": 10.0, "y": 10.0}, "right_eye": {"x": 30.0, "y": 10.0},
            "nose_tip": {"x": 20.0, "y": 20.0}, "mouth_left": {"x": 14.0, "y": 30.0},
            "mouth_right": {"x": 26.0, "y": 30.0}, "mouth_center": {"x": 20.0, "y": 30.0}}});
        // Errors 5 (a 3-4-5 triangle), 0 and 2 pixels: mean 7/3 over 20 pixels.
        let text = r#"{"landmarks":{"left_eye":[13,14],"right_eye":[30,10],"mouth":[20,32]}}"#;
        let error = normalized_landmark_error(text, &metadata).unwrap();
        assert!((error - 7.0 / 60.0).abs() < 1e-12, "{error}");

        let mut score = AlignmentScore::default();
        score.add(Some(text), &metadata);
        score.add(None, &metadata);
        assert_eq!(score.detection_rate(), 0.5);
        assert!((score.mean_error().unwrap() - 7.0 / 60.0).abs() < 1e-12);
    }

    #[test]
    fn per_domain_limit_keeps_file_order() {
        let sample = |id: &str, domain: &str| Sample {
            id: id.into(),
            prompt: String::new(),
            images: Vec::new(),
            target: Vec::new(),
            answer: None,
            metadata: json!({"domain": domain}),
        };
        let kept = select_samples(vec![sample("a", "x"), sample("b", "y"), sample("c", "x"), sample("d", "x")], Some(2));
        let ids: Vec<&str> = kept.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }
}
