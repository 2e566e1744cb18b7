//! What makes a local target unsafe to publish to: a work tree where owned
//! paths are links, or a repository in the middle of a merge, rebase or other
//! operation.

use super::*;

/// A work tree whose owned directories (or their parents) are links would
/// have the checkout write through them: refused before anything moves.
pub(super) fn refuse_links_in_worktree(repo: &Repository, owned: &[String]) -> Result<()> {
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
pub(super) fn refuse_busy(repo: &Repository) -> Result<()> {
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
