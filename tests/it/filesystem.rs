//! File-system safety through the real binary: no write through a link, no
//! read from a FIFO, one writer at a time, `--out` that cannot replace the
//! project, and user files that keep their mode and owner.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

use crate::support::gitopsc;

fn project(dir: &Path, replicas: u32) {
    fs::create_dir_all(dir.join("blueprints")).unwrap();
    fs::write(
        dir.join("blueprints/system.yaml"),
        format!("system: {{name: demo}}\nlayers: [apps]\nenvironments: {{dev: {{}}, prod: {{}}}}\napps:\n  api: {{layer: apps, image: \"ghcr.io/acme/api:1.0.0\", ports: {{http: 8080}}, replicas: {replicas}}}\n"),
    )
    .unwrap();
}

fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            (rel, fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn render_never_writes_through_a_symlink() {
    let dir = crate::support::tempdir();
    let elsewhere = crate::support::tempdir();
    fs::write(elsewhere.path().join("precious.txt"), "keep me\n").unwrap();
    project(dir.path(), 1);
    fs::create_dir_all(dir.path().join("rendered")).unwrap();
    symlink(elsewhere.path(), dir.path().join("rendered/dev")).unwrap();
    let run = gitopsc(&["render"], dir.path());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert_eq!(
        files_under(elsewhere.path()),
        vec![("precious.txt".to_string(), b"keep me\n".to_vec())],
        "the link's target is untouched"
    );
    // The output directory itself as a link is refused the same way.
    fs::remove_file(dir.path().join("rendered/dev")).unwrap();
    symlink(elsewhere.path(), dir.path().join("out")).unwrap();
    let run = gitopsc(&["render", "--out", "out"], dir.path());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(files_under(elsewhere.path()).len(), 1);
}

#[test]
fn fifos_and_devices_are_refused_before_they_are_opened() {
    let dir = crate::support::tempdir();
    project(dir.path(), 1);
    let fifo = dir.path().join("blueprints/config.yaml");
    let made = crate::support::hermetic(&mut Command::new("mkfifo"))
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // A blocking read of the FIFO would hang; the watchdog is the test's own timeout.
    let run = gitopsc(&["render"], dir.path());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    assert!(!dir.path().join("rendered").exists());
}

#[test]
fn out_cannot_replace_a_file_the_project_or_its_inputs() {
    let dir = crate::support::tempdir();
    project(dir.path(), 1);
    fs::write(dir.path().join("notes.txt"), "mine\n").unwrap();
    for (out, expect) in [
        ("notes.txt", "is an existing file"),
        ("blueprints", "inside the project's `blueprints/`"),
        ("overlays/x", "inside the project's `overlays/`"),
        (".", "project directory or one of its parents"),
        ("..", "project directory or one of its parents"),
    ] {
        let run = gitopsc(&["render", "--out", out], dir.path());
        assert_eq!(run.code, 2, "--out {out}: {}", run.stderr);
        assert!(run.stderr.contains(expect), "--out {out}: {}", run.stderr);
    }
    assert_eq!(
        fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
        "mine\n"
    );
    assert!(dir.path().join("blueprints/system.yaml").is_file());
}

#[test]
fn user_directories_keep_mode_and_owner() {
    let dir = crate::support::tempdir();
    project(dir.path(), 1);
    assert_eq!(gitopsc(&["render"], dir.path()).code, 0);
    let mine = dir.path().join("rendered/dev/notes");
    fs::create_dir_all(&mine).unwrap();
    fs::write(mine.join("readme.txt"), "mine\n").unwrap();
    fs::set_permissions(&mine, fs::Permissions::from_mode(0o750)).unwrap();
    let owner_changed = std::os::unix::fs::chown(&mine, Some(4321), Some(4321)).is_ok();
    project(dir.path(), 3);
    let run = gitopsc(&["render"], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let meta = fs::metadata(&mine).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o750);
    if owner_changed {
        assert_eq!((meta.uid(), meta.gid()), (4321, 4321));
    }
    assert_eq!(
        fs::read_to_string(mine.join("readme.txt")).unwrap(),
        "mine\n"
    );
}

/// Renders of different inputs into one tree at once: every one succeeds,
/// and the tree left is exactly one input's tree with an index that matches.
#[test]
fn concurrent_renders_never_lose_or_mix_an_update() {
    let base = crate::support::tempdir();
    let out = base.path().join("shared");
    let mut expected = Vec::new();
    for n in 1..=6 {
        let p = base.path().join(format!("p{n}"));
        project(&p, n);
        let alone = base.path().join(format!("alone{n}"));
        let run = gitopsc(
            &[
                "render",
                "--root",
                p.to_str().unwrap(),
                "--out",
                alone.to_str().unwrap(),
            ],
            base.path(),
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        expected.push(files_under(&alone));
    }
    for round in 0..3 {
        let children: Vec<_> = (1..=6)
            .map(|n| {
                crate::support::hermetic(&mut Command::new(env!("CARGO_BIN_EXE_gitopsc")))
                    .args(["render", "--root"])
                    .arg(base.path().join(format!("p{n}")))
                    .arg("--out")
                    .arg(&out)
                    .env("NO_COLOR", "1")
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut child in children {
            assert!(
                child.wait().unwrap().success(),
                "round {round}: every render succeeds"
            );
        }
        let got = files_under(&out);
        assert!(
            expected.contains(&got),
            "round {round}: the tree is exactly one input's tree"
        );
        let index: serde_json::Value =
            serde_json::from_slice(&fs::read(out.join(".gitopsc-index.json")).unwrap()).unwrap();
        for env in index["environments"].as_object().unwrap().values() {
            for (file, hash) in env["files"].as_object().unwrap() {
                let bytes = fs::read(out.join(file)).unwrap();
                assert_eq!(
                    gitopsc::sources::sha256_hex(&bytes),
                    hash.as_str().unwrap(),
                    "{file}"
                );
            }
        }
    }
}
