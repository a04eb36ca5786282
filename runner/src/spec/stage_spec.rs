//! One entry of `stages:`: the common keys, and the kind-specific rest kept as a node
//! for the stage kind to type.

use schemars::JsonSchema;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::diagnostic::Diagnostic;
use super::node::{Entry, Node, NodeValue};

/// Keys that every stage entry has; all other keys belong to the stage kind.
pub const COMMON_STAGE_KEYS: [&str; 3] = ["name", "kind", "inputs"];

/// A stage entry: `{name, kind, inputs, <parameters of the kind>}`.
#[derive(Debug, Clone, PartialEq)]
pub struct StageSpec {
    /// Unique name; names the output folder `stages/<name>/` and is what `inputs` and
    /// `--set stages.<name>.<key>=...` refer to.
    pub name: String,
    /// Stage kind, one of the registered kinds (`assay schema` lists them).
    pub kind: String,
    /// Names of earlier stages whose outputs this stage reads. Default: none.
    pub inputs: Vec<String>,
    /// Every other key of the entry: the kind's parameters, as a mapping located at
    /// the entry. The stage kind types and checks them.
    pub params: Node,
}

impl<'de> Deserialize<'de> for StageSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let node = Node::deserialize(deserializer)?;
        StageSpec::from_entry(&node).map_err(super::de::reported_error)
    }
}

impl StageSpec {
    /// Splits a stage entry into the common keys and the kind's parameters.
    ///
    /// # Errors
    /// The entry is not a mapping, or `name`, `kind` or `inputs` is missing or has the
    /// wrong type.
    pub fn from_entry(node: &Node) -> Result<Self, Vec<Diagnostic>> {
        let Some(entries) = node.entries() else {
            return Err(vec![Diagnostic::at_node(node, format!("expected a stage mapping, found {}", node.describe()))
                .with_help("write a stage as `- {name: ..., kind: ..., <parameters>}`")]);
        };
        let mut problems = Vec::new();
        let mut text_field = |key: &str| -> String {
            match node.get(key) {
                None => {
                    problems.push(
                        Diagnostic::at_node(node, format!("missing required field `{key}` in stage entry"))
                            .with_help(format!("add `{key}:` to this stage")),
                    );
                    String::new()
                }
                Some(value) => super::de::from_node::<String>(value).unwrap_or_else(|found| {
                    problems.extend(found);
                    String::new()
                }),
            }
        };
        let name = text_field("name");
        let kind = text_field("kind");
        let inputs = match node.get("inputs") {
            None => Vec::new(),
            Some(value) => super::de::from_node::<Vec<String>>(value).unwrap_or_else(|found| {
                problems.extend(found);
                Vec::new()
            }),
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        let rest: Vec<Entry> = entries.iter().filter(|entry| !COMMON_STAGE_KEYS.contains(&entry.key.as_str())).cloned().collect();
        let params = Node { value: NodeValue::Mapping(rest), location: node.location.clone() };
        Ok(StageSpec { name, kind, inputs, params })
    }
}

impl Serialize for StageSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("kind", &self.kind)?;
        if !self.inputs.is_empty() {
            map.serialize_entry("inputs", &self.inputs)?;
        }
        for entry in self.params.entries().unwrap_or_default() {
            map.serialize_entry(&entry.key, &entry.value)?;
        }
        map.end()
    }
}

impl JsonSchema for StageSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StageSpec".into()
    }

    /// Describes the shape without kind-specific parameters; `spec::schema` replaces it with one
    /// variant per registered stage kind.
    fn json_schema(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "A stage: unique `name`, registered `kind`, `inputs` naming earlier stages, and the parameters of the kind.",
            "properties": {
                "name": { "type": "string", "description": "Unique stage name." },
                "kind": { "type": "string", "description": "Registered stage kind." },
                "inputs": { "type": "array", "items": { "type": "string" }, "description": "Names of earlier stages whose outputs this stage reads. Default: none." }
            },
            "required": ["name", "kind"]
        })
    }
}
