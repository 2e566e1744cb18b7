//! Linkerd authorization from the `uses` graph: a `Server` for every
//! declared port of an app meshed with Linkerd, and for every port some
//! caller reaches an `AuthorizationPolicy` naming who, so the mesh enforces
//! by mTLS identity what the NetworkPolicies enforce at L4.
//!
//! A `Server` refuses whatever no policy targeting it allows
//! (`accessPolicy: deny`), and one `AuthorizationPolicy` requires all of its
//! authentications at once; so meshed callers and plaintext callers of one
//! port get one policy each: a `MeshTLSAuthentication` listing the callers'
//! identities (`<sa>.<ns>.serviceaccount.identity.linkerd.<trust domain>`,
//! `*.<ns>.…` for a chart's or a meshed scraper's namespace), and a
//! `NetworkAuthentication` over Linkerd's default cluster networks for what
//! comes in plaintext (Prometheus or an ingress controller outside the mesh,
//! a caller in an unmeshed namespace). Linkerd cannot match "no identity"
//! alone: the network rule admits any client of those networks on that port,
//! and the NetworkPolicies still say which pods.
//!
//! Kubelet probes need no rule: the policy controller authorizes the pod's
//! HTTP probe paths on every Server without HTTPRoutes
//! (policy-controller/k8s/index/src/inbound/index.rs in linkerd/linkerd2).
//!
//! Under `mtls: strict` the app namespaces also get
//! `config.linkerd.io/default-inbound-policy: all-authenticated`, Istio
//! STRICT's counterpart: a port no Server covers takes meshed clients only.
//! `deny` would also refuse the proxy's own admin port to an unmeshed
//! Prometheus scraping proxies, which gitopsc does not model; every declared
//! port is covered by a deny-by-default Server either way.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::labels;
use super::network::ingress_ports;
use super::object::Object;
use crate::blueprint::mesh::{MeshProvider, MtlsMode};
use crate::blueprint::model::WorkloadKind;
use crate::resolve::mesh::{ResolvedMesh, component_mesh, namespace_mesh};
use crate::resolve::network::facts;
use crate::resolve::{Component, ComponentKind, ResolvedEnv};

/// `Server` at the version the Linkerd 2.18+ CRDs store.
pub const SERVER_API: &str = "policy.linkerd.io/v1beta3";
/// `AuthorizationPolicy` and the authentications, served only at v1alpha1.
pub const POLICY_API: &str = "policy.linkerd.io/v1alpha1";
const GROUP: &str = "policy.linkerd.io";

/// The control plane chart's default `clusterNetworks`: the pod and node
/// networks plaintext callers come from.
const CLUSTER_NETWORKS: [&str; 5] = [
    "10.0.0.0/8",
    "100.64.0.0/10",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fd00::/8",
];

/// Who reaches a port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    /// A meshed client by its proxy identity (`*.` prefix: a namespace).
    Identity(String),
    /// A client without an identity, by network.
    Plaintext,
}

fn identity(mesh: &ResolvedMesh, account: &str, namespace: &str) -> Source {
    Source::Identity(format!(
        "{account}.{namespace}.serviceaccount.identity.linkerd.{}",
        mesh.trust_domain
    ))
}

/// The identity `c`'s pods present to an app meshed with `mesh`.
fn source_of(env: &ResolvedEnv, c: &Component, mesh: &ResolvedMesh) -> Source {
    match component_mesh(env, c) {
        Some(m) if m.provider == MeshProvider::Linkerd && c.kind == ComponentKind::App => {
            identity(mesh, &c.name, &c.namespace)
        }
        // A chart's service accounts are the chart's to name.
        Some(m) if m.provider == MeshProvider::Linkerd => identity(mesh, "*", &c.namespace),
        _ => Source::Plaintext,
    }
}

/// The identity of pods in `namespace` that are no component.
fn source_in(env: &ResolvedEnv, namespace: &str, mesh: &ResolvedMesh) -> Source {
    match namespace_mesh(env, namespace, true) {
        Some(m) if m.provider == MeshProvider::Linkerd => identity(mesh, "*", namespace),
        _ => Source::Plaintext,
    }
}

/// Every port of app `callee` some caller reaches, with who reaches it.
fn callers(
    env: &ResolvedEnv,
    callee: &Component,
    mesh: &ResolvedMesh,
) -> BTreeMap<u32, BTreeSet<Source>> {
    let mut out: BTreeMap<u32, BTreeSet<Source>> = BTreeMap::new();
    let mut add = |source: Source, ports: &mut dyn Iterator<Item = u32>| {
        for port in ports {
            out.entry(port).or_default().insert(source.clone());
        }
    };
    for (caller, ports) in super::authorization::inbound(env, callee) {
        add(source_of(env, caller, mesh), &mut ports.into_iter());
    }
    let facts = facts(env);
    let app = &env.blueprint.apps[&callee.name];
    if let (Some(scraper), Some(m)) = (&facts.scraper, &app.metrics)
        && let Some(port) = app.ports.get(&m.port)
    {
        add(
            source_in(env, &scraper.namespace, mesh),
            &mut std::iter::once(*port),
        );
    }
    if let Some(controller) = facts.router(&env.blueprint, app) {
        let source = match env.components.get(&controller.name) {
            Some(c) => source_of(env, c, mesh),
            None => source_in(env, &controller.namespace, mesh),
        };
        add(source, &mut ingress_ports(app).into_iter());
    }
    out
}

fn object(env: &ResolvedEnv, api: &str, kind: &str, name: &str, ns: &str, spec: Value) -> Object {
    let common = labels::common(&env.blueprint);
    Object::new(obj! {
        "apiVersion" => api,
        "kind" => kind,
        "metadata" => labels::metadata(name, Some(ns), &common, &BTreeMap::new()),
        "spec" => spec,
    })
}

fn authorization(env: &ResolvedEnv, ns: &str, name: &str, server: &str, authn: &str) -> Object {
    let spec = json!({
        "targetRef": {"group": GROUP, "kind": "Server", "name": server},
        "requiredAuthenticationRefs": [{"group": GROUP, "kind": authn, "name": name}],
    });
    object(env, POLICY_API, "AuthorizationPolicy", name, ns, spec)
}

/// The Servers and policies of one app.
fn app_objects(env: &ResolvedEnv, callee: &Component, mesh: &ResolvedMesh) -> Vec<Object> {
    let ns = callee.namespace.as_str();
    let mut by_port = callers(env, callee, mesh);
    let mut out = Vec::new();
    for (port_name, port) in &callee.ports {
        let server = format!("{}-{port_name}", callee.name);
        let spec = json!({
            "podSelector": {"matchLabels": labels::to_value(&callee.selector)},
            "port": port,
            "accessPolicy": "deny",
        });
        out.push(object(env, SERVER_API, "Server", &server, ns, spec));
        let sources = by_port.remove(port).unwrap_or_default();
        let identities: Vec<&str> = sources
            .iter()
            .filter_map(|s| match s {
                Source::Identity(id) => Some(id.as_str()),
                Source::Plaintext => None,
            })
            .collect();
        if !identities.is_empty() {
            let spec = json!({"identities": identities});
            out.push(object(
                env,
                POLICY_API,
                "MeshTLSAuthentication",
                &server,
                ns,
                spec,
            ));
            out.push(authorization(
                env,
                ns,
                &server,
                &server,
                "MeshTLSAuthentication",
            ));
        }
        if sources.contains(&Source::Plaintext) {
            let name = format!("{server}-plaintext");
            let networks: Vec<Value> = CLUSTER_NETWORKS
                .iter()
                .map(|c| json!({"cidr": c}))
                .collect();
            let spec = json!({"networks": networks});
            out.push(object(
                env,
                POLICY_API,
                "NetworkAuthentication",
                &name,
                ns,
                spec,
            ));
            out.push(authorization(
                env,
                ns,
                &name,
                &server,
                "NetworkAuthentication",
            ));
        }
    }
    out
}

/// The Linkerd policy objects of every long-running app meshed with Linkerd, by app.
pub fn policies(env: &ResolvedEnv) -> BTreeMap<String, Vec<Object>> {
    let mut out = BTreeMap::new();
    for c in env
        .components
        .values()
        .filter(|c| c.kind == ComponentKind::App)
    {
        if env.blueprint.apps[&c.name].kind == WorkloadKind::CronJob {
            continue;
        }
        let Some(mesh) = component_mesh(env, c) else {
            continue;
        };
        if mesh.provider == MeshProvider::Linkerd && !c.ports.is_empty() {
            out.insert(c.name.clone(), app_objects(env, c, &mesh));
        }
    }
    out
}

/// The annotations a namespace joining Linkerd gets besides injection.
pub fn namespace_annotations(mesh: &ResolvedMesh) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if mesh.provider == MeshProvider::Linkerd && mesh.mtls == MtlsMode::Strict {
        out.insert(
            "config.linkerd.io/default-inbound-policy".to_string(),
            "all-authenticated".to_string(),
        );
    }
    out
}
