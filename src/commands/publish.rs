//! `gitopsc publish`: put exactly the rendered tree into the GitOps
//! repository, as one commit naming its source, with provenance beside it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;

use super::EXIT_OK;
use crate::changes;
use crate::cli::{PublishArgs, PublishLayout};
use crate::error::{Error, ErrorKind, Result};
use crate::git::publish::{self as git_publish, Identity, Outcome, Request, SourceCommit, Target};
use crate::git::{self, Checkout, target};
use crate::tree::{EnvTree, RenderedTree};
use crate::workspace;
use crate::{EnvSelection, compile};

/// The provenance file Argo CD's source hydrator writes, at the root of each environment.
pub const METADATA_FILE: &str = "hydrator.metadata";

pub fn run(args: &PublishArgs) -> Result<u8> {
    let root = crate::discovery::project_root(args.project.root.as_deref())?;
    let checkout = git::discover(&root).ok_or_else(|| {
        Error::plain(
            ErrorKind::Usage,
            "publish names the commit it renders: the project must be in a git repository",
        )
        .with_help("commit the project, then publish")
    })?;
    let rev = args.source_rev.as_deref().unwrap_or("HEAD");
    let sources = source_inputs(&root, &checkout, args.source_rev.is_some(), rev)?;
    let source = git_publish::source_commit(&checkout.repo, rev)?;
    let source_repo = args
        .source_repo
        .clone()
        .or_else(|| git_publish::origin_url(&checkout.repo))
        .unwrap_or_else(|| {
            root.canonicalize()
                .unwrap_or(root.clone())
                .display()
                .to_string()
        });
    let selection = EnvSelection::from_flags(&args.project.envs);
    let tree = compile(Arc::new(sources), &selection)?;
    let repo = agreed(&tree, args.repo.as_deref(), "repository", "--repo", |d| {
        d.repo.clone()
    })?;
    let path = agreed(&tree, args.path.as_deref(), "path", "--path", |d| {
        d.path.clone()
    })?
    .trim_end_matches('/')
    .to_string();
    target::check_path(&path, from(args.path.is_some(), "--path", "gitops.path"))?;
    let (author, committer) = identities(args, git_publish::configured_identity(&checkout.repo))?;
    let cache = args.cache.clone().unwrap_or_else(default_cache);
    let plans: Vec<(String, Vec<&EnvTree>)> = match args.layout {
        PublishLayout::Path => {
            let branch = agreed(&tree, args.branch.as_deref(), "branch", "--branch", |d| {
                d.branch.clone()
            })?;
            target::check_branch(
                &branch,
                from(args.branch.is_some(), "--branch", "gitops.branch"),
            )?;
            vec![(branch, tree.envs.values().collect())]
        }
        PublishLayout::Branch => tree
            .envs
            .values()
            .map(|e| {
                (
                    format!("{}/{}", args.branch_prefix.trim_end_matches('/'), e.env),
                    vec![e],
                )
            })
            .collect(),
    };
    if args.layout == PublishLayout::Branch {
        for (branch, _) in &plans {
            target::check_branch(branch, "--branch-prefix and the environment")?;
        }
    }
    let target = Target::parse(&repo);
    let branches: Vec<String> = plans.iter().map(|(b, _)| b.clone()).collect();
    target::check_not_source(&checkout, &target, &branches)?;
    let token_set = std::env::var_os(target::TOKEN_VAR).is_some_and(|t| !t.is_empty());
    target::check_transport(&target, token_set)?;
    let whole = selection == EnvSelection::All && args.layout == PublishLayout::Path;
    for (branch, envs) in plans {
        let owned: Vec<String> = if whole {
            vec![path.clone()]
        } else {
            envs.iter().map(|e| format!("{path}/{}", e.env)).collect()
        };
        let files = publish_files(&envs, &path, &source, &source_repo);
        let env_names: Vec<String> = envs.iter().map(|e| e.env.clone()).collect();
        let message = |previous: &BTreeMap<String, Vec<u8>>| {
            commit_message(previous, &files, &path, &env_names, &source, &source_repo)
        };
        let request = Request {
            target: target.clone(),
            branch: branch.clone(),
            owned,
            files: files.clone(),
            message: &message,
            author: author.clone(),
            committer: committer.clone(),
            push: args.push,
            cache: cache.clone(),
            retries: args.retries,
        };
        match git_publish::publish(&request)? {
            Outcome::Unchanged { branch } => {
                println!(
                    "nothing to publish: `{branch}` of {} already holds the render of {}",
                    git_publish::redact_url(&repo),
                    short(&source.sha)
                );
            }
            Outcome::Committed {
                branch,
                commit,
                attempts,
            } => {
                let retried = if attempts > 1 {
                    format!(" after {attempts} attempts")
                } else {
                    String::new()
                };
                println!(
                    "published {} to `{branch}` of {} as {}{retried}",
                    env_names.join(", "),
                    git_publish::redact_url(&repo),
                    short(&commit)
                );
            }
        }
    }
    Ok(EXIT_OK)
}

/// The inputs at `rev`; for the default `HEAD`, the working tree must hold the same.
fn source_inputs(
    root: &std::path::Path,
    checkout: &Checkout,
    explicit: bool,
    rev: &str,
) -> Result<crate::sources::Sources> {
    let committed = checkout.sources_at(rev)?;
    if !explicit && !workspace::read_sources(root)?.same_files(&committed) {
        return Err(Error::plain(ErrorKind::Usage, "blueprints/ or overlays/ have changes not committed to HEAD")
            .with_help("commit them first, so the published commit names the source it came from (or pass --source-rev)"));
    }
    Ok(committed)
}

/// The one value every environment agrees on (or the flag that overrides it).
fn agreed(
    tree: &RenderedTree,
    flag: Option<&str>,
    what: &str,
    flag_name: &str,
    pick: impl Fn(&crate::tree::Destination) -> String,
) -> Result<String> {
    if let Some(value) = flag {
        return Ok(value.to_string());
    }
    let mut values: Vec<String> = tree
        .envs
        .values()
        .filter_map(|e| e.destination.as_ref().map(&pick))
        .collect();
    values.sort();
    values.dedup();
    match values.as_slice() {
        [one] if tree.envs.values().all(|e| e.destination.is_some()) => Ok(one.clone()),
        [] | [_] => Err(
            Error::plain(ErrorKind::Usage, format!("no GitOps {what} is configured")).with_help(
                format!("set `gitops:` in the blueprint, or pass {flag_name}"),
            ),
        ),
        _ => Err(Error::plain(
            ErrorKind::Usage,
            format!(
                "environments publish to different {what}s: {}",
                values.join(", ")
            ),
        )
        .with_help(format!(
            "publish them one at a time with --env, or pass {flag_name}"
        ))),
    }
}

/// Where a publish setting came from, for messages.
fn from(flag_given: bool, flag: &'static str, field: &'static str) -> &'static str {
    if flag_given { flag } else { field }
}

/// Author and committer as git would pick them: flags, then `GIT_AUTHOR_*` /
/// `GIT_COMMITTER_*`, then `user.name` and `user.email` from git config.
fn identities(args: &PublishArgs, configured: Option<Identity>) -> Result<(Identity, Identity)> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let name = args
        .author_name
        .clone()
        .or_else(|| var("GIT_AUTHOR_NAME"))
        .or_else(|| configured.as_ref().map(|i| i.name.clone()));
    let email = args
        .author_email
        .clone()
        .or_else(|| var("GIT_AUTHOR_EMAIL"))
        .or_else(|| configured.as_ref().map(|i| i.email.clone()));
    let (Some(name), Some(email)) = (name, email) else {
        return Err(Error::plain(ErrorKind::Usage, "publish needs an author for its commit")
            .with_help("pass --author-name and --author-email, set GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL, or `git config user.name` and `user.email`"));
    };
    let author = Identity { name, email };
    let committer = match (var("GIT_COMMITTER_NAME"), var("GIT_COMMITTER_EMAIL")) {
        (Some(name), Some(email)) => Identity { name, email },
        _ => configured.unwrap_or_else(|| author.clone()),
    };
    Ok((author, committer))
}

fn default_cache() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("gitopsc").join("repos")
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// The rendered files under `<path>/<env>/`, each environment with its provenance.
fn publish_files(
    envs: &[&EnvTree],
    path: &str,
    source: &SourceCommit,
    source_repo: &str,
) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for env in envs {
        for (file, text) in &env.files {
            files.insert(format!("{path}/{file}"), text.clone().into_bytes());
        }
        files.insert(
            format!("{path}/{}/{METADATA_FILE}", env.env),
            hydrator_metadata(source, source_repo),
        );
    }
    files
}

/// In the shape Argo CD's source hydrator writes, from the source commit only,
/// so the same source always publishes the same bytes.
fn hydrator_metadata(source: &SourceCommit, source_repo: &str) -> Vec<u8> {
    let mut value = json!({
        "repoURL": source_repo,
        "drySha": source.sha,
        "commands": ["gitopsc render"],
        "author": source.author,
        "date": source.date,
        "subject": source.subject,
    });
    if !source.body.is_empty() {
        value["body"] = json!(source.body);
    }
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text.into_bytes()
}

/// Subject naming the source commit, a line per environment, trailers.
fn commit_message(
    previous: &BTreeMap<String, Vec<u8>>,
    files: &BTreeMap<String, Vec<u8>>,
    path: &str,
    envs: &[String],
    source: &SourceCommit,
    source_repo: &str,
) -> String {
    let strip = |m: &BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        m.iter()
            .filter_map(|(p, b)| {
                p.strip_prefix(&format!("{path}/"))
                    .map(|rest| (rest.to_string(), b.clone()))
            })
            .collect()
    };
    let changes = changes::compare(&strip(previous), &strip(files), Some(envs)).unwrap_or_default();
    let mut message = format!(
        "gitopsc: render {} of {}\n\n",
        short(&source.sha),
        source.subject
    );
    for env in envs {
        let line = match changes.iter().find(|c| &c.env == env) {
            Some(c) if !c.is_empty() => c.summary(),
            _ => "no object changes".to_string(),
        };
        message.push_str(&format!("{env}: {line}\n"));
    }
    message.push_str(&format!(
        "\nSource-Repository: {source_repo}\nSource-Commit: {}\n",
        source.sha
    ));
    message
}
