//! Git, through libgit2: the only module that uses git2.
//!
//! Reads a project's inputs and committed output straight from git objects
//! (for `diff --base`), and commits and pushes rendered trees (`publish`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use git2::{ObjectType, Repository, TreeWalkMode, TreeWalkResult};

pub mod publish;
pub mod target;

use crate::error::{Error, ErrorKind, Result};
use crate::sources::{BLUEPRINTS_DIR, OVERLAYS_DIR, SourceFile, Sources};
use crate::yaml::MAX_FILE_BYTES;

pub fn git_error(context: &str, err: &git2::Error) -> Error {
    Error::plain(ErrorKind::Git, format!("{context}: {}", err.message()))
}

/// The repository holding `path` and `path` relative to its work tree.
pub struct Checkout {
    pub repo: Repository,
    /// The project directory relative to the work tree, `/`-separated ("" at the top).
    pub prefix: String,
}

/// Finds the repository around `root`, if any. Like git itself, the search
/// upwards stops at the directories in `GIT_CEILING_DIRECTORIES`.
pub fn discover(root: &Path) -> Option<Checkout> {
    let ceilings: Vec<std::path::PathBuf> = std::env::var_os("GIT_CEILING_DIRECTORIES")
        .map(|dirs| std::env::split_paths(&dirs).collect())
        .unwrap_or_default();
    let repo = Repository::open_ext(root, git2::RepositoryOpenFlags::empty(), &ceilings).ok()?;
    let workdir = repo.workdir()?.canonicalize().ok()?;
    let root = root.canonicalize().ok()?;
    let rel = root.strip_prefix(&workdir).ok()?;
    let prefix = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    Some(Checkout { repo, prefix })
}

impl Checkout {
    fn join(&self, dir: &str) -> String {
        if self.prefix.is_empty() {
            dir.to_string()
        } else {
            format!("{}/{dir}", self.prefix)
        }
    }

    /// Files under `dir` (project-relative) at revision `rev`, by project-relative path.
    fn files_at(&self, rev: &str, dir: &str) -> Result<BTreeMap<String, SourceFile>> {
        let object = self.repo.revparse_single(rev).map_err(|e| {
            self.shallow_hint(git_error(&format!("cannot resolve revision `{rev}`"), &e))
        })?;
        let tree = object
            .peel_to_tree()
            .map_err(|e| self.shallow_hint(git_error(&format!("`{rev}` has no tree"), &e)))?;
        let mut out = BTreeMap::new();
        let full = self.join(dir);
        let Ok(entry) = tree.get_path(Path::new(&full)) else {
            return Ok(out);
        };
        let Ok(subtree) = self.repo.find_tree(entry.id()) else {
            return Ok(out);
        };
        let mut failure = None;
        subtree
            .walk(TreeWalkMode::PreOrder, |parent, entry| {
                if entry.kind() != Some(ObjectType::Blob) {
                    return TreeWalkResult::Ok;
                }
                let name = entry.name().unwrap_or_default();
                if name.starts_with('.') || parent.split('/').any(|p| p.starts_with('.')) {
                    return TreeWalkResult::Ok;
                }
                let path = format!("{dir}/{parent}{name}");
                let file = if entry.filemode() == 0o120000 {
                    SourceFile::Symlink
                } else {
                    match self.repo.find_blob(entry.id()) {
                        Ok(blob) if blob.size() > MAX_FILE_BYTES => {
                            SourceFile::TooLarge(blob.size() as u64)
                        }
                        Ok(blob) => SourceFile::Regular(Arc::from(blob.content())),
                        Err(e) => {
                            failure =
                                Some(git_error(&format!("cannot read `{path}` at `{rev}`"), &e));
                            return TreeWalkResult::Abort;
                        }
                    }
                };
                out.insert(path, file);
                TreeWalkResult::Ok
            })
            .map_err(|e| git_error("cannot walk the tree", &e))?;
        match failure {
            Some(err) => Err(err),
            None => Ok(out),
        }
    }

    /// The project's inputs at revision `rev`.
    pub fn sources_at(&self, rev: &str) -> Result<Sources> {
        let mut sources = Sources::new();
        for dir in [BLUEPRINTS_DIR, OVERLAYS_DIR] {
            for (path, file) in self.files_at(rev, dir)? {
                sources.insert(path, file);
            }
        }
        Ok(sources)
    }

    /// The committed `rendered/` at `rev`, by path relative to `rendered/`.
    pub fn rendered_at(&self, rev: &str, rendered_dir: &str) -> Result<BTreeMap<String, Vec<u8>>> {
        let prefix = format!("{rendered_dir}/");
        Ok(self
            .files_at(rev, rendered_dir)?
            .into_iter()
            .filter_map(|(path, file)| match file {
                SourceFile::Regular(bytes) => {
                    Some((path[prefix.len()..].to_string(), bytes.to_vec()))
                }
                _ => None,
            })
            .collect())
    }

    /// In a shallow clone (CI's default checkout) a revision that is not
    /// found was most likely never fetched: say how to fetch it.
    fn shallow_hint(&self, err: Error) -> Error {
        if !self.repo.is_shallow() {
            return err;
        }
        err.with_help(
            "this is a shallow clone, which lacks older commits and other branches: \
             fetch the history (`actions/checkout` with `fetch-depth: 0`, or `git fetch --unshallow`)",
        )
    }

    /// True when the repository has a commit at HEAD.
    pub fn has_head(&self) -> bool {
        self.repo.head().ok().and_then(|h| h.target()).is_some()
    }
}
