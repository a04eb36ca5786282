//! JSON Schema of experiment specs, with one stage variant per registered stage kind.

use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

use super::experiment::Experiment;
use crate::stage::Registry;

/// Generates the JSON Schema (draft 2020-12) of experiment specs. `stages` items are a `oneOf`
/// with one variant per kind in `registry`, discriminated by the constant `kind`.
pub fn schema(registry: &Registry) -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();

    // Collect one variant per stage kind; their parameter types land in `$defs`.
    let mut variants = Vec::new();
    for name in registry.kinds() {
        let Some(kind) = registry.get(name) else { continue };
        let params = kind.params_schema(&mut generator).to_value();
        let params = resolve_reference(params, generator.definitions());
        variants.push(stage_variant(name, kind.description(), &params));
    }

    let mut root = generator.root_schema_for::<Experiment>().to_value();
    if !variants.is_empty() {
        if let Some(definitions) = root.get_mut("$defs").and_then(Value::as_object_mut) {
            definitions.insert(
                "StageSpec".to_string(),
                json!({
                    "description": "A stage: unique `name`, registered `kind`, `inputs` naming earlier stages, and the parameters of the kind.",
                    "oneOf": variants,
                }),
            );
        }
    }
    root
}

/// Follows a `{"$ref": "#/$defs/Name"}` schema to its definition.
fn resolve_reference(schema: Value, definitions: &Map<String, Value>) -> Value {
    let name = schema.get("$ref").and_then(Value::as_str).and_then(|reference| reference.strip_prefix("#/$defs/"));
    match name.and_then(|name| definitions.get(name)) {
        Some(definition) => definition.clone(),
        None => schema,
    }
}

/// Builds a closed object schema with the common stage keys plus the kind's parameters.
fn stage_variant(kind: &str, description: &str, params: &Value) -> Value {
    let mut properties = Map::new();
    properties.insert("name".into(), json!({"type": "string", "description": "Unique stage name."}));
    properties.insert("kind".into(), json!({"const": kind, "description": description}));
    properties.insert(
        "inputs".into(),
        json!({"type": "array", "items": {"type": "string"}, "description": "Names of earlier stages whose outputs this stage reads. Default: none."}),
    );
    if let Some(own) = params.get("properties").and_then(Value::as_object) {
        for (key, value) in own {
            properties.insert(key.clone(), value.clone());
        }
    }
    let mut required = vec![json!("name"), json!("kind")];
    if let Some(own) = params.get("required").and_then(Value::as_array) {
        required.extend(own.iter().cloned());
    }
    json!({
        "type": "object",
        "title": kind,
        "description": description,
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}
