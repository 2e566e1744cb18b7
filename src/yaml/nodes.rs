//! The full reading of a document: the positioned nodes serde-saphyr hands
//! over, turned into values (with, when asked, the position of every node
//! by JSON pointer), judging what needs a position on the way: floats that
//! were integers, keys that are no string, integer or boolean, two keys that read as one.

use std::collections::HashMap;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::{Location, Spanned};

use crate::error::{Error, ErrorKind, Origin, Result};
use crate::pointer;

use super::diagnose::integer_written_as_float;

/// Where a value (and, for map entries, its key) sits in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Place {
    pub(super) line: u32,
    pub(super) column: u32,
    pub(super) width: u32,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Spans {
    pub(super) key: Option<Place>,
    pub(super) value: Place,
}

/// A YAML node as serde-saphyr hands it over, with positions at every level.
pub(super) enum Node {
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

pub(super) fn convert(
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
