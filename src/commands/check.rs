//! `gitopsc check`: is `rendered/` what the blueprints render?
//!
//! Fast paths for pre-commit: when an earlier check saw today's inputs fresh
//! and `stat` shows no owned file touched since (a cache in the user's cache
//! directory), nothing is read at all; when the index says the files came from
//! inputs with today's digest and tool version, only the owned files are
//! hashed. Otherwise the tree is compiled in memory and compared file by
//! file. Nothing in the project is written.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

use super::{EXIT_CHANGES, EXIT_OK};
use crate::cli::ProjectArgs;
use crate::error::Result;
use crate::sources::{Sources, sha256_hex};
use crate::tree::{INDEX_FILE, Index, tool_version};
use crate::workspace::{self, RENDERED_DIR};
use crate::{EnvSelection, compile};

/// How `rendered/` differs from what a render would write.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Staleness {
    pub changed: Vec<String>,
    pub missing: Vec<String>,
    /// Owned files a render would remove.
    pub extra: Vec<String>,
    /// Whether the answer needed a render in memory (the index did not vouch for the files).
    pub rendered: bool,
}

impl Staleness {
    pub fn is_fresh(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }
}

pub fn run(args: &ProjectArgs) -> Result<u8> {
    let root = workspace::project_root(args.root.as_deref())?;
    let selection = EnvSelection::from_flags(&args.envs);
    let staleness = staleness(&root, &selection)?;
    if staleness.is_fresh() {
        println!("rendered/ is up to date");
        return Ok(EXIT_OK);
    }
    let count = staleness.changed.len() + staleness.missing.len() + staleness.extra.len();
    println!(
        "rendered/ is stale ({count} file{}):",
        if count == 1 { "" } else { "s" }
    );
    for (label, files) in [
        ("changed", &staleness.changed),
        ("missing", &staleness.missing),
        ("extra", &staleness.extra),
    ] {
        for file in files {
            println!("  {label:<8} {RENDERED_DIR}/{file}");
        }
    }
    let env_flags: String = args.envs.iter().map(|e| format!(" --env {e}")).collect();
    let root_flag = args
        .root
        .as_ref()
        .map(|r| format!(" --root {}", r.display()))
        .unwrap_or_default();
    println!("run `gitopsc render{root_flag}{env_flags}` to update it");
    Ok(EXIT_CHANGES)
}

/// Compares `rendered/` with what the project's blueprints render.
pub fn staleness(root: &Path, selection: &EnvSelection) -> Result<Staleness> {
    let rendered = root.join(RENDERED_DIR);
    let sources = workspace::read_sources(root)?;
    let inputs = sources.digest();
    // Fastest: an earlier check saw these inputs fresh, and stat says nothing moved.
    if *selection == EnvSelection::All && workspace::stat_cache_vouches(&rendered, &inputs) {
        return Ok(Staleness::default());
    }
    let index = workspace::read_index(&rendered);
    if let Some(index) = &index
        && index_vouches(index, &sources, selection)
        && let Some(result) = verify_owned(&rendered, index, selection)
    {
        if result.is_fresh() && *selection == EnvSelection::All {
            workspace::stat_cache_record(
                &rendered,
                &inputs,
                index.environments.values().flat_map(|e| e.files.keys()),
            );
        }
        return Ok(result);
    }
    let tree = compile(Arc::new(sources), selection)?;
    let replace_all = *selection == EnvSelection::All;
    let mut expected: Vec<(String, String)> =
        tree.files().map(|(p, t)| (p.clone(), t.clone())).collect();
    expected.push((
        INDEX_FILE.to_string(),
        tree.index(index.as_ref(), replace_all).to_json(),
    ));
    let mut result = Staleness {
        rendered: true,
        ..Staleness::default()
    };
    let found: Vec<(String, Option<bool>)> = expected
        .par_iter()
        .map(|(path, text)| {
            let same = fs::read(rendered.join(path))
                .ok()
                .map(|bytes| bytes == text.as_bytes());
            (path.clone(), same)
        })
        .collect();
    for (path, same) in found {
        match same {
            None => result.missing.push(path),
            Some(false) => result.changed.push(path),
            Some(true) => {}
        }
    }
    result.extra = tree
        .dropped(index.as_ref(), replace_all)
        .into_iter()
        .filter(|f| rendered.join(f).exists())
        .collect();
    Ok(result)
}

/// The index was written by this tool version from exactly these inputs.
fn index_vouches(index: &Index, sources: &Sources, selection: &EnvSelection) -> bool {
    if index.tool != tool_version() {
        return false;
    }
    let digest = sources.digest();
    match selection {
        EnvSelection::All => {
            !index.environments.is_empty()
                && index.environments.values().all(|e| e.inputs == digest)
        }
        EnvSelection::Only(names) => names.iter().all(|n| {
            index
                .environments
                .get(n)
                .is_some_and(|e| e.inputs == digest)
        }),
    }
}

/// Hashes the owned files the index lists; `None` when the index file itself
/// does not parse back identically (then the slow path decides).
fn verify_owned(rendered: &Path, index: &Index, selection: &EnvSelection) -> Option<Staleness> {
    let envs: BTreeSet<&str> = match selection {
        EnvSelection::All => index.environments.keys().map(String::as_str).collect(),
        EnvSelection::Only(names) => names.iter().map(String::as_str).collect(),
    };
    let on_disk = fs::read_to_string(rendered.join(INDEX_FILE)).ok()?;
    if on_disk != index.to_json() {
        return None;
    }
    let files: Vec<(&String, &String)> = index
        .environments
        .iter()
        .filter(|(env, _)| envs.contains(env.as_str()))
        .flat_map(|(_, e)| e.files.iter())
        .collect();
    let results: Vec<(String, Option<bool>)> = files
        .par_iter()
        .map(|(path, hash)| {
            let same = fs::read(rendered.join(path))
                .ok()
                .map(|bytes| sha256_hex(&bytes) == **hash);
            ((*path).clone(), same)
        })
        .collect();
    let mut result = Staleness::default();
    for (path, same) in results {
        match same {
            None => result.missing.push(path),
            Some(false) => result.changed.push(path),
            Some(true) => {}
        }
    }
    Some(result)
}
