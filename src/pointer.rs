//! JSON pointers (RFC 6901): the one way gitopsc names a place inside a value.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// Escapes one reference token: `~` as `~0`, `/` as `~1`.
pub fn escape(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    push_escaped(&mut out, token);
    out
}

/// Appends `token` escaped, without an allocation for the common token that
/// needs no escaping.
fn push_escaped(pointer: &mut String, token: &str) {
    // Bytes, not chars: this runs for every node a walk visits.
    if !token.bytes().any(|b| b == b'~' || b == b'/') {
        pointer.push_str(token);
        return;
    }
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// `pointer` extended by one token.
pub fn push(pointer: &str, token: &str) -> String {
    // One allocation: the loader makes a pointer for every node it reads.
    let mut out = String::with_capacity(pointer.len() + 1 + token.len());
    out.push_str(pointer);
    out.push('/');
    push_escaped(&mut out, token);
    out
}

/// The pointer one level up; the root is its own parent.
pub fn parent(pointer: &str) -> &str {
    match pointer.rfind('/') {
        Some(idx) => &pointer[..idx],
        None => "",
    }
}

/// One step of a [`Path`]: a key of an object or an index of an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    Key(&'a str),
    Index(usize),
}

/// Where a walk over a value is, as the tokens that lead there, spelled as a
/// pointer only when asked ([`Path::pointer`]). The walks visit every node of
/// every object and report a place almost never: pushing a borrowed token
/// costs a fraction of escaping it into a string (or a fresh string per node,
/// which once cost a fifth of a render's time in the final checks).
#[derive(Debug, Clone, Default)]
pub struct Path<'a>(Vec<Token<'a>>);

impl<'a> Path<'a> {
    /// A walk that starts below `tokens`.
    pub fn from_tokens(tokens: &[Token<'a>]) -> Path<'a> {
        Path(tokens.to_vec())
    }

    pub fn tokens(&self) -> &[Token<'a>] {
        &self.0
    }

    /// Runs `f` with the path extended by `token`, then cuts it back.
    pub fn with<R>(&mut self, token: Token<'a>, f: impl FnOnce(&mut Path<'a>) -> R) -> R {
        self.0.push(token);
        let result = f(self);
        self.0.pop();
        result
    }

    /// The path as an RFC 6901 pointer.
    pub fn pointer(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        for token in &self.0 {
            match token {
                Token::Key(k) => {
                    out.push('/');
                    push_escaped(&mut out, k);
                }
                Token::Index(i) => {
                    let _ = write!(out, "/{i}");
                }
            }
        }
        out
    }

    /// Whether the path's first tokens are the keys `keys`.
    pub fn starts_with_keys(&self, keys: &[&str]) -> bool {
        self.0.len() >= keys.len()
            && self
                .0
                .iter()
                .zip(keys)
                .all(|(t, k)| matches!(t, Token::Key(key) if key == k))
    }
}

/// Builds a pointer from unescaped tokens.
pub fn from_tokens<'a>(tokens: impl IntoIterator<Item = &'a str>) -> String {
    tokens.into_iter().fold(String::new(), |p, t| push(&p, t))
}

/// The value at a pointer, answered as `serde_json`'s `Value::pointer` and
/// `pointer_mut` answer, without the two strings those allocate per token:
/// the final checks look up a handful of pointers in every object.
pub trait Lookup {
    fn at(&self, pointer: &str) -> Option<&Value>;
    fn at_mut(&mut self, pointer: &str) -> Option<&mut Value>;
}

impl Lookup for Value {
    fn at(&self, pointer: &str) -> Option<&Value> {
        tokens(pointer)?.try_fold(self, |here, token| match here {
            Value::Object(map) => small_get(map, &token),
            Value::Array(items) => items.get(index(&token)?),
            _ => None,
        })
    }

    fn at_mut(&mut self, pointer: &str) -> Option<&mut Value> {
        tokens(pointer)?.try_fold(self, |here, token| match here {
            Value::Object(map) => small_get_mut(map, &token),
            Value::Array(items) => items.get_mut(index(&token)?),
            _ => None,
        })
    }
}

/// Below this many entries a key is found by comparing it with each:
/// the maps of a Kubernetes object hold a handful of keys, and comparing
/// them costs less than hashing the key, which every lookup would do.
const SCAN_BELOW: usize = 9;

/// `map[key]`, by a scan of a small map's entries.
pub fn small_get<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    if map.len() >= SCAN_BELOW {
        return map.get(key);
    }
    map.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
}

fn small_get_mut<'v>(map: &'v mut Map<String, Value>, key: &str) -> Option<&'v mut Value> {
    if map.len() >= SCAN_BELOW {
        return map.get_mut(key);
    }
    map.iter_mut()
        .find(|(k, _)| k.as_str() == key)
        .map(|(_, v)| v)
}

/// The unescaped reference tokens of `pointer`; `None` when it is not one.
fn tokens(pointer: &str) -> Option<Tokens<'_>> {
    match pointer.strip_prefix('/') {
        Some(rest) => Some(Tokens { rest: Some(rest) }),
        None if pointer.is_empty() => Some(Tokens { rest: None }),
        None => None,
    }
}

/// A pointer's tokens, cut at each `/` found byte by byte: tokens are a few
/// bytes, shorter than a `str` split's search takes to set up.
struct Tokens<'p> {
    rest: Option<&'p str>,
}

impl<'p> Iterator for Tokens<'p> {
    type Item = Cow<'p, str>;

    fn next(&mut self) -> Option<Cow<'p, str>> {
        let rest = self.rest?;
        // `/` is ASCII, so both sides of it are `str` boundaries.
        let token = match rest.bytes().position(|b| b == b'/') {
            Some(slash) => {
                self.rest = Some(&rest[slash + 1..]);
                &rest[..slash]
            }
            None => {
                self.rest = None;
                rest
            }
        };
        Some(unescape(token))
    }
}

fn unescape(token: &str) -> Cow<'_, str> {
    // `~1` first, then `~0`: `~01` is the key `~1`, not `/`.
    if token.as_bytes().contains(&b'~') {
        Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(token)
    }
}

/// An array index as RFC 6901 spells one: digits, no sign, no leading zero.
fn index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pointer over keys that need escaping, empty keys, and indices
    /// spelled in every way RFC 6901 refuses, answered as serde_json answers.
    #[test]
    #[allow(clippy::disallowed_methods)]
    fn lookups_answer_as_serde_json_does() {
        let mut value = serde_json::json!({
            "a/b": {"~": [10, {"": "empty", "01": "zero-one"}, 30]},
            "~1": "tilde-one",
            "": {"": "nested-empty"},
            "list": [[1, 2], {"k": "v"}],
            "big": {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "i/j": 9, "k": {"l": 10}},
        });
        let pointers = [
            "",
            "/",
            "//",
            "/a~1b",
            "/a~1b/~0",
            "/a~1b/~0/0",
            "/a~1b/~0/1/",
            "/a~1b/~0/1/01",
            "/a~1b/~0/01",
            "/a~1b/~0/+1",
            "/a~1b/~0/-1",
            "/a~1b/~0/3",
            "/a~1b/~0/1e0",
            "/~01",
            "/~1",
            "/~0",
            "/list/0/1",
            "/list/1/k",
            "/list/1/k/x",
            "a",
            "/list/00",
            "/list/18446744073709551616",
            "/a~2b",
        ];
        for p in pointers {
            assert_eq!(value.at(p), value.pointer(p), "{p}");
            let expected = value.pointer(p).cloned();
            assert_eq!(value.at_mut(p).map(|v| v.clone()), expected, "{p}");
        }
        *value.at_mut("/list/1/k").unwrap() = Value::from("changed");
        assert_eq!(value["list"][1]["k"], "changed");
        *value.at_mut("/big/k/l").unwrap() = Value::from(11);
        assert_eq!(value["big"]["k"]["l"], 11);
        assert!(value["big"].as_object().unwrap().len() >= SCAN_BELOW);
    }

    #[test]
    fn tokens_are_escaped_and_parents_found() {
        let p = from_tokens(["apps", "a/b", "x~y"]);
        assert_eq!(p, "/apps/a~1b/x~0y");
        assert_eq!(escape("a~/b~1"), "a~0~1b~01");
        assert_eq!(push("", "~1"), "/~01");
        assert_eq!(parent(&p), "/apps/a~1b");
        assert_eq!(parent("/apps"), "");
        assert_eq!(parent(""), "");
    }

    #[test]
    fn a_path_spells_what_push_spells_and_cuts_back() {
        let mut path = Path::from_tokens(&[Token::Key("spec")]);
        let inner = path.with(Token::Key("a/b"), |p| {
            p.with(Token::Index(3), |p| {
                p.with(Token::Key("x~y"), |p| p.pointer())
            })
        });
        assert_eq!(inner, push(&push(&push("/spec", "a/b"), "3"), "x~y"));
        assert_eq!(path.pointer(), "/spec");
        assert!(path.starts_with_keys(&["spec"]));
        assert!(!path.starts_with_keys(&["spec", "a"]));
        assert_eq!(Path::default().pointer(), "");
    }
}
