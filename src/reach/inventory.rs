//! The endpoints of one environment and the policies between them.
//!
//! From the rendered objects: Namespaces (their labels), NetworkPolicies,
//! every pod template (its labels and container ports), and the ACME
//! HTTP-01 solver pods that cert-manager will start next to an Ingress whose
//! issuer solves HTTP-01. From the model, what no rendered object shows:
//! the pods of Helm charts and of manifest sets that only name them (their
//! `selector` and `ports`), the solvers next to a chart's own Ingress, the cluster DNS, the monitoring stack's
//! Prometheus pods, an ingress controller outside the blueprint, the API
//! server's address, the `egress` blocks, and the internet as a sender.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde_json::Value;

use super::endpoint::{Endpoint, Place, Port, Protocol};
use super::policy::{Cidr, Policies, Policy};
use crate::blueprint::network::KUBE_APISERVER;
use crate::blueprint::routing::RoutingApi;
use crate::pointer::Lookup;
use crate::render::acme::{SOLVER, SOLVER_PORT, http01_issuers, http01_namespaces, solver_group};
use crate::resolve::network::{EXTERNAL_CONTROLLER, PodGroup, facts};
use crate::resolve::{ComponentKind, ResolvedEnv};

/// The name of the sender that stands for everything outside the cluster.
pub const INTERNET: &str = "internet";

/// An address of no network anyone uses (TEST-NET-3, RFC 5737): the
/// internet's representative when it sends.
const INTERNET_ADDRESS: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);

pub const KUBE_DNS: &str = "kube-dns";

/// Everything that sends or serves, by name, and the policies.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub endpoints: BTreeMap<String, Endpoint>,
    pub policies: Policies,
    /// Cluster services that only serve here (kube-dns): what they send is
    /// the cluster's business, not the blueprint's.
    serve_only: BTreeSet<String>,
    /// Namespaces the tree renders: the internet is only asked about pods there.
    rendered_namespaces: BTreeSet<String>,
    /// The rendered issuers that solve HTTP-01.
    http01: BTreeSet<String>,
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The pod labels of a pod-creating object.
fn pod_labels(object: &Value) -> Option<BTreeMap<String, String>> {
    let at = match object.get("kind")?.as_str()? {
        "Pod" => "/metadata/labels",
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            "/spec/template/metadata/labels"
        }
        "CronJob" => "/spec/jobTemplate/spec/template/metadata/labels",
        _ => return None,
    };
    Some(string_map(object.at(at)))
}

fn container_ports(spec: &Value) -> Vec<Port> {
    let mut ports = BTreeSet::new();
    for list in ["containers", "initContainers"] {
        for c in spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for p in c
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(number), Some(protocol)) = (
                    p.get("containerPort").and_then(Value::as_u64),
                    Protocol::parse(p.get("protocol").and_then(Value::as_str)),
                ) else {
                    continue;
                };
                ports.insert(Port {
                    number: number as u32,
                    protocol,
                    name: p.get("name").and_then(Value::as_str).map(String::from),
                });
            }
        }
    }
    ports.into_iter().collect()
}

fn pods(group: &PodGroup, ports: Vec<Port>) -> Endpoint {
    Endpoint {
        name: group.name.clone(),
        place: Place::Pods {
            namespace: group.namespace.clone(),
            labels: group.selector.clone(),
        },
        ports,
    }
}

fn tcp_ports(ports: &BTreeMap<String, u32>) -> Vec<Port> {
    let set: BTreeSet<Port> = ports.iter().map(|(n, p)| Port::tcp(*p, Some(n))).collect();
    set.into_iter().collect()
}

impl Inventory {
    /// Namespaces, policies, pod templates and HTTP-01 solvers of the rendered objects.
    pub fn from_objects<'a>(objects: impl IntoIterator<Item = &'a Value>) -> Inventory {
        let objects: Vec<&Value> = objects.into_iter().collect();
        let mut out = Inventory::default();
        for &object in &objects {
            let name = object
                .at("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let namespace = object
                .at("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default");
            if object["kind"] == "Namespace" {
                out.rendered_namespaces.insert(name.to_string());
                out.policies
                    .add_namespace(name, string_map(object.at("/metadata/labels")));
            } else if let Some(policy) = Policy::parse(object) {
                out.policies.add_policy(policy);
            } else if let (Some(labels), Some(spec)) =
                (pod_labels(object), crate::policy::pod_spec(object))
            {
                out.add(Endpoint {
                    name: name.to_string(),
                    place: Place::Pods {
                        namespace: namespace.to_string(),
                        labels,
                    },
                    ports: container_ports(spec),
                });
            }
        }
        let http01 = http01_issuers(objects.iter().copied());
        for object in objects {
            let issuer = object
                .at("/metadata/annotations/cert-manager.io~1cluster-issuer")
                .and_then(Value::as_str);
            if object["kind"] == "Ingress" && issuer.is_some_and(|i| http01.contains(i)) {
                let namespace = object
                    .at("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("default");
                let mut solver = pods(&solver_group(namespace), vec![Port::tcp(SOLVER_PORT, None)]);
                solver.name = solver_name(namespace);
                out.add(solver);
            }
        }
        out.http01 = http01;
        out
    }

    /// The solver pods next to a chart's own Ingress, which Helm renders,
    /// not gitopsc: cert-manager starts them as for an app's.
    fn add_chart_solvers(&mut self, env: &ResolvedEnv) {
        if facts(env).routing != RoutingApi::Ingress {
            return;
        }
        for namespace in http01_namespaces(env, &self.http01).into_keys() {
            if !self.endpoints.contains_key(&solver_name(namespace)) {
                let group = solver_group(namespace);
                let mut solver = pods(&group, vec![Port::tcp(SOLVER_PORT, None)]);
                solver.name = solver_name(namespace);
                self.add(solver);
            }
        }
    }

    /// Adds an endpoint; a second one of the same name is told apart by its namespace.
    pub fn add(&mut self, mut endpoint: Endpoint) {
        if self.endpoints.contains_key(&endpoint.name) {
            match endpoint.namespace() {
                Some(ns) if self.endpoints[&endpoint.name].namespace() != Some(ns) => {
                    endpoint.name = format!("{ns}/{}", endpoint.name);
                }
                _ => return,
            }
        }
        self.endpoints.insert(endpoint.name.clone(), endpoint);
    }

    /// Adds what the environment's model knows and the rendered tree cannot show.
    pub fn add_model(&mut self, env: &ResolvedEnv) {
        self.add_chart_solvers(env);
        let facts = facts(env);
        for c in env.components.values() {
            let declared_only = match c.kind {
                // A gateway's proxies are created by its implementation.
                ComponentKind::Chart | ComponentKind::Gateway => true,
                ComponentKind::Manifests => !c.selector.is_empty(),
                ComponentKind::App => false,
            };
            if declared_only && !self.endpoints.contains_key(&c.name) {
                let group = PodGroup {
                    name: c.name.clone(),
                    namespace: c.namespace.clone(),
                    selector: c.selector.clone(),
                };
                self.add(pods(&group, tcp_ports(&c.ports)));
            }
        }
        self.add(Endpoint {
            name: KUBE_DNS.to_string(),
            place: Place::Pods {
                namespace: "kube-system".to_string(),
                labels: BTreeMap::from([("k8s-app".to_string(), "kube-dns".to_string())]),
            },
            ports: vec![
                Port::tcp(53, Some("dns-tcp")),
                Port {
                    number: 53,
                    protocol: Protocol::Udp,
                    name: Some("dns".to_string()),
                },
            ],
        });
        self.serve_only.insert(KUBE_DNS.to_string());
        if let Some(scraper) = &facts.scraper {
            self.add(pods(scraper, Vec::new()));
        }
        if let Some(controller) = facts
            .ingress_controller
            .as_ref()
            .filter(|c| c.name == EXTERNAL_CONTROLLER)
        {
            self.add(pods(controller, Vec::new()));
        }
        if let Some(api) = &facts.api_server
            && let Some(cidr) = Cidr::parse(&api.cidr)
        {
            self.add(Endpoint {
                name: KUBE_APISERVER.to_string(),
                place: Place::Address(cidr.representative()),
                ports: vec![Port::tcp(api.port, None)],
            });
        }
        let mut blocks: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
        for c in env.components.values() {
            for (cidr, ports) in &c.egress {
                blocks.entry(cidr).or_default().extend(ports);
            }
        }
        for (cidr, ports) in blocks {
            if let Some(block) = Cidr::parse(cidr) {
                self.add(Endpoint {
                    name: cidr.to_string(),
                    place: Place::Address(block.representative()),
                    ports: ports.into_iter().map(|p| Port::tcp(p, None)).collect(),
                });
            }
        }
        self.add(Endpoint {
            name: INTERNET.to_string(),
            place: Place::Address(INTERNET_ADDRESS),
            ports: Vec::new(),
        });
    }

    /// Pods, and addresses that serve nothing (the internet).
    pub fn senders(&self) -> impl Iterator<Item = &Endpoint> {
        self.endpoints.values().filter(|e| {
            !self.serve_only.contains(&e.name)
                && (matches!(e.place, Place::Pods { .. }) || e.ports.is_empty())
        })
    }

    pub fn receivers(&self) -> impl Iterator<Item = &Endpoint> {
        self.endpoints.values().filter(|e| !e.ports.is_empty())
    }

    /// Whether the matrix asks about `from` reaching `to`: not between two
    /// addresses (no NetworkPolicy's business), and the internet only
    /// towards pods of rendered namespaces.
    pub fn asks(&self, from: &Endpoint, to: &Endpoint) -> bool {
        match (&from.place, to.namespace()) {
            (Place::Address(_), None) => false,
            (Place::Address(_), Some(ns)) => self.rendered_namespaces.contains(ns),
            (Place::Pods { .. }, _) => true,
        }
    }
}

/// The matrix name of the HTTP-01 solver pods of a namespace.
pub fn solver_name(namespace: &str) -> String {
    format!("{namespace}/{SOLVER}")
}
