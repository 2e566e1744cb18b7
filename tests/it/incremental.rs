//! Incremental renders: after every edit of a random sequence, rendering into
//! the existing `rendered/` gives the same bytes as a render into an empty
//! directory, and `check` tells a stale tree from a fresh one.

use std::fs;
use std::path::Path;

use crate::support::{Rng, gitopsc, read_tree, tempdir};

use crate::synthetic;

const APPS: usize = 6;

/// One random edit of the project's inputs; returns what it did, for the failure message.
fn edit(project: &Path, rng: &mut Rng, extra: &mut Vec<String>) -> String {
    let blueprint = project.join("blueprints/system.yaml");
    let text = fs::read_to_string(&blueprint).unwrap();
    let app = synthetic::app_name(rng.below(APPS));
    let (what, path, new) = match rng.below(6) {
        0 => {
            // One app's autoscaler bound, found after its own name.
            let at = text.find(&format!("  {app}:\n")).unwrap();
            let (head, tail) = text.split_at(at);
            let max = 5 + rng.below(4);
            let tail = regex_free_replace(tail, "autoscale: {min: 2, max: ", &max.to_string());
            (
                format!("{app} autoscale max {max}"),
                blueprint,
                format!("{head}{tail}"),
            )
        }
        1 => {
            let name = format!("extra-{}", rng.next() % 10_000);
            if extra.contains(&name) {
                return "nothing (name taken)".into();
            }
            extra.push(name.clone());
            let added = format!(
                "  {name}:\n    layer: apps\n    image: ghcr.io/acme/{name}:2.0.0\n    ports: {{http: 9090}}\n    replicas: 2\n    uses: [postgres]\n    probes: {{readiness: {{http: /ready}}, liveness: {{http: /live}}}}\n"
            );
            (format!("added {name}"), blueprint, format!("{text}{added}"))
        }
        2 => {
            let Some(name) = (!extra.is_empty()).then(|| extra.remove(rng.below(extra.len())))
            else {
                return "nothing (no app to remove)".into();
            };
            let start = text.find(&format!("  {name}:\n")).unwrap();
            let end = text[start + 3..]
                .find("\n  e")
                .map(|i| start + 3 + i + 1)
                .unwrap_or(text.len());
            let mut new = text.clone();
            new.replace_range(start..end, "");
            (format!("removed {name}"), blueprint, new)
        }
        3 => {
            let env = synthetic::ENVIRONMENTS[rng.below(2)];
            let path = project.join(format!("overlays/{env}.yaml"));
            let overlay = fs::read_to_string(&path).unwrap();
            let level = ["debug", "info", "warn"][rng.below(3)];
            let line_start = overlay.find(&format!("  {app}: ")).unwrap();
            let line_end = line_start + overlay[line_start..].find('\n').unwrap();
            let mut new = overlay.clone();
            new.replace_range(
                line_start..line_end,
                &format!("  {app}: {{env: {{LOG_LEVEL: {level}}}}}"),
            );
            (format!("{env} overlay: {app} LOG_LEVEL {level}"), path, new)
        }
        4 => {
            let domain = ["example.com", "example.org", "acme.test"][rng.below(3)];
            let at = text.find("prod: {extends: staging, domain: ").unwrap();
            let (head, tail) = text.split_at(at);
            let rest = &tail[tail.find(", zones").unwrap()..];
            let new = format!("{head}prod: {{extends: staging, domain: {domain}{rest}");
            (format!("prod domain {domain}"), blueprint, new)
        }
        _ => {
            let port = 8000 + rng.below(3);
            let at = text.find(&format!("  {app}:\n")).unwrap();
            let (head, tail) = text.split_at(at);
            let tail = tail.replacen(
                "ports: {http: 8080}",
                &format!("ports: {{http: {port}}}"),
                1,
            );
            let tail = tail.replacen(
                "ports: {http: 8000}",
                &format!("ports: {{http: {port}}}"),
                1,
            );
            let tail = tail.replacen(
                "ports: {http: 8001}",
                &format!("ports: {{http: {port}}}"),
                1,
            );
            let tail = tail.replacen(
                "ports: {http: 8002}",
                &format!("ports: {{http: {port}}}"),
                1,
            );
            (
                format!("{app} port {port}"),
                blueprint,
                format!("{head}{tail}"),
            )
        }
    };
    fs::write(path, new).unwrap();
    what
}

/// `text` with the number after the first `prefix` replaced by `value`.
fn regex_free_replace(text: &str, prefix: &str, value: &str) -> String {
    let at = text.find(prefix).unwrap() + prefix.len();
    let digits = text[at..].find(|c: char| !c.is_ascii_digit()).unwrap();
    format!("{}{value}{}", &text[..at], &text[at + digits..])
}

#[test]
fn random_edit_sequences_render_incrementally_as_a_clean_render_does() {
    let dir = tempdir();
    let project = dir.path().join("project");
    synthetic::write_project(APPS, &project).unwrap();
    let first = gitopsc(&["render"], &project);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut extra = Vec::new();
    let mut stale_seen = 0;
    for step in 0..16 {
        let what = edit(&project, &mut rng, &mut extra);
        let before = read_tree(&project.join("rendered"));
        let clean_dir = dir.path().join(format!("clean-{step}"));
        let clean = gitopsc(&["render", "--out", clean_dir.to_str().unwrap()], &project);
        assert_eq!(clean.code, 0, "step {step} ({what}): {}", clean.stderr);
        let clean = read_tree(&clean_dir);
        let check = gitopsc(&["check", "--quiet"], &project);
        let expected = if before == clean { 0 } else { 1 };
        assert_eq!(
            check.code, expected,
            "step {step} ({what}): check before the render: {}",
            check.stderr
        );
        stale_seen += expected;
        let render = gitopsc(&["render"], &project);
        assert_eq!(render.code, 0, "step {step} ({what}): {}", render.stderr);
        assert!(
            read_tree(&project.join("rendered")) == clean,
            "step {step} ({what}): the incremental render differs from a clean one"
        );
        let check = gitopsc(&["check", "--quiet"], &project);
        assert_eq!(
            check.code, 0,
            "step {step} ({what}): check after the render"
        );
        fs::remove_dir_all(&clean_dir).unwrap();
    }
    assert!(
        stale_seen >= 8,
        "most edits change the output: {stale_seen} of 16"
    );
}
