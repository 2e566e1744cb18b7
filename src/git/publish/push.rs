//! Pushing: never forced; a rejected push is told apart from a failure so the
//! caller can fetch, rebuild and retry; local remotes are pushed to through
//! libgit2 without a server. Also the fetch of the target branch and the
//! transfer callbacks (credentials, progress).

use super::*;

pub(super) enum PushError {
    /// The remote moved or was busy: fetch, rebuild, try again.
    Retry(String),
    Fatal(Error),
}

/// Pushes `commit` to `branch` of `origin`, which must still point at `expected`.
pub(super) fn push(
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

pub(super) fn push_ref(
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

pub(super) fn push_local(
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
pub(super) fn send_objects(
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
pub(super) fn local_remote_path(repo: &Repository, url: &str) -> Option<PathBuf> {
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

pub(super) fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// A per-ref rejection that means "someone pushed first", the one case a retry mends.
pub(super) fn branch_moved(message: &str) -> bool {
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

pub(super) fn is_retryable(e: &git2::Error) -> bool {
    matches!(
        e.code(),
        ErrorCode::NotFastForward | ErrorCode::Locked | ErrorCode::Modified
    ) || e.message().contains("fast-forward")
        || e.message().contains("fastforward")
        || e.message().contains("lock")
}

pub(super) fn fetch(repo: &Repository, branch: &str) -> Result<()> {
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

pub(super) fn progress_shown() -> bool {
    std::io::stderr().is_terminal()
}

/// Credentials from the environment only, never written anywhere: a token for
/// HTTPS (`GITOPSC_GIT_TOKEN`), the SSH agent or a key file (`GITOPSC_SSH_KEY`) for SSH.
pub(super) fn callbacks<'a>() -> RemoteCallbacks<'a> {
    let mut callbacks = RemoteCallbacks::new();
    let mut tried = CredentialType::empty();
    callbacks.credentials(move |_url, username, allowed| {
        let user = username.unwrap_or("git");
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) && !tried.contains(CredentialType::USER_PASS_PLAINTEXT) {
            tried |= CredentialType::USER_PASS_PLAINTEXT;
            let url_credentials = URL_CREDENTIALS.with(|c| c.borrow().clone());
            let token = std::env::var(crate::git::target::TOKEN_VAR).ok();
            // A redirect or a local target's `origin` may still be plain HTTP.
            if (url_credentials.is_some() || token.is_some()) && crate::git::target::is_plain_http(_url) {
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
