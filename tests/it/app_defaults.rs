//! `defaults.apps`: keys set once for every app, the app's own value winning,
//! maps merged deeply (RFC 7386, https://www.rfc-editor.org/rfc/rfc7386),
//! `uses` extended and other lists replaced, and an overlay's changes to the
//! defaults reaching every app of its environment.

use serde_json::Value;

use crate::support::{compile_project, write_case};

const PROJECT: &str = r#"-- blueprints/system.yaml --
system: {name: demo}
layers: [data, apps]
environments:
  dev: {network: default-deny}
  prod: {extends: dev}
defaults:
  apps:
    layer: apps
    env: {LOG_FORMAT: json, TZ: UTC}
    uses: [cache]
    args: [--serve]
    resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 256Mi}}
apps:
  cache:
    layer: data
    image: valkey/valkey:8.0.1
    ports: {redis: 6379}
    uses: null
    args: null
  web:
    image: ghcr.io/acme/web:1.0.0
    ports: {http: 8080}
    env: {TZ: Europe/Berlin}
    args: [--port, "8080"]
    resources: {limits: {memory: 512Mi}}
  worker:
    image: ghcr.io/acme/worker:1.0.0
    uses: [web, cache]
-- overlays/prod.yaml --
defaults:
  apps:
    replicas: 2
apps:
  worker:
    replicas: null
"#;

fn container(tree: &gitopsc::tree::RenderedTree, env: &str, path: &str) -> Value {
    let text = &tree.envs[env].files[&format!("{env}/{path}")];
    let value = gitopsc::yaml::parse_documents(path, text)
        .unwrap()
        .remove(0);
    value["spec"]["template"]["spec"]["containers"][0].clone()
}

fn replicas(tree: &gitopsc::tree::RenderedTree, env: &str, path: &str) -> Value {
    let text = &tree.envs[env].files[&format!("{env}/{path}")];
    gitopsc::yaml::parse_documents(path, text).unwrap()[0]["spec"]["replicas"].clone()
}

fn env_value(container: &Value, name: &str) -> Option<String> {
    container["env"].as_array()?.iter().find_map(|e| {
        (e["name"] == name).then(|| e["value"].as_str().unwrap_or_default().to_string())
    })
}

#[test]
fn defaults_reach_every_app_and_the_app_wins() {
    let dir = crate::support::tempdir();
    write_case(PROJECT, dir.path());
    let tree = compile_project(dir.path());
    let web = container(&tree, "dev", "apps/web/deployment-web.yaml");
    let worker = container(&tree, "dev", "apps/worker/deployment-worker.yaml");
    let cache = container(&tree, "dev", "data/cache/deployment-cache.yaml");

    // Maps merge: web keeps the default LOG_FORMAT and its own TZ, and its
    // memory limit over the default's requests.
    assert_eq!(env_value(&web, "LOG_FORMAT").as_deref(), Some("json"));
    assert_eq!(env_value(&web, "TZ").as_deref(), Some("Europe/Berlin"));
    assert_eq!(env_value(&worker, "TZ").as_deref(), Some("UTC"));
    assert_eq!(web["resources"]["limits"]["memory"], "512Mi");
    assert_eq!(web["resources"]["requests"]["cpu"], "100m");
    // Other lists are replaced whole; `null` drops the default.
    assert_eq!(web["args"], serde_json::json!(["--port", "8080"]));
    assert_eq!(worker["args"], serde_json::json!(["--serve"]));
    assert!(cache.get("args").is_none(), "{cache}");

    // `uses` is extended: worker reaches cache once, and web through the
    // default alone, so cache's policy admits both.
    let policy = &tree.envs["dev"].files["dev/data/cache/networkpolicy-ingress-cache.yaml"];
    assert!(policy.contains("app.kubernetes.io/name: web"), "{policy}");
    assert_eq!(
        policy.matches("app.kubernetes.io/name: worker").count(),
        1,
        "{policy}"
    );

    // prod's overlay sets a default every app takes, except where it removes it.
    assert_eq!(replicas(&tree, "prod", "apps/web/deployment-web.yaml"), 2);
    assert_eq!(replicas(&tree, "dev", "apps/web/deployment-web.yaml"), 1);
    assert_eq!(
        replicas(&tree, "prod", "apps/worker/deployment-worker.yaml"),
        1,
        "the overlay's null on the app wins over the default"
    );
}
