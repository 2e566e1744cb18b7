//! A chart's name in its repository defaults to its key, as `helm install
//! cert-manager jetstack/cert-manager` names release and chart alike
//! (https://helm.sh/docs/helm/helm_install/): in the blueprint, in a chart an
//! overlay adds, and never over a `chart:` the blueprint writes.

use serde_json::Value;

use crate::support::compile_case;

const PROJECT: &str = r#"-- blueprints/system.yaml --
system: {name: demo}
gitops: {engine: flux, repo: "https://github.com/acme/gitops.git", branch: main, path: clusters}
layers: [platform]
environments:
  dev: {}
  prod: {extends: dev}
charts:
  cert-manager:
    layer: platform
    repo: https://charts.jetstack.io
    version: v1.19.4
  istio-base:
    layer: platform
    repo: https://istio-release.storage.googleapis.com/charts
    chart: base
    version: 1.30.0
-- overlays/prod.yaml --
charts:
  reloader:
    layer: platform
    repo: https://stakater.github.io/stakater-charts
    version: 2.1.3
"#;

/// `spec.chart.spec.chart` of every HelmRelease in `env`, by release name.
fn chart_names(tree: &gitopsc::tree::RenderedTree, env: &str) -> Vec<(String, String)> {
    let mut names = Vec::new();
    for (path, text) in &tree.envs[env].files {
        if !path.ends_with(".yaml") {
            continue;
        }
        for doc in gitopsc::yaml::parse_documents(path, text).unwrap() {
            if doc["kind"] == "HelmRelease" {
                let chart: &Value = &doc["spec"]["chart"]["spec"]["chart"];
                names.push((
                    doc["metadata"]["name"].as_str().unwrap().to_string(),
                    chart.as_str().unwrap().to_string(),
                ));
            }
        }
    }
    names.sort();
    names
}

#[test]
fn a_chart_without_a_chart_name_is_the_chart_its_key_names() {
    let tree = compile_case(PROJECT);
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        chart_names(&tree, "dev"),
        vec![
            pair("cert-manager", "cert-manager"),
            pair("istio-base", "base")
        ]
    );
    assert_eq!(
        chart_names(&tree, "prod"),
        vec![
            pair("cert-manager", "cert-manager"),
            pair("istio-base", "base"),
            pair("reloader", "reloader"),
        ]
    );
}
