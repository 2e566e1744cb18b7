//! The hooks in `.pre-commit-hooks.yaml`, run by the real `pre-commit` client
//! (from PyPI, in a virtual environment this test creates) on a temp repo.

use std::path::{Path, PathBuf};

use std::process::Command;

use crate::support::{gitopsc, repo_root};

const PRE_COMMIT: &str = "pre-commit==4.7.0";

/// The test's caches, kept between runs: inside the target directory (as
/// cargo names it, following `CARGO_TARGET_DIR`), never in the user's home.
fn tools() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test-tools")
}

/// A cached virtual environment with the pinned client; built on first use.
fn pre_commit() -> PathBuf {
    let venv = tools().join("pre-commit-4.7.0");
    let exe = venv.join("bin/pre-commit");
    if !exe.exists() {
        let status = crate::support::hermetic(&mut Command::new("python3"))
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 runs");
        assert!(status.success(), "python3 -m venv");
        let pip = crate::support::hermetic(&mut Command::new(venv.join("bin/pip")))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-cache-dir",
                PRE_COMMIT,
            ])
            .output()
            .expect("pip runs");
        assert!(
            pip.status.success(),
            "pip install {PRE_COMMIT}: {}",
            String::from_utf8_lossy(&pip.stderr)
        );
    }
    exe
}

fn sh(dir: &Path, program: &str, args: &[&str]) -> (bool, String) {
    let out = crate::support::hermetic(&mut Command::new(program))
        .args(args)
        .current_dir(dir)
        // pre-commit clones the hook repository and sets CARGO_HOME (crate
        // downloads) under its home; the hook's build goes to CARGO_TARGET_DIR.
        .env("PRE_COMMIT_HOME", tools().join("pre-commit-home"))
        .env("CARGO_TARGET_DIR", tools().join("hook-build"))
        .env("PIP_NO_CACHE_DIR", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The working tree's tracked files, committed once in a repo of their own,
/// so every hook run below installs from one revision (and installs once).
fn hooks_snapshot(into: &Path) {
    let (ok, listing) = sh(
        &repo_root(),
        "git",
        &[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
    );
    assert!(ok, "git ls-files: {listing}");
    for file in listing.split('\0').filter(|f| !f.is_empty()) {
        let from = repo_root().join(file);
        if !from.is_file()
            || file.starts_with("rendered/")
            || file.starts_with("examples/")
            || file.starts_with("tests/")
        {
            continue;
        }
        let to = into.join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    assert!(sh(into, "git", &["init", "-q", "-b", "main"]).0);
    assert!(sh(into, "git", &["add", "-A"]).0);
    assert!(sh(into, "git", &["commit", "-q", "-m", "hooks"]).0);
}

#[test]
fn the_hooks_fail_on_a_stale_tree_and_pass_on_a_fresh_one() {
    let client = pre_commit();
    let client = client.to_str().unwrap();
    let snapshot = crate::support::tempdir();
    hooks_snapshot(snapshot.path());
    let (_, rev) = sh(snapshot.path(), "git", &["rev-parse", "HEAD"]);
    let dir = crate::support::tempdir();
    let project = dir.path();
    assert_eq!(gitopsc(&["init", "--name", "shop", "."], project).code, 0);
    let config = format!(
        "repos:\n  - repo: {}\n    rev: {}\n    hooks:\n      - id: gitopsc-check\n      - id: gitopsc-render\n",
        snapshot.path().display(),
        rev.trim()
    );
    std::fs::write(project.join(".pre-commit-config.yaml"), config).unwrap();
    assert!(sh(project, "git", &["init", "-q", "-b", "main"]).0);
    assert!(sh(project, "git", &["add", "-A"]).0);
    assert!(sh(project, "git", &["commit", "-q", "-m", "start"]).0);
    let run = |hook: &str, extra: &[&str]| {
        let mut args = vec!["run", hook];
        args.extend_from_slice(extra);
        sh(project, client, &args)
    };

    let (ok, out) = run("gitopsc-check", &["--all-files"]);
    assert!(ok, "a fresh tree passes:\n{out}");

    // A hand-edit of rendered/ alone is caught: the hook fires on rendered/ too.
    let edited = project.join("rendered/dev/apps/web/deployment-web.yaml");
    let original = std::fs::read_to_string(&edited).unwrap();
    std::fs::write(&edited, original.replacen("replicas: 1", "replicas: 30", 1)).unwrap();
    let (ok, out) = run(
        "gitopsc-check",
        &["--files", "rendered/dev/apps/web/deployment-web.yaml"],
    );
    assert!(!ok, "a hand-edited rendered/ is blocked:\n{out}");
    std::fs::write(&edited, original).unwrap();

    let overlay = project.join("overlays/prod.yaml");
    std::fs::write(
        &overlay,
        std::fs::read_to_string(&overlay)
            .unwrap()
            .replace("replicas: 2", "replicas: 3"),
    )
    .unwrap();
    let (ok, out) = run("gitopsc-check", &["--all-files"]);
    assert!(!ok, "a stale tree fails:\n{out}");
    assert!(out.contains("rendered/ is stale"), "{out}");
    assert!(
        out.contains("changed  rendered/prod/apps/web/deployment-web.yaml"),
        "{out}"
    );
    assert!(out.contains("run `gitopsc render` to update it"), "{out}");

    let (ok, out) = run("gitopsc-check", &["--files", ".pre-commit-config.yaml"]);
    assert!(
        ok && out.contains("Skipped"),
        "files outside blueprints/, overlays/ and rendered/ do not run the hook:\n{out}"
    );

    let (ok, out) = run("gitopsc-render", &["--all-files"]);
    assert!(
        !ok,
        "the render hook fails when it changed files, as formatters do:\n{out}"
    );
    assert!(out.contains("files were modified by this hook"), "{out}");
    let (ok, out) = run("gitopsc-check", &["--all-files"]);
    assert!(ok, "after the render hook the tree is fresh:\n{out}");
    let (ok, out) = run("gitopsc-render", &["--all-files"]);
    assert!(ok, "a second render changes nothing and passes:\n{out}");

    // A project in a subdirectory of the repository, found from the files
    // the hook is given; the one at the top is still checked.
    assert_eq!(
        gitopsc(&["init", "--name", "ops", "deploy"], project).code,
        0
    );
    assert!(sh(project, "git", &["add", "-A"]).0);
    assert!(sh(project, "git", &["commit", "-q", "-m", "deploy"]).0);
    // pre-commit shows a passing hook's output only with --verbose.
    let (ok, out) = run("gitopsc-check", &["--all-files", "--verbose"]);
    assert!(ok, "both projects are fresh:\n{out}");
    assert!(
        out.contains("project deploy:") && out.contains("project .:"),
        "{out}"
    );
    let nested = project.join("deploy/overlays/prod.yaml");
    std::fs::write(
        &nested,
        std::fs::read_to_string(&nested)
            .unwrap()
            .replace("replicas: 2", "replicas: 3"),
    )
    .unwrap();
    let (ok, out) = run("gitopsc-check", &["--all-files"]);
    assert!(!ok, "a stale project in a subdirectory fails:\n{out}");
    assert!(
        out.contains("changed  rendered/prod/apps/web/deployment-web.yaml")
            && out.contains("run `gitopsc render --root deploy` to update it"),
        "{out}"
    );
    let (ok, out) = run("gitopsc-check", &["--files", "deploy/overlays/prod.yaml"]);
    assert!(!ok, "the changed file alone names its project:\n{out}");
    let (ok, out) = run("gitopsc-render", &["--files", "deploy/overlays/prod.yaml"]);
    assert!(
        !ok && out.contains("files were modified by this hook"),
        "{out}"
    );
    assert!(
        sh(
            project,
            "git",
            &["status", "--porcelain", "deploy/rendered"]
        )
        .1
        .contains("deploy/rendered/prod/apps/web/deployment-web.yaml"),
        "the render hook rendered the subdirectory's project"
    );
    let (ok, out) = run("gitopsc-check", &["--all-files"]);
    assert!(ok, "after the render hook both are fresh:\n{out}");
}
