//! The tracing collector as an edge of the mesh: `mesh.tracing` names it
//! once, and every pod with an injected proxy reaches it on that port, in
//! the NetworkPolicies, in a meshed collector's authorization policy and in
//! `reach`, with no `uses` entry on any app. ztunnel sends no spans, so
//! ambient opens nothing.
//!
//! Upstream behaviour modelled here:
//! - Envoy sidecars export spans to the OpenTelemetry provider of
//!   `meshConfig.extensionProviders` themselves:
//!   https://istio.io/latest/docs/tasks/observability/distributed-tracing/opentelemetry/
//! - ztunnel does no tracing; spans in ambient come from waypoints:
//!   https://istio.io/latest/docs/ambient/usage/waypoint/

use gitopsc::EnvSelection;
use gitopsc::reach::Grant;
use serde_json::Value;

use super::mesh::{blueprint, compile, objects, prod_reach, sources};

const COLLECTOR: &str = r#"
  collector:
    layer: apps
    image: ghcr.io/acme/otel-collector:0.120.0
    ports: {otlp: 4317, health: 13133}
"#;

fn with_tracing(mesh_mode: &str, tracing: &str) -> String {
    let mesh = format!(
        "{{provider: istio, {mesh_mode}cni: true, controlPlane: istiod, tracing: \"{tracing}\"}}"
    );
    blueprint(&mesh, "{network: default-deny, mesh: {mtls: strict}}") + COLLECTOR
}

/// The grants `reach` finds in prod, checked against what the model declares.
fn grants(text: &str) -> Vec<String> {
    let (actual, expected) = prod_reach(text);
    assert!(actual == expected, "rendered and declared differ");
    actual
        .iter()
        .map(Grant::display)
        .filter(|g| g.contains("-> collector:"))
        .collect()
}

#[test]
fn every_sidecar_reaches_the_collector_on_its_port_without_a_uses_entry() {
    let text = with_tracing("", "collector:otlp");
    assert_eq!(
        grants(&text),
        [
            "api -> collector:4317/TCP (otlp)",
            "web -> collector:4317/TCP (otlp)"
        ]
    );
    // The meshed collector's ALLOW policy admits both proxies' identities
    // on that port, or STRICT plus the policy would drop every span.
    let prod = objects(&compile(&text), "prod");
    let policy: &Value = prod
        .values()
        .find(|o| o["kind"] == "AuthorizationPolicy" && o["metadata"]["name"] == "collector")
        .expect("the collector's policy");
    let admitted: Vec<(String, String)> = policy["spec"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            let ports = r["to"][0]["operation"]["ports"].to_string();
            r["from"][0]["source"]["principals"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |p| (p.as_str().unwrap().to_string(), ports.clone()))
        })
        .collect();
    assert_eq!(
        admitted,
        [
            (
                "cluster.local/ns/apps/sa/api".to_string(),
                r#"["4317"]"#.to_string()
            ),
            (
                "cluster.local/ns/apps/sa/web".to_string(),
                r#"["4317"]"#.to_string()
            ),
        ]
    );
    // Without `tracing` nobody reaches it: the edges come from the key alone.
    let none = blueprint(
        "{provider: istio, cni: true, controlPlane: istiod}",
        "{network: default-deny, mesh: {mtls: strict}}",
    ) + COLLECTOR;
    assert!(grants(&none).is_empty());
}

#[test]
fn ambient_opens_nothing_to_the_collector_and_a_wrong_collector_is_located() {
    assert!(grants(&with_tracing("mode: ambient, ", "collector:otlp")).is_empty());
    let wrong = with_tracing("", "colector:otlp");
    let err = gitopsc::compile(sources(&wrong), &EnvSelection::All).expect_err("an error");
    assert!(
        err.message.contains("`colector` is not a component"),
        "{}",
        err.message
    );
    assert_eq!(err.help.as_deref(), Some("did you mean `collector`?"));
    let origin = err.origin.as_ref().expect("located");
    assert_eq!(origin.line, 7, "{origin:?}");
    let wrong_port = with_tracing("", "collector:otel");
    let err = gitopsc::compile(sources(&wrong_port), &EnvSelection::All).expect_err("an error");
    assert!(
        err.message.contains("no port named `otel`"),
        "{}",
        err.message
    );
}
