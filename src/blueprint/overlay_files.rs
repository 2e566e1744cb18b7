//! Which files under `overlays/` are overlays, and refusing every other one.
//!
//! An overlay is `overlays/<env>.yaml` (or `.yml`, the other spelling Kustomize
//! and Flux accept for manifests). Anything else that could be meant as input
//! is an error at that file, never skipped: a Kustomize user's
//! `overlays/prod/kustomization.yaml` would otherwise change nothing without
//! a word. Markdown notes and hidden files are not inputs and stay allowed.

use std::collections::BTreeMap;

use crate::error::{Error, ErrorKind, Origin, Result};
use crate::sources::{OVERLAYS_DIR, Sources};

/// `overlays/`, as a prefix of source paths.
const PREFIX: &str = "overlays/";

/// The overlay files of `sources`, by environment name, in name order.
pub fn overlay_files(sources: &Sources) -> Result<BTreeMap<&str, &str>> {
    let mut overlays: BTreeMap<&str, &str> = BTreeMap::new();
    for (path, _) in sources.under(PREFIX) {
        let file = &path[PREFIX.len()..];
        match classify(file) {
            Entry::Overlay(env) => {
                if let Some(first) = overlays.insert(env, path) {
                    return Err(two_spellings(env, first, path));
                }
            }
            Entry::Notes => {}
            Entry::InSubdirectory => return Err(in_subdirectory(path, file)),
            Entry::Other => return Err(not_an_overlay(path)),
        }
    }
    Ok(overlays)
}

#[derive(Debug, PartialEq, Eq)]
enum Entry<'a> {
    Overlay(&'a str),
    Notes,
    InSubdirectory,
    Other,
}

fn classify(file: &str) -> Entry<'_> {
    if file.contains('/') {
        return Entry::InSubdirectory;
    }
    if file.ends_with(".md") {
        return Entry::Notes;
    }
    match file
        .strip_suffix(".yaml")
        .or_else(|| file.strip_suffix(".yml"))
    {
        Some(env) if !env.is_empty() => Entry::Overlay(env),
        _ => Entry::Other,
    }
}

fn two_spellings(env: &str, first: &str, second: &str) -> Error {
    Error::at(
        ErrorKind::Include,
        Origin::file_start(second),
        format!("two overlays for environment `{env}`: `{first}` and `{second}`"),
    )
    .with_help("keep one file per environment: merge them into one and delete the other")
}

fn in_subdirectory(path: &str, file: &str) -> Error {
    let env = file.split('/').next().unwrap_or(file);
    Error::at(
        ErrorKind::Include,
        Origin::file_start(path),
        format!("`{path}` is in a subdirectory of `{OVERLAYS_DIR}/`, which gitopsc does not read"),
    )
    .with_help(format!(
        "an overlay is one file per environment: move these keys into `{OVERLAYS_DIR}/{env}.yaml` \
         (gitopsc writes the Kustomize tree itself; a kustomization here would not be used)"
    ))
}

fn not_an_overlay(path: &str) -> Error {
    Error::at(
        ErrorKind::Include,
        Origin::file_start(path),
        format!("`{path}` is not an overlay: overlays are named `<environment>.yaml`"),
    )
    .with_help(
        "rename it to `<environment>.yaml`, or move it out of overlays/ (notes may stay as `.md`)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_the_overlays_directory() {
        assert_eq!(PREFIX, format!("{OVERLAYS_DIR}/"));
    }

    #[test]
    fn files_are_classified_by_name_and_place() {
        assert_eq!(classify("prod.yaml"), Entry::Overlay("prod"));
        assert_eq!(classify("prod.yml"), Entry::Overlay("prod"));
        assert_eq!(classify("README.md"), Entry::Notes);
        assert_eq!(classify("prod/kustomization.yaml"), Entry::InSubdirectory);
        assert_eq!(classify("prod.json"), Entry::Other);
        assert_eq!(classify("prod.yaml.bak"), Entry::Other);
        assert_eq!(classify(".yaml"), Entry::Other);
    }

    #[test]
    fn both_spellings_for_one_environment_are_refused() {
        let mut sources = Sources::new();
        sources.insert_text("overlays/prod.yaml", "");
        sources.insert_text("overlays/prod.yml", "");
        let err = overlay_files(&sources).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Include);
        assert_eq!(err.origin.as_ref().unwrap().file, "overlays/prod.yml");
        assert!(
            err.message.contains("`overlays/prod.yaml`"),
            "{}",
            err.message
        );
    }
}
