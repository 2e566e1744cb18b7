//! Service-mesh objects: the labels and annotations that make a namespace's
//! pods join the mesh, the checks that injected pods pass their namespace's
//! Pod Security level and can reach their control plane, the mesh-wide
//! STRICT mTLS policy, and the port-level exceptions that keep plaintext
//! callers (Prometheus, an ingress controller, pods outside the mesh)
//! working under it.
//!
//! The network links the mesh implies: every injected proxy to its control
//! plane, the API server to the control plane's webhooks.
//!
//! Injected proxies get explicit requests and limits (annotations on the pod
//! template), so the namespace quota can be checked with them counted.
//!
//! Istio's kinds are written at `security.istio.io/v1`, the version the
//! Istio 1.30 CRDs serve and store.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::labels;
use super::namespaces::NamespacePlan;
use super::network::{End, Link, group};
use super::object::Object;
use crate::blueprint::mesh::{MeshMode, MeshProvider};
use crate::blueprint::model::{NetworkPosture, PodSecurityLevel};
use crate::error::{ErrorKind, Result};
use crate::pointer::Lookup;
use crate::resolve::mesh::{ResolvedMesh, environment_mesh, proxy_edges};
use crate::resolve::{Component, ComponentKind, ResolvedEnv};

pub const ISTIO_SECURITY_API: &str = "security.istio.io/v1";

/// Where Istio documents that injected pods need the CNI plugin under
/// `baseline` and `restricted`.
const ISTIO_PSA_DOC: &str =
    "https://istio.io/latest/docs/setup/additional-setup/pod-security-admission/";

/// Labels and annotations on a namespace that joins `mesh`. Istio reads
/// labels (`istio-injection`, `istio.io/rev`, `istio.io/dataplane-mode`);
/// Linkerd's proxy injector reads the `linkerd.io/inject` annotation.
pub fn namespace_metadata(
    mesh: &ResolvedMesh,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut labels = BTreeMap::new();
    let mut annotations = BTreeMap::new();
    match (mesh.provider, mesh.mode, &mesh.revision) {
        (MeshProvider::Istio, MeshMode::Ambient, _) => {
            labels.insert("istio.io/dataplane-mode".into(), "ambient".into());
        }
        (MeshProvider::Istio, MeshMode::Sidecar, Some(revision)) => {
            labels.insert("istio.io/rev".into(), revision.clone());
        }
        (MeshProvider::Istio, MeshMode::Sidecar, None) => {
            labels.insert("istio-injection".into(), "enabled".into());
        }
        (MeshProvider::Linkerd, _, _) => {
            annotations.insert("linkerd.io/inject".into(), "enabled".into());
            annotations.extend(super::linkerd::namespace_annotations(mesh));
        }
    }
    (labels, annotations)
}

/// What injected proxies need from their namespace: its Pod Security level
/// must admit their init container (or the CNI plugin must replace it), and
/// under default-deny the policy must know where the control plane is.
pub fn check(env: &ResolvedEnv, plans: &[NamespacePlan]) -> Result<()> {
    for plan in plans {
        let Some(mesh) = &plan.mesh else { continue };
        if !mesh.injects_sidecars() {
            super::ambient::check(env, plan, mesh)?;
            continue;
        }
        check_cni(env, plan, mesh)?;
        if plan.posture == NetworkPosture::DefaultDeny && mesh.control_plane.is_none() {
            return Err(env
                .locator
                .error(
                    ErrorKind::InvalidValue,
                    &mesh.at,
                    format!(
                        "namespace `{}` is default-deny and its injected proxies must reach the {} control plane, which this mesh does not name",
                        plan.name,
                        mesh.provider.name()
                    ),
                )
                .with_help(
                    "add `controlPlane: <the chart running it>`, so every proxy's egress to it is allowed",
                ));
        }
    }
    Ok(())
}

/// An injected proxy comes with an init container that rewrites the pod's
/// iptables rules with `NET_ADMIN` and `NET_RAW`, capabilities neither
/// `baseline` nor `restricted` allows; only the mesh's CNI plugin, doing
/// that work on the node, lets such pods in.
fn check_cni(env: &ResolvedEnv, plan: &NamespacePlan, mesh: &ResolvedMesh) -> Result<()> {
    if mesh.cni || plan.pod_security == PodSecurityLevel::Privileged {
        return Ok(());
    }
    let (plugin, other) = match mesh.provider {
        MeshProvider::Istio => (
            "the Istio CNI node agent",
            format!(", or use `mode: ambient`, which changes no pod ({ISTIO_PSA_DOC})"),
        ),
        MeshProvider::Linkerd => ("linkerd-cni", String::new()),
    };
    Err(env
        .locator
        .error(
            ErrorKind::InvalidValue,
            &mesh.at,
            format!(
                "namespace `{}` joins the {} mesh with injected proxies, whose init container needs `NET_ADMIN` and `NET_RAW`, which Pod Security `{}` refuses",
                plan.name,
                mesh.provider.name(),
                plan.pod_security.name()
            ),
        )
        .with_help(format!(
            "install {plugin} and say so with `cni: true`{other}"
        )))
}

fn peer_authentication(env: &ResolvedEnv, name: &str, namespace: &str, spec: Value) -> Object {
    let common = labels::common(&env.blueprint);
    Object::new(obj! {
        "apiVersion" => ISTIO_SECURITY_API,
        "kind" => "PeerAuthentication",
        "metadata" => labels::metadata(name, Some(namespace), &common, &BTreeMap::new()),
        "spec" => spec,
    })
}

/// The mesh-wide policy: `default` in the root namespace (the control
/// plane's), STRICT. It sits in the control plane's unit, which deploys
/// after the chart serving `security.istio.io`.
fn mesh_wide_policy(env: &ResolvedEnv) -> Option<(String, Object)> {
    let mesh = environment_mesh(env)?;
    if !mesh.strict() {
        return None;
    }
    let control_plane = env.components.get(mesh.control_plane.as_deref()?)?;
    let spec = json!({"mtls": {"mode": "STRICT"}});
    let policy = peer_authentication(env, "default", &control_plane.namespace, spec);
    Some((control_plane.name.clone(), policy))
}

/// Under STRICT mTLS a plaintext request is refused, and a Prometheus, an
/// ingress controller or a caller outside the mesh sends plaintext; so the
/// ports they reach stay PERMISSIVE for the app's pods (a workload-selecting
/// policy: port-level settings need a selector), the exception Istio's
/// Prometheus guide names for STRICT meshes whose Prometheus has no sidecar.
/// The app's authorization policy and NetworkPolicies still say who.
fn plaintext_exception(env: &ResolvedEnv, component: &Component) -> Option<Object> {
    let ports = super::authorization::plaintext_ports(env, component);
    if ports.is_empty() {
        return None;
    }
    let port_level: serde_json::Map<String, Value> = ports
        .iter()
        .map(|p| (p.to_string(), json!({"mode": "PERMISSIVE"})))
        .collect();
    let spec = json!({
        "selector": {"matchLabels": labels::to_value(&component.selector)},
        "portLevelMtls": port_level,
    });
    Some(peer_authentication(
        env,
        &format!("{}-plaintext", component.name),
        &component.namespace,
        spec,
    ))
}

/// The mesh objects of the environment, by the component unit they go in.
pub fn objects(
    env: &ResolvedEnv,
    plans: &[NamespacePlan],
    http01: &std::collections::BTreeSet<String>,
) -> BTreeMap<String, Vec<Object>> {
    let mut out: BTreeMap<String, Vec<Object>> = BTreeMap::new();
    if let Some((unit, policy)) = mesh_wide_policy(env) {
        out.entry(unit).or_default().push(policy);
        let meshed: BTreeMap<&str, &ResolvedMesh> = plans
            .iter()
            .filter_map(|p| Some((p.name, p.mesh.as_ref()?)))
            .collect();
        for component in env.components.values() {
            let in_mesh = meshed.contains_key(component.namespace.as_str());
            if component.selector.is_empty() || !in_mesh {
                continue;
            }
            if let Some(exception) = plaintext_exception(env, component) {
                out.entry(component.name.clone())
                    .or_default()
                    .push(exception);
            }
        }
        for (unit, exception) in solver_exceptions(env, &meshed, http01) {
            out.entry(unit).or_default().push(exception);
        }
    }
    out
}

/// cert-manager's HTTP-01 solver pods run in the namespace of the Ingress
/// they solve for, so in a meshed namespace they join the mesh, and the
/// ingress controller's challenge requests are plaintext, which STRICT
/// refuses: no certificate would issue or renew. Each such namespace keeps
/// the solver's port PERMISSIVE for the solver pods, in the unit of the
/// first app or chart there that asks for the certificate (it deploys after
/// the mesh's CRDs, which a namespace unit does not).
fn solver_exceptions(
    env: &ResolvedEnv,
    meshed: &BTreeMap<&str, &ResolvedMesh>,
    http01: &std::collections::BTreeSet<String>,
) -> Vec<(String, Object)> {
    use super::acme::{SOLVER, SOLVER_LABEL, SOLVER_PORT, http01_namespaces};
    let istio = |ns: &str| {
        meshed
            .get(ns)
            .is_some_and(|m| m.provider == MeshProvider::Istio)
    };
    let mut first_by_namespace = http01_namespaces(env, http01);
    first_by_namespace.retain(|ns, _| istio(ns));
    first_by_namespace
        .into_iter()
        .map(|(ns, app)| {
            let spec = json!({
                "selector": {"matchLabels": {SOLVER_LABEL: "true"}},
                "portLevelMtls": {SOLVER_PORT.to_string(): {"mode": "PERMISSIVE"}},
            });
            let name = format!("{SOLVER}-plaintext");
            (app.to_string(), peer_authentication(env, &name, ns, spec))
        })
        .collect()
}

/// The annotations that set an injected proxy's requests and limits, so the
/// quota and the scheduler see what the pod really asks for; none when the
/// mesh injects no proxy (ambient).
pub fn proxy_annotations(mesh: &ResolvedMesh) -> BTreeMap<String, String> {
    if !mesh.injects_sidecars() {
        return BTreeMap::new();
    }
    let p = &mesh.proxy;
    let keys = match mesh.provider {
        MeshProvider::Istio => PROXY_ANNOTATIONS_ISTIO,
        MeshProvider::Linkerd => PROXY_ANNOTATIONS_LINKERD,
    };
    let values = [
        &p.cpu_request,
        &p.memory_request,
        &p.cpu_limit,
        &p.memory_limit,
    ];
    keys.iter()
        .zip(values)
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Istio's injector annotations for the proxy's CPU and memory requests,
/// then limits (https://istio.io/latest/docs/reference/config/annotations/).
pub const PROXY_ANNOTATIONS_ISTIO: [&str; 4] = [
    "sidecar.istio.io/proxyCPU",
    "sidecar.istio.io/proxyMemory",
    "sidecar.istio.io/proxyCPULimit",
    "sidecar.istio.io/proxyMemoryLimit",
];

/// Linkerd's, in the same order
/// (https://linkerd.io/2/reference/proxy-configuration/).
pub const PROXY_ANNOTATIONS_LINKERD: [&str; 4] = [
    "config.linkerd.io/proxy-cpu-request",
    "config.linkerd.io/proxy-memory-request",
    "config.linkerd.io/proxy-cpu-limit",
    "config.linkerd.io/proxy-memory-limit",
];

/// Writes the proxy's resources on the pod template of every app workload in
/// a namespace whose mesh injects proxies.
pub fn annotate_proxies(env: &ResolvedEnv, unit: &mut super::Unit) {
    let Some(component) = env.components.get(&unit.name) else {
        return;
    };
    let Some(mesh) = crate::resolve::mesh::component_mesh(env, component) else {
        return;
    };
    let annotations = proxy_annotations(&mesh);
    if annotations.is_empty() || component.kind != ComponentKind::App {
        return;
    }
    for object in &mut unit.objects {
        let pointer = match object.value["kind"].as_str() {
            Some("Deployment" | "StatefulSet") => "/spec/template/metadata",
            Some("CronJob") => "/spec/jobTemplate/spec/template/metadata",
            _ => continue,
        };
        let Some(Value::Object(meta)) = object.value.at_mut(pointer) else {
            continue;
        };
        let entry = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Value::Object(map) = entry {
            for (k, v) in &annotations {
                map.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
}

/// Every injected proxy (and ambient's ztunnel) reaches its control plane,
/// and the proxies their tracing collector, so no app has to say it. (The API server's calls to the control plane's
/// webhooks are among `network`'s webhook links.) Then what ambient changes
/// in the links already made: see [`super::ambient`].
pub fn add_links(env: &ResolvedEnv, links: &mut Vec<Link>) {
    links.extend(proxy_edges(env).into_iter().map(|e| Link {
        from: End::Pods(group(e.from)),
        to: End::Pods(group(e.to)),
        ports: e.ports,
    }));
    super::ambient::tunnel_links(env, links);
    links.extend(super::ambient::probe_links(env));
}
