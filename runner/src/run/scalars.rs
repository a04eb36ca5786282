//! Step-level scalars (loss, reward, KL, ...) that stages log while they run.
//!
//! Each stage appends JSON lines to `<work dir>/scalars.jsonl`, flushed per line so a
//! crash loses at most the line being written. Readers keep the last value of each
//! (step, name), so a stage resumed from a checkpoint simply logs the replayed steps again;
//! [`compact`] leaves one line each in the published folder.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// File name of the scalar log inside a stage folder.
pub const SCALARS_FILE: &str = "scalars.jsonl";

/// One logged value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scalar {
    pub step: u64,
    pub name: String,
    pub value: f64,
}

/// Appends scalars of one stage.
pub struct ScalarLog {
    path: PathBuf,
    file: File,
}

impl ScalarLog {
    pub fn open(stage_dir: &Path) -> anyhow::Result<Self> {
        let path = stage_dir.join(SCALARS_FILE);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("failed to open {}", path.display()))?;
        Ok(Self { path, file })
    }

    /// Records `value` of the scalar `name` at optimizer step `step`.
    pub fn log(&mut self, step: u64, name: &str, value: f64) -> anyhow::Result<()> {
        let line = serde_json::to_string(&Scalar { step, name: name.to_string(), value })?;
        writeln!(self.file, "{line}").with_context(|| format!("failed to append to {}", self.path.display()))
    }
}

/// Reads a stage's scalars, keeping the last value logged for each (step, name) and
/// skipping a torn final line.
pub fn read_scalars(stage_dir: &Path) -> anyhow::Result<Vec<Scalar>> {
    let path = stage_dir.join(SCALARS_FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let file = File::open(&path).with_context(|| format!("failed to open {}", path.display()))?;
    let mut latest: BTreeMap<(u64, String), f64> = BTreeMap::new();
    for line in BufReader::new(file).lines() {
        let line = line?;
        if let Ok(scalar) = serde_json::from_str::<Scalar>(&line) {
            latest.insert((scalar.step, scalar.name), scalar.value);
        }
    }
    Ok(latest.into_iter().map(|((step, name), value)| Scalar { step, name, value }).collect())
}

/// Rewrites a finished stage's log with one line per (step, name), the last value
/// logged, in step order; the file is replaced atomically. No log is left as it is.
///
/// # Errors
/// The log cannot be read or written.
pub fn compact(stage_dir: &Path) -> anyhow::Result<()> {
    let path = stage_dir.join(SCALARS_FILE);
    if !path.exists() {
        return Ok(());
    }
    let mut text = String::new();
    for scalar in read_scalars(stage_dir)? {
        text.push_str(&serde_json::to_string(&scalar)?);
        text.push('\n');
    }
    super::atomic::write_atomic(&path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replayed_steps_keep_last_value_and_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut log = ScalarLog::open(dir.path()).unwrap();
            log.log(1, "loss", 2.0).unwrap();
            log.log(2, "loss", 1.5).unwrap();
            log.log(2, "loss", 1.25).unwrap();
        }
        let mut file = OpenOptions::new().append(true).open(dir.path().join(SCALARS_FILE)).unwrap();
        write!(file, "{{\"step\":3,\"na").unwrap();

        let scalars = read_scalars(dir.path()).unwrap();
        assert_eq!(scalars.len(), 2);
        assert_eq!(scalars[1], Scalar { step: 2, name: "loss".into(), value: 1.25 });

        // Compaction keeps exactly those lines.
        compact(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(SCALARS_FILE)).unwrap();
        assert_eq!(text, "{\"step\":1,\"name\":\"loss\",\"value\":2.0}\n{\"step\":2,\"name\":\"loss\",\"value\":1.25}\n");
    }
}
