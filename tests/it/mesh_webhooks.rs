//! The API server reaches the mesh's admission webhooks under default-deny:
//! istiod serves sidecar injection and config validation on 15017 ("Ports
//! used by Istio",
//! https://istio.io/latest/docs/ops/deployment/application-requirements/),
//! and the injector's webhook fails closed, so a blocked port makes every
//! pod creation in an injected namespace fail
//! (https://istio.io/latest/docs/ops/common-problems/injection/).

use serde_json::Value;

use crate::mesh::{blueprint, compile, objects};

const API: &str = "apiServer: {cidr: 10.0.1.0/24, port: 6443}";

/// The ingress rules of istiod's NetworkPolicy in prod, if it has one.
fn istiod_ingress(mesh: &str, prod: &str) -> Vec<Value> {
    let tree = compile(&blueprint(mesh, prod));
    objects(&tree, "prod")
        .into_values()
        .find(|o| o["kind"] == "NetworkPolicy" && o["metadata"]["name"] == "ingress-istiod")
        .map(|p| p["spec"]["ingress"].as_array().unwrap().clone())
        .unwrap_or_default()
}

fn from_api_server(rules: &[Value]) -> Vec<&Value> {
    rules
        .iter()
        .filter(|r| r["from"][0]["ipBlock"]["cidr"] == "10.0.1.0/24")
        .collect()
}

#[test]
fn the_api_server_reaches_istiods_webhooks_under_default_deny() {
    let sidecar = "{provider: istio, cni: true, controlPlane: istiod}";
    let rules = istiod_ingress(sidecar, &format!("{{network: default-deny, {API}}}"));
    let webhook = from_api_server(&rules);
    assert_eq!(webhook.len(), 1, "{rules:#?}");
    assert_eq!(
        webhook[0]["ports"],
        serde_json::json!([{"port": 15017, "protocol": "TCP"}])
    );
    // Ambient still validates Istio's configuration through the webhook.
    let ambient = "{provider: istio, mode: ambient, cni: true, controlPlane: istiod}";
    let rules = istiod_ingress(ambient, &format!("{{network: namespace-isolated, {API}}}"));
    assert_eq!(from_api_server(&rules).len(), 1, "{rules:#?}");
}

#[test]
fn without_a_mesh_the_api_server_gets_no_rule_at_istiod() {
    let rules = istiod_ingress(
        "{enabled: false}",
        &format!("{{network: default-deny, {API}}}"),
    );
    assert!(from_api_server(&rules).is_empty(), "{rules:#?}");
}
