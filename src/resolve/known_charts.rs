//! What gitopsc knows about common charts' pods, so a blueprint need not
//! spell it out: the labels of the pods a network rule means, and the
//! ports they serve, and the proxy pods a Gateway API implementation runs
//! for each Gateway. A chart's own `selector` and `ports` replace these.

use std::collections::BTreeMap;

/// Pod labels and ports of one well-known chart.
pub struct KnownChart {
    pub selector: BTreeMap<String, String>,
    pub ports: BTreeMap<String, u32>,
    /// The chart's install hooks that call the API server but that
    /// `selector` does not cover, by a name for each: under default-deny
    /// egress a hook that cannot reach the API server fails the install.
    pub hooks: Vec<(&'static str, BTreeMap<String, String>)>,
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ports(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// The defaults for chart `chart` installed as `release` in `namespace`.
pub fn known(chart: &str, release: &str, namespace: &str) -> Option<KnownChart> {
    match chart {
        // The controller pods only: labels and the container ports `http`
        // and `https` of the chart's controller Deployment. Its admission
        // webhook's certificate jobs (pre-install and post-install hooks,
        // `admission-webhooks/job-patch/`) are labelled `component:
        // admission-webhook` and write a Secret and patch the webhook.
        "ingress-nginx" => Some(KnownChart {
            selector: labels(&[
                ("app.kubernetes.io/name", "ingress-nginx"),
                ("app.kubernetes.io/instance", release),
                ("app.kubernetes.io/component", "controller"),
            ]),
            ports: ports(&[("http", 80), ("https", 443)]),
            hooks: vec![(
                "admission",
                labels(&[
                    ("app.kubernetes.io/name", "ingress-nginx"),
                    ("app.kubernetes.io/instance", release),
                    ("app.kubernetes.io/component", "admission-webhook"),
                ]),
            )],
        }),
        // The traefik chart labels its pods `<release>-<namespace>` and
        // listens on 8000 (web) and 8443 (websecure).
        "traefik" => Some(KnownChart {
            selector: labels(&[
                ("app.kubernetes.io/name", "traefik"),
                (
                    "app.kubernetes.io/instance",
                    &format!("{release}-{namespace}"),
                ),
            ]),
            ports: ports(&[("web", 8000), ("websecure", 8443)]),
            hooks: Vec::new(),
        }),
        // The operator pod, not the PostgreSQL instances it creates.
        "cloudnative-pg" => Some(KnownChart {
            selector: labels(&[
                ("app.kubernetes.io/name", "cloudnative-pg"),
                ("app.kubernetes.io/instance", release),
            ]),
            ports: BTreeMap::new(),
            hooks: Vec::new(),
        }),
        // istiod's pods, as its Service selects them; 15012 serves xDS and
        // certificates to proxies, 15017 the injection and validation webhooks.
        "istiod" => Some(KnownChart {
            selector: labels(&[("app", "istiod")]),
            ports: ports(&[
                ("grpc-xds", 15010),
                ("https-dns", 15012),
                ("https-webhook", 15017),
            ]),
            hooks: Vec::new(),
        }),
        // Istio's CNI node agent: the chart's DaemonSet selects its pods by
        // `k8s-app: istio-cni-node`; it watches pods through the API server.
        "cni" => Some(KnownChart {
            selector: labels(&[("k8s-app", "istio-cni-node")]),
            ports: ports(&[]),
            hooks: Vec::new(),
        }),
        // Ambient's node proxy: the chart's DaemonSet labels its pods
        // `app: ztunnel`; it serves nothing the blueprint routes to.
        "ztunnel" => Some(KnownChart {
            selector: labels(&[("app", "ztunnel")]),
            ports: ports(&[]),
            hooks: Vec::new(),
        }),
        // Every pod of the Linkerd control plane carries its namespace in
        // this label: identity 8080, destination 8086, policy 8090.
        "linkerd-control-plane" => Some(KnownChart {
            selector: labels(&[("linkerd.io/control-plane-ns", namespace)]),
            ports: ports(&[("identity", 8080), ("destination", 8086), ("policy", 8090)]),
            hooks: Vec::new(),
        }),
        // Envoy Gateway's controller: the chart's Deployment labels its pods
        // `control-plane: envoy-gateway`; proxies fetch their configuration
        // from it over xDS on 18000 (the `envoy-gateway` Service's `grpc` port).
        // Its pre-install `certgen` Job, which writes the control plane's
        // certificates, labels its pod `app: certgen` and nothing else
        // (`templates/certgen.yaml`).
        "gateway-helm" => Some(KnownChart {
            selector: labels(&[
                ("control-plane", "envoy-gateway"),
                ("app.kubernetes.io/instance", release),
            ]),
            ports: ports(&[("xds", XDS_PORT)]),
            hooks: vec![("certgen", labels(&[("app", "certgen")]))],
        }),
        _ => None,
    }
}

/// The ports on which the API server calls a well-known chart's admission
/// webhooks, on pods the chart's default selector (its release's
/// `app.kubernetes.io/instance`, or the controller's labels) already
/// covers. Each of these webhooks fails closed, so under default-deny an
/// unreachable one refuses every object it admits:
/// cert-manager's webhook (`webhook.securePort`, 10250:
/// https://cert-manager.io/docs/installation/best-practice/#network-requirements),
/// External Secrets' (`webhook.port`, 10250), CloudNativePG's operator
/// (9443, its webhook server), ingress-nginx's controller admission
/// webhook (`controller.admissionWebhooks.port`, 8443), Kyverno's
/// admission controller (9443) and kube-prometheus-stack's Prometheus
/// Operator, which admits PrometheusRules and AlertmanagerConfigs on its
/// TLS port (`prometheusOperator.tls.internalPort`, 10250); its patch job
/// turns that webhook's failure policy to `Fail` once the certificate is in.
/// Sealed Secrets' controller is no webhook, but `kubeseal` reaches its
/// HTTP port (8080) through the API server's service proxy to fetch the
/// sealing certificate (https://github.com/bitnami-labs/sealed-secrets#usage),
/// so the API server calls it the same way.
pub fn webhook_ports(chart: &str) -> &'static [u32] {
    match chart {
        "sealed-secrets" => &[8080],
        "cert-manager" | "external-secrets" | "kube-prometheus-stack" => &[10250],
        "cloudnative-pg" | "kyverno" => &[9443],
        "ingress-nginx" => &[8443],
        _ => &[],
    }
}

/// The `controllerName` a Gateway API implementation's GatewayClass names.
/// Envoy Gateway's chart installs the controller but no GatewayClass (its
/// quickstart applies one separately:
/// https://gateway.envoyproxy.io/docs/tasks/quickstart/), so without one
/// a Gateway is never accepted.
pub fn gateway_controller_name(chart: &str) -> Option<&'static str> {
    match chart {
        "gateway-helm" => Some("gateway.envoyproxy.io/gatewayclass-controller"),
        _ => None,
    }
}

/// Envoy Gateway's xDS port, which every proxy reaches.
pub const XDS_PORT: u32 = 18000;

/// The proxy pods a Gateway API implementation runs for one Gateway, and
/// the port of the controller they need.
pub struct KnownProxies {
    pub selector: BTreeMap<String, String>,
    /// Container ports of the HTTP and HTTPS listeners.
    pub ports: BTreeMap<String, u32>,
    /// The controller's port name the proxies reach.
    pub control_port: &'static str,
}

/// The proxies of Gateway `gateway` in `namespace`, run by chart `chart`.
pub fn gateway_proxies(chart: &str, gateway: &str, namespace: &str) -> Option<KnownProxies> {
    match chart {
        // Envoy Gateway runs a Gateway's proxies in its own namespace by
        // default, labelled with the owning Gateway
        // (https://gateway.envoyproxy.io/latest/tasks/operations/gateway-namespace-mode),
        // and shifts privileged listener ports by 10000 so Envoy binds
        // without NET_BIND_SERVICE: 80 -> 10080, 443 -> 10443
        // (envoyproxy/gateway#4981, internal/gatewayapi/helpers.go).
        "gateway-helm" => Some(KnownProxies {
            selector: labels(&[
                ("gateway.envoyproxy.io/owning-gateway-name", gateway),
                ("gateway.envoyproxy.io/owning-gateway-namespace", namespace),
            ]),
            ports: ports(&[("http", 10080), ("https", 10443)]),
            control_port: "xds",
        }),
        _ => None,
    }
}

/// Labels of an ingress controller that is not a component, by ingress class.
pub fn controller_by_class(class: &str) -> Option<BTreeMap<String, String>> {
    match class {
        // k3s and RKE2 run Traefik in kube-system with this label.
        "traefik" => Some(labels(&[("app.kubernetes.io/name", "traefik")])),
        "nginx" => Some(labels(&[
            ("app.kubernetes.io/name", "ingress-nginx"),
            ("app.kubernetes.io/component", "controller"),
        ])),
        _ => None,
    }
}
