//! Writing `rendered/` atomically: the new tree is built in a staging
//! directory beside the old one and exchanged with it in one rename, under a
//! writer lock; an interrupted swap is recovered on the next run.

use super::swap::{recover_interrupted, swap_in};
use super::*;

pub(super) const STAGING_MARK: &str = ".gitopsc-staging-";
pub(super) const OLD_MARK: &str = ".gitopsc-old-";

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
    // Unless `stat` shows the file untouched since the stat record was taken
    // (then it still holds what the old index says, and reading it back
    // would find the same): after one edit, most of a large tree.
    let judged_from = std::time::SystemTime::now();
    let record = super::stat_record(rendered, &tree.inputs);
    let vouched = replace_all && record.vouches_all;
    let unchanged: BTreeSet<&str> = candidates
        .par_iter()
        .filter(|(path, hash)| {
            vouched
                || record.untouched.contains(path.as_str())
                || fs::read(rendered.join(path))
                    .is_ok_and(|b| crate::sources::sha256_hex(&b) == **hash)
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
        // A record that vouched is still true: stat-ing the tree again to
        // write it anew would be the same tens of thousands of calls twice.
        if !vouched {
            record_fresh(rendered, tree, &index, replace_all, judged_from, &unchanged);
        }
        return Ok(report);
    }
    let staging = sibling(rendered, STAGING_MARK)?;
    let result = build_staging(rendered, &staging, tree, &dropped, &index_text, &unchanged)
        .and_then(|()| swap_in(&staging, rendered));
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result.map(|retired| {
        // The retired tree goes before the new one is stat-ed for the record:
        // unlinking a kept file's old link moves its ctime.
        if let Some(old) = retired {
            let _ = super::dirs::remove_all(&old);
        }
        record_fresh(rendered, tree, &index, replace_all, judged_from, &unchanged);
        report
    })
}

/// What was just written is what `check` would find fresh: saying so in the
/// stat cache spares the hook that runs next from reading it all back.
/// The files kept from the old tree (`unchanged`) were judged from
/// `judged_from` on; the rest this run wrote itself.
fn record_fresh(
    rendered: &Path,
    tree: &RenderedTree,
    index: &Index,
    replace_all: bool,
    judged_from: std::time::SystemTime,
    unchanged: &BTreeSet<&str>,
) {
    if replace_all {
        let files = index.environments.values().flat_map(|e| e.files.keys());
        let provenance = super::Provenance::Rendered { kept: unchanged };
        super::stat_cache_record(rendered, &tree.inputs, files, judged_from, provenance);
    }
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

pub(super) fn link_in_the_way(path: &Path) -> Error {
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
pub(super) fn normalize(path: &Path) -> PathBuf {
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
pub(super) fn sibling(rendered: &Path, mark: &str) -> Result<PathBuf> {
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

pub(super) fn parent_dir(path: &Path) -> PathBuf {
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
    let mut old_dirs = Vec::new();
    // Only an existing tree has files to carry over and links to refuse.
    if rendered.is_dir() {
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
    // As strings, not `Path`s: a `Path` compares component by component,
    // several times slower over 33,000 paths.
    let dirs: BTreeSet<&str> = files
        .iter()
        .map(|(p, _)| p.rsplit_once('/').map_or("", |(dir, _)| dir))
        .collect();
    super::dirs::make_all(staging, &dirs)?;
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
            keep_dir_mode_and_owner(&old, &target)?;
        }
    }
    let index_path = staging.join(INDEX_FILE);
    fs::write(&index_path, index_text).map_err(|e| Error::io(&index_path, &e))
}

/// A carried-over user file or directory keeps its permissions and owner.
fn keep_mode_and_owner(from: &Path, to: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(from).map_err(|e| Error::io(from, &e))?;
    give_mode_and_owner(&meta, to)
}

fn give_mode_and_owner(meta: &fs::Metadata, to: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    fs::set_permissions(to, meta.permissions()).map_err(|e| Error::io(to, &e))?;
    // Changing the owner needs privileges; without them the files stay the user's own.
    let _ = std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()));
    Ok(())
}

/// The same for a directory this run made: most already have the mode and
/// owner of the old one, and skipping those saves two journaled inode
/// updates per directory.
fn keep_dir_mode_and_owner(from: &Path, to: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let old = fs::symlink_metadata(from).map_err(|e| Error::io(from, &e))?;
    let new = fs::symlink_metadata(to).map_err(|e| Error::io(to, &e))?;
    if (old.mode(), old.uid(), old.gid()) == (new.mode(), new.uid(), new.gid()) {
        return Ok(());
    }
    give_mode_and_owner(&old, to)
}

fn ensure_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, &e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::EnvTree;
    use crate::workspace::scratch_dir as temp;
    use crate::workspace::swap::swap_error;
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
