//! Committing a rendered tree to a GitOps repository, and pushing it.
//!
//! The new tree is built in an in-memory index on top of the branch tip:
//! owned directories are replaced, everything else is kept as it was. No
//! change, no commit. Local branches move by compare-and-swap; pushes are
//! never forced: a rejected push fetches, rebuilds the commit on the new tip
//! and tries again, a bounded number of times. URL targets live in a cache
//! clone guarded by a file lock, so a killed run leaves nothing that blocks
//! the next one.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use git2::{
    Commit, CredentialType, ErrorCode, FetchOptions, Index, IndexEntry, IndexTime, Oid,
    PushOptions, RemoteCallbacks, Repository, RepositoryState, Signature, StatusOptions,
};

use super::git_error;
use crate::error::{Error, ErrorKind, Result};

mod cache;
mod commit;
mod credentials;
mod push;
mod refusals;
mod source;

use cache::*;
use commit::*;
use credentials::*;
pub use credentials::{redact_url, split_credentials};
use push::*;
use refusals::*;
pub use source::{SourceCommit, origin_url, rfc3339, source_commit};

/// Who a commit is by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

/// Where to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Cloned into a cache, committed and pushed.
    Url(String),
    /// A repository on disk; the commit goes on its branch.
    Local(PathBuf),
}

impl Target {
    /// URLs by scheme (or scp-like `git@host:path`); anything else is a path.
    pub fn parse(s: &str) -> Target {
        let url = ["https://", "http://", "ssh://", "file://", "git://"]
            .iter()
            .any(|p| s.starts_with(p))
            || (s.contains('@') && s.contains(':') && !s.starts_with('/'));
        if url {
            Target::Url(s.to_string())
        } else {
            Target::Local(PathBuf::from(s))
        }
    }
}

/// Files by repo-relative path.
pub type Files = BTreeMap<String, Vec<u8>>;

/// Writes the commit message, given the files the owned directories held before.
pub type MessageFn<'a> = &'a dyn Fn(&Files) -> String;

/// One publish: what to write where, and how to describe it.
pub struct Request<'a> {
    pub target: Target,
    pub branch: String,
    /// Directories (repo-relative, no trailing slash) this publish owns exactly.
    pub owned: Vec<String>,
    /// Files to write, by repo-relative path; all lie under an owned directory.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The commit message, given the files the owned directories held before.
    pub message: MessageFn<'a>,
    pub author: Identity,
    pub committer: Identity,
    /// Push a local target's branch to its `origin`.
    pub push: bool,
    pub cache: PathBuf,
    pub retries: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The branch already holds exactly this content.
    Unchanged { branch: String },
    Committed {
        branch: String,
        commit: String,
        attempts: u32,
    },
}

/// Publishes `request`; see the module documentation for the guarantees.
pub fn publish(request: &Request) -> Result<Outcome> {
    match &request.target {
        Target::Url(url) => publish_to_url(request, url),
        Target::Local(path) => publish_to_local(request, path),
    }
}

fn publish_to_url(request: &Request, url: &str) -> Result<Outcome> {
    // Credentials in the URL authenticate the push; the cache keeps the URL without them.
    let (url, userinfo) = split_credentials(url);
    let url = url.as_str();
    let dir = request.cache.join(format!(
        "{}.git",
        crate::sources::sha256_hex(url.as_bytes())
            .get(..16)
            .unwrap_or("repo")
    ));
    fs::create_dir_all(&request.cache).map_err(|e| Error::io(&request.cache, &e))?;
    let _lock = CacheLock::acquire(&dir.with_extension("lock"))?;
    let repo = open_cache(&dir, url)?;
    let _credentials = UrlCredentials::set(userinfo);
    let tracking = format!("refs/remotes/origin/{}", request.branch);
    for attempt in 1..=request.retries + 1 {
        fetch(&repo, &request.branch)?;
        let parent = find_commit(&repo, &tracking)?;
        let Some(commit) = build_commit(&repo, request, parent.as_ref())? else {
            return Ok(Outcome::Unchanged {
                branch: request.branch.clone(),
            });
        };
        match push(
            &repo,
            commit,
            &request.branch,
            parent.as_ref().map(Commit::id),
        ) {
            Ok(()) => {
                repo.reference(&tracking, commit, true, "gitopsc publish")
                    .map_err(|e| git_error("cannot record the pushed commit", &e))?;
                return Ok(Outcome::Committed {
                    branch: request.branch.clone(),
                    commit: commit.to_string(),
                    attempts: attempt,
                });
            }
            Err(PushError::Retry(_)) if attempt <= request.retries => backoff(attempt),
            Err(PushError::Retry(why)) => return Err(gave_up(request, &why)),
            Err(PushError::Fatal(err)) => return Err(err),
        }
    }
    Err(gave_up(request, "the remote kept moving"))
}

fn publish_to_local(request: &Request, path: &Path) -> Result<Outcome> {
    let repo = Repository::open(path).map_err(|e| {
        git_error(
            &format!("cannot open `{}` as a git repository", path.display()),
            &e,
        )
    })?;
    refuse_busy(&repo)?;
    refuse_links_in_worktree(&repo, &request.owned)?;
    let branch_ref = format!("refs/heads/{}", request.branch);
    let origin_ref = format!("refs/remotes/origin/{}", request.branch);
    for attempt in 1..=request.retries + 1 {
        // With --push the commit must also fit the remote: build on whichever of the
        // local branch and `origin/<branch>` contains the other.
        let remote_tip = if request.push {
            fetch(&repo, &request.branch)?;
            find_commit(&repo, &origin_ref)?.map(|c| c.id())
        } else {
            None
        };
        let local = find_commit(&repo, &branch_ref)?;
        let parent = if request.push {
            newest(&repo, local.clone(), &request.branch)?
        } else {
            local.clone()
        };
        let Some(commit) = build_commit(&repo, request, parent.as_ref())? else {
            // The content is there already, but an earlier publish without
            // --push may have left it unpushed: push what the branch holds.
            let unpushed = parent
                .as_ref()
                .map(Commit::id)
                .filter(|tip| Some(*tip) != remote_tip);
            if let (true, Some(tip)) = (request.push, unpushed) {
                match push(&repo, tip, &request.branch, remote_tip) {
                    Ok(()) => {
                        return Ok(Outcome::Committed {
                            branch: request.branch.clone(),
                            commit: tip.to_string(),
                            attempts: attempt,
                        });
                    }
                    Err(PushError::Retry(_)) if attempt <= request.retries => {
                        backoff(attempt);
                        continue;
                    }
                    Err(PushError::Retry(why)) => return Err(gave_up(request, &why)),
                    Err(PushError::Fatal(err)) => return Err(err),
                }
            }
            return Ok(Outcome::Unchanged {
                branch: request.branch.clone(),
            });
        };
        move_branch(&repo, &branch_ref, commit, local.as_ref().map(Commit::id))?;
        if !request.push {
            return Ok(Outcome::Committed {
                branch: request.branch.clone(),
                commit: commit.to_string(),
                attempts: attempt,
            });
        }
        match push(&repo, commit, &request.branch, remote_tip) {
            Ok(()) => {
                return Ok(Outcome::Committed {
                    branch: request.branch.clone(),
                    commit: commit.to_string(),
                    attempts: attempt,
                });
            }
            Err(PushError::Retry(_)) if attempt <= request.retries => {
                // Take our commit back off the branch; it is rebuilt on the new remote tip.
                match &local {
                    Some(previous) => move_branch(&repo, &branch_ref, previous.id(), Some(commit))?,
                    None => repo
                        .find_reference(&branch_ref)
                        .and_then(|mut r| r.delete())
                        .map_err(|e| git_error("cannot undo the local commit", &e))?,
                }
                backoff(attempt);
            }
            Err(PushError::Retry(why)) => return Err(gave_up(request, &why)),
            Err(PushError::Fatal(err)) => return Err(err),
        }
    }
    Err(gave_up(request, "the remote kept moving"))
}

/// Of the local tip and `origin/<branch>`, the one that contains the other; a fork is an error.
fn newest<'r>(
    repo: &'r Repository,
    local: Option<Commit<'r>>,
    branch: &str,
) -> Result<Option<Commit<'r>>> {
    let remote = find_commit(repo, &format!("refs/remotes/origin/{branch}"))?;
    match (local, remote) {
        (None, remote) => Ok(remote),
        (local, None) => Ok(local),
        (Some(l), Some(r)) => {
            if l.id() == r.id() || repo.graph_descendant_of(r.id(), l.id()).unwrap_or(false) {
                Ok(Some(r))
            } else if repo.graph_descendant_of(l.id(), r.id()).unwrap_or(false) {
                Ok(Some(l))
            } else {
                Err(Error::plain(
                    ErrorKind::Git,
                    format!("local `{branch}` and `origin/{branch}` have diverged"),
                )
                .with_help("bring the local branch up to date with its remote, then publish again"))
            }
        }
    }
}

fn gave_up(request: &Request, why: &str) -> Error {
    Error::plain(
        ErrorKind::Git,
        format!(
            "gave up publishing to `{}` after {} attempts: {why}",
            request.branch,
            request.retries + 1
        ),
    )
    .with_help("other publishers keep moving the branch; run again, or raise --retries")
}

/// Jittered exponential backoff, so racing publishers spread out.
fn backoff(attempt: u32) {
    let base = 20u64 << attempt.min(6);
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
        % base;
    std::thread::sleep(Duration::from_millis(base + jitter));
}

/// `user.name` and `user.email` from git's configuration of `repo` (its own,
/// then the user's and the system's), as `git commit` would use them.
pub fn configured_identity(repo: &Repository) -> Option<Identity> {
    let config = repo.config().ok()?.snapshot().ok()?;
    let name = config.get_string("user.name").ok()?;
    let email = config.get_string("user.email").ok()?;
    (!name.trim().is_empty() && !email.trim().is_empty()).then_some(Identity { name, email })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_by_scheme() {
        assert_eq!(
            Target::parse("https://github.com/a/b.git"),
            Target::Url("https://github.com/a/b.git".into())
        );
        assert_eq!(
            Target::parse("git@github.com:a/b.git"),
            Target::Url("git@github.com:a/b.git".into())
        );
        assert_eq!(
            Target::parse("file:///srv/gitops.git"),
            Target::Url("file:///srv/gitops.git".into())
        );
        assert_eq!(
            Target::parse("../gitops"),
            Target::Local(PathBuf::from("../gitops"))
        );
    }
}
