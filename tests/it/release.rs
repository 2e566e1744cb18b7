//! The names a release goes by agree: Cargo.toml's version is the newest
//! release in CHANGELOG.md, and every `rev:`, `uses:`, download and wheel
//! reference in the README and the hook file names that release's tag.

use std::fs;

use crate::support::repo_root;

fn read(path: &str) -> String {
    fs::read_to_string(repo_root().join(path)).unwrap()
}

/// The newest released version in a Keep a Changelog file: the first
/// `## [X.Y.Z]` heading after `## [Unreleased]`.
fn newest_release(changelog: &str) -> String {
    changelog
        .lines()
        .filter_map(|l| l.strip_prefix("## ["))
        .filter_map(|l| l.split_once(']'))
        .map(|(version, _)| version)
        .find(|v| *v != "Unreleased")
        .expect("CHANGELOG.md names a release")
        .to_string()
}

/// Every version after `marker` in `text`: `v0.1.0` after `rev: `, and so on.
fn versions_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    text.match_indices(marker)
        .map(|(at, _)| {
            let rest = &text[at + marker.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[test]
fn readme_and_hooks_name_the_release_the_changelog_and_cargo_toml_name() {
    let changelog = read("CHANGELOG.md");
    assert!(
        changelog.contains("## [Unreleased]"),
        "Keep a Changelog keeps an Unreleased section"
    );
    let release = newest_release(&changelog);
    let manifest = read("Cargo.toml");
    assert!(
        manifest.contains(&format!("\nversion = \"{release}\"\n")),
        "Cargo.toml's version is the newest release in CHANGELOG.md, {release}"
    );
    assert!(
        changelog.contains(&format!(
            "[{release}]: https://github.com/gitopsc/gitopsc/releases/tag/v{release}"
        )),
        "the release links to its tag"
    );
    let tag = format!("v{release}");
    let readme = read("README.md");
    let hooks = read(".pre-commit-hooks.yaml");
    let mut seen = 0;
    for (file, text) in [("README.md", &readme), (".pre-commit-hooks.yaml", &hooks)] {
        for marker in ["rev: ", "gitopsc/gitopsc@", "tag="] {
            for found in versions_after(text, marker) {
                assert_eq!(found, tag, "{file}: `{marker}{found}`");
                seen += 1;
            }
        }
        for found in versions_after(text, "gitopsc==") {
            assert_eq!(found, release, "{file}: `gitopsc=={found}`");
            seen += 1;
        }
    }
    assert!(
        seen >= 5,
        "the README's install, hook and action references were all found ({seen})"
    );
}
