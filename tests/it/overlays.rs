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
