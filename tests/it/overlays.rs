//! How environments compose: `extends` shares settings, and an overlay reaches
//! another environment only through `inheritOverlays: true`, the way a
//! Kustomize overlay builds on another only when it names it as its base
//! (https://kubectl.docs.kubernetes.io/references/kustomize/glossary/#overlay)
//! and Helm applies only the value files a release lists
//! (https://helm.sh/docs/chart_template_guide/values_files/).

use serde_json::Value;

use crate::support::{compile_project, write_case};

const PROJECT: &str = r#"-- blueprints/system.yaml --
system: {name: demo}
layers: [apps]
environments:
  dev: {domain: dev.example.com}
  staging: {extends: dev}
  prod: {extends: staging, inheritOverlays: true}
apps:
  web:
    layer: apps
    image: ghcr.io/acme/web:1.0.0
    ports: {http: 8080}
    env: {NODE_ENV: production, URL: "https://{{ env.domain }}"}
-- overlays/dev.yaml --
apps:
  web:
    env: {NODE_ENV: development, LOG_LEVEL: debug}
-- overlays/staging.yaml --
apps:
  web: {replicas: 2}
"#;

/// `web`'s Deployment in `env`, read back through gitopsc's own reader.
fn deployment(tree: &gitopsc::tree::RenderedTree, env: &str) -> Value {
    let text = &tree.envs[env].files[&format!("{env}/apps/web/deployment-web.yaml")];
    gitopsc::yaml::parse_documents("deployment-web.yaml", text)
        .unwrap()
        .remove(0)
}

fn env_vars(deployment: &Value) -> Vec<(String, String)> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let value = e["value"].as_str().unwrap_or_default().to_string();
            (e["name"].as_str().unwrap().to_string(), value)
        })
        .collect()
}

#[test]
fn extends_shares_settings_but_not_the_overlay() {
    let dir = crate::support::tempdir();
    write_case(PROJECT, dir.path());
    let tree = compile_project(dir.path());
    let dev = env_vars(&deployment(&tree, "dev"));
    assert!(
        dev.contains(&("LOG_LEVEL".into(), "debug".into())),
        "{dev:?}"
    );
    let staging_deployment = deployment(&tree, "staging");
    let staging = env_vars(&staging_deployment);
    assert!(
        staging.contains(&("NODE_ENV".into(), "production".into())),
        "dev's overlay reached staging: {staging:?}"
    );
    assert!(
        !staging.iter().any(|(name, _)| name == "LOG_LEVEL"),
        "{staging:?}"
    );
    // The settings still come down the chain: staging sets no domain of its own.
    assert!(
        staging.contains(&("URL".into(), "https://dev.example.com".into())),
        "{staging:?}"
    );
    assert_eq!(staging_deployment["spec"]["replicas"], 2);
}

#[test]
fn inherit_overlays_builds_on_the_parent_overlay_only() {
    let dir = crate::support::tempdir();
    write_case(PROJECT, dir.path());
    let tree = compile_project(dir.path());
    let prod_deployment = deployment(&tree, "prod");
    // prod inherits staging's overlay (two replicas) ...
    assert_eq!(prod_deployment["spec"]["replicas"], 2);
    // ... but staging does not inherit dev's, so neither does prod.
    let prod = env_vars(&prod_deployment);
    assert!(
        prod.contains(&("NODE_ENV".into(), "production".into())),
        "{prod:?}"
    );
    assert!(
        !prod.iter().any(|(name, _)| name == "LOG_LEVEL"),
        "{prod:?}"
    );
}

/// The blueprint's `patches:` apply in every environment, before an
/// environment's own: the same order as the merge (blueprint, then overlays),
/// and as Kustomize, where a base's patches run before the overlay that
/// builds on it (https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/patches/).
const PATCHED: &str = r#"-- blueprints/system.yaml --
system: {name: demo}
layers: [apps]
environments:
  dev: {}
  prod: {}
apps:
  web:
    layer: apps
    image: ghcr.io/acme/web:1.0.0
    ports: {http: 8080}
patches:
  - target: {kind: Deployment, name: web}
    ops:
      - {op: add, path: /spec/minReadySeconds, value: 10}
      - {op: add, path: /spec/progressDeadlineSeconds, value: 300}
-- overlays/prod.yaml --
patches:
  - target: {kind: Deployment, name: web}
    ops:
      - {op: test, path: /spec/minReadySeconds, value: 10}
      - {op: replace, path: /spec/progressDeadlineSeconds, value: 900}
"#;

#[test]
fn blueprint_patches_apply_in_every_environment_before_its_own() {
    let dir = crate::support::tempdir();
    write_case(PATCHED, dir.path());
    let tree = compile_project(dir.path());
    let dev = deployment(&tree, "dev");
    assert_eq!(dev["spec"]["minReadySeconds"], 10, "no overlay of its own");
    assert_eq!(dev["spec"]["progressDeadlineSeconds"], 300);
    let prod = deployment(&tree, "prod");
    // prod's `test` saw the blueprint's value, and its `replace` came last.
    assert_eq!(prod["spec"]["minReadySeconds"], 10);
    assert_eq!(prod["spec"]["progressDeadlineSeconds"], 900);
    for env in ["dev", "prod"] {
        let text = &tree.envs[env].files[&format!("{env}/apps/web/deployment-web.yaml")];
        insta::assert_snapshot!(format!("blueprint_patches_{env}"), text);
    }
}
