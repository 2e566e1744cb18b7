//! The network facts of one environment that policy rendering and the
//! reachability check both need: each namespace's posture, the ingress
//! controller's, the gateways' proxies and the scrapers' pods, the API server's address. Also the
//! checks that make a default-deny environment's traffic expressible:
//! every `uses` target serves a port, every `peers` entry names one, and an
//! ingress or an API client knows whom its policy names.

use std::collections::BTreeMap;

use crate::blueprint::Locator;
use crate::blueprint::model::{App, Blueprint, NetworkPosture};
use crate::blueprint::network::{ApiServer, KUBE_APISERVER};
use crate::blueprint::routing::{self, RoutingApi};
use crate::blueprint::syntax::is_cidr;
use crate::error::{ErrorKind, Result};
use crate::pointer::push;
use crate::suggest;

use super::known_charts;
use super::{Component, ComponentKind, EnvSettings, ResolvedEnv};

/// The API group whose CRDs mark a chart as the monitoring stack.
pub const MONITORING_GROUP: &str = "monitoring.coreos.com";

/// The name the matrix gives the monitoring stack's Prometheus pods.
pub const SCRAPER: &str = "prometheus";

/// The name the matrix gives an ingress controller that is not a component.
pub const EXTERNAL_CONTROLLER: &str = "ingress-controller";

/// Pods a rule names: where they run and their labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodGroup {
    pub name: String,
    pub namespace: String,
    pub selector: BTreeMap<String, String>,
}

/// Who reaches apps from outside their `uses` graph.
#[derive(Debug, Clone, Default)]
pub struct NetworkFacts {
    pub ingress_controller: Option<PodGroup>,
    /// Under Gateway API routing: each gateway's proxy pods, when known.
    pub gateways: BTreeMap<String, PodGroup>,
    pub routing: RoutingApi,
    pub scraper: Option<PodGroup>,
    pub api_server: Option<ApiServer>,
}

impl NetworkFacts {
    /// The pods that carry outside traffic to `app`'s ingress: its
    /// gateway's proxies under Gateway API routing, else the ingress controller.
    pub fn router(&self, bp: &Blueprint, app: &App) -> Option<&PodGroup> {
        let ing = app.ingress.as_ref()?;
        match self.routing {
            RoutingApi::Ingress => self.ingress_controller.as_ref(),
            RoutingApi::GatewayApi => self.gateways.get(routing::gateway_of(bp, ing)?),
        }
    }
}

/// The posture of `namespace`: its own setting, else the environment's.
/// Every component whose admission webhooks the API server calls, with
/// their ports: well-known charts (`known_charts::webhook_ports`), then the
/// mesh control planes (`mesh::webhook_edges`). The one list both the
/// policy renderer and `reach::declared` read.
pub fn webhook_callees(env: &ResolvedEnv) -> Vec<(&Component, &'static [u32])> {
    let charts = env
        .components
        .values()
        .filter(|c| c.kind == ComponentKind::Chart)
        .filter_map(|c| {
            let chart = env.blueprint.charts.get(&c.name)?;
            let ports = known_charts::webhook_ports(&chart.chart);
            (!ports.is_empty()).then_some((c, ports))
        });
    charts.chain(super::mesh::webhook_edges(env)).collect()
}

pub fn posture(bp: &Blueprint, settings: &EnvSettings, namespace: &str) -> NetworkPosture {
    bp.namespaces
        .get(namespace)
        .and_then(|s| s.network)
        .unwrap_or(settings.network)
}

pub fn facts(env: &ResolvedEnv) -> NetworkFacts {
    facts_of(&env.blueprint, &env.settings, &env.components)
}

fn facts_of(
    bp: &Blueprint,
    settings: &EnvSettings,
    components: &BTreeMap<String, Component>,
) -> NetworkFacts {
    let scraper = bp
        .charts
        .iter()
        .find(|(_, c)| c.provides.iter().any(|g| g == MONITORING_GROUP))
        .and_then(|(name, c)| {
            Some(PodGroup {
                name: SCRAPER.to_string(),
                namespace: components.get(name)?.namespace.clone(),
                selector: if c.scrapers.is_empty() {
                    BTreeMap::from([(
                        "app.kubernetes.io/name".to_string(),
                        "prometheus".to_string(),
                    )])
                } else {
                    c.scrapers.clone()
                },
            })
        });
    let ing = &bp.defaults.ingress;
    let ingress_controller = match (&ing.controller, &ing.controller_namespace) {
        (Some(controller), _) => components.get(controller).map(|c| PodGroup {
            name: c.name.clone(),
            namespace: c.namespace.clone(),
            selector: c.selector.clone(),
        }),
        (None, Some(ns)) => {
            let selector = if ing.controller_selector.is_empty() {
                ing.class
                    .as_deref()
                    .and_then(known_charts::controller_by_class)
            } else {
                Some(ing.controller_selector.clone())
            };
            selector.map(|selector| PodGroup {
                name: EXTERNAL_CONTROLLER.to_string(),
                namespace: ns.clone(),
                selector,
            })
        }
        (None, None) => None,
    };
    let gateways = components
        .values()
        .filter(|c| c.kind == ComponentKind::Gateway && !c.selector.is_empty())
        .map(|c| {
            let proxies = PodGroup {
                name: c.name.clone(),
                namespace: c.namespace.clone(),
                selector: c.selector.clone(),
            };
            (c.name.clone(), proxies)
        })
        .collect();
    NetworkFacts {
        ingress_controller,
        gateways,
        routing: settings.routing,
        scraper,
        api_server: settings.api_server.clone(),
    }
}

/// The checks that need placed components and the environment's postures.
pub fn check(
    bp: &Blueprint,
    settings: &EnvSettings,
    components: &BTreeMap<String, Component>,
    locator: &Locator,
) -> Result<()> {
    let facts = facts_of(bp, settings, components);
    if let Some(api) = &settings.api_server {
        let at = crate::pointer::from_tokens(["environments", settings.name.as_str(), "apiServer"]);
        if !is_ipv4_cidr(&api.cidr) {
            return Err(locator
                .error(
                    ErrorKind::InvalidValue,
                    &push(&at, "cidr"),
                    format!("`{}` is not an IPv4 CIDR block", api.cidr),
                )
                .with_help(
                    "write the control plane's addresses like `10.0.0.10/32` or `10.0.0.0/24`",
                ));
        }
        if !(1..=65535).contains(&api.port) {
            return Err(locator
                .error(
                    ErrorKind::InvalidValue,
                    &push(&at, "port"),
                    format!("port {} is out of range", api.port),
                )
                .with_help("ports run from 1 to 65535"));
        }
    }
    for c in components.values() {
        check_component(bp, settings, components, locator, &facts, c)?;
    }
    for (name, app) in &bp.apps {
        let c = &components[name];
        let closed = posture(bp, settings, &c.namespace) == NetworkPosture::DefaultDeny;
        if app.ingress.is_some() && closed && facts.router(bp, app).is_none() {
            if facts.routing == RoutingApi::GatewayApi {
                return Err(no_proxies(bp, settings, locator, name, &c.pointer));
            }
            return Err(no_controller(
                bp,
                settings,
                locator,
                name,
                &push(&c.pointer, "ingress"),
            ));
        }
    }
    for (name, c) in components {
        let closed = posture(bp, settings, &c.namespace) == NetworkPosture::DefaultDeny;
        if !c.routes.is_empty() && closed && facts.ingress_controller.is_none() {
            return Err(no_controller(
                bp,
                settings,
                locator,
                name,
                &push(&c.pointer, "routes"),
            ));
        }
    }
    Ok(())
}

/// The error for traffic an ingress controller should bring, when none is known.
fn no_controller(
    bp: &Blueprint,
    settings: &EnvSettings,
    locator: &Locator,
    name: &str,
    at: &str,
) -> crate::error::Error {
    let help = match (&bp.defaults.ingress.controller_namespace, &bp.defaults.ingress.class) {
        (Some(_), class) => format!(
            "no pod labels are known for ingress class `{}`: set `defaults.ingress.controllerSelector` to the labels of the controller's pods",
            class.as_deref().unwrap_or("")
        ),
        (None, _) => "name the controller: `defaults.ingress.controller: <chart>` when it is a component, or `defaults.ingress.controllerNamespace` and `class` (or `controllerSelector`) when it runs outside the blueprint".to_string(),
    };
    locator
        .error(
            ErrorKind::InvalidValue,
            at,
            format!(
                "`{name}` is routed by an ingress, but environment `{}` denies all traffic by default and no ingress controller is known to let in",
                settings.name
            ),
        )
        .with_help(help)
}

/// The error for a route in a closed namespace whose gateway's proxies no one can name.
fn no_proxies(
    bp: &Blueprint,
    settings: &EnvSettings,
    locator: &Locator,
    name: &str,
    app_at: &str,
) -> crate::error::Error {
    let gateway = bp.apps[name]
        .ingress
        .as_ref()
        .and_then(|ing| routing::gateway_of(bp, ing))
        .unwrap_or_default();
    let controller = bp
        .gateways
        .get(gateway)
        .map(|g| g.controller.as_str())
        .unwrap_or_default();
    locator
        .error(
            ErrorKind::InvalidValue,
            &push(app_at, "ingress"),
            format!(
                "`{name}` is routed through gateway `{gateway}`, but environment `{}` denies all traffic by default and the pods of its proxies are not known",
                settings.name
            ),
        )
        .with_help(format!(
            "gitopsc knows the proxies of Envoy Gateway (`chart: gateway-helm`); `{controller}` is another implementation"
        ))
}

fn check_component(
    bp: &Blueprint,
    settings: &EnvSettings,
    components: &BTreeMap<String, Component>,
    locator: &Locator,
    facts: &NetworkFacts,
    c: &Component,
) -> Result<()> {
    for u in &c.uses {
        if u.target == KUBE_APISERVER {
            let closed = posture(bp, settings, &c.namespace) == NetworkPosture::DefaultDeny;
            if closed && facts.api_server.is_none() {
                return Err(locator
                    .error(
                        ErrorKind::InvalidValue,
                        &u.pointer,
                        format!(
                            "`{}` uses the Kubernetes API, but environment `{}` does not say where the API server is",
                            c.name, settings.name
                        ),
                    )
                    .with_help(format!(
                        "add `environments.{}.apiServer: {{cidr: <control plane addresses>, port: 6443}}` (see `kubectl get endpoints kubernetes`)",
                        settings.name
                    )));
            }
            continue;
        }
        let Some(target) = components.get(&u.target) else {
            continue;
        };
        for end in [c, target] {
            require_selector(locator, end, &u.pointer)?;
        }
        if target.ports.is_empty() {
            return Err(locator
                .error(
                    ErrorKind::InvalidValue,
                    &u.pointer,
                    format!(
                        "`{}` uses `{}`, which declares no ports, so no policy can say what it opens",
                        c.name, target.name
                    ),
                )
                .with_help(format!(
                    "add `ports:` to `{}` (e.g. `ports: {{http: 8080}}`)",
                    target.name
                )));
        }
    }
    if !c.peers.is_empty() {
        require_selector(locator, c, &push(&push(&c.pointer, "peers"), "0"))?;
    }
    let named = c
        .peers
        .iter()
        .enumerate()
        .map(|(i, p)| ("peers", i, p))
        .chain(c.routes.iter().enumerate().map(|(i, p)| ("routes", i, p)));
    for (key, i, port) in named {
        if !c.ports.contains_key(port) {
            return Err(locator
                .error(
                    ErrorKind::UnknownReference,
                    &push(&push(&c.pointer, key), &i.to_string()),
                    format!("`{}` has no port named `{port}`", c.name),
                )
                .with_help(suggest::help_for(
                    port,
                    "ports",
                    c.ports.keys().map(String::as_str),
                )));
        }
    }
    for (cidr, ports) in &c.egress {
        let at = push(&push(&c.pointer, "egress"), cidr);
        if !is_cidr(cidr) {
            return Err(locator
                .error(
                    ErrorKind::InvalidValue,
                    &at,
                    format!("`{cidr}` is not a CIDR block"),
                )
                .with_help("write an IPv4 or IPv6 block like `10.0.0.0/8` or `0.0.0.0/0`"));
        }
        if let Some(bad) = ports.iter().find(|p| !(1..=65535).contains(*p)) {
            return Err(locator
                .error(
                    ErrorKind::InvalidValue,
                    &at,
                    format!("port {bad} is out of range"),
                )
                .with_help("ports run from 1 to 65535"));
        }
    }
    Ok(())
}

/// A policy about pods nobody can name would select every pod of the namespace.
fn require_selector(locator: &Locator, c: &Component, at: &str) -> Result<()> {
    if c.selector.is_empty() {
        return Err(locator
            .error(
                ErrorKind::InvalidValue,
                at,
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

fn is_ipv4_cidr(text: &str) -> bool {
    is_cidr(text)
        && text
            .split_once('/')
            .is_some_and(|(a, _)| a.parse::<std::net::Ipv4Addr>().is_ok())
}
