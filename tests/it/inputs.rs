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
    let dir = tempfile::tempdir().unwrap();
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
