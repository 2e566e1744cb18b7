//! The project on disk: the only module that reads inputs from, and writes
//! output to, the project's directories.
//!
//! Inputs are read once into [`Sources`]. Output is written atomically: the
//! new `rendered/` is built in a staging directory beside it and exchanged
//! with the old one in one `renameat2(RENAME_EXCHANGE)`, so a render killed at
//! any moment leaves `rendered/` fully old or fully new. Files in `rendered/`
//! that gitopsc does not own (per the index) are carried over untouched.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use walkdir::WalkDir;

use crate::error::{Error, ErrorKind, Result};
use crate::sources::{BLUEPRINTS_DIR, OVERLAYS_DIR, SourceFile, Sources};
use crate::tree::{INDEX_FILE, Index, RenderedTree};
use crate::yaml::MAX_FILE_BYTES;

mod dirs;
mod env_cache;
mod stat_cache;
mod swap;
mod write;

pub use env_cache::{DiskCache, NO_CACHE_VAR, compile_incremental, env_cache};
pub use stat_cache::{Provenance, StatRecord, stat_cache_record, stat_record};
pub use swap::recover_interrupted;
pub use write::{WriteReport, WriterLock, write_rendered};
use write::{link_in_the_way, normalize};

/// Default output directory under the project root.
pub const RENDERED_DIR: &str = "rendered";

/// `gitopsc/` in the user's cache directory (`$XDG_CACHE_HOME`, else
/// `~/.cache`): what gitopsc keeps between runs, never in the project.
pub fn user_cache_dir() -> Option<PathBuf> {
    if caches_off() {
        return None;
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("gitopsc"))
}

/// `GITOPSC_NO_CACHE` set (to anything but `0`): nothing is kept between runs.
fn caches_off() -> bool {
    std::env::var_os(env_cache::NO_CACHE_VAR).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Reads every file under `blueprints/` and `overlays/` (hidden files skipped).
pub fn read_sources(root: &Path) -> Result<Sources> {
    let mut sources = Sources::new();
    for dir in [BLUEPRINTS_DIR, OVERLAYS_DIR] {
        let base = root.join(dir);
        if !base.exists() {
            continue;
        }
        let walker = WalkDir::new(&base)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in walker {
            let entry = entry.map_err(|e| walk_error(&base, e))?;
            let file_type = entry.file_type();
            if file_type.is_dir() {
                continue;
            }
            let rel = relative(root, entry.path());
            let file = if file_type.is_symlink() {
                SourceFile::Symlink
            } else if file_type.is_file() {
                let (file, links) = read_input(entry.path())?;
                if links > 1 {
                    sources.mark_hard_linked(rel.clone(), links);
                }
                file
            } else {
                return Err(not_a_regular_file(entry.path()));
            };
            sources.insert(rel, file);
        }
    }
    Ok(sources)
}

/// Reads one input without ever blocking or reading without bound: opened
/// non-blocking and without following links, judged by `fstat` on the open
/// file (so a file swapped for a FIFO or device after the walk is still
/// refused), and read at most one byte past the size limit. Also returns the
/// file's hard link count, from the same `fstat`.
fn read_input(path: &Path) -> Result<(SourceFile, u64)> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| Error::io(path, &e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, &e))?;
    if !meta.file_type().is_file() {
        return Err(not_a_regular_file(path));
    }
    let links = std::os::unix::fs::MetadataExt::nlink(&meta);
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Ok((SourceFile::TooLarge(meta.len()), links));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, &e))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Ok((SourceFile::TooLarge(bytes.len() as u64), links));
    }
    Ok((SourceFile::Regular(Arc::from(bytes)), links))
}

fn not_a_regular_file(path: &Path) -> Error {
    Error::io(
        path,
        &std::io::Error::other("not a regular file (a FIFO, device or socket)"),
    )
    .with_help("inputs under blueprints/ and overlays/ are read only from regular files: move it out of the project")
}

/// A failed directory walk under `dir`, as an I/O error naming the path.
fn walk_error(dir: &Path, err: walkdir::Error) -> Error {
    let path = err.path().unwrap_or(dir).to_path_buf();
    let io = err
        .into_io_error()
        .unwrap_or_else(|| std::io::Error::other("walk failed"));
    Error::io(&path, &io)
}

/// The blueprint file's bytes, if it is a regular file of a readable size
/// (for shell completion, which must not fail or follow links).
pub fn read_blueprint(root: &Path) -> Option<Vec<u8>> {
    let path = root.join(crate::sources::BLUEPRINT_FILE);
    let metadata = fs::symlink_metadata(&path).ok()?;
    if !metadata.is_file() || metadata.len() > MAX_FILE_BYTES as u64 {
        return None;
    }
    fs::read(path).ok()
}

/// `root`-relative path with `/` separators.
fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every regular file under `rendered` (the index and kustomizations included),
/// by `/`-separated path relative to it; empty when it does not exist.
pub fn read_rendered(rendered: &Path) -> Result<std::collections::BTreeMap<String, Vec<u8>>> {
    let mut out = std::collections::BTreeMap::new();
    if !rendered.is_dir() {
        return Ok(out);
    }
    for entry in WalkDir::new(rendered)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| walk_error(rendered, e))?;
        if entry.file_type().is_file() {
            let bytes = fs::read(entry.path()).map_err(|e| Error::io(entry.path(), &e))?;
            out.insert(relative(rendered, entry.path()), bytes);
        }
    }
    Ok(out)
}

/// The index in `rendered`, if there is a readable one.
pub fn read_index(rendered: &Path) -> Option<Index> {
    let text = fs::read_to_string(rendered.join(INDEX_FILE)).ok()?;
    Index::parse(&text)
}

/// Resolves `--root` (default: the current directory) to an existing directory.
/// An output directory given with `--out` must be a directory (or not exist
/// yet) and must not be the project, an ancestor of it, or its inputs:
/// rendering swaps the whole directory, which would replace them.
pub fn check_output_dir(root: &Path, out: &Path) -> Result<()> {
    let usage = |message: String| {
        Error::plain(ErrorKind::Usage, message)
            .with_help("choose an empty directory, or one gitopsc rendered before")
    };
    if let Ok(meta) = fs::symlink_metadata(out)
        && !meta.is_dir()
    {
        return Err(if meta.file_type().is_symlink() {
            link_in_the_way(out)
        } else {
            usage(format!(
                "`--out {}` is an existing file, not a directory",
                out.display()
            ))
        });
    }
    let out_abs = absolute_best_effort(out);
    let root_abs = absolute_best_effort(root);
    if root_abs.starts_with(&out_abs) {
        return Err(usage(format!(
            "`--out {}` is the project directory or one of its parents",
            out.display()
        )));
    }
    for input in [BLUEPRINTS_DIR, OVERLAYS_DIR] {
        if out_abs.starts_with(root_abs.join(input)) {
            return Err(usage(format!(
                "`--out {}` is inside the project's `{input}/`",
                out.display()
            )));
        }
    }
    Ok(())
}

/// `path` made absolute, with links resolved as far as it exists.
fn absolute_best_effort(path: &Path) -> PathBuf {
    let path = normalize(path);
    let path = if path.is_absolute() {
        path
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut existing = path.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut out = fs::canonicalize(existing).unwrap_or_else(|_| existing.to_path_buf());
    for name in rest.into_iter().rev() {
        out.push(name);
    }
    out
}

/// A fresh directory inside the target directory (two levels above the test
/// binary in `deps/`), so unit tests write nothing outside it.
#[cfg(test)]
pub(crate) fn scratch_dir(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().join("tmp");
    let dir = target.join(format!("gitopsc-ws-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}
