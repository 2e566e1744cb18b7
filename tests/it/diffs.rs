//! What one change to the blueprint changes in the output: reviewable diffs
//! are small diffs.

use std::sync::Arc;

use gitopsc::{EnvSelection, compile, workspace};

use crate::support::write_case;

/// An image bump is a one-object change per environment: the version label
/// sits on the workload and its pods only, not on every object of the app.
#[test]
fn an_image_bump_changes_one_object_per_environment() {
    let blueprint = |tag: &str| {
        format!(
            "-- blueprints/system.yaml --\nsystem: {{name: demo}}\nlayers: [apps]\nenvironments: {{dev: {{}}, staging: {{}}, prod: {{production: true, zones: [a, b]}}}}\napps:\n  api:\n    layer: apps\n    image: ghcr.io/acme/api:{tag}\n    ports: {{http: 8080}}\n    autoscale: {{min: 2, max: 4}}\n    resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{cpu: 500m, memory: 256Mi}}}}\n    probes: {{readiness: {{http: /ready}}, liveness: {{http: /live}}}}\n    config: {{mountPath: /etc/api, inline: {{app.yaml: \"level: info\\n\"}}}}\n    ingress: {{hosts: [api.example.com]}}\n"
        )
    };
    let render = |tag: &str| {
        let dir = crate::support::tempdir();
        write_case(&blueprint(tag), dir.path());
        let sources = workspace::read_sources(dir.path()).unwrap();
        compile(Arc::new(sources), &EnvSelection::All).unwrap_or_else(|e| panic!("{}", e.render()))
    };
    let (before, after) = (render("1.0.0"), render("1.1.0"));
    for (env, old) in &before.envs {
        let new = &after.envs[env];
        let changed: Vec<&String> = old
            .files
            .iter()
            .filter(|(path, text)| new.files.get(*path) != Some(*text))
            .map(|(path, _)| path)
            .collect();
        assert_eq!(changed.len(), 1, "{env}: {changed:?}");
        assert!(
            changed[0].ends_with("deployment-api.yaml"),
            "{env}: {changed:?}"
        );
    }
}

/// Environments are listed as they are promoted: each after the one it
/// extends, the rest in declared order, never alphabetically.
#[test]
fn environments_come_in_promotion_order() {
    let dir = crate::support::tempdir();
    write_case(
        "-- blueprints/system.yaml --\nsystem: {name: demo}\nlayers: [apps]\nenvironments:\n  prod: {extends: staging}\n  dev: {}\n  staging: {extends: dev}\n  dr: {extends: prod}\n  sandbox: {}\n",
        dir.path(),
    );
    let sources = workspace::read_sources(dir.path()).unwrap();
    let project = gitopsc::blueprint::load(Arc::new(sources)).unwrap();
    assert_eq!(
        gitopsc::resolve::promotion_order(&project),
        ["dev", "staging", "prod", "dr", "sandbox"]
    );
}
