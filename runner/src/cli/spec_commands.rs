//! The `validate`, `schema` and `explain` commands.

use std::path::{Path, PathBuf};

use super::{EXIT_FAILED, EXIT_INVALID, EXIT_OK};
use crate::spec::{self, render_diagnostics};
use crate::stage::Registry;

/// Loads each spec and prints every error found; exit 2 when any spec is invalid.
pub fn validate(specs: &[PathBuf], overrides: &[String], no_path_check: bool) -> i32 {
    let registry = Registry::builtin();
    let paths = if no_path_check { spec::PathCheck::Skip } else { spec::PathCheck::Require };
    let mut invalid = 0usize;
    let mut errors = 0usize;
    for path in specs {
        match spec::load_with(path, overrides, &registry, paths) {
            Ok(loaded) => println!("{}: ok ({} stages)", path.display(), loaded.spec.stages.len()),
            Err(diagnostics) => {
                eprint!("{}", render_diagnostics(&diagnostics));
                invalid += 1;
                errors += diagnostics.len();
            }
        }
    }
    if invalid == 0 {
        return EXIT_OK;
    }
    eprintln!("{errors} error(s) in {invalid} of {} spec(s)", specs.len());
    EXIT_INVALID
}

/// Prints the JSON Schema, writes it to `path` (`--write`), or checks that the
/// committed copy at `path` is current (`--check`, exit 1 when stale).
pub fn schema(check: bool, write: bool, path: &Path) -> i32 {
    let generated = generated_schema();
    if write {
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            if let Err(error) = std::fs::create_dir_all(parent) {
                eprintln!("error: cannot create folder `{}`: {error}", parent.display());
                return EXIT_FAILED;
            }
        }
        return match std::fs::write(path, &generated) {
            Ok(()) => {
                println!("wrote {}", path.display());
                EXIT_OK
            }
            Err(error) => {
                eprintln!("error: cannot write `{}`: {error}", path.display());
                EXIT_FAILED
            }
        };
    }
    if !check {
        print!("{generated}");
        return EXIT_OK;
    }
    let committed = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("error: cannot read `{}`: {error}", path.display());
            eprintln!("  help: run `assay schema --write` to create it");
            return EXIT_FAILED;
        }
    };
    match first_difference(&committed, &generated) {
        None => {
            println!("{} is up to date", path.display());
            EXIT_OK
        }
        Some(line) => {
            eprintln!("error: `{}` is stale: line {line} differs from the generated schema", path.display());
            eprintln!("  help: run `assay schema --write` and commit the result");
            EXIT_FAILED
        }
    }
}

/// Generates the schema of the built-in stage kinds, pretty-printed with a final newline.
pub fn generated_schema() -> String {
    let value = spec::schema(&Registry::builtin());
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".to_string());
    text.push('\n');
    text
}

/// Finds the 1-based number of the first line where the texts differ, if they do.
fn first_difference(committed: &str, generated: &str) -> Option<usize> {
    if committed == generated {
        return None;
    }
    let mut committed_lines = committed.lines();
    let mut generated_lines = generated.lines();
    let mut line = 1;
    loop {
        match (committed_lines.next(), generated_lines.next()) {
            (Some(a), Some(b)) if a == b => line += 1,
            _ => return Some(line),
        }
    }
}

/// Prints the resolved value of `key` and where it came from; exit 2 when the spec is
/// invalid or the key does not exist.
pub fn explain(spec_path: &Path, key: &str, overrides: &[String]) -> i32 {
    let registry = Registry::builtin();
    let loaded = match spec::load(spec_path, overrides, &registry) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            eprint!("{}", render_diagnostics(&diagnostics));
            return EXIT_INVALID;
        }
    };
    match loaded.explain(key) {
        Ok(explanation) => {
            print!("{explanation}");
            EXIT_OK
        }
        Err(diagnostic) => {
            eprint!("{}", render_diagnostics(&[diagnostic]));
            EXIT_INVALID
        }
    }
}

#[cfg(test)]
mod tests {
    use super::first_difference;

    #[test]
    fn first_difference_finds_changed_line() {
        assert_eq!(first_difference("a\nb\nc\n", "a\nb\nc\n"), None);
        assert_eq!(first_difference("a\nb\nc\n", "a\nx\nc\n"), Some(2));
        assert_eq!(first_difference("a\n", "a\nb\n"), Some(2));
    }
}
