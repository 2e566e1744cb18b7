//! `gitopsc diff`: what a change does to each environment's objects.
//!
//! By default the working tree's blueprints are rendered in memory and
//! compared with the committed `rendered/` (at `HEAD`, or on disk outside a
//! git repository). With `--base REV [--head REV]` both revisions are
//! rendered straight from git objects. Fully offline.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;

use serde_json::json;

use super::{EXIT_CHANGES, EXIT_OK};
use crate::changes::{self, EnvChanges, ObjectChange};
use crate::cli::{DiffFormat, ProjectArgs};
use crate::error::{Error, ErrorKind, Result};
use crate::git;
use crate::sources::Sources;
use crate::tree::RenderedTree;
use crate::workspace::{self, RENDERED_DIR};
use crate::{EnvSelection, compile};

pub fn run(
    args: &ProjectArgs,
    base: Option<&str>,
    head: Option<&str>,
    format: DiffFormat,
) -> Result<u8> {
    let root = workspace::project_root(args.root.as_deref())?;
    let selection = EnvSelection::from_flags(&args.envs);
    let (old, new) = match base {
        Some(base) => {
            let checkout = git::discover(&root).ok_or_else(|| {
                Error::plain(
                    ErrorKind::Usage,
                    "`--base` needs the project to be in a git repository",
                )
            })?;
            let old = render_files(checkout.sources_at(base)?, &selection)
                .map_err(|e| e.with_note(format!("while rendering the blueprints of `{base}`")))?;
            let new_sources = match head {
                Some(head) => checkout.sources_at(head)?,
                None => workspace::read_sources(&root)?,
            };
            let new = render_files(new_sources, &selection).map_err(|e| {
                e.with_note(format!(
                    "while rendering the blueprints of `{}`",
                    head.unwrap_or("the working tree")
                ))
            })?;
            (old, new)
        }
        None => {
            let committed = match git::discover(&root).filter(git::Checkout::has_head) {
                Some(checkout) => checkout.rendered_at("HEAD", RENDERED_DIR)?,
                None => workspace::read_rendered(&root.join(RENDERED_DIR))?,
            };
            let new = render_files(workspace::read_sources(&root)?, &selection)?;
            (committed, new)
        }
    };
    let only = match &selection {
        EnvSelection::All => None,
        EnvSelection::Only(names) => Some(names.as_slice()),
    };
    let changes: Vec<EnvChanges> = changes::compare(&old, &new, only)?;
    let colour = format == DiffFormat::Text
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    let text = match format {
        DiffFormat::Text => text(&changes, colour),
        DiffFormat::Markdown => markdown(&changes),
        DiffFormat::Json => json(&changes),
    };
    print!("{text}");
    Ok(if changes.iter().all(EnvChanges::is_empty) {
        EXIT_OK
    } else {
        EXIT_CHANGES
    })
}

fn render_files(sources: Sources, selection: &EnvSelection) -> Result<BTreeMap<String, Vec<u8>>> {
    let tree: RenderedTree = compile(Arc::new(sources), selection)?;
    Ok(tree
        .files()
        .map(|(p, t)| (p.clone(), t.clone().into_bytes()))
        .collect())
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
pub fn text(changes: &[EnvChanges], colour: bool) -> String {
    if changes.iter().all(EnvChanges::is_empty) {
        return "no changes\n".to_string();
    }
    let mut out = String::new();
    for env in changes.iter().filter(|c| !c.is_empty()) {
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
    }
    out
}

fn object_block(c: &ObjectChange) -> String {
    let body = match (&c.old, &c.new) {
        (Some(_), Some(_)) => changes::unified(c),
        (None, Some(new)) => new.lines().map(|l| format!("+{l}\n")).collect(),
        (Some(old), None) => old.lines().map(|l| format!("-{l}\n")).collect(),
        (None, None) => String::new(),
    };
    format!("```diff\n{body}```\n")
}

/// For a pull request comment or `$GITHUB_STEP_SUMMARY`: a summary table, each environment folded.
pub fn markdown(changes: &[EnvChanges]) -> String {
    let mut out = String::from("<!-- gitopsc-diff -->\n### gitopsc diff\n\n");
    if changes.iter().all(EnvChanges::is_empty) {
        out.push_str("No changes to the rendered output.\n");
        return out;
    }
    out.push_str("| environment | added | changed | removed |\n| --- | ---: | ---: | ---: |\n");
    for c in changes {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            c.env,
            c.added.len(),
            c.changed.len(),
            c.removed.len()
        ));
    }
    for env in changes.iter().filter(|c| !c.is_empty()) {
        out.push_str(&format!(
            "\n<details><summary><b>{}</b>: {}</summary>\n\n",
            env.env,
            env.summary()
        ));
        for (label, list) in [
            ("added", &env.added),
            ("changed", &env.changed),
            ("removed", &env.removed),
        ] {
            for c in list {
                out.push_str(&format!(
                    "**{label}** `{}`\n\n{}\n",
                    c.key.display(),
                    object_block(c)
                ));
            }
        }
        out.push_str("</details>\n");
    }
    out
}

/// For tools.
pub fn json(changes: &[EnvChanges]) -> String {
    let key = |c: &ObjectChange| json!({"kind": c.key.kind, "group": c.key.group, "namespace": c.key.namespace, "name": c.key.name});
    let envs: Vec<_> = changes
        .iter()
        .map(|e| {
            json!({
                "environment": e.env,
                "added": e.added.iter().map(key).collect::<Vec<_>>(),
                "changed": e.changed.iter().map(|c| { let mut k = key(c); k["diff"] = json!(changes::unified(c)); k }).collect::<Vec<_>>(),
                "removed": e.removed.iter().map(key).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(
        &json!({"changed": !changes.iter().all(EnvChanges::is_empty), "environments": envs}),
    )
    .unwrap_or_default();
    text.push('\n');
    text
}
