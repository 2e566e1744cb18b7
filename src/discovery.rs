//! Which directory is the project: `--root` (or `$GITOPSC_ROOT`) when given,
//! else the nearest directory at or above the working directory that holds
//! `blueprints/`, found the way git finds a repository and cargo a manifest.
//!
//! The walk never leaves the repository or the filesystem it starts in: a
//! directory holding `.git` is the last one looked at, a mount point is not
//! crossed, and the directories in `GIT_CEILING_DIRECTORIES` are not entered
//! (git's own way to say "stop here"). Only metadata is read.
//!
//! Given files (pre-commit passes the changed ones), each file's project is
//! found the same way, starting from the file, so a repository may hold
//! projects in subdirectories.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::cli::ProjectArgs;
use crate::error::{Error, ErrorKind, Result};
use crate::sources::BLUEPRINTS_DIR;

/// The project root a command works on.
pub fn project_root(root: Option<&Path>) -> Result<PathBuf> {
    let root = match root {
        Some(root) => root.to_path_buf(),
        None => discover_from_working_directory(),
    };
    if !root.is_dir() {
        return Err(Error::plain(
            ErrorKind::Usage,
            format!("project root `{}` is not a directory", root.display()),
        ));
    }
    Ok(root)
}

/// `.` when the working directory is the project or nothing above it is one
/// (then loading says what is missing); else the project as `..`, `../..`, ...
/// so messages name paths as short as the user's own.
fn discover_from_working_directory() -> PathBuf {
    let here = PathBuf::from(".");
    let Ok(start) = std::env::current_dir() else {
        return here;
    };
    let ceilings = ceiling_directories(std::env::var_os("GIT_CEILING_DIRECTORIES"));
    match levels_up_to_project(&start, &ceilings) {
        Some(0) | None => here,
        Some(levels) => std::iter::repeat_n("..", levels).collect(),
    }
}

/// The project holding `path` (a file or directory, relative to the working
/// directory), found by walking up from it as from a working directory; its
/// root relative to the working directory, `.` for the working directory itself.
pub fn project_holding(path: &Path) -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let absolute = cwd.join(path);
    // A file's directory, or for a deleted file the nearest directory still there.
    let start = absolute.ancestors().find(|dir| dir.is_dir())?;
    let ceilings = ceiling_directories(std::env::var_os("GIT_CEILING_DIRECTORIES"));
    let levels = levels_up_to_project(start, &ceilings)?;
    let root = start.ancestors().nth(levels)?;
    Some(match root.strip_prefix(&cwd) {
        Ok(rel) if rel.as_os_str().is_empty() => PathBuf::from("."),
        Ok(rel) => rel.to_path_buf(),
        Err(_) => root.to_path_buf(),
    })
}

/// The projects a command given `paths` works on, each as the arguments it
/// would take with `--root`: with `--root`, or without paths, the one
/// project `args` name; else the distinct projects holding the paths, in
/// path order (paths in no project are left out).
pub fn projects_for(args: &ProjectArgs, paths: &[PathBuf]) -> Vec<ProjectArgs> {
    if args.root.is_some() || paths.is_empty() {
        return vec![args.clone()];
    }
    let mut roots: Vec<PathBuf> = paths.iter().filter_map(|p| project_holding(p)).collect();
    roots.sort();
    roots.dedup();
    roots
        .into_iter()
        .map(|root| ProjectArgs {
            root: (root != Path::new(".")).then_some(root),
            envs: args.envs.clone(),
        })
        .collect()
}

/// How many parents up from `start` the nearest project is, if any is
/// reachable without crossing a repository, mount or ceiling boundary.
pub fn levels_up_to_project(start: &Path, ceilings: &[PathBuf]) -> Option<usize> {
    let start_device = device_of(start);
    for (levels, dir) in start.ancestors().enumerate() {
        if levels > 0 && ceilings.iter().any(|c| c == dir) {
            return None;
        }
        if device_of(dir) != start_device {
            return None;
        }
        if dir.join(BLUEPRINTS_DIR).is_dir() {
            return Some(levels);
        }
        if dir.join(".git").exists() {
            return None;
        }
    }
    None
}

/// git's `GIT_CEILING_DIRECTORIES`: absolute paths separated by the platform's
/// path-list separator; empty and relative entries are ignored, as git does.
fn ceiling_directories(value: Option<OsString>) -> Vec<PathBuf> {
    value
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| p.is_absolute())
                .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(unix)]
fn device_of(dir: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).ok().map(|m| m.dev())
}

/// Windows has no cheap device number on a directory's metadata; drive
/// letters already bound the walk there.
#[cfg(not(unix))]
fn device_of(_dir: &Path) -> Option<u64> {
    None
}
