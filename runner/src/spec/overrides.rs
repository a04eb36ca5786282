//! `--set path.to.key=value` overrides, applied to the composed tree before typing.
//!
//! Path segments address mapping keys. In a list, a segment addresses the element whose
//! `name` is that segment, or else the element at that index, so `stages.grpo.lr` and
//! `stages.1.lr` both work. The value is parsed as YAML (a scalar, or a flow list or
//! mapping such as `[1e-5, 3e-5]`) and typed by the schema like a value in a file.
//! Keys that the schema does not know are reported when the tree is typed.

use std::sync::Arc;

use super::diagnostic::Diagnostic;
use super::location::{Location, Source};
use super::node::{Entry, Node, NodeValue};
use super::parse;
use super::suggest;

/// Applies each override in order; later ones win. Returns every problem found.
pub fn apply_overrides(root: &mut Node, overrides: &[String]) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    for text in overrides {
        if let Err(mut found) = apply_one(root, text) {
            problems.append(&mut found);
        }
    }
    problems
}

fn apply_one(root: &mut Node, text: &str) -> Result<(), Vec<Diagnostic>> {
    let location = Location::Override { text: Arc::from(text) };
    let Some((key, value_text)) = text.split_once('=') else {
        return Err(vec![Diagnostic::new(location, format!("invalid override `{text}`, expected KEY=VALUE"))
            .with_help("write e.g. `--set stages.grpo.group_size=8`")]);
    };
    let segments: Vec<&str> = key.split('.').collect();
    if key.is_empty() || segments.iter().any(|segment| segment.is_empty()) {
        return Err(vec![Diagnostic::new(location, format!("invalid override key `{key}`"))
            .with_help("write a dotted path without empty parts, e.g. `experiment.seed`")]);
    }
    let value = parse::parse_str(value_text, &Source::Override(Arc::from(text)))?;
    set_path(root, &segments, value, &location).map_err(|diagnostic| vec![diagnostic])
}

fn set_path(root: &mut Node, segments: &[&str], value: Node, location: &Location) -> Result<(), Diagnostic> {
    let mut node = root;
    let mut value = Some(value);
    for (depth, segment) in segments.iter().enumerate() {
        let is_last = depth + 1 == segments.len();
        let walked = segments[..depth].join(".");
        if node.is_null() && !is_last {
            // An empty section (`data:`) becomes a mapping to hold the new key.
            node.value = NodeValue::Mapping(Vec::new());
        }
        let description = node.describe();
        node = match &mut node.value {
            NodeValue::Mapping(entries) => {
                let index = match entries.iter().position(|entry| entry.key == *segment) {
                    Some(index) => index,
                    None => {
                        let fresh = Node::mapping(Vec::new(), location.clone());
                        entries.push(Entry { key: segment.to_string(), key_location: location.clone(), value: fresh });
                        entries.len() - 1
                    }
                };
                &mut entries[index].value
            }
            NodeValue::Sequence(items) => {
                let Some(index) = element_index(items, segment) else {
                    let names: Vec<&str> = items.iter().filter_map(|item| item.get("name").and_then(Node::as_scalar)).collect();
                    let (message, help) = suggest::unknown_name(&format!("element of `{walked}`"), segment, &names);
                    let diagnostic = Diagnostic::new(location.clone(), message);
                    return Err(match help {
                        Some(help) => diagnostic.with_help(help),
                        None => diagnostic.with_help(format!("address an element by its `name` or by an index below {}", items.len())),
                    });
                };
                &mut items[index]
            }
            NodeValue::Scalar { .. } => {
                return Err(Diagnostic::new(
                    location.clone(),
                    format!("cannot set `{segment}` inside `{walked}`, which is {description} and not a mapping"),
                ));
            }
        };
        if is_last {
            *node = value.take().unwrap_or_else(|| Node::plain("", location.clone()));
        }
    }
    Ok(())
}

fn element_index(items: &[Node], segment: &str) -> Option<usize> {
    if let Some(index) = items.iter().position(|item| item.get("name").and_then(Node::as_scalar) == Some(segment)) {
        return Some(index);
    }
    segment.parse::<usize>().ok().filter(|index| *index < items.len())
}
