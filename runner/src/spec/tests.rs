//! Tests of the spec language as a whole: loading, composition, overrides, validation,
//! explain and schema. Each module's own unit tests sit beside it.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::*;
use crate::stage::{Registry, StageContext, StageRunner};

/// Parameters of a test stage kind shaped like GRPO.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct GrpoParams {
    /// Completions sampled per prompt.
    group_size: u32,
    #[serde(default = "default_lr")]
    lr: f64,
    #[serde(default)]
    reward: Option<String>,
    #[serde(default)]
    generation: Generation,
}

fn default_lr() -> f64 {
    1e-6
}

#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Generation {
    #[serde(default)]
    stop: Vec<String>,
    #[serde(default)]
    temperature: f64,
    #[serde(default)]
    max_tokens: Option<u32>,
}

struct Grpo;

impl StageRunner for Grpo {
    type Params = GrpoParams;
    const KIND: &'static str = "grpo";
    const DESCRIPTION: &'static str = "Test kind shaped like GRPO.";

    fn validate(params: &GrpoParams, spec: &Experiment) -> Vec<Diagnostic> {
        let reward = params.reward.as_deref().and_then(|name| plugin(spec, PluginSection::Rewards, "reward", name));
        [at_least("group_size", params.group_size, 2), positive("lr", params.lr), reward].into_iter().flatten().collect()
    }

    fn run(_params: &GrpoParams, _ctx: &mut StageContext) -> anyhow::Result<()> {
        Ok(())
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SftParams {
    lr: f64,
    #[serde(default)]
    sweep: Vec<f64>,
}

struct Sft;

impl StageRunner for Sft {
    type Params = SftParams;
    const KIND: &'static str = "sft";
    const DESCRIPTION: &'static str = "Test kind shaped like SFT.";

    fn run(_params: &SftParams, _ctx: &mut StageContext) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Text fields that YAML 1.1 would have turned into bools and numbers.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TextParams {
    country: String,
    trigger: String,
    python: String,
    run_id: String,
    tag: String,
    #[serde(default)]
    flag: Option<bool>,
}

struct Text;

impl StageRunner for Text {
    type Params = TextParams;
    const KIND: &'static str = "text";
    const DESCRIPTION: &'static str = "Test kind with text fields.";

    fn run(_params: &TextParams, _ctx: &mut StageContext) -> anyhow::Result<()> {
        Ok(())
    }
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.register::<Grpo>().register::<Sft>().register::<Text>();
    registry
}

/// Spec files in a temporary folder; messages print the folder as `$DIR`.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("folder");
            std::fs::write(path, text).expect("write fixture");
        }
        Files { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn load(&self, name: &str, overrides: &[&str]) -> Result<LoadedSpec, Vec<Diagnostic>> {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        load(&self.path(name), &overrides, &registry())
    }

    fn errors(&self, name: &str, overrides: &[&str]) -> String {
        match self.load(name, overrides) {
            Ok(_) => panic!("expected `{name}` to be invalid"),
            Err(diagnostics) => self.scrub(&render_diagnostics(&diagnostics)),
        }
    }

    fn scrub(&self, text: &str) -> String {
        text.replace(&self.dir.path().display().to_string(), "$DIR")
    }
}

const HEADER: &str = "experiment:\n  name: test\n";

fn stage_params<T: serde::de::DeserializeOwned>(loaded: &LoadedSpec, name: &str) -> T {
    let stage = loaded.spec.stages.iter().find(|stage| stage.name == name).expect("stage");
    from_node(&stage.params).expect("typed params")
}

// --- Case 1: scientific notation is a number -------------------------------------

#[test]
fn scientific_notation_is_float_in_file_override_and_list() {
    let spec = format!("{HEADER}stages:\n  - name: sft\n    kind: sft\n    lr: 1e-5\n    sweep: [1e-5, 3e-5]\n");
    let files = Files::new(&[("a.yaml", &spec)]);

    let loaded = files.load("a.yaml", &[]).expect("valid");
    let params: SftParams = stage_params(&loaded, "sft");
    assert_eq!(params.lr, 1e-5);
    assert_eq!(params.sweep, vec![1e-5, 3e-5]);

    let loaded = files.load("a.yaml", &["stages.sft.lr=3e-5"]).expect("valid");
    let params: SftParams = stage_params(&loaded, "sft");
    assert_eq!(params.lr, 3e-5);
}

#[test]
fn scientific_notation_is_number_in_free_json() {
    let node = parse_str("{lr: 1e-5, n: 3, tag: '1e-5'}", &Source::Override("x".into())).expect("parse");
    let json: serde_json::Value = from_node(&node).expect("json");
    assert_eq!(json["lr"], serde_json::json!(1e-5));
    assert_eq!(json["n"], serde_json::json!(3));
    assert_eq!(json["tag"], serde_json::json!("1e-5"));
}

// --- Case 2: no YAML 1.1 surprises -----------------------------------------------

#[test]
fn text_fields_keep_plain_scalars_verbatim() {
    let spec = format!(
        "{HEADER}stages:\n  - name: t\n    kind: text\n    country: no\n    trigger: on\n    python: '3.10'\n    run_id: 0123\n    tag: 1_1_1\n"
    );
    let files = Files::new(&[("a.yaml", &spec)]);
    let loaded = files.load("a.yaml", &[]).expect("valid");
    let params: TextParams = stage_params(&loaded, "t");
    assert_eq!(params.country, "no");
    assert_eq!(params.trigger, "on");
    assert_eq!(params.python, "3.10");
    assert_eq!(params.run_id, "0123");
    assert_eq!(params.tag, "1_1_1");
}

#[test]
fn float_text_in_string_field_suggests_quotes() {
    let spec = format!(
        "{HEADER}stages:\n  - name: t\n    kind: text\n    country: no\n    trigger: on\n    python: 3.10\n    run_id: 0123\n    tag: 1_1_1\n"
    );
    let files = Files::new(&[("a.yaml", &spec)]);
    let errors = files.errors("a.yaml", &[]);
    assert_eq!(errors.lines().count(), 2, "{errors}");
    insta::assert_snapshot!("float_text_in_string_field", errors);
}

#[test]
fn bool_field_accepts_only_true_and_false() {
    let base = "stages:\n  - name: t\n    kind: text\n    country: a\n    trigger: b\n    python: c\n    run_id: d\n    tag: e\n";
    for (text, expected) in [("true", Some(true)), ("false", Some(false))] {
        let files = Files::new(&[("a.yaml", &format!("{HEADER}{base}    flag: {text}\n"))]);
        let params: TextParams = stage_params(&files.load("a.yaml", &[]).expect("valid"), "t");
        assert_eq!(params.flag, expected);
    }
    for text in ["yes", "no", "on", "off", "True", "1", "'true'"] {
        let files = Files::new(&[("a.yaml", &format!("{HEADER}{base}    flag: {text}\n"))]);
        let errors = files.errors("a.yaml", &[]);
        assert!(errors.contains("$DIR/a.yaml:11:11: error: expected `true` or `false`"), "{text}: {errors}");
    }
}

// --- Case 3: unknown keys at every depth -----------------------------------------

#[test]
fn unknown_stage_key_suggests_nearest() {
    let files = Files::new(&[("a.yaml", &format!("{HEADER}stages: [{{name: g, kind: grpo, group_sise: 5}}]\n"))]);
    let errors = files.errors("a.yaml", &[]);
    assert!(errors.contains("$DIR/a.yaml:3:32: error: unknown field `group_sise`, did you mean `group_size`?"), "{errors}");
    insta::assert_snapshot!("unknown_stage_key", errors);
}

#[test]
fn unknown_keys_reported_at_every_depth_together() {
    let spec = "experiment:\n  name: test\n  seeed: 1\ndata:\n  train:\n    kind: jsonl\n    paht: x\nplugins:\n  rewards:\n    r:\n      kind: builtin\n      limits: {memory: 5}\nstages:\n  - name: g\n    kind: grpo\n    group_size: 4\n    generation: {temprature: 0.5}\nreprots: []\n";
    let files = Files::new(&[("a.yaml", spec)]);
    let errors = files.errors("a.yaml", &[]);
    insta::assert_snapshot!("unknown_keys_every_depth", errors);
    for key in ["seeed", "paht", "memory", "temprature", "reprots"] {
        assert!(errors.contains(&format!("unknown field `{key}`")), "{key}: {errors}");
    }
}

#[test]
fn type_errors_are_collected_in_one_pass() {
    let spec = "experiment:\n  name: test\n  seed: many\n  device: gpu\nmodels:\n  m:\n    kind: tiny_vlm\n    dtype: fp16\nplugins:\n  tools:\n    t: {kind: wsam}\n";
    let files = Files::new(&[("a.yaml", spec)]);
    let errors = files.errors("a.yaml", &[]);
    insta::assert_snapshot!("type_errors_collected", errors);
    assert_eq!(errors.matches(": error: ").count(), 4, "{errors}");
}

// --- Case 4: duplicate keys ------------------------------------------------------

#[test]
fn duplicate_key_names_both_lines() {
    let spec = format!("{HEADER}stages:\n  - name: s\n    kind: sft\n    lr: 1e-5\n    lr: 2e-5\n");
    let files = Files::new(&[("a.yaml", &spec)]);
    let errors = files.errors("a.yaml", &[]);
    assert_eq!(errors.lines().next(), Some("$DIR/a.yaml:7:5: error: duplicate key `lr`, first written at $DIR/a.yaml:6:5"));
}

// --- Case 5: anchors and merge keys ----------------------------------------------

#[test]
fn merge_key_overrides_and_keeps_anchor_values() {
    let text = "base: &b {lr: 1.0e-4, warmup: 100}\nsft: {<<: *b, lr: 2.0e-5}\n";
    let node = parse_str(text, &Source::File(std::path::Path::new("m.yaml").into())).expect("parse");
    let sft = node.get("sft").expect("sft");
    let keys: Vec<&str> = sft.entries().expect("mapping").iter().map(|entry| entry.key.as_str()).collect();
    assert_eq!(keys, ["warmup", "lr"]);

    #[derive(Deserialize)]
    struct Hyper {
        lr: f64,
        warmup: u32,
    }
    let typed: Hyper = from_node(sft).expect("typed");
    assert_eq!(typed.lr, 2e-5);
    assert_eq!(typed.warmup, 100);
    // The merged value keeps the location where it was written.
    assert_eq!(sft.get("warmup").expect("warmup").location.to_string(), "m.yaml:1:31");
}

#[test]
fn merge_key_accepts_list_and_earlier_wins() {
    let text = "a: &a {x: 1}\nb: &b {x: 2, y: 3}\nc: {<<: [*a, *b]}\n";
    let node = parse_str(text, &Source::Override("t".into())).expect("parse");
    let c = node.get("c").expect("c");
    assert_eq!(c.get("x").and_then(Node::as_scalar), Some("1"));
    assert_eq!(c.get("y").and_then(Node::as_scalar), Some("3"));
}

#[test]
fn merge_key_rejects_scalar() {
    let errors = parse_str("a: {<<: 5}\n", &Source::Override("t".into())).expect_err("invalid");
    assert!(errors[0].message.contains("merge key `<<` expects a mapping"), "{errors:?}");
}

// --- Case 6: composition ---------------------------------------------------------

const BASE: &str = "experiment:\n  name: base\n  seed: 7\nstages:\n  - name: g\n    kind: grpo\n    group_size: 4\n    generation:\n      stop: [\"\\n\"]\n      temperature: 0\n";

#[test]
fn extends_deep_merges_mappings() {
    let child = "extends: base.yaml\nexperiment:\n  name: child\n";
    let files = Files::new(&[("base.yaml", BASE), ("child.yaml", child)]);
    let loaded = files.load("child.yaml", &[]).expect("valid");
    assert_eq!(loaded.spec.experiment.name, "child");
    assert_eq!(loaded.spec.experiment.seed, 7);
    assert_eq!(loaded.files, vec![files.path("child.yaml"), files.path("base.yaml")]);
    assert!(loaded.spec.extends.is_none());
}

#[test]
fn extends_keeps_nested_keys_and_replaces_lists() {
    // The child replaces the stage list, so the merge of `generation` happens inside
    // one stage mapping written in the base and extended through a mapping section.
    let base = "experiment:\n  name: base\ngeneration_defaults: &g\n  stop: [\"\\n\"]\n  temperature: 0\n";
    let _ = base;
    let base = "experiment:\n  name: base\ndata:\n  train:\n    kind: jsonl\n    params:\n      generation: {stop: [\"\\n\"], temperature: 0}\n      tags: [a, b]\n";
    let child = "extends: base.yaml\ndata:\n  train:\n    params:\n      generation: {max_tokens: 64}\n      tags: [c]\n";
    let files = Files::new(&[("base.yaml", base), ("child.yaml", child)]);
    let loaded = files.load("child.yaml", &[]).expect("valid");
    let params = loaded.spec.data["train"].params.as_ref().expect("params").to_json();
    assert_eq!(params["generation"], serde_json::json!({"stop": ["\n"], "temperature": 0, "max_tokens": 64}));
    assert_eq!(params["tags"], serde_json::json!(["c"]));
    insta::assert_snapshot!("composed_with_provenance", files.scrub(&loaded.resolved_yaml_with_provenance()));
}

#[test]
fn error_in_merged_value_points_at_base_file() {
    let base = BASE.replace("temperature: 0", "temperature: hot");
    let child = "extends: base.yaml\nexperiment:\n  name: child\n";
    let files = Files::new(&[("base.yaml", &base), ("child.yaml", child)]);
    let errors = files.errors("child.yaml", &[]);
    assert_eq!(errors.lines().next(), Some("$DIR/base.yaml:10:20: error: expected a number, found `hot`"));
}

#[test]
fn extends_chains_and_resolves_relative_to_each_file() {
    let files = Files::new(&[
        ("root.yaml", "experiment:\n  name: root\n  seed: 1\n"),
        ("sub/mid.yaml", "extends: ../root.yaml\nexperiment:\n  seed: 2\n"),
        ("leaf.yaml", "extends: sub/mid.yaml\nexperiment:\n  name: leaf\n"),
    ]);
    let loaded = files.load("leaf.yaml", &[]).expect("valid");
    assert_eq!(loaded.spec.experiment.name, "leaf");
    assert_eq!(loaded.spec.experiment.seed, 2);
    assert_eq!(loaded.files.len(), 3);
}

#[test]
fn extends_cycle_is_an_error() {
    let files = Files::new(&[("a.yaml", "extends: b.yaml\n"), ("b.yaml", "extends: a.yaml\n")]);
    let errors = files.errors("a.yaml", &[]);
    assert!(errors.starts_with("$DIR/b.yaml:1:10: error: `extends` forms a cycle"), "{errors}");
}

#[test]
fn extends_missing_file_is_an_error() {
    let files = Files::new(&[("a.yaml", "extends: nope.yaml\nexperiment: {name: a}\n")]);
    let errors = files.errors("a.yaml", &[]);
    assert!(errors.starts_with("$DIR/a.yaml:1:10: error: extended spec `$DIR/nope.yaml` not found"), "{errors}");
}

// --- Overrides -------------------------------------------------------------------

#[test]
fn override_addresses_stage_by_name_and_index() {
    let files = Files::new(&[("a.yaml", BASE)]);
    let loaded = files.load("a.yaml", &["stages.g.group_size=8", "stages.0.lr=2e-6", "experiment.seed=11"]).expect("valid");
    let params: GrpoParams = stage_params(&loaded, "g");
    assert_eq!(params.group_size, 8);
    assert_eq!(params.lr, 2e-6);
    assert_eq!(loaded.spec.experiment.seed, 11);
    let explanation = loaded.explain("stages.g.group_size").expect("explain");
    assert_eq!(explanation.to_string(), "stages.g.group_size: 8\n  from override `--set stages.g.group_size=8`\n");
}

#[test]
fn override_of_unknown_key_suggests_nearest() {
    let files = Files::new(&[("a.yaml", BASE)]);
    let errors = files.errors("a.yaml", &["stages.g.group_sise=8", "experiment.sed=3"]);
    insta::assert_snapshot!("override_unknown_keys", errors);
}

#[test]
fn override_of_unknown_stage_suggests_name() {
    let files = Files::new(&[("a.yaml", BASE)]);
    let errors = files.errors("a.yaml", &["stages.h.group_size=8"]);
    assert_eq!(
        errors,
        "override `--set stages.h.group_size=8`: error: unknown element of `stages` `h`\n  help: expected one of `g`\n"
    );
}

#[test]
fn override_value_is_typed_by_the_schema() {
    let files = Files::new(&[("a.yaml", BASE)]);
    let errors = files.errors("a.yaml", &["stages.g.group_size=many"]);
    assert_eq!(errors, "override `--set stages.g.group_size=many`: error: expected a non-negative integer, found `many`\n");
    let loaded = files.load("a.yaml", &["stages.g.generation.stop=[a, '3.10']"]).expect("valid");
    let params: GrpoParams = stage_params(&loaded, "g");
    assert_eq!(params.generation.stop, ["a", "3.10"]);
}

#[test]
fn override_without_equals_is_an_error() {
    let files = Files::new(&[("a.yaml", BASE)]);
    let errors = files.errors("a.yaml", &["experiment.seed"]);
    assert!(errors.contains("invalid override `experiment.seed`, expected KEY=VALUE"), "{errors}");
}

#[test]
fn override_creates_missing_sections() {
    let files = Files::new(&[("a.yaml", BASE)]);
    let loaded = files.load("a.yaml", &["models.m.kind=tiny_vlm", "models.m.dtype=bf16"]).expect("valid");
    assert_eq!(loaded.spec.models["m"].dtype, DType::Bf16);
}

// --- Validation ------------------------------------------------------------------

#[test]
fn stage_checks_are_collected() {
    let spec = format!(
        "{HEADER}stages:\n  - {{name: a, kind: sft, lr: 1e-5, inputs: [b]}}\n  - {{name: b, kind: grpo, group_size: 1, lr: 0, reward: acc}}\n  - {{name: a, kind: sfft, inputs: [c]}}\n"
    );
    let files = Files::new(&[("a.yaml", &spec)]);
    let errors = files.errors("a.yaml", &[]);
    insta::assert_snapshot!("stage_checks", errors);
    assert_eq!(errors.matches(": error: ").count(), 7, "{errors}");
}

#[test]
fn plugin_reference_resolves() {
    let spec = format!(
        "{HEADER}plugins:\n  rewards:\n    accuracy: {{kind: builtin}}\nstages:\n  - {{name: g, kind: grpo, group_size: 2, reward: accuracy}}\n"
    );
    let files = Files::new(&[("a.yaml", &spec)]);
    files.load("a.yaml", &[]).expect("valid");
    let errors = files.errors("a.yaml", &["stages.g.reward=acuracy"]);
    assert_eq!(
        errors,
        "override `--set stages.g.reward=acuracy`: error: unknown reward plugin `acuracy`, did you mean `accuracy`?\n  help: define it under `plugins.rewards.acuracy`\n"
    );
}

#[test]
fn plugin_files_and_limits_are_checked() {
    let spec = format!(
        "{HEADER}plugins:\n  tools:\n    zoom: {{kind: wasm, path: zoom.wasm, grant_dir: images, limits: {{memory_mib: 0, timeout_ms: 0}}}}\n    crop: {{kind: native}}\n    ok: {{kind: wasm, path: tools/ok.wasm}}\n  metrics:\n    acc: {{kind: builtin, path: x.so}}\n"
    );
    let files = Files::new(&[("a.yaml", &spec), ("tools/ok.wasm", "")]);
    let errors = files.errors("a.yaml", &[]);
    insta::assert_snapshot!("plugin_checks", errors);
    assert_eq!(errors.matches(": error: ").count(), 6, "{errors}");
}

#[test]
fn plugin_paths_resolve_against_the_file_that_wrote_them() {
    let base = "experiment:\n  name: base\nplugins:\n  tools:\n    ok: {kind: wasm, path: ok.wasm, grant_dir: .}\n";
    let files = Files::new(&[("shared/base.yaml", base), ("shared/ok.wasm", ""), ("child.yaml", "extends: shared/base.yaml\n")]);
    let loaded = files.load("child.yaml", &[]).expect("valid");
    let tool = &loaded.spec.plugins.tools["ok"];
    assert_eq!(tool.path.as_deref(), Some(files.path("shared/ok.wasm").as_path()));
    assert_eq!(tool.limits, PluginLimits { memory_mib: 256, fuel: 1_000_000_000, timeout_ms: 5000 });

    // The resolved YAML carries the absolute paths, so it loads from any folder.
    let path_node = loaded.root.at_path("plugins.tools.ok.path").expect("path node");
    assert_eq!(path_node.as_scalar(), Some(files.path("shared/ok.wasm").to_str().expect("UTF-8 path")));
    assert_eq!(path_node.location.to_string(), format!("{}:5:28", files.path("shared/base.yaml").display()));
    let copy = Files::new(&[("moved.yaml", &loaded.resolved_yaml())]);
    let reloaded = copy.load("moved.yaml", &[]).expect("resolved YAML loads elsewhere");
    assert_eq!(reloaded.spec.plugins.tools["ok"].path, tool.path);
}

#[test]
fn missing_required_field_is_located() {
    let files = Files::new(&[("a.yaml", "experiment:\n  seed: 1\n")]);
    let errors = files.errors("a.yaml", &[]);
    assert_eq!(errors, "$DIR/a.yaml:2:3: error: missing required field `name`\n  help: add `name:` to this mapping\n");
}

#[test]
fn invalid_experiment_name_is_rejected() {
    let files = Files::new(&[("a.yaml", "experiment:\n  name: a/b\n")]);
    let errors = files.errors("a.yaml", &[]);
    assert!(errors.starts_with("$DIR/a.yaml:2:9: error: invalid experiment name `a/b`"), "{errors}");
}

#[test]
fn reports_and_reference_are_checked() {
    let spec = format!(
        "{HEADER}reports:\n  - {{name: t1, metrics: [{{name: acc}}], tolerance: -1}}\n  - {{name: t1, metrics: [{{name: acc}}]}}\nreference:\n  t2: {{row: {{acc: 0.5}}}}\n"
    );
    let files = Files::new(&[("a.yaml", &spec)]);
    let errors = files.errors("a.yaml", &[]);
    insta::assert_snapshot!("report_checks", errors);
}

#[test]
fn device_forms() {
    assert_eq!(Device::parse("cpu"), Ok(Device::Cpu));
    assert_eq!(Device::parse("cuda:1"), Ok(Device::Cuda(1)));
    assert!(Device::parse("cuda").is_err());
    assert!(Device::parse("cuda:x").is_err());
}

// --- Bounds (case 9) -------------------------------------------------------------

#[test]
fn alias_bomb_is_rejected() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let previous = format!("*a{}", level - 1);
        let items = vec![previous; 9].join(", ");
        text.push_str(&format!("a{level}: &a{level} [{items}]\n"));
    }
    let errors = parse_str(&text, &Source::Override("bomb".into())).expect_err("bounded");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains(&format!("more than {MAX_NODES} nodes")), "{errors:?}");
}

#[test]
fn deep_nesting_is_rejected() {
    let text = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let errors = parse_str(&text, &Source::Override("deep".into())).expect_err("bounded");
    assert!(errors[0].message.contains("nesting is deeper than 64 levels"), "{errors:?}");
    let ok = format!("{}{}", "[".repeat(60), "]".repeat(60));
    assert!(parse_str(&ok, &Source::Override("ok".into())).is_ok());
}

#[test]
fn large_file_is_rejected() {
    let files = Files::new(&[]);
    let text = format!("# {}\n", "x".repeat(MAX_FILE_BYTES as usize));
    std::fs::write(files.path("big.yaml"), text).expect("write");
    let errors = files.errors("big.yaml", &[]);
    assert!(errors.contains("more than the limit of 4194304 bytes"), "{errors}");
}

#[test]
fn second_document_is_rejected() {
    let errors = parse_str("a: 1\n---\nb: 2\n", &Source::Override("t".into())).expect_err("one document");
    assert!(errors[0].message.contains("one YAML document"), "{errors:?}");
}

#[test]
fn invalid_yaml_is_located() {
    let files = Files::new(&[("a.yaml", "experiment:\n  name: [a\n")]);
    let errors = files.errors("a.yaml", &[]);
    assert!(errors.starts_with("$DIR/a.yaml:3:1: error: invalid YAML:"), "{errors}");
}

#[test]
fn tags_other_than_str_are_rejected() {
    let node = parse_str("a: !!str 5\n", &Source::Override("t".into())).expect("str tag");
    assert_eq!(node.get("a").map(|n| n.value.clone()), Some(NodeValue::Scalar { text: "5".into(), style: ScalarStyle::Quoted }));
    let errors = parse_str("a: !!int 5\n", &Source::Override("t".into())).expect_err("int tag");
    assert!(errors[0].message.contains("unsupported YAML tag"), "{errors:?}");
}

// --- Resolved YAML and explain ---------------------------------------------------

#[test]
fn resolved_yaml_snapshot_and_round_trip() {
    let spec = "experiment:\n  name: rt\n  paper: 'Paper: \"x\"'\nmodels:\n  m: {kind: tiny_vlm, params: {note: \"two\\nlines\", empty: {}, list: [], nested: [[1, 2], {a: ~}]}}\nstages:\n  - {name: s, kind: sft, lr: 1e-5, sweep: [1e-5, 3.0e-5]}\n  - name: g\n    kind: grpo\n    group_size: 4\n    inputs: [s]\n";
    let files = Files::new(&[("a.yaml", spec)]);
    let loaded = files.load("a.yaml", &[]).expect("valid");
    let resolved = loaded.resolved_yaml();
    insta::assert_snapshot!("resolved_yaml", resolved);

    let again = parse_str(&resolved, &Source::Override("resolved".into())).expect("resolved YAML parses");
    assert_eq!(again.to_json(), loaded.root.to_json());
    std::fs::write(files.path("resolved.yaml"), &resolved).expect("write");
    let reloaded = files.load("resolved.yaml", &[]).expect("resolved YAML loads");
    assert_eq!(reloaded.resolved_yaml(), resolved);
}

#[test]
fn explain_mapping_default_and_unknown_key() {
    let files = Files::new(&[("base.yaml", BASE), ("child.yaml", "extends: base.yaml\nexperiment:\n  seed: 9\n")]);
    let loaded = files.load("child.yaml", &["stages.g.generation.temperature=0.7"]).expect("valid");
    let generation = files.scrub(&loaded.explain("stages.g.generation").expect("explain").to_string());
    insta::assert_snapshot!("explain_mapping", generation);

    let seed = files.scrub(&loaded.explain("experiment.seed").expect("explain").to_string());
    assert_eq!(seed, "experiment.seed: 9\n  from $DIR/child.yaml:3:9\n");

    let output_root = loaded.explain("experiment.output_root").expect("default").to_string();
    assert_eq!(output_root, "experiment.output_root: runs\n  default value (not written in any file or override)\n");

    let unknown = loaded.explain("experiment.sede").expect_err("unknown");
    assert_eq!(unknown.to_string(), "argument `experiment.sede`: error: unknown key in `experiment` `sede`, did you mean `seed`?");
}

// --- Schema ----------------------------------------------------------------------

#[test]
fn schema_has_one_variant_per_stage_kind() {
    let schema = schema(&registry());
    let variants = schema["$defs"]["StageSpec"]["oneOf"].as_array().expect("variants");
    let kinds: Vec<&str> = variants.iter().filter_map(|variant| variant["properties"]["kind"]["const"].as_str()).collect();
    assert_eq!(kinds, ["grpo", "sft", "text"]);
    let grpo = &variants[0];
    assert_eq!(grpo["additionalProperties"], serde_json::json!(false));
    assert_eq!(grpo["required"], serde_json::json!(["name", "kind", "group_size"]));
    assert_eq!(grpo["properties"]["group_size"]["description"], serde_json::json!("Completions sampled per prompt."));
    assert_eq!(schema["additionalProperties"], serde_json::json!(false));
    let limits = &schema["$defs"]["PluginLimits"]["properties"];
    assert_eq!(limits["memory_mib"]["default"], serde_json::json!(256));
}

// --- No panics on any input ------------------------------------------------------

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    /// Trees with arbitrary quoted text and keys, and plain scalars of every core type.
    fn tree() -> impl Strategy<Value = Node> {
        let plain = prop::sample::select(vec!["1e-5", "no", "0123", "3.10", "true", "", "~", "a b", "-1", ".inf", "x: y"])
            .prop_filter("plain scalars must be valid YAML plain text", |text| !text.contains(": "))
            .prop_map(|text| Node::plain(text, Location::Generated));
        let quoted = any::<String>().prop_map(|text| Node::string(text, Location::Generated));
        let leaf = prop_oneof![plain, quoted];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|items| Node { value: NodeValue::Sequence(items), location: Location::Generated }),
                prop::collection::btree_map(any::<String>(), inner, 0..4).prop_map(|map| {
                    let entries = map
                        .into_iter()
                        .map(|(key, value)| Entry { key, key_location: Location::Generated, value })
                        .collect();
                    Node::mapping(entries, Location::Generated)
                }),
            ]
        })
    }

    /// Compares values, styles and key order, ignoring locations.
    fn same_tree(a: &Node, b: &Node) -> bool {
        match (&a.value, &b.value) {
            (NodeValue::Scalar { text: ta, style: sa }, NodeValue::Scalar { text: tb, style: sb }) => {
                let null = |text: &str, style: &ScalarStyle| *style == ScalarStyle::Plain && scalar::is_null(text);
                (null(ta, sa) && null(tb, sb)) || (ta == tb && (sa == sb || scalar::resolve(ta) == scalar::Resolved::String))
            }
            (NodeValue::Sequence(xs), NodeValue::Sequence(ys)) => xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_tree(x, y)),
            (NodeValue::Mapping(xs), NodeValue::Mapping(ys)) => {
                xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| x.key == y.key && same_tree(&x.value, &y.value))
            }
            _ => false,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn parse_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse_str(&text, &Source::Override("fuzz".into()));
        }

        #[test]
        fn load_yaml_like_text(text in "[a-z_:{}\\[\\],&*<>!|'\"#~.0-9 \\-\n]{0,300}") {
            let dir = tempfile::tempdir().expect("temporary folder");
            let path = dir.path().join("spec.yaml");
            std::fs::write(&path, format!("experiment: {{name: x}}\n{text}")).expect("write");
            let _ = load(&path, &[], &registry());
            std::fs::write(&path, &text).expect("write");
            if let Ok(loaded) = load(&path, &["stages.0.lr=1".to_string()], &registry()) {
                let _ = loaded.resolved_yaml();
            }
        }

        #[test]
        fn writer_round_trips_any_tree(node in tree()) {
            let emitted = to_yaml(&node, true);
            let again = parse_str(&emitted, &Source::Override("t".into()));
            prop_assert!(again.is_ok(), "emitted YAML does not parse: {emitted:?}");
            prop_assert!(same_tree(&again.expect("checked"), &node), "changed by a round trip: {emitted:?}");
        }

        #[test]
        fn resolved_yaml_round_trips(text in "[a-z:{}\\[\\],'\" 0-9.\\-\n]{0,200}") {
            if let Ok(node) = parse_str(&text, &Source::Override("t".into())) {
                let emitted = to_yaml(&node, false);
                let again = parse_str(&emitted, &Source::Override("t".into()));
                prop_assert!(again.is_ok(), "emitted YAML does not parse: {emitted:?}");
                prop_assert_eq!(again.expect("checked").to_json(), node.to_json());
            }
        }
    }
}
