//! `gitopsc reach`: who can reach whom on which port, per environment, as
//! the rendered NetworkPolicies allow it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use super::EXIT_OK;
use crate::cli::{ProjectArgs, ReachFormat};
use crate::error::Result;
use crate::reach::{self, Grant, Matrix};
use crate::{EnvSelection, compile, workspace};

pub fn run(args: &ProjectArgs, format: ReachFormat) -> Result<u8> {
    let root = crate::discovery::project_root(args.root.as_deref())?;
    let sources = Arc::new(workspace::read_sources(&root)?);
    let tree = compile(sources.clone(), &EnvSelection::from_flags(&args.envs))?;
    let matrices = reach::matrices(sources, tree.files().map(|(p, t)| (p.as_str(), t.as_str())))?;
    print!(
        "{}",
        match format {
            ReachFormat::Text => text(&matrices),
            ReachFormat::Markdown => markdown(&matrices),
            ReachFormat::Json => json(&matrices),
        }
    );
    Ok(EXIT_OK)
}

/// One line per allowed connection, grouped by environment.
pub fn text(matrices: &BTreeMap<String, Matrix>) -> String {
    let mut out = String::new();
    for (env, matrix) in matrices {
        out.push_str(&format!("environment {env}: {} allowed\n", matrix.len()));
        for grant in matrix {
            out.push_str(&format!("  {}\n", grant.display()));
        }
    }
    out
}

/// A table per environment, for a pull request or a review document.
pub fn markdown(matrices: &BTreeMap<String, Matrix>) -> String {
    let mut out = String::from("### gitopsc reach\n");
    for (env, matrix) in matrices {
        out.push_str(&format!(
            "\n<details><summary><b>{env}</b>: {} allowed</summary>\n\n",
            matrix.len()
        ));
        out.push_str(&grant_table(matrix.iter()));
        out.push_str("\n</details>\n");
    }
    out
}

/// `| from | to | port |` rows.
pub fn grant_table<'a>(grants: impl Iterator<Item = &'a Grant>) -> String {
    let mut out = String::from("| from | to | port |\n| --- | --- | --- |\n");
    for g in grants {
        out.push_str(&format!("| `{}` | `{}` | {} |\n", g.from, g.to, g.port));
    }
    out
}

pub fn grant_json(g: &Grant) -> serde_json::Value {
    json!({
        "from": g.from,
        "to": g.to,
        "port": g.port.number,
        "protocol": g.port.protocol.name(),
        "portName": g.port.name,
    })
}

pub fn json(matrices: &BTreeMap<String, Matrix>) -> String {
    let envs: Vec<_> = matrices
        .iter()
        .map(|(env, m)| json!({"environment": env, "allowed": m.iter().map(grant_json).collect::<Vec<_>>()}))
        .collect();
    let mut text = serde_json::to_string_pretty(&json!({"environments": envs})).unwrap_or_default();
    text.push('\n');
    text
}
