//! Writes a located tree back as block-style YAML, optionally with a comment on each
//! value naming the file:line:column or override that supplied it.

use super::node::{Node, NodeValue, ScalarStyle};
use super::scalar::{self, Resolved};

/// Writes the tree as YAML, keys in the order written. Plain scalars are written as they
/// were, so reading the output back gives the same values.
pub fn to_yaml(node: &Node, provenance: bool) -> String {
    let mut out = String::new();
    match &node.value {
        NodeValue::Scalar { .. } => {
            out.push_str(&scalar_text(node));
            comment(&mut out, node, provenance);
            out.push('\n');
        }
        _ if is_empty_collection(node) => {
            out.push_str(&scalar_text(node));
            comment(&mut out, node, provenance);
            out.push('\n');
        }
        _ => write_block(&mut out, node, 0, provenance),
    }
    out
}

fn write_block(out: &mut String, node: &Node, indent: usize, provenance: bool) {
    let pad = " ".repeat(indent);
    match &node.value {
        NodeValue::Mapping(entries) => {
            for entry in entries {
                out.push_str(&pad);
                out.push_str(&key_text(&entry.key));
                out.push(':');
                write_value(out, &entry.value, indent, provenance);
            }
        }
        NodeValue::Sequence(items) => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                match &item.value {
                    NodeValue::Mapping(_) | NodeValue::Sequence(_) if !is_empty_collection(item) => {
                        // Write the collection one level deeper, then pull its first
                        // line up onto the `- ` line.
                        let mut inner = String::new();
                        write_block(&mut inner, item, indent + 2, provenance);
                        out.push(' ');
                        out.push_str(&inner[indent + 2..]);
                    }
                    _ => {
                        out.push(' ');
                        out.push_str(&scalar_text(item));
                        comment(out, item, provenance);
                        out.push('\n');
                    }
                }
            }
        }
        NodeValue::Scalar { .. } => {}
    }
}

fn write_value(out: &mut String, value: &Node, indent: usize, provenance: bool) {
    match &value.value {
        NodeValue::Mapping(_) if !is_empty_collection(value) => {
            out.push('\n');
            write_block(out, value, indent + 2, provenance);
        }
        NodeValue::Sequence(_) if !is_empty_collection(value) => {
            out.push('\n');
            write_block(out, value, indent + 2, provenance);
        }
        _ => {
            out.push(' ');
            out.push_str(&scalar_text(value));
            comment(out, value, provenance);
            out.push('\n');
        }
    }
}

fn is_empty_collection(node: &Node) -> bool {
    match &node.value {
        NodeValue::Mapping(entries) => entries.is_empty(),
        NodeValue::Sequence(items) => items.is_empty(),
        NodeValue::Scalar { .. } => false,
    }
}

fn comment(out: &mut String, node: &Node, provenance: bool) {
    if provenance {
        out.push_str("  # ");
        out.push_str(&node.location.to_string());
    }
}

/// Text of a scalar or an empty collection as written in flow style.
fn scalar_text(node: &Node) -> String {
    match &node.value {
        NodeValue::Mapping(_) => "{}".to_string(),
        NodeValue::Sequence(_) => "[]".to_string(),
        NodeValue::Scalar { text, style: ScalarStyle::Plain } if text.is_empty() => "null".to_string(),
        // A multi-line plain scalar is never a number or bool, so quoting keeps its value.
        NodeValue::Scalar { text, style: ScalarStyle::Plain } if !text.contains('\n') => text.clone(),
        // A quoted scalar that would read back as the same text unquoted is written
        // plain, so defaults built from typed values print as users write them.
        NodeValue::Scalar { text, .. } if is_plain_safe(text) && scalar::resolve(text) == Resolved::String => text.clone(),
        NodeValue::Scalar { text, .. } => quote(text),
    }
}

/// True for text that a plain scalar can hold without any YAML indicator meaning.
fn is_plain_safe(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with(['-', '?', ':', '&', '*', '!', '|', '>', '%', '@', '`', '.', '~'])
        && text.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
}

fn key_text(key: &str) -> String {
    if key != "<<" && is_plain_safe(key) {
        key.to_string()
    } else {
        quote(key)
    }
}

/// Quotes a scalar with single quotes, or with double quotes with escapes when the text has line
/// breaks or control characters.
fn quote(text: &str) -> String {
    if !text.chars().any(|c| c.is_control()) {
        return format!("'{}'", text.replace('\'', "''"));
    }
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
