//! Shell completion of values that depend on the project: `--env` offers the
//! environment names of the blueprint that the command line being completed
//! would use (its `--root`, else `GITOPSC_ROOT`, else the project found from the
//! current directory).
//!
//! Completion runs the binary itself (clap_complete's `CompleteEnv`): the
//! shell calls `COMPLETE=<shell> gitopsc -- <words>` at each TAB. Nothing here
//! may print or fail: no blueprint, or one that does not parse, offers nothing.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use clap_complete::engine::CompletionCandidate;

use crate::sources::BLUEPRINT_FILE;
use crate::{workspace, yaml};

/// Candidates for `--env`: the blueprint's environment names starting with `current`.
pub fn environments(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(prefix) = current.to_str() else {
        return Vec::new();
    };
    environment_names(&project_root(std::env::args_os().collect()))
        .into_iter()
        .filter(|name| name.starts_with(prefix))
        .map(CompletionCandidate::new)
        .collect()
}

/// The `--root` of the words being completed, else `GITOPSC_ROOT`, else the discovered root.
fn project_root(words: Vec<OsString>) -> PathBuf {
    root_flag(&words)
        .or_else(|| std::env::var_os("GITOPSC_ROOT").map(PathBuf::from))
        .unwrap_or_else(|| crate::discovery::project_root(None).unwrap_or_else(|_| ".".into()))
}

/// The last `--root DIR` or `--root=DIR` among `words` (the last one wins, as in parsing).
fn root_flag(words: &[OsString]) -> Option<PathBuf> {
    let mut root = None;
    for (i, word) in words.iter().enumerate() {
        let Some(text) = word.to_str() else { continue };
        if text == "--root" {
            root = words.get(i + 1).map(PathBuf::from);
        } else if let Some(value) = text.strip_prefix("--root=") {
            root = Some(PathBuf::from(value));
        }
    }
    root
}

/// The keys of `environments:` in the blueprint under `root`, in name order.
fn environment_names(root: &std::path::Path) -> Vec<String> {
    let Some(bytes) = workspace::read_blueprint(root) else {
        return Vec::new();
    };
    let Ok(doc) = yaml::parse_document(BLUEPRINT_FILE, &bytes) else {
        return Vec::new();
    };
    let mut names: Vec<String> = doc
        .value
        .get("environments")
        .and_then(|e| e.as_object())
        .map(|envs| envs.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_root_comes_from_the_words_being_completed() {
        assert_eq!(
            root_flag(&words(&[
                "gitopsc", "--", "gitopsc", "render", "--root", "a", "--env", ""
            ])),
            Some(PathBuf::from("a"))
        );
        assert_eq!(
            root_flag(&words(&["gitopsc", "check", "--root=b", "--root", "c"])),
            Some(PathBuf::from("c"))
        );
        assert_eq!(root_flag(&words(&["gitopsc", "render", "--env"])), None);
    }
}
