//! The blueprint's routing vocabulary: which routing API an environment
//! renders an app's `ingress:` as (Kubernetes Ingress, or Gateway API
//! routes), the `gateways:` those routes attach to, and the checks that
//! make every route attachable: a known gateway, a controller chart, and a
//! listener host for every route host.
//!
//! Kept apart from `model` because only routing needs these facts; `model`
//! holds the one-line hooks (`system.routing`, `gateways`), as do
//! `environments` (`routing`) and `ingress` (`gateway`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::collections::BTreeSet;

use super::locator::Locator;
use super::model::{App, Blueprint, Ingress};
use super::syntax::{is_dns_label, is_dns_subdomain};
use crate::error::{ErrorKind, Result};
use crate::pointer::{from_tokens, push};
use crate::suggest;

/// The API an app's `ingress:` renders as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RoutingApi {
    /// `networking.k8s.io/v1` Ingress objects, read by an ingress controller.
    #[default]
    Ingress,
    /// Gateway API: an `HTTPRoute` (or `GRPCRoute`) per app, attached to a
    /// Gateway rendered from `gateways:`.
    GatewayApi,
}

/// A Gateway API Gateway: its class, the chart that implements it, and
/// optionally the host names it serves.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gateway {
    /// `gatewayClassName` of the Gateway (e.g. `envoy-gateway`).
    pub class: String,
    /// The chart running the Gateway API implementation (e.g. Envoy
    /// Gateway's `gateway-helm`). The Gateway lives in its namespace, where
    /// the implementation runs the proxy pods.
    pub controller: String,
    /// Host names (`*.example.com` allowed) that get one HTTPS listener each;
    /// every routed host must fall under one. Default: one listener per host
    /// the apps routed here name.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// cert-manager ClusterIssuer of the listeners' certificates; defaults to
    /// `defaults.ingress.issuer`. Without an issuer the listeners serve HTTP.
    #[serde(default)]
    pub issuer: Option<String>,
}

/// A local rate limit on a route: each proxy admits `requests` per `unit`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    /// Requests admitted per `unit` (at least 1).
    pub requests: u32,
    pub unit: RateLimitUnit,
}

/// The intervals Envoy Gateway's `RateLimitUnit` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum RateLimitUnit {
    Second,
    Minute,
    Hour,
    Day,
}

impl RateLimitUnit {
    pub fn name(self) -> &'static str {
        match self {
            RateLimitUnit::Second => "Second",
            RateLimitUnit::Minute => "Minute",
            RateLimitUnit::Hour => "Hour",
            RateLimitUnit::Day => "Day",
        }
    }
}

/// The chart whose policy objects gitopsc renders rate limits as.
pub const ENVOY_GATEWAY_CHART: &str = "gateway-helm";

/// The name of the gateway an ingress attaches to: its own `gateway`, else
/// the only gateway the blueprint declares.
pub fn gateway_of<'a>(bp: &'a Blueprint, ing: &'a Ingress) -> Option<&'a str> {
    if let Some(name) = &ing.gateway {
        return Some(name);
    }
    match bp.gateways.keys().collect::<Vec<_>>().as_slice() {
        [only] => Some(only.as_str()),
        _ => None,
    }
}

/// `(path, port name)` pairs an ingress routes: its paths, or `/` on the default port.
pub fn routed_paths(app: &App, ing: &Ingress) -> Vec<(String, String)> {
    if ing.paths.is_empty() {
        return super::apps::default_port(app)
            .map(|p| ("/".to_string(), p.to_string()))
            .into_iter()
            .collect();
    }
    ing.paths
        .iter()
        .map(|(p, port)| (p.clone(), port.clone()))
        .collect()
}

/// Whether a port carries gRPC, by the `grpc` / `grpc-*` naming convention
/// Kubernetes and Istio use for a port's protocol.
pub fn is_grpc_port(name: &str) -> bool {
    name == "grpc" || name.starts_with("grpc-")
}

/// Whether listener host `listener` serves route host `host`. In Gateway
/// API a wildcard covers one or more leading labels
/// (https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.Hostname).
pub fn host_matches(listener: &str, host: &str) -> bool {
    match listener.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        None => listener == host,
    }
}

/// The most specific of `hosts` that serves `host`.
pub fn listener_host<'a>(hosts: &'a [String], host: &str) -> Option<&'a str> {
    hosts
        .iter()
        .filter(|l| host_matches(l, host))
        .max_by_key(|l| (!l.starts_with("*."), l.len()))
        .map(String::as_str)
}

/// The host names of a gateway's listeners: its own `hosts`, else every
/// host the apps routed to it name, sorted.
pub fn listener_hosts(bp: &Blueprint, name: &str) -> Vec<String> {
    if let Some(gw) = bp.gateways.get(name)
        && !gw.hosts.is_empty()
    {
        return gw.hosts.clone();
    }
    let hosts: std::collections::BTreeSet<String> = routed_apps(bp, name)
        .flat_map(|(_, _, ing)| ing.hosts.iter().cloned())
        .collect();
    hosts.into_iter().collect()
}

/// The apps routed through gateway `name`, with their ingress.
pub fn routed_apps<'a>(
    bp: &'a Blueprint,
    name: &'a str,
) -> impl Iterator<Item = (&'a String, &'a App, &'a Ingress)> {
    bp.apps.iter().filter_map(move |(app_name, app)| {
        let ing = app.ingress.as_ref()?;
        (gateway_of(bp, ing) == Some(name)).then_some((app_name, app, ing))
    })
}

/// Gateway API caps: listeners per Gateway, host names and rules per route
/// (the `maxItems` of the v1.6 standard CRDs).
const MAX_LISTENERS: usize = 64;
const MAX_ROUTE_HOSTNAMES: usize = 16;
const MAX_ROUTE_RULES: usize = 16;

/// The routing checks of one environment: every gateway names a chart and a
/// valid class, every routed app reaches a gateway whose listeners serve
/// its hosts, and nothing exceeds what the Gateway API CRDs accept.
pub fn check(bp: &Blueprint, api: RoutingApi, locator: &Locator) -> Result<()> {
    for (name, gw) in &bp.gateways {
        check_gateway(bp, locator, name, gw)?;
    }
    for (app_name, app) in &bp.apps {
        if let Some(ing) = &app.ingress {
            check_rate_limit(bp, api, locator, app_name, ing)?;
        }
    }
    if api != RoutingApi::GatewayApi {
        return Ok(());
    }
    for (app_name, app) in &bp.apps {
        if let Some(ing) = &app.ingress {
            check_route(bp, locator, app_name, ing)?;
        }
    }
    check_route_kinds_share_no_host(bp, locator)?;
    for name in bp.gateways.keys() {
        let listeners = listener_hosts(bp, name).len() + 1;
        if listeners > MAX_LISTENERS {
            return Err(locator
                .error(
                    ErrorKind::InvalidValue,
                    &from_tokens(["gateways", name.as_str()]),
                    format!(
                        "gateway `{name}` would need {listeners} listeners; a Gateway holds at most {MAX_LISTENERS}"
                    ),
                )
                .with_help("serve the hosts under a wildcard: `hosts: [\"*.example.com\"]`"));
        }
    }
    Ok(())
}

fn check_gateway(bp: &Blueprint, locator: &Locator, name: &str, gw: &Gateway) -> Result<()> {
    let at = from_tokens(["gateways", name]);
    if !is_dns_label(name) {
        return Err(crate::error::Error::at(
            ErrorKind::InvalidValue,
            locator.key(&at),
            format!("gateway name `{name}` is not a valid name"),
        )
        .with_help(
            "use lowercase letters, digits and `-`, starting and ending with a letter or digit",
        ));
    }
    if !is_dns_subdomain(&gw.class) {
        return Err(locator
            .error(
                ErrorKind::InvalidValue,
                &push(&at, "class"),
                format!("`{}` is not a GatewayClass name", gw.class),
            )
            .with_help("name the GatewayClass the implementation installs, e.g. `envoy-gateway`"));
    }
    if !bp.charts.contains_key(&gw.controller) {
        return Err(locator
            .error(
                ErrorKind::UnknownReference,
                &push(&at, "controller"),
                format!(
                    "gateway `{name}` is run by `{}`, which is not a chart",
                    gw.controller
                ),
            )
            .with_help(suggest::help_for(
                &gw.controller,
                "charts",
                bp.charts.keys().map(String::as_str),
            )));
    }
    for (i, host) in gw.hosts.iter().enumerate() {
        if !is_dns_subdomain(host.strip_prefix("*.").unwrap_or(host)) {
            return Err(locator
                .error(
                    ErrorKind::InvalidValue,
                    &push(&push(&at, "hosts"), &i.to_string()),
                    format!("`{host}` is not a host name"),
                )
                .with_help("use a lowercase DNS name, optionally starting with `*.`"));
        }
    }
    Ok(())
}

/// A rate limit is an Envoy Gateway policy: it needs Gateway API routing
/// through a gateway Envoy Gateway runs, and a limit that admits something.
fn check_rate_limit(
    bp: &Blueprint,
    api: RoutingApi,
    locator: &Locator,
    app_name: &str,
    ing: &Ingress,
) -> Result<()> {
    let Some(limit) = &ing.rate_limit else {
        return Ok(());
    };
    let at = from_tokens(["apps", app_name, "ingress", "rateLimit"]);
    if limit.requests == 0 {
        return Err(locator
            .error(
                ErrorKind::InvalidValue,
                &push(&at, "requests"),
                format!("`{app_name}`'s rate limit admits no request"),
            )
            .with_help(
                "allow at least one request per unit, e.g. `{requests: 100, unit: Second}`",
            ));
    }
    let controller = gateway_of(bp, ing)
        .and_then(|g| bp.gateways.get(g))
        .and_then(|g| bp.charts.get(&g.controller));
    let envoy = controller.is_some_and(|c| c.chart == ENVOY_GATEWAY_CHART);
    if api == RoutingApi::GatewayApi && (envoy || controller.is_none()) {
        return Ok(());
    }
    Err(locator
        .error(
            ErrorKind::InvalidValue,
            &at,
            format!("`{app_name}`'s rate limit needs Gateway API routing through Envoy Gateway"),
        )
        .with_help(
            "route the environment through a gateway whose controller is the `gateway-helm` chart, or drop the limit there with an overlay (`rateLimit: null`)",
        ))
}

fn check_route(bp: &Blueprint, locator: &Locator, app_name: &str, ing: &Ingress) -> Result<()> {
    let at = from_tokens(["apps", app_name, "ingress"]);
    let Some(gateway) = gateway_of(bp, ing) else {
        let message = if bp.gateways.is_empty() {
            format!(
                "`{app_name}` is routed through Gateway API, but the blueprint declares no `gateways:`"
            )
        } else {
            format!("`{app_name}` does not say which of several gateways routes it")
        };
        return Err(locator.error(ErrorKind::InvalidValue, &at, message).with_help(
            "declare `gateways: {public: {class: envoy-gateway, controller: <chart>}}`, and with several, `ingress.gateway: <name>`",
        ));
    };
    let Some(gw) = bp.gateways.get(gateway) else {
        return Err(locator
            .error(
                ErrorKind::UnknownReference,
                &push(&at, "gateway"),
                format!("`{app_name}` is routed through unknown gateway `{gateway}`"),
            )
            .with_help(suggest::help_for(
                gateway,
                "gateways",
                bp.gateways.keys().map(String::as_str),
            )));
    };
    for (i, host) in ing.hosts.iter().enumerate() {
        if !gw.hosts.is_empty() && listener_host(&gw.hosts, host).is_none() {
            return Err(locator
                .error(
                    ErrorKind::InvalidValue,
                    &push(&push(&at, "hosts"), &i.to_string()),
                    format!("no listener of gateway `{gateway}` serves host `{host}`"),
                )
                .with_help(format!(
                    "add `{host}` (or a wildcard over it) to `gateways.{gateway}.hosts`, which are {}",
                    gw.hosts.join(", ")
                )));
        }
    }
    if ing.hosts.len() > MAX_ROUTE_HOSTNAMES || ing.paths.len() > MAX_ROUTE_RULES {
        return Err(locator
            .error(
                ErrorKind::InvalidValue,
                &at,
                format!("`{app_name}`'s route would exceed Gateway API's {MAX_ROUTE_HOSTNAMES} host names or {MAX_ROUTE_RULES} rules"),
            )
            .with_help("split the hosts or paths over fewer entries"));
    }
    Ok(())
}

/// Whether two route host names can name the same request host: equal, or
/// one wildcard covering the other (`*.example.com` and `api.example.com`,
/// or `*.example.com` and `*.eu.example.com`).
fn hosts_intersect(a: &str, b: &str) -> bool {
    a == b || host_matches(a, b) || host_matches(b, a)
}

/// An HTTPRoute and a GRPCRoute attached to one listener with a host in
/// common are a conflict Gateway API resolves by accepting only one of
/// them (the older), so half of the routing would silently vanish on the
/// cluster; the v1.6 GRPCRoute CRD's `hostnames` field states the rule
/// (https://gateway-api.sigs.k8s.io/reference/spec/#grpcroutespec, GEP-1016).
/// Refused here, naming both apps, so the fix (a host of its own for the
/// gRPC API) is made before anything deploys.
fn check_route_kinds_share_no_host(bp: &Blueprint, locator: &Locator) -> Result<()> {
    let mut routes: Vec<(&str, &str, bool, &str)> = Vec::new();
    for gateway in bp.gateways.keys() {
        for (app_name, app, ing) in routed_apps(bp, gateway) {
            let kinds: BTreeSet<bool> = routed_paths(app, ing)
                .iter()
                .map(|(_, port)| is_grpc_port(port))
                .collect();
            for grpc in kinds {
                for host in &ing.hosts {
                    routes.push((gateway.as_str(), app_name.as_str(), grpc, host.as_str()));
                }
            }
        }
    }
    for (i, &(gateway, http_app, grpc, host)) in routes.iter().enumerate() {
        if grpc {
            continue;
        }
        let clash = routes
            .iter()
            .enumerate()
            .find(|&(j, &(g, _, other_grpc, other_host))| {
                j != i && g == gateway && other_grpc && hosts_intersect(host, other_host)
            });
        if let Some((_, &(_, grpc_app, _, grpc_host))) = clash {
            let (who, help) = if grpc_app == http_app {
                (
                    format!("`{http_app}` routes both HTTP and gRPC"),
                    format!(
                        "route only `{http_app}`'s gRPC paths or only its HTTP paths through the gateway (`ingress.paths`), or serve gRPC from an app with a host of its own"
                    ),
                )
            } else {
                (
                    format!("`{http_app}` routes HTTP and `{grpc_app}` routes gRPC"),
                    format!(
                        "serve `{grpc_app}`'s gRPC API on a host no HTTP route of the gateway names (`{http_app}` names `{host}`)"
                    ),
                )
            };
            return Err(locator
                .error(
                    ErrorKind::InvalidValue,
                    &from_tokens(["apps", grpc_app, "ingress", "hosts"]),
                    format!(
                        "{who} on host `{grpc_host}` through gateway `{gateway}`: Gateway API accepts only one of an HTTPRoute and a GRPCRoute sharing a listener host"
                    ),
                )
                .with_help(help));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_or_more_labels_but_not_the_apex() {
        assert!(host_matches("*.example.com", "api.example.com"));
        assert!(host_matches("*.example.com", "a.b.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(!host_matches("*.example.com", "badexample.com"));
        assert!(host_matches("api.example.com", "api.example.com"));
        assert!(!host_matches("api.example.com", "web.example.com"));
    }

    #[test]
    fn the_most_specific_listener_wins() {
        let hosts = vec!["*.example.com".to_string(), "api.example.com".to_string()];
        assert_eq!(
            listener_host(&hosts, "api.example.com"),
            Some("api.example.com")
        );
        assert_eq!(
            listener_host(&hosts, "web.example.com"),
            Some("*.example.com")
        );
        assert_eq!(listener_host(&hosts, "example.org"), None);
    }

    #[test]
    fn route_hosts_intersect_through_wildcards() {
        assert!(hosts_intersect("api.example.com", "api.example.com"));
        assert!(hosts_intersect("*.example.com", "api.example.com"));
        assert!(hosts_intersect("api.example.com", "*.example.com"));
        assert!(hosts_intersect("*.example.com", "*.eu.example.com"));
        assert!(!hosts_intersect("api.example.com", "grpc.example.com"));
    }

    #[test]
    fn grpc_ports_are_named_by_convention() {
        assert!(is_grpc_port("grpc"));
        assert!(is_grpc_port("grpc-api"));
        assert!(!is_grpc_port("http"));
        assert!(!is_grpc_port("grpcweb"));
    }
}
