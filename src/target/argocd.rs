//! Argo CD: an AppProject fenced to the repositories, destinations and
//! cluster-scoped kinds in use, one Application per unit with its sync wave,
//! and the app-of-apps root Application that Argo CD is pointed at.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::{
    ENTRY_DIR, UNIT_ANNOTATION, Wiring, engine_namespace, release_name, repo_path, unit_object_name,
};
use crate::blueprint::model::GitOps;
use crate::graph::{Graph, is_chart};
use crate::render::extra::is_cluster_scoped;
use crate::render::{EnvManifests, labels};
use crate::resolve::ResolvedEnv;

const ARGO_API: &str = "argoproj.io/v1alpha1";
const IN_CLUSTER: &str = "https://kubernetes.default.svc";

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
    let bp = &env.blueprint;
    let system = &bp.system.name;
    let ns = engine_namespace(gitops);
    let server = gitops
        .server
        .clone()
        .unwrap_or_else(|| IN_CLUSTER.to_string());
    let common = labels::common(bp);
    let meta = |name: &str, wave: Option<i64>, unit: Option<&str>| {
        let mut annotations = BTreeMap::new();
        if let Some(w) = wave {
            annotations.insert("argocd.argoproj.io/sync-wave".to_string(), w.to_string());
        }
        if let Some(dir) = unit {
            annotations.insert(UNIT_ANNOTATION.to_string(), dir.to_string());
        }
        labels::metadata(name, Some(&ns), &common, &annotations)
    };
    let providers: BTreeSet<&str> = env
        .components
        .values()
        .flat_map(|c| c.provides.iter().map(String::as_str))
        .collect();
    let mut root = vec![app_project(
        env,
        gitops,
        graph,
        manifests,
        &server,
        meta(system, Some(-1), None),
    )];
    let mut root_meta = meta(system, None, None);
    root_meta["finalizers"] = json!(["resources-finalizer.argocd.argoproj.io"]);
    root.push(json!({
        "apiVersion": ARGO_API,
        "kind": "Application",
        "metadata": root_meta,
        "spec": {
            "project": "default",
            "source": {"repoURL": gitops.repo, "targetRevision": gitops.branch, "path": repo_path(gitops, &env.name, ENTRY_DIR)},
            "destination": {"server": IN_CLUSTER, "namespace": ns},
            "syncPolicy": sync_policy(false, false),
        },
    }));
    let mut deployers = Vec::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        let unit = &manifests.units[&node.dir];
        let has_files = !unit.objects.is_empty();
        let git_source = json!({"repoURL": gitops.repo, "targetRevision": gitops.branch, "path": repo_path(gitops, &env.name, &node.dir)});
        let needs_crds = unit
            .objects
            .iter()
            .any(|o| providers.contains(o.id().group()));
        let mut spec = json!({
            "project": system,
            "destination": {"server": server, "namespace": node.namespace},
            "syncPolicy": sync_policy(true, needs_crds || is_chart(node)),
        });
        if is_chart(node) {
            let chart = &bp.charts[&node.name];
            let mut helm = json!({"releaseName": release_name(&node.name, chart)});
            if chart.values.as_object().is_some_and(|v| !v.is_empty()) {
                helm["valuesObject"] = chart.values.clone();
            }
            let chart_source = json!({
                "repoURL": chart_repo_url(&chart.repo),
                "chart": chart.chart,
                "targetRevision": chart.version.0,
                "helm": helm,
            });
            if has_files {
                spec["sources"] = json!([chart_source, git_source]);
            } else {
                spec["source"] = chart_source;
            }
        } else if has_files {
            spec["source"] = git_source;
        } else {
            continue;
        }
        let mut metadata = meta(
            &unit_object_name(system, &node.dir),
            Some(i64::from(graph.waves[i])),
            Some(&node.dir),
        );
        metadata["finalizers"] = json!(["resources-finalizer.argocd.argoproj.io"]);
        // Shards follow waves: a wave's Applications sync together, and the
        // shards themselves carry the wave, so the order holds across shards.
        deployers.push((
            format!("wave-{:03}", graph.waves[i]),
            json!({"apiVersion": ARGO_API, "kind": "Application", "metadata": metadata, "spec": spec}),
        ));
    }
    Wiring { root, deployers }
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
        &unit_object_name(&bp.system.name, dir),
        Some(&engine_namespace(gitops)),
        &labels::common(bp),
        &annotations,
    );
    metadata["finalizers"] = json!(["resources-finalizer.argocd.argoproj.io"]);
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

fn sync_policy(create_namespace: bool, skip_dry_run: bool) -> Value {
    let mut options = Vec::new();
    if create_namespace {
        options.push("CreateNamespace=true");
    }
    options.push("PruneLast=true");
    if skip_dry_run {
        options.push("SkipDryRunOnMissingResource=true");
    }
    json!({
        "automated": {"prune": true, "selfHeal": true},
        "syncOptions": options,
        "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}},
    })
}

fn app_project(
    env: &ResolvedEnv,
    gitops: &GitOps,
    graph: &Graph,
    manifests: &EnvManifests,
    server: &str,
    metadata: Value,
) -> Value {
    let bp = &env.blueprint;
    let mut repos: BTreeSet<String> = BTreeSet::from([gitops.repo.clone()]);
    repos.extend(
        bp.charts
            .values()
            .map(|c| chart_repo_url(&c.repo).to_string()),
    );
    let namespaces: BTreeSet<&str> = graph.nodes.iter().map(|n| n.namespace.as_str()).collect();
    let destinations: Vec<Value> = namespaces
        .iter()
        .map(|ns| json!({"server": server, "namespace": ns}))
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
