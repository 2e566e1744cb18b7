//! Order without traffic: `after:` between components and layers that name
//! the layers they come after. Flux orders Kustomizations by `dependsOn`
//! (https://fluxcd.io/flux/components/kustomize/kustomizations/#dependencies);
//! Argo CD syncs lower sync waves first and waits for them to be healthy
//! (https://argo-cd.readthedocs.io/en/stable/user-guide/sync-waves/), a total
//! order, so a wave is the longest path of dependencies below a unit.

use serde_json::Value;

use crate::support::{compile_case, env_document};

fn project(engine: &str, after: &str) -> String {
    format!(
        r#"-- blueprints/system.yaml --
system: {{name: demo}}
gitops: {{engine: {engine}, repo: https://github.com/acme/gitops.git}}
layers: [{{name: platform}}, {{name: observability, after: [platform]}}, {{name: apps, after: [platform]}}]
environments:
  prod: {{network: default-deny, apiServer: {{cidr: 10.0.0.10/32}}}}
apps:
  base:
    layer: platform
    image: ghcr.io/acme/base:1.0.0
    ports: {{http: 8080}}
  metrics:
    layer: observability
    image: ghcr.io/acme/metrics:1.0.0
    ports: {{http: 8080}}
  api:
    layer: apps
    image: ghcr.io/acme/api:1.0.0
    ports: {{http: 8080}}
{after}"#
    )
}

fn doc(tree: &gitopsc::tree::RenderedTree, path: &str) -> Value {
    env_document(tree, "prod", path).1
}

fn depends_on(tree: &gitopsc::tree::RenderedTree, unit: &str) -> Vec<String> {
    doc(tree, &format!("gitops/{unit}.yaml"))["spec"]["dependsOn"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect()
}

/// Every NetworkPolicy and AuthorizationPolicy of the tree, by file.
fn policies(tree: &gitopsc::tree::RenderedTree) -> Vec<(String, String)> {
    tree.envs["prod"]
        .files
        .iter()
        .filter(|(_, t)| {
            t.contains("kind: NetworkPolicy") || t.contains("kind: AuthorizationPolicy")
        })
        .map(|(f, t)| (f.clone(), t.clone()))
        .collect()
}

#[test]
fn after_orders_a_component_and_opens_no_network_path() {
    let plain = compile_case(&project("flux", ""));
    let ordered = compile_case(&project("flux", "    after: [metrics]\n"));
    let names = |t: &gitopsc::tree::RenderedTree| {
        t.envs["prod"]
            .files
            .keys()
            .filter(|f| f.starts_with("prod/gitops/"))
            .cloned()
            .collect::<Vec<_>>()
    };
    let api = names(&ordered)
        .into_iter()
        .find(|f| f.ends_with("apps-api.yaml"))
        .expect("the api unit's Kustomization");
    let api = api
        .trim_start_matches("prod/gitops/")
        .trim_end_matches(".yaml");
    let before = depends_on(&plain, api);
    let after = depends_on(&ordered, api);
    assert!(
        !before.iter().any(|d| d.ends_with("observability-metrics")),
        "{before:?}"
    );
    assert!(
        after.iter().any(|d| d.ends_with("observability-metrics")),
        "{after:?}"
    );
    assert_eq!(policies(&plain), policies(&ordered));
    assert!(
        !policies(&plain).is_empty(),
        "default-deny renders policies to compare"
    );
}

#[test]
fn independent_layers_share_a_wave_and_wait_only_for_what_they_follow() {
    let flux = compile_case(&project("flux", ""));
    let api = flux.envs["prod"]
        .files
        .keys()
        .find(|f| f.starts_with("prod/gitops/") && f.ends_with("apps-api.yaml"))
        .expect("the api unit's Kustomization")
        .trim_start_matches("prod/gitops/")
        .trim_end_matches(".yaml")
        .to_string();
    let deps = depends_on(&flux, &api);
    assert!(
        deps.iter().any(|d| d.ends_with("platform-base")),
        "{deps:?}"
    );
    assert!(
        !deps.iter().any(|d| d.ends_with("observability-metrics")),
        "{deps:?}"
    );

    let argo = compile_case(&project("argocd", ""));
    let wave = |unit: &str| -> i64 {
        let file = argo.envs["prod"]
            .files
            .iter()
            .find(|(f, t)| {
                f.starts_with("prod/gitops/")
                    && f.ends_with(&format!("{}.yaml", unit.replace('/', "-")))
                    && t.contains("kind: Application")
            })
            .map(|(f, _)| f.trim_start_matches("prod/").to_string())
            .unwrap_or_else(|| panic!("no Application for {unit}"));
        doc(&argo, &file)["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(wave("observability/metrics"), wave("apps/api"));
    assert!(wave("platform/base") < wave("apps/api"));

    // An `after` across the two independent layers puts one a wave later:
    // the longest path, not the layer's position in the list.
    let argo = compile_case(&project("argocd", "    after: [metrics]\n"));
    let wave = |unit: &str| -> i64 {
        let (_, text) = argo.envs["prod"]
            .files
            .iter()
            .find(|(f, t)| {
                f.starts_with("prod/gitops/")
                    && f.ends_with(&format!("{}.yaml", unit.replace('/', "-")))
                    && t.contains("kind: Application")
            })
            .unwrap();
        let v = gitopsc::yaml::parse_documents("x", text).unwrap().remove(0);
        v["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(wave("apps/api"), wave("observability/metrics") + 1);
}
