//! The links: every connection an environment's blueprint implies, each
//! from one end (pod group or address block) to the other on its ports.

use std::collections::BTreeSet;

use rayon::prelude::*;

use super::{End, Link, group, hook_groups};
use crate::blueprint::apps::default_port;
use crate::blueprint::model::{App, WorkloadKind};
use crate::blueprint::network::KUBE_APISERVER;
use crate::blueprint::routing::RoutingApi;
use crate::render::acme::{SOLVER_PORT, http01_namespaces, solver_group};
use crate::resolve::network::NetworkFacts;
use crate::resolve::{Component, ComponentKind, ResolvedEnv};

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
    // Each component's own links read nothing of the others' but their
    // groups: in parallel, collected in component order.
    let components: Vec<&Component> = env.components.values().collect();
    let own: Vec<Vec<Link>> = components
        .par_iter()
        .map(|from| component_links(env, facts, from))
        .collect();
    let mut out: Vec<Link> = own.into_iter().flatten().collect();
    out.extend(platform_links(env, facts, http01));
    crate::render::mesh::add_links(env, &mut out);
    out.extend(webhook_links(env, facts));
    out
}

/// What one component calls (`uses`, `egress`) and its peers.
fn component_links(env: &ResolvedEnv, facts: &NetworkFacts, from: &Component) -> Vec<Link> {
    let mut out = Vec::new();
    for u in &from.uses {
        if u.target == KUBE_APISERVER {
            if let Some(api) = &facts.api_server {
                out.extend(
                    std::iter::once(group(from))
                        .chain(hook_groups(from))
                        .map(|pods| Link {
                            from: End::Pods(pods),
                            to: End::block(&api.cidr),
                            ports: vec![api.port],
                        }),
                );
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
    out.extend(crate::render::gateway::internet_links(env, facts));
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
        let solvers = match facts.routing {
            RoutingApi::Ingress => http01_namespaces(env, http01),
            RoutingApi::GatewayApi => std::collections::BTreeMap::new(),
        };
        for ns in solvers.into_keys() {
            out.push(Link {
                from: End::Pods(controller.clone()),
                to: End::Pods(solver_group(ns)),
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
