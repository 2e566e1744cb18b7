//! Which files are inputs, through the real binary: an overlay's two
//! spellings, and files a project shares with the rest of the machine.

use std::fs;

use crate::support::{gitopsc, write_case};

const PROJECT: &str = "-- blueprints/system.yaml --
system: {name: demo}
layers: [apps]
environments:
  dev: {}
  prod: {extends: dev}
apps:
  api:
    layer: apps
    image: ghcr.io/acme/api:1.0.0
    ports: {http: 8080}
";

/// Kustomize reads `kustomization.yml` as well as `.yaml`, and Flux applies
/// both spellings, so `overlays/prod.yml` is an overlay like `prod.yaml`.
#[test]
fn an_overlay_spelled_yml_applies() {
    let dir = crate::support::tempdir();
    write_case(PROJECT, dir.path());
    fs::create_dir_all(dir.path().join("overlays")).unwrap();
    fs::write(
        dir.path().join("overlays/prod.yml"),
        "apps: {api: {replicas: 4}}\n",
    )
    .unwrap();
    fs::write(dir.path().join("overlays/README.md"), "notes\n").unwrap();
    let run = gitopsc(&["render"], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let deployment = |env: &str| {
        fs::read_to_string(
            dir.path()
                .join(format!("rendered/{env}/apps/api/deployment-api.yaml")),
        )
        .unwrap()
    };
    assert!(deployment("prod").contains("\n  replicas: 4\n"));
    assert!(!deployment("dev").contains("replicas: 4"));
}

const WITH_CONFIG: &str = "-- blueprints/system.yaml --
system: {name: demo}
layers: [apps]
environments: {dev: {}}
apps:
  api:
    layer: apps
    image: ghcr.io/acme/api:1.0.0
    ports: {http: 8080}
    config: {mountPath: /etc/api, files: {app.conf: config/app.conf}}
";

/// A hard link makes a file from elsewhere (here: a stand-in for a system
/// file, on the same file system as hard links must be) look like a project
/// file. It is refused, unread into the output, unless the blueprint allows it.
#[test]
fn hard_linked_inputs_are_refused_unless_the_blueprint_allows_them() {
    let dir = crate::support::tempdir();
    let project = dir.path().join("project");
    write_case(WITH_CONFIG, &project);
    let outside = dir.path().join("etc-shadow");
    fs::write(&outside, "root:secret-hash:19000::::::\n").unwrap();
    fs::create_dir_all(project.join("blueprints/config")).unwrap();
    fs::hard_link(&outside, project.join("blueprints/config/app.conf")).unwrap();

    let refused = gitopsc(&["render"], &project);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.starts_with(
            "error[include]: `blueprints/config/app.conf` has 2 hard links, so it may be a file from outside the project\n --> blueprints/config/app.conf:1:1\n"
        ),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("allowHardLinks"),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("secret-hash"),
        "{}",
        refused.stderr
    );
    assert!(!project.join("rendered").exists(), "nothing written");
    let check = gitopsc(&["check"], &project);
    assert_eq!(check.code, 2, "check refuses the same: {}", check.stderr);

    let blueprint = project.join("blueprints/system.yaml");
    let text = fs::read_to_string(&blueprint).unwrap();
    fs::write(
        &blueprint,
        format!("{text}inputs: {{allowHardLinks: true}}\n"),
    )
    .unwrap();
    let allowed = gitopsc(&["render"], &project);
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    let rendered = crate::support::read_tree(&project.join("rendered/dev"));
    assert!(
        rendered
            .values()
            .any(|b| String::from_utf8_lossy(b).contains("secret-hash")),
        "an allowed link is read like any file"
    );
}
