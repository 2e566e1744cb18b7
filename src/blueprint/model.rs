//! The blueprint format: the root of the serde types for
//! `blueprints/system.yaml` and overlays, and the one place every concept's
//! types are named from. Each concept (apps, charts, environments, gitops,
//! secrets, ...) keeps its types in its own module beside its checks.
//!
//! Everything an overlay may need to reach is a map keyed by name (apps,
//! charts, ports, env, environments...), because an RFC 7386 merge patch
//! replaces lists whole. Every struct refuses unknown fields, so a typo is an
//! error with a location rather than a silently ignored setting. These types
//! are also the source of the JSON Schema that `gitopsc schema` prints.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::apps::{App, Metrics, RbacRule, RunAs, ServiceAccountSettings, WorkloadKind};
pub use super::charts::{Chart, ManifestSet};
pub use super::environments::{EnvSettings, Environment, NetworkPosture, PolicySettings};
pub use super::gitops::{ArgoDestination, Engine, GitOps};
pub use super::image::{Image, has_registry_host};
pub use super::ingress::{Ingress, IngressDefaults};
pub use super::namespaces::{NamespaceSettings, PodSecurityLevel};
pub use super::probes::{Probe, Probes};
pub use super::resources::{CpuMemory, Quota, RequestsLimits, Resources};
pub use super::scaling::{Autoscale, DisruptionBudget};
pub use super::scheduling::{
    Affinities, AntiAffinity, PodAffinity, PodManagementPolicy, Scheduling, TaintEffect,
    Toleration, Topology,
};
pub use super::secrets::{NamedSecret, SecretStore, SecretStoreKind};
pub use super::syntax::Scalar;
pub use super::volumes::{ConfigFiles, Storage};

/// A whole system: what runs, where, in what order, and how it is deployed.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Blueprint {
    /// Name, ownership labels and namespace strategy.
    pub system: System,
    /// How the rendered tree reaches the cluster: Flux or Argo CD, and the GitOps repo.
    #[serde(default)]
    pub gitops: Option<GitOps>,
    /// Deployment layers in order, e.g. `[infrastructure, observability, data, apps]`;
    /// an entry `{name: apps, after: [infrastructure]}` names the layers it
    /// deploys after instead of the one before it, and `{name: apps,
    /// namespace: production}` the namespace of its components that name none.
    pub layers: Vec<super::layers::Layer>,
    /// How each environment's tree is split into files: `objects` (default,
    /// one file per object) or `units` (one multi-document file per unit
    /// directory). Either builds with `kubectl kustomize` to the same objects.
    #[serde(default)]
    pub layout: Layout,
    /// Environments by name (dev, staging, prod, ...).
    pub environments: BTreeMap<String, Environment>,
    /// Per-namespace settings: Pod Security level, quota or network posture overrides.
    #[serde(default)]
    pub namespaces: BTreeMap<String, NamespaceSettings>,
    /// External Secrets Operator stores that secret references name.
    #[serde(default)]
    pub secret_stores: BTreeMap<String, SecretStore>,
    /// Settings every app inherits unless it says otherwise.
    #[serde(default)]
    pub defaults: Defaults,
    /// Workloads built from container images.
    #[serde(default)]
    pub apps: BTreeMap<String, App>,
    /// Platform parts installed from Helm charts.
    #[serde(default)]
    pub charts: BTreeMap<String, Chart>,
    /// Extra manifests kept as minijinja templates beside the blueprint.
    #[serde(default)]
    pub manifests: BTreeMap<String, ManifestSet>,
    /// Which project files gitopsc accepts as input.
    #[serde(default)]
    pub inputs: Inputs,
    /// The service mesh every environment's namespaces join (an environment's
    /// or a namespace's `mesh` overrides it field by field).
    #[serde(default)]
    pub mesh: Option<super::mesh::Mesh>,
    /// Gateway API Gateways that apps' routes attach to under `routing: gateway-api`.
    #[serde(default)]
    pub gateways: BTreeMap<String, super::routing::Gateway>,
    /// RFC 6902 operations on the rendered objects a target selects, in
    /// every environment: applied before each environment's overlay patches.
    // Read at load into `Project::patches`; each environment drops the key before it decodes.
    #[serde(default, skip_serializing)]
    #[schemars(schema_with = "super::patches::blueprint_schema")]
    pub patches: Option<serde_json::Value>,
}

/// How a rendered tree is split into files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// One file per object, `<kind>-<name>.yaml`, listed by the unit's
    /// `kustomization.yaml`: a review shows each object's file on its own.
    #[default]
    Objects,
    /// One `manifests.yaml` per unit directory holding all its objects, in the
    /// order the `objects` layout lists them: far fewer files to write and
    /// commit in a large system.
    Units,
}

/// Which project files gitopsc accepts as input.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Inputs {
    /// Accept files with more than one hard link. Off by default: a hard link
    /// can make a file from elsewhere on the machine (say, a system file) look
    /// like a project file; turn it on where a tool links inputs on purpose
    /// (a build sandbox, `cp -al` snapshots).
    #[serde(default)]
    pub allow_hard_links: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct System {
    /// DNS-1123 label naming the system; used in labels and GitOps object names.
    pub name: String,
    /// Team that owns the system, rendered as the `gitopsc.io/owner` label.
    #[serde(default)]
    pub owner: Option<String>,
    /// `app.kubernetes.io/part-of`; defaults to the system name.
    #[serde(default)]
    pub part_of: Option<String>,
    /// How components are spread over namespaces when they do not name one.
    #[serde(default)]
    pub namespaces: NamespaceStrategy,
    /// The namespace for the `single` strategy; defaults to the system name.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Namespaces the cluster or another team owns, beside `kube-system`,
    /// `kube-public`, `kube-node-lease`, `default` and the engine's own:
    /// gitopsc places components there but never renders the Namespace, its
    /// Pod Security labels, quota, limits or namespace-wide network policy.
    #[serde(default)]
    pub system_namespaces: Vec<String>,
    /// How apps' `ingress:` renders: `ingress` (default) or `gateway-api`;
    /// `environments.<env>.routing` overrides it.
    #[serde(default)]
    pub routing: Option<super::routing::RoutingApi>,
}

/// Namespaces no blueprint owns, whatever it says.
pub const KUBERNETES_NAMESPACES: [&str; 4] =
    ["kube-system", "kube-public", "kube-node-lease", "default"];

impl Blueprint {
    /// Every namespace gitopsc must not own: Kubernetes' own, the engine's and
    /// those the blueprint lists.
    pub fn system_namespaces(&self) -> std::collections::BTreeSet<String> {
        let mut out: std::collections::BTreeSet<String> = KUBERNETES_NAMESPACES
            .iter()
            .map(|s| s.to_string())
            .collect();
        if let Some(gitops) = &self.gitops {
            out.insert(gitops.engine_namespace());
        }
        out.extend(self.system.system_namespaces.iter().cloned());
        out
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NamespaceStrategy {
    /// One namespace per layer, named after the layer.
    #[default]
    PerLayer,
    /// One namespace per component, named after the component.
    PerComponent,
    /// Everything in one namespace (`system.namespace`).
    Single,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Defaults {
    /// Resources of apps that set none.
    #[serde(default)]
    pub resources: Option<Resources>,
    /// Ingress class, cert-manager issuer and controller for apps with `ingress`.
    #[serde(default)]
    pub ingress: IngressDefaults,
    /// Image registry prefixed to image repositories without a registry host.
    #[serde(default)]
    pub registry: Option<String>,
    /// Waivers every app carries (an app's own waivers add to these), with the reason.
    #[serde(default)]
    pub waivers: BTreeMap<String, String>,
    /// Scheduling every app starts from; an app's own `scheduling` keys win.
    #[serde(default)]
    pub scheduling: Scheduling,
    /// Any app keys every app starts from: maps merge with the app's keys
    /// winning, `uses`, `peers` and `writable` gain the app's own items, other
    /// lists are replaced, `null` in an app drops a default's key. Merged into
    /// each app before it is read, so nothing past loading sees it.
    #[serde(default)]
    #[schemars(schema_with = "app_defaults_schema")]
    pub apps: Option<serde_json::Value>,
}

/// An app's schema with nothing required: a default sets only some keys.
fn app_defaults_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut schema = App::json_schema(generator);
    schema.remove("required");
    schema
}
