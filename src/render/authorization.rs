//! Istio authorization from the `uses` graph: one `AuthorizationPolicy`
//! (ALLOW) per app, and per manifest set whose pods the blueprint selects,
//! in an Istio namespace, with one rule per caller naming
//! the caller's service-account principal and the ports its edge opens, so
//! the mesh enforces at L7 identity what the NetworkPolicies enforce at L4.
//!
//! Once an ALLOW policy selects a workload, Istio refuses whatever no rule
//! matches, so the policy also names what reaches the app without an
//! identity it knows: a caller outside the mesh, the Prometheus pods on the
//! metrics port and the ingress controller on its routed ports. Those come
//! in plaintext and are matched with `notPrincipals: ["*"]` (a request with
//! no peer identity), or, when their namespace is in the mesh, by
//! namespace; the NetworkPolicies still say which pods they are. Kubelet
//! probes need no rule: the sidecar rewrites them to its own agent port,
//! and ambient's ztunnel lets the node's probes through.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::labels;
use super::network::{ingress_ports, used_ports};
use super::object::Object;
use crate::blueprint::mesh::MeshProvider;
use crate::blueprint::model::WorkloadKind;
use crate::resolve::mesh::{
    ResolvedMesh, component_mesh, is_collector, namespace_mesh, tracing_edges,
};
use crate::resolve::network::facts;
use crate::resolve::{Component, ComponentKind, ResolvedEnv};

/// Who a rule admits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    /// A meshed app, by its service account's SPIFFE principal.
    Principal(String),
    /// Any meshed workload of a namespace (charts' service accounts are the chart's to name).
    Namespace(String),
    /// A request with no peer identity: a caller outside the mesh.
    Plaintext,
}

impl Source {
    fn to_value(&self) -> Value {
        match self {
            Source::Principal(p) => json!({"principals": [p]}),
            Source::Namespace(ns) => json!({"namespaces": [ns]}),
            Source::Plaintext => json!({"notPrincipals": ["*"]}),
        }
    }
}

/// The identity `c`'s pods present to an app meshed with `mesh`.
fn source_of(env: &ResolvedEnv, c: &Component, mesh: &ResolvedMesh) -> Source {
    match component_mesh(env, c) {
        Some(m) if m.provider == MeshProvider::Istio && c.kind == ComponentKind::App => {
            Source::Principal(format!(
                "{}/ns/{}/sa/{}",
                mesh.trust_domain, c.namespace, c.name
            ))
        }
        Some(m) if m.provider == MeshProvider::Istio => Source::Namespace(c.namespace.clone()),
        _ => Source::Plaintext,
    }
}

/// The identity of pods in `namespace` that are no component (scrapers, an
/// outside ingress controller).
fn source_in(env: &ResolvedEnv, namespace: &str) -> Source {
    // Pods that are no component join only by their namespace's own setting.
    let meshed = namespace_mesh(env, namespace, true);
    if meshed.is_some_and(|m| m.provider == MeshProvider::Istio) {
        Source::Namespace(namespace.to_string())
    } else {
        Source::Plaintext
    }
}

/// Every source that reaches app `callee`, with the ports it reaches.
fn callers(
    env: &ResolvedEnv,
    callee: &Component,
    mesh: &ResolvedMesh,
) -> BTreeMap<Source, BTreeSet<u32>> {
    let mut out: BTreeMap<Source, BTreeSet<u32>> = BTreeMap::new();
    for (caller, ports) in inbound(env, callee) {
        out.entry(source_of(env, caller, mesh))
            .or_default()
            .extend(ports);
    }
    // Scrapes and routed traffic are what apps declare; a chart's or
    // manifest set's come in by `uses` like any other caller.
    if let Some(app) = env.blueprint.apps.get(&callee.name) {
        framework_callers(env, app, mesh, &mut out);
    }
    out.retain(|_, ports| !ports.is_empty());
    out
}

/// The Prometheus pods on an app's metrics port, and the ingress
/// controller (or the gateway's proxies) on its routed ports.
fn framework_callers(
    env: &ResolvedEnv,
    app: &crate::blueprint::model::App,
    mesh: &ResolvedMesh,
    out: &mut BTreeMap<Source, BTreeSet<u32>>,
) {
    let facts = facts(env);
    if let (Some(scraper), Some(m)) = (&facts.scraper, &app.metrics)
        && let Some(port) = app.ports.get(&m.port)
    {
        out.entry(source_in(env, &scraper.namespace))
            .or_default()
            .insert(*port);
    }
    // The ingress controller, or under Gateway API the gateway's proxies.
    if let Some(controller) = facts.router(&env.blueprint, app) {
        let source = match env.components.get(&controller.name) {
            Some(c) => source_of(env, c, mesh),
            None => source_in(env, &controller.namespace),
        };
        out.entry(source).or_default().extend(ingress_ports(app));
    }
}

/// Every component that reaches `callee`, with the ports: by its `uses`,
/// by the callee's own `peers`, and by the edges the mesh's proxies make on
/// their own (spans to a tracing collector; the control plane is a chart
/// and takes no policy). Both meshes' policies read it.
pub(super) fn inbound<'a>(
    env: &'a ResolvedEnv,
    callee: &'a Component,
) -> Vec<(&'a Component, Vec<u32>)> {
    let mut out = Vec::new();
    for caller in env.components.values() {
        for u in caller.uses.iter().filter(|u| u.target == callee.name) {
            out.push((caller, used_ports(env, callee, u.port.as_deref())));
        }
    }
    let peers: Vec<u32> = callee
        .peers
        .iter()
        .filter_map(|p| callee.ports.get(p).copied())
        .collect();
    out.push((callee, peers));
    if is_collector(env, callee) {
        let spans = tracing_edges(env)
            .into_iter()
            .filter(|e| e.to.name == callee.name);
        out.extend(spans.map(|e| (e.from, e.ports)));
    }
    out.retain(|(_, ports)| !ports.is_empty());
    out
}

/// The ports of `callee` (an app, or a chart's or manifest set's pods) that
/// some caller reaches without a peer identity, which STRICT mTLS would
/// refuse: an operator outside the mesh polling its instances, say.
pub fn plaintext_ports(env: &ResolvedEnv, callee: &Component) -> BTreeSet<u32> {
    let Some(mesh) = component_mesh(env, callee) else {
        return BTreeSet::new();
    };
    callers(env, callee, &mesh)
        .remove(&Source::Plaintext)
        .unwrap_or_default()
}

fn policy(env: &ResolvedEnv, callee: &Component, mesh: &ResolvedMesh) -> Object {
    let rules: Vec<Value> = callers(env, callee, mesh)
        .into_iter()
        .map(|(source, ports)| {
            let ports: Vec<String> = ports.iter().map(u32::to_string).collect();
            json!({"from": [{"source": source.to_value()}], "to": [{"operation": {"ports": ports}}]})
        })
        .collect();
    let common = labels::common(&env.blueprint);
    let mut spec = json!({
        "selector": {"matchLabels": labels::to_value(&callee.selector)},
        "action": "ALLOW",
    });
    // An ALLOW policy without rules matches nothing: the app takes no traffic.
    if !rules.is_empty() {
        spec["rules"] = Value::Array(rules);
    }
    Object::new(obj! {
        "apiVersion" => super::mesh::ISTIO_SECURITY_API,
        "kind" => "AuthorizationPolicy",
        "metadata" => labels::metadata(&callee.name, Some(&callee.namespace), &common, &BTreeMap::new()),
        "spec" => spec,
    })
}

/// Whether `c` takes an authorization policy: a long-running app, or a
/// manifest set whose pods the blueprint selects and whose ports it names
/// (an operator's instances, a CloudNativePG `Cluster`), since HBONE or a
/// sidecar would otherwise admit every meshed caller of one port to all
/// of them. Charts take none: their pods talk among themselves in ways
/// the blueprint does not say.
fn takes_policy(env: &ResolvedEnv, c: &Component) -> bool {
    match c.kind {
        ComponentKind::App => env.blueprint.apps[&c.name].kind != WorkloadKind::CronJob,
        ComponentKind::Manifests => !c.selector.is_empty() && !c.ports.is_empty(),
        ComponentKind::Chart | ComponentKind::Gateway => false,
    }
}

/// The authorization policy of every long-running app and selected
/// manifest set in an Istio namespace, by component.
pub fn policies(env: &ResolvedEnv) -> BTreeMap<String, Object> {
    let mut out = BTreeMap::new();
    for c in env.components.values().filter(|c| takes_policy(env, c)) {
        let Some(mesh) = component_mesh(env, c) else {
            continue;
        };
        if mesh.provider == MeshProvider::Istio {
            out.insert(c.name.clone(), policy(env, c, &mesh));
        }
    }
    out
}
