//! Gateway API routing, held to what the schemas cannot see: walks over the
//! rendered objects (every route's backend Service and port exist, every
//! route host is served by a listener of its parent Gateway that admits the
//! route's namespace, every HTTPS listener's Secret is issued by a
//! Certificate in the Gateway's namespace, no reference crosses a namespace
//! without the ReferenceGrant Gateway API requires), the traffic the
//! NetworkPolicies allow, and a snapshot of a Gateway API system.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use gitopsc::reach::{self, Grant, Inventory, Matrix, declared};
use gitopsc::{blueprint, resolve, workspace};

use crate::support::{compile_project, projects, write_case};
use gitopsc::pointer::Lookup;

/// A shop behind Envoy Gateway: an HTTP app, an app with an HTTP and a gRPC
/// path in its own namespace, prod closed by default, and an environment
/// that keeps Ingress.
const SHOP: &str = r#"
-- blueprints/system.yaml --
system: {name: shop, routing: gateway-api}
gitops: {engine: flux, repo: https://github.com/acme/gitops.git}
layers: [infrastructure, apps]
environments:
  dev: {}
  prod: {network: default-deny, apiServer: {cidr: 10.0.0.10/32}}
  legacy: {routing: ingress}
defaults:
  ingress: {issuer: letsencrypt, class: nginx, controllerNamespace: ingress-nginx}
charts:
  cert-manager:
    layer: infrastructure
    repo: https://charts.jetstack.io
    chart: cert-manager
    version: 1.16.2
    provides: [cert-manager.io]
    uses: [kube-apiserver]
  envoy-gateway:
    layer: infrastructure
    namespace: envoy-gateway-system
    repo: oci://docker.io/envoyproxy
    chart: gateway-helm
    version: 1.5.0
    provides: [gateway.networking.k8s.io, gateway.envoyproxy.io]
    uses: [kube-apiserver]
gateways:
  public: {class: envoy-gateway, controller: envoy-gateway}
apps:
  web:
    layer: apps
    image: ghcr.io/acme/web:1.0.0
    ports: {http: 8080, metrics: 9090}
    ingress: {hosts: [shop.example.com, www.example.com]}
  cart:
    layer: apps
    namespace: cart
    image: ghcr.io/acme/cart:1.0.0
    ports: {http: 8080, grpc: 9090}
    ingress:
      hosts: [grpc.example.com]
      paths: {/shop.Cart: grpc}
      rateLimit: {requests: 100, unit: Second}
-- overlays/legacy.yaml --
apps:
  cart: {ingress: {rateLimit: null}}
"#;

fn shop() -> (tempfile::TempDir, gitopsc::tree::RenderedTree) {
    let dir = crate::support::tempdir();
    write_case(SHOP, dir.path());
    let tree = compile_project(dir.path());
    (dir, tree)
}

fn objects_of(tree: &gitopsc::tree::RenderedTree) -> BTreeMap<String, Vec<Value>> {
    reach::objects_by_env(tree.files().map(|(p, t)| (p.as_str(), t.as_str()))).unwrap()
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.at(pointer).and_then(Value::as_str).unwrap_or_default()
}

fn kind_of(v: &Value) -> &str {
    text(v, "/kind")
}

fn namespace_of(v: &Value) -> &str {
    text(v, "/metadata/namespace")
}

fn items<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.at(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn find<'a>(objects: &'a [Value], kind: &str, ns: &str, name: &str) -> Option<&'a Value> {
    objects
        .iter()
        .find(|o| kind_of(o) == kind && namespace_of(o) == ns && text(o, "/metadata/name") == name)
}

/// Whether listener host `listener` (maybe a wildcard) covers route host `host`.
fn covers(listener: &str, host: &str) -> bool {
    match listener.strip_prefix("*.") {
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => listener == host,
    }
}

/// Whether a listener's `allowedRoutes` admits routes from `ns` (the
/// Gateway itself lives in `gateway_ns`).
fn admits(listener: &Value, gateway_ns: &str, ns: &str) -> bool {
    match text(listener, "/allowedRoutes/namespaces/from") {
        "All" => true,
        "" | "Same" => ns == gateway_ns,
        "Selector" => items(
            listener,
            "/allowedRoutes/namespaces/selector/matchExpressions",
        )
        .iter()
        .any(|e| {
            text(e, "/key") == "kubernetes.io/metadata.name"
                && text(e, "/operator") == "In"
                && items(e, "/values").iter().any(|v| v.as_str() == Some(ns))
        }),
        _ => false,
    }
}

/// Every way the rendered Gateway API objects of one environment fail to
/// route, as messages.
/// An HTTPRoute and a GRPCRoute on the same listener (`sectionName`) with
/// intersecting host names: Gateway API accepts exactly one of the two, so
/// the other's traffic is lost (GRPCRoute `spec.hostnames` in the v1.6 CRD,
/// https://gateway-api.sigs.k8s.io/reference/spec/#grpcroutespec).
fn route_kind_conflicts(objects: &[Value]) -> Vec<String> {
    let mut attached: Vec<(&str, String, &str, &str)> = Vec::new();
    for route in objects
        .iter()
        .filter(|o| matches!(kind_of(o), "HTTPRoute" | "GRPCRoute"))
    {
        for parent in items(route, "/spec/parentRefs") {
            let listener = format!("{}/{}", text(parent, "/name"), text(parent, "/sectionName"));
            for host in items(route, "/spec/hostnames")
                .iter()
                .filter_map(Value::as_str)
            {
                attached.push((
                    kind_of(route),
                    listener.clone(),
                    host,
                    text(route, "/metadata/name"),
                ));
            }
        }
    }
    let mut out = Vec::new();
    for (kind, listener, host, name) in &attached {
        for (other_kind, other_listener, other_host, other) in &attached {
            let intersect = covers(host, other_host) || covers(other_host, host);
            if *kind == "HTTPRoute"
                && *other_kind == "GRPCRoute"
                && listener == other_listener
                && intersect
            {
                out.push(format!(
                    "HTTPRoute `{name}` and GRPCRoute `{other}` share listener `{listener}` on `{host}`"
                ));
            }
        }
    }
    out
}

fn routing_problems(objects: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for route in objects
        .iter()
        .filter(|o| matches!(kind_of(o), "HTTPRoute" | "GRPCRoute"))
    {
        let ns = namespace_of(route);
        let id = format!("{}/{ns}/{}", kind_of(route), text(route, "/metadata/name"));
        for rule in items(route, "/spec/rules") {
            for backend in items(rule, "/backendRefs") {
                let backend_ns = text(backend, "/namespace");
                if !backend_ns.is_empty() && backend_ns != ns {
                    out.push(format!(
                        "{id}: backend in `{backend_ns}` needs a ReferenceGrant"
                    ));
                }
                let port = backend.at("/port").and_then(Value::as_u64);
                let service = find(objects, "Service", ns, text(backend, "/name"));
                let served = service.is_some_and(|s| {
                    items(s, "/spec/ports")
                        .iter()
                        .any(|p| p.at("/port").and_then(Value::as_u64) == port)
                });
                if !served {
                    out.push(format!(
                        "{id}: no Service `{}` with port {port:?}",
                        text(backend, "/name")
                    ));
                }
            }
        }
        let hostnames: Vec<&str> = items(route, "/spec/hostnames")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let mut served: BTreeSet<&str> = BTreeSet::new();
        for parent in items(route, "/spec/parentRefs") {
            let gateway_ns = match text(parent, "/namespace") {
                "" => ns,
                other => other,
            };
            let Some(gateway) = find(objects, "Gateway", gateway_ns, text(parent, "/name")) else {
                out.push(format!(
                    "{id}: parent Gateway `{}` is not rendered",
                    text(parent, "/name")
                ));
                continue;
            };
            let section = text(parent, "/sectionName");
            let listeners: Vec<&Value> = items(gateway, "/spec/listeners")
                .iter()
                .filter(|l| section.is_empty() || text(l, "/name") == section)
                .collect();
            if listeners.is_empty() {
                out.push(format!("{id}: Gateway has no listener `{section}`"));
            }
            for l in &listeners {
                if !admits(l, gateway_ns, ns) {
                    out.push(format!(
                        "{id}: listener `{}` does not admit namespace `{ns}`",
                        text(l, "/name")
                    ));
                }
            }
            for host in &hostnames {
                let covered = listeners.iter().any(|l| {
                    let lh = text(l, "/hostname");
                    lh.is_empty() || covers(lh, host)
                });
                if covered {
                    served.insert(host);
                }
            }
        }
        // A route attaches to each listener its hosts intersect; every host
        // must be served by one of them (Gateway API's hostname matching).
        for host in hostnames.iter().filter(|h| !served.contains(*h)) {
            out.push(format!("{id}: no parent listener serves `{host}`"));
        }
    }
    out.extend(route_kind_conflicts(objects));
    for gateway in objects.iter().filter(|o| kind_of(o) == "Gateway") {
        let ns = namespace_of(gateway);
        for l in items(gateway, "/spec/listeners") {
            if text(l, "/protocol") != "HTTPS" {
                continue;
            }
            for cert in items(l, "/tls/certificateRefs") {
                let cert_ns = match text(cert, "/namespace") {
                    "" => ns,
                    other => other,
                };
                if cert_ns != ns {
                    out.push(format!(
                        "listener `{}`: Secret in `{cert_ns}` needs a ReferenceGrant",
                        text(l, "/name")
                    ));
                }
                let issued = objects.iter().any(|c| {
                    kind_of(c) == "Certificate"
                        && namespace_of(c) == cert_ns
                        && text(c, "/spec/secretName") == text(cert, "/name")
                        && items(c, "/spec/dnsNames")
                            .iter()
                            .any(|d| d.as_str() == Some(text(l, "/hostname")))
                });
                if !issued {
                    out.push(format!(
                        "listener `{}`: no Certificate for `{}` writes Secret `{}` in `{cert_ns}`",
                        text(l, "/name"),
                        text(l, "/hostname"),
                        text(cert, "/name")
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn every_route_of_every_project_reaches_a_backend_through_a_listener_that_admits_it() {
    let (_dir, tree) = shop();
    let mut trees = vec![("shop".to_string(), tree)];
    trees.extend(
        projects()
            .into_iter()
            .map(|(n, p)| (n, compile_project(&p))),
    );
    for (name, tree) in &trees {
        for (env, objects) in objects_of(tree) {
            let problems = routing_problems(&objects);
            assert!(
                problems.is_empty(),
                "{name}/{env}:\n{}",
                problems.join("\n")
            );
        }
    }
}

#[test]
fn the_walk_catches_a_missing_listener_a_closed_namespace_a_port_and_a_certificate() {
    let (_dir, tree) = shop();
    let prod = objects_of(&tree).remove("prod").unwrap();
    let broken = |edit: &dyn Fn(&mut Vec<Value>)| {
        let mut objects = prod.clone();
        edit(&mut objects);
        routing_problems(&objects).join("\n")
    };
    let gateway = |objects: &mut Vec<Value>| -> usize {
        objects
            .iter()
            .position(|o| kind_of(o) == "Gateway")
            .unwrap()
    };
    let no_listener = broken(&|o| {
        let g = gateway(o);
        let listeners = o[g]["spec"]["listeners"].as_array_mut().unwrap();
        listeners.retain(|l| l["hostname"] != "grpc.example.com");
    });
    assert!(
        no_listener.contains("no listener `https-grpc-example-com`"),
        "{no_listener}"
    );
    let closed = broken(&|o| {
        let g = gateway(o);
        for l in o[g]["spec"]["listeners"].as_array_mut().unwrap() {
            l["allowedRoutes"] = serde_json::json!({"namespaces": {"from": "Same"}});
        }
    });
    assert!(
        closed.contains("does not admit namespace `cart`"),
        "{closed}"
    );
    let wrong_port = broken(&|o| {
        let r = o.iter().position(|o| kind_of(o) == "GRPCRoute").unwrap();
        o[r]["spec"]["rules"][0]["backendRefs"][0]["port"] = 9999.into();
    });
    assert!(
        wrong_port.contains("no Service `cart` with port Some(9999)"),
        "{wrong_port}"
    );
    let shared_host = broken(&|o| {
        let r = o.iter().position(|o| kind_of(o) == "GRPCRoute").unwrap();
        let mut http = o[r].clone();
        http["kind"] = "HTTPRoute".into();
        http["metadata"]["name"] = "cart-rest".into();
        o.push(http);
    });
    assert!(
        shared_host.contains("HTTPRoute `cart-rest` and GRPCRoute `cart` share listener"),
        "{shared_host}"
    );
    let no_cert = broken(&|o| o.retain(|o| kind_of(o) != "Certificate"));
    assert!(
        no_cert.contains("no Certificate for `www.example.com`"),
        "{no_cert}"
    );
}

#[test]
fn routes_attach_by_section_and_need_no_reference_grant() {
    let (_dir, tree) = shop();
    let envs = objects_of(&tree);
    let prod = &envs["prod"];
    let kinds: BTreeSet<&str> = prod.iter().map(kind_of).collect();
    assert!(!kinds.contains("Ingress"), "Gateway API replaces Ingress");
    // Routes in `apps` and `cart` attach to a Gateway in `envoy-gateway-system`:
    // attachment is governed by `allowedRoutes`, every other reference stays
    // in its namespace, so no ReferenceGrant is due
    // (https://gateway-api.sigs.k8s.io/api-types/referencegrant).
    assert!(!kinds.contains("ReferenceGrant"));
    // Envoy Gateway's chart installs no GatewayClass, so the Gateway's class
    // is rendered beside it, once (https://gateway.envoyproxy.io/docs/tasks/quickstart/).
    let classes: Vec<&Value> = prod
        .iter()
        .filter(|o| kind_of(o) == "GatewayClass")
        .collect();
    assert_eq!(classes.len(), 1);
    assert_eq!(text(classes[0], "/metadata/name"), "envoy-gateway");
    assert_eq!(
        text(classes[0], "/spec/controllerName"),
        "gateway.envoyproxy.io/gatewayclass-controller"
    );
    let gateway = prod.iter().find(|o| kind_of(o) == "Gateway").unwrap();
    assert_eq!(text(gateway, "/spec/gatewayClassName"), "envoy-gateway");
    // cart routes gRPC only: an HTTPRoute beside its GRPCRoute on the same
    // listener host would be a conflict the gateway resolves by dropping one.
    assert!(find(prod, "HTTPRoute", "cart", "cart").is_none());
    let cart = find(prod, "GRPCRoute", "cart", "cart").unwrap();
    assert_eq!(
        text(cart, "/spec/parentRefs/0/sectionName"),
        "https-grpc-example-com"
    );
    assert_eq!(
        text(cart, "/spec/parentRefs/0/namespace"),
        "envoy-gateway-system"
    );
    let grpc = find(prod, "GRPCRoute", "cart", "cart").unwrap();
    assert_eq!(
        text(grpc, "/spec/rules/0/matches/0/method/service"),
        "shop.Cart"
    );
    assert_eq!(grpc["spec"]["rules"][0]["backendRefs"][0]["port"], 9090);
    // The rate limit is one Envoy Gateway policy over cart's route.
    let limit = find(prod, "BackendTrafficPolicy", "cart", "cart").unwrap();
    assert_eq!(text(limit, "/apiVersion"), "gateway.envoyproxy.io/v1alpha1");
    let targets: BTreeSet<&str> = items(limit, "/spec/targetRefs")
        .iter()
        .map(|t| text(t, "/kind"))
        .collect();
    assert_eq!(targets, BTreeSet::from(["GRPCRoute"]));
    assert_eq!(
        limit["spec"]["rateLimit"]["local"]["rules"][0]["limit"],
        serde_json::json!({"requests": 100, "unit": "Second"})
    );
    let web = find(prod, "HTTPRoute", "apps", "web").unwrap();
    assert_eq!(
        items(web, "/spec/parentRefs").len(),
        2,
        "one parent per host's listener"
    );
    // Plain HTTP is redirected, with 301, from the host-less listener.
    let redirect = find(
        prod,
        "HTTPRoute",
        "envoy-gateway-system",
        "public-https-redirect",
    )
    .unwrap();
    assert_eq!(text(redirect, "/spec/parentRefs/0/sectionName"), "http");
    assert_eq!(
        redirect["spec"]["rules"][0]["filters"][0]["requestRedirect"],
        serde_json::json!({"scheme": "https", "statusCode": 301})
    );
    // The environment that keeps Ingress renders no Gateway API objects.
    let legacy: BTreeSet<&str> = envs["legacy"].iter().map(kind_of).collect();
    assert!(legacy.contains("Ingress"));
    assert!(!legacy.contains("Gateway") && !legacy.contains("HTTPRoute"));
}

#[test]
fn only_the_gateways_proxies_reach_the_routed_ports() {
    let (dir, tree) = shop();
    let sources = Arc::new(workspace::read_sources(dir.path()).unwrap());
    let project = blueprint::load(sources).unwrap();
    for (env, objects) in objects_of(&tree) {
        let resolved = resolve::resolve(&project, &env).unwrap();
        let mut inventory = Inventory::from_objects(objects.iter());
        inventory.add_model(&resolved);
        let actual = reach::matrix(&inventory);
        let expected = declared::expected(&resolved, &inventory);
        assert!(
            actual == expected,
            "{env}: rendered and declared matrices differ"
        );
        if env != "prod" {
            continue;
        }
        let allowed = |m: &Matrix, from: &str, to: &str, port: u32| {
            m.iter()
                .any(|g: &Grant| g.from == from && g.to == to && g.port.number == port)
        };
        assert!(allowed(&actual, "public", "web", 8080));
        assert!(allowed(&actual, "public", "cart", 9090));
        assert!(
            !allowed(&actual, "public", "web", 9090),
            "metrics are not routed"
        );
        assert!(
            allowed(&actual, "internet", "public", 10443),
            "Envoy listens on 443 + 10000"
        );
        assert!(
            allowed(&actual, "public", "envoy-gateway", 18000),
            "proxies fetch xDS"
        );
        let into_apps: BTreeSet<&str> = actual
            .iter()
            .filter(|g| g.to == "web" || g.to == "cart")
            .map(|g| g.from.as_str())
            .collect();
        assert_eq!(
            into_apps,
            BTreeSet::from(["public"]),
            "nothing else reaches the apps"
        );
    }
}

/// Under STRICT mTLS the gateway's proxies, outside the mesh, send
/// plaintext: the routed ports stay open to them, and only to them.
#[test]
fn a_meshed_app_behind_the_gateway_takes_the_proxies_plaintext_on_routed_ports() {
    let meshed = SHOP
        .replace(
            "system: {name: shop, routing: gateway-api}",
            "system: {name: shop, routing: gateway-api}\nmesh: {provider: istio, cni: true, controlPlane: istiod}",
        )
        .replace(
            "  prod: {network: default-deny, apiServer: {cidr: 10.0.0.10/32}}",
            "  prod: {network: default-deny, apiServer: {cidr: 10.0.0.10/32}, mesh: {mtls: strict}}",
        )
        // No ingress controller: the proxies are the only plaintext callers.
        .replace(
            "{issuer: letsencrypt, class: nginx, controllerNamespace: ingress-nginx}",
            "{issuer: letsencrypt}",
        )
        .replace(
            "charts:\n",
            "charts:\n  istiod: {layer: infrastructure, namespace: istio-system, repo: https://istio-release.storage.googleapis.com/charts, chart: istiod, version: 1.30.0, provides: [networking.istio.io, security.istio.io], uses: [kube-apiserver]}\n",
        );
    let dir = crate::support::tempdir();
    write_case(&meshed, dir.path());
    let prod = objects_of(&compile_project(dir.path()))
        .remove("prod")
        .unwrap();
    let authz = find(&prod, "AuthorizationPolicy", "cart", "cart").unwrap();
    let rules = items(authz, "/spec/rules");
    let plaintext = rules
        .iter()
        .find(|r| r.at("/from/0/source/notPrincipals").is_some())
        .unwrap_or_else(|| panic!("a rule for plaintext callers: {authz:#}"));
    let ports: BTreeSet<&str> = items(plaintext, "/to/0/operation/ports")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(ports, BTreeSet::from(["9090"]), "cart's routed port");
    let exception = find(&prod, "PeerAuthentication", "cart", "cart-plaintext")
        .unwrap_or_else(|| panic!("routed ports PERMISSIVE under STRICT"));
    assert_eq!(
        text(exception, "/spec/portLevelMtls/9090/mode"),
        "PERMISSIVE"
    );
}

#[test]
fn a_gateway_api_system_is_snapshotted() {
    let (_dir, tree) = shop();
    for (env, files) in &tree.envs {
        let mut text = String::new();
        for (file, body) in files
            .files
            .iter()
            .filter(|(f, _)| f.contains("/public/") || f.contains("/apps/") || f.contains("/cart/"))
        {
            text.push_str(&format!("--- {file}\n{body}"));
        }
        insta::assert_snapshot!(format!("gateway_shop__{env}"), text);
    }
}
