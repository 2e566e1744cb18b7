//! One environment's service mesh: the top-level, environment and namespace
//! `mesh` settings merged field by field into what each namespace joins, and
//! the check that what the environment asks for can be rendered.

use crate::blueprint::Locator;
use crate::blueprint::mesh::{self, Mesh, MeshMode, MeshProvider, MtlsMode};
use crate::blueprint::model::Blueprint;
use crate::error::{ErrorKind, Result};
use crate::pointer::{from_tokens, push};

use super::{Component, ComponentKind, ResolvedEnv};

/// The injected proxy's requests and limits, every one set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyResources {
    pub cpu_request: String,
    pub memory_request: String,
    pub cpu_limit: String,
    pub memory_limit: String,
}

impl ProxyResources {
    /// The written values, the rest from Istio's `global.proxy.resources`
    /// chart defaults, so a quota check never meets an unknown proxy.
    fn from(written: Option<&crate::blueprint::model::Resources>) -> ProxyResources {
        let part = |r: Option<&crate::blueprint::model::CpuMemory>, cpu: bool, default: &str| {
            r.and_then(|r| {
                if cpu {
                    r.cpu.as_ref()
                } else {
                    r.memory.as_ref()
                }
            })
            .map_or(default.to_string(), |s| s.0.clone())
        };
        let requests = written.and_then(|w| w.requests.as_ref());
        let limits = written.and_then(|w| w.limits.as_ref());
        ProxyResources {
            cpu_request: part(requests, true, "100m"),
            memory_request: part(requests, false, "128Mi"),
            cpu_limit: part(limits, true, "2"),
            memory_limit: part(limits, false, "1Gi"),
        }
    }
}

/// The trust domain Istio and Linkerd use unless told otherwise.
pub const DEFAULT_TRUST_DOMAIN: &str = "cluster.local";

/// The mesh one namespace (or the whole environment) is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedMesh {
    pub provider: MeshProvider,
    pub mode: MeshMode,
    pub revision: Option<String>,
    pub cni: bool,
    pub mtls: MtlsMode,
    pub control_plane: Option<String>,
    pub trust_domain: String,
    pub proxy: ProxyResources,
    /// The `uses` entry of the collector the proxies send spans to.
    pub tracing: Option<String>,
    /// Pointer of the most specific setting that applies, for errors.
    pub at: String,
}

impl ResolvedMesh {
    /// Whether pods get a proxy injected (and so an init container unless
    /// the CNI plugin does its work).
    pub fn injects_sidecars(&self) -> bool {
        self.provider == MeshProvider::Linkerd || self.mode == MeshMode::Sidecar
    }

    /// Whether the mesh refuses plaintext between workloads.
    pub fn strict(&self) -> bool {
        self.provider == MeshProvider::Istio && self.mtls == MtlsMode::Strict
    }
}

/// `over`'s fields where it sets them, else `base`'s.
fn overlay(base: &Mesh, over: &Mesh) -> Mesh {
    Mesh {
        provider: over.provider.or(base.provider),
        mode: over.mode.or(base.mode),
        revision: over.revision.clone().or_else(|| base.revision.clone()),
        cni: over.cni.or(base.cni),
        mtls: over.mtls.or(base.mtls),
        control_plane: over
            .control_plane
            .clone()
            .or_else(|| base.control_plane.clone()),
        enabled: over.enabled.or(base.enabled),
        proxy: over.proxy.clone().or_else(|| base.proxy.clone()),
        tracing: over.tracing.clone().or_else(|| base.tracing.clone()),
        trust_domain: over
            .trust_domain
            .clone()
            .or_else(|| base.trust_domain.clone()),
    }
}

fn resolved(merged: Mesh, at: String) -> Option<ResolvedMesh> {
    if merged.enabled == Some(false) {
        return None;
    }
    Some(ResolvedMesh {
        provider: merged.provider?,
        mode: merged.mode.unwrap_or_default(),
        revision: merged.revision,
        cni: merged.cni.unwrap_or(false),
        mtls: merged.mtls.unwrap_or_default(),
        control_plane: merged.control_plane,
        trust_domain: merged
            .trust_domain
            .unwrap_or_else(|| DEFAULT_TRUST_DOMAIN.to_string()),
        proxy: ProxyResources::from(merged.proxy.as_ref()),
        tracing: merged.tracing,
        at,
    })
}

/// The environment-wide setting and where it is written.
fn environment_setting(bp: &Blueprint, chain: &[String]) -> Option<(Mesh, String)> {
    let scopes = mesh::environment_scopes(bp, chain);
    let at = scopes.last()?.0.clone();
    let merged = scopes
        .iter()
        .fold(Mesh::default(), |acc, (_, m)| overlay(&acc, m));
    Some((merged, at))
}

/// The mesh of the whole environment: what its app namespaces join.
pub fn environment_mesh(env: &ResolvedEnv) -> Option<ResolvedMesh> {
    let (merged, at) = environment_setting(&env.blueprint, &env.settings.chain)?;
    resolved(merged, at)
}

/// The mesh namespace `ns` joins, if any. A namespace holding a chart joins
/// only when its own `namespaces.<ns>.mesh` is written.
pub fn namespace_mesh(env: &ResolvedEnv, ns: &str, holds_chart: bool) -> Option<ResolvedMesh> {
    let own = env
        .blueprint
        .namespaces
        .get(ns)
        .and_then(|s| s.mesh.as_ref());
    if holds_chart && own.is_none() {
        return None;
    }
    let (base, base_at) = environment_setting(&env.blueprint, &env.settings.chain)
        .unwrap_or_else(|| (Mesh::default(), String::new()));
    match own {
        Some(own) => resolved(overlay(&base, own), from_tokens(["namespaces", ns, "mesh"])),
        None => resolved(base, base_at),
    }
}

/// The mesh the pods of component `c` are in.
pub fn component_mesh(env: &ResolvedEnv, c: &Component) -> Option<ResolvedMesh> {
    let holds_chart = env.namespace_charts.get(&c.namespace) == Some(&true);
    namespace_mesh(env, &c.namespace, holds_chart)
}

/// The control-plane ports every injected proxy reaches: istiod's xDS and
/// certificate service on 15012 (Istio "Ports used by Istio"); Linkerd's
/// identity (8080), destination (8086) and policy (8090) controllers.
pub fn control_plane_ports(provider: MeshProvider) -> &'static [u32] {
    match provider {
        MeshProvider::Istio => &[15012],
        MeshProvider::Linkerd => &[8080, 8086, 8090],
    }
}

/// The port ambient's ztunnel tunnels every meshed connection through
/// (HBONE): the receiving pod sees it, not the app's port, so policies on
/// both ends must allow it
/// (https://istio.io/latest/docs/ambient/usage/networkpolicy/).
pub const HBONE_PORT: u32 = 15008;

/// The address ztunnel rewrites kubelet probes of ambient pods to come from,
/// so that the node's probes stay apart from meshed traffic (same page).
pub const PROBE_SOURCE: &str = "169.254.7.127/32";

/// The chart running ambient's node proxy: the one installing Istio's
/// `ztunnel` chart.
pub fn ztunnel(env: &ResolvedEnv) -> Option<&Component> {
    env.components.values().find(|c| {
        c.kind == ComponentKind::Chart
            && env
                .blueprint
                .charts
                .get(&c.name)
                .is_some_and(|chart| chart.chart == "ztunnel")
    })
}

/// Whether the pods of namespace `ns` are in Istio's ambient mesh. Pods that
/// are no component (scrapers, an outside controller) join only by the
/// namespace's own setting, as charts' do.
pub fn ambient_namespace(env: &ResolvedEnv, ns: &str) -> bool {
    // A namespace holding no component counts as holding a chart: it joins
    // only through its own setting.
    let holds_chart = env.namespace_charts.get(ns).copied().unwrap_or(true);
    namespace_mesh(env, ns, holds_chart)
        .is_some_and(|m| m.provider == MeshProvider::Istio && m.mode == MeshMode::Ambient)
}

/// One connection a mesh makes on its own, with no `uses` entry.
pub struct ProxyEdge<'a> {
    pub from: &'a Component,
    pub to: &'a Component,
    pub ports: Vec<u32>,
}

/// Every edge the mesh's proxies make on their own: each component whose
/// pods carry an injected proxy to the control plane, and to the tracing
/// collector when the mesh names one. Ambient pods reach nothing new: the
/// node's ztunnel talks to istiod for them, so it is among the callers.
pub fn proxy_edges(env: &ResolvedEnv) -> Vec<ProxyEdge<'_>> {
    let mut out = control_plane_edges(env);
    out.extend(tracing_edges(env));
    out
}

/// Whether some mesh setting names `c` as its tracing collector: cheap,
/// where [`tracing_edges`] walks every component.
pub fn is_collector(env: &ResolvedEnv, c: &Component) -> bool {
    let bp = &env.blueprint;
    let scopes = mesh::environment_scopes(bp, &env.settings.chain)
        .into_iter()
        .map(|(_, m)| m);
    let namespaces = bp.namespaces.values().filter_map(|s| s.mesh.as_ref());
    scopes.chain(namespaces).any(|m| {
        m.tracing
            .as_deref()
            .is_some_and(|t| collector_entry(t).0 == c.name)
    })
}

/// Each injected proxy's spans to the collector `tracing` names, on the
/// port it names (all its ports without one).
pub fn tracing_edges(env: &ResolvedEnv) -> Vec<ProxyEdge<'_>> {
    let mut out = Vec::new();
    for c in env.components.values() {
        let Some(mesh) = component_mesh(env, c).filter(ResolvedMesh::injects_sidecars) else {
            continue;
        };
        let Some((to, ports)) = mesh.tracing.as_deref().and_then(|t| collector(env, t)) else {
            continue;
        };
        if to.name != c.name {
            out.push(ProxyEdge { from: c, to, ports });
        }
    }
    out
}

/// A `tracing` entry's component and port name, as a `uses` entry reads.
fn collector_entry(entry: &str) -> (&str, Option<&str>) {
    match entry.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (entry, None),
    }
}

/// The component a `tracing` entry names, and the ports it opens: the
/// named one, or all of them without a name.
fn collector<'a>(env: &'a ResolvedEnv, entry: &str) -> Option<(&'a Component, Vec<u32>)> {
    let (name, port) = collector_entry(entry);
    let to = env.components.get(name)?;
    let ports = match port {
        Some(port) => to.ports.get(port).copied().into_iter().collect(),
        None => to.ports.values().copied().collect(),
    };
    Some((to, ports))
}

fn control_plane_edges(env: &ResolvedEnv) -> Vec<ProxyEdge<'_>> {
    let mut out = Vec::new();
    let mut ambient_planes = std::collections::BTreeSet::new();
    for c in env.components.values() {
        let Some(mesh) = component_mesh(env, c) else {
            continue;
        };
        let Some(plane) = mesh
            .control_plane
            .as_deref()
            .and_then(|name| env.components.get(name))
        else {
            continue;
        };
        if mesh.injects_sidecars() && plane.name != c.name {
            out.push(ProxyEdge {
                from: c,
                to: plane,
                ports: control_plane_ports(mesh.provider).to_vec(),
            });
        } else if !mesh.injects_sidecars() {
            ambient_planes.insert(plane.name.as_str());
        }
    }
    if let Some(node_proxy) = ztunnel(env) {
        for plane in ambient_planes {
            let plane = &env.components[plane];
            out.push(ProxyEdge {
                from: node_proxy,
                to: plane,
                ports: control_plane_ports(MeshProvider::Istio).to_vec(),
            });
        }
    }
    out
}

/// The ports on which the API server calls the control plane's admission
/// webhooks: istiod's sidecar injector and config validation on 15017
/// (Istio "Ports used by Istio":
/// https://istio.io/latest/docs/ops/deployment/application-requirements/).
/// Under default-deny an unreachable injector makes every pod creation in
/// an injected namespace fail, since its webhook fails closed.
pub fn webhook_ports(provider: MeshProvider) -> &'static [u32] {
    match provider {
        MeshProvider::Istio => &[15017],
        // Linkerd's injector and policy webhooks run in pods gitopsc does
        // not tell apart from the rest of its control plane yet.
        MeshProvider::Linkerd => &[],
    }
}

/// Every control plane some component is meshed with, with the ports the
/// API server calls its webhooks on.
pub fn webhook_edges(env: &ResolvedEnv) -> Vec<(&Component, &'static [u32])> {
    let mut planes: std::collections::BTreeMap<&str, (&Component, &'static [u32])> =
        std::collections::BTreeMap::new();
    for c in env.components.values() {
        let Some(mesh) = component_mesh(env, c) else {
            continue;
        };
        let ports = webhook_ports(mesh.provider);
        if let Some(plane) = mesh
            .control_plane
            .as_deref()
            .and_then(|name| env.components.get(name))
            && !ports.is_empty()
        {
            planes.insert(plane.name.as_str(), (plane, ports));
        }
    }
    planes.into_values().collect()
}

/// The blueprint-only checks, then what the environment as a whole needs:
/// STRICT mTLS is a policy in the control plane's namespace, so it needs
/// to know which chart that is.
pub fn check(bp: &Blueprint, chain: &[String], locator: &Locator) -> Result<()> {
    mesh::check(bp, chain, locator)?;
    let Some((merged, at)) = environment_setting(bp, chain) else {
        return Ok(());
    };
    let Some(mesh) = resolved(merged, at) else {
        return Ok(());
    };
    if mesh.strict() && mesh.control_plane.is_none() {
        let written = mesh::environment_scopes(bp, chain)
            .into_iter()
            .rev()
            .find(|(_, m)| m.mtls.is_some())
            .map_or(mesh.at.clone(), |(at, _)| at);
        return Err(locator
            .error(
                ErrorKind::InvalidValue,
                &push(&written, "mtls"),
                "STRICT mTLS is a `PeerAuthentication` in Istio's root namespace, and this mesh names no control plane",
            )
            .with_help(
                "add `controlPlane: <the istiod chart>`: its namespace is the root namespace",
            ));
    }
    Ok(())
}

/// Every written `tracing` entry names a component and, if it names one, a
/// port of it: the collector the proxies' edges lead to.
pub fn check_tracing(
    bp: &Blueprint,
    chain: &[String],
    components: &std::collections::BTreeMap<String, Component>,
    locator: &Locator,
) -> Result<()> {
    let namespaces = bp.namespaces.iter().filter_map(|(ns, s)| {
        Some((
            from_tokens(["namespaces", ns.as_str(), "mesh"]),
            s.mesh.as_ref()?,
        ))
    });
    for (at, mesh) in mesh::environment_scopes(bp, chain)
        .into_iter()
        .chain(namespaces)
    {
        let Some(entry) = &mesh.tracing else {
            continue;
        };
        let at = push(&at, "tracing");
        let (name, port) = collector_entry(entry);
        let Some(target) = components.get(name) else {
            return Err(locator
                .error(
                    ErrorKind::UnknownReference,
                    &at,
                    format!("the tracing collector `{name}` is not a component"),
                )
                .with_help(crate::suggest::help_for(
                    name,
                    "components",
                    components.keys().map(String::as_str),
                )));
        };
        if let Some(port) = port
            && !target.ports.contains_key(port)
        {
            return Err(locator
                .error(
                    ErrorKind::UnknownReference,
                    &at,
                    format!("`{name}` has no port named `{port}`"),
                )
                .with_help(crate::suggest::help_for(
                    port,
                    "ports",
                    target.ports.keys().map(String::as_str),
                )));
        }
    }
    Ok(())
}
