//! Run folders: `<output root>/<experiment>/<UTC timestamp>-<content hash>/`.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Highest suffix tried when runs of the same spec start in the same second.
const MAX_COLLISIONS: u32 = 1000;

/// Creates a new run folder with an exclusive `create_dir`, so two runs started in the
/// same second never share one: the second gets a `-2` suffix, the third `-3`, and so on.
pub fn create_run_dir(experiment_root: &Path, content_hash: &str) -> anyhow::Result<PathBuf> {
    fs::create_dir_all(experiment_root)
        .with_context(|| format!("failed to create output folder {}", experiment_root.display()))?;

    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let short_hash = &content_hash[..content_hash.len().min(8)];
    for attempt in 1..=MAX_COLLISIONS {
        let name = if attempt == 1 {
            format!("{stamp}-{short_hash}")
        } else {
            format!("{stamp}-{short_hash}-{attempt}")
        };
        let candidate = experiment_root.join(name);
        match fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => continue,
            Err(error) => {
                return Err(error).with_context(|| format!("failed to create run folder {}", candidate.display()))
            }
        }
    }
    anyhow::bail!(
        "more than {MAX_COLLISIONS} runs of the same spec started in one second under {}",
        experiment_root.display()
    )
}

/// Holds an exclusive lock on `<run>/run.lock` while a process works in the run folder.
pub struct RunLock {
    _file: fs::File,
}

impl RunLock {
    /// Locks the run folder, or fails naming it when another process holds the lock.
    pub fn acquire(run_dir: &Path) -> anyhow::Result<Self> {
        let path = run_dir.join("run.lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("failed to open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(fs::TryLockError::WouldBlock) => anyhow::bail!(
                "run folder {} is in use by another assay process; wait for it to finish",
                run_dir.display()
            ),
            Err(fs::TryLockError::Error(error)) => {
                Err(error).with_context(|| format!("failed to lock {}", path.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dirs_created_in_one_second_differ() {
        let root = tempfile::tempdir().unwrap();
        let first = create_run_dir(root.path(), "abcdef0123").unwrap();
        let second = create_run_dir(root.path(), "abcdef0123").unwrap();

        assert_ne!(first, second);
        assert!(first.is_dir());
        assert!(second.is_dir());
    }

    #[test]
    fn run_lock_is_exclusive() {
        let root = tempfile::tempdir().unwrap();
        let _held = RunLock::acquire(root.path()).unwrap();
        let error = RunLock::acquire(root.path()).err().expect("second lock must fail");
        assert!(error.to_string().contains("in use"), "{error}");
    }
}
