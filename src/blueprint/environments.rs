//! Environments: what each one declares (`extends`, cluster, domain, zones,
//! network posture, quota, production rules), the settings one environment
//! ends up with once `resolve` has walked its `extends` chain, and their checks.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::check::Check;
use super::model::Blueprint;
use super::network::ApiServer;
use super::resources::{Quota, Resources, check_quota, check_resources};
use super::syntax::{is_dns_subdomain, is_label_value};
use crate::error::{ErrorKind, Result};
use crate::pointer::{from_tokens, push};

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Environment {
    /// Another environment whose settings this one starts from.
    #[serde(default)]
    pub extends: Option<String>,
    /// Also apply the overlay of the environment this one `extends` (and what
    /// that one inherits) before this one's own. Off by default, so a dev
    /// overlay reaches no other environment unless it is asked for.
    #[serde(default)]
    pub inherit_overlays: bool,
    /// Cluster name (Argo CD destination name, label on everything).
    #[serde(default)]
    pub cluster: Option<String>,
    /// DNS domain; `{{ env.domain }}` in templates.
    #[serde(default)]
    pub domain: Option<String>,
    /// Topology zones; with more than one, pods spread across them.
    #[serde(default)]
    pub zones: Option<Vec<String>>,
    /// Network posture of every namespace (`namespaces.<ns>.network` overrides one).
    #[serde(default)]
    pub network: Option<NetworkPosture>,
    /// ResourceQuota for every namespace of this environment.
    #[serde(default)]
    pub quota: Option<Quota>,
    /// LimitRange defaults for containers that set no resources.
    #[serde(default)]
    pub container_defaults: Option<Resources>,
    /// Production environments enforce the production rules (replicas, budgets,
    /// resources, probes, pinned images, zone spread) unless `policy` turns one off.
    #[serde(default)]
    pub production: Option<bool>,
    /// Switches single policy rules on or off for this environment.
    #[serde(default)]
    pub policy: Option<PolicySettings>,
    /// Where pods reach the Kubernetes API server, for `uses: [kube-apiserver]`.
    #[serde(default)]
    pub api_server: Option<super::network::ApiServer>,
    /// The service mesh of this environment, over the top-level `mesh`.
    #[serde(default)]
    pub mesh: Option<super::mesh::Mesh>,
    /// `ingress` or `gateway-api`: overrides `system.routing` here.
    #[serde(default)]
    pub routing: Option<super::routing::RoutingApi>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkPosture {
    /// No NetworkPolicies.
    Permissive,
    /// Pods talk freely inside their namespace and send anywhere; from other
    /// namespaces only `uses` edges, the Prometheus pods and the ingress controller.
    NamespaceIsolated,
    /// Deny all ingress and egress; allow DNS and exactly what the blueprint
    /// declares: `uses`, `peers`, `egress`, ingress routes, scraping.
    DefaultDeny,
}

/// Policy rules by name; unset rules follow `production`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicySettings {
    /// At least two replicas (or an autoscaler minimum of two).
    #[serde(default)]
    pub min_replicas: Option<bool>,
    /// A PodDisruptionBudget for every long-running workload.
    #[serde(default)]
    pub disruption_budget: Option<bool>,
    /// CPU and memory requests and limits on every container.
    #[serde(default)]
    pub resources: Option<bool>,
    /// Readiness and liveness probes on every long-running container.
    #[serde(default)]
    pub probes: Option<bool>,
    /// Image tags pinned (no `latest`, no missing tag).
    #[serde(default)]
    pub pinned_images: Option<bool>,
    /// Image digests required.
    #[serde(default)]
    pub image_digests: Option<bool>,
    /// Spread over zones when the environment has several.
    #[serde(default)]
    pub zone_spread: Option<bool>,
}

/// An environment's settings after `extends`, with defaults filled in.
#[derive(Debug, Clone)]
pub struct EnvSettings {
    pub name: String,
    pub cluster: String,
    pub domain: Option<String>,
    pub zones: Vec<String>,
    pub network: NetworkPosture,
    pub quota: Option<Quota>,
    pub container_defaults: Option<Resources>,
    pub production: bool,
    pub policy: PolicySettings,
    /// Where pods reach the Kubernetes API server, when the environment says.
    pub api_server: Option<ApiServer>,
    /// The environments whose overlays apply, root first, ending with this one.
    pub chain: Vec<String>,
    /// The routing API apps' `ingress:` renders as: the environment's, else the system's.
    pub routing: super::routing::RoutingApi,
}

pub(super) fn check_environment(c: &Check, bp: &Blueprint, env: &EnvSettings) -> Result<()> {
    for name in bp.environments.keys() {
        c.name_key(
            &from_tokens(["environments", name]),
            name,
            "environment",
            63,
        )?;
    }
    let at = from_tokens(["environments", env.name.as_str()]);
    if let Some(domain) = &env.domain
        && !is_dns_subdomain(domain)
    {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &push(&at, "domain"),
            format!("`{domain}` is not a DNS domain"),
            "use lowercase DNS names like `dev.example.com`",
        ));
    }
    for (i, zone) in env.zones.iter().enumerate() {
        if !is_label_value(zone) || zone.is_empty() {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push(&push(&at, "zones"), &i.to_string()),
                format!("zone `{zone}` cannot be a label value"),
                "zones are values of `topology.kubernetes.io/zone`",
            ));
        }
    }
    if let Some(q) = &env.quota {
        check_quota(c, &push(&at, "quota"), q)?;
    }
    if let Some(r) = &env.container_defaults {
        check_resources(c, &push(&at, "containerDefaults"), r)?;
    }
    Ok(())
}
