//! The emitted JSON Schemas, as editors use them (yaml-language-server reads
//! the modeline): every valid file of every example and of the starter passes
//! under the real `check-jsonschema` (from PyPI, in a venv this test makes),
//! and typos still fail.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{gitopsc, projects, repo_root};

const CHECK_JSONSCHEMA: &str = "check-jsonschema==0.39.0";

fn check_jsonschema() -> PathBuf {
    // Kept between runs inside the target directory (`.ci/run` reuses it).
    let venv =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test-tools/check-jsonschema-0.39.0");
    let exe = venv.join("bin/check-jsonschema");
    if !exe.exists() {
        let made = crate::support::hermetic(&mut Command::new("python3"))
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap();
        assert!(made.success(), "python3 -m venv");
        let pip = crate::support::hermetic(&mut Command::new(venv.join("bin/pip")))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-cache-dir",
                CHECK_JSONSCHEMA,
            ])
            .output()
            .unwrap();
        assert!(
            pip.status.success(),
            "{}",
            String::from_utf8_lossy(&pip.stderr)
        );
    }
    exe
}

fn validate(schema: &Path, files: &[PathBuf]) -> (bool, String) {
    let out = crate::support::hermetic(&mut Command::new(check_jsonschema()))
        .arg("--schemafile")
        .arg(schema)
        .args(files)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn overlays(project: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(project.join("overlays"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn every_example_and_the_starter_pass_their_own_schema_and_typos_fail() {
    let starter_dir = crate::support::tempdir();
    let run = gitopsc(
        &["init", "--name", "starter", "starter"],
        starter_dir.path(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut all = projects();
    all.push(("starter".into(), starter_dir.path().join("starter")));
    for (name, path) in &all {
        let schemas = path.join("blueprints/.schema");
        let (ok, out) = validate(
            &schemas.join("blueprint.json"),
            &[path.join("blueprints/system.yaml")],
        );
        assert!(ok, "{name}: blueprint\n{out}");
        let files = overlays(path);
        if !files.is_empty() {
            let (ok, out) = validate(&schemas.join("overlay.json"), &files);
            assert!(ok, "{name}: overlays\n{out}");
        }
    }
    let scratch = crate::support::tempdir();
    let schemas = repo_root().join("blueprints/.schema");
    let write = |name: &str, text: &str| {
        let p = scratch.path().join(name);
        fs::write(&p, text).unwrap();
        p
    };
    let empty = write("empty.yaml", "# nothing differs here yet\n");
    assert!(
        validate(&schemas.join("overlay.json"), &[empty]).0,
        "a comment-only overlay is valid"
    );
    let image_forms = write(
        "images.yaml",
        "apps:\n  a: {image: \"ghcr.io/acme/a:1.0\"}\n  b: {image: {repository: ghcr.io/acme/b, tag: \"2.0\"}}\n",
    );
    assert!(
        validate(&schemas.join("overlay.json"), &[image_forms]).0,
        "both image forms"
    );
    for (file, text) in [
        ("typo-app.yaml", "apps:\n  api: {replicsa: 2}\n"),
        ("typo-image.yaml", "apps:\n  api: {image: {repo: x}}\n"),
        ("typo-top.yaml", "aps: {}\n"),
    ] {
        let p = write(file, text);
        assert!(
            !validate(&schemas.join("overlay.json"), &[p]).0,
            "{file} must fail"
        );
    }
}
