//! Argo CD: an AppProject fenced to the repositories, destinations and
//! cluster-scoped kinds in use, one Application per unit with its sync wave,
//! and the app-of-apps root Application that Argo CD is pointed at.
//!
//! Made for one Argo CD deploying many environments and clusters: every
//! Application and AppProject name carries the environment, and units deploy
//! to the environment's cluster (`gitops.server`, or by cluster name with
//! `gitops.destination: cluster-name`). The root Application lives in
//! `bootstrap/`, which nothing syncs, so it never manages itself, and
//! it carries no cascade finalizer, so deleting it leaves the environment
//! running (README, "The root Application's lifecycle").

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::{
    ENTRY_DIR, UNIT_ANNOTATION, Wiring, engine_namespace, release_name, repo_path, unit_object_name,
};
use crate::blueprint::catalog;
use crate::blueprint::model::{ArgoDestination, Chart, GitOps};
use crate::error::{ErrorKind, Result};
use crate::graph::{Graph, Node, is_chart};
use crate::pointer::Lookup;
use crate::render::extra::is_cluster_scoped;
use crate::render::{EnvManifests, Object, Unit, UnitKind, labels};
use crate::resolve::ResolvedEnv;

const ARGO_API: &str = "argoproj.io/v1alpha1";
const IN_CLUSTER: &str = "https://kubernetes.default.svc";
/// Deleting an Application with this finalizer deletes what it deployed.
const CASCADE_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// Cluster-scoped kinds that platform Helm charts install (their CRDs, RBAC,
/// webhooks, ingress classes); granted to the project only when it has charts.
const CHART_CLUSTER_KINDS: &[(&str, &str)] = &[
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("networking.k8s.io", "IngressClass"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "StorageClass"),
];

/// Argo CD's repoURL for a chart repository: OCI registries go without their scheme.
pub fn chart_repo_url(repo: &str) -> &str {
    repo.strip_prefix("oci://").unwrap_or(repo)
}

pub fn wire(env: &ResolvedEnv, gitops: &GitOps, graph: &Graph, manifests: &EnvManifests) -> Wiring {
    let cx = Context {
        env,
        gitops,
        scope: scope(env),
        destination: destination(env, gitops),
        providers: env
            .components
            .values()
            .flat_map(|c| c.provides.iter().map(String::as_str))
            .collect(),
    };
    let project_meta = cx.metadata(&cx.scope, Some(-1), None);
    let root = vec![app_project(
        env,
        gitops,
        graph,
        manifests,
        &cx.destination,
        project_meta,
    )];
    let mut deployers = Vec::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        let wave = graph.waves[i];
        if let Some(app) = unit_application(&cx, node, &manifests.units[&node.dir], wave) {
            // Shards follow waves: a wave's Applications sync together, and the
            // shards themselves carry the wave, so the order holds across shards.
            deployers.push((format!("wave-{wave:03}"), app));
        }
    }
    Wiring { root, deployers }
}

/// Argo CD before 3.0 tracks resources by the label
/// `app.kubernetes.io/instance: <Application name>`, and a label value has at
/// most 63 characters (Argo CD "Resource Tracking"), so every Application
/// name stays within that. A too-long name is an error at the component (or
/// namespace) whose unit it names, or at the system name.
pub fn check_names(env: &ResolvedEnv, graph: &Graph) -> Result<()> {
    let scope = scope(env);
    for node in &graph.nodes {
        let name = unit_object_name(&scope, &node.dir);
        if name.len() <= MAX_LABEL_VALUE {
            continue;
        }
        let at = env
            .components
            .get(&node.name)
            .filter(|_| node.kind != UnitKind::Namespace)
            .map(|c| c.pointer.clone())
            .unwrap_or_else(|| "/system/name".to_string());
        return Err(env
            .locator
            .error(
                ErrorKind::InvalidValue,
                &at,
                format!(
                    "the Argo CD Application `{name}` has {} characters, more than the {MAX_LABEL_VALUE} of the label Argo CD tracks its resources with",
                    name.len()
                ),
            )
            .with_help("shorten the system, environment, layer or component name"));
    }
    Ok(())
}

/// The longest label value Kubernetes accepts.
const MAX_LABEL_VALUE: usize = 63;

/// What every unit's Application of one environment shares.
struct Context<'a> {
    env: &'a ResolvedEnv,
    gitops: &'a GitOps,
    /// `<system>-<env>`: the project's name and every Application's prefix.
    scope: String,
    /// The environment's cluster, without a namespace.
    destination: Value,
    /// CRD groups some component provides.
    providers: BTreeSet<&'a str>,
}

impl Context<'_> {
    fn metadata(&self, name: &str, wave: Option<i64>, unit: Option<&str>) -> Value {
        let mut annotations = BTreeMap::new();
        if let Some(w) = wave {
            annotations.insert("argocd.argoproj.io/sync-wave".to_string(), w.to_string());
        }
        if let Some(dir) = unit {
            annotations.insert(UNIT_ANNOTATION.to_string(), dir.to_string());
        }
        let common = labels::common(&self.env.blueprint);
        labels::metadata(
            name,
            Some(&engine_namespace(self.gitops)),
            &common,
            &annotations,
        )
    }
}

/// The Application deploying one unit: its chart and/or its directory, to
/// the environment's cluster, in its wave; `None` for a unit with nothing to deploy.
fn unit_application(cx: &Context, node: &Node, unit: &Unit, wave: u32) -> Option<Value> {
    let (env, gitops) = (cx.env, cx.gitops);
    let has_files = !unit.objects.is_empty();
    let git_source = json!({"repoURL": gitops.repo, "targetRevision": gitops.branch, "path": repo_path(gitops, &env.name, &node.dir)});
    let needs_crds = unit
        .objects
        .iter()
        .any(|o| cx.providers.contains(o.id().group()));
    let mut target = cx.destination.clone();
    target["namespace"] = json!(node.namespace);
    let mut spec = json!({"project": cx.scope, "destination": target});
    let mut policy = sync_policy(true, needs_crds || is_chart(node));
    let ignored = ignore_differences(&unit.objects);
    if !ignored.is_empty() {
        // Without it the ignored fields are still overwritten on sync.
        if let Some(options) = policy["syncOptions"].as_array_mut() {
            options.push(json!("RespectIgnoreDifferences=true"));
        }
        spec["ignoreDifferences"] = Value::Array(ignored);
    }
    spec["syncPolicy"] = policy;
    let mut metadata = cx.metadata(
        &unit_object_name(&cx.scope, &node.dir),
        Some(i64::from(wave)),
        Some(&node.dir),
    );
    if is_chart(node) {
        let chart = &env.blueprint.charts[&node.name];
        let values = crate::render::scheduling::chart_values(env, &node.name, chart);
        let chart_source = chart_source(&node.name, chart, values);
        if has_files {
            spec["sources"] = json!([chart_source, git_source]);
        } else {
            spec["source"] = chart_source;
        }
        // Charts' webhooks and defaulting change what they install; a diff
        // computed by the API server (a server-side apply dry run) shows
        // only real drift (Argo CD "Diff Strategies").
        metadata["annotations"]["argocd.argoproj.io/compare-options"] =
            json!("ServerSideDiff=true");
    } else if has_files {
        spec["source"] = git_source;
    } else {
        return None;
    }
    // Removing a unit from the blueprint removes what it deployed.
    metadata["finalizers"] = json!([CASCADE_FINALIZER]);
    Some(json!({"apiVersion": ARGO_API, "kind": "Application", "metadata": metadata, "spec": spec}))
}

/// A chart as an Application source, its values inline.
fn chart_source(name: &str, chart: &Chart, values: Value) -> Value {
    let mut helm = json!({"releaseName": release_name(name, chart)});
    if values.as_object().is_some_and(|v| !v.is_empty()) {
        helm["valuesObject"] = values;
    }
    json!({
        "repoURL": chart_repo_url(&chart.repo),
        "chart": chart.chart,
        "targetRevision": chart.version.0,
        "helm": helm,
    })
}

/// The root Application of the environment: syncs `gitops/` (the project,
/// the units' Applications or the shards) into Argo CD's own namespace. It
/// lives in `bootstrap/`, outside what it syncs, and carries no
/// cascade finalizer: deleting or renaming it never deletes the environment.
pub fn bootstrap(env: &ResolvedEnv, gitops: &GitOps) -> Value {
    let bp = &env.blueprint;
    let ns = engine_namespace(gitops);
    json!({
        "apiVersion": ARGO_API,
        "kind": "Application",
        "metadata": labels::metadata(&scope(env), Some(&ns), &labels::common(bp), &BTreeMap::new()),
        "spec": {
            "project": "default",
            "source": {"repoURL": gitops.repo, "targetRevision": gitops.branch, "path": repo_path(gitops, &env.name, ENTRY_DIR)},
            "destination": {"server": IN_CLUSTER, "namespace": ns},
            "syncPolicy": sync_policy(false, false),
        },
    })
}

/// `<system>-<env>`: the prefix of every Argo CD object name of the
/// environment, so environments sharing one Argo CD never collide.
pub fn scope(env: &ResolvedEnv) -> String {
    format!("{}-{}", env.blueprint.system.name, env.name)
}

/// Where the environment's units deploy: `gitops.server`, else Argo CD's own
/// cluster or the cluster registered under the environment's cluster name.
fn destination(env: &ResolvedEnv, gitops: &GitOps) -> Value {
    match (&gitops.server, gitops.destination) {
        (Some(server), _) => json!({"server": server}),
        (None, ArgoDestination::InCluster) => json!({"server": IN_CLUSTER}),
        (None, ArgoDestination::ClusterName) => json!({"name": env.settings.cluster}),
    }
}

/// An Application syncing one shard of the entry point: the Applications of `dir`, in their wave.
pub fn shard(env: &ResolvedEnv, gitops: &GitOps, dir: &str, key: &str) -> Value {
    let bp = &env.blueprint;
    let wave = key
        .strip_prefix("wave-")
        .and_then(|w| w.parse::<i64>().ok())
        .unwrap_or(0);
    let annotations =
        BTreeMap::from([("argocd.argoproj.io/sync-wave".to_string(), wave.to_string())]);
    let mut metadata = labels::metadata(
        &unit_object_name(&scope(env), dir),
        Some(&engine_namespace(gitops)),
        &labels::common(bp),
        &annotations,
    );
    metadata["finalizers"] = json!([CASCADE_FINALIZER]);
    json!({
        "apiVersion": ARGO_API,
        "kind": "Application",
        "metadata": metadata,
        "spec": {
            "project": "default",
            "source": {"repoURL": gitops.repo, "targetRevision": gitops.branch, "path": repo_path(gitops, &env.name, dir)},
            "destination": {"server": IN_CLUSTER, "namespace": engine_namespace(gitops)},
            "syncPolicy": sync_policy(false, false),
        },
    })
}

/// Fields that controllers own, not Git: the replicas an autoscaler sets on
/// its target, and the data of Secrets an operator writes from a custom
/// resource (External Secrets' target, CloudNativePG's app and CA secrets,
/// cert-manager's certificate secret). Self-healing must leave them alone
/// (Argo CD "Diffing Customization", RespectIgnoreDifferences).
fn ignore_differences(objects: &[Object]) -> Vec<Value> {
    let mut out = Vec::new();
    for object in objects {
        let id = object.id();
        let v = &object.value;
        let text = |p: &str| v.at(p).and_then(Value::as_str).map(str::to_string);
        let secret = |name: String| json!({"group": "", "kind": "Secret", "name": name, "jsonPointers": ["/data"]});
        match (id.group(), id.kind.as_str()) {
            ("autoscaling", "HorizontalPodAutoscaler") => {
                let (Some(kind), Some(name)) = (
                    text("/spec/scaleTargetRef/kind"),
                    text("/spec/scaleTargetRef/name"),
                ) else {
                    continue;
                };
                let group = text("/spec/scaleTargetRef/apiVersion")
                    .and_then(|a| a.split_once('/').map(|(g, _)| g.to_string()))
                    .unwrap_or_default();
                out.push(json!({"group": group, "kind": kind, "name": name, "jsonPointers": ["/spec/replicas"]}));
            }
            ("external-secrets.io", "ExternalSecret") => {
                out.push(secret(text("/spec/target/name").unwrap_or(id.name.clone())));
            }
            ("postgresql.cnpg.io", "Cluster") => {
                out.push(secret(format!("{}-app", id.name)));
                out.push(secret(format!("{}-ca", id.name)));
            }
            ("cert-manager.io", "Certificate") => {
                if let Some(name) = text("/spec/secretName") {
                    out.push(secret(name));
                }
            }
            _ => {}
        }
    }
    out
}

/// Every Application applies server-side: CRDs such as Prometheus
/// Operator's exceed the 256 KiB `last-applied-configuration` annotation of
/// client-side apply (argo-cd#8128; Argo CD "Sync Options", Server-Side
/// Apply), and field ownership keeps other controllers' fields intact.
fn sync_policy(create_namespace: bool, skip_dry_run: bool) -> Value {
    let mut options = Vec::new();
    if create_namespace {
        options.push("CreateNamespace=true");
    }
    options.push("PruneLast=true");
    options.push("ServerSideApply=true");
    if skip_dry_run {
        options.push("SkipDryRunOnMissingResource=true");
    }
    json!({
        "automated": {"prune": true, "selfHeal": true},
        "syncOptions": options,
        // Without limit (below 0): a spent retry budget leaves a failed
        // automated sync for the next commit, and a unit waiting for an
        // earlier wave's CRDs must keep trying until they are served.
        "retry": {"limit": -1, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}},
    })
}

fn app_project(
    env: &ResolvedEnv,
    gitops: &GitOps,
    graph: &Graph,
    manifests: &EnvManifests,
    destination: &Value,
    metadata: Value,
) -> Value {
    let bp = &env.blueprint;
    let mut repos: BTreeSet<String> = BTreeSet::from([gitops.repo.clone()]);
    repos.extend(
        bp.charts
            .values()
            .map(|c| chart_repo_url(&c.repo).to_string()),
    );
    // Charts install into namespaces besides their own (kube-prometheus-stack
    // puts Services in kube-system); Argo CD refuses any resource whose
    // namespace the project does not allow.
    let mut namespaces: BTreeSet<String> =
        graph.nodes.iter().map(|n| n.namespace.clone()).collect();
    for node in graph.nodes.iter().filter(|n| is_chart(n)) {
        namespaces.extend(catalog::extra_namespaces(&bp.charts[&node.name]));
    }
    let destinations: Vec<Value> = namespaces
        .iter()
        .map(|ns| {
            let mut d = destination.clone();
            d["namespace"] = json!(ns);
            d
        })
        .collect();
    let mut cluster_kinds: BTreeSet<(String, String)> =
        BTreeSet::from([(String::new(), "Namespace".to_string())]);
    for object in manifests.objects() {
        let id = object.id();
        if is_cluster_scoped(&id.kind) {
            cluster_kinds.insert((id.group().to_string(), id.kind.clone()));
        }
    }
    if !bp.charts.is_empty() {
        cluster_kinds.extend(
            CHART_CLUSTER_KINDS
                .iter()
                .map(|(g, k)| (g.to_string(), k.to_string())),
        );
    }
    let whitelist: Vec<Value> = cluster_kinds
        .iter()
        .map(|(g, k)| json!({"group": g, "kind": k}))
        .collect();
    json!({
        "apiVersion": ARGO_API,
        "kind": "AppProject",
        "metadata": metadata,
        "spec": {
            "description": format!("{} in {}", bp.system.name, env.name),
            "sourceRepos": repos,
            "destinations": destinations,
            "clusterResourceWhitelist": whitelist,
        },
    })
}
