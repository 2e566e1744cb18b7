//! JSON pointers (RFC 6901): the one way gitopsc names a place inside a value.

/// Escapes one reference token: `~` as `~0`, `/` as `~1`.
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
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
    format!("{pointer}/{}", escape(token))
}

/// The pointer one level up; the root is its own parent.
pub fn parent(pointer: &str) -> &str {
    match pointer.rfind('/') {
        Some(idx) => &pointer[..idx],
        None => "",
    }
}

/// A JSON pointer grown and cut back in place as a walk over a value
/// descends and returns: one buffer for the whole walk. A fresh string per
/// node (`push`) cost a fifth of a render's time in the final checks, which
/// visit every node of every object and need the pointer only to report.
#[derive(Debug, Clone, Default)]
pub struct PointerBuf(String);

impl PointerBuf {
    /// A walk that starts at `pointer`.
    pub fn at(pointer: &str) -> PointerBuf {
        PointerBuf(pointer.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Runs `f` with the pointer extended by the key `token`, then cuts it back.
    pub fn with<R>(&mut self, token: &str, f: impl FnOnce(&mut PointerBuf) -> R) -> R {
        let len = self.0.len();
        self.0.push('/');
        push_escaped(&mut self.0, token);
        let result = f(self);
        self.0.truncate(len);
        result
    }

    /// Runs `f` with the pointer extended by the array index `index`, then cuts it back.
    pub fn with_index<R>(&mut self, index: usize, f: impl FnOnce(&mut PointerBuf) -> R) -> R {
        use std::fmt::Write;
        let len = self.0.len();
        let _ = write!(self.0, "/{index}");
        let result = f(self);
        self.0.truncate(len);
        result
    }
}

/// Builds a pointer from unescaped tokens.
pub fn from_tokens<'a>(tokens: impl IntoIterator<Item = &'a str>) -> String {
    tokens.into_iter().fold(String::new(), |p, t| push(&p, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_escaped_and_parents_found() {
        let p = from_tokens(["apps", "a/b", "x~y"]);
        assert_eq!(p, "/apps/a~1b/x~0y");
        assert_eq!(parent(&p), "/apps/a~1b");
        assert_eq!(parent("/apps"), "");
        assert_eq!(parent(""), "");
    }

    #[test]
    fn a_buffer_spells_what_push_spells_and_cuts_back() {
        let mut at = PointerBuf::at("/spec");
        let inner = at.with("a/b", |at| {
            at.with_index(3, |at| at.with("x~y", |at| at.as_str().to_string()))
        });
        assert_eq!(inner, push(&push(&push("/spec", "a/b"), "3"), "x~y"));
        assert_eq!(at.as_str(), "/spec");
    }
}
