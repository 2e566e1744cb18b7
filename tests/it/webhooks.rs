//! The API server reaches the charts' admission webhooks under default-deny.
//! cert-manager's, External Secrets', CloudNativePG's and ingress-nginx's
//! webhooks fail closed: with the port blocked, the API server refuses
//! every Certificate, ExternalSecret, Cluster or Ingress they admit
//! (cert-manager's network requirements name the webhook's port 10250 and
//! the API server as its caller:
//! https://cert-manager.io/docs/installation/best-practice/#network-requirements).

use std::collections::BTreeMap;
use std::path::Path;

use gitopsc::reach;
use serde_json::Value;

use crate::support::compile_project;

/// The ports each NetworkPolicy of `namespace` opens to the API server's block.
fn api_server_ports(objects: &[Value], namespace: &str, cidr: &str) -> BTreeMap<String, Vec<u64>> {
    let mut out = BTreeMap::new();
    for policy in objects
        .iter()
        .filter(|o| o["kind"] == "NetworkPolicy" && o["metadata"]["namespace"] == namespace)
    {
        for rule in policy["spec"]["ingress"].as_array().into_iter().flatten() {
            if rule["from"][0]["ipBlock"]["cidr"] != cidr {
                continue;
            }
            let ports = rule["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["port"].as_u64());
            out.entry(policy["metadata"]["name"].as_str().unwrap().to_string())
                .or_insert_with(Vec::new)
                .extend(ports);
        }
    }
    out
}

#[test]
fn the_api_server_reaches_every_known_charts_webhook_in_a_default_deny_namespace() {
    let tree = compile_project(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/maya"));
    let envs = reach::objects_by_env(tree.files().map(|(p, t)| (p.as_str(), t.as_str()))).unwrap();
    let opened = api_server_ports(&envs["prod"], "platform", "10.0.1.0/24");
    let expected: BTreeMap<String, Vec<u64>> = [
        ("ingress-cert-manager", vec![10250]),
        ("ingress-cloudnative-pg", vec![9443]),
        ("ingress-external-secrets", vec![10250]),
        ("ingress-ingress-nginx", vec![8443]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(opened, expected);
    // The Prometheus Operator admits PrometheusRules in the observability
    // namespace, closed to the others.
    let observability = api_server_ports(&envs["prod"], "observability", "10.0.1.0/24");
    assert_eq!(
        observability,
        BTreeMap::from([("ingress-kube-prometheus-stack".to_string(), vec![10250])])
    );
}

/// `kubeseal` fetches the sealing certificate through the API server's
/// service proxy (https://github.com/bitnami-labs/sealed-secrets#usage), so
/// in naratecho's default-deny prod the API server reaches the controller's
/// HTTP port, and nothing else of it.
#[test]
fn kubeseal_reaches_the_sealed_secrets_controller_through_the_api_server() {
    let tree = compile_project(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/naratecho"));
    let envs = reach::objects_by_env(tree.files().map(|(p, t)| (p.as_str(), t.as_str()))).unwrap();
    let opened = api_server_ports(&envs["prod"], "sealed-secrets", "192.168.1.10/32");
    assert_eq!(
        opened,
        BTreeMap::from([("ingress-sealed-secrets".to_string(), vec![8080])])
    );
}

/// A pod of `namespace` with `labels`, as the chart's templates label it.
fn hook_pod(namespace: &str, labels: &[(&str, &str)]) -> reach::Endpoint {
    reach::Endpoint {
        name: "hook".to_string(),
        place: reach::Place::Pods {
            namespace: namespace.to_string(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        },
        ports: Vec::new(),
    }
}

/// Whether the rendered policies of `env` let `pod` open a connection to the
/// API server at `address:port`.
fn reaches_api(objects: &[Value], pod: &reach::Endpoint, address: &str, port: u32) -> bool {
    let inventory = reach::Inventory::from_objects(objects.iter());
    let api = reach::Endpoint {
        name: "kube-apiserver".to_string(),
        place: reach::Place::Address(address.parse().unwrap()),
        ports: vec![reach::Port::tcp(port, None)],
    };
    inventory
        .policies
        .allows(pod, &api, &reach::Port::tcp(port, None))
}

/// A chart's install hooks call the API server, and under default-deny
/// egress a hook that cannot reach it fails the Helm install (and with it the
/// HelmRelease or Argo CD sync). ingress-nginx's admission certificate jobs
/// label their pods `app.kubernetes.io/component: admission-webhook`
/// (charts/ingress-nginx/templates/admission-webhooks/job-patch/); Envoy
/// Gateway's pre-install certgen job labels its pod `app: certgen` alone
/// (charts/gateway-helm/templates/certgen.yaml). Neither is the controller.
#[test]
fn chart_install_hooks_reach_the_api_server_under_default_deny() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let objects = |example: &str| {
        let tree = compile_project(&root.join(example));
        let mut envs =
            reach::objects_by_env(tree.files().map(|(p, t)| (p.as_str(), t.as_str()))).unwrap();
        envs.remove("prod").unwrap()
    };
    let nginx_job = |ns: &str| {
        hook_pod(
            ns,
            &[
                ("app.kubernetes.io/name", "ingress-nginx"),
                ("app.kubernetes.io/instance", "ingress-nginx"),
                ("app.kubernetes.io/component", "admission-webhook"),
                ("app.kubernetes.io/part-of", "ingress-nginx"),
            ],
        )
    };
    let maya = objects("maya");
    assert!(reaches_api(
        &maya,
        &nginx_job("platform"),
        "10.0.1.10",
        6443
    ));
    let hybrid = objects("hybrid");
    assert!(reaches_api(
        &hybrid,
        &nginx_job("ingress-nginx"),
        "203.0.113.10",
        443
    ));
    let naratecho = objects("naratecho");
    let certgen = hook_pod("envoy-gateway-system", &[("app", "certgen")]);
    assert!(reaches_api(&naratecho, &certgen, "192.168.1.10", 6443));
    // The namespaces stay closed: a pod the charts do not run gets nowhere.
    let stranger = hook_pod("envoy-gateway-system", &[("app", "stranger")]);
    assert!(!reaches_api(&naratecho, &stranger, "192.168.1.10", 6443));
    assert!(!reaches_api(
        &maya,
        &hook_pod("platform", &[("app", "stranger")]),
        "10.0.1.10",
        6443
    ));
}
