//! The inputs of a render, as one in-memory snapshot.
//!
//! Every file under `blueprints/` and `overlays/` is read once, by the workspace
//! (from disk) or by the git module (from a commit), into [`Sources`]. All
//! later stages look files up here, so they do no I/O, and `check`, `diff
//! --base` and `render` see inputs the same way whatever they came from.

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// Directory of the blueprint, its templates and config files.
pub const BLUEPRINTS_DIR: &str = "blueprints";
/// Directory of per-environment overlays.
pub const OVERLAYS_DIR: &str = "overlays";
/// The blueprint file itself.
pub const BLUEPRINT_FILE: &str = "blueprints/system.yaml";

/// One input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceFile {
    /// A regular file's bytes.
    Regular(Arc<[u8]>),
    /// A symbolic link: never followed, so no input can come from outside the project.
    Symlink,
    /// A file too large to be an input; only its size is kept, so memory stays bounded.
    TooLarge(u64),
}

/// All input files of a project, by project-relative `/`-separated path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    files: BTreeMap<String, SourceFile>,
    /// Regular files with more than one hard link, and their link count: such
    /// a file may be a file from elsewhere on the machine (the loader decides).
    hard_links: BTreeMap<String, u64>,
}

impl Sources {
    pub fn new() -> Sources {
        Sources::default()
    }

    pub fn insert(&mut self, path: impl Into<String>, file: SourceFile) {
        self.files.insert(path.into(), file);
    }

    pub fn insert_text(&mut self, path: impl Into<String>, text: &str) {
        self.insert(path, SourceFile::Regular(Arc::from(text.as_bytes())));
    }

    /// Records that the regular file at `path` has `links` hard links (more than one).
    pub fn mark_hard_linked(&mut self, path: impl Into<String>, links: u64) {
        self.hard_links.insert(path.into(), links);
    }

    /// The first hard-linked file in path order, with its link count.
    pub fn first_hard_linked(&self) -> Option<(&str, u64)> {
        self.hard_links.iter().next().map(|(p, n)| (p.as_str(), *n))
    }

    /// The same files with the same contents, however they are linked on disk.
    pub fn same_files(&self, other: &Sources) -> bool {
        self.files == other.files
    }

    pub fn get(&self, path: &str) -> Option<&SourceFile> {
        self.files.get(path)
    }

    /// Files whose path starts with `prefix`, in path order.
    pub fn under<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a SourceFile)> + 'a {
        self.files
            .range(prefix.to_string()..)
            .take_while(move |(p, _)| p.starts_with(prefix))
            .map(|(p, f)| (p.as_str(), f))
    }

    /// SHA-256 over every path and content, with the tool version: if this
    /// matches the index in `rendered/`, the output cannot have changed.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"gitopsc ");
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        hasher.update(b"\0");
        for (path, file) in &self.files {
            hash_file(&mut hasher, path, file);
        }
        self.hash_links(&mut hasher);
        hex(&hasher.finalize())
    }

    /// Every file, in path order.
    pub fn files(&self) -> impl Iterator<Item = (&str, &SourceFile)> {
        self.files.iter().map(|(p, f)| (p.as_str(), f))
    }

    /// Link counts decide whether a render is refused, so they count too.
    pub fn hash_links(&self, hasher: &mut Sha256) {
        for (path, links) in &self.hard_links {
            hasher.update(b"h");
            hasher.update(path.as_bytes());
            hasher.update(b"\0");
            hasher.update(links.to_le_bytes());
        }
    }
}

/// Feeds one file's path and content to `hasher`, unambiguously (lengths
/// and kinds are hashed, so no two different files hash alike).
pub fn hash_file(hasher: &mut Sha256, path: &str, file: &SourceFile) {
    hasher.update(path.as_bytes());
    hasher.update(b"\0");
    match file {
        SourceFile::Regular(bytes) => {
            hasher.update(b"f");
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        }
        SourceFile::Symlink => hasher.update(b"l"),
        SourceFile::TooLarge(size) => {
            hasher.update(b"L");
            hasher.update(size.to_le_bytes());
        }
    }
}

/// Lowercase hex of a digest (sha2 0.11 digests do not format with `{:x}`).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// SHA-256 of `bytes` in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_changes_with_content_and_path() {
        let mut a = Sources::new();
        a.insert_text("blueprints/system.yaml", "x");
        let mut b = a.clone();
        assert_eq!(a.digest(), b.digest());
        b.insert_text("blueprints/system.yaml", "y");
        assert_ne!(a.digest(), b.digest());
        let mut c = Sources::new();
        c.insert_text("blueprints/other.yaml", "x");
        assert_ne!(a.digest(), c.digest());
    }

    #[test]
    fn hard_links_count_in_the_digest_but_not_in_the_files() {
        let mut a = Sources::new();
        a.insert_text("blueprints/system.yaml", "x");
        let mut linked = a.clone();
        linked.mark_hard_linked("blueprints/system.yaml", 2);
        assert_ne!(a.digest(), linked.digest());
        assert!(a.same_files(&linked));
        assert_eq!(
            linked.first_hard_linked(),
            Some(("blueprints/system.yaml", 2))
        );
    }

    #[test]
    fn under_lists_a_prefix_in_order() {
        let mut s = Sources::new();
        s.insert_text("overlays/prod.yaml", "");
        s.insert_text("blueprints/b.yaml", "");
        s.insert_text("blueprints/a.yaml", "");
        let listed: Vec<_> = s.under("blueprints/").map(|(p, _)| p).collect();
        assert_eq!(listed, ["blueprints/a.yaml", "blueprints/b.yaml"]);
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
