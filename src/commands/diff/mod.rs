//! `gitopsc diff`: what a change does to each environment's objects.
//!
//! By default the working tree's blueprints are rendered in memory and
//! compared with the committed `rendered/` (at `HEAD`, or on disk outside a
//! git repository). With `--base REV [--head REV]` both revisions are
//! rendered straight from git objects. Fully offline.
//!
//! Each changed environment also gets a reachability section: the
//! connections its NetworkPolicies newly allow or no longer allow, from
//! the matrices of both trees (`crate::reach`).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;

use serde_json::json;

use super::{EXIT_CHANGES, EXIT_OK};
use crate::EnvSelection;
use crate::changes::{self, EnvChanges, ObjectChange};
use crate::cli::{ColorChoice, DiffFormat, ProjectArgs};
use crate::error::{Error, ErrorKind, Result};
use crate::git;
use crate::reach::{self, Matrix, ReachChanges};
use crate::sources::Sources;
use crate::tree::RenderedTree;
use crate::workspace::{self, RENDERED_DIR};

mod markdown;
pub use markdown::markdown;

pub fn run(
    args: &ProjectArgs,
    base: Option<&str>,
    head: Option<&str>,
    format: DiffFormat,
    color: ColorChoice,
) -> Result<u8> {
    let root = crate::discovery::project_root(args.root.as_deref())?;
    let selection = EnvSelection::from_flags(&args.envs);
    let (old, new, old_sources, new_sources) = match base {
        Some(base) => {
            let checkout = git::discover(&root).ok_or_else(|| {
                Error::plain(
                    ErrorKind::Usage,
                    "`--base` needs the project to be in a git repository",
                )
            })?;
            let old_sources = Arc::new(checkout.sources_at(base)?);
            let old = render_files(old_sources.clone(), &selection)
                .map_err(|e| e.with_note(format!("while rendering the blueprints of `{base}`")))?;
            let new_sources = Arc::new(match head {
                Some(head) => checkout.sources_at(head)?,
                None => workspace::read_sources(&root)?,
            });
            let new = render_files(new_sources.clone(), &selection).map_err(|e| {
                e.with_note(format!(
                    "while rendering the blueprints of `{}`",
                    head.unwrap_or("the working tree")
                ))
            })?;
            (old, new, Some(old_sources), new_sources)
        }
        None => {
            let checkout = git::discover(&root).filter(git::Checkout::has_head);
            let (committed, committed_sources) = match &checkout {
                Some(checkout) => (
                    checkout.rendered_at("HEAD", RENDERED_DIR)?,
                    checkout.sources_at("HEAD").ok().map(Arc::new),
                ),
                None => (workspace::read_rendered(&root.join(RENDERED_DIR))?, None),
            };
            let new_sources = Arc::new(workspace::read_sources(&root)?);
            let new = render_files(new_sources.clone(), &selection)?;
            (committed, new, committed_sources, new_sources)
        }
    };
    let only = match &selection {
        EnvSelection::All => None,
        EnvSelection::Only(names) => Some(names.as_slice()),
    };
    let mut changes: Vec<EnvChanges> = changes::compare(&old, &new, only)?;
    in_promotion_order(&mut changes, &new_sources);
    let reach = reach_changes(&old, &new, old_sources, new_sources, only)?;
    let colour =
        format == DiffFormat::Text && super::colour_wanted(color, std::io::stdout().is_terminal());
    let text = match format {
        DiffFormat::Text => text(&changes, &reach, colour),
        DiffFormat::Markdown => markdown(&changes, &reach),
        DiffFormat::Json => json(&changes, &reach),
    };
    print!("{text}");
    Ok(
        if changes.iter().all(EnvChanges::is_empty) && reach.values().all(ReachChanges::is_empty) {
            EXIT_OK
        } else {
            EXIT_CHANGES
        },
    )
}

/// Environments as they are promoted (the `extends` chain, then declared
/// order); names the current blueprint no longer has go last, by name.
fn in_promotion_order(changes: &mut [EnvChanges], sources: &Arc<Sources>) {
    let order = crate::blueprint::load(sources.clone())
        .map(|project| crate::resolve::promotion_order(&project))
        .unwrap_or_default();
    let rank = |env: &str| order.iter().position(|e| e == env).unwrap_or(order.len());
    changes.sort_by(|a, b| {
        rank(&a.env)
            .cmp(&rank(&b.env))
            .then_with(|| a.env.cmp(&b.env))
    });
}

fn render_files(
    sources: Arc<Sources>,
    selection: &EnvSelection,
) -> Result<BTreeMap<String, Vec<u8>>> {
    let tree: RenderedTree = workspace::compile_incremental(sources, selection)?;
    Ok(tree
        .files()
        .map(|(p, t)| (p.clone(), t.clone().into_bytes()))
        .collect())
}

/// Each environment's matrix of `files`, with the pods `sources` knows
/// (or, when those no longer load, the ones `fallback` knows).
fn matrices(
    files: &BTreeMap<String, Vec<u8>>,
    sources: Option<Arc<Sources>>,
    fallback: &Arc<Sources>,
) -> Result<BTreeMap<String, Matrix>> {
    let texts: Vec<(&str, std::borrow::Cow<str>)> = files
        .iter()
        .map(|(p, b)| (p.as_str(), String::from_utf8_lossy(b)))
        .collect();
    let files = || texts.iter().map(|(p, t)| (*p, t.as_ref()));
    if let Some(sources) = sources
        && let Ok(m) = reach::matrices(sources, files())
    {
        return Ok(m);
    }
    reach::matrices(fallback.clone(), files())
}

/// The reachability changes of every compared environment.
fn reach_changes(
    old: &BTreeMap<String, Vec<u8>>,
    new: &BTreeMap<String, Vec<u8>>,
    old_sources: Option<Arc<Sources>>,
    new_sources: Arc<Sources>,
    only: Option<&[String]>,
) -> Result<BTreeMap<String, ReachChanges>> {
    let before = matrices(old, old_sources, &new_sources)?;
    let after = matrices(new, Some(new_sources.clone()), &new_sources)?;
    let empty = Matrix::new();
    let mut out = BTreeMap::new();
    for env in before.keys().chain(after.keys()) {
        if only.is_some_and(|o| !o.contains(env)) {
            continue;
        }
        let changes = ReachChanges::between(
            before.get(env).unwrap_or(&empty),
            after.get(env).unwrap_or(&empty),
        );
        out.insert(env.clone(), changes);
    }
    Ok(out)
}

/// `  + web -> postgres:5432/TCP (postgres) now allowed` lines.
fn reach_lines(changes: &ReachChanges) -> Vec<String> {
    let allowed = changes
        .allowed
        .iter()
        .map(|g| format!("+ {} now allowed", g.display()));
    let denied = changes
        .denied
        .iter()
        .map(|g| format!("- {} no longer allowed", g.display()));
    allowed.chain(denied).collect()
}

fn paint(line: &str, colour: bool) -> String {
    if !colour {
        return line.to_string();
    }
    let code = if line.starts_with("+++") || line.starts_with("---") {
        "1"
    } else if line.starts_with('+') {
        "32"
    } else if line.starts_with('-') {
        "31"
    } else if line.starts_with("@@") {
        "36"
    } else {
        return line.to_string();
    };
    format!("\x1b[{code}m{line}\x1b[0m")
}

/// For people at a terminal: grouped by environment, then object.
pub fn text(
    changes: &[EnvChanges],
    reach: &BTreeMap<String, ReachChanges>,
    colour: bool,
) -> String {
    let none = ReachChanges::default();
    let reach_of = |env: &str| reach.get(env).unwrap_or(&none);
    if changes
        .iter()
        .all(|c| c.is_empty() && reach_of(&c.env).is_empty())
    {
        return "no changes\n".to_string();
    }
    let mut out = String::new();
    for env in changes
        .iter()
        .filter(|c| !c.is_empty() || !reach_of(&c.env).is_empty())
    {
        out.push_str(&format!(
            "{}\n",
            paint(
                &format!("+++ environment {}: {}", env.env, env.summary()),
                colour
            )
        ));
        for (label, list) in [("added", &env.added), ("removed", &env.removed)] {
            for c in list {
                out.push_str(&format!("  {label:<8} {}\n", c.key.display()));
            }
        }
        for c in &env.changed {
            out.push_str(&format!("  {:<8} {}\n", "changed", c.key.display()));
            for line in changes::unified(c).lines() {
                out.push_str(&format!("    {}\n", paint(line, colour)));
            }
        }
        let lines = reach_lines(reach_of(&env.env));
        if !lines.is_empty() {
            out.push_str("  reachability\n");
            for line in lines {
                out.push_str(&format!("    {}\n", paint(&line, colour)));
            }
        }
    }
    out
}

/// For tools.
pub fn json(changes: &[EnvChanges], reach: &BTreeMap<String, ReachChanges>) -> String {
    let none = ReachChanges::default();
    let key = |c: &ObjectChange| json!({"kind": c.key.kind, "group": c.key.group, "namespace": c.key.namespace, "name": c.key.name});
    let envs: Vec<_> = changes
        .iter()
        .map(|e| {
            json!({
                "environment": e.env,
                "added": e.added.iter().map(key).collect::<Vec<_>>(),
                "changed": e.changed.iter().map(|c| { let mut k = key(c); k["diff"] = json!(changes::unified(c)); k }).collect::<Vec<_>>(),
                "removed": e.removed.iter().map(key).collect::<Vec<_>>(),
                "reachability": {
                    "allowed": reach.get(&e.env).unwrap_or(&none).allowed.iter().map(super::reach::grant_json).collect::<Vec<_>>(),
                    "denied": reach.get(&e.env).unwrap_or(&none).denied.iter().map(super::reach::grant_json).collect::<Vec<_>>(),
                },
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(
        &json!({"changed": !(changes.iter().all(EnvChanges::is_empty) && reach.values().all(ReachChanges::is_empty)), "environments": envs}),
    )
    .unwrap_or_default();
    text.push('\n');
    text
}
