//! NetworkPolicies from each namespace's posture and the environment's links.
//!
//! A link is one allowed connection the blueprint implies: a `uses` edge
//! (to a component or to the API server), `peers`, `egress` blocks, the
//! ingress controller or a gateway's proxies to what they route to (and to
//! ACME HTTP-01 solvers), the internet to a gateway's proxies,
//! the Prometheus pods to metrics ports, the internet to the ingress
//! controller, every injected mesh proxy to its control plane, the API server
//! to the mesh's webhooks. Each link becomes an ingress rule at its destination and an
//! egress rule at its source, wherever the posture there needs one.
//!
//! A namespace unit holds only what concerns the whole namespace (deny all,
//! allow DNS, allow within the namespace, let the HTTP-01 solvers be
//! reached); what concerns one component lives in that component's unit as
//! at most two policies per pod group: who may reach it, and where it may
//! go. So no unit grows with the number of components.

mod links;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::blueprint::model::NetworkPosture;
use crate::resolve::Component;
use crate::resolve::network::{NetworkFacts, PodGroup};

pub use links::{ingress_ports, links, strictly_inside, used_ports};

/// Where a link starts or ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Pods(PodGroup),
    /// A CIDR block, less the blocks in `except`.
    Block {
        cidr: String,
        except: Vec<String>,
    },
}

impl End {
    pub fn block(cidr: &str) -> End {
        End::Block {
            cidr: cidr.to_string(),
            except: Vec::new(),
        }
    }
}

impl End {
    fn key(&self) -> String {
        match self {
            End::Pods(g) => g.name.clone(),
            End::Block { cidr, .. } => format!("~{cidr}"),
        }
    }

    fn namespace(&self) -> Option<&str> {
        match self {
            End::Pods(g) => Some(&g.namespace),
            End::Block { .. } => None,
        }
    }

    fn peer(&self) -> Value {
        match self {
            End::Pods(g) => json!({
                "namespaceSelector": namespace_selector(&g.namespace),
                "podSelector": {"matchLabels": super::labels::to_value(&g.selector)},
            }),
            End::Block { cidr, except } if except.is_empty() => {
                json!({"ipBlock": {"cidr": cidr}})
            }
            End::Block { cidr, except } => json!({"ipBlock": {"cidr": cidr, "except": except}}),
        }
    }
}

/// One allowed connection, on TCP ports (none: every port).
#[derive(Debug, Clone)]
pub struct Link {
    pub from: End,
    pub to: End,
    pub ports: Vec<u32>,
}

/// Every namespace's posture and every link.
pub struct Network {
    postures: BTreeMap<String, NetworkPosture>,
    links: Vec<Link>,
    /// The links into and out of each pod group, by group name, in link
    /// order: each unit asks for its own groups', and a scan of every link
    /// per unit made rendering quadratic in the number of apps.
    into: BTreeMap<String, Vec<usize>>,
    out_of: BTreeMap<String, Vec<usize>>,
}

/// The links whose `end` is a pod group, by the group's name, in link order.
fn by_group(links: &[Link], end: impl Fn(&Link) -> &End) -> BTreeMap<String, Vec<usize>> {
    let mut index: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, link) in links.iter().enumerate() {
        if let End::Pods(g) = end(link) {
            match index.get_mut(&g.name) {
                Some(at) => at.push(i),
                None => {
                    index.insert(g.name.clone(), vec![i]);
                }
            }
        }
    }
    index
}

pub fn group(c: &Component) -> PodGroup {
    PodGroup {
        name: c.name.clone(),
        namespace: c.namespace.clone(),
        selector: c.selector.clone(),
    }
}

/// The pod groups of a chart's install hooks, which reach the API server
/// when the chart does.
pub fn hook_groups(c: &Component) -> impl Iterator<Item = PodGroup> + '_ {
    c.hooks.iter().map(|(name, selector)| PodGroup {
        name: name.clone(),
        namespace: c.namespace.clone(),
        selector: selector.clone(),
    })
}

impl Network {
    pub fn new(postures: BTreeMap<String, NetworkPosture>, links: Vec<Link>) -> Network {
        let into = by_group(&links, |l| &l.to);
        let out_of = by_group(&links, |l| &l.from);
        Network {
            postures,
            links,
            into,
            out_of,
        }
    }

    /// The links (in order) whose `end` is pod group `g` itself: same name,
    /// namespace and selector.
    fn links_at<'a>(
        &'a self,
        index: &'a BTreeMap<String, Vec<usize>>,
        g: &'a PodGroup,
        end: impl Fn(&Link) -> &End + 'a,
    ) -> impl Iterator<Item = &'a Link> + 'a {
        index
            .get(&g.name)
            .into_iter()
            .flatten()
            .map(|&i| &self.links[i])
            .filter(move |link| matches!(end(link), End::Pods(p) if p == g))
    }

    /// The posture of a namespace; one gitopsc does not render is not ours
    /// to close, so it counts as permissive.
    fn posture(&self, namespace: &str) -> NetworkPosture {
        self.postures
            .get(namespace)
            .copied()
            .unwrap_or(NetworkPosture::Permissive)
    }

    fn needs_ingress_rule(&self, link: &Link, at: &PodGroup) -> bool {
        match self.posture(&at.namespace) {
            NetworkPosture::DefaultDeny => true,
            NetworkPosture::NamespaceIsolated => link.from.namespace() != Some(&at.namespace),
            NetworkPosture::Permissive => false,
        }
    }

    fn needs_egress_rule(&self, at: &PodGroup) -> bool {
        self.posture(&at.namespace) == NetworkPosture::DefaultDeny
    }

    /// The policies of one pod group, by name: one listing who may reach
    /// it (a rule per allowed source), one listing where it may go (a rule
    /// per destination). Two objects whatever the fan-in, and a reviewer
    /// reads each allow-list in one place.
    pub fn group_policies(&self, g: &PodGroup) -> Vec<(String, Value)> {
        let ingress: Vec<(String, Value)> = self
            .links_at(&self.into, g, |l| &l.to)
            .filter(|link| self.needs_ingress_rule(link, g))
            .map(|link| (link.from.key(), rule("from", &link.from, &link.ports)))
            .collect();
        let egress: Vec<(String, Value)> = self
            .links_at(&self.out_of, g, |l| &l.from)
            .filter(|_| self.needs_egress_rule(g))
            .map(|link| (link.to.key(), rule("to", &link.to, &link.ports)))
            .collect();
        let mut out = Vec::new();
        for (direction, mut rules) in [("Ingress", ingress), ("Egress", egress)] {
            if rules.is_empty() {
                continue;
            }
            rules.sort_by(|a, b| a.0.cmp(&b.0));
            rules.dedup();
            let key = direction.to_ascii_lowercase();
            out.push((
                format!("{key}-{}", g.name),
                json!({
                    "podSelector": {"matchLabels": super::labels::to_value(&g.selector)},
                    "policyTypes": [direction],
                    key: rules.into_iter().map(|(_, r)| r).collect::<Vec<_>>(),
                }),
            ));
        }
        out
    }

    /// The policies of a component's unit: its own pods', its install
    /// hooks', and the scrapers' when it is the monitoring stack.
    pub fn component_policies(&self, c: &Component, facts: &NetworkFacts) -> Vec<(String, Value)> {
        let mut out = self.group_policies(&group(c));
        for hook in hook_groups(c) {
            out.extend(self.group_policies(&hook));
        }
        if let Some(scraper) = &facts.scraper
            && scraper.namespace == c.namespace
            && c.provides
                .iter()
                .any(|g| g == crate::resolve::network::MONITORING_GROUP)
        {
            out.extend(self.group_policies(scraper));
        }
        out
    }
}

fn rule(direction: &str, peer: &End, ports: &[u32]) -> Value {
    let mut rule = json!({direction: [peer.peer()]});
    if let Some(p) = port_list(ports) {
        rule["ports"] = p;
    }
    rule
}

fn namespace_selector(ns: &str) -> Value {
    json!({"matchLabels": {"kubernetes.io/metadata.name": ns}})
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
