//! Linkerd's authorization, walked over the rendered objects of the
//! `tests/fixtures/linkerd` project: every `uses` edge between meshed apps
//! is allowed by exactly one identity rule, no other meshed connection by
//! any, and the ports plaintext callers reach (Prometheus, the ingress
//! controller) are exactly the ones opened by network.
//!
//! Linkerd's semantics, as modelled here
//! (https://linkerd.io/2/reference/authorization-policy/ and
//! https://linkerd.io/2/features/server-policy/): a port no `Server` selects
//! takes the default inbound policy (`all-authenticated`: any meshed
//! client); once a Server selects a pod's port, a connection is allowed only
//! if some `AuthorizationPolicy` targeting that Server has every one of its
//! `requiredAuthenticationRefs` satisfied; a `MeshTLSAuthentication` is
//! satisfied by a listed identity (`*.` prefix: any in that domain), a
//! `NetworkAuthentication` by a client address in its networks, which every
//! pod's is. Identities are `<sa>.<ns>.serviceaccount.identity.linkerd.<td>`
//! (policy-controller tests in linkerd/linkerd2).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::mesh::{compile, objects};
use crate::support::repo_root;

fn fixture() -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/linkerd/blueprints/system.yaml"))
        .unwrap()
}

fn named<'a>(
    objects: &'a BTreeMap<String, Value>,
    kind: &str,
    ns: &str,
    name: &str,
) -> Option<&'a Value> {
    objects.values().find(|o| {
        o["kind"] == kind && o["metadata"]["namespace"] == ns && o["metadata"]["name"] == name
    })
}

fn identity_matches(want: &str, have: &str) -> bool {
    want == "*" || want == have || want.strip_prefix('*').is_some_and(|s| have.ends_with(s))
}

/// The rules allowing a client with `identity` (none: plaintext) into the
/// pods with `labels` in `ns` on `port`, as (by identity, by network);
/// `None` when no Server selects that port.
fn allowing(
    objects: &BTreeMap<String, Value>,
    ns: &str,
    labels: &Value,
    identity: Option<&str>,
    port: u32,
) -> Option<(usize, usize)> {
    let servers: Vec<&Value> = objects
        .values()
        .filter(|o| o["kind"] == "Server" && o["metadata"]["namespace"] == ns)
        .filter(|o| o["spec"]["port"].as_u64() == Some(u64::from(port)))
        .filter(|o| {
            o["spec"]["podSelector"]["matchLabels"]
                .as_object()
                .is_some_and(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)))
        })
        .collect();
    assert!(servers.len() <= 1, "overlapping Servers on {ns}:{port}");
    let server = servers.first()?;
    assert_eq!(server["spec"]["accessPolicy"], "deny");
    let (mut by_identity, mut by_network) = (0, 0);
    for policy in objects.values().filter(|o| {
        o["kind"] == "AuthorizationPolicy"
            && o["metadata"]["namespace"] == ns
            && o["spec"]["targetRef"]["kind"] == "Server"
            && o["spec"]["targetRef"]["name"] == server["metadata"]["name"]
    }) {
        let refs = policy["spec"]["requiredAuthenticationRefs"]
            .as_array()
            .unwrap();
        let mut network = false;
        let all = refs.iter().all(|r| {
            let kind = r["kind"].as_str().unwrap();
            let authn = named(objects, kind, ns, r["name"].as_str().unwrap())
                .unwrap_or_else(|| panic!("{kind} {} rendered", r["name"]));
            match kind {
                "MeshTLSAuthentication" => identity.is_some_and(|have| {
                    authn["spec"]["identities"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|w| identity_matches(w.as_str().unwrap(), have))
                }),
                "NetworkAuthentication" => {
                    network = true;
                    !authn["spec"]["networks"].as_array().unwrap().is_empty()
                }
                other => panic!("unmodelled authentication {other}"),
            }
        });
        if all && network {
            by_network += 1;
        } else if all {
            by_identity += 1;
        }
    }
    Some((by_identity, by_network))
}

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
        .filter(|o| o["metadata"]["annotations"]["linkerd.io/inject"] == "enabled")
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
                name: o["metadata"]["name"].as_str().unwrap().into(),
                namespace: o["metadata"]["namespace"].as_str().unwrap().into(),
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

/// Every (caller, callee, port) whose count of identity rules is wrong (one
/// for an edge, none otherwise, no port left to the default policy), and
/// every (callee, port) opened by network.
fn walk(
    objects: &BTreeMap<String, Value>,
    edges: &BTreeSet<(&str, &str, u32)>,
) -> (Vec<String>, BTreeSet<(String, u32)>) {
    let workloads = meshed_workloads(objects);
    let mut wrong = Vec::new();
    let mut by_network = BTreeSet::new();
    for caller in &workloads {
        let identity = format!(
            "{}.{}.serviceaccount.identity.linkerd.cluster.local",
            caller.service_account, caller.namespace
        );
        for callee in &workloads {
            for &port in &callee.ports {
                let got = allowing(
                    objects,
                    &callee.namespace,
                    &callee.labels,
                    Some(&identity),
                    port,
                );
                let edge = edges.contains(&(caller.name.as_str(), callee.name.as_str(), port));
                match got {
                    Some((n, network)) => {
                        if n != usize::from(edge) {
                            wrong.push(format!(
                                "{} -> {}:{port}: {n} rules",
                                caller.name, callee.name
                            ));
                        }
                        if network > 0 {
                            by_network.insert((callee.name.clone(), port));
                        }
                    }
                    None => wrong.push(format!(
                        "{} -> {}:{port}: no Server",
                        caller.name, callee.name
                    )),
                }
            }
        }
    }
    (wrong, by_network)
}

const DECLARED: [(&str, &str, u32); 3] = [
    ("web", "api", 8080),
    ("worker", "api", 8080),
    ("worker", "worker", 7000),
];

#[test]
fn every_uses_edge_is_allowed_by_exactly_one_linkerd_rule_and_nothing_else_is() {
    let tree = compile(&fixture());
    for env in ["dev", "prod"] {
        let rendered = objects(&tree, env);
        let declared: BTreeSet<_> = DECLARED.into_iter().collect();
        let (wrong, by_network) = walk(&rendered, &declared);
        assert_eq!(wrong, Vec::<String>::new(), "{env}");
        // The scrape port and the routed port, and nothing else, take plaintext.
        let open: BTreeSet<(String, u32)> =
            [("api".to_string(), 9090), ("web".to_string(), 3000)].into();
        assert_eq!(by_network, open, "{env}");
        // The walk can fail: a missing edge and an undeclared one are both caught.
        let fewer: BTreeSet<_> = DECLARED[..2].iter().copied().collect();
        assert_eq!(
            walk(&rendered, &fewer).0,
            ["worker -> worker:7000: 1 rules"]
        );
        let mut more = declared.clone();
        more.insert(("api", "web", 3000));
        assert_eq!(walk(&rendered, &more).0, ["api -> web:3000: 0 rules"]);
    }
}

#[test]
fn the_service_monitor_port_is_authorized_for_an_unmeshed_prometheus_and_strict_is_all_authenticated()
 {
    let tree = compile(&fixture());
    let prod = objects(&tree, "prod");
    let monitor = named(&prod, "ServiceMonitor", "apps", "api").expect("api's ServiceMonitor");
    let service = named(&prod, "Service", "apps", "api").unwrap();
    let deployment = named(&prod, "Deployment", "apps", "api").unwrap();
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    for endpoint in monitor["spec"]["endpoints"].as_array().unwrap() {
        // ServiceMonitor port -> Service port name -> targetPort -> containerPort.
        let service_port = service["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == endpoint["port"])
            .unwrap();
        let target = &service_port["targetPort"];
        let port = containers
            .iter()
            .flat_map(|c| c["ports"].as_array().unwrap())
            .find(|p| &p["name"] == target || &p["containerPort"] == target)
            .and_then(|p| p["containerPort"].as_u64())
            .unwrap() as u32;
        assert_eq!(
            allowing(&prod, "apps", labels, None, port),
            Some((0, 1)),
            "scrape of {port}"
        );
        // Plaintext reaches nothing but the scrape port.
        assert_eq!(allowing(&prod, "apps", labels, None, 8080), Some((0, 0)));
    }
    for env in ["dev", "prod"] {
        let apps = objects(&tree, env)
            .into_values()
            .find(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == "apps")
            .unwrap();
        let policy = apps["metadata"]["annotations"]
            .get("config.linkerd.io/default-inbound-policy")
            .cloned();
        let want = (env == "prod").then(|| Value::from("all-authenticated"));
        assert_eq!(policy, want, "{env}");
    }
    let mut text = String::new();
    for (file, o) in &prod {
        if o["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("policy.linkerd.io/"))
            && o["metadata"]["namespace"] == "apps"
        {
            text.push_str(&format!("--- {file}\n{}", tree.envs["prod"].files[file]));
        }
    }
    insta::assert_snapshot!("linkerd_authorization_prod", text);
}
