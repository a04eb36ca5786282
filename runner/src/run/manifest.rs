//! `manifest.json`: what ran, where, from which code, and how each stage ended.

use std::path::Path;
use std::process::Command;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;

/// The run manifest, rewritten atomically after every stage transition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub assay_version: String,
    pub experiment: String,
    pub run_id: String,
    /// Git commit of the repository that contains the spec, when it is inside one.
    pub git: Option<GitState>,
    pub seed: u64,
    /// Folder of the spec file the run started from (relative stage paths resolve here).
    pub spec_dir: std::path::PathBuf,
    /// Every plugin a stage uses, with version and file hash.
    pub plugins: Vec<crate::plugins::PluginIdentity>,
    pub host: String,
    /// RFC 3339 UTC.
    pub started: String,
    /// RFC 3339 UTC; `None` while the run is going or after a crash.
    pub finished: Option<String>,
    pub status: RunStatus,
    pub stages: Vec<StageRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GitState {
    pub commit: String,
    /// True when tracked files had uncommitted changes.
    pub dirty: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    Pending,
    Running,
    /// Ran in this run folder and finished.
    Succeeded,
    /// Reused from an earlier run whose output had the same cache key.
    Cached,
    Failed,
}

impl StageStatus {
    pub fn is_finished(self) -> bool {
        matches!(self, StageStatus::Succeeded | StageStatus::Cached)
    }
}

/// One stage's entry in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageRecord {
    pub name: String,
    pub kind: String,
    pub status: StageStatus,
    /// SHA-256 of the stage's resolved parameters, its inputs' keys, its plugins and the
    /// Assay version (hex).
    pub cache_key: String,
    /// Wall time of the last attempt in seconds.
    pub duration_s: Option<f64>,
    /// Output folder this stage was copied from, when `status` is `cached`.
    pub reused_from: Option<String>,
    /// The error of the last failed attempt.
    pub error: Option<String>,
}

impl Manifest {
    pub fn read(run_dir: &Path) -> anyhow::Result<Self> {
        let path = run_dir.join("manifest.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("failed to read {}; is this a run folder?", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("invalid manifest {}", path.display()))
    }

    pub fn write(&self, run_dir: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        write_atomic(&run_dir.join("manifest.json"), text.as_bytes())
    }

    pub fn stage_mut(&mut self, name: &str) -> Option<&mut StageRecord> {
        self.stages.iter_mut().find(|stage| stage.name == name)
    }
}

/// Reads the commit and dirty flag of the repository containing `path`, if any.
pub fn git_state(path: &Path) -> Option<GitState> {
    let folder = if path.is_dir() { path } else { path.parent()? };
    let folder = if folder.as_os_str().is_empty() { Path::new(".") } else { folder };
    let commit = Command::new("git").arg("-C").arg(folder).args(["rev-parse", "HEAD"]).output().ok()?;
    if !commit.status.success() {
        return None;
    }
    let status = Command::new("git")
        .arg("-C")
        .arg(folder)
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()?;
    Some(GitState {
        commit: String::from_utf8_lossy(&commit.stdout).trim().to_string(),
        dirty: !status.stdout.is_empty(),
    })
}

/// Returns the machine's host name, or `unknown`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Returns the current UTC time in RFC 3339 with seconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
