//! NetworkPolicies from each namespace's posture and the `uses` graph.
//!
//! A namespace unit holds only what concerns the whole namespace (deny all,
//! allow DNS, allow within the namespace); every policy about one component
//! lives in that component's unit: who may reach it (in the target's unit) and
//! where it may go (in the source's unit). So no unit grows with the number
//! of components in a namespace.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::Platform;
use crate::blueprint::model::{NetworkPosture, WorkloadKind};
use crate::blueprint::validate::default_port;
use crate::error::{ErrorKind, Result};
use crate::resolve::{Component, ResolvedEnv};

/// A `uses` edge resolved to the ports it opens.
pub struct Edge<'a> {
    pub from: &'a Component,
    pub to: &'a Component,
    pub ports: Vec<u32>,
    pub pointer: &'a str,
}

/// Every namespace's posture and every edge, indexed by both ends.
pub struct Network<'a> {
    postures: BTreeMap<&'a str, NetworkPosture>,
    incoming: BTreeMap<&'a str, Vec<Edge<'a>>>,
    outgoing: BTreeMap<&'a str, Vec<Edge<'a>>>,
}

impl<'a> Network<'a> {
    pub fn new(env: &'a ResolvedEnv, postures: BTreeMap<&'a str, NetworkPosture>) -> Network<'a> {
        let mut incoming: BTreeMap<&str, Vec<Edge>> = BTreeMap::new();
        let mut outgoing: BTreeMap<&str, Vec<Edge>> = BTreeMap::new();
        for from in env.components.values() {
            for u in &from.uses {
                let Some(to) = env.components.get(&u.target) else {
                    continue;
                };
                let ports: Vec<u32> = match &u.port {
                    Some(p) => to.ports.get(p).copied().into_iter().collect(),
                    None => to
                        .ports
                        .values()
                        .copied()
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect(),
                };
                let edge = |ports: Vec<u32>| Edge {
                    from,
                    to,
                    ports,
                    pointer: &u.pointer,
                };
                incoming
                    .entry(&to.name)
                    .or_default()
                    .push(edge(ports.clone()));
                outgoing.entry(&from.name).or_default().push(edge(ports));
            }
        }
        Network {
            postures,
            incoming,
            outgoing,
        }
    }

    fn posture(&self, namespace: &str) -> NetworkPosture {
        self.postures
            .get(namespace)
            .copied()
            .unwrap_or(NetworkPosture::Permissive)
    }
}

fn namespace_selector(ns: &str) -> Value {
    json!({"matchLabels": {"kubernetes.io/metadata.name": ns}})
}

fn selector_value(c: &Component) -> Value {
    json!({"matchLabels": super::labels::to_value(&c.selector)})
}

fn port_list(ports: &[u32]) -> Option<Value> {
    (!ports.is_empty()).then(|| {
        Value::Array(
            ports
                .iter()
                .map(|p| json!({"port": p, "protocol": "TCP"}))
                .collect(),
        )
    })
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

/// The policies of a namespace as a whole, by name.
pub fn namespace_policies(posture: NetworkPosture) -> Vec<(String, Value)> {
    match posture {
        NetworkPosture::Permissive => Vec::new(),
        NetworkPosture::NamespaceIsolated => vec![(
            "allow-same-namespace".to_string(),
            json!({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]}),
        )],
        NetworkPosture::DefaultDeny => vec![
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
        ],
    }
}

/// The policies about one component, by name: who may reach it, where it may go.
pub fn component_policies(
    env: &ResolvedEnv,
    net: &Network,
    platform: &Platform,
    c: &Component,
) -> Result<Vec<(String, Value)>> {
    let mut out = Vec::new();
    let here = net.posture(&c.namespace);
    for edge in net.incoming.get(c.name.as_str()).into_iter().flatten() {
        let needed = match here {
            NetworkPosture::DefaultDeny => true,
            NetworkPosture::NamespaceIsolated => edge.from.namespace != c.namespace,
            NetworkPosture::Permissive => false,
        };
        if needed {
            require_selector(env, edge.from, edge.pointer)?;
            require_selector(env, c, edge.pointer)?;
            out.push((
                format!("ingress-{}-from-{}", c.name, edge.from.name),
                json!({
                    "podSelector": selector_value(c),
                    "policyTypes": ["Ingress"],
                    "ingress": [ingress_rule(peer(&edge.from.namespace, selector_value(edge.from)), &edge.ports)],
                }),
            ));
        }
    }
    if here == NetworkPosture::DefaultDeny {
        for edge in net.outgoing.get(c.name.as_str()).into_iter().flatten() {
            require_selector(env, c, edge.pointer)?;
            require_selector(env, edge.to, edge.pointer)?;
            let mut rule = json!({"to": [peer(&edge.to.namespace, selector_value(edge.to))]});
            if let Some(p) = port_list(&edge.ports) {
                rule["ports"] = p;
            }
            out.push((
                format!("egress-{}-to-{}", c.name, edge.to.name),
                json!({"podSelector": selector_value(c), "policyTypes": ["Egress"], "egress": [rule]}),
            ));
        }
    }
    if here != NetworkPosture::Permissive
        && let Some(app) = env.blueprint.apps.get(&c.name)
    {
        // A CronJob serves nothing, but it may still need to reach out.
        if app.kind != WorkloadKind::CronJob {
            out.extend(platform_ingress(c, app, platform));
        }
        if here == NetworkPosture::DefaultDeny && !app.egress.is_empty() {
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
                format!("egress-{}-external", c.name),
                json!({"podSelector": selector_value(c), "policyTypes": ["Egress"], "egress": rules}),
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// From the ingress controller to an app's routed ports, and from the monitoring stack to its metrics port.
fn platform_ingress(
    c: &Component,
    app: &crate::blueprint::model::App,
    platform: &Platform,
) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    if let (Some(ing), Some(ns)) = (&app.ingress, &platform.ingress_namespace) {
        let mut ports: Vec<u32> = if ing.paths.is_empty() {
            default_port(app)
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
            format!("ingress-{}-from-ingress-controller", c.name),
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
            format!("ingress-{}-from-monitoring", c.name),
            json!({
                "podSelector": selector_value(c),
                "policyTypes": ["Ingress"],
                "ingress": [ingress_rule(json!({"namespaceSelector": namespace_selector(&mon.namespace)}), &ports)],
            }),
        ));
    }
    out
}
