//! From a JSON pointer in a merged value back to the file, line and column
//! that set it: the leaf overlay first, then its ancestors, then the blueprint.

use std::sync::Arc;

use crate::error::{Error, ErrorKind, Origin};
use crate::pointer;
use crate::yaml::Document;

#[derive(Debug, Clone)]
pub struct Locator {
    /// Highest precedence first; the blueprint is last.
    docs: Vec<Arc<Document>>,
    /// `(written at, read from)` pointer prefixes: a value no file writes at
    /// its own pointer came from a default written elsewhere (`defaults.apps`).
    aliases: Vec<(String, String)>,
}

impl Locator {
    pub fn new(docs: Vec<Arc<Document>>) -> Locator {
        Locator {
            docs,
            aliases: Vec::new(),
        }
    }

    /// This locator, also finding values taken from a default where the
    /// default is written; most specific prefix first.
    pub fn with_aliases(mut self, aliases: Vec<(String, String)>) -> Locator {
        self.aliases = aliases;
        self
    }

    /// Where a value no file writes at `pointer` was read from, if an alias says.
    fn aliased(&self, pointer: &str) -> Option<String> {
        if self.docs.iter().any(|d| d.has(pointer)) {
            return None;
        }
        self.aliases.iter().find_map(|(from, to)| {
            let rest = pointer.strip_prefix(from.as_str())?;
            if !(rest.is_empty() || rest.starts_with('/')) {
                return None;
            }
            let target = format!("{to}{rest}");
            self.docs.iter().any(|d| d.has(&target)).then_some(target)
        })
    }

    /// True when some file writes `pointer`.
    pub fn has(&self, pointer: &str) -> bool {
        self.docs.iter().any(|d| d.has(pointer)) || self.aliased(pointer).is_some()
    }

    /// Where the value at `pointer` was set (or its nearest located ancestor).
    pub fn value(&self, pointer: &str) -> Origin {
        self.find(pointer, false)
    }

    /// Where the key of the entry at `pointer` was written.
    pub fn key(&self, pointer: &str) -> Origin {
        self.find(pointer, true)
    }

    /// An error of `kind` at the value at `pointer`.
    pub fn error(&self, kind: ErrorKind, pointer: &str, message: impl Into<String>) -> Error {
        Error::at(kind, self.value(pointer), message)
    }

    fn find(&self, pointer: &str, key: bool) -> Origin {
        if let Some(target) = self.aliased(pointer) {
            return self.find(&target, key);
        }
        if let Some(doc) = self.docs.iter().find(|d| d.has(pointer))
            && let Some(origin) = doc.origin(pointer, key)
        {
            return origin;
        }
        // A node nobody wrote: point at the key of its nearest ancestor, in the
        // file that first defines it (the blueprint before any overlay).
        let mut current = pointer;
        loop {
            if let Some(doc) = self.docs.iter().rev().find(|d| d.has(current))
                && let Some(origin) = doc.origin(current, true)
            {
                return origin;
            }
            if current.is_empty() {
                break;
            }
            current = pointer::parent(current);
        }
        self.docs
            .last()
            .map(|d| d.start())
            .unwrap_or_else(|| Origin::file_start("blueprints/system.yaml"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_document;

    #[test]
    fn overlays_win_over_the_blueprint() {
        let base = Arc::new(
            parse_document(
                "blueprints/system.yaml",
                b"apps:\n  api:\n    replicas: 1\n    image: x\n",
            )
            .unwrap(),
        );
        let prod = Arc::new(
            parse_document("overlays/prod.yaml", b"apps:\n  api:\n    replicas: 3\n").unwrap(),
        );
        let locator = Locator::new(vec![prod, base]);
        let replicas = locator.value("/apps/api/replicas");
        assert_eq!(
            (replicas.file.as_str(), replicas.line),
            ("overlays/prod.yaml", 3)
        );
        let image = locator.value("/apps/api/image");
        assert_eq!(
            (image.file.as_str(), image.line),
            ("blueprints/system.yaml", 4)
        );
        let missing = locator.value("/apps/api/ports/http");
        assert_eq!(
            (missing.file.as_str(), missing.line),
            ("blueprints/system.yaml", 2),
            "the ancestor's key, where it is first defined"
        );
    }
}
