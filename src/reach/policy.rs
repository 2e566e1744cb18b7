//! Kubernetes NetworkPolicy semantics: which connections a set of policies
//! allows between endpoints.
//!
//! Follows <https://kubernetes.io/docs/concepts/services-networking/network-policies/>:
//! a pod is isolated in a direction only once a policy of that type selects
//! it; policies are additive; a connection needs the source's egress and the
//! destination's ingress to allow it; `policyTypes` defaults to Ingress, plus
//! Egress when the policy has egress rules; an empty or missing `from`/`to`
//! matches every peer, an empty or missing `ports` every port; a peer with
//! both `namespaceSelector` and `podSelector` needs both; named ports resolve
//! against the destination's container ports; `ipBlock` (with `except`)
//! matches addresses outside the pod network (the docs mean it for
//! cluster-external IPs, and CNIs such as Cilium do not apply it to pods).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde_json::Value;

use super::endpoint::{Endpoint, Place, Port, Protocol};
use super::selector::Selector;
use crate::pointer::Lookup;

/// The label every namespace carries with its own name (Kubernetes 1.22+).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// An IPv4 CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cidr {
    pub base: u32,
    pub prefix: u32,
}

impl Cidr {
    /// `a.b.c.d/n`; an IPv6 block is `None` (no endpoint here is IPv6).
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = text.split_once('/')?;
        let addr: Ipv4Addr = addr.parse().ok()?;
        let prefix: u32 = prefix.parse().ok().filter(|p| *p <= 32)?;
        Some(Cidr {
            base: u32::from(addr) & Cidr::mask(prefix),
            prefix,
        })
    }

    fn mask(prefix: u32) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        }
    }

    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & Cidr::mask(self.prefix) == self.base
    }

    /// An address that stands for the block: its first host address.
    pub fn representative(&self) -> Ipv4Addr {
        if self.prefix >= 31 {
            Ipv4Addr::from(self.base)
        } else {
            Ipv4Addr::from(self.base + 1)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Peer {
    /// `namespaceSelector` and/or `podSelector`; a missing namespace selector
    /// means the policy's own namespace, a missing pod selector all pods.
    Pods {
        namespaces: Option<Selector>,
        pods: Option<Selector>,
    },
    Block {
        cidr: Option<Cidr>,
        except: Vec<Cidr>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortRef {
    Number(u32),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PortRule {
    protocol: Option<Protocol>,
    port: Option<PortRef>,
    end_port: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// Empty: every peer.
    peers: Vec<Peer>,
    /// Empty: every port.
    ports: Vec<PortRule>,
}

/// One NetworkPolicy, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub namespace: String,
    pub name: String,
    selector: Selector,
    /// Present when the policy isolates ingress.
    ingress: Option<Vec<Rule>>,
    /// Present when the policy isolates egress.
    egress: Option<Vec<Rule>>,
}

fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn parse_peer(value: &Value) -> Peer {
    if let Some(block) = value.get("ipBlock") {
        return Peer::Block {
            cidr: block["cidr"].as_str().and_then(Cidr::parse),
            except: list(block, "except")
                .iter()
                .filter_map(|c| c.as_str().and_then(Cidr::parse))
                .collect(),
        };
    }
    Peer::Pods {
        namespaces: value.get("namespaceSelector").map(Selector::parse),
        pods: value.get("podSelector").map(Selector::parse),
    }
}

fn parse_port(value: &Value) -> PortRule {
    PortRule {
        protocol: Protocol::parse(value.get("protocol").and_then(Value::as_str)),
        port: match value.get("port") {
            Some(Value::String(name)) => Some(PortRef::Name(name.clone())),
            Some(v) => v.as_u64().map(|n| PortRef::Number(n as u32)),
            None => None,
        },
        end_port: value
            .get("endPort")
            .and_then(Value::as_u64)
            .map(|n| n as u32),
    }
}

fn parse_rules(spec: &Value, key: &str, peers: &str) -> Vec<Rule> {
    list(spec, key)
        .iter()
        .map(|rule| Rule {
            peers: list(rule, peers).iter().map(parse_peer).collect(),
            ports: list(rule, "ports").iter().map(parse_port).collect(),
        })
        .collect()
}

impl Policy {
    /// Reads a NetworkPolicy object; `None` for any other object.
    pub fn parse(object: &Value) -> Option<Policy> {
        if object.get("kind")?.as_str()? != "NetworkPolicy" {
            return None;
        }
        let spec = object.get("spec").cloned().unwrap_or(Value::Null);
        let types: Vec<&str> = match spec.get("policyTypes").and_then(Value::as_array) {
            Some(types) => types.iter().filter_map(Value::as_str).collect(),
            None if spec.get("egress").is_some() => vec!["Ingress", "Egress"],
            None => vec!["Ingress"],
        };
        Some(Policy {
            namespace: object
                .at("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string(),
            name: object
                .at("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            selector: spec
                .get("podSelector")
                .map(Selector::parse)
                .unwrap_or_default(),
            ingress: types
                .contains(&"Ingress")
                .then(|| parse_rules(&spec, "ingress", "from")),
            egress: types
                .contains(&"Egress")
                .then(|| parse_rules(&spec, "egress", "to")),
        })
    }

    fn selects(&self, endpoint: &Endpoint) -> bool {
        match &endpoint.place {
            Place::Pods { namespace, labels } => {
                *namespace == self.namespace && self.selector.matches(labels)
            }
            Place::Address(_) => false,
        }
    }
}

/// Namespaces' labels and every policy: enough to answer "is this allowed?".
#[derive(Debug, Clone, Default)]
pub struct Policies {
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
    policies: Vec<Policy>,
}

#[derive(Clone, Copy)]
enum Direction {
    Ingress,
    Egress,
}

impl Policies {
    pub fn add_namespace(&mut self, name: &str, labels: BTreeMap<String, String>) {
        self.namespaces.insert(name.to_string(), labels);
    }

    pub fn add_policy(&mut self, policy: Policy) {
        self.policies.push(policy);
    }

    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    fn namespace_labels(&self, name: &str) -> BTreeMap<String, String> {
        let mut labels = self.namespaces.get(name).cloned().unwrap_or_default();
        labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.to_string());
        labels
    }

    /// True when `from` may open a connection to `to` on `port` (one of `to`'s ports).
    pub fn allows(&self, from: &Endpoint, to: &Endpoint, port: &Port) -> bool {
        self.side_allows(Direction::Egress, from, to, to, port)
            && self.side_allows(Direction::Ingress, to, from, to, port)
    }

    /// Whether the policies selecting `subject` in `direction` admit `peer`;
    /// `server` owns the port (for named ports).
    fn side_allows(
        &self,
        direction: Direction,
        subject: &Endpoint,
        peer: &Endpoint,
        server: &Endpoint,
        port: &Port,
    ) -> bool {
        let mut isolated = false;
        for policy in self.policies.iter().filter(|p| p.selects(subject)) {
            let rules = match direction {
                Direction::Ingress => &policy.ingress,
                Direction::Egress => &policy.egress,
            };
            let Some(rules) = rules else { continue };
            isolated = true;
            if rules
                .iter()
                .any(|r| self.rule_admits(policy, r, peer, server, port))
            {
                return true;
            }
        }
        !isolated
    }

    fn rule_admits(
        &self,
        policy: &Policy,
        rule: &Rule,
        peer: &Endpoint,
        server: &Endpoint,
        port: &Port,
    ) -> bool {
        let peer_ok = rule.peers.is_empty()
            || rule
                .peers
                .iter()
                .any(|p| self.peer_matches(policy, p, peer));
        let port_ok =
            rule.ports.is_empty() || rule.ports.iter().any(|p| port_matches(p, server, port));
        peer_ok && port_ok
    }

    fn peer_matches(&self, policy: &Policy, peer: &Peer, endpoint: &Endpoint) -> bool {
        match (peer, &endpoint.place) {
            (Peer::Pods { namespaces, pods }, Place::Pods { namespace, labels }) => {
                let namespace_ok = match namespaces {
                    None => *namespace == policy.namespace,
                    Some(s) => s.matches(&self.namespace_labels(namespace)),
                };
                namespace_ok && pods.as_ref().is_none_or(|s| s.matches(labels))
            }
            (Peer::Block { cidr, except }, Place::Address(addr)) => {
                cidr.is_some_and(|c| c.contains(*addr)) && !except.iter().any(|e| e.contains(*addr))
            }
            _ => false,
        }
    }
}

fn port_matches(rule: &PortRule, server: &Endpoint, port: &Port) -> bool {
    if rule.protocol != Some(port.protocol) {
        return false;
    }
    match &rule.port {
        None => true,
        Some(PortRef::Number(n)) => {
            let end = rule.end_port.unwrap_or(*n);
            (*n..=end).contains(&port.number)
        }
        // A named port means the destination's container port of that name,
        // so it can only match a pod's port, never an address's.
        Some(PortRef::Name(name)) => {
            matches!(server.place, Place::Pods { .. })
                && port.name.as_deref() == Some(name.as_str())
                && server.ports.contains(port)
        }
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
