//! The cache clone of a URL target, guarded by a file lock held for the run,
//! so a killed run leaves nothing that blocks the next one.

use super::*;

/// The cache clone of `url`: a bare repository with `origin` pointing at it.
pub(super) fn open_cache(dir: &Path, url: &str) -> Result<Repository> {
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
pub(super) fn remove_stale_locks(dir: &Path) {
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
pub(super) struct CacheLock {
    _file: File,
}

impl CacheLock {
    pub(super) fn acquire(path: &Path) -> Result<CacheLock> {
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
pub(super) fn lock_exclusive(file: &File) -> std::io::Result<()> {
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
pub(super) fn lock_exclusive(_: &File) -> std::io::Result<()> {
    Ok(())
}
