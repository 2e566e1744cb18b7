//! The fast reading of a document: straight into values, without the
//! positions of its nodes, for documents in which nothing needs one.
//!
//! The full reading ([`super::read`]) builds a positioned node tree first,
//! because three things are judged with their place in the text: a float
//! (was it an integer written as one?), a key that is not a string, an integer or a boolean,
//! and two keys that read as one name. This reading gives up on meeting any
//! of those, and on any error at all, and the full reading then reads the
//! document again and reports it: so both readings accept exactly the same
//! documents and give the same values (`tests::both_readings_agree`).

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A value read without positions.
pub(super) struct Plain(pub Value);

impl<'de> Deserialize<'de> for Plain {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PlainVisitor).map(Plain)
    }
}

/// What the full reading would judge with a position: leave it to it.
fn give_up<E: de::Error>() -> E {
    E::custom("needs the full reading")
}

struct PlainVisitor;

impl<'de> Visitor<'de> for PlainVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(PlainVisitor)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Value, E> {
        Err(give_up())
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Value, E> {
        Err(give_up())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(Plain(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(PlainKey(name)) = map.next_key()? {
            let Plain(value) = map.next_value()?;
            match out.entry(name) {
                serde_json::map::Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                serde_json::map::Entry::Occupied(_) => return Err(give_up()),
            }
        }
        Ok(Value::Object(out))
    }
}

/// A mapping key as the name the full reading gives it: a string, an
/// integer or a boolean as its decimal or `true`/`false` text; anything
/// else gives up.
struct PlainKey(String);

impl<'de> Deserialize<'de> for PlainKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_any(PlainVisitor)? {
            Value::String(s) => Ok(PlainKey(s)),
            Value::Number(n) => Ok(PlainKey(n.to_string())),
            Value::Bool(b) => Ok(PlainKey(b.to_string())),
            _ => Err(give_up()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::read::{fast_documents, full_documents};

    fn fast(text: &str) -> Option<Vec<Value>> {
        fast_documents(text)
    }

    fn full(text: &str) -> Option<Vec<Value>> {
        full_documents("t.yaml", text).ok()
    }

    /// Every YAML text the project holds: its own blueprint and overlays,
    /// the examples, the fuzz seeds, and each YAML file of every fixture.
    fn corpus() -> Vec<(String, String)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        for dir in [
            "blueprints",
            "overlays",
            "examples",
            "tests/fixtures",
            "tests/fuzz/seeds",
        ] {
            for entry in walkdir::WalkDir::new(root.join(dir)).sort_by_file_name() {
                let entry = entry.unwrap();
                let path = entry.path();
                let Ok(text) = std::fs::read_to_string(path) else {
                    continue;
                };
                let name = path.display().to_string();
                if name.ends_with(".txtar") {
                    let mut sections = text.split("\n-- ").skip(1);
                    for section in sections.by_ref() {
                        if let Some((file, body)) = section.split_once(" --\n")
                            && (file.ends_with(".yaml") || file.ends_with(".yml"))
                        {
                            out.push((format!("{name}:{file}"), body.to_string()));
                        }
                    }
                } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                    out.push((name, text));
                }
            }
        }
        out
    }

    #[test]
    fn both_readings_agree() {
        let corpus = corpus();
        let mut read_fast = 0;
        for (name, text) in &corpus {
            if let Some(values) = fast(text) {
                read_fast += 1;
                assert_eq!(full(text).as_ref(), Some(&values), "{name}");
            }
        }
        // Most of the corpus is read the fast way, so the comparison covers it.
        assert!(corpus.len() > 500, "{} texts", corpus.len());
        assert!(
            read_fast * 10 > corpus.len() * 8,
            "{read_fast} of {}",
            corpus.len()
        );
    }

    /// The nesting bound is the parser's, so it is the same for both. On
    /// gitopsc's pool, as every parse runs: near the bound the full reading
    /// of an unoptimized build needs more than a test thread's 2 MiB of stack.
    #[test]
    fn both_readings_refuse_the_same_depths() {
        crate::pool::on_pool(refuse_the_same_depths);
    }

    fn refuse_the_same_depths() {
        for depth in 56..72 {
            let flow = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
            let block: String = (0..depth)
                .map(|i| format!("{}a:\n", " ".repeat(i)))
                .collect();
            for text in [flow, block] {
                assert_eq!(
                    fast(&text).is_some(),
                    full(&text).is_some(),
                    "depth {depth}"
                );
            }
        }
        assert!(fast(&format!("{}1{}", "[".repeat(56), "]".repeat(56))).is_some());
        assert!(fast(&format!("{}1{}", "[".repeat(71), "]".repeat(71))).is_none());
    }

    /// So is the bound on nodes.
    #[test]
    fn both_readings_refuse_the_same_sizes() {
        let mut answers = Vec::new();
        for items in [199_990, 199_998, 199_999, 200_000, 200_001, 200_010] {
            let text = format!("[{}]", vec!["1"; items].join(","));
            let fast = fast(&text).is_some();
            assert_eq!(fast, full(&text).is_some(), "{items} items");
            answers.push(fast);
        }
        assert_eq!(answers.first(), Some(&true));
        assert_eq!(answers.last(), Some(&false));
    }

    #[test]
    fn what_needs_a_position_is_left_to_the_full_reading() {
        for text in [
            "a: 1.5\n",
            "a: 1\na: 2\n",
            "a:\n  1: x\n  \"1\": y\n",
            "? [a, b]\n: x\n",
            "~: x\n",
        ] {
            assert_eq!(fast(text), None, "{text:?}");
        }
    }

    #[test]
    fn what_needs_none_is_read_as_the_full_reading_reads_it() {
        for text in [
            "a: yes\nb: on\nc: true\nd: null\ne:\n",
            "x: &a {b: 1}\ny: *a\n",
            "base: &b {p: 1, q: 2}\nm:\n  <<: *b\n  q: 3\n",
            "k: !!str 1\nl: \"2\"\n",
            "true: x\n2: y\n-3: z\n",
            "s: |\n  multi\n  line\nt: >-\n  folded\n  text\n",
            "n: -5\nu: 18446744073709551615\n",
            "q: 'it''s'\nlist: [1, [2, {c: d}], []]\n",
            "---\na: 1\n---\n---\nb: 2\n",
            "a: !!binary aGVsbG8=\n",
        ] {
            let values = fast(text).unwrap_or_else(|| panic!("read fast: {text:?}"));
            assert_eq!(full(text), Some(values), "{text:?}");
        }
    }
}
