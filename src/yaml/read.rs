//! Parsing project files into values that remember where they came from.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::{Budget, Location, Spanned};

use crate::error::{Error, ErrorKind, Origin, Result};
use crate::pointer::{self, Lookup};

use super::diagnose::{integer_written_as_float, syntax_error};
use super::pieces::{self, Limits};

/// Files larger than this are refused before parsing: no blueprint is this big,
/// and refusing early keeps time and memory bounded on hostile input.
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;

/// Where a value (and, for map entries, its key) sits in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    line: u32,
    column: u32,
    width: u32,
}

#[derive(Debug, Clone, Copy)]
struct Spans {
    key: Option<Place>,
    value: Place,
}

/// A parsed project file: its value, and (worked out only when an error needs
/// them) the positions of its nodes.
#[derive(Debug, Clone)]
pub struct Document {
    /// Project-relative path, `/`-separated.
    pub file: String,
    pub text: Arc<str>,
    pub value: Value,
    /// Positions by JSON pointer; read from the text again on first use, so
    /// a big blueprint without mistakes never pays for them.
    spans: OnceLock<HashMap<String, Spans>>,
}

impl Document {
    /// The origin of the node at `pointer`, or of its nearest ancestor in this file.
    /// `key` prefers the position of the map key over the value (for unknown fields).
    pub fn origin(&self, pointer: &str, key: bool) -> Option<Origin> {
        let index = self.spans();
        let mut current = pointer.to_string();
        loop {
            if let Some(spans) = index.get(&current) {
                // An ancestor stands in for a missing node: its key line names it best.
                let key = key || current != pointer;
                let place = if key {
                    spans.key.unwrap_or(spans.value)
                } else {
                    spans.value
                };
                return Some(Origin::in_text(
                    &self.file,
                    &self.text,
                    place.line,
                    place.column,
                    place.width,
                ));
            }
            if current.is_empty() {
                return None;
            }
            current = pointer::parent(&current).to_string();
        }
    }

    /// True when this file itself sets the node at `pointer` (not an ancestor).
    pub fn has(&self, pointer: &str) -> bool {
        self.value.at(pointer).is_some()
    }

    fn spans(&self) -> &HashMap<String, Spans> {
        self.spans.get_or_init(|| {
            let mut spans = HashMap::new();
            if let Ok(node) =
                serde_saphyr::from_str_with_options::<Spanned<Node>>(&self.text, options())
            {
                let _ = convert(
                    &self.file,
                    &self.text,
                    node,
                    String::new(),
                    None,
                    Some(&mut spans),
                );
            }
            spans
        })
    }

    /// The origin of the whole file, for errors about the file as a whole.
    pub fn start(&self) -> Origin {
        self.origin("", false)
            .unwrap_or_else(|| Origin::file_start(&self.file))
    }
}

/// A YAML node as serde-saphyr hands it over, with positions at every level.
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<Node>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Node, E> {
        Err(E::custom("binary values are not supported"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Node::Map(entries))
    }
}

/// The parser's limits on one file: nesting and nodes.
const LIMITS: Limits = Limits {
    max_depth: 64,
    max_nodes: 200_000,
};

fn options() -> serde_saphyr::Options {
    options_nested(LIMITS.max_depth)
}

fn options_nested(max_depth: usize) -> serde_saphyr::Options {
    let mut budget = Budget::default();
    budget.max_depth = max_depth;
    budget.max_nodes = LIMITS.max_nodes;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_documents = 256;
    serde_saphyr::options! {
        budget: Some(budget),
        strict_booleans: true,
        legacy_octal_numbers: false,
        with_snippet: false,
    }
}

fn check_size_and_encoding(file: &str, bytes: &[u8]) -> Result<Arc<str>> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Error::at(
            ErrorKind::Syntax,
            Origin::file_start(file),
            format!(
                "file is {} bytes; gitopsc reads project files of at most {} bytes",
                bytes.len(),
                MAX_FILE_BYTES
            ),
        )
        .with_help("split the file, or move large data into a config file referenced by path"));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let before = &bytes[..e.valid_up_to()];
        let line = before.iter().filter(|b| **b == b'\n').count() as u32 + 1;
        let column = before.iter().rev().take_while(|b| **b != b'\n').count() as u32 + 1;
        let text = String::from_utf8_lossy(bytes);
        Error::at(
            ErrorKind::Syntax,
            Origin::in_text(file, &text, line, column, 1),
            "file is not valid UTF-8",
        )
        .with_help("project files are UTF-8 text; is this a binary file?")
    })?;
    if text.contains('\0') {
        let offset = text.find('\0').unwrap_or(0);
        let (line, column) = line_and_column(text, offset);
        return Err(Error::at(
            ErrorKind::Syntax,
            Origin::in_text(file, text, line, column, 1),
            "file contains a NUL byte",
        )
        .with_help("project files are text; is this a binary file?"));
    }
    Ok(Arc::from(text))
}

fn line_and_column(text: &str, byte_offset: usize) -> (u32, u32) {
    let before = &text[..byte_offset.min(text.len())];
    let line = before.matches('\n').count() as u32 + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() as u32 + 1;
    (line, column)
}

/// True for a file of nothing but blank lines and comments.
pub fn is_blank(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| {
        text.lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    })
}

/// Parses one YAML document. An empty file is an error: every project file says something.
pub fn parse_document(file: &str, bytes: &[u8]) -> Result<Document> {
    let text = check_size_and_encoding(file, bytes)?;
    if is_blank(text.as_bytes()) {
        return Err(
            Error::at(ErrorKind::Syntax, Origin::file_start(file), "file is empty")
                .with_help("write the expected content, or delete the file"),
        );
    }
    let value = match pieces::parse(&text, pieces::MIN_BYTES, &LIMITS, |piece, depth| {
        parse_value(file, piece, depth).ok()
    }) {
        Some(value) => value,
        None => parse_value(file, &text, LIMITS.max_depth)?,
    };
    Ok(Document {
        file: file.to_string(),
        text,
        value,
        spans: OnceLock::new(),
    })
}

/// One document's value, nested at most `max_depth` deep.
pub(super) fn parse_value(file: &str, text: &str, max_depth: usize) -> Result<Value> {
    let node: Spanned<Node> = serde_saphyr::from_str_with_options(text, options_nested(max_depth))
        .map_err(|e| syntax_error(file, text, &e))?;
    convert(file, text, node, String::new(), None, None)
}

/// Parses a stream of YAML documents (template output); empty documents are skipped.
pub fn parse_documents(file: &str, text: &str) -> Result<Vec<Value>> {
    let checked = check_size_and_encoding(file, text.as_bytes())?;
    let nodes: Vec<Option<Spanned<Node>>> =
        serde_saphyr::from_multiple_with_options(&checked, options())
            .map_err(|e| syntax_error(file, &checked, &e))?;
    let mut values = Vec::new();
    for node in nodes.into_iter().flatten() {
        let value = convert(file, &checked, node, String::new(), None, None)?;
        if !value.is_null() {
            values.push(value);
        }
    }
    Ok(values)
}

pub(super) fn narrow(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn place_of(loc: &Location, width: u32) -> Place {
    Place {
        line: narrow(loc.line()),
        column: narrow(loc.column()),
        width: width.max(1),
    }
}

fn scalar_width(node: &Node) -> u32 {
    match node {
        Node::Str(s) => s.lines().next().unwrap_or("").chars().count() as u32,
        Node::Int(i) => i.to_string().len() as u32,
        Node::UInt(u) => u.to_string().len() as u32,
        Node::Float(f) => f.to_string().len() as u32,
        Node::Bool(b) => b.to_string().len() as u32,
        _ => 1,
    }
}

fn convert(
    file: &str,
    text: &str,
    node: Spanned<Node>,
    pointer: String,
    key: Option<Place>,
    mut spans: Option<&mut HashMap<String, Spans>>,
) -> Result<Value> {
    let place = place_of(&node.referenced, scalar_width(&node.value));
    let tracking = spans.is_some();
    if let Some(map) = spans.as_deref_mut() {
        map.insert(pointer.clone(), Spans { key, value: place });
    }
    let child = |token: &str| {
        if tracking {
            pointer::push(&pointer, token)
        } else {
            String::new()
        }
    };
    let at = |message: String| {
        Error::at(
            ErrorKind::InvalidType,
            Origin::in_text(file, text, place.line, place.column, place.width),
            message,
        )
    };
    Ok(match node.value {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(b),
        Node::Int(i) => Value::Number(i.into()),
        Node::UInt(u) => Value::Number(u.into()),
        Node::Float(f) => {
            if let Some((problem, help)) = integer_written_as_float(text, place.line, place.column)
            {
                return Err(at(problem).with_help(help));
            }
            Value::Number(
                Number::from_f64(f)
                    .ok_or_else(|| at("infinite and NaN numbers are not supported".into()))?,
            )
        }
        Node::Str(s) => Value::String(s),
        Node::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let at = child(&index.to_string());
                out.push(convert(file, text, item, at, None, spans.as_deref_mut())?);
            }
            Value::Array(out)
        }
        Node::Map(entries) => {
            let mut out = Map::with_capacity(entries.len());
            for (k, v) in entries {
                let key_place = place_of(&k.referenced, scalar_width(&k.value));
                let name = match k.value {
                    Node::Str(s) => s,
                    Node::Int(i) => i.to_string(),
                    Node::UInt(u) => u.to_string(),
                    Node::Bool(b) => b.to_string(),
                    Node::Float(f) => f.to_string(),
                    Node::Null => {
                        return Err(Error::at(
                            ErrorKind::InvalidType,
                            Origin::in_text(file, text, key_place.line, key_place.column, 1),
                            "a mapping key is empty (null)",
                        )
                        .with_help("give the key a name"));
                    }
                    Node::Seq(_) | Node::Map(_) => {
                        return Err(Error::at(
                            ErrorKind::InvalidType,
                            Origin::in_text(file, text, key_place.line, key_place.column, 1),
                            "a mapping key is a collection",
                        )
                        .with_help("keys must be plain strings"));
                    }
                };
                let at = child(&name);
                let value = convert(file, text, v, at, Some(key_place), spans.as_deref_mut())?;
                // `1` and `"1"` are two YAML keys but one name: keeping the
                // last would drop the other's value without a word.
                match out.entry(name) {
                    serde_json::map::Entry::Vacant(slot) => {
                        slot.insert(value);
                    }
                    serde_json::map::Entry::Occupied(slot) => {
                        return Err(Error::at(
                            ErrorKind::Syntax,
                            Origin::in_text(file, text, key_place.line, key_place.column, key_place.width),
                            format!("two keys of this mapping read as `{}`", slot.key()),
                        )
                        .with_help("write each key once: a number and the same digits quoted are one key here"));
                    }
                }
            }
            Value::Object(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_and_values_are_indexed() {
        let doc = parse_document("b.yaml", b"apps:\n  api:\n    replicas: 2\n").unwrap();
        let value = doc.origin("/apps/api/replicas", false).unwrap();
        assert_eq!((value.line, value.column), (3, 15));
        let key = doc.origin("/apps/api/replicas", true).unwrap();
        assert_eq!((key.line, key.column), (3, 5));
        let missing = doc.origin("/apps/api/image", false).unwrap();
        assert_eq!(missing.line, 2, "falls back to the nearest ancestor");
    }

    #[test]
    fn yaml11_booleans_stay_strings() {
        let doc = parse_document("b.yaml", b"a: yes\nb: on\nc: true\n").unwrap();
        assert_eq!(doc.value["a"], Value::String("yes".into()));
        assert_eq!(doc.value["b"], Value::String("on".into()));
        assert_eq!(doc.value["c"], Value::Bool(true));
    }

    #[test]
    fn duplicate_keys_are_located_errors() {
        let err = parse_document("b.yaml", b"a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Syntax);
        assert_eq!(err.origin.clone().unwrap().line, 2);
    }

    #[test]
    fn keys_that_read_as_one_name_are_located_errors() {
        let err = parse_document("b.yaml", b"a:\n  1: x\n  \"1\": y\n").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Syntax);
        assert_eq!(err.origin.clone().unwrap().line, 3);
        assert!(err.message.contains("`1`"), "{}", err.message);
    }

    #[test]
    fn empty_and_binary_files_are_errors() {
        assert!(parse_document("b.yaml", b"").is_err());
        assert!(parse_document("b.yaml", b"# only a comment\n").is_err());
        assert!(parse_document("b.yaml", &[0xff, 0xfe, 0x00]).is_err());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let err = parse_document("bomb.yaml", text.as_bytes()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Syntax);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflow() {
        let text = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_document("deep.yaml", text.as_bytes()).is_err());
        let mut block = String::new();
        for i in 0..10_000 {
            block.push_str(&" ".repeat(i));
            block.push_str("a:\n");
        }
        assert!(parse_document("deep.yaml", block.as_bytes()).is_err());
    }
}
