//! Stage kind `synthesize`: renders the synthetic face datasets, or reads real ones in
//! their published layouts, and writes ActFER's SFT trajectories, RL prompts and
//! evaluation prompts.
//!
//! Outputs under the stage folder:
//! - `data/<domain>/<split>/`: each rendered split as `assay-facegen` writes it (PNG
//!   images and `labels.jsonl` with the full ground truth); real datasets are not copied;
//! - `sft.jsonl`: trajectories built by really running the tools on the training images
//!   (`face_align`, then `zoom_in` on the regions that hold subtle Action Units);
//! - `rl.jsonl`: RL prompts drawn from the training images with weights that favour rare
//!   emotions;
//! - `test.jsonl`: evaluation prompts of every test split, DISFA-like ones included;
//! - `images/`: the PPM images that the three sample files name.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use assay_facegen::{ActionUnit, Domain, FaceRegion, LabelKind};
use assay_train::rollout::{Observation, ToolRunner};
use assay_train::trajectory::{write_ppm, write_samples, Sample, Segment};
use assay_train::Image;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::actfer::answer::Answer;
use crate::actfer::dataset::{DatasetSource, LabeledFace, StageSplit};
use crate::actfer::facs::{describe_units, implication, regions_of, spoken_region_name, tool_region_name};
use crate::actfer::tools::WasmToolRunner;
use crate::spec::{Diagnostic, Experiment, PluginSection};
use crate::stage::{StageContext, StageRunner};

/// Prompt of every ActFER sample; `<image>` is the face image.
pub const PROMPT: &str = "<image>Classify the facial expression. Tools: face_align, then zoom_in on a region \
(forehead-eyebrow, eye-periorbital, nose, mouth-chin). Answer as <answer>emotion; action units</answer>.";

/// Sizes of one domain's splits.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainSplits {
    /// Domain preset: `ferplus`, `rafdb`, `affectnet`, `sfew` or `disfa`. It names the
    /// domain in sample ids and results; with a `source`, only the name is used.
    pub domain: Domain,
    /// Number of training images. Default 0. DISFA-like domains have no emotion label,
    /// so their training images enter neither SFT nor RL. With a `source`, the number
    /// drawn from the dataset's train split (all of it when it has fewer).
    #[serde(default)]
    pub train: u64,
    /// Number of test images. Default 0. With a `source`, the number drawn from the
    /// dataset's test split (all of it when it has fewer).
    #[serde(default)]
    pub test: u64,
    /// Fields of the preset's `DomainConfig` to replace, e.g. `{noise_sigma: {min: 0,
    /// max: 4}}`. Default: none. Only for rendered domains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<serde_json::Value>,
    /// Name of a `data:` entry to read this domain's images from instead of rendering
    /// them. The entry's `kind` is the layout (`rafdb`, `affectnet`, `ferplus`, `sfew` or
    /// `disfa`) and its `params` the paths, e.g. `{kind: rafdb, params: {root:
    /// /data/RAF-DB/basic}}`. Default: none (render). Tools run on the real images exactly
    /// as on rendered ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Parameters of the `synthesize` stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SynthesizeParams {
    /// Domains to render, each with its split sizes. At least one.
    pub domains: Vec<DomainSplits>,
    /// Alignment tool, declared under `plugins.tools`. Default `face_align`.
    #[serde(default = "default_align_tool")]
    pub align_tool: String,
    /// Region zoom tool, declared under `plugins.tools`. Default `zoom_in`.
    #[serde(default = "default_zoom_tool")]
    pub zoom_tool: String,
    /// Side of the square crop that `zoom_in` returns, in pixels. Default 48; 8 to 512.
    #[serde(default = "default_zoom_size")]
    pub zoom_size: u32,
    /// Intensity from which an Action Unit counts as present in the answer, in `(0, 1]`.
    /// Default 0.2 (a FACS trace).
    #[serde(default = "default_au_threshold")]
    pub au_threshold: f32,
    /// Intensity below which a present Action Unit counts as subtle, so that a trajectory
    /// zooms into its region, in `(0, 1]`. Default 0.5.
    #[serde(default = "default_subtle_intensity")]
    pub subtle_intensity: f32,
    /// Maximum number of zooms per trajectory. Default 2; 1 to 3, because a trajectory
    /// of align, zooms and answer must fit in four turns.
    #[serde(default = "default_max_zooms")]
    pub max_zooms: usize,
    /// Probability that a trajectory with subtle units still answers from the global
    /// view. Default 0.1; in `[0, 1]`.
    #[serde(default = "default_direct_answer_rate")]
    pub direct_answer_rate: f64,
    /// Whether SFT trajectories use tools at all; false gives the passive baseline in which
    /// every trajectory answers from the global view. Default true.
    #[serde(default = "default_true")]
    pub use_tools: bool,
    /// Seed of the renders, the trajectory choices and the RL draw. Default: the stage's
    /// seed, which depends on the stage name; set it so that two `synthesize` stages (for
    /// example with and without tools) render the same faces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Number of RL prompts to draw (with replacement) from the training images.
    /// Default 0.
    #[serde(default)]
    pub rl_prompts: usize,
    /// Exponent of the inverse class frequency in the RL draw: an image of an emotion
    /// with `n` training images has weight `n^-rebalance_power`. 0 keeps the natural
    /// frequencies, 1 gives every emotion the same share. Default 1.0; 0 to 4.
    #[serde(default = "default_rebalance_power")]
    pub rebalance_power: f64,
}

fn default_align_tool() -> String {
    "face_align".to_string()
}
fn default_zoom_tool() -> String {
    "zoom_in".to_string()
}
fn default_zoom_size() -> u32 {
    48
}
fn default_au_threshold() -> f32 {
    0.2
}
fn default_subtle_intensity() -> f32 {
    0.5
}
fn default_max_zooms() -> usize {
    2
}
fn default_direct_answer_rate() -> f64 {
    0.1
}
fn default_true() -> bool {
    true
}
fn default_rebalance_power() -> f64 {
    1.0
}

/// The `synthesize` stage kind.
pub struct Synthesize;

impl StageRunner for Synthesize {
    type Params = SynthesizeParams;
    const KIND: &'static str = "synthesize";
    const DESCRIPTION: &'static str = "render synthetic face domains and write ActFER SFT trajectories, RL and test prompts";

    fn validate(params: &SynthesizeParams, spec: &Experiment) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        if params.use_tools {
            problems.extend(crate::spec::plugin(spec, PluginSection::Tools, "align_tool", &params.align_tool));
            problems.extend(crate::spec::plugin(spec, PluginSection::Tools, "zoom_tool", &params.zoom_tool));
        }
        let mut check = |ok: bool, key: &str, message: String| {
            if !ok {
                problems.push(Diagnostic::for_key(key, message));
            }
        };
        check(!params.domains.is_empty(), "domains", "`domains` is empty: list at least one domain with its split sizes".into());
        check((8..=512).contains(&params.zoom_size), "zoom_size", format!("`zoom_size` is {}; it must be 8 to 512", params.zoom_size));
        check(
            params.au_threshold > 0.0 && params.au_threshold <= 1.0,
            "au_threshold",
            format!("`au_threshold` is {}; it must be in (0, 1]", params.au_threshold),
        );
        check(
            params.subtle_intensity > 0.0 && params.subtle_intensity <= 1.0,
            "subtle_intensity",
            format!("`subtle_intensity` is {}; it must be in (0, 1]", params.subtle_intensity),
        );
        check((1..=3).contains(&params.max_zooms), "max_zooms", format!("`max_zooms` is {}; it must be 1 to 3", params.max_zooms));
        check(
            (0.0..=1.0).contains(&params.direct_answer_rate),
            "direct_answer_rate",
            format!("`direct_answer_rate` is {}; it must be in [0, 1]", params.direct_answer_rate),
        );
        check(
            (0.0..=4.0).contains(&params.rebalance_power),
            "rebalance_power",
            format!("`rebalance_power` is {}; it must be 0 to 4", params.rebalance_power),
        );
        for (index, split) in params.domains.iter().enumerate() {
            if split.source.is_some() && split.overrides.is_some() {
                problems.push(Diagnostic::for_key(
                    format!("domains[{index}].overrides"),
                    "`overrides` change the renderer, but this domain reads a real dataset (`source`): remove one of them",
                ));
            }
            if let Some(name) = &split.source {
                let key = format!("domains[{index}].source");
                if let Some(problem) = crate::spec::dataset(spec, &key, name) {
                    problems.push(problem);
                } else {
                    match DatasetSource::from_data_entry(name, &spec.data[name]) {
                        Ok(DatasetSource::Disfa { .. }) if split.train > 0 => problems.push(Diagnostic::for_key(
                            format!("domains[{index}].train"),
                            format!("`train` is {}, but DISFA has only AU labels and no train split: set it to 0", split.train),
                        )),
                        Ok(_) => {}
                        Err(error) => problems.push(Diagnostic::for_key(key, format!("{error:#}"))),
                    }
                }
            }
            if let Some(overrides) = &split.overrides {
                if let Err(error) = split.domain.config().with_overrides(overrides) {
                    problems.push(Diagnostic::for_key(format!("domains[{index}].overrides"), error.to_string()));
                }
            }
        }
        problems
    }

    fn plugins(params: &SynthesizeParams) -> Vec<(PluginSection, String)> {
        if params.use_tools {
            vec![(PluginSection::Tools, params.align_tool.clone()), (PluginSection::Tools, params.zoom_tool.clone())]
        } else {
            Vec::new()
        }
    }

    fn run(params: &SynthesizeParams, ctx: &mut StageContext) -> Result<()> {
        let started = std::time::Instant::now();
        let out = ctx.work_dir.clone();
        let seed = params.seed.unwrap_or(ctx.seed);
        std::fs::create_dir_all(out.join("images")).with_context(|| format!("failed to create {}", out.join("images").display()))?;

        // Load the tools.
        let mut tools = BTreeMap::new();
        if params.use_tools {
            for name in [&params.align_tool, &params.zoom_tool] {
                tools.insert(name.clone(), crate::plugins::load_wasm_tool(ctx.spec, name)?);
            }
        }
        let mut runner = WasmToolRunner::new(tools);

        // Render or read every split.
        let mut train: Vec<(Domain, LabeledFace)> = Vec::new();
        let mut test_samples = Vec::new();
        for split in &params.domains {
            for (stage_split, count) in [(StageSplit::Train, split.train), (StageSplit::Test, split.test)] {
                if count == 0 {
                    continue;
                }
                let split_name = stage_split.name();
                let faces = split_faces(split, stage_split, count, split_seed(seed, split.domain.name(), split_name), ctx, &out)?;
                for face in faces {
                    if stage_split == StageSplit::Test {
                        test_samples.push(prompt_sample(&out, split.domain, split_name, &face, params)?);
                    } else if face.emotion.is_some() {
                        train.push((split.domain, face));
                    }
                }
            }
        }

        // Synthesize the SFT trajectories by running the tools.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut sft = Vec::with_capacity(train.len());
        for (domain, face) in &train {
            let mut sample = prompt_sample(&out, *domain, "train", face, params)?;
            let direct = !params.use_tools || rng.random::<f64>() < params.direct_answer_rate;
            let plan = if direct { Vec::new() } else { inspection_plan(face, params) };
            let image = assay_train::trajectory::read_ppm(&out.join(&sample.images[0]))?;
            sample.target = trajectory(&out, &sample.id, &image, face, &plan, params, &mut runner)?;
            sample.metadata["tool_use"] = json!(!plan.is_empty());
            sft.push(sample);
        }
        write_samples(&out.join("sft.jsonl"), &sft)?;

        // Draw RL prompts with weights that favour rare emotions.
        let rl = rebalanced_prompts(&train, params, seed)
            .into_iter()
            .enumerate()
            .map(|(draw, index)| {
                let (domain, face) = &train[index];
                let mut sample = prompt_sample(&out, *domain, "train", face, params)?;
                sample.id = format!("rl{draw:05}-{}", sample.id);
                Ok(sample)
            })
            .collect::<Result<Vec<_>>>()?;
        write_samples(&out.join("rl.jsonl"), &rl)?;
        write_samples(&out.join("test.jsonl"), &test_samples)?;

        let summary = json!({
            "sft": sft.len(),
            "sft_with_tools": sft.iter().filter(|s| s.metadata["tool_use"] == json!(true)).count(),
            "rl": rl.len(),
            "test": test_samples.len(),
            "tool_calls": runner.calls(),
        });
        std::fs::write(out.join("summary.json"), serde_json::to_string_pretty(&summary)?)?;
        tracing::info!(stage = ctx.name, %summary, seconds = started.elapsed().as_secs_f64(), "synthesized ActFER data");
        Ok(())
    }
}

/// Derives the seed of one split from the stage seed, the domain and the split name, so
/// that adding a domain leaves the other domains' images unchanged.
pub fn split_seed(stage_seed: u64, domain: &str, split: &str) -> u64 {
    // FNV-1a over the names, then one SplitMix64 round with the stage seed.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in domain.bytes().chain([b'/']).chain(split.bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut x = stage_seed ^ hash;
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Faces of one domain split: drawn from the domain's real dataset when it has a
/// `source`, else rendered and written in the generator's own layout under
/// `data/<domain>/<split>/`. Rendered training faces of AU-only domains have no emotion.
fn split_faces(split: &DomainSplits, stage_split: StageSplit, count: u64, seed: u64, ctx: &StageContext, out: &Path) -> Result<Vec<LabeledFace>> {
    if let Some(name) = &split.source {
        let entry = ctx.spec.data.get(name).with_context(|| format!("`source` names `{name}`, which is not defined under `data`"))?;
        let source = DatasetSource::from_data_entry(name, entry)?;
        let records = source.select(stage_split, count, seed, &|path: &Path| ctx.resolve(path))?;
        tracing::info!(domain = split.domain.name(), dataset = source.dataset_name(), split = stage_split.name(), images = records.len(), "read real dataset split");
        return records.iter().enumerate().map(|(index, record)| LabeledFace::from_record(index as u64, record)).collect();
    }
    let config = match &split.overrides {
        Some(overrides) => split.domain.config().with_overrides(overrides)?,
        None => split.domain.config(),
    };
    let rendered = assay_facegen::generate(&config, seed, count)?;
    assay_facegen::write_split(&out.join("data").join(split.domain.name()).join(stage_split.name()), &rendered)?;
    let mut faces = rendered.iter().map(LabeledFace::from_rendered).collect::<Result<Vec<_>>>()?;
    if config.labels != LabelKind::Emotion {
        for face in &mut faces {
            face.emotion = None;
        }
    }
    Ok(faces)
}

/// Regions to zoom into: those holding a present but subtle Action Unit, top to bottom,
/// at most `max_zooms`. A region that the generator occluded is skipped, since its zoom
/// shows nothing useful.
pub fn inspection_plan(face: &LabeledFace, params: &SynthesizeParams) -> Vec<FaceRegion> {
    let subtle: Vec<ActionUnit> = face
        .action_units
        .iter()
        .filter(|a| a.intensity >= params.au_threshold && a.intensity < params.subtle_intensity)
        .map(|a| a.au)
        .collect();
    regions_of(&subtle)
        .into_iter()
        .map(|(region, _)| region)
        .filter(|region| face.occluded_region != Some(*region))
        .take(params.max_zooms)
        .collect()
}

/// Builds the prompt-only sample of a face and writes its image.
fn prompt_sample(out: &Path, domain: Domain, split: &str, face: &LabeledFace, params: &SynthesizeParams) -> Result<Sample> {
    let id = format!("{}-{split}-{:05}", domain.name(), face.index);
    let file = format!("images/{id}.ppm");
    let path = out.join(&file);
    if !path.is_file() {
        write_ppm(&path, &face.image)?;
    }
    let units = face.present_units(params.au_threshold);
    let numbers: Vec<u32> = units.iter().map(|au| u32::from(au.number())).collect();
    let answer = match face.emotion {
        Some(emotion) => Some(Answer::new(emotion.name(), numbers.iter().copied()).map_err(anyhow::Error::msg)?.to_string()),
        None => None,
    };
    let mut metadata = json!({
        "domain": domain.name(),
        "split": split,
        "index": face.index,
        "emotion": face.emotion.map(|e| e.name()),
        "action_units": numbers,
        "face_box": face.face_box.map(|b| [b.x_min, b.y_min, b.x_max, b.y_max]),
        "landmarks": face.landmarks,
        "occluded_region": face.occluded_region.map(|r| r.name()),
    });
    // Rendered samples keep their metadata unchanged, so their files stay byte-identical.
    if let Some(source_file) = &face.source_file {
        metadata["source_file"] = json!(source_file);
        metadata["prototype_units"] = json!(face.prototype_units);
    }
    Ok(Sample { id, prompt: PROMPT.to_string(), images: vec![file], target: Vec::new(), answer, metadata })
}

/// Writes the images of an observation and returns its segment.
fn observation_segment(out: &Path, id: &str, turn: usize, observation: &Observation) -> Result<Segment> {
    let mut files = Vec::new();
    let mut text = observation.text.clone();
    for (k, image) in observation.images.iter().enumerate() {
        let file = format!("images/{id}-obs{turn}-{k}.ppm");
        write_ppm(&out.join(&file), image)?;
        files.push(file);
        text.push_str("<image>");
    }
    Ok(Segment::Observation { text, images: files })
}

/// Builds a target trajectory: direct when `plan` is empty, otherwise align, zoom into
/// each planned region, and answer. Tool errors appear as error observations.
fn trajectory(
    out: &Path,
    id: &str,
    image: &Image,
    face: &LabeledFace,
    plan: &[FaceRegion],
    params: &SynthesizeParams,
    runner: &mut dyn ToolRunner,
) -> Result<Vec<Segment>> {
    let emotion = face.emotion.context("training faces need an emotion label")?;
    let units = face.present_units(params.au_threshold);
    let numbers: Vec<u32> = units.iter().map(|au| u32::from(au.number())).collect();
    let answer = Answer::new(emotion.name(), numbers).map_err(anyhow::Error::msg)?;
    let strong: Vec<ActionUnit> = face
        .action_units
        .iter()
        .filter(|a| a.intensity >= params.subtle_intensity)
        .map(|a| a.au)
        .collect();

    if plan.is_empty() {
        let text = format!(
            "<think>The global view shows {}. {}</think><answer>{answer}</answer>",
            describe_units(&units),
            implication(&units, emotion)
        );
        return Ok(vec![Segment::Assistant { text }]);
    }

    let mut segments = Vec::new();
    let regions: Vec<String> = plan.iter().map(|r| spoken_region_name(*r)).collect();
    let global_view = if strong.is_empty() { "no clear action units".to_string() } else { describe_units(&strong) };
    let region_word = if regions.len() == 1 { "region" } else { "regions" };
    let align_call = format!(
        "<think>The global view shows {global_view}. Subtle cues may sit in the {} {region_word}, so I align the face first.</think><tool>{}{{}}</tool>",
        regions.join(" and "),
        params.align_tool
    );
    segments.push(Segment::Assistant { text: align_call });
    let aligned = runner.call(&params.align_tool, &json!({}), Some(image));
    let aligned_ok = aligned.is_ok();
    let observation = aligned.unwrap_or_else(|message| Observation { text: format!("error: {message}"), images: Vec::new() });
    segments.push(observation_segment(out, id, 1, &observation)?);

    let mut confirmed = Vec::new();
    if aligned_ok {
        let by_region = regions_of(&units);
        for (turn, region) in plan.iter().enumerate() {
            let held: Vec<ActionUnit> =
                by_region.iter().find(|(r, _)| r == region).map(|(_, held)| held.clone()).unwrap_or_default();
            let args = json!({"region": tool_region_name(*region), "size": [params.zoom_size, params.zoom_size]});
            let text = format!(
                "<think>The {} region may hold {}; I zoom in to check.</think><tool>{}{}</tool>",
                spoken_region_name(*region),
                describe_units(&held),
                params.zoom_tool,
                args
            );
            segments.push(Segment::Assistant { text });
            let observation = runner
                .call(&params.zoom_tool, &args, Some(image))
                .unwrap_or_else(|message| Observation { text: format!("error: {message}"), images: Vec::new() });
            segments.push(observation_segment(out, id, turn + 2, &observation)?);
            confirmed.extend(held);
        }
    }

    let evidence = if aligned_ok {
        format!("The zoom shows {}.", describe_units(&confirmed))
    } else {
        "The face could not be aligned, so I rely on the global view.".to_string()
    };
    let text = format!("<think>{evidence} {}</think><answer>{answer}</answer>", implication(&units, emotion));
    segments.push(Segment::Assistant { text });
    Ok(segments)
}

/// Draws `params.rl_prompts` indices into `train` with weight `n_e^-rebalance_power` for
/// an image of emotion `e` with `n_e` training images.
pub fn rebalanced_prompts(train: &[(Domain, LabeledFace)], params: &SynthesizeParams, seed: u64) -> Vec<usize> {
    if train.is_empty() || params.rl_prompts == 0 {
        return Vec::new();
    }
    let emotion_of = |face: &LabeledFace| face.emotion.map(|e| e.index()).unwrap_or(0);
    let mut counts = [0usize; 8];
    for (_, face) in train {
        counts[emotion_of(face)] += 1;
    }
    let weights: Vec<f64> =
        train.iter().map(|(_, face)| (counts[emotion_of(face)] as f64).powf(-params.rebalance_power)).collect();
    draw_weighted(&weights, params.rl_prompts, seed)
}

/// Draws `count` indices with replacement, index `i` with probability proportional to
/// `weights[i]` (all weights positive).
pub fn draw_weighted(weights: &[f64], count: usize, seed: u64) -> Vec<usize> {
    let total: f64 = weights.iter().sum();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_0F_A1);
    (0..count)
        .map(|_| {
            let mut target = rng.random::<f64>() * total;
            for (index, weight) in weights.iter().enumerate() {
                target -= weight;
                if target < 0.0 {
                    return index;
                }
            }
            weights.len() - 1
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_seeds_differ_by_domain_and_split() {
        let a = split_seed(7, "rafdb", "train");
        assert_ne!(a, split_seed(7, "rafdb", "test"));
        assert_ne!(a, split_seed(7, "sfew", "train"));
        assert_ne!(a, split_seed(8, "rafdb", "train"));
        assert_eq!(a, split_seed(7, "rafdb", "train"));
    }

    #[test]
    fn weighted_draw_follows_weights() {
        // Weights 1 : 3 give index 1 three quarters of the draws.
        let draws = draw_weighted(&[1.0, 3.0], 20_000, 5);
        let share = draws.iter().filter(|&&i| i == 1).count() as f64 / draws.len() as f64;
        assert!((share - 0.75).abs() < 0.02, "{share}");
    }
}
