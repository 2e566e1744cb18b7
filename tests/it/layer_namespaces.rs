//! A layer that names its namespace (`{name: apps, namespace: production}`):
//! its components land there unless they name their own, and the namespace
//! takes part in everything a namespace gets (the Namespace object and its
//! Pod Security labels, `namespaces:` settings, quota, default-deny policy).

use serde_json::Value;

use crate::support::{compile_project, write_case};

const PROJECT: &str = r#"-- blueprints/system.yaml --
system: {name: demo}
layers: [platform, {name: apps, namespace: production}]
environments:
  dev: {network: default-deny}
namespaces:
  production:
    labels: {team: shop}
    quota: {pods: 20}
apps:
  web:
    layer: apps
    image: ghcr.io/acme/web:1.0.0
    ports: {http: 8080}
    uses: [api]
  api:
    layer: apps
    namespace: edge
    image: ghcr.io/acme/api:1.0.0
    ports: {http: 8080}
  ops:
    layer: platform
    image: ghcr.io/acme/ops:1.0.0
    ports: {http: 8080}
"#;

fn read(tree: &gitopsc::tree::RenderedTree, path: &str) -> Value {
    let text = tree.envs["dev"]
        .files
        .get(path)
        .unwrap_or_else(|| panic!("{path} is rendered"));
    gitopsc::yaml::parse_documents(path, text)
        .unwrap()
        .remove(0)
}

#[test]
fn components_of_a_layer_land_in_its_namespace_unless_they_name_their_own() {
    let dir = crate::support::tempdir();
    write_case(PROJECT, dir.path());
    let tree = compile_project(dir.path());
    let web = read(&tree, "dev/apps/web/deployment-web.yaml");
    assert_eq!(web["metadata"]["namespace"], "production");
    let api = read(&tree, "dev/apps/api/deployment-api.yaml");
    assert_eq!(
        api["metadata"]["namespace"], "edge",
        "its own `namespace:` wins"
    );
    let ops = read(&tree, "dev/platform/ops/deployment-ops.yaml");
    assert_eq!(
        ops["metadata"]["namespace"], "platform",
        "other layers keep `per-layer`"
    );
    let files = &tree.envs["dev"].files;
    assert!(
        !files.keys().any(|f| f.starts_with("dev/namespaces/apps/")),
        "no namespace is named after the layer: {:?}",
        files.keys().collect::<Vec<_>>()
    );
    let namespace = read(&tree, "dev/namespaces/production/namespace-production.yaml");
    let labels = &namespace["metadata"]["labels"];
    assert_eq!(labels["team"], "shop", "`namespaces.production` applies");
    assert_eq!(labels["pod-security.kubernetes.io/enforce"], "restricted");
    let quota = read(&tree, "dev/namespaces/production/resourcequota-quota.yaml");
    assert_eq!(quota["spec"]["hard"]["pods"], "20");
    let deny = read(
        &tree,
        "dev/namespaces/production/networkpolicy-default-deny.yaml",
    );
    assert_eq!(deny["metadata"]["namespace"], "production");
    // `web` calls `api` across namespaces: the egress rule names `edge`.
    let egress = read(&tree, "dev/apps/web/networkpolicy-egress-web.yaml");
    let text = serde_json::to_string(&egress).unwrap();
    assert!(text.contains("\"edge\""), "{text}");
}
