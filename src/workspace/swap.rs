//! The one step that makes a write atomic: exchanging the staged tree with
//! `rendered/` in a single rename, and finishing or undoing a swap a killed
//! run left half done.

use super::write::{OLD_MARK, STAGING_MARK, parent_dir, sibling};
use super::*;

/// Puts `staging` in place of `rendered` in one step where the OS allows it,
/// and returns where the retired tree now is, for the caller to remove (a
/// run killed before that leaves it to `recover_interrupted`).
pub(super) fn swap_in(staging: &Path, rendered: &Path) -> Result<Option<PathBuf>> {
    if !rendered.exists() {
        fs::rename(staging, rendered).map_err(|e| Error::io(rendered, &e))?;
        return Ok(None);
    }
    match exchange(staging, rendered) {
        Ok(()) => Ok(Some(staging.to_path_buf())),
        Err(_) => {
            // No atomic exchange on this system: retire the old tree first, so an
            // interruption leaves it recoverable beside `rendered` (see `recover_interrupted`).
            let old = sibling(rendered, OLD_MARK)?;
            fs::rename(rendered, &old).map_err(|e| swap_error(rendered, &e))?;
            fs::rename(staging, rendered).map_err(|e| Error::io(rendered, &e))?;
            Ok(Some(old))
        }
    }
}

/// Why `rendered` could not be moved aside: a mount point (EBUSY) or another
/// file system than its parent (EXDEV) cannot be renamed, and the swap needs that.
pub(super) fn swap_error(rendered: &Path, err: &std::io::Error) -> Error {
    if !matches!(err.raw_os_error(), Some(libc::EBUSY | libc::EXDEV)) {
        return Error::io(rendered, err);
    }
    Error::plain(
        ErrorKind::Io,
        format!(
            "cannot replace `{}`: it is a mount point or on another file system than its parent ({err})",
            rendered.display()
        ),
    )
    .with_help(
        "the atomic swap needs a directory it can replace: mount the parent directory instead, \
         or render elsewhere with `--out DIR` and copy the tree",
    )
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// Cleans up after a render that was killed: removes staging trees, and puts
/// back a retired tree if the swap was cut between its two renames.
pub fn recover_interrupted(rendered: &Path) -> Result<()> {
    let parent = parent_dir(rendered);
    let Some(name) = rendered
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
    else {
        return Ok(());
    };
    let Ok(entries) = fs::read_dir(&parent) else {
        return Ok(());
    };
    let mut leftovers: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    leftovers.sort();
    for path in leftovers {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if file.starts_with(&format!(".{name}{OLD_MARK}")) && !rendered.exists() {
            fs::rename(&path, rendered).map_err(|e| Error::io(&path, &e))?;
        } else if file.starts_with(&format!(".{name}{STAGING_MARK}"))
            || file.starts_with(&format!(".{name}{OLD_MARK}"))
        {
            fs::remove_dir_all(&path).map_err(|e| Error::io(&path, &e))?;
        }
    }
    Ok(())
}
