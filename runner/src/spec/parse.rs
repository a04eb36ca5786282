//! YAML text to located [`Node`] tree, with anchors, aliases, `<<` merge keys,
//! duplicate-key detection and bounds on size, depth and alias expansion.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle as YamlStyle, Span, Tag};

use super::diagnostic::Diagnostic;
use super::location::{Location, Source};
use super::node::{Entry, Node, NodeValue, ScalarStyle};

/// Largest spec file accepted, in bytes (4 MiB). Real specs are a few KiB.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Deepest nesting of sequences and mappings accepted.
pub const MAX_DEPTH: usize = 64;
/// Most nodes a document may have after aliases are expanded. This bounds the memory
/// and time of "billion laughs" documents whose aliases expand exponentially.
pub const MAX_NODES: usize = 100_000;

/// Reads and parses a spec file.
///
/// # Errors
/// The file is missing, larger than [`MAX_FILE_BYTES`], not UTF-8, or not valid YAML
/// within the bounds of this module.
pub fn parse_file(path: &Path) -> Result<Node, Vec<Diagnostic>> {
    let source = Source::File(Arc::from(path));
    let at_start = source.at(1, 1);
    let metadata = std::fs::metadata(path).map_err(|error| {
        vec![Diagnostic::new(at_start.clone(), format!("cannot read spec file: {error}"))
            .with_help("check the path; relative paths are resolved against the current folder or the extending file")]
    })?;
    if metadata.len() > MAX_FILE_BYTES {
        return Err(vec![Diagnostic::new(
            at_start,
            format!("spec file is {} bytes, more than the limit of {MAX_FILE_BYTES} bytes", metadata.len()),
        )
        .with_help("move large data into a dataset file and reference it by path")]);
    }
    let bytes = std::fs::read(path)
        .map_err(|error| vec![Diagnostic::new(at_start.clone(), format!("cannot read spec file: {error}"))])?;
    let text = String::from_utf8(bytes)
        .map_err(|error| vec![Diagnostic::new(at_start, format!("spec file is not valid UTF-8: {error}"))])?;
    parse_str(&text, &source)
}

/// Parses YAML text from `source`; every node records its position in it.
///
/// # Errors
/// Invalid YAML, more than one document, complex or duplicate keys, unsupported tags,
/// nesting deeper than [`MAX_DEPTH`], more than [`MAX_NODES`] nodes after alias
/// expansion, text longer than [`MAX_FILE_BYTES`]. Duplicate keys are collected; the
/// other errors stop parsing.
pub fn parse_str(text: &str, source: &Source) -> Result<Node, Vec<Diagnostic>> {
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(vec![Diagnostic::new(
            source.at(1, 1),
            format!("YAML text is {} bytes, more than the limit of {MAX_FILE_BYTES} bytes", text.len()),
        )]);
    }
    let mut builder = TreeBuilder::new(source.clone());
    for event in Parser::new_from_str(text) {
        match event {
            Ok((event, span)) => {
                if let Err(fatal) = builder.handle(event, span) {
                    builder.problems.push(fatal);
                    return Err(builder.problems);
                }
            }
            Err(error) => {
                let marker = error.marker();
                builder.problems.push(Diagnostic::new(
                    source.at(marker.line(), marker.col() + 1),
                    format!("invalid YAML: {}", error.info()),
                ));
                return Err(builder.problems);
            }
        }
    }
    if !builder.problems.is_empty() {
        return Err(builder.problems);
    }
    Ok(builder.root.unwrap_or_else(|| Node::plain("", source.at(1, 1))))
}

/// A mapping item before the mapping ends: merges are applied once all explicit keys
/// are known, because explicit keys win over merged ones wherever they are written.
enum MapItem {
    Explicit(Entry),
    Merge(Vec<Vec<Entry>>),
}

struct PendingKey {
    text: String,
    style: ScalarStyle,
    location: Location,
}

enum Frame {
    Sequence { items: Vec<Node>, location: Location, anchor: usize },
    Mapping { items: Vec<MapItem>, key: Option<PendingKey>, first_seen: HashMap<String, Location>, location: Location, anchor: usize },
}

struct TreeBuilder {
    source: Source,
    stack: Vec<Frame>,
    /// Anchored nodes by anchor id, with their node counts.
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    documents: usize,
    root: Option<Node>,
    problems: Vec<Diagnostic>,
}

impl TreeBuilder {
    fn new(source: Source) -> Self {
        Self { source, stack: Vec::new(), anchors: HashMap::new(), nodes: 0, documents: 0, root: None, problems: Vec::new() }
    }

    fn location(&self, span: &Span) -> Location {
        self.source.at(span.start.line(), span.start.col() + 1)
    }

    fn count(&mut self, added: usize, location: &Location) -> Result<(), Diagnostic> {
        self.nodes = self.nodes.saturating_add(added);
        if self.nodes > MAX_NODES {
            return Err(Diagnostic::new(
                location.clone(),
                format!("document has more than {MAX_NODES} nodes once aliases are expanded"),
            )
            .with_help("aliases that refer to aliases multiply in size; write the values out or split the spec"));
        }
        Ok(())
    }

    fn awaiting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Mapping { key: None, .. }))
    }

    fn handle(&mut self, event: Event<'_>, span: Span) -> Result<(), Diagnostic> {
        let location = self.location(&span);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => Ok(()),
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(Diagnostic::new(location, "a spec file holds one YAML document, found a second `---`")
                        .with_help("split the documents into separate files"));
                }
                Ok(())
            }
            Event::Alias(id) => {
                // Count before cloning, so an exponential alias chain is rejected
                // before its copy is made.
                let Some(size) = self.anchors.get(&id).map(|(_, size)| *size) else {
                    return Err(Diagnostic::new(location, "alias refers to an unknown anchor"));
                };
                self.count(size, &location)?;
                let node = self.anchors[&id].0.clone();
                self.complete(node, 0)
            }
            Event::Scalar(text, style, anchor, tag) => {
                let style = scalar_style(style, tag.as_deref(), &location)?;
                self.count(1, &location)?;
                let node = Node { value: NodeValue::Scalar { text: text.into_owned(), style }, location };
                self.complete(node, anchor)
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) if self.awaiting_key() => {
                let _ = (anchor, tag);
                Err(Diagnostic::new(location, "a mapping key must be a scalar, found a list or mapping"))
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "seq", &location)?;
                self.open(Frame::Sequence { items: Vec::new(), location: location.clone(), anchor }, &location)
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "map", &location)?;
                let frame =
                    Frame::Mapping { items: Vec::new(), key: None, first_seen: HashMap::new(), location: location.clone(), anchor };
                self.open(frame, &location)
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Sequence { items, location, anchor }) => {
                    self.complete(Node { value: NodeValue::Sequence(items), location }, anchor)
                }
                _ => Err(Diagnostic::new(location, "invalid YAML: unbalanced end of list")),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Mapping { items, location, anchor, .. }) => {
                    self.complete(Node::mapping(apply_merges(items), location), anchor)
                }
                _ => Err(Diagnostic::new(location, "invalid YAML: unbalanced end of mapping")),
            },
        }
    }

    fn open(&mut self, frame: Frame, location: &Location) -> Result<(), Diagnostic> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Diagnostic::new(location.clone(), format!("nesting is deeper than {MAX_DEPTH} levels")));
        }
        self.count(1, location)?;
        self.stack.push(frame);
        Ok(())
    }

    /// Attaches a finished node to its parent: as a sequence item, a mapping key, a
    /// mapping value, or the document root.
    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        if anchor != 0 {
            let size = node.count();
            self.anchors.insert(anchor, (node.clone(), size));
        }
        let Some(frame) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match frame {
            Frame::Sequence { items, .. } => items.push(node),
            Frame::Mapping { items, key, first_seen, .. } => match key.take() {
                None => {
                    let NodeValue::Scalar { text, style } = node.value else {
                        return Err(Diagnostic::new(node.location, "a mapping key must be a scalar, found a list or mapping"));
                    };
                    *key = Some(PendingKey { text, style, location: node.location });
                }
                Some(pending) if pending.text == "<<" && pending.style == ScalarStyle::Plain => {
                    record_key(first_seen, &pending, &mut self.problems);
                    items.push(MapItem::Merge(merge_sources(node)?));
                }
                Some(pending) => {
                    record_key(first_seen, &pending, &mut self.problems);
                    items.push(MapItem::Explicit(Entry { key: pending.text, key_location: pending.location, value: node }));
                }
            },
        }
        Ok(())
    }
}

fn record_key(first_seen: &mut HashMap<String, Location>, key: &PendingKey, problems: &mut Vec<Diagnostic>) {
    if let Some(first) = first_seen.get(&key.text) {
        problems.push(
            Diagnostic::new(key.location.clone(), format!("duplicate key `{}`, first written at {first}", key.text))
                .with_help("remove one of the two entries"),
        );
        return;
    }
    first_seen.insert(key.text.clone(), key.location.clone());
}

/// Collects the mappings that a `<<` value merges: one mapping, or a list of mappings
/// (earlier ones win).
fn merge_sources(node: Node) -> Result<Vec<Vec<Entry>>, Diagnostic> {
    let invalid = |location: Location| {
        Diagnostic::new(location, "merge key `<<` expects a mapping or a list of mappings")
            .with_help("write `<<: *anchor` where the anchor names a mapping")
    };
    match node.value {
        NodeValue::Mapping(entries) => Ok(vec![entries]),
        NodeValue::Sequence(items) => items
            .into_iter()
            .map(|item| match item.value {
                NodeValue::Mapping(entries) => Ok(entries),
                _ => Err(invalid(item.location)),
            })
            .collect(),
        NodeValue::Scalar { .. } => Err(invalid(node.location)),
    }
}

/// Builds the final entry list: explicit keys in place, merged keys at the position of
/// their `<<`, skipping keys written explicitly anywhere in the mapping or merged
/// earlier.
fn apply_merges(items: Vec<MapItem>) -> Vec<Entry> {
    let explicit: std::collections::HashSet<String> = items
        .iter()
        .filter_map(|item| match item {
            MapItem::Explicit(entry) => Some(entry.key.clone()),
            MapItem::Merge(_) => None,
        })
        .collect();
    let mut merged: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut entries = Vec::new();
    for item in items {
        match item {
            MapItem::Explicit(entry) => entries.push(entry),
            MapItem::Merge(sources) => {
                for entry in sources.into_iter().flatten() {
                    if !explicit.contains(&entry.key) && merged.insert(entry.key.clone()) {
                        entries.push(entry);
                    }
                }
            }
        }
    }
    entries
}

fn scalar_style(style: YamlStyle, tag: Option<&Tag>, location: &Location) -> Result<ScalarStyle, Diagnostic> {
    if let Some(tag) = tag {
        if tag.is_yaml_core_schema() && tag.suffix == "str" {
            return Ok(ScalarStyle::Quoted);
        }
        return Err(unsupported_tag(tag, location));
    }
    Ok(match style {
        YamlStyle::Plain => ScalarStyle::Plain,
        _ => ScalarStyle::Quoted,
    })
}

fn check_collection_tag(tag: Option<&Tag>, expected: &str, location: &Location) -> Result<(), Diagnostic> {
    match tag {
        None => Ok(()),
        Some(tag) if tag.is_yaml_core_schema() && tag.suffix == expected => Ok(()),
        Some(tag) => Err(unsupported_tag(tag, location)),
    }
}

fn unsupported_tag(tag: &Tag, location: &Location) -> Diagnostic {
    Diagnostic::new(location.clone(), format!("unsupported YAML tag `{tag}`"))
        .with_help("remove the tag; values are typed by the field they are assigned to, and `!!str` or quotes force text")
}
