//! JSON pointers (RFC 6901): the one way gitopsc names a place inside a value.

/// Escapes one reference token: `~` as `~0`, `/` as `~1`.
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
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
}
