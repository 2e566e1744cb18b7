//! The blueprint format: serde types for `blueprints/system.yaml` and overlays.
//!
//! Everything an overlay may need to reach is a map keyed by name (apps,
//! charts, ports, env, environments...), because an RFC 7386 merge patch
//! replaces lists whole. Every struct refuses unknown fields, so a typo is an
//! error with a location rather than a silently ignored setting. These types
//! are also the source of the JSON Schema that `gitopsc schema` prints.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A whole system: what runs, where, in what order, and how it is deployed.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Blueprint {
    /// Name, ownership labels and namespace strategy.
    pub system: System,
    /// How the rendered tree reaches the cluster: Flux or Argo CD, and the GitOps repo.
    #[serde(default)]
    pub gitops: Option<GitOps>,
    /// Deployment layers in order, e.g. `[infrastructure, observability, data, apps]`.
    pub layers: Vec<String>,
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
    /// Gateway API Gateways that apps' routes attach to under `routing: gateway-api`.
    #[serde(default)]
    pub gateways: BTreeMap<String, super::routing::Gateway>,
    /// Which project files gitopsc accepts as input.
    #[serde(default)]
    pub inputs: Inputs,
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

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitOps {
    /// `flux` or `argocd`; an overlay may pick another engine for one environment.
    pub engine: Engine,
    /// URL of the GitOps repository the engine watches.
    pub repo: String,
    /// Branch the engine watches.
    #[serde(default = "default_branch")]
    pub branch: String,
    /// Directory in the GitOps repo holding one subdirectory per environment.
    #[serde(default = "default_gitops_path")]
    pub path: String,
    /// Reconcile intervals: `source`, `helm`, and one per layer name.
    #[serde(default)]
    pub intervals: BTreeMap<String, String>,
    /// Flux: name of the Secret with Git credentials for a private repository.
    #[serde(default)]
    pub secret_ref: Option<String>,
    /// Namespace of the engine's own objects (`flux-system` or `argocd`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Argo CD: destination cluster API server; overrides `destination`.
    #[serde(default)]
    pub server: Option<String>,
    /// Argo CD: where Applications deploy to when `server` is not set:
    /// `in-cluster` (Argo CD's own cluster, the default) or `cluster-name`
    /// (the cluster registered in Argo CD under the environment's `cluster`
    /// name, so one Argo CD can deploy to several clusters).
    #[serde(default)]
    pub destination: ArgoDestination,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ArgoDestination {
    /// `server: https://kubernetes.default.svc`.
    #[default]
    InCluster,
    /// `name: <environment cluster>`.
    ClusterName,
}

fn default_branch() -> String {
    "main".to_string()
}

fn default_gitops_path() -> String {
    "rendered".to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Flux,
    Argocd,
}

impl GitOps {
    /// Namespace of the engine's own objects.
    pub fn engine_namespace(&self) -> String {
        self.namespace
            .clone()
            .unwrap_or_else(|| self.engine.default_namespace().to_string())
    }
}

impl Engine {
    /// Where the engine is installed unless `gitops.namespace` says otherwise.
    pub fn default_namespace(self) -> &'static str {
        match self {
            Engine::Flux => "flux-system",
            Engine::Argocd => "argocd",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Flux => "flux",
            Engine::Argocd => "argocd",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Environment {
    /// Another environment whose settings and overlays this one starts from.
    #[serde(default)]
    pub extends: Option<String>,
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

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Quota {
    #[serde(default)]
    pub cpu: Option<RequestsLimits>,
    #[serde(default)]
    pub memory: Option<RequestsLimits>,
    #[serde(default)]
    pub pods: Option<u32>,
    /// Total storage requested by PersistentVolumeClaims.
    #[serde(default)]
    pub storage: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestsLimits {
    #[serde(default)]
    pub requests: Option<Scalar>,
    #[serde(default)]
    pub limits: Option<Scalar>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceSettings {
    /// Pod Security Admission level enforced in the namespace.
    #[serde(default)]
    pub pod_security: Option<PodSecurityLevel>,
    /// Overrides the environment's network posture for this namespace.
    #[serde(default)]
    pub network: Option<NetworkPosture>,
    /// Overrides the environment's quota for this namespace.
    #[serde(default)]
    pub quota: Option<Quota>,
    /// Extra labels on the Namespace object.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurityLevel {
    Restricted,
    Baseline,
    Privileged,
}

impl PodSecurityLevel {
    pub fn name(self) -> &'static str {
        match self {
            PodSecurityLevel::Restricted => "restricted",
            PodSecurityLevel::Baseline => "baseline",
            PodSecurityLevel::Privileged => "privileged",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretStore {
    /// `ClusterSecretStore` (default) or `SecretStore`.
    #[serde(default)]
    pub kind: SecretStoreKind,
    /// Name of the store object; defaults to the key.
    #[serde(default)]
    pub name: Option<String>,
    /// How often External Secrets refreshes values.
    #[serde(default = "default_refresh")]
    pub refresh: String,
    /// What backs the store (vault, infisical, ...). With `infisical`, a
    /// reference `infisical:/folder#NAME` reads the secret `NAME` in `/folder`.
    /// Other values are documentation.
    #[serde(default)]
    pub provider: Option<String>,
}

fn default_refresh() -> String {
    "1h".to_string()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum SecretStoreKind {
    #[default]
    ClusterSecretStore,
    SecretStore,
}

impl SecretStoreKind {
    pub fn name(self) -> &'static str {
        match self {
            SecretStoreKind::ClusterSecretStore => "ClusterSecretStore",
            SecretStoreKind::SecretStore => "SecretStore",
        }
    }
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
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressDefaults {
    #[serde(default)]
    pub class: Option<String>,
    /// cert-manager ClusterIssuer used for TLS.
    #[serde(default)]
    pub issuer: Option<String>,
    /// The component running the ingress controller (its namespace may reach apps).
    #[serde(default)]
    pub controller: Option<String>,
    /// Namespace of an ingress controller that is not a component (e.g. `kube-system`).
    #[serde(default)]
    pub controller_namespace: Option<String>,
    /// Labels of that controller's pods; defaults by `class` (`traefik`, `nginx`).
    #[serde(default)]
    pub controller_selector: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct App {
    /// The layer this app is deployed in.
    pub layer: String,
    /// Namespace; defaults by `system.namespaces`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// `Deployment` (default), `StatefulSet` or `CronJob`.
    #[serde(default)]
    pub kind: WorkloadKind,
    /// `app.kubernetes.io/component`; defaults to the layer.
    #[serde(default)]
    pub component: Option<String>,
    /// `registry/repository:tag`, `repository@sha256:...`, or a map with repository, tag, digest.
    pub image: Image,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// Named container ports: `{http: 8080}`.
    #[serde(default)]
    pub ports: BTreeMap<String, u32>,
    /// Literal environment variables (never credentials: use `secrets`).
    #[serde(default)]
    pub env: BTreeMap<String, Scalar>,
    /// Environment variables from a secret store: `{DB_PASSWORD: "vault:path/to/secret#key"}`.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Mount `secrets` as read-only files in this directory (one file per name)
    /// instead of environment variables.
    #[serde(default)]
    pub secret_files: Option<String>,
    /// Config files mounted from a ConfigMap whose name carries a content hash.
    #[serde(default)]
    pub config: Option<ConfigFiles>,
    #[serde(default)]
    pub resources: Option<Resources>,
    #[serde(default)]
    pub probes: Probes,
    /// Replicas; ignored when `autoscale` is set.
    #[serde(default)]
    pub replicas: Option<u32>,
    #[serde(default)]
    pub autoscale: Option<Autoscale>,
    /// Disruption budget; automatic (`maxUnavailable: 1`) with more than one replica.
    #[serde(default)]
    pub disruption_budget: Option<DisruptionBudget>,
    #[serde(default)]
    pub ingress: Option<Ingress>,
    #[serde(default)]
    pub service_account: ServiceAccountSettings,
    /// Namespaced RBAC rules granted to the app's ServiceAccount.
    #[serde(default)]
    pub rbac: Vec<RbacRule>,
    /// Components this app talks to, optionally on one port: `[pgbouncer, kafka:client]`;
    /// `kube-apiserver` is the Kubernetes API.
    #[serde(default)]
    pub uses: Vec<String>,
    /// Ports on which the app's own pods reach each other (replication, clustering).
    #[serde(default)]
    pub peers: Vec<String>,
    /// Extra egress in default-deny environments: `{"0.0.0.0/0": [443]}`.
    #[serde(default)]
    pub egress: BTreeMap<String, Vec<u32>>,
    /// Prometheus scraping through a ServiceMonitor.
    #[serde(default)]
    pub metrics: Option<Metrics>,
    /// StatefulSet volume claims by name.
    #[serde(default)]
    pub storage: BTreeMap<String, Storage>,
    /// Writable directories (emptyDir) besides `/tmp`; the root filesystem is read-only.
    #[serde(default)]
    pub writable: Vec<String>,
    /// CronJob schedule.
    #[serde(default)]
    pub schedule: Option<String>,
    /// User, group and fsGroup the container runs as.
    #[serde(default)]
    pub run_as: RunAs,
    /// Extra pod annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Policy rules this app is exempt from, with the reason: `{min-replicas: "singleton by design"}`.
    #[serde(default)]
    pub waivers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum WorkloadKind {
    #[default]
    Deployment,
    StatefulSet,
    CronJob,
}

/// A container image reference, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(with = "ImageSchema")]
pub struct Image {
    pub repository: String,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
}

impl Image {
    /// The reference as a container runtime reads it.
    pub fn reference(&self, registry: Option<&str>) -> String {
        let mut out = match registry {
            Some(r) if !has_registry_host(&self.repository) => {
                format!("{}/{}", r.trim_end_matches('/'), self.repository)
            }
            _ => self.repository.clone(),
        };
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }

    /// Parses `repo[:tag][@digest]`; validation of each part is the validator's job.
    pub fn parse(s: &str) -> Image {
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (repository, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                rest[..last_slash + i].to_string(),
                Some(rest[last_slash + i + 1..].to_string()),
            ),
            None => (rest.to_string(), None),
        };
        Image {
            repository,
            tag,
            digest,
        }
    }
}

/// A first path component with a dot or a port, or `localhost`, names a registry host.
pub fn has_registry_host(repository: &str) -> bool {
    match repository.split_once('/') {
        Some((first, _)) => first.contains('.') || first.contains(':') || first == "localhost",
        None => false,
    }
}

impl<'de> Deserialize<'de> for Image {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ImageVisitor;
        impl<'de> Visitor<'de> for ImageVisitor {
            type Value = Image;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an image reference like `ghcr.io/acme/api:1.2.3`, or a map with `repository`, `tag`, `digest`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Image, E> {
                Ok(Image::parse(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Image, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Parts {
                    repository: String,
                    #[serde(default)]
                    tag: Option<Scalar>,
                    #[serde(default)]
                    digest: Option<String>,
                }
                let parts = Parts::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Image {
                    repository: parts.repository,
                    tag: parts.tag.map(|t| t.0),
                    digest: parts.digest,
                })
            }
        }
        deserializer.deserialize_any(ImageVisitor)
    }
}

/// The two ways an image is written, for the editor schema.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ImageSchema {
    /// `ghcr.io/acme/api:1.2.3`, optionally `@sha256:<digest>`.
    Reference(String),
    Parts(ImageParts),
}

/// An image by its parts.
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
struct ImageParts {
    repository: String,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    digest: Option<String>,
}

/// A scalar read as text: `8080`, `true` and `"x"` all become strings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[schemars(with = "ScalarSchema")]
pub struct Scalar(pub String);

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ScalarSchema {
    Text(String),
    Number(f64),
    Flag(bool),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigFiles {
    /// Directory the files are mounted in.
    pub mount_path: String,
    /// File name -> path of a file under `blueprints/`.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// File name -> literal content.
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    #[serde(default)]
    pub requests: Option<CpuMemory>,
    #[serde(default)]
    pub limits: Option<CpuMemory>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CpuMemory {
    #[serde(default)]
    pub cpu: Option<Scalar>,
    #[serde(default)]
    pub memory: Option<Scalar>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Probes {
    #[serde(default)]
    pub readiness: Option<Probe>,
    #[serde(default)]
    pub liveness: Option<Probe>,
    #[serde(default)]
    pub startup: Option<Probe>,
}

/// One probe: exactly one of `http` (a path), `tcp` (a port name) or `exec` (a command).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Probe {
    #[serde(default)]
    pub http: Option<String>,
    #[serde(default)]
    pub tcp: Option<String>,
    #[serde(default)]
    pub exec: Option<Vec<String>>,
    /// Port name for `http`; defaults to `http`, or the only port.
    #[serde(default)]
    pub port: Option<String>,
    #[serde(default)]
    pub initial_delay: Option<u32>,
    #[serde(default)]
    pub period: Option<u32>,
    #[serde(default)]
    pub timeout: Option<u32>,
    #[serde(default)]
    pub failure_threshold: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Autoscale {
    pub min: u32,
    pub max: u32,
    /// Target average CPU utilisation in percent (default 75 when no target is set).
    #[serde(default)]
    pub cpu: Option<u32>,
    /// Target average memory utilisation in percent.
    #[serde(default)]
    pub memory: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisruptionBudget {
    #[serde(default)]
    pub min_available: Option<Scalar>,
    #[serde(default)]
    pub max_unavailable: Option<Scalar>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ingress {
    pub hosts: Vec<String>,
    /// Path -> port name; defaults to `/` on the default port.
    #[serde(default)]
    pub paths: BTreeMap<String, String>,
    #[serde(default)]
    pub class: Option<String>,
    /// cert-manager ClusterIssuer; TLS is on whenever an issuer is known.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Set `false` to serve plain HTTP even with a default issuer.
    #[serde(default)]
    pub tls: Option<bool>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Gateway API: the gateway the route attaches to (default: the only one).
    #[serde(default)]
    pub gateway: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccountSettings {
    /// Mount the API token into pods (off unless the app calls the API).
    #[serde(default)]
    pub automount_token: bool,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RbacRule {
    #[serde(default)]
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
    #[serde(default)]
    pub resource_names: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metrics {
    /// Port name serving metrics.
    pub port: String,
    #[serde(default = "default_metrics_path")]
    pub path: String,
    #[serde(default)]
    pub interval: Option<String>,
}

fn default_metrics_path() -> String {
    "/metrics".to_string()
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Storage {
    pub size: Scalar,
    pub mount_path: String,
    #[serde(default)]
    pub storage_class: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunAs {
    #[serde(default)]
    pub user: Option<u32>,
    #[serde(default)]
    pub group: Option<u32>,
    #[serde(default)]
    pub fs_group: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Chart {
    pub layer: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Chart repository: `https://...` or `oci://...`.
    pub repo: String,
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
    /// `ingress-nginx`, `traefik` and `cloudnative-pg` charts.
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    /// Ports that `uses` edges may reach on the chart's pods.
    #[serde(default)]
    pub ports: BTreeMap<String, u32>,
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
    #[serde(default)]
    pub namespace: Option<String>,
    /// minijinja templates under `blueprints/`, each rendering one or more objects.
    pub templates: Vec<String>,
    /// Extra variables for the templates (`{{ values.x }}`), overridable per environment.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Value>")]
    pub values: Value,
    /// Components these pods reach (`kube-apiserver` is the Kubernetes API).
    #[serde(default)]
    pub uses: Vec<String>,
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
