//! Spec errors with their location, and how they are printed.

use std::fmt;

use super::location::Location;
use super::node::Node;

/// One problem found in a spec: where, what, and optionally how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the offending value was written.
    pub location: Location,
    /// What is wrong, quoting the offending value; lowercase, no final period.
    pub message: String,
    /// What to do about it, printed on its own `help:` line.
    pub help: Option<String>,
    /// Dotted key path, relative to the node being checked, of the offending value.
    /// Stage kinds set it (through [`Diagnostic::for_key`]) when they have no node at
    /// hand; the loader then replaces `location` with the location of that key.
    pub key: Option<String>,
}

impl Diagnostic {
    /// Creates a diagnostic at an explicit location.
    pub fn new(location: Location, message: impl Into<String>) -> Self {
        Self { location, message: message.into(), help: None, key: None }
    }

    /// Creates a diagnostic at the location of `node`.
    pub fn at_node(node: &Node, message: String) -> Self {
        Self::new(node.location.clone(), message)
    }

    /// Creates a diagnostic about the value at `key` (dotted, e.g. `generation.temperature`)
    /// inside the stage or section being checked. The loader fills in the location.
    pub fn for_key(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { location: Location::Generated, message: message.into(), help: None, key: Some(key.into()) }
    }

    /// Adds a `help:` line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: error: {}", self.location, self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Renders diagnostics as `file:line:column: error: message` lines, each followed by an
/// optional `  help: ...` line, in the given order and with a trailing newline.
pub fn render_diagnostics(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        out.push_str(&diagnostic.to_string());
        out.push('\n');
    }
    out
}

/// Sorts diagnostics by file position (then message) and drops exact duplicates, so
/// that output order is stable and reads top to bottom.
pub fn sort_diagnostics(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by_key(|diagnostic| (sort_key(&diagnostic.location), diagnostic.message.clone()));
    diagnostics.dedup();
}

fn sort_key(location: &Location) -> (u8, String, usize, usize) {
    match location {
        Location::File { path, line, column } => (0, path.display().to_string(), *line, *column),
        Location::Override { text } => (1, text.to_string(), 0, 0),
        Location::Argument { text } => (2, text.to_string(), 0, 0),
        Location::Generated => (3, String::new(), 0, 0),
    }
}
