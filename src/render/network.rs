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

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::blueprint::apps::default_port;
use crate::blueprint::model::{App, NetworkPosture, WorkloadKind};
use crate::blueprint::network::KUBE_APISERVER;
use crate::blueprint::routing::RoutingApi;
use crate::resolve::network::{NetworkFacts, PodGroup};
use crate::resolve::{Component, ComponentKind, ResolvedEnv};

/// Label cert-manager puts on its ACME HTTP-01 solver pods, which listen on
/// 8089 in the namespace of the Certificate (cert-manager/cert-manager#2334).
pub const SOLVER_LABEL: &str = "acme.cert-manager.io/http01-solver";
pub const SOLVER_PORT: u32 = 8089;
pub const SOLVER: &str = "acme-http01-solver";

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

/// The solver pods of one namespace.
pub fn solver_group(namespace: &str) -> PodGroup {
    PodGroup {
        name: SOLVER.to_string(),
        namespace: namespace.to_string(),
        selector: BTreeMap::from([(SOLVER_LABEL.to_string(), "true".to_string())]),
    }
}

/// The ports a `uses` edge opens: the named one, or every port but a
/// dedicated metrics port (that one is for the scrapers).
pub fn used_ports(env: &ResolvedEnv, to: &Component, port: Option<&str>) -> Vec<u32> {
    if let Some(p) = port {
        return to.ports.get(p).copied().into_iter().collect();
    }
    let metrics = metrics_only_port(env, to);
    let ports: BTreeSet<u32> = to
        .ports
        .iter()
        .filter(|(name, _)| Some(name.as_str()) != metrics)
        .map(|(_, n)| *n)
        .collect();
    ports.into_iter().collect()
}

/// An app's metrics port name when it serves nothing else on it.
fn metrics_only_port<'a>(env: &'a ResolvedEnv, c: &Component) -> Option<&'a str> {
    let app = env.blueprint.apps.get(&c.name)?;
    let name = app.metrics.as_ref()?.port.as_str();
    let number = app.ports.get(name)?;
    let shared = app.ports.iter().any(|(n, p)| n != name && p == number);
    let serves_only_it = app.ports.len() == 1;
    (!shared && !serves_only_it).then_some(name)
}

/// The ports the ingress controller routes to on an app.
pub fn ingress_ports(app: &App) -> Vec<u32> {
    let Some(ing) = &app.ingress else {
        return Vec::new();
    };
    let ports: BTreeSet<u32> = if ing.paths.is_empty() {
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
    ports.into_iter().collect()
}

/// Whether an app's ingress gets its certificate through an HTTP-01 issuer.
pub fn uses_http01(env: &ResolvedEnv, app: &App, http01: &BTreeSet<String>) -> bool {
    let Some(ing) = &app.ingress else {
        return false;
    };
    let issuer = ing
        .issuer
        .clone()
        .or_else(|| env.blueprint.defaults.ingress.issuer.clone());
    let tls = ing.tls.unwrap_or(issuer.is_some());
    tls && issuer.is_some_and(|i| http01.contains(&i))
}

/// The names of the issuers among `objects` that solve ACME HTTP-01 challenges.
pub fn http01_issuers<'a>(objects: impl Iterator<Item = &'a Value>) -> BTreeSet<String> {
    objects
        .filter(|o| {
            matches!(o["kind"].as_str(), Some("ClusterIssuer" | "Issuer"))
                && o.pointer("/spec/acme/solvers")
                    .and_then(Value::as_array)
                    .is_some_and(|s| s.iter().any(|s| s.get("http01").is_some()))
        })
        .filter_map(|o| o.pointer("/metadata/name").and_then(Value::as_str))
        .map(String::from)
        .collect()
}

/// An IPv4 block as (network, prefix length).
fn ipv4_block(text: &str) -> Option<(u32, u32)> {
    let (addr, prefix) = text.split_once('/')?;
    let addr: std::net::Ipv4Addr = addr.parse().ok()?;
    let prefix: u32 = prefix.parse().ok().filter(|p| *p <= 32)?;
    Some((u32::from(addr), prefix))
}

/// Whether IPv4 block `inner` lies inside `outer` and is smaller, as an
/// `ipBlock.except` entry must.
pub fn strictly_inside(inner: &str, outer: &str) -> bool {
    let (Some((i, ip)), Some((o, op))) = (ipv4_block(inner), ipv4_block(outer)) else {
        return false;
    };
    let mask = |p: u32| if p == 0 { 0 } else { u32::MAX << (32 - p) };
    ip > op && i & mask(op) == o & mask(op)
}

/// Every connection the environment's blueprint implies.
pub fn links(env: &ResolvedEnv, facts: &NetworkFacts, http01: &BTreeSet<String>) -> Vec<Link> {
    let mut out = Vec::new();
    for from in env.components.values() {
        for u in &from.uses {
            if u.target == KUBE_APISERVER {
                if let Some(api) = &facts.api_server {
                    out.push(Link {
                        from: End::Pods(group(from)),
                        to: End::block(&api.cidr),
                        ports: vec![api.port],
                    });
                }
                continue;
            }
            let Some(to) = env.components.get(&u.target) else {
                continue;
            };
            out.push(Link {
                from: End::Pods(group(from)),
                to: End::Pods(group(to)),
                ports: used_ports(env, to, u.port.as_deref()),
            });
        }
        let peers: BTreeSet<u32> = from
            .peers
            .iter()
            .filter_map(|p| from.ports.get(p))
            .copied()
            .collect();
        if !peers.is_empty() {
            out.push(Link {
                from: End::Pods(group(from)),
                to: End::Pods(group(from)),
                ports: peers.into_iter().collect(),
            });
        }
        let uses_api = from.uses.iter().any(|u| u.target == KUBE_APISERVER);
        for (cidr, ports) in &from.egress {
            // A wide block (`0.0.0.0/0`) would open the API server to a pod
            // that never said it calls it: cut the API server out.
            let except = match &facts.api_server {
                Some(api) if !uses_api && strictly_inside(&api.cidr, cidr) => {
                    vec![api.cidr.clone()]
                }
                _ => Vec::new(),
            };
            out.push(Link {
                from: End::Pods(group(from)),
                to: End::Block {
                    cidr: cidr.clone(),
                    except,
                },
                ports: ports.clone(),
            });
        }
    }
    out.extend(platform_links(env, facts, http01));
    super::mesh::add_links(env, &mut out);
    out.extend(webhook_links(env, facts));
    out
}

/// The API server calls the charts' and the mesh's admission webhooks;
/// where its address is known, they stay reachable under default-deny.
fn webhook_links(env: &ResolvedEnv, facts: &NetworkFacts) -> Vec<Link> {
    let Some(api) = &facts.api_server else {
        return Vec::new();
    };
    crate::resolve::network::webhook_callees(env)
        .into_iter()
        .map(|(chart, ports)| Link {
            from: End::block(&api.cidr),
            to: End::Pods(group(chart)),
            ports: ports.to_vec(),
        })
        .collect()
}

/// What the ingress controller and the scrapers reach, and what reaches the controller.
fn platform_links(env: &ResolvedEnv, facts: &NetworkFacts, http01: &BTreeSet<String>) -> Vec<Link> {
    let mut out = Vec::new();
    let mut solver_namespaces = BTreeSet::new();
    for (name, app) in &env.blueprint.apps {
        let c = &env.components[name];
        // A CronJob serves nothing.
        if app.kind == WorkloadKind::CronJob {
            continue;
        }
        if let Some(router) = facts.router(&env.blueprint, app) {
            out.push(Link {
                from: End::Pods(router.clone()),
                to: End::Pods(group(c)),
                ports: ingress_ports(app),
            });
            if facts.routing == RoutingApi::Ingress && uses_http01(env, app, http01) {
                solver_namespaces.insert(c.namespace.clone());
            }
        }
        if let (Some(scraper), Some(m)) = (&facts.scraper, &app.metrics)
            && let Some(port) = app.ports.get(&m.port)
        {
            out.push(Link {
                from: End::Pods(scraper.clone()),
                to: End::Pods(group(c)),
                ports: vec![*port],
            });
        }
    }
    out.extend(super::gateway::internet_links(env, facts));
    if let Some(controller) = &facts.ingress_controller {
        for c in env.components.values().filter(|c| !c.routes.is_empty()) {
            let ports: BTreeSet<u32> = c
                .routes
                .iter()
                .filter_map(|p| c.ports.get(p))
                .copied()
                .collect();
            out.push(Link {
                from: End::Pods(controller.clone()),
                to: End::Pods(group(c)),
                ports: ports.into_iter().collect(),
            });
        }
        for ns in solver_namespaces {
            out.push(Link {
                from: End::Pods(controller.clone()),
                to: End::Pods(solver_group(&ns)),
                ports: vec![SOLVER_PORT],
            });
        }
        // A controller in the blueprint takes traffic from anywhere on the
        // ports it declares; one outside it is not ours to open.
        if let Some(c) = env.components.get(&controller.name)
            && c.kind == ComponentKind::Chart
        {
            let ports: BTreeSet<u32> = c.ports.values().copied().collect();
            out.push(Link {
                from: End::block("0.0.0.0/0"),
                to: End::Pods(group(c)),
                ports: ports.into_iter().collect(),
            });
        }
    }
    out
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

    /// The policies of a component's unit: its own pods', and the
    /// scrapers' when it is the monitoring stack.
    pub fn component_policies(&self, c: &Component, facts: &NetworkFacts) -> Vec<(String, Value)> {
        let mut out = self.group_policies(&group(c));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_except_block_must_lie_strictly_inside() {
        assert!(strictly_inside("10.244.0.0/30", "0.0.0.0/0"));
        assert!(strictly_inside("10.0.1.0/24", "10.0.0.0/16"));
        assert!(!strictly_inside("10.0.0.0/16", "10.0.0.0/16"));
        assert!(!strictly_inside("10.1.0.0/24", "10.0.0.0/16"));
        assert!(!strictly_inside("10.0.0.0/8", "10.0.0.0/16"));
        assert!(!strictly_inside("fd00::/64", "::/0"));
    }
}
