//! Flux: a GitRepository, one Kustomization per unit (ordered by `dependsOn`),
//! a HelmRelease per chart with its source (a HelmRepository, or an
//! OCIRepository for OCI charts) and drift correction, and the self-managing
//! root Kustomization that `flux` is pointed at.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde_json::{Value, json};

use super::{
    ENTRY_DIR, UNIT_ANNOTATION, Wiring, engine_namespace, interval, release_name, repo_path,
    unit_object_name,
};
use crate::blueprint::model::GitOps;
use crate::graph::{Graph, is_chart};
use crate::render::{EnvManifests, Object, UnitKind, labels};
use crate::resolve::{ComponentKind, ResolvedEnv};

const KUSTOMIZE_API: &str = "kustomize.toolkit.fluxcd.io/v1";
const SOURCE_API: &str = "source.toolkit.fluxcd.io/v1";
const HELM_API: &str = "helm.toolkit.fluxcd.io/v2";
/// The OCI layer media type of a Helm chart's content.
const HELM_CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

pub fn wire(
    env: &ResolvedEnv,
    gitops: &GitOps,
    graph: &Graph,
    manifests: &mut EnvManifests,
) -> Wiring {
    let bp = &env.blueprint;
    let system = &bp.system.name;
    let ns = engine_namespace(gitops);
    let common = labels::common(bp);
    let meta = |name: &str| labels::metadata(name, Some(&ns), &common, &BTreeMap::new());
    add_helm_objects(env, gitops, graph, manifests);
    let mut git = json!({
        "interval": interval(env, gitops, "source"),
        "url": gitops.repo,
        "ref": {"branch": gitops.branch},
    });
    if let Some(secret) = &gitops.secret_ref {
        git["secretRef"] = json!({"name": secret});
    }
    let source_ref = json!({"kind": "GitRepository", "name": system});
    let root = vec![
        json!({"apiVersion": SOURCE_API, "kind": "GitRepository", "metadata": meta(system), "spec": git}),
        json!({
            "apiVersion": KUSTOMIZE_API,
            "kind": "Kustomization",
            "metadata": meta(system),
            "spec": {
                "interval": interval(env, gitops, bp.layer_names().next().unwrap_or("source")),
                "path": format!("./{}", repo_path(gitops, &env.name, ENTRY_DIR)),
                "prune": true,
                "sourceRef": source_ref,
                "timeout": "2m",
            },
        }),
    ];
    // One deployer per unit, each read from the graph and the units alone: in parallel, in node order.
    let manifests = &*manifests;
    let deployer = |(i, node): (usize, &crate::graph::Node)| {
        if manifests.units[&node.dir].objects.is_empty() {
            return None;
        }
        let layer_interval = match &node.layer {
            Some(layer) => interval(env, gitops, layer),
            None => interval(env, gitops, bp.layer_names().next().unwrap_or("source")),
        };
        let mut spec = json!({
            "interval": layer_interval,
            "retryInterval": "1m",
            "path": format!("./{}", repo_path(gitops, &env.name, &node.dir)),
            "prune": true,
            "wait": true,
            "timeout": unit_timeout(env, node),
            "sourceRef": source_ref,
        });
        if node.kind == UnitKind::Component(ComponentKind::App) {
            spec["targetNamespace"] = json!(node.namespace);
        }
        let depends: Vec<Value> = graph.depends_on[i]
            .iter()
            .filter(|&&j| !manifests.units[&graph.nodes[j].dir].objects.is_empty())
            .map(|&j| json!({"name": unit_object_name(system, &graph.nodes[j].dir)}))
            .collect();
        if !depends.is_empty() {
            spec["dependsOn"] = Value::Array(depends);
        }
        let unit_annotation = BTreeMap::from([(UNIT_ANNOTATION.to_string(), node.dir.clone())]);
        let shard = node
            .layer
            .clone()
            .unwrap_or_else(|| "namespaces".to_string());
        Some((
            shard,
            json!({
                "apiVersion": KUSTOMIZE_API,
                "kind": "Kustomization",
                "metadata": labels::metadata(&unit_object_name(system, &node.dir), Some(&ns), &common, &unit_annotation),
                "spec": spec,
            }),
        ))
    };
    let deployers = graph
        .nodes
        .par_iter()
        .enumerate()
        .filter_map(deployer)
        .collect();
    Wiring { root, deployers }
}

/// A Kustomization applying one shard of the entry point: the unit Kustomizations of `dir`.
pub fn shard(env: &ResolvedEnv, gitops: &GitOps, dir: &str) -> Value {
    let bp = &env.blueprint;
    let ns = engine_namespace(gitops);
    json!({
        "apiVersion": KUSTOMIZE_API,
        "kind": "Kustomization",
        "metadata": labels::metadata(&unit_object_name(&bp.system.name, dir), Some(&ns), &labels::common(bp), &BTreeMap::new()),
        "spec": {
            "interval": interval(env, gitops, "source"),
            "path": format!("./{}", repo_path(gitops, &env.name, dir)),
            "prune": true,
            // The units it applies wait for themselves; the shard only delivers them.
            "wait": false,
            "timeout": "2m",
            "sourceRef": {"kind": "GitRepository", "name": bp.system.name},
        },
    })
}

fn unit_timeout(env: &ResolvedEnv, node: &crate::graph::Node) -> String {
    if is_chart(node) {
        return env.blueprint.charts[&node.name]
            .timeout
            .clone()
            .unwrap_or_else(|| "10m".into());
    }
    "5m".into()
}

/// A HelmRepository and HelmRelease in each chart's unit.
fn add_helm_objects(
    env: &ResolvedEnv,
    gitops: &GitOps,
    graph: &Graph,
    manifests: &mut EnvManifests,
) {
    let bp = &env.blueprint;
    let helm_interval = interval(env, gitops, "helm");
    for (i, node) in graph.nodes.iter().enumerate() {
        if !is_chart(node) {
            continue;
        }
        let chart = &bp.charts[&node.name];
        let common = labels::common(bp);
        let meta = labels::metadata(&node.name, Some(&node.namespace), &common, &BTreeMap::new());
        let (source, chart_ref) = chart_source(node, chart, &helm_interval, meta.clone());
        let remediation = json!({"retries": 3});
        let mut spec = json!({
            "interval": helm_interval,
            "releaseName": release_name(&node.name, chart),
            "install": {"crds": "CreateReplace", "remediation": remediation},
            "upgrade": {"crds": "CreateReplace", "cleanupOnFail": true, "remediation": {"retries": 3, "remediateLastFailure": true}},
            "timeout": chart.timeout.clone().unwrap_or_else(|| "10m".into()),
            // Changes made in the cluster behind Helm's back are reverted,
            // not only noticed on the next upgrade (Flux HelmRelease docs,
            // "Drift detection").
            "driftDetection": {"mode": "enabled"},
        });
        match chart_ref {
            ChartRef::Template(template) => spec["chart"] = template,
            ChartRef::Artifact(reference) => spec["chartRef"] = reference,
        }
        let values = crate::render::scheduling::chart_values(env, &node.name, chart);
        if values.as_object().is_some_and(|v| !v.is_empty()) {
            spec["values"] = values;
        }
        let depends: Vec<Value> = graph
            .reduced_among(i, is_chart)
            .into_iter()
            .map(|j| json!({"name": graph.nodes[j].name, "namespace": graph.nodes[j].namespace}))
            .collect();
        if !depends.is_empty() {
            spec["dependsOn"] = Value::Array(depends);
        }
        let unit = manifests
            .units
            .get_mut(&node.dir)
            .expect("chart unit exists");
        unit.objects.push(Object::new(source));
        unit.objects.push(Object::new(
            json!({"apiVersion": HELM_API, "kind": "HelmRelease", "metadata": meta, "spec": spec}),
        ));
        unit.sort();
    }
}

/// How a HelmRelease names its chart.
enum ChartRef {
    /// `spec.chart`: a chart template resolved from a HelmRepository.
    Template(Value),
    /// `spec.chartRef`: the chart artifact of an OCIRepository.
    Artifact(Value),
}

/// The chart's source object and the HelmRelease's reference to it. OCI
/// charts come from an OCIRepository pinned to the chart version by tag:
/// Flux recommends it over a HelmRepository of `type: oci`, which gets no
/// new features (Flux HelmRelease docs, "Chart reference"; OCIRepository docs,
/// "Layer selector" for Helm chart media types).
fn chart_source(
    node: &crate::graph::Node,
    chart: &crate::blueprint::model::Chart,
    interval: &str,
    meta: Value,
) -> (Value, ChartRef) {
    if let Some(registry) = chart.repo.strip_prefix("oci://") {
        let url = format!("oci://{}/{}", registry.trim_end_matches('/'), chart.chart);
        let source = json!({
            "apiVersion": SOURCE_API,
            "kind": "OCIRepository",
            "metadata": meta,
            "spec": {
                "interval": interval,
                "url": url,
                "ref": {"tag": chart.version.0},
                "layerSelector": {"mediaType": HELM_CHART_LAYER, "operation": "copy"},
            },
        });
        let reference =
            json!({"kind": "OCIRepository", "name": node.name, "namespace": node.namespace});
        return (source, ChartRef::Artifact(reference));
    }
    let source = json!({
        "apiVersion": SOURCE_API,
        "kind": "HelmRepository",
        "metadata": meta,
        "spec": {"interval": interval, "url": chart.repo},
    });
    let template = json!({"spec": {
        "chart": chart.chart,
        "version": chart.version.0,
        "sourceRef": {"kind": "HelmRepository", "name": node.name, "namespace": node.namespace},
        "interval": interval,
    }});
    (source, ChartRef::Template(template))
}
