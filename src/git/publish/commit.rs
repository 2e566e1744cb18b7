//! Building the commit: the rendered tree written into an in-memory index on
//! top of the branch tip (owned directories replaced, the rest kept), and the
//! compare-and-swap that moves a local branch.

use super::*;

pub(super) fn find_commit<'r>(repo: &'r Repository, reference: &str) -> Result<Option<Commit<'r>>> {
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
pub(super) fn build_commit(
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

pub(super) fn owned(dirs: &[String], path: &str) -> bool {
    dirs.iter().any(|d| path.starts_with(&format!("{d}/")))
}

pub(super) fn file_entry(path: &str, id: Oid, len: usize) -> IndexEntry {
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

pub(super) fn signature(who: &Identity) -> Result<Signature<'static>> {
    Signature::now(&who.name, &who.email).map_err(|e| git_error("invalid author or committer", &e))
}

/// Moves `branch_ref` to `to` only if it still points at `expected` (or does not exist).
pub(super) fn move_branch(
    repo: &Repository,
    branch_ref: &str,
    to: Oid,
    expected: Option<Oid>,
) -> Result<()> {
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
