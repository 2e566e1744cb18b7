//! The markdown form of a diff, for a pull request comment or
//! `$GITHUB_STEP_SUMMARY`: a summary table, then the changes in folded
//! blocks, a change identical in several environments shown once.

use std::collections::{BTreeMap, BTreeSet};

use crate::changes::{self, EnvChanges, ObjectChange, ObjectKey};
use crate::reach::ReachChanges;

fn object_block(c: &ObjectChange) -> String {
    let body = match (&c.old, &c.new) {
        (Some(_), Some(_)) => changes::unified(c),
        (None, Some(new)) => new.lines().map(|l| format!("+{l}\n")).collect(),
        (Some(old), None) => old.lines().map(|l| format!("-{l}\n")).collect(),
        (None, None) => String::new(),
    };
    format!("```diff\n{body}```\n")
}

/// For a pull request comment or `$GITHUB_STEP_SUMMARY`: a summary table,
/// then the changes folded. A change identical in several environments (the
/// same object, the same before and after) is shown once, in a block naming
/// them; each environment's block holds the rest and its reachability.
pub fn markdown(changes: &[EnvChanges], reach: &BTreeMap<String, ReachChanges>) -> String {
    let none = ReachChanges::default();
    let reach_of = |env: &str| reach.get(env).unwrap_or(&none);
    let mut out = String::from("<!-- gitopsc-diff -->\n### gitopsc diff\n\n");
    if changes
        .iter()
        .all(|c| c.is_empty() && reach_of(&c.env).is_empty())
    {
        out.push_str("No changes to the rendered output.\n");
        return out;
    }
    out.push_str("| environment | added | changed | removed | now allowed | no longer allowed |\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
    for c in changes {
        let r = reach_of(&c.env);
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            c.env,
            c.added.len(),
            c.changed.len(),
            c.removed.len(),
            r.allowed.len(),
            r.denied.len()
        ));
    }
    let shared = shared_changes(changes);
    let mut groups: Vec<(&Vec<usize>, &Vec<LabelledChange>)> = Vec::new();
    for (envs, list) in &shared.by_envs {
        groups.push((envs, list));
    }
    // The widest agreement first: a change every environment gets is the headline.
    groups.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(b.0)));
    for (envs, list) in groups {
        let names: Vec<&str> = envs.iter().map(|&i| changes[i].env.as_str()).collect();
        out.push_str(&format!(
            "\n<details><summary><b>{}</b>: the same {} in each</summary>\n\n",
            names.join(", "),
            counts(list)
        ));
        if shared.context_differs.contains(envs) {
            out.push_str(&format!(
                "_As in {}; the unchanged lines around an edit may differ in the others._\n\n",
                names[0]
            ));
        }
        for (label, c) in list {
            out.push_str(&object_markdown(label, c));
        }
        out.push_str("</details>\n");
    }
    for (index, env) in changes.iter().enumerate() {
        let own: Vec<LabelledChange> = labelled(env)
            .filter(|change| !shared.folded.contains(&(index, change_id(change))))
            .collect();
        let env_reach = reach_of(&env.env);
        if own.is_empty() && env_reach.is_empty() {
            continue;
        }
        let besides = if own.len() < labelled(env).count() {
            " besides the shared changes above"
        } else {
            ""
        };
        out.push_str(&format!(
            "\n<details><summary><b>{}</b>: {}{besides}</summary>\n\n",
            env.env,
            counts(&own)
        ));
        for (label, c) in &own {
            out.push_str(&object_markdown(label, c));
        }
        out.push_str(&reach_markdown(env_reach));
        out.push_str("</details>\n");
    }
    out
}

/// An object change with its label: `added`, `changed` or `removed`.
type LabelledChange<'a> = (&'static str, &'a ObjectChange);

/// What makes two environments' changes the same change: the object and
/// the edit, the lines removed and added. The unchanged lines around an edit
/// may differ (an environment's name in a neighbouring line), so a change's
/// own hunks are not compared.
type ChangeId<'a> = (&'static str, &'a ObjectKey, String);

fn change_id<'a>((label, c): &LabelledChange<'a>) -> ChangeId<'a> {
    let edit = match (&c.old, &c.new) {
        (Some(_), Some(_)) => changes::unified(c)
            .lines()
            .filter(|l| {
                (l.starts_with('+') || l.starts_with('-'))
                    && !l.starts_with("+++")
                    && !l.starts_with("---")
            })
            .collect::<Vec<_>>()
            .join("\n"),
        (old, new) => format!("{old:?}{new:?}"),
    };
    (label, &c.key, edit)
}

/// An environment's changes, added first, then changed, then removed.
fn labelled(env: &EnvChanges) -> impl Iterator<Item = LabelledChange<'_>> {
    let with = |label: &'static str| move |c| (label, c);
    (env.added.iter().map(with("added")))
        .chain(env.changed.iter().map(with("changed")))
        .chain(env.removed.iter().map(with("removed")))
}

/// The changes identical in two or more environments.
struct Shared<'a> {
    /// Environment indices (in promotion order) -> the changes exactly they share.
    by_envs: BTreeMap<Vec<usize>, Vec<LabelledChange<'a>>>,
    /// (environment index, change) pairs shown in a shared block.
    folded: BTreeSet<(usize, ChangeId<'a>)>,
    /// Groups whose objects read differently around an edit in some environment.
    context_differs: BTreeSet<Vec<usize>>,
}

fn shared_changes(changes: &[EnvChanges]) -> Shared<'_> {
    // Per change: the environments with it, its first occurrence, and
    // whether another occurrence reads differently around the edit.
    let mut envs_of: BTreeMap<ChangeId, (Vec<usize>, LabelledChange, bool)> = BTreeMap::new();
    for (index, env) in changes.iter().enumerate() {
        for change in labelled(env) {
            let (envs, first, differs) = envs_of
                .entry(change_id(&change))
                .or_insert_with(|| (Vec::new(), change, false));
            *differs |= first.1.old != change.1.old || first.1.new != change.1.new;
            envs.push(index);
        }
    }
    let mut shared = Shared {
        by_envs: BTreeMap::new(),
        folded: Default::default(),
        context_differs: Default::default(),
    };
    // `envs_of` is in identity order, so each block lists its objects in that order too.
    let mut in_label_order: Vec<_> = envs_of
        .into_iter()
        .filter(|(_, (envs, _, _))| envs.len() > 1)
        .collect();
    in_label_order.sort_by_key(|(id, _)| label_rank(id.0));
    for (id, (envs, change, differs)) in in_label_order {
        for &index in &envs {
            shared.folded.insert((index, id.clone()));
        }
        if differs {
            shared.context_differs.insert(envs.clone());
        }
        shared.by_envs.entry(envs).or_default().push(change);
    }
    shared
}

fn label_rank(label: &str) -> u8 {
    match label {
        "added" => 0,
        "changed" => 1,
        _ => 2,
    }
}

/// `1 added, 2 changed, 0 removed` of a list of labelled changes.
fn counts(list: &[LabelledChange]) -> String {
    let count = |label: &str| list.iter().filter(|(l, _)| *l == label).count();
    format!(
        "{} added, {} changed, {} removed",
        count("added"),
        count("changed"),
        count("removed")
    )
}

fn object_markdown(label: &str, c: &ObjectChange) -> String {
    format!("**{label}** `{}`\n\n{}\n", c.key.display(), object_block(c))
}

/// The reachability block of one environment: what is now allowed, what no longer.
fn reach_markdown(changes: &ReachChanges) -> String {
    if changes.is_empty() {
        return String::new();
    }
    let mut out =
        String::from("**reachability**\n\n| | from | to | port |\n| --- | --- | --- | --- |\n");
    for (label, list) in [
        ("now allowed", &changes.allowed),
        ("no longer allowed", &changes.denied),
    ] {
        for g in list {
            out.push_str(&format!(
                "| {label} | `{}` | `{}` | {} |\n",
                g.from, g.to, g.port
            ));
        }
    }
    out.push('\n');
    out
}
