//! Provenance of a spec value: the file position or the override that supplied it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a value of the spec came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// A position in a YAML file; `line` and `column` are 1-based, the column counts
    /// characters.
    File { path: Arc<Path>, line: usize, column: usize },
    /// A command-line override; `text` is the whole `KEY=VALUE` argument.
    Override { text: Arc<str> },
    /// A command-line argument other than an override, e.g. the KEY of `assay explain`.
    Argument { text: Arc<str> },
    /// A value that no file or override wrote (a default, or a value built by code).
    Generated,
}

impl Location {
    /// Returns the file this value was written in, if any.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Location::File { path, .. } => Some(path),
            _ => None,
        }
    }

    /// Returns the folder that relative paths written at this location are resolved
    /// against: the parent folder of the file, or `None` for overrides and generated
    /// values.
    pub fn base_dir(&self) -> Option<PathBuf> {
        let parent = self.file()?.parent()?;
        Some(if parent.as_os_str().is_empty() { PathBuf::from(".") } else { parent.to_path_buf() })
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File { path, line, column } => write!(f, "{}:{line}:{column}", path.display()),
            Location::Override { text } => write!(f, "override `--set {text}`"),
            Location::Argument { text } => write!(f, "argument `{text}`"),
            Location::Generated => write!(f, "<default>"),
        }
    }
}

/// The origin of a YAML text handed to the parser, which stamps it on every node.
#[derive(Debug, Clone)]
pub enum Source {
    /// A spec file (the path is shown in messages as given).
    File(Arc<Path>),
    /// The value of a `--set KEY=VALUE` override; contains the whole argument.
    Override(Arc<str>),
}

impl Source {
    /// Returns the location of the character at 1-based `line` and `column`.
    pub fn at(&self, line: usize, column: usize) -> Location {
        match self {
            Source::File(path) => Location::File { path: path.clone(), line, column },
            Source::Override(text) => Location::Override { text: text.clone() },
        }
    }
}
