//! A render killed at any moment leaves `rendered/` fully old or fully new.

use std::fs;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::support::{gitopsc, read_tree};

use crate::synthetic;

#[test]
fn a_render_killed_at_any_moment_leaves_the_old_or_the_new_tree() {
    let dir = crate::support::tempdir();
    let project = dir.path();
    synthetic::write_project(200, project).unwrap();
    assert_eq!(gitopsc(&["render"], project).code, 0);
    let old = read_tree(&project.join("rendered"));

    // The next render changes every app's deployment and drops the last app.
    let blueprint = project.join("blueprints/system.yaml");
    let text = fs::read_to_string(&blueprint)
        .unwrap()
        .replace("LOG_LEVEL: info}", "LOG_LEVEL: warn}");
    let last = text
        .find(&format!("  {}:\n", synthetic::app_name(199)))
        .unwrap();
    fs::write(&blueprint, &text[..last]).unwrap();
    for env in synthetic::ENVIRONMENTS {
        let overlay = project.join(format!("overlays/{env}.yaml"));
        let kept: String = fs::read_to_string(&overlay)
            .unwrap()
            .lines()
            .filter(|l| !l.contains(&synthetic::app_name(199)))
            .map(|l| format!("{l}\n"))
            .collect();
        fs::write(&overlay, kept).unwrap();
    }
    let fresh = crate::support::tempdir();
    let out = fresh.path().join("rendered");
    assert_eq!(
        gitopsc(&["render", "--out", out.to_str().unwrap()], project).code,
        0
    );
    let new = read_tree(&out);
    assert_ne!(old, new);

    let started = Instant::now();
    assert_eq!(
        gitopsc(
            &[
                "render",
                "--out",
                fresh.path().join("timing").to_str().unwrap()
            ],
            project
        )
        .code,
        0
    );
    let full = started.elapsed();

    let mut saw_old = 0;
    for step in 1..=12u32 {
        let mut child = crate::support::hermetic(&mut Command::new(env!("CARGO_BIN_EXE_gitopsc")))
            .arg("render")
            .current_dir(project)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(f64::from(step) / 12.0));
        let _ = child.kill();
        let _ = child.wait();
        let now = read_tree(&project.join("rendered"));
        if now == old {
            saw_old += 1;
        } else {
            assert!(
                now == new,
                "after a kill at {step}/12 of a render, rendered/ is neither the old nor the new tree"
            );
            // Put the old tree back so later kills are tested against a real change.
            fs::remove_dir_all(project.join("rendered")).unwrap();
            crate::support::copy_dir_bytes(&old, &project.join("rendered"));
        }
    }
    assert!(saw_old > 0, "some kills landed before the swap");
    let run = gitopsc(&["render"], project);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(read_tree(&project.join("rendered")), new);
    let leftovers: Vec<_> = fs::read_dir(project)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("gitopsc"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "interrupted renders leave nothing behind: {leftovers:?}"
    );
}

/// `unshare` arguments that give a private mount namespace here: as an
/// unprivileged user through a user namespace, or as root directly. Mounts
/// made inside end with the process, so nothing outlives the test.
fn mount_namespace() -> &'static [&'static str] {
    const CHOICES: [&[&str]; 2] = [&["--user", "--map-root-user", "--mount"], &["--mount"]];
    CHOICES
        .into_iter()
        .find(|args| {
            crate::support::hermetic(&mut Command::new("unshare"))
                .args(*args)
                .args(["sh", "-c", "mount -t tmpfs tmpfs /tmp"])
                .status()
                .is_ok_and(|s| s.success())
        })
        .expect("this test needs unshare(1) with a user or mount namespace (util-linux)")
}

/// A `rendered/` that is a mount point cannot be renamed (EBUSY), so the
/// atomic swap cannot replace it: the error says so and what to do instead.
#[test]
fn a_rendered_mount_point_is_refused_with_advice_and_left_as_it_was() {
    let dir = crate::support::tempdir();
    let project = dir.path().join("project");
    assert_eq!(
        gitopsc(
            &["init", "--name", "shop", project.to_str().unwrap()],
            dir.path()
        )
        .code,
        0
    );
    let store = dir.path().join("volume");
    crate::support::copy_dir(&project.join("rendered"), &store);
    let overlay = project.join("overlays/prod.yaml");
    let text = fs::read_to_string(&overlay).unwrap();
    fs::write(&overlay, text.replace("replicas: 2", "replicas: 3")).unwrap();
    let before = read_tree(&store);
    let script = format!(
        "mount --bind '{}' rendered && exec '{}' render",
        store.display(),
        env!("CARGO_BIN_EXE_gitopsc")
    );
    let out = crate::support::hermetic(&mut Command::new("unshare"))
        .args(mount_namespace())
        .args(["sh", "-c", &script])
        .current_dir(&project)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("it is a mount point or on another file system than its parent"),
        "{stderr}"
    );
    assert!(
        stderr.contains("render elsewhere with `--out DIR`"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(read_tree(&store), before, "the mounted tree is untouched");
    let leftovers: Vec<_> = fs::read_dir(&project)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("gitopsc"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no staging left behind: {leftovers:?}"
    );
}
