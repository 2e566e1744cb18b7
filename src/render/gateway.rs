//! Gateway API objects: a gateway's unit (the Gateway with one listener per
//! host, the cert-manager Certificates of its HTTPS listeners, the route
//! that redirects plain HTTP to HTTPS) and an app's routes (`HTTPRoute`,
//! `GRPCRoute` for gRPC ports) attached to their listeners by `sectionName`;
//! an app's rate limit as Envoy Gateway's `BackendTrafficPolicy`; and the
//! internet's way to the gateway's proxies.
//!
//! Everything a Gateway references lives in its own namespace (the
//! certificates' Secrets), and routes reference only their own app's
//! Service, so no reference crosses a namespace but route attachment, which
//! the listeners' `allowedRoutes` governs: Gateway API needs no
//! ReferenceGrant here ("All cross-namespace references in Gateway API (with
//! the exception of cross-namespace Gateway-route attachment) require a
//! ReferenceGrant", https://gateway-api.sigs.k8s.io/api-types/referencegrant).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::AppContext;
use super::labels;
use super::object::Object;
use crate::blueprint::model::Blueprint;
use crate::blueprint::routing::{
    self, Gateway, RateLimit, is_grpc_port, listener_host, routed_paths,
};
use crate::resolve::ResolvedEnv;
use crate::resolve::network::NetworkFacts;

use super::network::{End, Link};

/// The API version of the Gateway API kinds gitopsc writes (standard channel).
pub const GATEWAY_API: &str = "gateway.networking.k8s.io/v1";
const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";
/// The API version of Envoy Gateway's policy kinds.
pub const ENVOY_GATEWAY_API: &str = "gateway.envoyproxy.io/v1alpha1";
/// The listener plain HTTP arrives on when the gateway serves HTTPS.
pub const REDIRECT_LISTENER: &str = "http";

/// One listener of a gateway, for one host.
struct Listener {
    name: String,
    host: String,
    tls: bool,
}

/// `api.example.com` -> `api-example-com`; `*.example.com` -> `wildcard-example-com`.
fn slug(host: &str) -> String {
    match host.strip_prefix("*.") {
        Some(rest) => format!("wildcard-{}", rest.replace('.', "-")),
        None => host.replace('.', "-"),
    }
}

/// The cert-manager issuer of a gateway's certificates, if any.
fn issuer<'a>(bp: &'a Blueprint, gw: &'a Gateway) -> Option<&'a str> {
    gw.issuer
        .as_deref()
        .or(bp.defaults.ingress.issuer.as_deref())
}

fn listeners(bp: &Blueprint, name: &str, gw: &Gateway) -> Vec<Listener> {
    let tls = issuer(bp, gw).is_some();
    routing::listener_hosts(bp, name)
        .into_iter()
        .map(|host| Listener {
            name: format!("{}-{}", if tls { "https" } else { "http" }, slug(&host)),
            host,
            tls,
        })
        .collect()
}

/// The Secret holding the certificate of a gateway's listener for `host`.
pub fn certificate_secret(gateway: &str, host: &str) -> String {
    format!("{gateway}-{}-tls", slug(host))
}

/// The namespaces whose routes attach to the listener for `host`.
fn route_namespaces(env: &ResolvedEnv, name: &str, hosts: &[String], host: &str) -> Vec<String> {
    let namespaces: BTreeSet<String> = routing::routed_apps(&env.blueprint, name)
        .filter(|(_, _, ing)| {
            ing.hosts
                .iter()
                .any(|h| listener_host(hosts, h) == Some(host))
        })
        .filter_map(|(app, _, _)| env.components.get(app.as_str()))
        .map(|c| c.namespace.clone())
        .collect();
    namespaces.into_iter().collect()
}

fn allowed_routes(namespaces: &[String]) -> Value {
    if namespaces.is_empty() {
        return json!({"namespaces": {"from": "Same"}});
    }
    json!({"namespaces": {"from": "Selector", "selector": {"matchExpressions": [{
        "key": "kubernetes.io/metadata.name", "operator": "In", "values": namespaces,
    }]}}})
}

/// The GatewayClass gateway `name` names, when its implementation is one
/// gitopsc knows and no gateway before it (by name) already renders that
/// class: a cluster-scoped object, so it is rendered once per class.
fn gateway_class(env: &ResolvedEnv, name: &str) -> Option<Value> {
    let bp = &env.blueprint;
    let gw = &bp.gateways[name];
    let chart = bp.charts.get(&gw.controller)?;
    let controller = crate::resolve::known_charts::gateway_controller_name(&chart.chart)?;
    let first = bp.gateways.iter().find(|(_, g)| g.class == gw.class)?;
    if first.0 != name {
        return None;
    }
    let common = labels::common(bp);
    Some(json!({
        "apiVersion": GATEWAY_API,
        "kind": "GatewayClass",
        "metadata": labels::metadata(&gw.class, None, &common, &BTreeMap::new()),
        "spec": {"controllerName": controller},
    }))
}

/// The objects of gateway `name`'s unit.
pub fn render_gateway(env: &ResolvedEnv, name: &str) -> Vec<Object> {
    let bp = &env.blueprint;
    let gw = &bp.gateways[name];
    let namespace = env.components[name].namespace.as_str();
    let common = labels::common(bp);
    let metadata =
        |object: &str| labels::metadata(object, Some(namespace), &common, &BTreeMap::new());
    let listeners = listeners(bp, name, gw);
    let hosts: Vec<String> = listeners.iter().map(|l| l.host.clone()).collect();
    let mut specs: Vec<Value> = Vec::new();
    let serves_tls = listeners.iter().any(|l| l.tls);
    if serves_tls {
        specs.push(json!({
            "name": REDIRECT_LISTENER, "protocol": "HTTP", "port": 80,
            "allowedRoutes": allowed_routes(&[]),
        }));
    }
    let mut objects = Vec::new();
    for l in &listeners {
        let allowed = allowed_routes(&route_namespaces(env, name, &hosts, &l.host));
        let mut spec = json!({"name": l.name, "hostname": l.host, "allowedRoutes": allowed});
        if l.tls {
            let secret = certificate_secret(name, &l.host);
            spec["protocol"] = json!("HTTPS");
            spec["port"] = json!(443);
            spec["tls"] = json!({"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": secret}]});
            objects.push(json!({
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": metadata(&format!("{name}-{}", slug(&l.host))),
                "spec": {
                    "secretName": secret,
                    "dnsNames": [l.host],
                    "issuerRef": {"kind": "ClusterIssuer", "name": issuer(bp, gw)},
                },
            }));
        } else {
            spec["protocol"] = json!("HTTP");
            spec["port"] = json!(80);
        }
        specs.push(spec);
    }
    if let Some(class) = gateway_class(env, name) {
        objects.push(class);
    }
    objects.push(json!({
        "apiVersion": GATEWAY_API,
        "kind": "Gateway",
        "metadata": metadata(name),
        "spec": {"gatewayClassName": gw.class, "listeners": specs},
    }));
    if serves_tls {
        // Listeners with a host name are more specific than `http`, so this
        // route only sees requests no plain-HTTP listener takes
        // (https://gateway-api.sigs.k8s.io/guides/http-redirect-rewrite/).
        objects.push(json!({
            "apiVersion": GATEWAY_API,
            "kind": "HTTPRoute",
            "metadata": metadata(&format!("{name}-https-redirect")),
            "spec": {
                "parentRefs": [parent_ref(name, namespace, REDIRECT_LISTENER)],
                "rules": [{"filters": [{
                    "type": "RequestRedirect",
                    "requestRedirect": {"scheme": "https", "statusCode": 301},
                }]}],
            },
        }));
    }
    objects.into_iter().map(Object::new).collect()
}

fn parent_ref(gateway: &str, namespace: &str, section: &str) -> Value {
    json!({
        "group": GATEWAY_GROUP, "kind": "Gateway",
        "name": gateway, "namespace": namespace, "sectionName": section,
    })
}

/// An app's routes: an `HTTPRoute` for its HTTP paths, a `GRPCRoute` for
/// paths on a gRPC port (`/` for every service, `/pkg.Service` for one).
pub fn routes(cx: &AppContext, env: &ResolvedEnv) -> Vec<Value> {
    let Some(ing) = cx.app.ingress.as_ref() else {
        return Vec::new();
    };
    let bp = &env.blueprint;
    let Some((gateway, gw)) =
        routing::gateway_of(bp, ing).and_then(|g| bp.gateways.get_key_value(g))
    else {
        return Vec::new();
    };
    let Some(gateway_ns) = env.components.get(gateway).map(|c| c.namespace.as_str()) else {
        return Vec::new();
    };
    let tls = issuer(bp, gw).is_some();
    let hosts = routing::listener_hosts(bp, gateway);
    let sections: BTreeSet<String> = ing
        .hosts
        .iter()
        .filter_map(|h| listener_host(&hosts, h))
        .map(|h| format!("{}-{}", if tls { "https" } else { "http" }, slug(h)))
        .collect();
    let parents: Vec<Value> = sections
        .iter()
        .map(|s| parent_ref(gateway, gateway_ns, s))
        .collect();
    let (grpc, http): (Vec<_>, Vec<_>) = routed_paths(cx.app, ing)
        .into_iter()
        .partition(|(_, port)| is_grpc_port(port));
    let backend = |port: &str| json!([{"group": "", "kind": "Service", "name": cx.name, "port": cx.app.ports.get(port)}]);
    let mut out: Vec<Value> = Vec::new();
    for (kind, rules) in [
        (
            "HTTPRoute",
            http.iter()
                .map(|(path, port)| http_rule(path, backend(port)))
                .collect::<Vec<_>>(),
        ),
        (
            "GRPCRoute",
            grpc.iter()
                .map(|(path, port)| grpc_rule(path, backend(port)))
                .collect(),
        ),
    ] {
        if rules.is_empty() {
            continue;
        }
        out.push(json!({
            "apiVersion": GATEWAY_API,
            "kind": kind,
            "metadata": cx.metadata(cx.name, &BTreeMap::new()),
            "spec": {"parentRefs": parents, "hostnames": ing.hosts, "rules": rules},
        }));
    }
    if let Some(limit) = &ing.rate_limit {
        let targets: Vec<Value> = out
            .iter()
            .map(|r| json!({"group": GATEWAY_GROUP, "kind": r["kind"], "name": cx.name}))
            .collect();
        out.push(rate_limit_policy(cx, limit, targets));
    }
    out
}

/// Envoy Gateway's `BackendTrafficPolicy` holding a local (per-proxy) rate
/// limit for the app's routes, attached by `targetRefs`
/// (https://gateway.envoyproxy.io/docs/tasks/traffic/local-rate-limit/).
/// `type: Local` is deprecated in Envoy Gateway 1.9 in favour of `local`
/// alone, but releases before it require it, and 1.9 still accepts both.
fn rate_limit_policy(cx: &AppContext, limit: &RateLimit, targets: Vec<Value>) -> Value {
    json!({
        "apiVersion": ENVOY_GATEWAY_API,
        "kind": "BackendTrafficPolicy",
        "metadata": cx.metadata(cx.name, &BTreeMap::new()),
        "spec": {
            "targetRefs": targets,
            "rateLimit": {
                "type": "Local",
                "local": {"rules": [{"limit": {"requests": limit.requests, "unit": limit.unit.name()}}]},
            },
        },
    })
}

fn http_rule(path: &str, backends: Value) -> Value {
    json!({"matches": [{"path": {"type": "PathPrefix", "value": path}}], "backendRefs": backends})
}

/// `/` matches every gRPC service; `/pkg.Service` one service and
/// `/pkg.Service/Method` one method.
fn grpc_rule(path: &str, backends: Value) -> Value {
    let mut parts = path.trim_matches('/').splitn(2, '/');
    let service = parts.next().filter(|s| !s.is_empty());
    let method = parts.next().filter(|m| !m.is_empty());
    let Some(service) = service else {
        return json!({"backendRefs": backends});
    };
    let mut m = json!({"type": "Exact", "service": service});
    if let Some(method) = method {
        m["method"] = json!(method);
    }
    json!({"matches": [{"method": m}], "backendRefs": backends})
}

/// A gateway's proxies take traffic from anywhere on their listeners' ports.
pub fn internet_links(env: &ResolvedEnv, facts: &NetworkFacts) -> Vec<Link> {
    facts
        .gateways
        .values()
        .map(|proxies| {
            let ports: BTreeSet<u32> = env.components[&proxies.name]
                .ports
                .values()
                .copied()
                .collect();
            Link {
                from: End::block("0.0.0.0/0"),
                to: End::Pods(proxies.clone()),
                ports: ports.into_iter().collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_names_are_section_names() {
        assert_eq!(slug("api.example.com"), "api-example-com");
        assert_eq!(slug("*.example.com"), "wildcard-example-com");
    }

    #[test]
    fn grpc_paths_name_a_service_and_a_method() {
        let b = json!([]);
        assert_eq!(grpc_rule("/", b.clone()), json!({"backendRefs": []}));
        assert_eq!(
            grpc_rule("/shop.Cart", b.clone())["matches"][0]["method"],
            json!({"type": "Exact", "service": "shop.Cart"})
        );
        assert_eq!(
            grpc_rule("/shop.Cart/Add", b)["matches"][0]["method"],
            json!({"type": "Exact", "service": "shop.Cart", "method": "Add"})
        );
    }
}
