//! Making and removing the directories of a staged or retired tree in
//! parallel: on a journaled disk each `mkdir`, `unlink` and `rmdir`
//! waits on the journal, and a units tree at 1000 apps has 3,000 directories.

use super::*;

/// Creates `dirs` (paths relative to `base`) and every directory above them.
/// A level is made only after the one above it, and each level in parallel.
pub(super) fn make_all(base: &Path, dirs: &BTreeSet<&str>) -> Result<()> {
    let mut wanted: BTreeSet<&str> = BTreeSet::new();
    for dir in dirs.iter().filter(|d| !d.is_empty()) {
        wanted.extend(dir.match_indices('/').map(|(i, _)| &dir[..i]));
        wanted.insert(dir);
    }
    for level in by_depth(wanted.into_iter()) {
        level
            .par_iter()
            .try_for_each(|dir| make_one(&base.join(dir)))?;
    }
    Ok(())
}

/// Makes `dir`; one already there is fine, anything else in its place is not.
/// Only then is it stat-ed: a fresh staging tree has none.
fn make_one(dir: &Path) -> Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e)
            if e.kind() == std::io::ErrorKind::AlreadyExists
                && fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) =>
        {
            Ok(())
        }
        Err(e) => Err(Error::io(dir, &e)),
    }
}

/// Removes the tree at `root`, the subtrees three levels down (a unit's
/// directory in `env/group/unit`) in parallel. Each goes by
/// `fs::remove_dir_all`, which removes links and never follows them.
pub(super) fn remove_all(root: &Path) -> std::io::Result<()> {
    let subtrees: Vec<(bool, PathBuf)> = WalkDir::new(root)
        .min_depth(3)
        .max_depth(3)
        .follow_links(false)
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| (e.file_type().is_dir(), e.into_path()))
        .collect();
    subtrees.par_iter().try_for_each(|(is_dir, path)| {
        if *is_dir {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        }
    })?;
    fs::remove_dir_all(root)
}

/// Groups slash-separated paths by their depth, shallowest first.
fn by_depth<'a>(paths: impl Iterator<Item = &'a str>) -> Vec<Vec<&'a str>> {
    let mut levels: Vec<Vec<&str>> = Vec::new();
    for path in paths {
        let depth = path.matches('/').count();
        if levels.len() <= depth {
            levels.resize_with(depth + 1, Vec::new);
        }
        levels[depth].push(path);
    }
    levels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::scratch_dir as scratch;

    #[test]
    fn every_level_above_a_directory_is_made() {
        let base = scratch("dirs-make");
        let dirs: BTreeSet<&str> = ["prod/apps/web", "prod/apps/api", "dev", ""].into();
        make_all(&base, &dirs).unwrap();
        for dir in ["prod", "prod/apps", "prod/apps/web", "prod/apps/api", "dev"] {
            assert!(base.join(dir).is_dir(), "{dir}");
        }
        // Making them again is not an error.
        make_all(&base, &dirs).unwrap();
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_file_in_the_way_of_a_directory_is_an_error() {
        let base = scratch("dirs-in-the-way");
        fs::write(base.join("prod"), "").unwrap();
        let dirs: BTreeSet<&str> = ["prod/apps"].into();
        assert!(make_all(&base, &dirs).is_err());
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn removal_takes_files_links_and_directories_but_not_link_targets() {
        let base = scratch("dirs-remove");
        let keep = base.join("keep");
        fs::create_dir_all(&keep).unwrap();
        fs::write(keep.join("kept.yaml"), "x").unwrap();
        let tree = base.join("tree");
        fs::create_dir_all(tree.join("a/b/c/d")).unwrap();
        fs::write(tree.join("a/b/c/d/f.yaml"), "x").unwrap();
        fs::write(tree.join("a/b/e.yaml"), "x").unwrap();
        fs::write(tree.join("a/g.yaml"), "x").unwrap();
        std::os::unix::fs::symlink(&keep, tree.join("a/b/link")).unwrap();
        std::os::unix::fs::symlink(&keep, tree.join("a/b/c/d/link")).unwrap();
        remove_all(&tree).unwrap();
        assert!(!tree.exists());
        assert!(
            keep.join("kept.yaml").is_file(),
            "a link's target is left alone"
        );
        fs::remove_dir_all(&base).unwrap();
    }
}
