//! Parsing project files into values that remember where they came from.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use serde_saphyr::{Budget, Spanned};

use crate::error::{Error, ErrorKind, Origin, Result};
use crate::pointer::{self, Lookup};

use super::diagnose::syntax_error;
use super::nodes::{Node, Spans, convert};
use super::pieces::{self, Limits};
use super::plain::Plain;

/// Files larger than this are refused before parsing: no blueprint is this big,
/// and refusing early keeps time and memory bounded on hostile input.
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;

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

/// One document's value, nested at most `max_depth` deep: read straight
/// into values where nothing in it needs a position ([`super::plain`]),
/// else through the positioned nodes.
pub(super) fn parse_value(file: &str, text: &str, max_depth: usize) -> Result<Value> {
    if let Ok(Plain(value)) = serde_saphyr::from_str_with_options(text, options_nested(max_depth)) {
        return Ok(value);
    }
    let node: Spanned<Node> = serde_saphyr::from_str_with_options(text, options_nested(max_depth))
        .map_err(|e| syntax_error(file, text, &e))?;
    convert(file, text, node, String::new(), None, None)
}

/// Parses a stream of YAML documents (template output); empty documents are skipped.
pub fn parse_documents(file: &str, text: &str) -> Result<Vec<Value>> {
    let checked = check_size_and_encoding(file, text.as_bytes())?;
    let values = match fast_documents(&checked) {
        Some(values) => values,
        None => full_documents(file, &checked)?,
    };
    Ok(values
        .into_iter()
        .filter(|value| !value.is_null())
        .collect())
}

/// Every document of a stream read straight into values ([`super::plain`]);
/// `None` where that reading gives up.
pub(super) fn fast_documents(text: &str) -> Option<Vec<Value>> {
    let docs = serde_saphyr::from_multiple_with_options::<Option<Plain>>(text, options()).ok()?;
    Some(
        docs.into_iter()
            .flatten()
            .map(|Plain(value)| value)
            .collect(),
    )
}

/// Every document of a stream through the positioned nodes, as a located error where one fails.
pub(super) fn full_documents(file: &str, text: &str) -> Result<Vec<Value>> {
    let nodes: Vec<Option<Spanned<Node>>> =
        serde_saphyr::from_multiple_with_options(text, options())
            .map_err(|e| syntax_error(file, text, &e))?;
    nodes
        .into_iter()
        .flatten()
        .map(|node| convert(file, text, node, String::new(), None, None))
        .collect()
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
