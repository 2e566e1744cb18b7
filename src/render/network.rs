//! NetworkPolicies from each namespace's posture and the `uses` graph.
//!
//! A namespace unit holds only what concerns the whole namespace (deny all,
//! allow DNS, allow within the namespace); what concerns one component lives
//! in that component's unit as at most two policies: who may reach it, and
//! where it may go. So no unit grows with the number of components.

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

/// The policies about one component, by name: one listing who may reach it
/// (a rule per allowed source), one listing where it may go (a rule per
/// destination). Two objects whatever the fan-in, so no unit grows with the
/// number of clients, and a reviewer reads each allow-list in one place.
pub fn component_policies(
    env: &ResolvedEnv,
    net: &Network,
    platform: &Platform,
    c: &Component,
) -> Result<Vec<(String, Value)>> {
    let here = net.posture(&c.namespace);
    let mut ingress: Vec<(String, Value)> = Vec::new();
    let mut egress: Vec<(String, Value)> = Vec::new();
    for edge in net.incoming.get(c.name.as_str()).into_iter().flatten() {
        let needed = match here {
            NetworkPosture::DefaultDeny => true,
            NetworkPosture::NamespaceIsolated => edge.from.namespace != c.namespace,
            NetworkPosture::Permissive => false,
        };
        if needed {
            require_selector(env, edge.from, edge.pointer)?;
            require_selector(env, c, edge.pointer)?;
            ingress.push((
                edge.from.name.clone(),
                ingress_rule(
                    peer(&edge.from.namespace, selector_value(edge.from)),
                    &edge.ports,
                ),
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
            egress.push((edge.to.name.clone(), rule));
        }
    }
    if here != NetworkPosture::Permissive
        && let Some(app) = env.blueprint.apps.get(&c.name)
    {
        // A CronJob serves nothing, but it may still need to reach out.
        if app.kind != WorkloadKind::CronJob {
            ingress.extend(platform_ingress(app, platform));
        }
        if here == NetworkPosture::DefaultDeny {
            for (cidr, ports) in &app.egress {
                let mut rule = json!({"to": [{"ipBlock": {"cidr": cidr}}]});
                if let Some(p) = port_list(ports) {
                    rule["ports"] = p;
                }
                egress.push((format!("~{cidr}"), rule));
            }
        }
    }
    let mut out = Vec::new();
    for (direction, mut rules) in [("Ingress", ingress), ("Egress", egress)] {
        if rules.is_empty() {
            continue;
        }
        rules.sort_by(|a, b| a.0.cmp(&b.0));
        let key = direction.to_ascii_lowercase();
        out.push((
            format!("{key}-{}", c.name),
            json!({
                "podSelector": selector_value(c),
                "policyTypes": [direction],
                key: rules.into_iter().map(|(_, r)| r).collect::<Vec<_>>(),
            }),
        ));
    }
    Ok(out)
}

/// Rules letting the ingress controller reach an app's routed ports and the
/// monitoring stack its metrics port, keyed for a stable order.
fn platform_ingress(
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
            "~ingress-controller".to_string(),
            ingress_rule(json!({"namespaceSelector": namespace_selector(ns)}), &ports),
        ));
    }
    if let (Some(m), Some(mon)) = (&app.metrics, &platform.monitoring) {
        let ports: Vec<u32> = app.ports.get(&m.port).copied().into_iter().collect();
        out.push((
            "~monitoring".to_string(),
            ingress_rule(
                json!({"namespaceSelector": namespace_selector(&mon.namespace)}),
                &ports,
            ),
        ));
    }
    out
}
