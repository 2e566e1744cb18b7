//! The matrix the blueprint declares, worked out from the model alone and
//! never from rendered policies, so it can be held against [`super::matrix`].
//!
//! Declared connections: `uses` (the named port, or every port but a
//! dedicated metrics port), `uses: [kube-apiserver]`, `peers`, `egress`
//! blocks, DNS to kube-dns, the ingress controller to the ports its apps
//! route to and to the HTTP-01 solvers of their namespaces, a gateway's
//! proxies to the ports of the apps routed through it, the internet to the
//! proxies, the Prometheus pods to metrics ports, the internet to an ingress
//! controller chart, and every injected mesh proxy to its control plane.
//!
//! Postures, as documented: `permissive` admits everything; in a
//! `namespace-isolated` namespace a pod takes anything from its own
//! namespace and only declared traffic from elsewhere, and sends freely;
//! in a `default-deny` namespace a pod takes and sends only what is
//! declared (and DNS). Namespaces gitopsc does not render are permissive.

use std::collections::BTreeSet;

use super::Matrix;
use super::endpoint::{Endpoint, Place, Port, Protocol};
use super::inventory::{INTERNET, Inventory, KUBE_DNS, solver_name};
use super::policy::Cidr;
use crate::blueprint::model::{NetworkPosture, WorkloadKind};
use crate::blueprint::network::KUBE_APISERVER;
use crate::blueprint::routing::RoutingApi;
use crate::resolve::ResolvedEnv;
use crate::resolve::network::{facts, posture};

/// A declared connection: sender, receiver, TCP port number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Declared {
    To(String, String, u32),
    /// To every address inside a block but outside the second, on a port.
    ToBlock(String, Cidr, Option<Cidr>, u32),
}

struct Model<'a> {
    env: &'a ResolvedEnv,
    declared: BTreeSet<Declared>,
    managed: BTreeSet<&'a str>,
}

fn declared(env: &ResolvedEnv, inventory: &Inventory) -> BTreeSet<Declared> {
    let facts = facts(env);
    let mut out = BTreeSet::new();
    for c in env.components.values() {
        for u in &c.uses {
            if u.target == KUBE_APISERVER {
                if let Some(api) = &facts.api_server {
                    out.insert(Declared::To(
                        c.name.clone(),
                        KUBE_APISERVER.into(),
                        api.port,
                    ));
                }
                continue;
            }
            let Some(to) = env.components.get(&u.target) else {
                continue;
            };
            let metrics = env
                .blueprint
                .apps
                .get(&to.name)
                .and_then(|a| a.metrics.as_ref())
                .map(|m| m.port.as_str());
            for (name, number) in &to.ports {
                let opened = match &u.port {
                    Some(p) => p == name,
                    // A metrics port is the scrapers' unless it is also served
                    // under another name or is the only port.
                    None => {
                        Some(name.as_str()) != metrics
                            || to.ports.len() == 1
                            || to.ports.iter().any(|(n, p)| n != name && p == number)
                    }
                };
                if opened {
                    out.insert(Declared::To(c.name.clone(), to.name.clone(), *number));
                }
            }
        }
        for p in &c.peers {
            if let Some(number) = c.ports.get(p) {
                out.insert(Declared::To(c.name.clone(), c.name.clone(), *number));
            }
        }
        // A block opens the API server only to those that use it, unless
        // the block is the API server's own address.
        let uses_api = c.uses.iter().any(|u| u.target == KUBE_APISERVER);
        let api = facts.api_server.as_ref().and_then(|a| Cidr::parse(&a.cidr));
        for (cidr, ports) in &c.egress {
            if let Some(block) = Cidr::parse(cidr) {
                let cut = api.filter(|a| {
                    !uses_api && a.prefix > block.prefix && block.contains(a.representative())
                });
                for p in ports {
                    out.insert(Declared::ToBlock(c.name.clone(), block, cut, *p));
                }
            }
        }
    }
    let solvers = solver_namespaces(inventory);
    for (name, app) in &env.blueprint.apps {
        if app.kind == WorkloadKind::CronJob {
            continue;
        }
        let c = &env.components[name];
        if let (Some(controller), Some(ing)) = (facts.router(&env.blueprint, app), &app.ingress) {
            let routed: Vec<&String> = if ing.paths.is_empty() {
                crate::blueprint::apps::default_port(app)
                    .map(|p| app.ports.get_key_value(p).map(|(k, _)| k))
                    .into_iter()
                    .flatten()
                    .collect()
            } else {
                ing.paths.values().collect()
            };
            for port in routed.into_iter().filter_map(|p| app.ports.get(p)) {
                out.insert(Declared::To(controller.name.clone(), name.clone(), *port));
            }
            if facts.routing == RoutingApi::Ingress && solvers.contains(c.namespace.as_str()) {
                out.insert(Declared::To(
                    controller.name.clone(),
                    solver_name(&c.namespace),
                    crate::render::acme::SOLVER_PORT,
                ));
            }
        }
        if let (Some(scraper), Some(m)) = (&facts.scraper, &app.metrics)
            && let Some(port) = app.ports.get(&m.port)
        {
            out.insert(Declared::To(scraper.name.clone(), name.clone(), *port));
        }
    }
    for proxies in facts.gateways.values() {
        for port in env.components[&proxies.name].ports.values() {
            out.insert(Declared::To(INTERNET.into(), proxies.name.clone(), *port));
        }
    }
    if let Some(controller) = &facts.ingress_controller {
        for c in env.components.values() {
            for port in c.routes.iter().filter_map(|p| c.ports.get(p)) {
                out.insert(Declared::To(controller.name.clone(), c.name.clone(), *port));
            }
            // A chart's own Ingress takes its certificate like an app's.
            if !c.routes.is_empty() && solvers.contains(c.namespace.as_str()) {
                out.insert(Declared::To(
                    controller.name.clone(),
                    solver_name(&c.namespace),
                    crate::render::acme::SOLVER_PORT,
                ));
            }
        }
    }
    if let Some(controller) = facts
        .ingress_controller
        .as_ref()
        .and_then(|g| env.components.get(&g.name))
    {
        for port in controller.ports.values() {
            out.insert(Declared::To(
                INTERNET.into(),
                controller.name.clone(),
                *port,
            ));
        }
    }
    out.extend(mesh_declared(env));
    out
}

/// Every injected mesh proxy to its control plane and tracing collector, and the API server to
/// every admission webhook it calls (charts' and the mesh's).
fn mesh_declared(env: &ResolvedEnv) -> impl Iterator<Item = Declared> + '_ {
    let proxies = crate::resolve::mesh::proxy_edges(env)
        .into_iter()
        .flat_map(|e| {
            e.ports
                .into_iter()
                .map(move |p| Declared::To(e.from.name.clone(), e.to.name.clone(), p))
        });
    let webhooks = crate::resolve::network::webhook_callees(env)
        .into_iter()
        .flat_map(|(callee, ports)| {
            ports
                .iter()
                .map(move |p| Declared::To(KUBE_APISERVER.into(), callee.name.clone(), *p))
        });
    proxies.chain(webhooks)
}

/// Namespaces whose rendered Ingresses get HTTP-01 solver pods.
fn solver_namespaces(inventory: &Inventory) -> BTreeSet<String> {
    inventory
        .endpoints
        .values()
        .filter(|e| e.name.ends_with(crate::render::acme::SOLVER))
        .filter_map(|e| e.namespace().map(String::from))
        .collect()
}

impl Model<'_> {
    fn posture(&self, e: &Endpoint) -> NetworkPosture {
        match e.namespace() {
            Some(ns) if self.managed.contains(ns) => {
                posture(&self.env.blueprint, &self.env.settings, ns)
            }
            _ => NetworkPosture::Permissive,
        }
    }

    fn is_declared(&self, from: &Endpoint, to: &Endpoint, port: &Port) -> bool {
        if to.name == KUBE_DNS && port.number == 53 {
            return true;
        }
        if port.protocol != Protocol::Tcp {
            return false;
        }
        if self.declared.contains(&Declared::To(
            from.name.clone(),
            to.name.clone(),
            port.number,
        )) {
            return true;
        }
        let Place::Address(addr) = to.place else {
            return false;
        };
        self.declared.iter().any(|d| match d {
            Declared::ToBlock(f, block, cut, p) => {
                *f == from.name
                    && *p == port.number
                    && block.contains(addr)
                    && !cut.is_some_and(|c| c.contains(addr))
            }
            Declared::To(..) => false,
        })
    }

    fn egress_ok(&self, from: &Endpoint, to: &Endpoint, port: &Port) -> bool {
        matches!(from.place, Place::Address(_))
            || self.posture(from) != NetworkPosture::DefaultDeny
            || self.is_declared(from, to, port)
    }

    fn ingress_ok(&self, from: &Endpoint, to: &Endpoint, port: &Port) -> bool {
        match (self.posture(to), &to.place) {
            (_, Place::Address(_)) | (NetworkPosture::Permissive, _) => true,
            (NetworkPosture::NamespaceIsolated, _) => {
                (from.namespace().is_some() && from.namespace() == to.namespace())
                    || self.is_declared(from, to, port)
            }
            (NetworkPosture::DefaultDeny, _) => self.is_declared(from, to, port),
        }
    }
}

/// The matrix the environment's blueprint declares over `inventory`'s endpoints.
pub fn expected(env: &ResolvedEnv, inventory: &Inventory) -> Matrix {
    let model = Model {
        env,
        declared: declared(env, inventory),
        managed: env
            .components
            .values()
            .map(|c| c.namespace.as_str())
            .collect(),
    };
    super::matrix_where(inventory, |from, to, port| {
        model.egress_ok(from, to, port) && model.ingress_ok(from, to, port)
    })
}
