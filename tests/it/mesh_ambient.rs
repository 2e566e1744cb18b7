//! Istio ambient under default-deny: every `uses` edge between ambient pods
//! is open on HBONE's port 15008 at both ends, the kubelet's probes come
//! from ztunnel's 169.254.7.127 on the probe ports alone, and the
//! authorization policies name only what ztunnel enforces without a
//! waypoint (identities, namespaces, ports).
//!
//! Upstream behaviour modelled here:
//! - meshed traffic enters the receiving pod on 15008; probes are SNATed to
//!   169.254.7.127: https://istio.io/latest/docs/ambient/usage/networkpolicy/
//! - ztunnel enforces L4 attributes only; HTTP attributes need a waypoint:
//!   https://istio.io/latest/docs/ambient/usage/l4-policy/

use std::collections::BTreeSet;
use std::sync::Arc;

use gitopsc::EnvSelection;
use gitopsc::sources::{BLUEPRINT_FILE, Sources};

use serde_json::Value;

use super::mesh::{blueprint, compile, objects};

const PROBED: &str = r#"
  worker:
    layer: apps
    image: ghcr.io/acme/worker:1.0.0
    ports: {http: 8000, admin: 9000}
    uses: ["api:http", web]
    probes:
      readiness: {http: /ready}
      liveness: {tcp: admin}
"#;

const AMBIENT: &str = "{provider: istio, mode: ambient, cni: true, controlPlane: istiod}";

fn name_of(peer: &Value) -> Option<&str> {
    let labels = &peer["podSelector"]["matchLabels"];
    labels["app.kubernetes.io/name"]
        .as_str()
        .or_else(|| labels["app"].as_str())
}

fn ports_of(rule: &Value) -> BTreeSet<u64> {
    rule["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["port"].as_u64())
        .collect()
}

/// (policy's pod, peer's pod or block, ports) of every rule of the
/// NetworkPolicies of `direction` (`ingress` or `egress`) among `objects`.
fn rules(objects: &[&Value], direction: &str) -> Vec<(String, String, BTreeSet<u64>)> {
    let peer_key = if direction == "ingress" { "from" } else { "to" };
    let mut out = Vec::new();
    for policy in objects.iter().filter(|o| o["kind"] == "NetworkPolicy") {
        let Some(at) = name_of(&policy["spec"]) else {
            continue;
        };
        for rule in policy["spec"][direction].as_array().into_iter().flatten() {
            for peer in rule[peer_key].as_array().into_iter().flatten() {
                let who = name_of(peer)
                    .map(String::from)
                    .or_else(|| peer["ipBlock"]["cidr"].as_str().map(|c| format!("~{c}")))
                    .unwrap_or_default();
                out.push((at.to_string(), who, ports_of(rule)));
            }
        }
    }
    out
}

#[test]
fn every_edge_between_ambient_pods_is_open_on_hbone_and_probes_on_their_ports_only() {
    let text = blueprint(AMBIENT, "{network: default-deny}") + PROBED;
    let tree = compile(&text);
    let prod = objects(&tree, "prod");
    let all: Vec<&Value> = prod.values().collect();
    // The blueprint's edges between the ambient apps, with the app's ports.
    let edges: BTreeSet<(&str, &str, u64)> = BTreeSet::from([
        ("web", "api", 8080),
        ("worker", "api", 8080),
        ("worker", "web", 3000),
    ]);
    let apps = ["api", "web", "worker"];
    let ingress = rules(&all, "ingress");
    let egress = rules(&all, "egress");
    for (from, to, port) in &edges {
        let want: BTreeSet<u64> = BTreeSet::from([*port, 15008]);
        let at_to = ingress.iter().find(|(at, who, _)| at == to && who == from);
        assert_eq!(
            at_to.map(|r| &r.2),
            Some(&want),
            "ingress of {to} from {from}"
        );
        let at_from = egress.iter().find(|(at, who, _)| at == from && who == to);
        assert_eq!(
            at_from.map(|r| &r.2),
            Some(&want),
            "egress of {from} to {to}"
        );
    }
    // Nothing else is opened on 15008 between the apps, and no other block
    // than ztunnel's probe address reaches an app but the ones declared.
    for (at, who, ports) in ingress.iter().chain(&egress) {
        if ports.contains(&15008) && apps.contains(&at.as_str()) && apps.contains(&who.as_str()) {
            let declared = edges
                .iter()
                .any(|(f, t, _)| (f == who && t == at) || (f == at && t == who));
            assert!(declared, "{at} <-> {who} on 15008 is no edge");
        }
    }
    let probes: Vec<_> = ingress
        .iter()
        .filter(|(_, who, _)| who == "~169.254.7.127/32")
        .map(|(at, _, ports)| (at.as_str(), ports.iter().copied().collect::<Vec<_>>()))
        .collect();
    // `api` and `web` have no probes; the worker's HTTP probe calls `http`
    // (8000) and its TCP probe `admin` (9000).
    assert_eq!(probes, [("worker", vec![8000, 9000])]);
    // ztunnel itself reaches istiod's xDS and CA port.
    let istiod_in = ingress
        .iter()
        .find(|(at, who, _)| at == "istiod" && who == "ztunnel");
    assert!(
        istiod_in.is_some_and(|r| r.2 == BTreeSet::from([15012])),
        "{ingress:?}"
    );
    // The walk can fail: the same blueprint in sidecar mode opens no 15008.
    let sidecar = "{provider: istio, cni: true, controlPlane: istiod}";
    let tree = compile(&(blueprint(sidecar, "{network: default-deny}") + PROBED));
    let prod = objects(&tree, "prod");
    let all: Vec<&Value> = prod.values().collect();
    assert!(rules(&all, "ingress").iter().all(|r| !r.2.contains(&15008)));
    assert!(
        rules(&all, "ingress")
            .iter()
            .all(|r| r.1 != "~169.254.7.127/32")
    );
}

/// The attributes ztunnel enforces without a waypoint.
const L4_SOURCE: [&str; 3] = ["principals", "namespaces", "notPrincipals"];

#[test]
fn ambient_authorization_policies_use_layer_four_attributes_only() {
    let text = blueprint(AMBIENT, "{network: default-deny, mesh: {mtls: strict}}") + PROBED;
    let prod = objects(&compile(&text), "prod");
    let policies: Vec<&Value> = prod
        .values()
        .filter(|o| o["kind"] == "AuthorizationPolicy")
        .collect();
    assert_eq!(policies.len(), 3, "one per long-running app");
    for policy in policies {
        for rule in policy["spec"]["rules"].as_array().into_iter().flatten() {
            let keys = |v: &Value| -> Vec<String> {
                v.as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k.clone())
                    .collect()
            };
            assert_eq!(keys(rule), ["from", "to"], "{rule}");
            for from in rule["from"].as_array().unwrap() {
                for key in keys(&from["source"]) {
                    assert!(L4_SOURCE.contains(&key.as_str()), "{key} in {rule}");
                }
            }
            for to in rule["to"].as_array().unwrap() {
                assert_eq!(keys(&to["operation"]), ["ports"], "{rule}");
            }
        }
    }
}

/// An operator outside the mesh and the database it runs in an ambient,
/// STRICT namespace: its instances are probed on `status` (CloudNativePG's
/// instance manager serves its health endpoints on 8000:
/// https://cloudnative-pg.io/documentation/current/instance_manager/) and
/// the operator polls that port in plaintext.
const OPERATOR: &str = r#"
  cloudnative-pg:
    layer: mesh
    repo: https://cloudnative-pg.github.io/charts
    chart: cloudnative-pg
    version: 0.27.0
    manages: ["db:status"]
"#;

fn with_database(mesh: &str, probes: &str) -> Arc<Sources> {
    database_sources(mesh, probes, "uses: [api]")
}

/// The database project with `web`'s `uses` line replaced by `web_uses`.
fn database_sources(mesh: &str, probes: &str, web_uses: &str) -> Arc<Sources> {
    let text = blueprint(mesh, "{network: default-deny, mesh: {mtls: strict}}")
        .replacen("\napps:\n", &format!("{OPERATOR}\napps:\n"), 1)
        .replacen("    uses: [api]\n", &format!("    {web_uses}\n"), 1)
        + &format!(
            "manifests:\n  db:\n    layer: apps\n    templates: [templates/db.yaml]\n    \
             selector: {{cnpg.io/cluster: db}}\n    ports: {{postgres: 5432, status: 8000}}\n{probes}"
        );
    let mut s = Sources::new();
    s.insert_text(BLUEPRINT_FILE, &text);
    s.insert_text(
        "blueprints/templates/db.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: db}\ndata: {instances: \"3\"}\n",
    );
    Arc::new(s)
}

#[test]
fn an_operators_pods_in_ambient_are_probed_and_polled_on_the_ports_the_blueprint_names() {
    let tree = gitopsc::compile(
        with_database(AMBIENT, "    probes: [status]\n"),
        &EnvSelection::All,
    )
    .unwrap_or_else(|e| panic!("compiles:\n{}", e.message));
    let prod = objects(&tree, "prod");
    let all: Vec<&Value> = prod.values().collect();
    let db_in = |who: &str| -> Vec<BTreeSet<u64>> {
        let db = all
            .iter()
            .filter(|o| o["kind"] == "NetworkPolicy")
            .filter(|o| o["spec"]["podSelector"]["matchLabels"]["cnpg.io/cluster"] == "db")
            .copied()
            .collect::<Vec<_>>();
        db.iter()
            .flat_map(|p| p["spec"]["ingress"].as_array().into_iter().flatten())
            .filter(|rule| {
                rule["from"].as_array().into_iter().flatten().any(|peer| {
                    peer["ipBlock"]["cidr"] == who
                        || peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                            == who
                })
            })
            .map(ports_of)
            .collect()
    };
    // The kubelet, through ztunnel, on the status port alone.
    assert_eq!(db_in("169.254.7.127/32"), [BTreeSet::from([8000])]);
    // The operator polls in plaintext, which STRICT would refuse: that port
    // alone stays PERMISSIVE for the database's pods.
    let exception = all
        .iter()
        .find(|o| o["kind"] == "PeerAuthentication" && o["metadata"]["name"] == "db-plaintext")
        .expect("a plaintext exception for the operator's polls");
    assert_eq!(
        exception["spec"]["portLevelMtls"],
        serde_json::json!({"8000": {"mode": "PERMISSIVE"}})
    );
    assert_eq!(
        exception["spec"]["selector"]["matchLabels"]["cnpg.io/cluster"],
        "db"
    );
    // Unsaid probe ports are an error under ambient and default-deny, since
    // the pods would never become ready; `probes: []` says there are none.
    let unsaid =
        gitopsc::compile(with_database(AMBIENT, ""), &EnvSelection::All).expect_err("an error");
    assert!(
        unsaid.message.contains("`db` runs pods"),
        "{}",
        unsaid.message
    );
    assert!(
        unsaid
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("probes: [<port name>]")
    );
    assert!(
        gitopsc::compile(
            with_database(AMBIENT, "    probes: []\n"),
            &EnvSelection::All
        )
        .is_ok()
    );
    // Sidecar mode rewrites probes to the proxy's agent: no key is needed.
    let sidecar = "{provider: istio, cni: true, controlPlane: istiod}";
    assert!(gitopsc::compile(with_database(sidecar, ""), &EnvSelection::All).is_ok());
}

/// Under ambient a caller that NetworkPolicies let through on HBONE's 15008
/// reaches every port of the pods behind it, so the database's pods take an
/// ALLOW policy like an app's: each `uses` caller's principal on the port
/// it uses, and the unmeshed operator's plaintext polls on the status port
/// alone (https://istio.io/latest/docs/ambient/usage/l4-policy/).
#[test]
fn a_selected_manifest_sets_pods_admit_only_their_callers_on_their_ports() {
    let tree = gitopsc::compile(
        database_sources(
            AMBIENT,
            "    probes: [status]\n",
            "uses: [api, \"db:postgres\"]",
        ),
        &EnvSelection::All,
    )
    .unwrap_or_else(|e| panic!("compiles:\n{}", e.message));
    let prod = objects(&tree, "prod");
    let policy = prod
        .values()
        .find(|o| {
            o["kind"] == "AuthorizationPolicy"
                && o["spec"]["selector"]["matchLabels"]["cnpg.io/cluster"] == "db"
        })
        .expect("an authorization policy for the database's pods");
    let rules: Vec<(Value, Vec<Value>)> = policy["spec"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let ports = r["to"][0]["operation"]["ports"].as_array().unwrap().clone();
            (r["from"][0]["source"].clone(), ports)
        })
        .collect();
    assert_eq!(policy["spec"]["action"], "ALLOW");
    assert_eq!(
        rules,
        vec![
            (
                serde_json::json!({"principals": ["cluster.local/ns/apps/sa/web"]}),
                vec![Value::from("5432")]
            ),
            (
                serde_json::json!({"notPrincipals": ["*"]}),
                vec![Value::from("8000")]
            ),
        ]
    );
    // The operator's chart takes none: its pods' own traffic is unsaid.
    assert!(
        !prod.values().any(
            |o| o["kind"] == "AuthorizationPolicy" && o["metadata"]["name"] == "cloudnative-pg"
        )
    );
}

/// cert-manager runs its HTTP-01 solver pods in the namespace of the
/// Ingress they solve for (https://cert-manager.io/docs/configuration/acme/http01/),
/// so in a STRICT mesh they are meshed and the ingress controller's
/// plaintext challenge requests are refused unless the solver's port is
/// PERMISSIVE for them: maya's prod (STRICT, ambient, HTTP-01) has the
/// exception, dev (permissive) has none.
#[test]
fn http01_solver_pods_keep_their_port_permissive_under_strict() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/maya");
    let tree = crate::support::compile_project(&root);
    let solver_exceptions = |env: &str| -> Vec<Value> {
        objects(&tree, env)
            .into_values()
            .filter(|o| {
                o["kind"] == "PeerAuthentication"
                    && o["spec"]["selector"]["matchLabels"]["acme.cert-manager.io/http01-solver"]
                        == "true"
            })
            .collect()
    };
    let prod = solver_exceptions("prod");
    assert_eq!(prod.len(), 1, "one per meshed namespace with HTTP-01 apps");
    assert_eq!(prod[0]["metadata"]["namespace"], "apps");
    assert_eq!(
        prod[0]["spec"]["portLevelMtls"],
        serde_json::json!({"8089": {"mode": "PERMISSIVE"}})
    );
    assert!(solver_exceptions("dev").is_empty());
}
