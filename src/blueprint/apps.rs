//! Apps: workloads built from container images (Deployment, StatefulSet or
//! CronJob), their ports, environment, service account, RBAC and metrics,
//! and the check of a whole app, which hands each part to the concept that
//! owns it (image, secrets, volumes, probes, scaling, ingress, network).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::check::Check;
use super::image::{Image, check_image};
use super::ingress::{Ingress, check_ingress};
use super::model::Blueprint;
use super::network::check_egress;
use super::probes::{Probes, check_probes};
use super::resources::{Resources, check_resources};
use super::scaling::{Autoscale, DisruptionBudget, check_autoscale, check_disruption_budget};
use super::scheduling::{PodManagementPolicy, Scheduling, check_scheduling};
use super::secrets::{check_secret_files, check_secret_refs};
use super::syntax::{Scalar, is_env_name};
use super::validate::MAX_COMPONENT_NAME;
use super::volumes::{ConfigFiles, Storage, check_config, check_mounts};
use crate::error::{ErrorKind, Result};
use crate::pointer::{from_tokens, push};
use crate::sources::Sources;
use crate::suggest;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct App {
    /// The layer this app is deployed in.
    pub layer: String,
    /// Namespace; defaults to its layer's `namespace`, else by `system.namespaces`.
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
    /// Components this app deploys after without reaching them: an order,
    /// never a network path (`uses` is both).
    #[serde(default)]
    pub after: Vec<String>,
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
    /// Node selector, tolerations, priority class, anti-affinity and shutdown
    /// grace period; each key set here replaces the one in `defaults.scheduling`.
    #[serde(default)]
    pub scheduling: Scheduling,
    /// StatefulSet: `OrderedReady` (default) or `Parallel`, which a distributed
    /// store needs when its pods wait for a quorum before they are Ready.
    #[serde(default)]
    pub pod_management_policy: Option<PodManagementPolicy>,
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

/// Checks one app, part by part, in the order its keys are documented.
pub(super) fn check_app(
    c: &Check,
    bp: &Blueprint,
    name: &str,
    app: &App,
    sources: &Sources,
) -> Result<()> {
    let at = from_tokens(["apps", name]);
    let field = |f: &str| push(&at, f);
    c.name_key(&at, name, "component", MAX_COMPONENT_NAME)?;
    if let Some(ns) = &app.namespace {
        c.dns_label(&field("namespace"), ns, "namespace", 63)?;
    }
    check_image(c, &field("image"), &app.image)?;
    check_ports(c, &field("ports"), app)?;
    check_env_names(c, &field("env"), app)?;
    check_secret_refs(c, bp, &field("secrets"), app)?;
    check_secret_files(c, &field("secretFiles"), app)?;
    if let Some(cfg) = &app.config {
        check_config(c, &field("config"), cfg, sources)?;
    }
    if let Some(r) = &app.resources {
        check_resources(c, &field("resources"), r)?;
    }
    check_probes(c, &field("probes"), app)?;
    if let Some(a) = &app.autoscale {
        check_autoscale(c, &field("autoscale"), a)?;
    }
    if let Some(pdb) = &app.disruption_budget {
        check_disruption_budget(c, &field("disruptionBudget"), pdb)?;
    }
    if let Some(ing) = &app.ingress {
        check_ingress(c, &field("ingress"), ing, app)?;
    }
    if let Some(m) = &app.metrics {
        check_metrics(c, &field("metrics"), m, app)?;
    }
    check_rbac(c, &field("rbac"), &app.rbac)?;
    check_egress(c, &field("egress"), &app.egress)?;
    check_mounts(c, &at, app)?;
    check_scheduling(c, &field("scheduling"), &app.scheduling)?;
    check_workload_kind(c, &at, app)?;
    check_pod_management(c, &field("podManagementPolicy"), app)?;
    check_run_as(c, &field("runAs"), &app.run_as)
}

/// Valid port names and numbers, each number named once.
fn check_ports(c: &Check, at: &str, app: &App) -> Result<()> {
    let mut numbers = BTreeMap::new();
    for (port, number) in &app.ports {
        let p = push(at, port);
        c.port(&p, port, *number)?;
        if let Some(other) = numbers.insert(*number, port) {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &p,
                format!("port {number} is also named `{other}`"),
                "each container port number appears once",
            ));
        }
    }
    Ok(())
}

fn check_env_names(c: &Check, at: &str, app: &App) -> Result<()> {
    for key in app.env.keys() {
        if !is_env_name(key) {
            return Err(c.fail_key(
                &push(at, key),
                format!("`{key}` is not a valid environment variable name"),
                "use letters, digits, `_`, `-` and `.`, not starting with a digit",
            ));
        }
    }
    Ok(())
}

fn check_metrics(c: &Check, at: &str, m: &Metrics, app: &App) -> Result<()> {
    check_port_ref(c, &push(at, "port"), &m.port, app)?;
    if !m.path.starts_with('/') {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &push(at, "path"),
            format!("`{}` is not a URL path", m.path),
            "paths start with `/`",
        ));
    }
    if let Some(i) = &m.interval {
        c.duration(&push(at, "interval"), i)?;
    }
    Ok(())
}

fn check_rbac(c: &Check, at: &str, rules: &[RbacRule]) -> Result<()> {
    for (i, rule) in rules.iter().enumerate() {
        if rule.verbs.is_empty() || rule.resources.is_empty() {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push(at, &i.to_string()),
                "an RBAC rule needs `resources` and `verbs`",
                "e.g. `{apiGroups: [\"\"], resources: [configmaps], verbs: [get]}`",
            ));
        }
    }
    Ok(())
}

fn check_pod_management(c: &Check, at: &str, app: &App) -> Result<()> {
    if app.pod_management_policy.is_none() || app.kind == WorkloadKind::StatefulSet {
        return Ok(());
    }
    Err(c.fail(
        ErrorKind::InvalidValue,
        at,
        "`podManagementPolicy` is only for `kind: StatefulSet`",
        "Deployments and Jobs start their pods together already; remove it, or set `kind: StatefulSet`",
    ))
}

fn check_run_as(c: &Check, at: &str, run_as: &RunAs) -> Result<()> {
    if run_as.user == Some(0) || run_as.group == Some(0) {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            at,
            "containers may not run as root (user or group 0)",
            "pick a non-zero user id; the Pod Security `restricted` level refuses root",
        ));
    }
    Ok(())
}

fn check_workload_kind(c: &Check, at: &str, app: &App) -> Result<()> {
    let field = |f: &str| push(at, f);
    match app.kind {
        WorkloadKind::CronJob => {
            let Some(schedule) = &app.schedule else {
                return Err(c.fail(
                    ErrorKind::InvalidValue,
                    &field("kind"),
                    "a CronJob needs a `schedule`",
                    "add e.g. `schedule: \"0 3 * * *\"`",
                ));
            };
            if let Err(why) = crate::cron::parse(schedule) {
                return Err(c.fail(
                    ErrorKind::InvalidValue,
                    &field("schedule"),
                    format!("`{schedule}` is not a cron schedule: {why}"),
                    "use five fields: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12) day-of-week (0-7), or a macro such as `@daily`",
                ));
            }
            for (name, present) in [
                ("ingress", app.ingress.is_some()),
                ("autoscale", app.autoscale.is_some()),
                ("disruptionBudget", app.disruption_budget.is_some()),
                ("metrics", app.metrics.is_some()),
            ] {
                if present {
                    return Err(c.fail(
                        ErrorKind::InvalidValue,
                        &field(name),
                        format!("a CronJob has no `{name}`"),
                        "remove it, or make the app a Deployment",
                    ));
                }
            }
        }
        _ => {
            if app.schedule.is_some() {
                return Err(c.fail(
                    ErrorKind::InvalidValue,
                    &field("schedule"),
                    "`schedule` is only for `kind: CronJob`",
                    "remove it, or set `kind: CronJob`",
                ));
            }
        }
    }
    Ok(())
}

pub(super) fn check_port_ref(c: &Check, at: &str, port: &str, app: &App) -> Result<()> {
    if app.ports.contains_key(port) {
        return Ok(());
    }
    Err(c.fail(
        ErrorKind::UnknownReference,
        at,
        format!("no port is named `{port}`"),
        suggest::help_for(port, "ports", app.ports.keys().map(String::as_str)),
    ))
}

/// The port an ingress or probe uses when it names none: `http`, or the only port.
pub fn default_port(app: &App) -> Option<&str> {
    if app.ports.contains_key("http") {
        return Some("http");
    }
    if app.ports.len() == 1 {
        return app.ports.keys().next().map(String::as_str);
    }
    None
}
