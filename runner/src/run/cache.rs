//! Stage cache: keys, the per-experiment index of finished outputs, and change reports.
//!
//! A stage's key hashes its kind, resolved parameters, the keys of its inputs, the
//! identities of the plugins it uses and the Assay version. Finished outputs are indexed
//! in `<output root>/<experiment>/.cache/`, so a later run with the same key copies the
//! output instead of recomputing it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::atomic::write_atomic;

/// Name of the marker file written into every finished stage output.
pub const OUTPUT_MARKER: &str = ".assay-stage.json";

/// Inputs of a stage's cache key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyMaterial {
    pub kind: String,
    pub params: Value,
    /// Cache keys of the stages named in `inputs`, by stage name.
    pub inputs: BTreeMap<String, String>,
    /// `name@version sha256` of every plugin the stage uses.
    pub plugins: Vec<String>,
    pub assay_version: String,
    /// The stage's seed, derived from `experiment.seed` and the stage name.
    #[serde(default)]
    pub seed: u64,
    /// Fingerprint of every dataset and model path of the spec and of every existing
    /// file or folder named in the stage's parameters, by absolute path: editing a data
    /// file invalidates the stages that could read it.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

impl KeyMaterial {
    /// Hex SHA-256 of the canonical JSON form (object keys sorted at every depth).
    pub fn key(&self) -> String {
        let value = serde_json::to_value(self).expect("key material is plain JSON");
        let canonical = canonical_json(&value);
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }
}

/// Size up to which files are fingerprinted by content. Larger ones (checkpoint shards,
/// archives) use size and modification time, so a run does not read gigabytes to plan.
const CONTENT_HASH_LIMIT: u64 = 64 << 20;

/// Folders are fingerprinted by the names, sizes and modification times of at most this
/// many entries (a real image dataset has hundreds of thousands).
const FOLDER_ENTRY_LIMIT: usize = 1_000_000;

/// Fingerprint of a file or folder: the SHA-256 of a small file's bytes, or of the size
/// and modification time of a large file, or of the sorted listing (relative path, size,
/// modification time) of a folder. `None` when the path does not exist.
pub fn fingerprint(path: &Path) -> Option<String> {
    let metadata = std::fs::metadata(path).ok()?;
    let mut hasher = Sha256::new();
    if metadata.is_file() {
        if metadata.len() <= CONTENT_HASH_LIMIT {
            hasher.update(std::fs::read(path).ok()?);
        } else {
            hasher.update(file_stamp(&metadata).as_bytes());
        }
    } else {
        let mut entries = Vec::new();
        let mut pending = vec![path.to_path_buf()];
        while let Some(dir) = pending.pop() {
            let Ok(listing) = std::fs::read_dir(&dir) else { continue };
            for entry in listing.flatten() {
                if entries.len() >= FOLDER_ENTRY_LIMIT {
                    break;
                }
                let Ok(meta) = entry.metadata() else { continue };
                let relative = entry.path().strip_prefix(path).map(Path::to_path_buf).unwrap_or_default();
                if meta.is_dir() {
                    pending.push(entry.path());
                } else {
                    entries.push(format!("{}\t{}", relative.display(), file_stamp(&meta)));
                }
            }
        }
        entries.sort();
        for entry in &entries {
            hasher.update(entry.as_bytes());
            hasher.update(b"\n");
        }
    }
    Some(hex::encode(hasher.finalize()))
}

fn file_stamp(metadata: &std::fs::Metadata) -> String {
    let modified = metadata.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).unwrap_or_default();
    format!("{} {}.{:09}", metadata.len(), modified.as_secs(), modified.subsec_nanos())
}

/// Serializes JSON with object keys sorted at every depth, whatever map type serde_json uses.
pub fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            let fields: Vec<String> = sorted
                .into_iter()
                .map(|(key, value)| format!("{}:{}", Value::String(key.clone()), canonical_json(value)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical_json).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// Contents of [`OUTPUT_MARKER`]: proves a folder is a finished output of a given key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutputMarker {
    pub stage: String,
    pub key: String,
    pub material: KeyMaterial,
}

/// The cache index of one experiment.
pub struct CacheIndex {
    root: PathBuf,
}

impl CacheIndex {
    pub fn new(experiment_root: &Path) -> Self {
        Self { root: experiment_root.join(".cache") }
    }

    /// Finds a finished output with this key whose marker is intact.
    pub fn lookup(&self, key: &str) -> Option<PathBuf> {
        let entry = fs::read_to_string(self.root.join("entries").join(format!("{key}.json"))).ok()?;
        let output: PathBuf = serde_json::from_str::<Value>(&entry).ok()?.get("output")?.as_str()?.into();
        let marker: OutputMarker = serde_json::from_str(&fs::read_to_string(output.join(OUTPUT_MARKER)).ok()?).ok()?;
        (marker.key == key).then_some(output)
    }

    /// Records a finished output under its key, and the material as the stage's latest.
    pub fn record(&self, stage: &str, output: &Path, material: &KeyMaterial) -> anyhow::Result<()> {
        let key = material.key();
        let entry = serde_json::json!({ "output": output, "stage": stage });
        write_atomic(&self.root.join("entries").join(format!("{key}.json")), entry.to_string().as_bytes())?;
        write_atomic(&self.latest_path(stage), serde_json::to_string_pretty(material)?.as_bytes())
    }

    /// Returns the key material of the last finished stage with this name, if any.
    pub fn latest(&self, stage: &str) -> Option<KeyMaterial> {
        serde_json::from_str(&fs::read_to_string(self.latest_path(stage)).ok()?).ok()
    }

    fn latest_path(&self, stage: &str) -> PathBuf {
        self.root.join("latest").join(format!("{}.json", sanitize(stage)))
    }
}

fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// Lists what differs between two key materials, one readable line per change, e.g.
/// "`lr` changed from 0.00001 to 0.00002" or "`warmup` removed (was 100)".
pub fn describe_changes(old: &KeyMaterial, new: &KeyMaterial) -> Vec<String> {
    let mut changes = Vec::new();
    if old.kind != new.kind {
        changes.push(format!("kind changed from `{}` to `{}`", old.kind, new.kind));
    }
    diff_values("", &old.params, &new.params, &mut changes);
    for (name, key) in &new.inputs {
        match old.inputs.get(name) {
            Some(old_key) if old_key == key => {}
            Some(_) => changes.push(format!("input `{name}` changed")),
            None => changes.push(format!("input `{name}` added")),
        }
    }
    for name in old.inputs.keys().filter(|name| !new.inputs.contains_key(*name)) {
        changes.push(format!("input `{name}` removed"));
    }
    if old.plugins != new.plugins {
        changes.push(format!("plugins changed from {:?} to {:?}", old.plugins, new.plugins));
    }
    if old.seed != new.seed {
        changes.push(format!("stage seed changed from {} to {} (`experiment.seed` or the stage name)", old.seed, new.seed));
    }
    for (path, print) in &new.files {
        match old.files.get(path) {
            Some(old_print) if old_print == print => {}
            Some(_) => changes.push(format!("file `{path}` changed")),
            None => changes.push(format!("file `{path}` added")),
        }
    }
    for path in old.files.keys().filter(|path| !new.files.contains_key(*path)) {
        changes.push(format!("file `{path}` removed"));
    }
    if old.assay_version != new.assay_version {
        changes.push(format!("assay version changed from {} to {}", old.assay_version, new.assay_version));
    }
    changes
}

fn diff_values(path: &str, old: &Value, new: &Value, changes: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(old_map), Value::Object(new_map)) => {
            let keys: std::collections::BTreeSet<&String> = old_map.keys().chain(new_map.keys()).collect();
            for key in keys {
                let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match (old_map.get(key), new_map.get(key)) {
                    (Some(a), Some(b)) => diff_values(&child, a, b, changes),
                    (Some(a), None) => changes.push(format!("`{child}` removed (was {a})")),
                    (None, Some(b)) => changes.push(format!("`{child}` added ({b})")),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a != b => {
            let name = if path.is_empty() { "parameters".to_string() } else { format!("`{path}`") };
            changes.push(format!("{name} changed from {a} to {b}"));
        }
        _ => {}
    }
}

/// Copies a finished output folder, hard-linking files where the file system allows.
pub fn copy_output(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(to).with_context(|| format!("failed to create {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("failed to read {}", from.display()))? {
        let entry = entry?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        if source.is_dir() {
            copy_output(&source, &target)?;
        } else if fs::hard_link(&source, &target).is_err() {
            fs::copy(&source, &target)
                .with_context(|| format!("failed to copy {} to {}", source.display(), target.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn material(params: Value) -> KeyMaterial {
        KeyMaterial {
            kind: "sft".into(),
            params,
            inputs: BTreeMap::new(),
            plugins: vec![],
            assay_version: "0.1.0".into(),
            seed: 0,
            files: BTreeMap::new(),
        }
    }

    #[test]
    fn fingerprints_follow_content_and_listing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("scores.csv");
        fs::write(&file, "id,score\n1,0.5\n").unwrap();
        let before = fingerprint(&file).unwrap();
        let folder_before = fingerprint(dir.path()).unwrap();
        fs::write(&file, "id,score\n1,0.6\n").unwrap();
        assert_ne!(fingerprint(&file).unwrap(), before);
        fs::write(dir.path().join("extra.csv"), "x").unwrap();
        assert_ne!(fingerprint(dir.path()).unwrap(), folder_before);
        assert_eq!(fingerprint(&dir.path().join("missing")), None);
    }

    #[test]
    fn seed_and_files_are_part_of_the_key() {
        let base = material(json!({}));
        let seeded = KeyMaterial { seed: 1, ..base.clone() };
        let mut edited = base.clone();
        edited.files.insert("/data/a.csv".into(), "abc".into());
        assert_ne!(base.key(), seeded.key());
        assert_ne!(base.key(), edited.key());
        assert!(describe_changes(&base, &seeded)[0].contains("seed"));
        assert_eq!(describe_changes(&base, &edited), vec!["file `/data/a.csv` added".to_string()]);
    }

    #[test]
    fn key_ignores_object_key_order() {
        let a = material(json!({"lr": 1e-5, "epochs": 2}));
        let b = material(serde_json::from_str(r#"{"epochs": 2, "lr": 1e-5}"#).unwrap());
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn key_changes_with_any_parameter() {
        let a = material(json!({"lr": 1e-5}));
        let b = material(json!({"lr": 2e-5}));
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn changes_name_changed_and_removed_keys() {
        let old = material(json!({"lr": 1e-5, "warmup": 100}));
        let new = material(json!({"lr": 2e-5}));
        let changes = describe_changes(&old, &new);
        assert_eq!(changes, vec!["`lr` changed from 0.00001 to 0.00002".to_string(), "`warmup` removed (was 100)".to_string()]);
    }
}
