//! Builds the repository's WebAssembly guests and native plugins on demand, for tests,
//! benchmarks and example specs run from a fresh clone.
//!
//! Each build runs `cargo` once per process (guarded by a `OnceLock`) with its own
//! target folder under the workspace's target folder, so it does not wait on the build
//! lock of the `cargo test` that started it. Cargo's own freshness check makes a repeat
//! run cheap. The guests need `rustup target add wasm32-wasip2`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The guest crates in `plugins/tools`.
pub const GUEST_NAMES: [&str; 4] = ["zoom_in", "face_align", "hostile", "wrong_version"];

/// Returns the repository root (two folders above this crate).
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// `$CARGO_TARGET_DIR` when set, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Runs cargo with `args` into `target`; `hint` is appended to a failure message.
fn run_cargo(args: &[&str], target: &Path, hint: &str) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    tracing::info!(?args, target = %target.display(), "building plugins with cargo");
    let output = Command::new(&cargo)
        .args(args)
        .env("CARGO_TARGET_DIR", target)
        .current_dir(workspace_root())
        .output()
        .map_err(|e| format!("failed to run `{cargo}`: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: String = stderr.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        Err(format!(
            "`cargo {}` failed ({}){hint}:\n{tail}",
            args.join(" "),
            output.status
        ))
    }
}

/// Builds every guest in release mode for `wasm32-wasip2` (once per process) and
/// returns the folder that holds `<name>.wasm`.
///
/// # Errors
/// Returns cargo's error output when the build fails.
pub fn ensure_guests_built() -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let target = target_dir().join("wasm-guests");
            let manifest = workspace_root().join("plugins/tools/Cargo.toml");
            let manifest = manifest.to_string_lossy();
            run_cargo(
                &["build", "--release", "--target", "wasm32-wasip2", "--manifest-path", &manifest],
                &target,
                "; if the `wasm32-wasip2` target is missing, run `rustup target add wasm32-wasip2`",
            )?;
            Ok(target.join("wasm32-wasip2/release"))
        })
        .clone()
}

/// Returns the path of guest `name` (one of [`GUEST_NAMES`]), building the guests first.
///
/// # Errors
/// Returns the build error, or a message when the file is still missing.
pub fn guest_path(name: &str) -> Result<PathBuf, String> {
    let path = ensure_guests_built()?.join(format!("{name}.wasm"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("guest `{}` was not produced by the build; expected one of {GUEST_NAMES:?}", path.display()))
    }
}

/// Builds the cdylib of workspace package `package` (debug profile, once per process per
/// package) and returns the library's path. `lib_name` is the crate's library name
/// (`assay_actfer_reward` for `assay-actfer-reward`).
///
/// # Errors
/// Returns cargo's error output, or a message when the library is missing afterwards.
pub fn ensure_native_plugin_built(package: &str, lib_name: &str) -> Result<PathBuf, String> {
    static BUILT: OnceLock<std::sync::Mutex<std::collections::HashMap<String, Result<PathBuf, String>>>> =
        OnceLock::new();
    let cache = BUILT.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(package.to_string())
        .or_insert_with(|| {
            let target = target_dir().join("native-plugins");
            run_cargo(&["build", "-p", package], &target, "")?;
            let file = format!(
                "{}{lib_name}{}",
                std::env::consts::DLL_PREFIX,
                std::env::consts::DLL_SUFFIX
            );
            let path = target.join("debug").join(file);
            if path.is_file() {
                Ok(path)
            } else {
                Err(format!("`cargo build -p {package}` did not produce `{}`", path.display()))
            }
        })
        .clone()
}
