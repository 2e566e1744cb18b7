//! Namespace units: the Namespace with its Pod Security labels, quota, limit
//! defaults, and the network policies that concern the whole namespace.
//!
//! Namespaces holding a Helm chart are platform namespaces: charts bring their
//! own needs (webhooks, host ports, big pods), so the environment's quota and
//! limits reach them only through `namespaces.<name>` settings. Its network
//! posture reaches them as it reaches every namespace: a chart declares its
//! `ports`, `uses` and `peers` like an app. Their Pod Security level is the
//! one their charts' pods need (the chart's `podSecurity`, else the
//! catalog's), unless `namespaces.<name>` sets one; a setting stricter than a
//! chart needs is an error.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::labels;
use super::object::Object;
use crate::blueprint::catalog;
use crate::blueprint::model::{NetworkPosture, PodSecurityLevel, Quota, Resources};
use crate::error::{ErrorKind, Result};
use crate::pointer::from_tokens;
use crate::resolve::{ComponentKind, ResolvedEnv};

/// What one namespace renders to.
pub struct NamespacePlan<'a> {
    pub name: &'a str,
    pub posture: NetworkPosture,
    pub quota: Option<&'a Quota>,
    pub limits: Option<&'a Resources>,
    pub pod_security: PodSecurityLevel,
    pub labels: BTreeMap<String, String>,
    /// The service mesh the namespace's pods join.
    pub mesh: Option<crate::resolve::mesh::ResolvedMesh>,
}

/// How permissive a level is: a namespace must allow what its least
/// restricted pod needs.
fn permissiveness(level: PodSecurityLevel) -> u8 {
    match level {
        PodSecurityLevel::Restricted => 0,
        PodSecurityLevel::Baseline => 1,
        PodSecurityLevel::Privileged => 2,
    }
}

/// The charts in namespace `ns` and the level each one's pods need.
fn chart_levels<'a>(env: &'a ResolvedEnv, ns: &str) -> Vec<(&'a str, PodSecurityLevel)> {
    env.components
        .values()
        .filter(|c| c.kind == ComponentKind::Chart && c.namespace == ns)
        .filter_map(|c| {
            let chart = env.blueprint.charts.get(&c.name)?;
            Some((c.name.as_str(), catalog::pod_security(chart)))
        })
        .collect()
}

/// The Pod Security level of namespace `ns`: its `namespaces.<ns>.podSecurity`
/// if set, else the least strict level any of its charts needs (Kubernetes
/// admission rejects a pod its namespace's level forbids), else `restricted`,
/// which every app gitopsc renders passes.
fn pod_security_level(env: &ResolvedEnv, ns: &str) -> PodSecurityLevel {
    let declared = env
        .blueprint
        .namespaces
        .get(ns)
        .and_then(|s| s.pod_security);
    declared.unwrap_or_else(|| {
        chart_levels(env, ns)
            .into_iter()
            .map(|(_, level)| level)
            .max_by_key(|l| permissiveness(*l))
            .unwrap_or(PodSecurityLevel::Restricted)
    })
}

/// A namespace declared stricter than a chart in it needs is an error at the
/// declaration: its pods would be refused at admission.
pub fn check_pod_security(env: &ResolvedEnv) -> Result<()> {
    for (ns, settings) in &env.blueprint.namespaces {
        let Some(declared) = settings.pod_security else {
            continue;
        };
        for (chart, needs) in chart_levels(env, ns) {
            if permissiveness(needs) > permissiveness(declared) {
                return Err(env
                    .locator
                    .error(
                        ErrorKind::InvalidValue,
                        &from_tokens(["namespaces", ns, "podSecurity"]),
                        format!(
                            "namespace `{ns}` enforces Pod Security `{}`, but the pods of chart `{chart}` need `{}`",
                            declared.name(),
                            needs.name()
                        ),
                    )
                    .with_help(format!(
                        "set `podSecurity: {}` here, move the chart to another namespace, or, if its values make its pods pass `{}`, say so with `podSecurity: {}` on the chart",
                        needs.name(),
                        declared.name(),
                        declared.name()
                    )));
            }
        }
    }
    Ok(())
}

/// Every namespace some component lives in, with its effective settings;
/// system namespaces are never planned: the cluster owns them.
pub fn plans(env: &ResolvedEnv) -> Vec<NamespacePlan<'_>> {
    let system = env.blueprint.system_namespaces();
    let mut names: BTreeMap<&str, bool> = BTreeMap::new();
    for c in env.components.values() {
        if system.contains(&c.namespace) {
            continue;
        }
        let has_chart = names.entry(c.namespace.as_str()).or_insert(false);
        *has_chart |= c.kind == ComponentKind::Chart;
    }
    names
        .into_iter()
        .map(|(name, has_chart)| {
            let settings = env.blueprint.namespaces.get(name);
            NamespacePlan {
                name,
                posture: crate::resolve::network::posture(&env.blueprint, &env.settings, name),
                quota: settings.and_then(|s| s.quota.as_ref()).or(if has_chart {
                    None
                } else {
                    env.settings.quota.as_ref()
                }),
                limits: if has_chart {
                    None
                } else {
                    env.settings.container_defaults.as_ref()
                },
                pod_security: pod_security_level(env, name),
                labels: settings.map(|s| s.labels.clone()).unwrap_or_default(),
                mesh: crate::resolve::mesh::namespace_mesh(env, name, has_chart),
            }
        })
        .collect()
}

pub fn render_namespace(env: &ResolvedEnv, plan: &NamespacePlan) -> Result<Vec<Object>> {
    let bp = &env.blueprint;
    let common = labels::common(bp);
    let mut objects = Vec::new();
    let mut ns_labels = common.clone();
    ns_labels.extend(plan.labels.clone());
    let (mesh_labels, ns_annotations) = match &plan.mesh {
        Some(mesh) => super::mesh::namespace_metadata(mesh),
        None => Default::default(),
    };
    ns_labels.extend(mesh_labels);
    for mode in ["enforce", "audit", "warn"] {
        ns_labels.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            plan.pod_security.name().to_string(),
        );
        ns_labels.insert(
            format!("pod-security.kubernetes.io/{mode}-version"),
            "latest".to_string(),
        );
    }
    objects.push(json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": labels::metadata(plan.name, None, &ns_labels, &ns_annotations),
    }));
    let meta = |name: &str| labels::metadata(name, Some(plan.name), &common, &BTreeMap::new());
    if let Some(q) = plan.quota {
        let hard = quota_hard(q);
        if !hard.as_object().is_some_and(|m| m.is_empty()) {
            objects.push(json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta("quota"), "spec": {"hard": hard}}));
        }
    }
    if let Some(limits) = plan.limits {
        objects.push(json!({
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": meta("container-defaults"),
            "spec": {"limits": [limit_range_item(limits)]},
        }));
    }
    let policies = super::network::namespace_policies(plan.posture);
    for (name, spec) in policies {
        objects.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(&name), "spec": spec}));
    }
    Ok(objects.into_iter().map(Object::new).collect())
}

fn quota_hard(q: &Quota) -> Value {
    let mut hard = serde_json::Map::new();
    for (resource, rl) in [("cpu", &q.cpu), ("memory", &q.memory)] {
        if let Some(rl) = rl {
            if let Some(r) = &rl.requests {
                hard.insert(format!("requests.{resource}"), json!(r.0));
            }
            if let Some(l) = &rl.limits {
                hard.insert(format!("limits.{resource}"), json!(l.0));
            }
        }
    }
    if let Some(p) = q.pods {
        hard.insert("pods".into(), json!(p.to_string()));
    }
    if let Some(s) = &q.storage {
        hard.insert("requests.storage".into(), json!(s));
    }
    Value::Object(hard)
}

fn limit_range_item(r: &Resources) -> Value {
    let mut item = json!({"type": "Container"});
    let part = |cm: &crate::blueprint::model::CpuMemory| {
        let mut m = serde_json::Map::new();
        if let Some(c) = &cm.cpu {
            m.insert("cpu".into(), json!(c.0));
        }
        if let Some(mem) = &cm.memory {
            m.insert("memory".into(), json!(mem.0));
        }
        Value::Object(m)
    };
    if let Some(l) = &r.limits {
        item["default"] = part(l);
    }
    if let Some(req) = &r.requests {
        item["defaultRequest"] = part(req);
    }
    item
}
