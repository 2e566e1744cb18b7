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

/// `https://user:token@host/x` as `https://host/x` and `(user, token)`.
pub fn split_credentials(url: &str) -> (String, Option<(String, String)>) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return (url.to_string(), None);
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return (url.to_string(), None);
    };
    let userinfo = &rest[..at];
    let Some((user, secret)) = userinfo.split_once(':') else {
        // `ssh://git@host`: a user name only, nothing secret.
        return (url.to_string(), None);
    };
    let clean = format!("{}{}@{}", &url[..scheme_end], user, &rest[at + 1..]);
    let clean = if user.is_empty() {
        format!("{}{}", &url[..scheme_end], &rest[at + 1..])
    } else {
        clean
    };
    (clean, Some((user.to_string(), secret.to_string())))
}

/// A URL fit for messages: any password or token in it replaced by `*****`.
pub fn redact_url(url: &str) -> String {
    match split_credentials(url) {
        (clean, Some(_)) => match clean.find("://") {
            Some(i)
                if clean[i + 3..]
                    .split('/')
                    .next()
                    .is_some_and(|a| a.contains('@')) =>
            {
                clean.replacen('@', ":*****@", 1)
            }
            Some(i) => format!("{}*****@{}", &clean[..i + 3], &clean[i + 3..]),
            None => clean,
        },
        (clean, None) => clean,
    }
}

thread_local! {
    /// Credentials taken from the target URL, for this thread's pushes and fetches only.
    static URL_CREDENTIALS: std::cell::RefCell<Option<(String, String)>> = const { std::cell::RefCell::new(None) };
}

/// Holds the URL's credentials while a publish runs; clears them when dropped.
struct UrlCredentials;

impl UrlCredentials {
    fn set(userinfo: Option<(String, String)>) -> UrlCredentials {
        URL_CREDENTIALS.with(|c| *c.borrow_mut() = userinfo);
        UrlCredentials
    }
}

impl Drop for UrlCredentials {
    fn drop(&mut self) {
        URL_CREDENTIALS.with(|c| *c.borrow_mut() = None);
    }
}

/// A work tree whose owned directories (or their parents) are links would
/// have the checkout write through them: refused before anything moves.
fn refuse_links_in_worktree(repo: &Repository, owned: &[String]) -> Result<()> {
    let Some(workdir) = repo.workdir() else {
        return Ok(());
    };
    for dir in owned {
        let mut at = workdir.to_path_buf();
        for part in dir.split('/').filter(|p| !p.is_empty()) {
            at.push(part);
            if fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(Error::io(
                    &at,
                    &std::io::Error::other(
                        "is a symbolic link, and gitopsc never writes through links",
                    ),
                )
                .with_help("replace the link with a real directory in the target repository"));
            }
        }
        if at.is_dir() {
            for entry in walkdir::WalkDir::new(&at).follow_links(false) {
                let entry =
                    entry.map_err(|e| Error::io(&at, &std::io::Error::other(e.to_string())))?;
                if entry.file_type().is_symlink() {
                    return Err(Error::io(
                        entry.path(),
                        &std::io::Error::other(
                            "is a symbolic link inside a directory gitopsc owns",
                        ),
                    )
                    .with_help("gitopsc replaces owned directories whole; remove the link"));
                }
            }
        }
    }
    Ok(())
}

/// Refuses a local target with uncommitted changes or an operation in progress.
fn refuse_busy(repo: &Repository) -> Result<()> {
    if repo.state() != RepositoryState::Clean {
        return Err(Error::plain(
            ErrorKind::Git,
            format!(
                "the target repository is in the middle of a {:?}",
                repo.state()
            ),
        )
        .with_help("finish or abort the merge, rebase or cherry-pick first"));
    }
    if repo.is_bare() {
        return Ok(());
    }
    let mut options = StatusOptions::new();
    options.include_untracked(true).include_ignored(false);
    let statuses = repo
        .statuses(Some(&mut options))
        .map_err(|e| git_error("cannot read the target's status", &e))?;
    if let Some(entry) = statuses.iter().next() {
        return Err(Error::plain(
            ErrorKind::Git,
            format!(
                "the target repository has uncommitted changes (`{}` and {} more)",
                entry.path().unwrap_or("?"),
                statuses.len() - 1
            ),
        )
        .with_help("commit or stash them; gitopsc never overwrites work in progress"));
    }
    Ok(())
}

fn find_commit<'r>(repo: &'r Repository, reference: &str) -> Result<Option<Commit<'r>>> {
    match repo.find_reference(reference) {
        Ok(r) => r
            .peel_to_commit()
            .map(Some)
            .map_err(|e| git_error(&format!("`{reference}` is not a commit"), &e)),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(git_error(&format!("cannot read `{reference}`"), &e)),
    }
}

/// The commit of `request` on top of `parent`, or `None` when nothing changes.
fn build_commit(
    repo: &Repository,
    request: &Request,
    parent: Option<&Commit>,
) -> Result<Option<Oid>> {
    let mut index = Index::new().map_err(|e| git_error("cannot create an index", &e))?;
    let mut previous = BTreeMap::new();
    if let Some(parent) = parent {
        let tree = parent
            .tree()
            .map_err(|e| git_error("cannot read the branch's tree", &e))?;
        index
            .read_tree(&tree)
            .map_err(|e| git_error("cannot read the branch's tree", &e))?;
        for entry in index.iter() {
            let path = String::from_utf8_lossy(&entry.path).into_owned();
            if owned(&request.owned, &path)
                && let Ok(blob) = repo.find_blob(entry.id)
            {
                previous.insert(path, blob.content().to_vec());
            }
        }
        for dir in &request.owned {
            index
                .remove_dir(Path::new(dir), 0)
                .map_err(|e| git_error("cannot clear an owned directory", &e))?;
        }
    }
    for (path, bytes) in &request.files {
        let id = repo
            .blob(bytes)
            .map_err(|e| git_error(&format!("cannot store `{path}`"), &e))?;
        index
            .add(&file_entry(path, id, bytes.len()))
            .map_err(|e| git_error(&format!("cannot stage `{path}`"), &e))?;
    }
    let tree_id = index
        .write_tree_to(repo)
        .map_err(|e| git_error("cannot write the tree", &e))?;
    if parent.is_some_and(|p| p.tree_id() == tree_id) {
        return Ok(None);
    }
    let tree = repo
        .find_tree(tree_id)
        .map_err(|e| git_error("cannot read the new tree", &e))?;
    let author = signature(&request.author)?;
    let committer = signature(&request.committer)?;
    let parents: Vec<&Commit> = parent.into_iter().collect();
    let message = (request.message)(&previous);
    repo.commit(None, &author, &committer, &message, &tree, &parents)
        .map(Some)
        .map_err(|e| git_error("cannot create the commit", &e))
}

fn owned(dirs: &[String], path: &str) -> bool {
    dirs.iter().any(|d| path.starts_with(&format!("{d}/")))
}

fn file_entry(path: &str, id: Oid, len: usize) -> IndexEntry {
    IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode: 0o100644,
        uid: 0,
        gid: 0,
        file_size: u32::try_from(len).unwrap_or(u32::MAX),
        id,
        flags: u16::try_from(path.len().min(0xfff)).unwrap_or(0xfff),
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

fn signature(who: &Identity) -> Result<Signature<'static>> {
    Signature::now(&who.name, &who.email).map_err(|e| git_error("invalid author or committer", &e))
}

/// Moves `branch_ref` to `to` only if it still points at `expected` (or does not exist).
fn move_branch(repo: &Repository, branch_ref: &str, to: Oid, expected: Option<Oid>) -> Result<()> {
    let result = match expected {
        Some(current) => repo
            .reference_matching(branch_ref, to, true, current, "gitopsc publish")
            .map(|_| ()),
        None => repo
            .reference(branch_ref, to, false, "gitopsc publish")
            .map(|_| ()),
    };
    result.map_err(|e| {
        Error::plain(
            ErrorKind::Git,
            format!("`{branch_ref}` moved while publishing: {}", e.message()),
        )
        .with_help("someone else committed to the branch at the same time; run again")
    })?;
    if !repo.is_bare()
        && let Ok(head) = repo.head()
        && head.name().ok() == Some(branch_ref)
    {
        // The work tree was clean (checked first), so forcing it to the new commit loses nothing.
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.force();
        repo.checkout_head(Some(&mut checkout))
            .map_err(|e| git_error("cannot update the work tree", &e))?;
    }
    Ok(())
}

enum PushError {
    /// The remote moved or was busy: fetch, rebuild, try again.
    Retry(String),
    Fatal(Error),
}

/// Pushes `commit` to `branch` of `origin`, which must still point at `expected`.
fn push(
    repo: &Repository,
    commit: Oid,
    branch: &str,
    expected: Option<Oid>,
) -> std::result::Result<(), PushError> {
    let mut remote = repo.find_remote("origin").map_err(|e| {
        PushError::Fatal(
            git_error("the target has no `origin` remote", &e)
                .with_help("add one, or publish without --push"),
        )
    })?;
    let url = remote.url().unwrap_or_default().to_string();
    match local_remote_path(repo, &url) {
        // libgit2 writes a local remote's ref without re-checking it, so racing
        // publishers could overwrite each other: write the objects into the
        // remote, then move the branch by compare-and-swap in the remote itself.
        Some(path) => push_local(repo, commit, branch, expected, &path),
        // A smart server checks the old value itself when it receives the push.
        None => push_ref(repo, &mut remote, commit, &format!("refs/heads/{branch}")),
    }
}

fn push_ref(
    repo: &Repository,
    remote: &mut git2::Remote,
    commit: Oid,
    destination: &str,
) -> std::result::Result<(), PushError> {
    let staging = format!("refs/gitopsc/publish/{}", unique_suffix());
    repo.reference(&staging, commit, true, "gitopsc publish")
        .map_err(|e| PushError::Fatal(git_error("cannot stage the push", &e)))?;
    let mut rejection: Option<String> = None;
    let result = {
        let mut callbacks = callbacks();
        callbacks.push_update_reference(|_, status| {
            if let Some(message) = status {
                rejection = Some(message.to_string());
            }
            Ok(())
        });
        let mut options = PushOptions::new();
        options.remote_callbacks(callbacks);
        remote.push(&[format!("{staging}:{destination}")], Some(&mut options))
    };
    let _ = repo.find_reference(&staging).and_then(|mut r| r.delete());
    if progress_shown() {
        eprintln!();
    }
    match (result, rejection) {
        (Ok(()), None) => Ok(()),
        (Ok(()), Some(message)) if branch_moved(&message) => Err(PushError::Retry(message)),
        // A hook, a protected branch or missing permissions: trying again changes nothing.
        (Ok(()), Some(message)) => Err(PushError::Fatal(
            Error::plain(
                ErrorKind::Git,
                format!("the remote rejected the push to `{destination}`: {message}"),
            )
            .with_help("the remote's hooks or permissions refuse this push; ask its owner, or publish elsewhere"),
        )),
        (Err(e), _) if is_retryable(&e) => Err(PushError::Retry(e.message().to_string())),
        (Err(e), _) => Err(PushError::Fatal(git_error("push failed", &e))),
    }
}

fn push_local(
    repo: &Repository,
    commit: Oid,
    branch: &str,
    expected: Option<Oid>,
    path: &Path,
) -> std::result::Result<(), PushError> {
    let target = Repository::open(path).map_err(|e| {
        PushError::Fatal(git_error(
            &format!("cannot open the remote `{}`", path.display()),
            &e,
        ))
    })?;
    let branch_ref = format!("refs/heads/{branch}");
    if !target.is_bare()
        && target
            .head()
            .ok()
            .and_then(|h| h.name().ok().map(str::to_string))
            .as_deref()
            == Some(branch_ref.as_str())
    {
        return Err(PushError::Fatal(
            Error::plain(
                ErrorKind::Git,
                format!(
                    "`{branch}` is checked out in the non-bare remote `{}`",
                    path.display()
                ),
            )
            .with_help("push to a bare repository, as git itself requires"),
        ));
    }
    send_objects(repo, &target, commit, expected)
        .map_err(|e| PushError::Fatal(git_error("cannot copy objects to the remote", &e)))?;
    let moved = match expected {
        Some(old) => target
            .reference_matching(&branch_ref, commit, true, old, "gitopsc publish")
            .map(|_| ()),
        None => target
            .reference(&branch_ref, commit, false, "gitopsc publish")
            .map(|_| ()),
    };
    moved.map_err(|e| PushError::Retry(format!("`{branch}` moved: {}", e.message())))
}

/// Writes the objects `commit` needs (beyond `known`) as one pack into the
/// remote's object store. Packs appear there whole, and no ref is created
/// that other publishers could see half-made.
fn send_objects(
    repo: &Repository,
    target: &Repository,
    commit: Oid,
    known: Option<Oid>,
) -> std::result::Result<(), git2::Error> {
    let mut walk = repo.revwalk()?;
    walk.push(commit)?;
    if let Some(old) = known {
        walk.hide(old)?;
    }
    let mut pack = repo.packbuilder()?;
    pack.insert_walk(&mut walk)?;
    pack.write(&target.path().join("objects").join("pack"), 0o444)?;
    target.odb()?.refresh()
}

/// The directory of a `file://` or path remote; `None` for network remotes.
fn local_remote_path(repo: &Repository, url: &str) -> Option<PathBuf> {
    if let Some(path) = url.strip_prefix("file://") {
        return Some(PathBuf::from(path));
    }
    if matches!(Target::parse(url), Target::Url(_)) {
        return None;
    }
    let path = PathBuf::from(url);
    Some(if path.is_absolute() {
        path
    } else {
        repo.workdir().unwrap_or_else(|| repo.path()).join(path)
    })
}

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// A per-ref rejection that means "someone pushed first", the one case a retry mends.
fn branch_moved(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "fast-forward",
        "fastforward",
        "fetch first",
        "stale info",
        "lock",
        "non-fast",
    ]
    .iter()
    .any(|w| m.contains(w))
}

fn is_retryable(e: &git2::Error) -> bool {
    matches!(
        e.code(),
        ErrorCode::NotFastForward | ErrorCode::Locked | ErrorCode::Modified
    ) || e.message().contains("fast-forward")
        || e.message().contains("fastforward")
        || e.message().contains("lock")
}

fn fetch(repo: &Repository, branch: &str) -> Result<()> {
    let mut remote = repo
        .find_remote("origin")
        .map_err(|e| git_error("the repository has no `origin` remote", &e))?;
    let refspec = format!("+refs/heads/{branch}:refs/remotes/origin/{branch}");
    let mut attempt: u64 = 0;
    loop {
        let mut options = FetchOptions::new();
        options.remote_callbacks(callbacks());
        match remote.fetch(&[refspec.as_str()], Some(&mut options), None) {
            Ok(()) => return Ok(()),
            // A branch that does not exist yet is published as the first commit on it.
            Err(e) if e.message().contains("couldn't find remote ref") => {
                let _ = repo
                    .find_reference(&format!("refs/remotes/origin/{branch}"))
                    .and_then(|mut r| r.delete());
                return Ok(());
            }
            // Another publisher's ref vanished while the remote was listed, or a
            // lock was held for a moment: transient, so look again.
            Err(e)
                if attempt < 5
                    && (e.code() == ErrorCode::NotFound
                        || e.code() == ErrorCode::Locked
                        || e.message().contains("not found")) =>
            {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(20 * attempt));
            }
            Err(e) => return Err(git_error("cannot fetch from the GitOps repository", &e)),
        }
    }
}

fn progress_shown() -> bool {
    std::io::stderr().is_terminal()
}

/// Credentials from the environment only, never written anywhere: a token for
/// HTTPS (`GITOPSC_GIT_TOKEN`), the SSH agent or a key file (`GITOPSC_SSH_KEY`) for SSH.
fn callbacks<'a>() -> RemoteCallbacks<'a> {
    let mut callbacks = RemoteCallbacks::new();
    let mut tried = CredentialType::empty();
    callbacks.credentials(move |_url, username, allowed| {
        let user = username.unwrap_or("git");
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) && !tried.contains(CredentialType::USER_PASS_PLAINTEXT) {
            tried |= CredentialType::USER_PASS_PLAINTEXT;
            let url_credentials = URL_CREDENTIALS.with(|c| c.borrow().clone());
            let token = std::env::var(super::target::TOKEN_VAR).ok();
            // A redirect or a local target's `origin` may still be plain HTTP.
            if (url_credentials.is_some() || token.is_some()) && super::target::is_plain_http(_url) {
                return Err(git2::Error::from_str("refusing to send credentials over plain HTTP; use https://"));
            }
            if let Some((name, token)) = url_credentials {
                return git2::Cred::userpass_plaintext(&name, &token);
            }
            if let Some(token) = token {
                let name = std::env::var("GITOPSC_GIT_USER").unwrap_or_else(|_| "x-access-token".into());
                return git2::Cred::userpass_plaintext(&name, &token);
            }
        }
        if allowed.contains(CredentialType::SSH_KEY) && !tried.contains(CredentialType::SSH_KEY) {
            tried |= CredentialType::SSH_KEY;
            if let Ok(key) = std::env::var("GITOPSC_SSH_KEY") {
                let passphrase = std::env::var("GITOPSC_SSH_PASSPHRASE").ok();
                return git2::Cred::ssh_key(user, None, Path::new(&key), passphrase.as_deref());
            }
            return git2::Cred::ssh_key_from_agent(user);
        }
        Err(git2::Error::from_str(
            "no usable credentials: set GITOPSC_GIT_TOKEN for HTTPS, or GITOPSC_SSH_KEY or an ssh-agent for SSH",
        ))
    });
    if progress_shown() {
        callbacks.push_transfer_progress(|done, total, bytes| {
            eprint!("\rpushing: {done}/{total} objects, {} KiB", bytes / 1024);
        });
        callbacks.transfer_progress(|p| {
            eprint!(
                "\rfetching: {}/{} objects",
                p.received_objects(),
                p.total_objects()
            );
            true
        });
    }
    callbacks
}

/// The cache clone of `url`: a bare repository with `origin` pointing at it.
fn open_cache(dir: &Path, url: &str) -> Result<Repository> {
    if dir.exists() {
        remove_stale_locks(dir);
        if let Ok(repo) = Repository::open_bare(dir) {
            let same = repo
                .find_remote("origin")
                .ok()
                .and_then(|r| r.url().ok().map(str::to_string))
                .as_deref()
                == Some(url);
            if same {
                return Ok(repo);
            }
        }
        fs::remove_dir_all(dir).map_err(|e| Error::io(dir, &e))?;
    }
    let repo =
        Repository::init_bare(dir).map_err(|e| git_error("cannot create the cache clone", &e))?;
    repo.remote("origin", url)
        .map_err(|e| git_error(&format!("`{url}` is not a usable remote"), &e))?;
    Ok(repo)
}

/// Under the cache lock no other gitopsc uses the clone, so any lock file in
/// it was left by a killed run.
fn remove_stale_locks(dir: &Path) {
    for entry in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
    {
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|x| x == "lock") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// An exclusive `flock` on a file beside the cache clone, released when dropped
/// or when the process dies.
struct CacheLock {
    _file: File,
}

impl CacheLock {
    fn acquire(path: &Path) -> Result<CacheLock> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, &e))?;
        lock_exclusive(&file).map_err(|e| Error::io(path, &e))?;
        Ok(CacheLock { _file: file })
    }
}

#[cfg(unix)]
fn lock_exclusive(file: &File) -> std::io::Result<()> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: the descriptor is valid for the life of `file`.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn lock_exclusive(_: &File) -> std::io::Result<()> {
    Ok(())
}

/// The commit a render came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceCommit {
    pub sha: String,
    pub author: String,
    /// Committer date, RFC 3339 with the committer's offset.
    pub date: String,
    pub subject: String,
    pub body: String,
}

pub fn source_commit(repo: &Repository, rev: &str) -> Result<SourceCommit> {
    let commit = repo
        .revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map_err(|e| git_error(&format!("cannot resolve source revision `{rev}`"), &e))?;
    let author = commit.author();
    let message = commit.message().unwrap_or_default();
    let (subject, body) = message.split_once('\n').unwrap_or((message, ""));
    let time = commit.committer().when();
    Ok(SourceCommit {
        sha: commit.id().to_string(),
        author: format!(
            "{} <{}>",
            author.name().unwrap_or_default(),
            author.email().unwrap_or_default()
        ),
        date: rfc3339(time.seconds(), time.offset_minutes()),
        subject: subject.trim().to_string(),
        body: body.trim().to_string(),
    })
}

/// The URL of `origin`, with any credentials removed, if the repository has one.
pub fn origin_url(repo: &Repository) -> Option<String> {
    let url = repo.find_remote("origin").ok()?.url().ok()?.to_string();
    Some(match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url,
    })
}

/// `seconds` since the epoch at `offset` minutes east, as RFC 3339.
pub fn rfc3339(seconds: i64, offset_minutes: i32) -> String {
    let local = seconds + i64::from(offset_minutes) * 60;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.unsigned_abs();
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        off / 60,
        off % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00+00:00");
        assert_eq!(rfc3339(1_795_000_000, 60), "2026-11-18T12:06:40+01:00");
        assert_eq!(rfc3339(951_782_400, -330), "2000-02-28T18:30:00-05:30");
    }

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
