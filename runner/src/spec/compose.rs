//! `extends:` composition: a spec file may name a base file whose mappings it
//! deep-merges into (this file wins) and whose lists it replaces.

use std::path::{Path, PathBuf};

use super::diagnostic::Diagnostic;
use super::node::{Entry, Node, NodeValue};
use super::parse;

/// Maximum number of files in an `extends:` chain. Longer chains are almost surely a
/// mistake.
pub const MAX_EXTENDS_DEPTH: usize = 16;

/// Parses `path` and, recursively, the files it extends, and merges them. Every value
/// keeps the location of the file that supplied it. Returns the merged tree (without
/// `extends` keys) and the files read, the given one first.
///
/// # Errors
/// Parse errors of any file, a missing base file, an `extends` that is not a path, a
/// cycle, or a chain longer than [`MAX_EXTENDS_DEPTH`].
pub fn load_composed(path: &Path) -> Result<(Node, Vec<PathBuf>), Vec<Diagnostic>> {
    let mut files = Vec::new();
    let mut chain = Vec::new();
    let root = load_chain(path, &mut chain, &mut files)?;
    Ok((root, files))
}

fn load_chain(path: &Path, chain: &mut Vec<PathBuf>, files: &mut Vec<PathBuf>) -> Result<Node, Vec<Diagnostic>> {
    let mut node = parse::parse_file(path)?;
    files.push(path.to_path_buf());
    chain.push(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));

    let Some(extends) = take_extends(&mut node) else {
        chain.pop();
        return Ok(node);
    };
    let Some(relative) = extends.as_scalar().filter(|text| !extends.is_null() && !text.is_empty()) else {
        return Err(vec![Diagnostic::at_node(&extends, format!("`extends` must be a file path, found {}", extends.describe()))
            .with_help("write `extends: base.yaml`, relative to this file")]);
    };
    let base_path = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.join(relative),
        _ => PathBuf::from(relative),
    };
    let Ok(canonical) = std::fs::canonicalize(&base_path) else {
        return Err(vec![Diagnostic::at_node(&extends, format!("extended spec `{}` not found", base_path.display()))
            .with_help("the path is relative to the folder of the file that has `extends:`")]);
    };
    if chain.contains(&canonical) {
        let cycle: Vec<String> = chain.iter().chain(std::iter::once(&canonical)).map(|p| p.display().to_string()).collect();
        return Err(vec![Diagnostic::at_node(&extends, format!("`extends` forms a cycle: {}", cycle.join(" -> ")))
            .with_help("remove the `extends` that points back to a file already in the chain")]);
    }
    if chain.len() >= MAX_EXTENDS_DEPTH {
        return Err(vec![Diagnostic::at_node(&extends, format!("`extends` chain is longer than {MAX_EXTENDS_DEPTH} files"))]);
    }
    let base = load_chain(&base_path, chain, files)?;
    chain.pop();
    Ok(deep_merge(base, node))
}

/// Removes the root's `extends` entry and returns its value.
fn take_extends(node: &mut Node) -> Option<Node> {
    let NodeValue::Mapping(entries) = &mut node.value else { return None };
    let index = entries.iter().position(|entry| entry.key == "extends")?;
    Some(entries.remove(index).value)
}

/// Merges `child` over `base`: mappings key by key (recursively, base order first, new
/// keys appended in child order), anything else replaced by the child's value.
pub fn deep_merge(base: Node, child: Node) -> Node {
    match (base.value, child.value) {
        (NodeValue::Mapping(mut merged), NodeValue::Mapping(overrides)) => {
            for entry in overrides {
                match merged.iter_mut().find(|existing| existing.key == entry.key) {
                    Some(existing) => {
                        let base_value = std::mem::replace(&mut existing.value, Node::plain("", child.location.clone()));
                        existing.value = deep_merge(base_value, entry.value);
                        existing.key_location = entry.key_location;
                    }
                    None => merged.push(Entry { key: entry.key, key_location: entry.key_location, value: entry.value }),
                }
            }
            Node::mapping(merged, child.location)
        }
        (_, value) => Node { value, location: child.location },
    }
}
