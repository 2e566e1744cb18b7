//! `gitopsc check`: is `rendered/` what the blueprints render?
//!
//! Fast paths for pre-commit: when an earlier check saw today's inputs fresh
//! and `stat` shows no owned file touched since (a cache in the user's cache
//! directory), nothing is read at all; when the index says the files came from
//! inputs with today's digest and tool version, only the owned files are
//! hashed. Otherwise the tree is compiled in memory and compared file by
//! file. Nothing in the project is written.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::json;

use super::{EXIT_CHANGES, EXIT_OK};
use crate::EnvSelection;
use crate::cli::{CheckFormat, ProjectArgs};
use crate::error::{Error, ErrorKind, Result};
use crate::sources::{Sources, sha256_hex};
use crate::tree::{INDEX_FILE, Index, tool_version};
use crate::workspace::{self, RENDERED_DIR};

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

    /// Every stale file with its label (`changed`, `missing`, `extra`), in that order.
    pub fn labelled(&self) -> impl Iterator<Item = (&'static str, &String)> {
        let label = |name: &'static str| move |file| (name, file);
        (self.changed.iter().map(label("changed")))
            .chain(self.missing.iter().map(label("missing")))
            .chain(self.extra.iter().map(label("extra")))
    }
}

/// Checks the project `args` name, or each project holding one of `paths`
/// (several under a `project <root>` heading each); 1 when any is stale.
pub fn run_each(
    args: &ProjectArgs,
    paths: &[PathBuf],
    quiet: bool,
    format: CheckFormat,
) -> Result<u8> {
    let projects = crate::discovery::projects_for(args, paths);
    if projects.len() > 1 && format == CheckFormat::Json {
        return Err(Error::plain(
            ErrorKind::Usage,
            "`--format json` reports one project, and the paths given lie in several",
        ));
    }
    if projects.is_empty() && !quiet {
        println!("no gitopsc project holds the given paths");
    }
    let mut code = EXIT_OK;
    for project in &projects {
        if projects.len() > 1 && !quiet {
            let root = project.root.as_deref().unwrap_or(Path::new("."));
            println!("project {}:", root.display());
        }
        code = code.max(run(project, quiet, format)?);
    }
    Ok(code)
}

pub fn run(args: &ProjectArgs, quiet: bool, format: CheckFormat) -> Result<u8> {
    let root = crate::discovery::project_root(args.root.as_deref())?;
    let selection = EnvSelection::from_flags(&args.envs);
    let staleness = staleness(&root, &selection)?;
    let code = if staleness.is_fresh() {
        EXIT_OK
    } else {
        EXIT_CHANGES
    };
    if quiet {
        return Ok(code);
    }
    match format {
        CheckFormat::Json => {
            let envs = environment_order(&root, &selection)?;
            print!("{}", json_report(&staleness, &envs));
        }
        CheckFormat::Text => print!("{}", text_report(&staleness, args)),
    }
    Ok(code)
}

/// `rendered/ is up to date`, or the stale files and the command that renews them.
fn text_report(staleness: &Staleness, args: &ProjectArgs) -> String {
    if staleness.is_fresh() {
        return "rendered/ is up to date\n".to_string();
    }
    let count = staleness.changed.len() + staleness.missing.len() + staleness.extra.len();
    let mut out = format!(
        "rendered/ is stale ({count} file{}):\n",
        if count == 1 { "" } else { "s" }
    );
    for (label, file) in staleness.labelled() {
        out.push_str(&format!("  {label:<8} {RENDERED_DIR}/{file}\n"));
    }
    let env_flags: String = args.envs.iter().map(|e| format!(" --env {e}")).collect();
    let root_flag = args
        .root
        .as_ref()
        .map(|r| format!(" --root {}", r.display()))
        .unwrap_or_default();
    out.push_str(&format!(
        "run `gitopsc render{root_flag}{env_flags}` to update it\n"
    ));
    out
}

/// The checked environments in promotion order. The fast paths never load
/// the blueprint, so this does, for the names alone.
fn environment_order(root: &Path, selection: &EnvSelection) -> Result<Vec<String>> {
    let project = crate::blueprint::load(Arc::new(workspace::read_sources(root)?))?;
    let selected = selection.names(&project)?;
    Ok(crate::resolve::promotion_order(&project)
        .into_iter()
        .filter(|env| selected.contains(env))
        .collect())
}

/// The `--format json` answer, documented in the README: the overall
/// `status`, one entry per environment (in promotion order, then any
/// directory of an environment the blueprint no longer has), and `tree` for
/// the files outside environment directories (the index). Paths are relative
/// to the project root, as the text report prints them.
fn json_report(staleness: &Staleness, envs: &[String]) -> String {
    let mut groups: BTreeMap<String, [Vec<String>; 3]> = BTreeMap::new();
    let mut tree: [Vec<String>; 3] = Default::default();
    for (label, file) in staleness.labelled() {
        let slot = match label {
            "changed" => 0,
            "missing" => 1,
            _ => 2,
        };
        let path = format!("{RENDERED_DIR}/{file}");
        match file.split_once('/') {
            Some((env, _)) => groups.entry(env.to_string()).or_default()[slot].push(path),
            None => tree[slot].push(path),
        }
    }
    let entry = |lists: &[Vec<String>; 3]| {
        let fresh = lists.iter().all(Vec::is_empty);
        json!({
            "status": if fresh { "ok" } else { "stale" },
            "changed": lists[0],
            "missing": lists[1],
            "extra": lists[2],
        })
    };
    let gone: Vec<&String> = groups.keys().filter(|e| !envs.contains(e)).collect();
    let environments: Vec<_> = envs
        .iter()
        .chain(gone)
        .map(|env| {
            let mut value = json!({"name": env});
            let lists = groups.get(env).cloned().unwrap_or_default();
            if let (Some(out), serde_json::Value::Object(fields)) =
                (value.as_object_mut(), entry(&lists))
            {
                out.extend(fields);
            }
            value
        })
        .collect();
    let report = json!({
        "status": if staleness.is_fresh() { "ok" } else { "stale" },
        "environments": environments,
        "tree": entry(&tree),
    });
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
    text.push('\n');
    text
}

/// Compares `rendered/` with what the project's blueprints render.
pub fn staleness(root: &Path, selection: &EnvSelection) -> Result<Staleness> {
    let rendered = root.join(RENDERED_DIR);
    let sources = workspace::read_sources(root)?;
    let inputs = sources.digest();
    // Fastest: an earlier check saw these inputs fresh, and stat says nothing moved.
    let all = *selection == EnvSelection::All;
    let record = all.then(|| workspace::stat_record(&rendered, &inputs));
    if record.as_ref().is_some_and(|r| r.vouches_all) {
        return Ok(Staleness::default());
    }
    let index = workspace::read_index(&rendered);
    let judged_from = std::time::SystemTime::now();
    if let Some(index) = &index
        && index_vouches(index, &sources, selection)
        && let Some(result) = verify_owned(&rendered, index, selection)
    {
        if result.is_fresh() && all {
            workspace::stat_cache_record(
                &rendered,
                &inputs,
                index.environments.values().flat_map(|e| e.files.keys()),
                judged_from,
                workspace::Provenance::Read,
            );
        }
        return Ok(result);
    }
    let tree = workspace::compile_incremental(Arc::new(sources), selection)?;
    let replace_all = *selection == EnvSelection::All;
    // Borrowed from the tree, not copied: every file's text is 30 MB at
    // 1000 apps.
    let index_text = tree.index(index.as_ref(), replace_all).to_json();
    let expected: Vec<(&str, &str)> = tree
        .files()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .chain(std::iter::once((INDEX_FILE, index_text.as_str())))
        .collect();
    let mut result = Staleness {
        rendered: true,
        ..Staleness::default()
    };
    // A file `stat` shows untouched since the record still holds what the
    // index on disk says of it: its hash decides, without reading it.
    let record = record.unwrap_or_else(|| workspace::stat_record(&rendered, &inputs));
    let on_disk: HashMap<&str, &str> = index
        .iter()
        .flat_map(|i| i.environments.values())
        .flat_map(|e| e.files.iter())
        .map(|(path, hash)| (path.as_str(), hash.as_str()))
        .collect();
    let found: Vec<(String, Option<bool>)> = expected
        .par_iter()
        .map(|(path, text)| {
            let same = match on_disk.get(path) {
                Some(hash) if record.untouched.contains(*path) => {
                    Some(*hash == sha256_hex(text.as_bytes()))
                }
                _ => fs::read(rendered.join(path))
                    .ok()
                    .map(|bytes| bytes == text.as_bytes()),
            };
            (path.to_string(), same)
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
