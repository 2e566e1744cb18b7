//! The blueprint's service-mesh vocabulary: which mesh a namespace's pods
//! join (`mesh:` at the top level, in an environment, or in
//! `namespaces.<ns>`), in which mode, and what the cluster already has
//! (the mesh's CNI plugin, its control plane). Kept apart from `model`
//! because only the mesh stages read it. The checks that need nothing but
//! the blueprint (a mode the provider lacks, a control plane that is no
//! chart) live here too.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Locator;
use super::model::Blueprint;
use crate::error::{ErrorKind, Result};
use crate::pointer::{from_tokens, push};
use crate::suggest;

/// A service mesh setting. Every field is optional so that an environment
/// or a namespace can change one of them: a namespace's setting overrides
/// its environment's, which overrides the top-level one, field by field.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mesh {
    /// `istio` or `linkerd`.
    #[serde(default)]
    pub provider: Option<MeshProvider>,
    /// Istio only: `sidecar` (an injected proxy in every pod, the default)
    /// or `ambient` (node proxies, no change to the pods).
    #[serde(default)]
    pub mode: Option<MeshMode>,
    /// Istio sidecar mode: the control-plane revision to inject from;
    /// namespaces get `istio.io/rev: <revision>` instead of
    /// `istio-injection: enabled`.
    #[serde(default)]
    pub revision: Option<String>,
    /// The mesh's CNI plugin (Istio CNI, linkerd-cni) is installed on the
    /// nodes. Without it an injected pod carries an init container with
    /// `NET_ADMIN` and `NET_RAW`, which Pod Security `baseline` and
    /// `restricted` refuse.
    #[serde(default)]
    pub cni: Option<bool>,
    /// Istio: `strict` renders a mesh-wide `PeerAuthentication` in the
    /// control plane's namespace (Istio's root namespace) refusing plaintext;
    /// `permissive` (Istio's default) renders none. Ports that plaintext
    /// callers reach (Prometheus, an ingress controller, pods outside the
    /// mesh) stay `PERMISSIVE` at port level. Linkerd: `strict` sets the
    /// app namespaces' default inbound policy to `all-authenticated`;
    /// plaintext callers are allowed by network on their ports only.
    #[serde(default)]
    pub mtls: Option<MtlsMode>,
    /// The mesh's trust domain, the first part of every workload identity
    /// (`<trustDomain>/ns/<namespace>/sa/<service account>`); Istio's and
    /// Linkerd's default is `cluster.local`.
    #[serde(default)]
    pub trust_domain: Option<String>,
    /// The chart running the control plane (`istiod`); its namespace is the
    /// mesh's root namespace, and its unit holds the mesh-wide policy.
    #[serde(default)]
    pub control_plane: Option<String>,
    /// Requests and limits of the injected proxy, written on every meshed
    /// pod as the mesh's annotations so the namespace quota counts them;
    /// unset parts take Istio's chart defaults (requests `100m`, `128Mi`;
    /// limits `2`, `1Gi`).
    #[serde(default)]
    pub proxy: Option<super::model::Resources>,
    /// The collector the injected proxies send their spans to, as a `uses`
    /// entry (`jaeger:otlp`): every pod with a proxy reaches it without
    /// writing it on every app. The mesh's own tracing configuration (Istio's
    /// `meshConfig.extensionProviders`, linkerd-jaeger) stays in its chart's
    /// values. Ambient's ztunnel sends no spans, so there it opens nothing.
    #[serde(default)]
    pub tracing: Option<String>,
    /// `false` keeps this scope's namespaces out of the mesh. Namespaces
    /// holding charts join only when `namespaces.<ns>.mesh` says so, since a
    /// chart's pods (webhooks, node agents, the mesh itself) often cannot run
    /// behind a proxy.
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MeshProvider {
    Istio,
    Linkerd,
}

impl MeshProvider {
    pub fn name(self) -> &'static str {
        match self {
            MeshProvider::Istio => "istio",
            MeshProvider::Linkerd => "linkerd",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MeshMode {
    #[default]
    Sidecar,
    Ambient,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MtlsMode {
    #[default]
    Permissive,
    Strict,
}

/// Where the mesh settings of one scope are written, most general first:
/// the top level, then each environment of the `extends` chain (root first).
pub fn environment_scopes<'a>(bp: &'a Blueprint, chain: &[String]) -> Vec<(String, &'a Mesh)> {
    let mut scopes = Vec::new();
    if let Some(mesh) = &bp.mesh {
        scopes.push(("/mesh".to_string(), mesh));
    }
    for env in chain {
        if let Some(mesh) = bp.environments.get(env).and_then(|e| e.mesh.as_ref()) {
            scopes.push((from_tokens(["environments", env.as_str(), "mesh"]), mesh));
        }
    }
    scopes
}

/// The checks on each written mesh setting that need only the blueprint:
/// a mode or revision the provider does not have, mTLS set per namespace
/// (it is mesh-wide), a control plane that is not a chart.
pub fn check(bp: &Blueprint, chain: &[String], locator: &Locator) -> Result<()> {
    let mut inherited = None;
    for (at, mesh) in environment_scopes(bp, chain) {
        inherited = mesh.provider.or(inherited);
        check_scope(bp, &at, mesh, inherited, locator)?;
    }
    for (ns, settings) in &bp.namespaces {
        let Some(mesh) = &settings.mesh else {
            continue;
        };
        let at = from_tokens(["namespaces", ns.as_str(), "mesh"]);
        if mesh.mtls.is_some() {
            return Err(locator
                .error(
                    ErrorKind::InvalidValue,
                    &push(&at, "mtls"),
                    format!("namespace `{ns}` sets `mtls`, which is mesh-wide"),
                )
                .with_help("set `mtls` in the top-level `mesh:` or in the environment's"));
        }
        check_scope(bp, &at, mesh, mesh.provider.or(inherited), locator)?;
    }
    Ok(())
}

fn check_scope(
    bp: &Blueprint,
    at: &str,
    mesh: &Mesh,
    provider: Option<MeshProvider>,
    locator: &Locator,
) -> Result<()> {
    if provider.is_none() && mesh.enabled != Some(false) {
        return Err(locator
            .error(
                ErrorKind::InvalidValue,
                at,
                "this mesh setting names no mesh: no `provider` here or above it",
            )
            .with_help("add `provider: istio` or `provider: linkerd`"));
    }
    if provider == Some(MeshProvider::Linkerd) {
        for (key, set) in [
            ("mode", mesh.mode == Some(MeshMode::Ambient)),
            ("revision", mesh.revision.is_some()),
        ] {
            if set {
                return Err(linkerd_lacks(locator, at, key));
            }
        }
    }
    if let Some(domain) = &mesh.trust_domain
        && !is_trust_domain(domain)
    {
        return Err(locator
            .error(
                ErrorKind::InvalidValue,
                &push(at, "trustDomain"),
                format!("trust domain `{domain}` is not a DNS name"),
            )
            .with_help("a trust domain is lowercase letters, digits, `-` and `.`, like `cluster.local` or `prod.acme.internal`"));
    }
    check_proxy(at, mesh, locator)?;
    if let Some(control_plane) = &mesh.control_plane
        && !bp.charts.contains_key(control_plane)
    {
        return Err(locator
            .error(
                ErrorKind::UnknownReference,
                &push(at, "controlPlane"),
                format!("the mesh's control plane `{control_plane}` is not a chart"),
            )
            .with_help(suggest::help_for(
                control_plane,
                "charts",
                bp.charts.keys().map(String::as_str),
            )));
    }
    Ok(())
}

fn linkerd_lacks(locator: &Locator, at: &str, key: &str) -> crate::error::Error {
    let help = match key {
        "mode" => "Linkerd has one data plane, a proxy in every pod; remove `mode`",
        _ => "Linkerd injects from its one control plane; remove `revision`",
    };
    locator
        .error(
            ErrorKind::InvalidValue,
            &push(at, key),
            format!("`{key}` is an Istio setting, and this mesh is Linkerd"),
        )
        .with_help(help)
}

/// A trust domain as SPIFFE IDs carry it: DNS labels of lowercase letters,
/// digits and `-`, joined by dots.
fn is_trust_domain(domain: &str) -> bool {
    domain.len() <= 255
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// Every proxy quantity parses as the API server reads quantities.
fn check_proxy(at: &str, mesh: &Mesh, locator: &Locator) -> Result<()> {
    let Some(proxy) = &mesh.proxy else {
        return Ok(());
    };
    for (part, values) in [("requests", &proxy.requests), ("limits", &proxy.limits)] {
        let Some(values) = values else { continue };
        for (key, value) in [("cpu", &values.cpu), ("memory", &values.memory)] {
            if let Some(value) = value
                && crate::quantity::parse(&value.0).is_none()
            {
                let pointer = push(&push(&push(at, "proxy"), part), key);
                return Err(locator
                    .error(
                        ErrorKind::InvalidValue,
                        &pointer,
                        format!("proxy {part} {key} `{}` is not a quantity", value.0),
                    )
                    .with_help("write a Kubernetes quantity, like `100m` or `128Mi`"));
            }
        }
    }
    Ok(())
}
