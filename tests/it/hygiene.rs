//! `cargo test` writes only inside the target directory: temp projects, the
//! binary's caches and the pre-commit test's tools all live under
//! `CARGO_TARGET_TMPDIR`, which follows `CARGO_TARGET_DIR`.

use std::fs;

use crate::support::{cache_home, copy_dir, copy_inputs, gitopsc, repo_root, scratch};

#[test]
fn the_binary_keeps_its_caches_under_the_target_directory() {
    let target_tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    assert!(scratch().starts_with(target_tmp));
    let dir = crate::support::tempdir();
    assert!(
        dir.path().starts_with(target_tmp),
        "{}",
        dir.path().display()
    );
    copy_inputs(&repo_root(), dir.path());
    copy_dir(&repo_root().join("rendered"), &dir.path().join("rendered"));
    // The entry is named by the digest of the canonical `rendered/` path
    // (so counting entries would race with the tests that check beside it).
    let rendered = dir.path().join("rendered").canonicalize().unwrap();
    let key = gitopsc::sources::sha256_hex(rendered.to_string_lossy().as_bytes());
    let entry = cache_home().join("gitopsc/check").join(&key[..24]);
    assert!(!entry.exists());
    assert_eq!(gitopsc(&["check"], dir.path()).code, 0);
    assert!(
        entry.is_file(),
        "check's stat cache went to the suite's cache home, not the user's"
    );
}

/// The calls that would write to the system temp directory or to a fixed
/// `./target`, wherever the target directory really is.
const FORBIDDEN: [&str; 4] = [
    "tempfile::tempdir()",
    "env::temp_dir()",
    "join(\"target/",
    "join(\"target\")",
];

#[test]
fn no_test_writes_to_the_system_temp_directory_or_a_fixed_target() {
    let mut offenders = Vec::new();
    let sources = walkdir::WalkDir::new(repo_root().join("tests/it"))
        .into_iter()
        .chain(walkdir::WalkDir::new(repo_root().join("src")))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"));
    for entry in sources {
        let path = entry.path();
        if path.ends_with("tests/it/hygiene.rs") {
            continue;
        }
        let text = fs::read_to_string(path).unwrap();
        // In src/, only test modules are the suite's business.
        let tests = if path.starts_with(repo_root().join("src")) {
            text.find("#[cfg(test)]").map_or("", |at| &text[at..])
        } else {
            &text
        };
        for pattern in FORBIDDEN {
            if tests.contains(pattern) {
                offenders.push(format!("{}: {pattern}", path.display()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "use crate::support::tempdir() or CARGO_TARGET_TMPDIR: {offenders:#?}"
    );
}
