//! Typed decoding of merged values, with the JSON pointer of every failure.
//!
//! serde's derive reports mistakes through `de::Error` constructors
//! (`unknown_field`, `invalid_type`, `missing_field`, ...). Deserializing
//! through this small `Deserializer` over `&Value` keeps those as structured
//! kinds and attaches the pointer of the node that failed, so the caller can
//! point at the right line of whichever file set that value.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::Value;

use crate::pointer;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// A key the type does not have; the pointer names the key itself.
    UnknownField {
        field: String,
        expected: Vec<String>,
    },
    MissingField(String),
    InvalidType,
    InvalidValue,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub kind: DecodeErrorKind,
    pub message: String,
    /// Set by the innermost node that saw the error.
    pub pointer: Option<String>,
    /// What serde expected there, in words, when it said.
    pub expected: Option<String>,
}

impl DecodeError {
    fn new(kind: DecodeErrorKind, message: String) -> DecodeError {
        DecodeError {
            kind,
            message,
            pointer: None,
            expected: None,
        }
    }

    fn expecting(mut self, expected: String) -> DecodeError {
        self.expected = Some(expected);
        self
    }

    fn at(mut self, pointer: &str) -> DecodeError {
        if self.pointer.is_none() {
            self.pointer = Some(pointer.to_string());
        }
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DecodeError::new(DecodeErrorKind::Other, msg.to_string())
    }
    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        let exp = in_words(&exp.to_string());
        DecodeError::new(
            DecodeErrorKind::InvalidType,
            format!("expected {exp}, found {}", describe(unexp)),
        )
        .expecting(exp)
    }
    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        let exp = in_words(&exp.to_string());
        DecodeError::new(
            DecodeErrorKind::InvalidValue,
            format!("{} is not {exp}", describe(unexp)),
        )
        .expecting(exp)
    }
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DecodeError::new(
            DecodeErrorKind::InvalidValue,
            format!("unknown value `{variant}`"),
        )
        .expecting(format!("one of {}", quoted_list(expected)))
    }
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DecodeError::new(
            DecodeErrorKind::UnknownField {
                field: field.to_string(),
                expected: expected.iter().map(|s| s.to_string()).collect(),
            },
            format!("unknown field `{field}`"),
        )
    }
    fn missing_field(field: &'static str) -> Self {
        DecodeError::new(
            DecodeErrorKind::MissingField(field.to_string()),
            format!("missing field `{field}`"),
        )
    }
}

/// serde names Rust types (`u32`, `a sequence`); people read YAML.
fn in_words(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more".to_string(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "a sequence" => "a list".to_string(),
        "a boolean" => "`true` or `false`".to_string(),
        other if other.starts_with("struct ") => "a mapping".to_string(),
        other if other.starts_with("a map") => "a mapping".to_string(),
        other => other.to_string(),
    }
}

fn describe(unexp: de::Unexpected) -> String {
    match unexp {
        de::Unexpected::Map => "a map".into(),
        de::Unexpected::Seq => "a list".into(),
        de::Unexpected::Unit => "nothing (null)".into(),
        de::Unexpected::Str(s) => format!("string `{s}`"),
        other => other.to_string(),
    }
}

pub fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decodes `value` into `T`, reporting the pointer of the first failure.
pub fn decode<T: de::DeserializeOwned>(value: &Value, at: &str) -> Result<T, DecodeError> {
    T::deserialize(ValueDe {
        value,
        pointer: at.to_string(),
    })
}

struct ValueDe<'a> {
    value: &'a Value,
    pointer: String,
}

impl<'de> Deserializer<'de> for ValueDe<'_> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        let result = match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => visitor.visit_seq(SeqDe {
                items: items.iter().enumerate(),
                pointer: &self.pointer,
            }),
            Value::Object(map) => visitor.visit_map(MapDe {
                entries: map.iter(),
                pending: None,
                pointer: &self.pointer,
            }),
        };
        result.map_err(|e| e.at(&self.pointer))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.value {
            Value::String(s) => visitor
                .visit_enum(s.as_str().into_deserializer())
                .map_err(|e: DecodeError| e.at(&self.pointer)),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let pointer = self.pointer.clone();
        visitor
            .visit_newtype_struct(self)
            .map_err(|e| e.at(&pointer))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

struct SeqDe<'a, I> {
    items: I,
    pointer: &'a str,
}

impl<'de, 'a, I: Iterator<Item = (usize, &'a Value)>> SeqAccess<'de> for SeqDe<'_, I> {
    type Error = DecodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeError> {
        match self.items.next() {
            Some((index, value)) => {
                let pointer = pointer::push(self.pointer, &index.to_string());
                seed.deserialize(ValueDe { value, pointer }).map(Some)
            }
            None => Ok(None),
        }
    }
}

struct MapDe<'a, I> {
    entries: I,
    pending: Option<(String, &'a Value)>,
    pointer: &'a str,
}

impl<'de, 'a, I: Iterator<Item = (&'a String, &'a Value)>> MapAccess<'de> for MapDe<'a, I> {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        match self.entries.next() {
            Some((key, value)) => {
                let pointer = pointer::push(self.pointer, key);
                let decoded = seed
                    .deserialize(key.as_str().into_deserializer())
                    .map_err(|e: DecodeError| e.at(&pointer))?;
                self.pending = Some((pointer, value));
                Ok(Some(decoded))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DecodeError> {
        let (pointer, value) = self
            .pending
            .take()
            .ok_or_else(|| <DecodeError as de::Error>::custom("value requested before its key"))?;
        seed.deserialize(ValueDe { value, pointer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct App {
        replicas: u32,
        #[serde(default)]
        image_tag: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        apps: BTreeMap<String, App>,
    }

    #[test]
    fn unknown_fields_point_at_the_key() {
        let err = decode::<Doc>(
            &json!({"apps": {"api": {"replicas": 1, "replicsa": 2}}}),
            "",
        )
        .unwrap_err();
        assert_eq!(err.pointer.as_deref(), Some("/apps/api/replicsa"));
        assert!(
            matches!(err.kind, DecodeErrorKind::UnknownField { ref field, .. } if field == "replicsa")
        );
    }

    #[test]
    fn wrong_types_point_at_the_value() {
        let err = decode::<Doc>(&json!({"apps": {"api": {"replicas": "two"}}}), "").unwrap_err();
        assert_eq!(err.pointer.as_deref(), Some("/apps/api/replicas"));
        assert_eq!(err.kind, DecodeErrorKind::InvalidType);
        let err = decode::<Doc>(&json!({"apps": {"api": {"replicas": -1}}}), "").unwrap_err();
        assert_eq!(err.pointer.as_deref(), Some("/apps/api/replicas"));
    }

    #[test]
    fn missing_fields_point_at_the_parent() {
        let err = decode::<Doc>(&json!({"apps": {"api": {}}}), "").unwrap_err();
        assert_eq!(err.pointer.as_deref(), Some("/apps/api"));
        assert_eq!(err.kind, DecodeErrorKind::MissingField("replicas".into()));
    }

    #[test]
    fn valid_values_decode() {
        let doc = decode::<Doc>(
            &json!({"apps": {"api": {"replicas": 3, "imageTag": "1.0"}}}),
            "",
        )
        .unwrap();
        assert_eq!(doc.apps["api"].replicas, 3);
        assert_eq!(doc.apps["api"].image_tag.as_deref(), Some("1.0"));
    }
}
