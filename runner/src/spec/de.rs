//! A serde `Deserializer` over the located tree, so typed structs deserialize with a
//! file:line:column on every error.
//!
//! Errors are collected, not raised one at a time. An unknown field, a scalar of the
//! wrong type or an unknown enum value is recorded and replaced by a stand-in value
//! (the field skipped, zero, `false`, the text as is, the first variant). One pass
//! therefore reports every such problem. Errors that leave no value to stand in (a missing
//! required field, a mapping where a struct was expected) end the pass.
//!
//! Typing rules for plain scalars:
//! - numbers: YAML 1.2 core syntax (`1e-5` is a float), for int fields also integral
//!   floats such as `1e9`;
//! - bools: only `true` and `false`;
//! - strings: the text verbatim (`no`, `on`, `0123`, `1_1_1`), except that text which
//!   reads as a float (`3.10`) is an error, because the author may have meant a number
//!   and every YAML tool would read 3.1;
//! - `deserialize_any` (for `serde_json::Value` and untagged enums): the core schema.
//!
//! Quoted scalars are always strings.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Visitor};

use super::diagnostic::Diagnostic;
use super::location::Location;
use super::node::{Entry, Node, NodeValue, ScalarStyle, NODE_TOKEN};
use super::scalar::{self, Resolved};
use super::suggest;

thread_local! {
    /// Diagnostics of the `from_node` calls in progress, innermost last.
    static SINKS: RefCell<Vec<Vec<Diagnostic>>> = const { RefCell::new(Vec::new()) };
    /// The node a `Node` field is about to receive (see `NODE_TOKEN`).
    static HANDOFF: RefCell<Option<Node>> = const { RefCell::new(None) };
}

/// Message of an error whose diagnostics were already recorded in the sink.
const REPORTED: &str = "\u{0}assay: already reported";

/// Deserializes a typed value from a located node, collecting every error.
///
/// # Errors
/// All diagnostics found, each with the location of the node it concerns.
pub fn from_node<T: DeserializeOwned>(node: &Node) -> Result<T, Vec<Diagnostic>> {
    match from_node_partial(node) {
        (Some(value), diagnostics) if diagnostics.is_empty() => Ok(value),
        (_, diagnostics) => Err(diagnostics),
    }
}

/// Like [`from_node`], but also returns the value when errors were recorded and
/// stand-in values replaced the invalid ones, so that later checks can still run.
/// The value is `None` when an error ended the pass.
pub fn from_node_partial<T: DeserializeOwned>(node: &Node) -> (Option<T>, Vec<Diagnostic>) {
    SINKS.with(|sinks| sinks.borrow_mut().push(Vec::new()));
    let guard = SinkGuard;
    let result = T::deserialize(NodeDeserializer { node });
    let mut diagnostics = guard.finish();
    match result {
        Ok(value) => (Some(value), diagnostics),
        Err(error) => {
            if !error.reported {
                diagnostics.push(error.into_diagnostic(&node.location));
            }
            (None, diagnostics)
        }
    }
}

/// Pops the innermost sink even when deserialization panics.
struct SinkGuard;

impl SinkGuard {
    fn finish(self) -> Vec<Diagnostic> {
        let diagnostics = SINKS.with(|sinks| sinks.borrow_mut().pop()).unwrap_or_default();
        std::mem::forget(self);
        diagnostics
    }
}

impl Drop for SinkGuard {
    fn drop(&mut self) {
        SINKS.with(|sinks| sinks.borrow_mut().pop());
    }
}

/// Records a diagnostic in the innermost `from_node` call in progress. Returns false
/// when there is none (the value is not being deserialized from a spec tree).
pub(crate) fn report(diagnostic: Diagnostic) -> bool {
    SINKS.with(|sinks| match sinks.borrow_mut().last_mut() {
        Some(sink) => {
            sink.push(diagnostic);
            true
        }
        None => false,
    })
}

/// Records diagnostics found by a hand-written `Deserialize` impl and returns the error
/// it should return, which does not repeat them.
pub(crate) fn reported_error<E: de::Error>(diagnostics: Vec<Diagnostic>) -> E {
    let mut unreported = Vec::new();
    for diagnostic in diagnostics {
        if !report(diagnostic.clone()) {
            unreported.push(diagnostic);
        }
    }
    if unreported.is_empty() {
        E::custom(REPORTED)
    } else {
        E::custom(super::diagnostic::render_diagnostics(&unreported).trim_end())
    }
}

pub(crate) fn take_handoff() -> Option<Node> {
    HANDOFF.with(|slot| slot.borrow_mut().take())
}

/// Error type of [`NodeDeserializer`]; carries the location once known.
#[derive(Debug)]
pub struct Error {
    message: String,
    help: Option<String>,
    location: Option<Location>,
    reported: bool,
}

impl Error {
    fn at(location: &Location, message: String, help: Option<String>) -> Self {
        Self { message, help, location: Some(location.clone()), reported: false }
    }

    fn located(mut self, location: &Location) -> Self {
        if self.location.is_none() {
            self.location = Some(location.clone());
        }
        self
    }

    fn into_diagnostic(self, fallback: &Location) -> Diagnostic {
        Diagnostic {
            location: self.location.unwrap_or_else(|| fallback.clone()),
            message: self.message,
            help: self.help,
            key: None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        let message = message.to_string();
        let reported = message == REPORTED;
        Self { message, help: None, location: None, reported }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let (message, help) = suggest::unknown_name("field", field, expected);
        Self { message, help, location: None, reported: false }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let (message, help) = suggest::unknown_name("value", variant, expected);
        Self { message, help, location: None, reported: false }
    }

    fn missing_field(field: &'static str) -> Self {
        Self {
            message: format!("missing required field `{field}`"),
            help: Some(format!("add `{field}:` to this mapping")),
            location: None,
            reported: false,
        }
    }
}

/// Records a problem in the sink, or returns it as an error when there is no sink.
fn record(location: &Location, message: String, help: Option<String>) -> Result<(), Error> {
    let diagnostic = Diagnostic { location: location.clone(), message, help, key: None };
    if report(diagnostic.clone()) {
        Ok(())
    } else {
        Err(Error { message: diagnostic.message, help: diagnostic.help, location: Some(diagnostic.location), reported: false })
    }
}

/// Deserializes from one located node.
pub struct NodeDeserializer<'a> {
    pub node: &'a Node,
}

impl<'a> NodeDeserializer<'a> {
    fn plain(&self) -> Option<&'a str> {
        match &self.node.value {
            NodeValue::Scalar { text, style: ScalarStyle::Plain } => Some(text),
            _ => None,
        }
    }

    fn location(&self) -> &'a Location {
        &self.node.location
    }

    fn wrong_type(&self, expected: &str) -> (String, Option<String>) {
        let found = self.node.describe();
        let help = match &self.node.value {
            NodeValue::Scalar { style: ScalarStyle::Quoted, text } if expected.contains("number") || expected.contains("integer") || expected.contains("bool") => {
                Some(format!("remove the quotes: `{text}`"))
            }
            _ => None,
        };
        (format!("expected {expected}, found {found}"), help)
    }

    /// Reads an integer in `[min, max]`: core-schema int text, or an integral float
    /// such as `1e9`. Records an error and returns 0 otherwise.
    fn integer(&self, min: i128, max: i128, expected: &str) -> Result<i128, Error> {
        let value = self.plain().and_then(|text| match scalar::resolve(text) {
            Resolved::Int(value) => Some(value),
            Resolved::Float(value) if value.is_finite() && value.fract() == 0.0 && value.abs() <= 9.007_199_254_740_992e15 => {
                Some(value as i128)
            }
            _ => None,
        });
        match value {
            Some(value) if (min..=max).contains(&value) => Ok(value),
            Some(value) => {
                record(self.location(), format!("`{value}` is out of range, expected {expected} from {min} to {max}"), None)?;
                Ok(0)
            }
            None => {
                let (message, help) = self.wrong_type(expected);
                record(self.location(), message, help)?;
                Ok(0)
            }
        }
    }

    fn float(&self) -> Result<f64, Error> {
        let value = self.plain().and_then(|text| match scalar::resolve(text) {
            Resolved::Int(value) => Some(value as f64),
            Resolved::Float(value) => Some(value),
            _ => None,
        });
        match value {
            Some(value) => Ok(value),
            None => {
                let (message, help) = self.wrong_type("a number");
                record(self.location(), message, help)?;
                Ok(0.0)
            }
        }
    }

    /// Reads the text for a string field, recording an error for null, collections,
    /// and plain text that reads as a float.
    fn text(&self) -> Result<&'a str, Error> {
        match &self.node.value {
            NodeValue::Scalar { text, style: ScalarStyle::Quoted } => Ok(text),
            NodeValue::Scalar { text, style: ScalarStyle::Plain } if scalar::is_null(text) => {
                record(self.location(), "expected a string, found null".to_string(), Some("write a value, or remove the key".to_string()))?;
                Ok(text)
            }
            NodeValue::Scalar { text, style: ScalarStyle::Plain } if scalar::is_float_not_int(text) => {
                record(
                    self.location(),
                    format!("`{text}` reads as a number, but this field is text"),
                    Some(format!("quote it to keep the text as written: '{text}'")),
                )?;
                Ok(text)
            }
            NodeValue::Scalar { text, .. } => Ok(text),
            _ => {
                let (message, help) = self.wrong_type("a string");
                record(self.location(), message, help)?;
                Ok("")
            }
        }
    }

    fn visit_mapping<'de, V: Visitor<'de>>(&self, entries: &'a [Entry], fields: Option<&'static [&'static str]>, visitor: V) -> Result<V::Value, Error> {
        let access = MappingAccess { entries: entries.iter(), value: None, fields };
        visitor.visit_map(access).map_err(|error: Error| error.located(self.location()))
    }
}

macro_rules! integer_method {
    ($method:ident, $visit:ident, $ty:ty, $expected:expr) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let value = self.integer(<$ty>::MIN as i128, <$ty>::MAX as i128, $expected)?;
            visitor.$visit(value as $ty).map_err(|error: Error| error.located(self.location()))
        }
    };
}

impl<'de, 'a> de::Deserializer<'de> for NodeDeserializer<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let location = self.location();
        let result = match &self.node.value {
            NodeValue::Scalar { text, style: ScalarStyle::Quoted } => visitor.visit_str(text),
            NodeValue::Scalar { text, style: ScalarStyle::Plain } => match scalar::resolve(text) {
                Resolved::Null => visitor.visit_unit(),
                Resolved::Bool(value) => visitor.visit_bool(value),
                Resolved::Int(value) => match (i64::try_from(value), u64::try_from(value)) {
                    (Ok(signed), _) => visitor.visit_i64(signed),
                    (_, Ok(unsigned)) => visitor.visit_u64(unsigned),
                    _ => visitor.visit_f64(value as f64),
                },
                Resolved::Float(value) => visitor.visit_f64(value),
                Resolved::String => visitor.visit_str(text),
            },
            NodeValue::Sequence(items) => visitor.visit_seq(SequenceAccess { items: items.iter() }),
            NodeValue::Mapping(entries) => return self.visit_mapping(entries, None, visitor),
        };
        result.map_err(|error: Error| error.located(location))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let value = match self.plain() {
            Some("true") => true,
            Some("false") => false,
            _ => {
                let (message, _) = self.wrong_type("`true` or `false`");
                record(self.location(), message, Some("a bool field accepts only `true` or `false`".to_string()))?;
                false
            }
        };
        visitor.visit_bool(value).map_err(|error: Error| error.located(self.location()))
    }

    integer_method!(deserialize_i8, visit_i8, i8, "an integer");
    integer_method!(deserialize_i16, visit_i16, i16, "an integer");
    integer_method!(deserialize_i32, visit_i32, i32, "an integer");
    integer_method!(deserialize_i64, visit_i64, i64, "an integer");
    integer_method!(deserialize_u8, visit_u8, u8, "a non-negative integer");
    integer_method!(deserialize_u16, visit_u16, u16, "a non-negative integer");
    integer_method!(deserialize_u32, visit_u32, u32, "a non-negative integer");
    integer_method!(deserialize_u64, visit_u64, u64, "a non-negative integer");

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let value = self.float()?;
        visitor.visit_f32(value as f32).map_err(|error: Error| error.located(self.location()))
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let value = self.float()?;
        visitor.visit_f64(value).map_err(|error: Error| error.located(self.location()))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let text = self.text()?;
        visitor.visit_str(text).map_err(|error: Error| error.located(self.location()))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let location = self.location();
        if self.node.is_null() {
            visitor.visit_none().map_err(|error: Error| error.located(location))
        } else {
            visitor.visit_some(self).map_err(|error: Error| error.located(location))
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if !self.node.is_null() {
            let (message, help) = self.wrong_type("null");
            record(self.location(), message, help)?;
        }
        visitor.visit_unit().map_err(|error: Error| error.located(self.location()))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, Error> {
        if name == NODE_TOKEN {
            HANDOFF.with(|slot| *slot.borrow_mut() = Some(self.node.clone()));
            let result = visitor.visit_unit();
            // Clear the slot in case the visitor did not take it.
            let _ = take_handoff();
            return result.map_err(|error: Error| error.located(self.location()));
        }
        let location = self.location();
        visitor.visit_newtype_struct(self).map_err(|error: Error| error.located(location))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let items: &[Node] = match &self.node.value {
            NodeValue::Sequence(items) => items,
            _ if self.node.is_null() => &[],
            _ => {
                let (message, help) = self.wrong_type("a list");
                record(self.location(), message, help)?;
                &[]
            }
        };
        visitor.visit_seq(SequenceAccess { items: items.iter() }).map_err(|error: Error| error.located(self.location()))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _name: &'static str, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let entries: &[Entry] = match &self.node.value {
            NodeValue::Mapping(entries) => entries,
            _ if self.node.is_null() => &[],
            _ => {
                let (message, help) = self.wrong_type("a mapping");
                record(self.location(), message, help)?;
                &[]
            }
        };
        self.visit_mapping(entries, None, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(self, _name: &'static str, fields: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
        let entries: &[Entry] = match &self.node.value {
            NodeValue::Mapping(entries) => entries,
            // An empty section (`data:` with nothing under it) reads as an empty mapping.
            _ if self.node.is_null() => &[],
            _ => {
                let (message, help) = self.wrong_type("a mapping");
                return Err(Error::at(self.location(), message, help));
            }
        };
        self.visit_mapping(entries, Some(fields), visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(self, _name: &'static str, variants: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
        let location = self.location();
        let result = match &self.node.value {
            NodeValue::Scalar { text, .. } => {
                let variant = if variants.contains(&text.as_str()) {
                    text.as_str()
                } else {
                    let (message, help) = suggest::unknown_name("value", text, variants);
                    record(location, message, help)?;
                    match variants.first() {
                        Some(first) => first,
                        None => return Err(Error { message: String::new(), help: None, location: None, reported: true }),
                    }
                };
                visitor.visit_enum(de::value::StrDeserializer::<Error>::new(variant))
            }
            NodeValue::Mapping(entries) if entries.len() == 1 => {
                let entry = &entries[0];
                if !variants.contains(&entry.key.as_str()) {
                    let (message, help) = suggest::unknown_name("value", &entry.key, variants);
                    return Err(Error::at(&entry.key_location, message, help));
                }
                visitor.visit_enum(EnumAccess { entry })
            }
            _ => {
                let (message, help) = self.wrong_type("one of the listed values");
                return Err(Error::at(location, message, help));
            }
        };
        result.map_err(|error: Error| error.located(location))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

struct SequenceAccess<'a> {
    items: std::slice::Iter<'a, Node>,
}

impl<'de, 'a> de::SeqAccess<'de> for SequenceAccess<'a> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            Some(node) => seed.deserialize(NodeDeserializer { node }).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// Mapping entries as serde map entries. For structs (`fields` set), unknown keys are
/// recorded with a suggestion and skipped, which enforces `deny_unknown_fields` for
/// every struct while reporting all unknown keys at once.
struct MappingAccess<'a> {
    entries: std::slice::Iter<'a, Entry>,
    value: Option<&'a Node>,
    fields: Option<&'static [&'static str]>,
}

impl<'de, 'a> de::MapAccess<'de> for MappingAccess<'a> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        for entry in self.entries.by_ref() {
            if let Some(fields) = self.fields {
                if !fields.contains(&entry.key.as_str()) {
                    let (message, help) = suggest::unknown_name("field", &entry.key, fields);
                    record(&entry.key_location, message, help)?;
                    continue;
                }
            }
            self.value = Some(&entry.value);
            let key = Node::string(entry.key.clone(), entry.key_location.clone());
            return seed.deserialize(NodeDeserializer { node: &key }).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(node) => seed.deserialize(NodeDeserializer { node }),
            None => Err(de::Error::custom("value requested before key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// Externally tagged enum written as a one-entry mapping, `variant: content`.
struct EnumAccess<'a> {
    entry: &'a Entry,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumAccess<'a> {
    type Error = Error;
    type Variant = NodeDeserializer<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant), Error> {
        let variant = seed.deserialize(de::value::StrDeserializer::<Error>::new(&self.entry.key))?;
        Ok((variant, NodeDeserializer { node: &self.entry.value }))
    }
}

impl<'de, 'a> de::VariantAccess<'de> for NodeDeserializer<'a> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        if self.node.is_null() {
            Ok(())
        } else {
            Err(Error::at(self.location(), format!("this value takes no parameters, found {}", self.node.describe()), None))
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_struct(self, "", fields, visitor)
    }
}
