//! Charts (Helm releases from a pinned chart) and manifest sets (minijinja
//! templates beside the blueprint): the two components gitopsc does not
//! build from an image, and their checks.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::check::Check;
use super::namespaces::PodSecurityLevel;
use super::secrets::NamedSecret;
use super::syntax::{Scalar, is_dns_subdomain};
use super::validate::MAX_COMPONENT_NAME;
use crate::error::{ErrorKind, Result};
use crate::pointer::{from_tokens, push};
use crate::sources::Sources;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Chart {
    pub layer: String,
    /// Namespace; defaults to its layer's `namespace`, else by `system.namespaces`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Chart repository: `https://...` or `oci://...`.
    pub repo: String,
    /// The chart's name in its repository; defaults to the key, as
    /// `helm install cert-manager jetstack/cert-manager` names both alike.
    #[serde(default)]
    pub chart: String,
    /// Pinned chart version.
    pub version: Scalar,
    /// Helm release name; defaults to the key.
    #[serde(default)]
    pub release: Option<String>,
    /// Helm values.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Value>")]
    pub values: Value,
    /// Secrets the chart reads by name (its `existingSecret`), each an
    /// ExternalSecret of that name in the chart's namespace and unit: chosen
    /// keys, `{grafana-admin: {admin-password: "vault:maya/grafana#password"}}`,
    /// or every field of one entry, `{loki-s3: "vault:maya/loki"}`.
    #[serde(default)]
    pub secrets: BTreeMap<String, NamedSecret>,
    /// Where the chart's pods run: `nodeSelector`, `preferNodes`,
    /// `tolerations`, `priorityClass` and `affinity`, written into `values`
    /// at the paths the chart reads (top level unless gitopsc knows the
    /// chart); `values` win. `defaults.scheduling` does not apply.
    #[serde(default)]
    pub scheduling: super::scheduling::Scheduling,
    /// CRD API groups the chart installs, e.g. `[external-secrets.io]`.
    #[serde(default)]
    pub provides: Vec<String>,
    /// Components the chart's pods reach (`kube-apiserver` is the Kubernetes API),
    /// including what it manages.
    #[serde(default)]
    pub uses: Vec<String>,
    /// Components the chart's operator manages and reaches (`[maya-db:status]`):
    /// like `uses` for the network, but they deploy after the chart, not before.
    #[serde(default)]
    pub manages: Vec<String>,
    /// Components the chart deploys after without reaching them: an order,
    /// never a network path (`uses` is both).
    #[serde(default)]
    pub after: Vec<String>,
    /// Ports on which the chart's own pods reach each other.
    #[serde(default)]
    pub peers: Vec<String>,
    /// Extra egress in default-deny environments: `{"0.0.0.0/0": [443]}`.
    #[serde(default)]
    pub egress: BTreeMap<String, Vec<u32>>,
    /// Ports the ingress controller reaches through the chart's own Ingresses
    /// (e.g. Grafana's): `[grafana]`.
    #[serde(default)]
    pub routes: Vec<String>,
    /// For the monitoring stack: labels of its Prometheus pods (default
    /// `app.kubernetes.io/name: prometheus`).
    #[serde(default)]
    pub scrapers: super::network::ScraperSelector,
    /// Labels selecting the chart's pods, for network policies; defaults to
    /// `app.kubernetes.io/instance: <release>`, or the known labels of the
    /// `ingress-nginx`, `traefik`, `cloudnative-pg`, `istiod` and
    /// `linkerd-control-plane` charts.
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    /// Ports that `uses` edges may reach on the chart's pods.
    #[serde(default)]
    pub ports: BTreeMap<String, u32>,
    /// Names of the ports the kubelet probes on the chart's pods (`[http]`); `[]`
    /// when they have none or probe by command. Under Istio ambient the
    /// kubelet's probes arrive from ztunnel's address, which only these
    /// ports admit in a default-deny namespace, so there the key is required.
    #[serde(default)]
    pub probes: Option<Vec<String>>,
    /// Helm install/upgrade timeout.
    #[serde(default)]
    pub timeout: Option<String>,
    /// Pod Security level the chart's pods need; defaults to what gitopsc
    /// knows of the chart, else `baseline`. Its namespace
    /// is labelled with the least strict level any of its charts needs.
    #[serde(default)]
    pub pod_security: Option<PodSecurityLevel>,
    /// Namespaces besides its own that the chart installs objects into (e.g.
    /// `kube-system`), added to those gitopsc knows of; Argo CD's project
    /// allows them as destinations.
    #[serde(default)]
    pub extra_namespaces: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManifestSet {
    pub layer: String,
    /// Namespace; defaults to its layer's `namespace`, else by `system.namespaces`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// minijinja templates under `blueprints/`, each rendering one or more objects.
    pub templates: Vec<String>,
    /// Extra variables for the templates (`{{ values.x }}`), overridable per environment.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Value>")]
    pub values: Value,
    /// Secrets the templates' objects read by name, each an ExternalSecret
    /// of that name in the set's namespace and unit (the forms of a chart's `secrets`).
    #[serde(default)]
    pub secrets: BTreeMap<String, NamedSecret>,
    /// Components these pods reach (`kube-apiserver` is the Kubernetes API).
    #[serde(default)]
    pub uses: Vec<String>,
    /// Components these manifests deploy after without reaching them: an
    /// order, never a network path (`uses` is both).
    #[serde(default)]
    pub after: Vec<String>,
    /// Ports on which these pods reach each other.
    #[serde(default)]
    pub peers: Vec<String>,
    /// Extra egress in default-deny environments: `{"0.0.0.0/0": [443]}`.
    #[serde(default)]
    pub egress: BTreeMap<String, Vec<u32>>,
    /// Labels selecting the pods these manifests create, for network policies.
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    /// Ports that `uses` edges may reach on those pods.
    #[serde(default)]
    pub ports: BTreeMap<String, u32>,
    /// Names of the ports the kubelet probes on these pods (`[status]`); `[]`
    /// when they have none or probe by command. Under Istio ambient the
    /// kubelet's probes arrive from ztunnel's address, which only these
    /// ports admit in a default-deny namespace, so there the key is required.
    #[serde(default)]
    pub probes: Option<Vec<String>>,
}

/// Gives every chart that names no `chart` its key as the chart name. Done
/// on the document before it is decoded, at load and again after overlays,
/// so a chart an overlay adds is named the same way.
pub fn name_charts_by_key(blueprint: &mut Value) {
    let Some(Value::Object(charts)) = blueprint.get_mut("charts") else {
        return;
    };
    for (name, chart) in charts.iter_mut() {
        if let Value::Object(chart) = chart {
            chart
                .entry("chart")
                .or_insert_with(|| Value::String(name.clone()));
        }
    }
}

pub(super) fn check_chart(c: &Check, name: &str, chart: &Chart) -> Result<()> {
    let at = from_tokens(["charts", name]);
    let field = |f: &str| push(&at, f);
    c.name_key(&at, name, "component", MAX_COMPONENT_NAME)?;
    if let Some(ns) = &chart.namespace {
        c.dns_label(&field("namespace"), ns, "namespace", 63)?;
    }
    let repo_ok = (chart.repo.starts_with("https://")
        || chart.repo.starts_with("oci://")
        || chart.repo.starts_with("http://"))
        && !chart.repo.contains(char::is_whitespace);
    if !repo_ok {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &field("repo"),
            format!("`{}` is not a chart repository URL", chart.repo),
            "use `https://...` or `oci://...`",
        ));
    }
    if chart.chart.is_empty() || chart.chart.contains(char::is_whitespace) {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &field("chart"),
            "the chart name is empty or has spaces",
            "name the chart, e.g. `external-secrets`",
        ));
    }
    let version = &chart.version.0;
    if version.is_empty()
        || version.contains(char::is_whitespace)
        || version == "latest"
        || version.contains('*')
        || version.contains('>')
        || version.contains('~')
        || version.contains('^')
    {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &field("version"),
            format!("chart version `{version}` is not pinned"),
            "pin an exact version like `1.14.5`",
        ));
    }
    if let Some(release) = &chart.release {
        c.dns_label(&field("release"), release, "release", 53)?;
    }
    for (i, group) in chart.provides.iter().enumerate() {
        if !is_dns_subdomain(group) || !group.contains('.') {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push(&field("provides"), &i.to_string()),
                format!("`{group}` is not a CRD API group"),
                "API groups look like `external-secrets.io` or `cert-manager.io`",
            ));
        }
    }
    for (port, number) in &chart.ports {
        c.port(&push(&field("ports"), port), port, *number)?;
    }
    if let Some(t) = &chart.timeout {
        c.duration(&field("timeout"), t)?;
    }
    for (i, ns) in chart.extra_namespaces.iter().enumerate() {
        c.dns_label(
            &push(&field("extraNamespaces"), &i.to_string()),
            ns,
            "namespace",
            63,
        )?;
    }
    check_map_value(c, &field("values"), &chart.values)
}

/// The set's name, that every template exists under `blueprints/`, and its values.
pub(super) fn check_manifest_set(
    c: &Check,
    name: &str,
    set: &ManifestSet,
    sources: &Sources,
) -> Result<()> {
    let at = from_tokens(["manifests", name]);
    c.name_key(&at, name, "component", MAX_COMPONENT_NAME)?;
    for (i, t) in set.templates.iter().enumerate() {
        c.include(&push(&push(&at, "templates"), &i.to_string()), t, sources)?;
    }
    check_map_value(c, &push(&at, "values"), &set.values)
}

fn check_map_value(c: &Check, at: &str, value: &serde_json::Value) -> Result<()> {
    if value.is_object() || value.is_null() {
        return Ok(());
    }
    Err(c.fail(
        ErrorKind::InvalidType,
        at,
        "values must be a mapping",
        "write `values:` as key: value pairs",
    ))
}
