//! Namespace units: the Namespace with its Pod Security labels, quota, limit
//! defaults, and the network policies that follow from the posture and the
//! `uses` graph.
//!
//! Namespaces holding a Helm chart are platform namespaces: charts bring their
//! own needs (webhooks, host ports, big pods), so the environment's posture,
//! quota and limits reach them only through `namespaces.<name>` settings.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::Platform;
use super::labels;
use super::object::Object;
use crate::blueprint::model::{NetworkPosture, PodSecurityLevel, Quota, Resources, WorkloadKind};
use crate::error::{ErrorKind, Result};
use crate::resolve::{Component, ComponentKind, ResolvedEnv};

/// What one namespace renders to.
pub struct NamespacePlan<'a> {
    pub name: &'a str,
    pub posture: NetworkPosture,
    pub quota: Option<&'a Quota>,
    pub limits: Option<&'a Resources>,
    pub pod_security: PodSecurityLevel,
    pub labels: BTreeMap<String, String>,
}

/// Every namespace some component lives in, with its effective settings.
pub fn plans(env: &ResolvedEnv) -> Vec<NamespacePlan<'_>> {
    let mut names: BTreeMap<&str, bool> = BTreeMap::new();
    for c in env.components.values() {
        let has_chart = names.entry(c.namespace.as_str()).or_insert(false);
        *has_chart |= c.kind == ComponentKind::Chart;
    }
    names
        .into_iter()
        .map(|(name, has_chart)| {
            let settings = env.blueprint.namespaces.get(name);
            let platform = has_chart;
            NamespacePlan {
                name,
                posture: settings.and_then(|s| s.network).unwrap_or(if platform {
                    NetworkPosture::Permissive
                } else {
                    env.settings.network
                }),
                quota: settings.and_then(|s| s.quota.as_ref()).or(if platform {
                    None
                } else {
                    env.settings.quota.as_ref()
                }),
                limits: if platform {
                    None
                } else {
                    env.settings.container_defaults.as_ref()
                },
                pod_security: settings
                    .and_then(|s| s.pod_security)
                    .unwrap_or(PodSecurityLevel::Restricted),
                labels: settings.map(|s| s.labels.clone()).unwrap_or_default(),
            }
        })
        .collect()
}

pub fn render_namespace(
    env: &ResolvedEnv,
    plan: &NamespacePlan,
    platform: &Platform,
) -> Result<Vec<Object>> {
    let bp = &env.blueprint;
    let common = labels::common(bp);
    let mut objects = Vec::new();
    let mut ns_labels = common.clone();
    ns_labels.extend(plan.labels.clone());
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
        "metadata": labels::metadata(plan.name, None, &ns_labels, &BTreeMap::new()),
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
    let policies = match plan.posture {
        NetworkPosture::Permissive => Vec::new(),
        NetworkPosture::NamespaceIsolated => isolated_policies(env, plan, platform)?,
        NetworkPosture::DefaultDeny => default_deny_policies(env, plan, platform)?,
    };
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

fn namespace_selector(ns: &str) -> Value {
    json!({"matchLabels": {"kubernetes.io/metadata.name": ns}})
}

fn selector_value(c: &Component) -> Value {
    json!({"matchLabels": labels::to_value(&c.selector)})
}

/// A `uses` edge resolved to the ports it opens.
struct Edge<'a> {
    from: &'a Component,
    to: &'a Component,
    ports: Vec<u32>,
    pointer: &'a str,
}

fn edges(env: &ResolvedEnv) -> Vec<Edge<'_>> {
    let mut out = Vec::new();
    for from in env.components.values() {
        for u in &from.uses {
            let Some(to) = env.components.get(&u.target) else {
                continue;
            };
            let ports = match &u.port {
                Some(p) => to.ports.get(p).copied().into_iter().collect(),
                None => to
                    .ports
                    .values()
                    .copied()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            };
            out.push(Edge {
                from,
                to,
                ports,
                pointer: &u.pointer,
            });
        }
    }
    out
}

fn port_list(ports: &[u32]) -> Option<Value> {
    if ports.is_empty() {
        return None;
    }
    Some(Value::Array(
        ports
            .iter()
            .map(|p| json!({"port": p, "protocol": "TCP"}))
            .collect(),
    ))
}

fn require_selector(env: &ResolvedEnv, c: &Component, edge_pointer: &str) -> Result<()> {
    if c.selector.is_empty() {
        return Err(env
            .locator
            .error(
                ErrorKind::InvalidValue,
                edge_pointer,
                format!(
                    "cannot write a network policy for `{}`: it declares no pod `selector`",
                    c.name
                ),
            )
            .with_help(format!(
                "add `selector:` (the labels of its pods) to `{}`",
                c.name
            )));
    }
    Ok(())
}

fn ingress_rule(from: Value, ports: &[u32]) -> Value {
    let mut rule = json!({"from": [from]});
    if let Some(p) = port_list(ports) {
        rule["ports"] = p;
    }
    rule
}

fn peer(ns: &str, selector: Value) -> Value {
    json!({"namespaceSelector": namespace_selector(ns), "podSelector": selector})
}

/// Allows from the ingress controller and the monitoring stack into this namespace's apps.
fn platform_ingress(
    env: &ResolvedEnv,
    plan: &NamespacePlan,
    platform: &Platform,
) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (name, app) in &env.blueprint.apps {
        let c = &env.components[name];
        if c.namespace != plan.name || app.kind == WorkloadKind::CronJob {
            continue;
        }
        if let (Some(ing), Some(ns)) = (&app.ingress, &platform.ingress_namespace) {
            let mut ports: Vec<u32> = if ing.paths.is_empty() {
                crate::blueprint::validate::default_port(app)
                    .and_then(|p| app.ports.get(p))
                    .copied()
                    .into_iter()
                    .collect()
            } else {
                ing.paths
                    .values()
                    .filter_map(|p| app.ports.get(p))
                    .copied()
                    .collect()
            };
            ports.sort_unstable();
            ports.dedup();
            out.push((
                format!("ingress-{name}-from-ingress-controller"),
                json!({
                    "podSelector": selector_value(c),
                    "policyTypes": ["Ingress"],
                    "ingress": [ingress_rule(json!({"namespaceSelector": namespace_selector(ns)}), &ports)],
                }),
            ));
        }
        if let (Some(m), Some(mon)) = (&app.metrics, &platform.monitoring) {
            let ports: Vec<u32> = app.ports.get(&m.port).copied().into_iter().collect();
            out.push((
                format!("ingress-{name}-from-monitoring"),
                json!({
                    "podSelector": selector_value(c),
                    "policyTypes": ["Ingress"],
                    "ingress": [ingress_rule(json!({"namespaceSelector": namespace_selector(&mon.namespace)}), &ports)],
                }),
            ));
        }
    }
    out
}

fn isolated_policies(
    env: &ResolvedEnv,
    plan: &NamespacePlan,
    platform: &Platform,
) -> Result<Vec<(String, Value)>> {
    let mut out = vec![(
        "allow-same-namespace".to_string(),
        json!({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]}),
    )];
    for edge in edges(env) {
        if edge.to.namespace != plan.name || edge.from.namespace == plan.name {
            continue;
        }
        require_selector(env, edge.from, edge.pointer)?;
        require_selector(env, edge.to, edge.pointer)?;
        out.push((
            format!("ingress-{}-from-{}", edge.to.name, edge.from.name),
            json!({
                "podSelector": selector_value(edge.to),
                "policyTypes": ["Ingress"],
                "ingress": [ingress_rule(peer(&edge.from.namespace, selector_value(edge.from)), &edge.ports)],
            }),
        ));
    }
    out.extend(platform_ingress(env, plan, platform));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn default_deny_policies(
    env: &ResolvedEnv,
    plan: &NamespacePlan,
    platform: &Platform,
) -> Result<Vec<(String, Value)>> {
    let mut out = vec![
        (
            "default-deny".to_string(),
            json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        ),
        (
            "allow-dns".to_string(),
            json!({
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{
                    "to": [{
                        "namespaceSelector": namespace_selector("kube-system"),
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }],
                    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                }],
            }),
        ),
    ];
    for edge in edges(env) {
        if edge.to.namespace == plan.name {
            require_selector(env, edge.from, edge.pointer)?;
            require_selector(env, edge.to, edge.pointer)?;
            out.push((
                format!("ingress-{}-from-{}", edge.to.name, edge.from.name),
                json!({
                    "podSelector": selector_value(edge.to),
                    "policyTypes": ["Ingress"],
                    "ingress": [ingress_rule(peer(&edge.from.namespace, selector_value(edge.from)), &edge.ports)],
                }),
            ));
        }
        if edge.from.namespace == plan.name {
            require_selector(env, edge.from, edge.pointer)?;
            require_selector(env, edge.to, edge.pointer)?;
            let mut rule = json!({"to": [peer(&edge.to.namespace, selector_value(edge.to))]});
            if let Some(p) = port_list(&edge.ports) {
                rule["ports"] = p;
            }
            out.push((
                format!("egress-{}-to-{}", edge.from.name, edge.to.name),
                json!({"podSelector": selector_value(edge.from), "policyTypes": ["Egress"], "egress": [rule]}),
            ));
        }
    }
    for (name, app) in &env.blueprint.apps {
        let c = &env.components[name];
        if c.namespace != plan.name || app.egress.is_empty() {
            continue;
        }
        let rules: Vec<Value> = app
            .egress
            .iter()
            .map(|(cidr, ports)| {
                let mut rule = json!({"to": [{"ipBlock": {"cidr": cidr}}]});
                if let Some(p) = port_list(ports) {
                    rule["ports"] = p;
                }
                rule
            })
            .collect();
        out.push((
            format!("egress-{name}-external"),
            json!({"podSelector": selector_value(c), "policyTypes": ["Egress"], "egress": rules}),
        ));
    }
    out.extend(platform_ingress(env, plan, platform));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
