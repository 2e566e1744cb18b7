//! The `layout:` of a project: one file per object, or one multi-document
//! file per unit directory. Both are the same objects to Kustomize, to
//! `diff` and to `check`; switching prunes the other layout's files.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::support::{copy_inputs, gitopsc, read_tree, repo_root, tempdir, write_case};

/// A copy of an example's inputs with `layout:` set as given.
fn example_with_layout(example: &str, layout: &str, dir: &Path) {
    copy_inputs(&repo_root().join("examples").join(example), dir);
    set_layout(dir, layout);
}

fn set_layout(dir: &Path, layout: &str) {
    let path = dir.join("blueprints/system.yaml");
    let text = fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with("layout:")).collect();
    fs::write(&path, format!("{}\nlayout: {layout}\n", kept.join("\n"))).unwrap();
}

fn render(project: &Path, out: &Path) {
    let run = gitopsc(
        &[
            "render",
            "--root",
            project.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        project,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// `kubectl kustomize` of one directory, or `None` when kubectl is not
/// installed outside CI (CI always has it, and there its absence fails).
fn kustomize(dir: &Path) -> Option<String> {
    let out = match Command::new("kubectl").arg("kustomize").arg(dir).output() {
        Ok(out) => out,
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "CI needs kubectl: {e}");
            eprintln!("kubectl not found: Kustomize builds compared in memory only");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

fn object_files(tree: &BTreeMap<String, Vec<u8>>) -> usize {
    tree.keys()
        .filter(|p| p.ends_with(".yaml") && !p.ends_with("/kustomization.yaml"))
        .count()
}

/// kubectl kustomize reads every document of a resource file
/// (https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/resource/:
/// "files ... containing one or more Kubernetes resources"), so a unit's one
/// stream builds to the objects its separate files build to: every
/// environment and every unit directory of two examples (Flux and Argo CD)
/// give the same `kubectl kustomize` output in both layouts.
#[test]
fn both_layouts_build_to_the_same_objects() {
    for example in ["maya", "hybrid"] {
        let (objects, units) = (tempdir(), tempdir());
        example_with_layout(example, "objects", objects.path());
        example_with_layout(example, "units", units.path());
        let (a, b) = (objects.path().join("out"), units.path().join("out"));
        render(objects.path(), &a);
        render(units.path(), &b);
        let (ta, tb) = (read_tree(&a), read_tree(&b));
        assert!(
            object_files(&tb) * 3 < object_files(&ta),
            "{example}: {} object files in units, {} in objects",
            object_files(&tb),
            object_files(&ta)
        );
        let na: Vec<&str> = tb.keys().map(String::as_str).collect();
        assert!(
            na.iter().any(|p| p.ends_with("/manifests.yaml")),
            "{example}"
        );
        // Same objects, by identity and content, whatever the files.
        let same = gitopsc::changes::compare(&ta, &tb, None).unwrap();
        assert!(same.iter().all(|e| e.is_empty()), "{example}: {same:?}");
        // Every directory with a kustomization, in both trees: the same set
        // of directories, each building to the same output.
        let dirs: Vec<&str> = ta
            .keys()
            .filter_map(|p| p.strip_suffix("/kustomization.yaml"))
            .collect();
        let dirs_b: Vec<&str> = tb
            .keys()
            .filter_map(|p| p.strip_suffix("/kustomization.yaml"))
            .collect();
        assert_eq!(dirs, dirs_b, "{example}");
        let envs: Vec<&str> = dirs.iter().copied().filter(|d| !d.contains('/')).collect();
        assert!(envs.len() >= 3, "{example}: {envs:?}");
        for dir in envs
            .iter()
            .chain(dirs.iter().filter(|d| d.matches('/').count() == 2).take(8))
        {
            let (Some(x), Some(y)) = (kustomize(&a.join(dir)), kustomize(&b.join(dir))) else {
                return;
            };
            assert!(x.contains("kind: "), "{example}/{dir} builds objects");
            assert_eq!(x, y, "{example}/{dir}");
        }
    }
}

/// The units layout is deterministic: two renders from different
/// directories are byte for byte the same, and a unit's stream keeps the
/// engine's order (Namespaces before what lives in them).
#[test]
fn the_units_layout_is_deterministic() {
    let (one, two) = (tempdir(), tempdir());
    example_with_layout("naratecho", "units", one.path());
    example_with_layout("naratecho", "units", two.path());
    render(one.path(), &one.path().join("rendered"));
    render(two.path(), &two.path().join("rendered"));
    let (a, b) = (
        read_tree(&one.path().join("rendered")),
        read_tree(&two.path().join("rendered")),
    );
    assert!(a.len() > 20);
    assert_eq!(a, b);
    let ns = a
        .iter()
        .find(|(p, _)| p.contains("/namespaces/") && p.ends_with("/manifests.yaml"))
        .map(|(_, t)| String::from_utf8_lossy(t).into_owned())
        .expect("a namespace unit");
    assert!(ns.starts_with("apiVersion: v1\nkind: Namespace\n"), "{ns}");
}

const CASE: &str = "-- blueprints/system.yaml --\nsystem: {name: demo}\nlayers: [apps]\nenvironments: {dev: {}}\napps:\n  api:\n    layer: apps\n    image: ghcr.io/acme/api:1.0.0\n    ports: {http: 8080}\n";

/// Switching layouts replaces the other layout's files (the index lists
/// whichever files the layout made), keeps files gitopsc does not own, and
/// `check` passes on the switched tree.
#[test]
fn switching_layouts_prunes_the_other_layouts_files() {
    let dir = tempdir();
    let root = dir.path();
    write_case(CASE, root);
    let rendered = root.join("rendered");
    render(root, &rendered);
    let objects = read_tree(&rendered);
    assert!(objects.keys().any(|p| p.ends_with("/deployment-api.yaml")));
    fs::write(rendered.join("dev/NOTES.md"), "mine\n").unwrap();
    set_layout(root, "units");
    render(root, &rendered);
    let units = read_tree(&rendered);
    assert_eq!(units["dev/NOTES.md"], b"mine\n", "unowned file kept");
    for path in units.keys() {
        let name = path.rsplit('/').next().unwrap();
        assert!(
            [
                "manifests.yaml",
                "kustomization.yaml",
                "NOTES.md",
                ".gitopsc-index.json"
            ]
            .contains(&name),
            "left over: {path}"
        );
    }
    let index = String::from_utf8_lossy(&units[".gitopsc-index.json"]).into_owned();
    assert!(
        !index.contains("deployment-api.yaml") && index.contains("dev/apps/api/manifests.yaml")
    );
    let check = gitopsc(&["check", "--root", root.to_str().unwrap()], root);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    set_layout(root, "objects");
    render(root, &rendered);
    let back = read_tree(&rendered);
    assert!(!back.keys().any(|p| p.ends_with("/manifests.yaml")));
    let same = |t: &BTreeMap<String, Vec<u8>>| {
        t.iter()
            // The index's input digest differs: the blueprint now says `layout: objects`.
            .filter(|(p, _)| !p.ends_with("NOTES.md") && *p != ".gitopsc-index.json")
            .map(|(p, b)| (p.clone(), b.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(same(&back), same(&objects), "back to the first tree");
}

/// `diff` compares parsed objects, not files: a layout switch alone changes
/// no object, and a change inside a unit's stream names the object.
#[test]
fn diff_names_objects_in_either_layout() {
    let dir = tempdir();
    let root = dir.path();
    write_case(CASE, root);
    render(root, &root.join("rendered"));
    set_layout(root, "units");
    let diff = gitopsc(
        &["diff", "--root", root.to_str().unwrap(), "--format", "json"],
        root,
    );
    assert_eq!(
        diff.code, 0,
        "no object changed: {}{}",
        diff.stdout, diff.stderr
    );
    render(root, &root.join("rendered"));
    let blueprint = root.join("blueprints/system.yaml");
    let text = fs::read_to_string(&blueprint)
        .unwrap()
        .replace("api:1.0.0", "api:1.1.0");
    fs::write(&blueprint, text).unwrap();
    let diff = gitopsc(
        &["diff", "--root", root.to_str().unwrap(), "--format", "json"],
        root,
    );
    assert_eq!(diff.code, 1, "{}{}", diff.stdout, diff.stderr);
    let report: serde_json::Value = serde_json::from_str(&diff.stdout).unwrap();
    let changed = report["environments"][0]["changed"].as_array().unwrap();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["kind"], "Deployment");
    assert_eq!(changed[0]["name"], "api");
    assert!(changed[0]["diff"].as_str().unwrap().contains("+"));
}

/// The layout is the project's: an overlay that sets it is refused where it says so.
#[test]
fn an_overlay_cannot_set_the_layout() {
    let dir = tempdir();
    let root = dir.path();
    write_case(
        &format!("{CASE}-- overlays/dev.yaml --\nlayout: units\n"),
        root,
    );
    let run = gitopsc(&["render", "--root", root.to_str().unwrap()], root);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("overlays/dev.yaml:1:1"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("an overlay cannot set `layout`"),
        "{}",
        run.stderr
    );
}
