//! The mesh's authorization, walked over the rendered objects: every `uses`
//! edge between meshed apps is allowed by exactly one rule, and no other
//! connection between meshed apps is allowed by any.
//!
//! Istio's semantics, as modelled here
//! (https://istio.io/latest/docs/reference/config/security/authorization-policy/
//! and https://istio.io/latest/docs/concepts/security/#allow-nothing-deny-all-and-allow-all-policy):
//! a workload no ALLOW policy selects takes every request; once one selects
//! it, a request is allowed only if some rule matches; a rule matches when
//! one of its `from` sources matches (or it has none) and one of its `to`
//! operations lists the port (or it has none); an ALLOW policy with no rules
//! matches nothing. A source matches by `principals` (`*` is any identity),
//! `notPrincipals` (`*`: no identity, plaintext) or `namespaces` (the
//! caller's mTLS identity's namespace).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::mesh::{blueprint, compile, objects};

/// A caller as the mesh sees it: its principal and namespace, or none.
struct Peer {
    principal: Option<String>,
    namespace: Option<String>,
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn source_matches(source: &Value, peer: &Peer) -> bool {
    let principal = peer.principal.as_deref();
    let checks = [
        source.get("principals").map(|p| {
            strings(p)
                .iter()
                .any(|want| principal.is_some_and(|have| *want == "*" || *want == have))
        }),
        source.get("notPrincipals").map(|p| {
            !strings(p)
                .iter()
                .any(|not| principal.is_some_and(|have| *not == "*" || *not == have))
        }),
        source.get("namespaces").map(|n| {
            principal.is_some()
                && strings(n)
                    .iter()
                    .any(|ns| peer.namespace.as_deref() == Some(*ns))
        }),
    ];
    checks.iter().flatten().all(|ok| *ok)
}

fn rule_matches(rule: &Value, peer: &Peer, port: u32) -> bool {
    let from_ok = match rule.get("from").and_then(Value::as_array) {
        None => true,
        Some(froms) => froms.iter().any(|f| source_matches(&f["source"], peer)),
    };
    let to_ok = match rule.get("to").and_then(Value::as_array) {
        None => true,
        Some(tos) => tos.iter().any(|t| {
            let ports = strings(&t["operation"]["ports"]);
            ports.is_empty() || ports.contains(&port.to_string().as_str())
        }),
    };
    from_ok && to_ok
}

/// How many rules of the ALLOW policies selecting pods with `labels` in
/// `namespace` let `peer` in on `port`; `None` when no policy selects them
/// (Istio then allows everything).
fn allowing_rules(
    objects: &BTreeMap<String, Value>,
    namespace: &str,
    labels: &Value,
    peer: &Peer,
    port: u32,
) -> Option<usize> {
    let selecting: Vec<&Value> = objects
        .values()
        .filter(|o| o["kind"] == "AuthorizationPolicy" && o["metadata"]["namespace"] == namespace)
        .filter(|o| o["spec"]["action"].as_str().unwrap_or("ALLOW") == "ALLOW")
        .filter(|o| match o["spec"]["selector"]["matchLabels"].as_object() {
            None => true,
            Some(m) => m.iter().all(|(k, v)| labels.get(k) == Some(v)),
        })
        .collect();
    if selecting.is_empty() {
        return None;
    }
    Some(
        selecting
            .iter()
            .flat_map(|p| p["spec"]["rules"].as_array().into_iter().flatten())
            .filter(|r| rule_matches(r, peer, port))
            .count(),
    )
}

/// A meshed workload of the rendered tree: name, namespace, pod labels,
/// service account and container ports.
struct Workload {
    name: String,
    namespace: String,
    labels: Value,
    service_account: String,
    ports: BTreeSet<u32>,
}

fn meshed_workloads(objects: &BTreeMap<String, Value>) -> Vec<Workload> {
    let meshed: BTreeSet<&str> = objects
        .values()
        .filter(|o| o["kind"] == "Namespace")
        .filter(|o| {
            let l = &o["metadata"]["labels"];
            l["istio-injection"] == "enabled"
                || l.get("istio.io/rev").is_some()
                || l["istio.io/dataplane-mode"] == "ambient"
        })
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    objects
        .values()
        .filter(|o| matches!(o["kind"].as_str(), Some("Deployment" | "StatefulSet")))
        .filter(|o| {
            o["metadata"]["namespace"]
                .as_str()
                .is_some_and(|n| meshed.contains(n))
        })
        .map(|o| {
            let pod = &o["spec"]["template"];
            Workload {
                name: o["metadata"]["name"].as_str().unwrap_or_default().into(),
                namespace: o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .into(),
                labels: pod["metadata"]["labels"].clone(),
                service_account: pod["spec"]["serviceAccountName"]
                    .as_str()
                    .unwrap_or("default")
                    .into(),
                ports: pod["spec"]["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                    .filter_map(|p| p["containerPort"].as_u64())
                    .map(|p| p as u32)
                    .collect(),
            }
        })
        .collect()
}

/// Every (caller, callee, port) between meshed workloads whose count of
/// allowing rules is wrong: one for an edge, none otherwise.
fn wrong_grants(
    objects: &BTreeMap<String, Value>,
    trust_domain: &str,
    edges: &BTreeSet<(String, String, u32)>,
) -> Vec<String> {
    let workloads = meshed_workloads(objects);
    let mut wrong = Vec::new();
    for caller in &workloads {
        let peer = Peer {
            principal: Some(format!(
                "{trust_domain}/ns/{}/sa/{}",
                caller.namespace, caller.service_account
            )),
            namespace: Some(caller.namespace.clone()),
        };
        for callee in &workloads {
            for &port in &callee.ports {
                let count = allowing_rules(objects, &callee.namespace, &callee.labels, &peer, port);
                let edge = edges.contains(&(caller.name.clone(), callee.name.clone(), port));
                if count != Some(usize::from(edge)) {
                    wrong.push(format!(
                        "{} -> {}:{port}: {count:?} rules",
                        caller.name, callee.name
                    ));
                }
            }
        }
    }
    wrong
}

const EXTRA_APPS: &str = r#"
  worker:
    layer: apps
    namespace: jobs
    image: ghcr.io/acme/worker:1.0.0
    ports: {http: 8081, cluster: 7000}
    peers: [cluster]
    uses: ["api:http"]
"#;

fn edges(list: &[(&str, &str, u32)]) -> BTreeSet<(String, String, u32)> {
    list.iter()
        .map(|(a, b, p)| (a.to_string(), b.to_string(), *p))
        .collect()
}

#[test]
fn every_uses_edge_is_allowed_by_exactly_one_rule_and_nothing_else_is() {
    for (mesh, trust_domain) in [
        (
            "{provider: istio, cni: true, controlPlane: istiod}",
            "cluster.local",
        ),
        (
            "{provider: istio, mode: ambient, cni: true, controlPlane: istiod, trustDomain: prod.acme.internal}",
            "prod.acme.internal",
        ),
    ] {
        let text = blueprint(mesh, "{mesh: {mtls: strict}}") + EXTRA_APPS;
        let tree = compile(&text);
        let prod = objects(&tree, "prod");
        let declared = edges(&[
            ("web", "api", 8080),
            ("worker", "api", 8080),
            ("worker", "worker", 7000),
        ]);
        assert_eq!(
            wrong_grants(&prod, trust_domain, &declared),
            Vec::<String>::new(),
            "{mesh}"
        );
        // The walk can fail: an edge the blueprint does not declare is caught,
        // and so is one the policies do not allow.
        let extra = edges(&[("web", "api", 8080), ("worker", "api", 8080)]);
        assert_eq!(
            wrong_grants(&prod, trust_domain, &extra),
            ["worker -> worker:7000: Some(1) rules"],
            "{mesh}"
        );
        let mut more = declared.clone();
        more.insert(("api".into(), "web".into(), 3000));
        assert_eq!(
            wrong_grants(&prod, trust_domain, &more),
            ["api -> web:3000: Some(0) rules"],
            "{mesh}"
        );
    }
}

#[test]
fn plaintext_callers_are_allowed_on_their_ports_only() {
    let text = blueprint(
        "{provider: istio, cni: true, controlPlane: istiod}",
        "{mesh: {mtls: strict}}",
    );
    let tree = compile(&text);
    let prod = objects(&tree, "prod");
    let api = prod
        .values()
        .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "api")
        .unwrap();
    let labels = &api["spec"]["template"]["metadata"]["labels"];
    let plaintext = Peer {
        principal: None,
        namespace: None,
    };
    // Prometheus, outside the mesh, scrapes the metrics port and nothing else.
    assert_eq!(
        allowing_rules(&prod, "apps", labels, &plaintext, 9090),
        Some(1)
    );
    assert_eq!(
        allowing_rules(&prod, "apps", labels, &plaintext, 8080),
        Some(0)
    );
    let mut text = String::new();
    for (file, _) in prod
        .iter()
        .filter(|(_, o)| o["kind"] == "AuthorizationPolicy")
    {
        text.push_str(&format!("--- {file}\n{}", tree.envs["prod"].files[file]));
    }
    insta::assert_snapshot!("istio_authorization_prod", text);
}
