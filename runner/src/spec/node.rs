//! The located YAML tree: every node records the file position or override it came from.
//!
//! Scalars keep their source text and style; they get a type only when a typed struct
//! is deserialized from the tree (see [`super::de`]), so `no` stays the text `no`
//! unless a field expects a bool.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::location::Location;
use super::scalar::{self, Resolved};

/// How a scalar was written. Only plain scalars are typed by their text; every other
/// style is a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    /// Unquoted, e.g. `lr: 1e-5`.
    Plain,
    /// Single- or double-quoted, or a `|`/`>` block, or tagged `!!str`.
    Quoted,
}

/// A value in the located tree.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    /// A scalar's source text (escapes and folding already applied) and style.
    Scalar { text: String, style: ScalarStyle },
    /// A sequence, in source order.
    Sequence(Vec<Node>),
    /// A mapping with string keys, in source order, keys unique.
    Mapping(Vec<Entry>),
}

/// One `key: value` pair of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    /// Where the key was written (where "unknown field" errors point).
    pub key_location: Location,
    pub value: Node,
}

/// A YAML node with its provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: NodeValue,
    pub location: Location,
}

/// Name of the newtype through which [`Node`] fields receive the located node from the
/// spec deserializer instead of a rebuilt copy.
pub(crate) const NODE_TOKEN: &str = "$assay::spec::Node";

impl Node {
    /// Creates a plain scalar (typed later by its text).
    pub fn plain(text: impl Into<String>, location: Location) -> Self {
        Node { value: NodeValue::Scalar { text: text.into(), style: ScalarStyle::Plain }, location }
    }

    /// Creates a quoted scalar (always a string).
    pub fn string(text: impl Into<String>, location: Location) -> Self {
        Node { value: NodeValue::Scalar { text: text.into(), style: ScalarStyle::Quoted }, location }
    }

    /// Creates a mapping from its entries.
    pub fn mapping(entries: Vec<Entry>, location: Location) -> Self {
        Node { value: NodeValue::Mapping(entries), location }
    }

    /// True for a plain `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, NodeValue::Scalar { text, style: ScalarStyle::Plain } if scalar::is_null(text))
    }

    /// Returns the mapping entries, or `None` when this is not a mapping.
    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.value {
            NodeValue::Mapping(entries) => Some(entries),
            _ => None,
        }
    }

    /// Returns the text of a scalar, or `None` for sequences and mappings.
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Looks up the value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?.iter().find(|entry| entry.key == key).map(|entry| &entry.value)
    }

    /// Looks up the value of `key` in a mapping, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.value {
            NodeValue::Mapping(entries) => entries.iter_mut().find(|entry| entry.key == key).map(|entry| &mut entry.value),
            _ => None,
        }
    }

    /// Looks up the node at a dotted key path such as `generation.temperature` or
    /// `items.0`. A sequence element is addressed by index or by its `name` value.
    pub fn at_path(&self, path: &str) -> Option<&Node> {
        let mut node = self;
        for segment in path.split('.').filter(|s| !s.is_empty()) {
            node = match &node.value {
                NodeValue::Mapping(_) => node.get(segment)?,
                NodeValue::Sequence(items) => find_element(items, segment)?,
                NodeValue::Scalar { .. } => return None,
            };
        }
        Some(node)
    }

    /// Number of nodes in this subtree, this one included.
    pub fn count(&self) -> usize {
        match &self.value {
            NodeValue::Scalar { .. } => 1,
            NodeValue::Sequence(items) => 1 + items.iter().map(Node::count).sum::<usize>(),
            NodeValue::Mapping(entries) => 1 + entries.iter().map(|e| e.value.count()).sum::<usize>(),
        }
    }

    /// Converts the value to JSON, typing plain scalars by the YAML 1.2 core schema.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Describes the value briefly for messages: the quoted scalar text, or
    /// "a mapping" / "a list".
    pub fn describe(&self) -> String {
        match &self.value {
            NodeValue::Scalar { text, style: ScalarStyle::Plain } if scalar::is_null(text) => "null".to_string(),
            NodeValue::Scalar { text, .. } => format!("`{}`", shorten(text)),
            NodeValue::Sequence(_) => "a list".to_string(),
            NodeValue::Mapping(_) => "a mapping".to_string(),
        }
    }
}

/// Finds the sequence element addressed by `segment`: the element whose `name` key
/// equals `segment`, or else the element at that index.
pub(crate) fn find_element<'a>(items: &'a [Node], segment: &str) -> Option<&'a Node> {
    if let Some(found) = items.iter().find(|item| item.get("name").and_then(Node::as_scalar) == Some(segment)) {
        return Some(found);
    }
    segment.parse::<usize>().ok().and_then(|index| items.get(index))
}

fn shorten(text: &str) -> String {
    const MAX_CHARS: usize = 60;
    if text.chars().count() <= MAX_CHARS {
        return text.to_string();
    }
    let head: String = text.chars().take(MAX_CHARS).collect();
    format!("{head}...")
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.value {
            NodeValue::Scalar { text, style: ScalarStyle::Quoted } => serializer.serialize_str(text),
            NodeValue::Scalar { text, style: ScalarStyle::Plain } => match scalar::resolve(text) {
                Resolved::Null => serializer.serialize_unit(),
                Resolved::Bool(value) => serializer.serialize_bool(value),
                Resolved::Int(value) => match (i64::try_from(value), u64::try_from(value)) {
                    (Ok(signed), _) => serializer.serialize_i64(signed),
                    (_, Ok(unsigned)) => serializer.serialize_u64(unsigned),
                    _ => serializer.serialize_f64(value as f64),
                },
                Resolved::Float(value) => serializer.serialize_f64(value),
                Resolved::String => serializer.serialize_str(text),
            },
            NodeValue::Sequence(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            NodeValue::Mapping(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for entry in entries {
                    map.serialize_entry(&entry.key, &entry.value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(NODE_TOKEN, HandoffVisitor)
    }
}

/// Receives the located node from the spec deserializer, or rebuilds a node without
/// locations from any other deserializer.
struct HandoffVisitor;

impl<'de> Visitor<'de> for HandoffVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(super::de::take_handoff().unwrap_or_else(|| Node::plain("null", Location::Generated)))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(GenericVisitor)
    }
}

/// Builds a node from any self-describing format; every node gets `Location::Generated`.
struct GenericVisitor;

impl<'de> Visitor<'de> for GenericVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::plain("null", Location::Generated))
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        self.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(GenericVisitor)
    }
    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Node, E> {
        Ok(Node::plain(value.to_string(), Location::Generated))
    }
    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Node, E> {
        Ok(Node::plain(value.to_string(), Location::Generated))
    }
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Node, E> {
        Ok(Node::plain(value.to_string(), Location::Generated))
    }
    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Node, E> {
        Ok(Node::plain(scalar::format_float(value), Location::Generated))
    }
    fn visit_str<E: de::Error>(self, value: &str) -> Result<Node, E> {
        Ok(Node::string(value, Location::Generated))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(NodeSeed)? {
            items.push(item);
        }
        Ok(Node { value: NodeValue::Sequence(items), location: Location::Generated })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<Entry> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(NodeSeed)?;
            entries.retain(|entry| entry.key != key);
            entries.push(Entry { key, key_location: Location::Generated, value });
        }
        Ok(Node::mapping(entries, Location::Generated))
    }
}

struct NodeSeed;

impl<'de> de::DeserializeSeed<'de> for NodeSeed {
    type Value = Node;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(GenericVisitor)
    }
}

impl JsonSchema for Node {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AnyValue".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::Schema::from(true)
    }
}
