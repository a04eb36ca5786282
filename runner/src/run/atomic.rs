//! Crash-safe file writes: a reader sees either the old file or the whole new one.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;

/// Writes `bytes` to `path` through a temporary file in the same folder, fsyncs it,
/// renames it over `path` and fsyncs the folder, so a crash never leaves a partial file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let folder = parent_of(path);
    fs::create_dir_all(&folder).with_context(|| format!("failed to create folder {}", folder.display()))?;

    let temp = temp_path(path);
    let mut file = File::create(&temp).with_context(|| format!("failed to create {}", temp.display()))?;
    file.write_all(bytes).with_context(|| format!("failed to write {}", temp.display()))?;
    file.sync_all().with_context(|| format!("failed to fsync {}", temp.display()))?;
    drop(file);

    fs::rename(&temp, path).with_context(|| format!("failed to rename {} to {}", temp.display(), path.display()))?;
    sync_folder(&folder)
}

/// Renames a finished folder into place and fsyncs its parent. `to` must not exist.
pub fn rename_folder(from: &Path, to: &Path) -> anyhow::Result<()> {
    sync_tree(from)?;
    fs::rename(from, to).with_context(|| format!("failed to rename {} to {}", from.display(), to.display()))?;
    sync_folder(&parent_of(to))
}

/// Fsyncs every file under `root` and the folders themselves, so a rename that
/// publishes the folder cannot overtake its contents on disk.
pub fn sync_tree(root: &Path) -> anyhow::Result<()> {
    for entry in fs::read_dir(root).with_context(|| format!("failed to read folder {}", root.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            File::open(&path)
                .and_then(|file| file.sync_all())
                .with_context(|| format!("failed to fsync {}", path.display()))?;
        }
    }
    sync_folder(root)
}

fn sync_folder(folder: &Path) -> anyhow::Result<()> {
    // Opening a directory for fsync works on Unix. Other systems cannot open one, so a
    // failure to open is not an error there.
    if let Ok(handle) = File::open(folder) {
        let _ = handle.sync_all();
    }
    Ok(())
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Returns a temporary name unique to this process and call, so concurrent writers in
/// threads or processes never share one.
fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let serial = COUNTER.fetch_add(1, Ordering::Relaxed);
    parent_of(path).join(format!(".{name}.tmp-{}-{serial}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();

        assert_eq!(fs::read(&path).unwrap(), b"second");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary files must not remain");
    }

    #[test]
    fn rename_folder_refuses_existing_target() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("partial");
        let to = dir.path().join("done");
        fs::create_dir(&from).unwrap();
        fs::write(from.join("x"), b"1").unwrap();
        fs::create_dir(&to).unwrap();
        fs::write(to.join("y"), b"2").unwrap();

        assert!(rename_folder(&from, &to).is_err());
        assert!(to.join("y").exists(), "an existing output must not be lost");
    }
}
