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

/// Default output directory under the project root.
pub const RENDERED_DIR: &str = "rendered";

const STAGING_MARK: &str = ".gitopsc-staging-";
const OLD_MARK: &str = ".gitopsc-old-";

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

/// What a write changed, for the summary line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteReport {
    pub written: usize,
    pub unchanged: usize,
    pub removed: usize,
}

/// Writes `tree` into `rendered`. With `replace_all`, environments that the
/// index lists but the tree lacks are removed too (they left the blueprint).
pub fn write_rendered(
    rendered: &Path,
    tree: &RenderedTree,
    replace_all: bool,
) -> Result<WriteReport> {
    let rendered = &normalize(rendered);
    refuse_links(rendered)?;
    let _lock = WriterLock::acquire(rendered)?;
    recover_interrupted(rendered)?;
    let previous = read_index(rendered);
    let index = tree.index(previous.as_ref(), replace_all);
    let dropped = tree.dropped(previous.as_ref(), replace_all);
    let mut report = WriteReport::default();
    // Only files the old index lists with the same hash can be unchanged; those
    // are read back (in parallel) to be sure nobody edited them by hand.
    let previous_hashes: std::collections::BTreeMap<&str, &str> = previous
        .as_ref()
        .map(|p| {
            p.environments
                .values()
                .flat_map(|e| e.files.iter().map(|(f, h)| (f.as_str(), h.as_str())))
                .collect()
        })
        .unwrap_or_default();
    let candidates: Vec<(&String, &String)> = index
        .environments
        .iter()
        .filter(|(env, _)| tree.envs.contains_key(*env))
        .flat_map(|(_, e)| e.files.iter())
        .filter(|(f, h)| previous_hashes.get(f.as_str()) == Some(&h.as_str()))
        .collect();
    let unchanged: BTreeSet<&str> = candidates
        .par_iter()
        .filter(|(path, hash)| {
            fs::read(rendered.join(path)).is_ok_and(|b| crate::sources::sha256_hex(&b) == **hash)
        })
        .map(|(path, _)| path.as_str())
        .collect();
    let total: usize = tree.envs.values().map(|e| e.files.len()).sum();
    report.unchanged = unchanged.len();
    report.written = total - unchanged.len();
    report.removed = dropped.iter().filter(|f| rendered.join(f).exists()).count();
    let index_text = index.to_json();
    let index_same = fs::read_to_string(rendered.join(INDEX_FILE)).is_ok_and(|t| t == index_text);
    if report.written == 0 && report.removed == 0 && index_same {
        return Ok(report);
    }
    let staging = sibling(rendered, STAGING_MARK)?;
    let result = build_staging(rendered, &staging, tree, &dropped, &index_text, &unchanged)
        .and_then(|()| swap_in(&staging, rendered));
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result.map(|()| report)
}

/// gitopsc never writes through a symbolic link: not at `rendered` itself,
/// and (checked while staging) not at any directory an output file goes into.
fn refuse_links(rendered: &Path) -> Result<()> {
    let is_link = fs::symlink_metadata(rendered).is_ok_and(|m| m.file_type().is_symlink());
    if is_link {
        return Err(link_in_the_way(rendered));
    }
    Ok(())
}

fn link_in_the_way(path: &Path) -> Error {
    Error::io(
        path,
        &std::io::Error::other("is a symbolic link, and gitopsc never writes through links"),
    )
    .with_help("remove the link (or render with `--out` to a real directory); the link's target is left untouched")
}

/// One writer at a time per output tree: an advisory `flock` on the
/// directory that holds it, released when the guard drops (or the process
/// dies). A second render waits, and says so, instead of interleaving its
/// swap with the first and losing one of the two updates.
pub struct WriterLock {
    _dir: fs::File,
}

impl WriterLock {
    pub fn acquire(output: &Path) -> Result<WriterLock> {
        let parent = parent_dir(output);
        fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, &e))?;
        let dir = fs::File::open(&parent).map_err(|e| Error::io(&parent, &e))?;
        use std::os::fd::AsRawFd;
        let fd = dir.as_raw_fd();
        // SAFETY: `fd` is an open descriptor owned by `dir` for this whole call.
        if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            eprintln!(
                "waiting for another gitopsc to finish writing `{}`",
                output.display()
            );
            // SAFETY: as above.
            if unsafe { libc::flock(fd, libc::LOCK_EX) } != 0 {
                return Err(Error::io(&parent, &std::io::Error::last_os_error()));
            }
        }
        Ok(WriterLock { _dir: dir })
    }
}

/// `path` without `.` components and trailing separators, so it has a file name to swap.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
    } else {
        out
    }
}

/// A fresh path beside `rendered` for staging or retiring a tree.
fn sibling(rendered: &Path, mark: &str) -> Result<PathBuf> {
    let parent = parent_dir(rendered);
    fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, &e))?;
    let name = rendered
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| RENDERED_DIR.into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Ok(parent.join(format!(".{name}{mark}{}-{nanos}", std::process::id())))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn build_staging(
    rendered: &Path,
    staging: &Path,
    tree: &RenderedTree,
    dropped: &BTreeSet<String>,
    index_text: &str,
    unchanged: &BTreeSet<&str>,
) -> Result<()> {
    fs::create_dir_all(staging).map_err(|e| Error::io(staging, &e))?;
    let replaced: BTreeSet<&str> = tree
        .envs
        .values()
        .flat_map(|e| e.files.keys().map(String::as_str))
        .collect();
    // Every directory an output file goes into: a link there would be written through.
    let output_dirs: BTreeSet<&str> = replaced
        .iter()
        .flat_map(|path| {
            path.match_indices('/')
                .map(move |(i, _)| &path[..i])
                .chain(std::iter::once(*path))
        })
        .collect();
    let mut old_dirs = Vec::new();
    if rendered.is_dir() {
        for entry in WalkDir::new(rendered)
            .follow_links(false)
            .sort_by_file_name()
        {
            let entry = entry.map_err(|e| walk_error(rendered, e))?;
            if entry.depth() == 0 {
                continue;
            }
            let rel = relative(rendered, entry.path());
            if entry.file_type().is_dir() {
                old_dirs.push((rel, entry.path().to_path_buf()));
                continue;
            }
            if entry.file_type().is_symlink() && output_dirs.contains(rel.as_str()) {
                return Err(link_in_the_way(entry.path()));
            }
            if rel == INDEX_FILE || dropped.contains(&rel) || replaced.contains(rel.as_str()) {
                continue;
            }
            let target = staging.join(&rel);
            ensure_parent(&target)?;
            if entry.file_type().is_symlink() {
                let link = fs::read_link(entry.path()).map_err(|e| Error::io(entry.path(), &e))?;
                std::os::unix::fs::symlink(&link, &target).map_err(|e| Error::io(&target, &e))?;
            } else if fs::hard_link(entry.path(), &target).is_err() {
                fs::copy(entry.path(), &target).map_err(|e| Error::io(entry.path(), &e))?;
                keep_mode_and_owner(entry.path(), &target)?;
            }
        }
    }
    let files: Vec<(&String, &String)> = tree.files().collect();
    let dirs: BTreeSet<&Path> = files
        .iter()
        .filter_map(|(p, _)| Path::new(p.as_str()).parent())
        .collect();
    for dir in dirs {
        let target = staging.join(dir);
        fs::create_dir_all(&target).map_err(|e| Error::io(&target, &e))?;
    }
    // Unchanged files are linked from the old tree, new ones written; in parallel.
    let written: Vec<Result<()>> = files
        .par_iter()
        .map(|(path, text)| {
            let target = staging.join(path);
            if unchanged.contains(path.as_str())
                && fs::hard_link(rendered.join(path), &target).is_ok()
            {
                return Ok(());
            }
            fs::write(&target, text).map_err(|e| Error::io(&target, &e))
        })
        .collect();
    written.into_iter().collect::<Result<Vec<()>>>()?;
    // Directories that still hold something keep the mode and owner they had.
    for (rel, old) in old_dirs {
        let target = staging.join(rel);
        if target.is_dir() {
            keep_mode_and_owner(&old, &target)?;
        }
    }
    let index_path = staging.join(INDEX_FILE);
    fs::write(&index_path, index_text).map_err(|e| Error::io(&index_path, &e))
}

/// A carried-over user file or directory keeps its permissions and owner.
fn keep_mode_and_owner(from: &Path, to: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::symlink_metadata(from).map_err(|e| Error::io(from, &e))?;
    fs::set_permissions(to, meta.permissions()).map_err(|e| Error::io(to, &e))?;
    // Changing the owner needs privileges; without them the files stay the user's own.
    let _ = std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()));
    Ok(())
}

fn ensure_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, &e))?;
    }
    Ok(())
}

/// Puts `staging` in place of `rendered` in one step where the OS allows it.
fn swap_in(staging: &Path, rendered: &Path) -> Result<()> {
    if !rendered.exists() {
        return fs::rename(staging, rendered).map_err(|e| Error::io(rendered, &e));
    }
    match exchange(staging, rendered) {
        Ok(()) => {
            let _ = fs::remove_dir_all(staging);
            Ok(())
        }
        Err(_) => {
            // No atomic exchange on this system: retire the old tree first, so an
            // interruption leaves it recoverable beside `rendered` (see `recover_interrupted`).
            let old = sibling(rendered, OLD_MARK)?;
            fs::rename(rendered, &old).map_err(|e| swap_error(rendered, &e))?;
            fs::rename(staging, rendered).map_err(|e| Error::io(rendered, &e))?;
            let _ = fs::remove_dir_all(&old);
            Ok(())
        }
    }
}

/// Why `rendered` could not be moved aside: a mount point (EBUSY) or another
/// file system than its parent (EXDEV) cannot be renamed, and the swap needs that.
fn swap_error(rendered: &Path, err: &std::io::Error) -> Error {
    if !matches!(err.raw_os_error(), Some(libc::EBUSY | libc::EXDEV)) {
        return Error::io(rendered, err);
    }
    Error::plain(
        ErrorKind::Io,
        format!(
            "cannot replace `{}`: it is a mount point or on another file system than its parent ({err})",
            rendered.display()
        ),
    )
    .with_help(
        "the atomic swap needs a directory it can replace: mount the parent directory instead, \
         or render elsewhere with `--out DIR` and copy the tree",
    )
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// Cleans up after a render that was killed: removes staging trees, and puts
/// back a retired tree if the swap was cut between its two renames.
pub fn recover_interrupted(rendered: &Path) -> Result<()> {
    let parent = parent_dir(rendered);
    let Some(name) = rendered
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
    else {
        return Ok(());
    };
    let Ok(entries) = fs::read_dir(&parent) else {
        return Ok(());
    };
    let mut leftovers: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    leftovers.sort();
    for path in leftovers {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if file.starts_with(&format!(".{name}{OLD_MARK}")) && !rendered.exists() {
            fs::rename(&path, rendered).map_err(|e| Error::io(&path, &e))?;
        } else if file.starts_with(&format!(".{name}{STAGING_MARK}"))
            || file.starts_with(&format!(".{name}{OLD_MARK}"))
        {
            fs::remove_dir_all(&path).map_err(|e| Error::io(&path, &e))?;
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::EnvTree;
    use std::collections::BTreeMap;

    fn tree(files: &[(&str, &str)]) -> RenderedTree {
        let mut envs = BTreeMap::new();
        for (path, text) in files {
            let env = path.split('/').next().unwrap().to_string();
            envs.entry(env.clone())
                .or_insert_with(|| EnvTree {
                    env,
                    files: BTreeMap::new(),
                    destination: None,
                    notices: Vec::new(),
                })
                .files
                .insert(path.to_string(), text.to_string());
        }
        RenderedTree {
            inputs: "digest".into(),
            envs,
        }
    }

    /// A directory inside the target directory (two levels above this test
    /// binary in `deps/`), so unit tests write nothing outside it.
    fn temp(name: &str) -> PathBuf {
        let exe = std::env::current_exe().unwrap();
        let target = exe.ancestors().nth(3).unwrap().join("tmp");
        let dir = target.join(format!("gitopsc-ws-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn owned_files_are_replaced_and_foreign_files_kept() {
        let dir = temp("owned");
        let rendered = dir.join("rendered");
        write_rendered(
            &rendered,
            &tree(&[("dev/a.yaml", "a"), ("dev/b.yaml", "b")]),
            true,
        )
        .unwrap();
        fs::write(rendered.join("dev/NOTES.md"), "mine").unwrap();
        let report = write_rendered(&rendered, &tree(&[("dev/a.yaml", "a2")]), true).unwrap();
        assert_eq!(
            report,
            WriteReport {
                written: 1,
                unchanged: 0,
                removed: 1
            }
        );
        assert_eq!(
            fs::read_to_string(rendered.join("dev/a.yaml")).unwrap(),
            "a2"
        );
        assert!(!rendered.join("dev/b.yaml").exists());
        assert_eq!(
            fs::read_to_string(rendered.join("dev/NOTES.md")).unwrap(),
            "mine"
        );
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            leftovers,
            vec![std::ffi::OsString::from("rendered")],
            "no staging left behind"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rendering_one_environment_keeps_the_others() {
        let dir = temp("partial");
        let rendered = dir.join("rendered");
        write_rendered(
            &rendered,
            &tree(&[("dev/a.yaml", "a"), ("prod/a.yaml", "p")]),
            true,
        )
        .unwrap();
        write_rendered(&rendered, &tree(&[("prod/a.yaml", "p2")]), false).unwrap();
        assert_eq!(
            fs::read_to_string(rendered.join("dev/a.yaml")).unwrap(),
            "a"
        );
        assert_eq!(
            fs::read_to_string(rendered.join("prod/a.yaml")).unwrap(),
            "p2"
        );
        let index = read_index(&rendered).unwrap();
        assert_eq!(
            index.environments.keys().collect::<Vec<_>>(),
            ["dev", "prod"]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_tree_that_cannot_be_renamed_gets_advice() {
        let path = Path::new("rendered");
        for errno in [libc::EBUSY, libc::EXDEV] {
            let err = swap_error(path, &std::io::Error::from_raw_os_error(errno));
            assert!(err.message.contains("mount point"), "{}", err.message);
            assert!(err.help.as_deref().unwrap_or("").contains("--out DIR"));
        }
        let other = swap_error(path, &std::io::Error::from_raw_os_error(libc::EACCES));
        assert!(other.help.is_none() && other.message.starts_with("cannot access"));
    }

    #[test]
    fn an_interrupted_swap_is_recovered() {
        let dir = temp("recover");
        let rendered = dir.join("rendered");
        let old = dir.join(".rendered.gitopsc-old-1-1");
        fs::create_dir_all(&old).unwrap();
        fs::write(old.join("x"), "old").unwrap();
        let staging = dir.join(".rendered.gitopsc-staging-1-2");
        fs::create_dir_all(&staging).unwrap();
        recover_interrupted(&rendered).unwrap();
        assert_eq!(fs::read_to_string(rendered.join("x")).unwrap(), "old");
        assert!(!staging.exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}

/// What `stat` says of a file; any write to it changes `ctime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStat {
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
    dev: u64,
}

impl FileStat {
    fn of(path: &Path) -> Option<FileStat> {
        use std::os::unix::fs::MetadataExt;
        let m = fs::symlink_metadata(path).ok()?;
        m.is_file().then(|| FileStat {
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
            ino: m.ino(),
            dev: m.dev(),
        })
    }

    fn encode(&self) -> String {
        format!(
            "{} {} {} {} {} {} {}",
            self.len, self.mtime.0, self.mtime.1, self.ctime.0, self.ctime.1, self.ino, self.dev
        )
    }

    fn decode(text: &str) -> Option<FileStat> {
        let n: Vec<i128> = text
            .split(' ')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        let [len, ms, mn, cs, cn, ino, dev] = n.as_slice() else {
            return None;
        };
        Some(FileStat {
            len: *len as u64,
            mtime: (*ms as i64, *mn as i64),
            ctime: (*cs as i64, *cn as i64),
            ino: *ino as u64,
            dev: *dev as u64,
        })
    }
}

/// The local check cache of a `rendered` directory: in the user's cache, never in the project.
fn stat_cache_path(rendered: &Path) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    let canonical = rendered.canonicalize().ok()?;
    let key = crate::sources::sha256_hex(canonical.to_string_lossy().as_bytes());
    Some(base.join("gitopsc").join("check").join(&key[..24]))
}

/// What a cached verdict depends on besides the files: the inputs and the
/// very binary that judged them (a rebuilt gitopsc may render differently
/// from the same inputs, so its verdict is not reused).
fn stat_cache_header(inputs: &str) -> String {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| FileStat::of(&exe))
        .map(|s| s.encode())
        .unwrap_or_default();
    format!(
        "gitopsc-check v2 {} {} {inputs}",
        crate::tree::tool_version().replace(' ', "-"),
        binary.replace(' ', "-")
    )
}

/// True when a check of exactly these inputs found `rendered` fresh and no
/// owned file (nor the index) has been touched since: `stat` alone decides.
pub fn stat_cache_vouches(rendered: &Path, inputs: &str) -> bool {
    let Some(path) = stat_cache_path(rendered) else {
        return false;
    };
    let Ok(text) = fs::read_to_string(path) else {
        return false;
    };
    let mut lines = text.lines();
    if lines.next() != Some(stat_cache_header(inputs).as_str()) {
        return false;
    }
    let Some(index_stat) = lines.next().and_then(FileStat::decode) else {
        return false;
    };
    if FileStat::of(&rendered.join(INDEX_FILE)) != Some(index_stat) {
        return false;
    }
    let entries: Vec<(&str, &str)> = lines.filter_map(|l| l.split_once('\t')).collect();
    !entries.is_empty()
        && entries.par_iter().all(|(stat, file)| {
            FileStat::decode(stat).is_some_and(|s| FileStat::of(&rendered.join(file)) == Some(s))
        })
}

/// Records the stat data of `files` (owned, just verified fresh) for the next check.
pub fn stat_cache_record<'a>(
    rendered: &Path,
    inputs: &str,
    files: impl Iterator<Item = &'a String>,
) {
    let Some(path) = stat_cache_path(rendered) else {
        return;
    };
    let Some(index_stat) = FileStat::of(&rendered.join(INDEX_FILE)) else {
        return;
    };
    let mut text = format!("{}\n{}\n", stat_cache_header(inputs), index_stat.encode());
    for file in files {
        let Some(stat) = FileStat::of(&rendered.join(file)) else {
            return;
        };
        text.push_str(&stat.encode());
        text.push('\t');
        text.push_str(file);
        text.push('\n');
    }
    // Best effort: without a cache the next check hashes the files instead.
    if let Some(dir) = path.parent()
        && fs::create_dir_all(dir).is_ok()
    {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if fs::write(&tmp, text).is_ok() {
            let _ = fs::rename(&tmp, &path);
        }
    }
}
