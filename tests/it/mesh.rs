//! The service mesh: namespace labels each mesh reads, the mesh-wide STRICT
//! policy, the scrape exception that keeps ServiceMonitors working under it,
//! and the proxies' edges to the control plane, on small blueprints compiled
//! in memory. The scrape walk also runs over every example.
//!
//! Upstream behaviour modelled here:
//! - PeerAuthentication precedence (workload over namespace over the root
//!   namespace's mesh-wide policy; `portLevelMtls` needs a selector):
//!   https://istio.io/latest/docs/reference/config/security/peer_authentication/
//! - an unmeshed Prometheus scrapes in plaintext, which STRICT refuses:
//!   https://istio.io/latest/docs/ops/integrations/prometheus/
//! - injection labels (`istio-injection`, `istio.io/rev`) and ambient's
//!   `istio.io/dataplane-mode`:
//!   https://istio.io/latest/docs/setup/additional-setup/sidecar-injection/
//!   https://istio.io/latest/docs/ambient/usage/add-workloads/
//! - Linkerd's `linkerd.io/inject` namespace annotation:
//!   https://linkerd.io/2/features/proxy-injection/
//! - injected init containers need NET_ADMIN and NET_RAW unless the CNI is used:
//!   https://istio.io/latest/docs/setup/additional-setup/pod-security-admission/

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::support::{compile_project, projects};
use gitopsc::EnvSelection;
use gitopsc::pointer::Lookup;
use gitopsc::reach::{self, Grant, Inventory, declared};
use gitopsc::sources::{BLUEPRINT_FILE, Sources};
use gitopsc::tree::{KUSTOMIZATION, RenderedTree};

const ISTIO_CHARTS: &str = r#"
  istio-base:
    layer: mesh
    namespace: istio-system
    repo: https://istio-release.storage.googleapis.com/charts
    chart: base
    version: 1.30.0
    provides: [security.istio.io, networking.istio.io]
  istiod:
    layer: mesh
    namespace: istio-system
    repo: https://istio-release.storage.googleapis.com/charts
    chart: istiod
    version: 1.30.0
  ztunnel:
    layer: mesh
    namespace: istio-system
    repo: https://istio-release.storage.googleapis.com/charts
    chart: ztunnel
    version: 1.30.0
  kube-prometheus-stack:
    layer: observability
    repo: oci://ghcr.io/prometheus-community/charts
    chart: kube-prometheus-stack
    version: 84.1.1
    provides: [monitoring.coreos.com]
"#;

const APPS: &str = r#"
apps:
  api:
    layer: apps
    image: ghcr.io/acme/api:1.0.0
    ports: {http: 8080, metrics: 9090}
    metrics: {port: metrics}
  web:
    layer: apps
    image: ghcr.io/acme/web:1.0.0
    ports: {http: 3000}
    uses: [api]
"#;

/// A blueprint with Istio's charts, two apps and `mesh` as given.
pub fn blueprint(mesh: &str, prod: &str) -> String {
    format!(
        "system: {{name: shop}}\ngitops: {{engine: flux, repo: https://github.com/acme/gitops.git}}\n\
         layers: [mesh, observability, apps]\nenvironments:\n  dev: {{}}\n  prod: {prod}\n\
         mesh: {mesh}\ncharts:{ISTIO_CHARTS}{APPS}"
    )
}

pub fn sources(text: &str) -> Arc<Sources> {
    let mut s = Sources::new();
    s.insert_text(BLUEPRINT_FILE, text);
    Arc::new(s)
}

/// What `reach` finds in the rendered prod tree, and what the model
/// declares for it.
pub fn prod_reach(text: &str) -> (reach::Matrix, reach::Matrix) {
    let tree = compile(text);
    let project = gitopsc::blueprint::load(sources(text)).unwrap();
    let by_env =
        reach::objects_by_env(tree.files().map(|(p, t)| (p.as_str(), t.as_str()))).unwrap();
    let env = gitopsc::resolve::resolve(&project, "prod").unwrap();
    let mut inventory = Inventory::from_objects(by_env["prod"].iter());
    inventory.add_model(&env);
    let expected = declared::expected(&env, &inventory);
    (reach::matrix(&inventory), expected)
}

pub fn compile(text: &str) -> RenderedTree {
    gitopsc::compile(sources(text), &EnvSelection::All)
        .unwrap_or_else(|e| panic!("compiles:\n{}", e.message))
}

/// Every object of one environment, by file.
pub fn objects(tree: &RenderedTree, env: &str) -> BTreeMap<String, Value> {
    tree.envs[env]
        .files
        .iter()
        .filter(|(f, _)| !f.ends_with(KUSTOMIZATION))
        .map(|(f, t)| {
            let v = gitopsc::yaml::parse_document(f, t.as_bytes())
                .unwrap()
                .value;
            (f.clone(), v)
        })
        .collect()
}

fn namespace<'a>(objects: &'a BTreeMap<String, Value>, name: &str) -> &'a Value {
    objects
        .values()
        .find(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("namespace {name} rendered"))
}

fn of_kind<'a>(objects: &'a BTreeMap<String, Value>, kind: &str) -> Vec<(&'a String, &'a Value)> {
    objects.iter().filter(|(_, o)| o["kind"] == kind).collect()
}

#[test]
fn istio_sidecar_namespaces_are_injected_and_strict_mtls_is_mesh_wide() {
    let tree = compile(&blueprint(
        "{provider: istio, cni: true, controlPlane: istiod}",
        "{network: default-deny, mesh: {mtls: strict}}",
    ));
    let prod = objects(&tree, "prod");
    let apps = namespace(&prod, "apps");
    assert_eq!(apps["metadata"]["labels"]["istio-injection"], "enabled");
    // The control plane's own namespace holds charts: not injected.
    let system = namespace(&prod, "istio-system");
    assert!(
        system["metadata"]["labels"]
            .get("istio-injection")
            .is_none()
    );
    let mut text = String::new();
    for (file, object) in of_kind(&prod, "PeerAuthentication") {
        text.push_str(&format!("--- {file}\n{}", tree.envs["prod"].files[file]));
        assert_eq!(object["apiVersion"], "security.istio.io/v1");
    }
    insta::assert_snapshot!("istio_sidecar_strict_prod", text);
    assert!(
        of_kind(&objects(&tree, "dev"), "PeerAuthentication").is_empty(),
        "dev asks for no STRICT mTLS"
    );
}

#[test]
fn revision_ambient_and_linkerd_mark_namespaces_as_each_mesh_reads_them() {
    let cases = [
        (
            "{provider: istio, cni: true, revision: 1-30}",
            "labels",
            "istio.io/rev",
            "1-30",
        ),
        (
            "{provider: istio, mode: ambient, cni: true}",
            "labels",
            "istio.io/dataplane-mode",
            "ambient",
        ),
        (
            "{provider: linkerd, cni: true}",
            "annotations",
            "linkerd.io/inject",
            "enabled",
        ),
    ];
    for (mesh, field, key, value) in cases {
        let tree = compile(&blueprint(mesh, "{}"));
        let dev = objects(&tree, "dev");
        let apps = namespace(&dev, "apps");
        assert_eq!(apps["metadata"][field][key], value, "{mesh}");
        assert!(
            apps["metadata"]["labels"].get("istio-injection").is_none(),
            "{mesh}: only one way of joining"
        );
        let observability = namespace(&dev, "observability");
        assert!(
            observability["metadata"][field].get(key).is_none(),
            "{mesh}: a chart namespace joins only when it says so"
        );
    }
}

#[test]
fn a_namespace_setting_adds_a_chart_namespace_or_takes_one_out() {
    let mut text = blueprint("{provider: istio, mode: ambient, cni: true}", "{}");
    text.push_str(
        "namespaces:\n  observability: {mesh: {enabled: true}}\n  apps: {mesh: {enabled: false}}\n",
    );
    let dev = objects(&compile(&text), "dev");
    let label =
        |ns: &str| namespace(&dev, ns)["metadata"]["labels"]["istio.io/dataplane-mode"].clone();
    assert_eq!(label("observability"), "ambient");
    assert_eq!(label("apps"), Value::Null);
}

#[test]
fn injected_proxies_reach_the_control_plane_and_reach_agrees_with_the_model() {
    for (mesh, posture) in [
        (
            "{provider: istio, cni: true, controlPlane: istiod}",
            "default-deny",
        ),
        (
            "{provider: istio, mode: ambient, cni: true, controlPlane: istiod}",
            "namespace-isolated",
        ),
        (
            "{provider: linkerd, cni: true, controlPlane: istiod}",
            "default-deny",
        ),
    ] {
        let mut text = blueprint(mesh, &format!("{{network: {posture}}}"));
        if mesh.contains("linkerd") {
            text = text.replace("chart: istiod", "chart: linkerd-control-plane");
        }
        let (actual, expected) = prod_reach(&text);
        assert!(actual == expected, "{mesh}: rendered and declared differ");
        let to_istiod: Vec<String> = actual
            .iter()
            .map(Grant::display)
            .filter(|g| g.contains("-> istiod:"))
            .filter(|g| g.starts_with("api ") || g.starts_with("web "))
            .collect();
        if mesh.contains("ambient") {
            // ztunnel, not the pods, talks to istiod in ambient mode.
            assert!(to_istiod.is_empty(), "{mesh}: {to_istiod:?}");
        } else if mesh.contains("linkerd") {
            assert_eq!(
                to_istiod,
                [
                    "api -> istiod:8080/TCP (identity)",
                    "api -> istiod:8086/TCP (destination)",
                    "api -> istiod:8090/TCP (policy)",
                    "web -> istiod:8080/TCP (identity)",
                    "web -> istiod:8086/TCP (destination)",
                    "web -> istiod:8090/TCP (policy)",
                ],
                "{mesh}"
            );
        } else {
            assert_eq!(
                to_istiod,
                [
                    "api -> istiod:15012/TCP (https-dns)",
                    "web -> istiod:15012/TCP (https-dns)"
                ],
                "{mesh}"
            );
        }
    }
}

/// The mTLS mode Istio applies to `port` of a pod with `labels` in
/// `namespace`: a workload policy's port-level or whole-workload mode, else
/// the namespace's, else the root namespace's mesh-wide one, else PERMISSIVE.
fn mtls_mode(
    policies: &[&Value],
    root: &str,
    namespace: &str,
    labels: &Value,
    port: u64,
) -> String {
    let in_ns = |ns: String| {
        policies
            .iter()
            .filter(move |p| p["metadata"]["namespace"].as_str() == Some(ns.as_str()))
    };
    let mode = |v: &Value| v.as_str().filter(|m| *m != "UNSET").map(String::from);
    let selects = |p: &Value| {
        p["spec"]["selector"]["matchLabels"]
            .as_object()
            .is_some_and(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)))
    };
    for p in in_ns(namespace.to_string()).filter(|p| selects(p)) {
        if let Some(m) = mode(&p["spec"]["portLevelMtls"][port.to_string()]["mode"]) {
            return m;
        }
        if let Some(m) = mode(&p["spec"]["mtls"]["mode"]) {
            return m;
        }
    }
    let wide = |ns: &str| {
        in_ns(ns.to_string())
            .filter(|p| p["spec"].get("selector").is_none())
            .find_map(|p| mode(&p["spec"]["mtls"]["mode"]))
    };
    wide(namespace)
        .or_else(|| wide(root))
        .unwrap_or_else(|| "PERMISSIVE".to_string())
}

fn joins_mesh(ns: &Value) -> bool {
    let labels = &ns["metadata"]["labels"];
    labels["istio-injection"] == "enabled"
        || labels.get("istio.io/rev").is_some()
        || labels["istio.io/dataplane-mode"] == "ambient"
}

/// Every ServiceMonitor endpoint whose pod port STRICT mTLS would refuse to
/// a Prometheus outside the mesh, as `namespace/name:port`.
fn scrapes_strict_mtls_blocks(objects: &BTreeMap<String, Value>, root: &str) -> Vec<String> {
    let policies: Vec<&Value> = objects
        .values()
        .filter(|o| o["kind"] == "PeerAuthentication")
        .collect();
    let meshed = |ns: &Value| {
        objects
            .values()
            .any(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == *ns && joins_mesh(o))
    };
    let matches = |selector: &Value, labels: &Value| {
        selector
            .as_object()
            .is_some_and(|m| !m.is_empty() && m.iter().all(|(k, v)| labels.get(k) == Some(v)))
    };
    let mut blocked = Vec::new();
    for monitor in objects.values().filter(|o| o["kind"] == "ServiceMonitor") {
        let ns = &monitor["metadata"]["namespace"];
        if !meshed(ns) {
            continue;
        }
        for service in objects.values().filter(|o| {
            o["kind"] == "Service"
                && o["metadata"]["namespace"] == *ns
                && matches(
                    &monitor["spec"]["selector"]["matchLabels"],
                    &o["metadata"]["labels"],
                )
        }) {
            for endpoint in monitor["spec"]["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let Some(port) = service["spec"]["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| p["name"] == endpoint["port"])
                else {
                    continue;
                };
                for pod in objects.values().filter_map(|o| {
                    let template = o.at("/spec/template")?;
                    (o["metadata"]["namespace"] == *ns
                        && matches(
                            &service["spec"]["selector"],
                            &template["metadata"]["labels"],
                        ))
                    .then_some(template)
                }) {
                    let number = container_port(pod, &port["targetPort"]);
                    let Some(number) = number else { continue };
                    let labels = &pod["metadata"]["labels"];
                    let ns_name = ns.as_str().unwrap_or_default();
                    if mtls_mode(&policies, root, ns_name, labels, number) == "STRICT" {
                        blocked.push(format!(
                            "{ns_name}/{}:{number}",
                            monitor["metadata"]["name"].as_str().unwrap_or_default()
                        ));
                    }
                }
            }
        }
    }
    blocked
}

/// The container port a Service's `targetPort` names (by name or number).
fn container_port(pod: &Value, target: &Value) -> Option<u64> {
    if let Some(n) = target.as_u64() {
        return Some(n);
    }
    pod.at("/spec/containers")?
        .as_array()?
        .iter()
        .flat_map(|c| c["ports"].as_array().into_iter().flatten())
        .find(|p| p["name"] == *target)
        .and_then(|p| p["containerPort"].as_u64())
}

#[test]
fn no_servicemonitor_scrapes_a_port_that_strict_mtls_blocks() {
    let tree = compile(&blueprint(
        "{provider: istio, cni: true, controlPlane: istiod}",
        "{mesh: {mtls: strict}}",
    ));
    let mut prod = objects(&tree, "prod");
    assert_eq!(
        scrapes_strict_mtls_blocks(&prod, "istio-system"),
        Vec::<String>::new()
    );
    // The walk can fail: without the port-level exception the scrape is refused.
    prod.retain(|_, o| o["metadata"]["name"] != "api-plaintext");
    assert_eq!(
        scrapes_strict_mtls_blocks(&prod, "istio-system"),
        ["apps/api:9090"]
    );
    let mut checked = 0;
    for (name, path) in projects() {
        let tree = compile_project(&path);
        for env in tree.envs.keys() {
            let objects = objects(&tree, env);
            checked += of_kind(&objects, "ServiceMonitor").len();
            assert_eq!(
                scrapes_strict_mtls_blocks(&objects, "istio-system"),
                Vec::<String>::new(),
                "{name}/{env}"
            );
        }
    }
    assert!(checked > 0, "the examples have ServiceMonitors to walk");
}

/// A blueprint whose prod quota holds six pods of `api` without a proxy.
fn quota_blueprint(mesh: &str) -> String {
    format!(
        "system: {{name: shop}}\ngitops: {{engine: flux, repo: https://github.com/acme/gitops.git}}\n\
         layers: [apps]\nenvironments:\n  prod:\n    quota: {{cpu: {{requests: \"4\", limits: \"4\"}}, memory: {{requests: 4Gi, limits: 8Gi}}}}\n\
         mesh: {mesh}\napps:\n  api:\n    layer: apps\n    image: ghcr.io/acme/api:1.0.0\n    ports: {{http: 8080}}\n\
         \x20   resources: {{requests: {{cpu: 250m, memory: 256Mi}}, limits: {{cpu: 500m, memory: 512Mi}}}}\n\
         \x20   autoscale: {{min: 2, max: 6}}\n"
    )
}

#[test]
fn injected_proxies_carry_their_resources_and_count_against_the_quota() {
    // Ambient injects nothing: six pods of 500m fit the 4-CPU limit.
    let ambient = quota_blueprint("{provider: istio, mode: ambient, cni: true}")
        + "charts:\n  ztunnel: {layer: apps, namespace: istio-system, repo: https://istio-release.storage.googleapis.com/charts, chart: ztunnel, version: 1.30.0}\n";
    let tree = compile(&ambient);
    assert!(
        objects(&tree, "prod")
            .values()
            .any(|o| o["kind"] == "HorizontalPodAutoscaler")
    );
    let small = "{provider: linkerd, cni: true, proxy: {requests: {cpu: 10m, memory: 32Mi}, limits: {cpu: 100m, memory: 64Mi}}}";
    let prod = objects(&compile(&quota_blueprint(small)), "prod");
    let deployment = prod.values().find(|o| o["kind"] == "Deployment").unwrap();
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["config.linkerd.io/proxy-cpu-request"], "10m");
    assert_eq!(annotations["config.linkerd.io/proxy-memory-limit"], "64Mi");
    // Istio's default proxy (2 CPU limit) makes each pod 2.5 CPUs: the quota
    // holds one, and the autoscaler's max of six is refused where it is written.
    let err = gitopsc::compile(
        sources(&quota_blueprint("{provider: istio, cni: true}")),
        &EnvSelection::All,
    )
    .unwrap_err();
    assert!(
        err.message
            .contains("6 pods at 2.5 limits.cpu each (the injected proxy included) need 15")
            && err.message.contains("tops out at 1 pods"),
        "{}",
        err.message
    );
    let origin = err.origin.clone().expect("located");
    assert!(
        origin.line_text.contains("autoscale"),
        "{}",
        origin.line_text
    );
}
