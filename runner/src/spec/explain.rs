//! `assay explain`: a resolved value and where it came from.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use super::diagnostic::Diagnostic;
use super::emit;
use super::experiment::Experiment;
use super::location::Location;
use super::node::{find_element, Node, NodeValue};
use super::suggest;

/// A resolved value with its provenance; `Display` prints the value and, for each
/// scalar inside it, the file:line:column or override that supplied it.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The dotted key that was asked for.
    pub key: String,
    /// The resolved value; `Location::Generated` when it is a default that no file
    /// or override wrote.
    pub value: Node,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let is_block = match &self.value.value {
            NodeValue::Mapping(entries) => !entries.is_empty(),
            NodeValue::Sequence(items) => !items.is_empty(),
            NodeValue::Scalar { .. } => false,
        };
        if !is_block {
            let text = emit::to_yaml(&self.value, false);
            writeln!(f, "{}: {}", self.key, text.trim_end())?;
            return match self.value.location {
                Location::Generated => writeln!(f, "  default value (not written in any file or override)"),
                ref location => writeln!(f, "  from {location}"),
            };
        }
        writeln!(f, "{}:  # {}", self.key, self.value.location)?;
        for line in emit::to_yaml(&self.value, true).lines() {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

/// Finds `key` in the resolved tree, or else among the defaults of the typed spec.
pub fn explain(root: &Node, spec: &Experiment, key: &str) -> Result<Explanation, Diagnostic> {
    let segments: Vec<&str> = key.split('.').collect();
    if key.is_empty() || segments.iter().any(|segment| segment.is_empty()) {
        return Err(Diagnostic::new(argument(key), format!("invalid key `{key}`"))
            .with_help("write a dotted path, e.g. `stages.grpo.group_size`"));
    }
    match walk(root, &segments) {
        Ok(node) => Ok(Explanation { key: key.to_string(), value: node.clone() }),
        Err(diagnostic) => {
            // A key that no file or override wrote may still have a default value.
            let typed = serde_json::to_value(spec).ok().and_then(|json| json_at(&json, &segments).cloned());
            match typed.and_then(|json| Node::deserialize(json).ok()) {
                Some(value) => Ok(Explanation { key: key.to_string(), value }),
                None => Err(diagnostic),
            }
        }
    }
}

fn argument(key: &str) -> Location {
    Location::Argument { text: Arc::from(key) }
}

fn walk<'a>(root: &'a Node, segments: &[&str]) -> Result<&'a Node, Diagnostic> {
    let key = segments.join(".");
    let mut node = root;
    for (depth, segment) in segments.iter().enumerate() {
        let parent = if depth == 0 { "the spec root".to_string() } else { format!("`{}`", segments[..depth].join(".")) };
        let next = match &node.value {
            NodeValue::Mapping(entries) => {
                let found = entries.iter().find(|entry| entry.key == *segment).map(|entry| &entry.value);
                found.ok_or_else(|| {
                    let keys: Vec<&str> = entries.iter().map(|entry| entry.key.as_str()).collect();
                    let (message, help) = suggest::unknown_name(&format!("key in {parent}"), segment, &keys);
                    with_help(Diagnostic::new(argument(&key), message), help)
                })?
            }
            NodeValue::Sequence(items) => find_element(items, segment).ok_or_else(|| {
                let names: Vec<&str> = items.iter().filter_map(|item| item.get("name").and_then(Node::as_scalar)).collect();
                let (message, help) = suggest::unknown_name(&format!("element of {parent}"), segment, &names);
                with_help(Diagnostic::new(argument(&key), message), help)
            })?,
            NodeValue::Scalar { .. } => {
                return Err(Diagnostic::new(argument(&key), format!("{parent} is {}, which has no key `{segment}`", node.describe())));
            }
        };
        node = next;
    }
    Ok(node)
}

fn with_help(diagnostic: Diagnostic, help: Option<String>) -> Diagnostic {
    match help {
        Some(help) => diagnostic.with_help(help),
        None => diagnostic,
    }
}

fn json_at<'a>(json: &'a serde_json::Value, segments: &[&str]) -> Option<&'a serde_json::Value> {
    segments.iter().try_fold(json, |value, segment| match value {
        serde_json::Value::Object(map) => map.get(*segment),
        serde_json::Value::Array(items) => items
            .iter()
            .find(|item| item.get("name").and_then(serde_json::Value::as_str) == Some(segment))
            .or_else(|| segment.parse::<usize>().ok().and_then(|index| items.get(index))),
        _ => None,
    })
}
