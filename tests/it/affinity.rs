//! Pods placed by other apps' and charts' pods and by node labels, and a chart's
//! `scheduling` written into its Helm values: the paths gitopsc knows for a
//! chart, the top-level keys for one it does not, and values written by
//! hand winning over the derived ones
//! (https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity,
//! https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#node-affinity).

use serde_json::Value;

use crate::support::{compile_project, env_document, write_case};

const PROJECT: &str = r#"-- blueprints/system.yaml --
system: {name: demo, namespaces: per-layer}
gitops: {engine: flux, repo: https://github.com/acme/gitops.git}
layers: [platform, data, apps]
environments:
  dev: {zones: [fsn1, nbg1, hel1]}
defaults:
  scheduling:
    tolerations: [{key: dedicated, value: apps, effect: NoSchedule}]
charts:
  ingress-nginx:
    layer: platform
    repo: https://kubernetes.github.io/ingress-nginx
    chart: ingress-nginx
    version: 4.11.3
    scheduling:
      nodeSelector: {node-role.acme.io/edge: "true"}
      priorityClass: system-cluster-critical
    values:
      controller:
        replicaCount: 2
        priorityClassName: edge-critical
  podinfo:
    layer: apps
    repo: https://stefanprodan.github.io/podinfo
    chart: podinfo
    version: 6.7.1
    scheduling:
      affinity: {with: api, by: zone}
apps:
  api:
    layer: apps
    image: ghcr.io/acme/api:1.0.0
    ports: {http: 8080}
    replicas: 2
  cache:
    layer: data
    image: docker.io/library/redis:7.4.1
    ports: {redis: 6379}
    scheduling:
      affinity: {with: api, by: host}
      preferNodes: {node.kubernetes.io/instance-type: ccx33}
  worker:
    layer: apps
    image: ghcr.io/acme/worker:1.0.0
    scheduling:
      antiAffinity: {by: host}
      affinity:
        - {with: api, by: zone, required: true}
        - {with: cache, by: host}
"#;

fn document(tree: &gitopsc::tree::RenderedTree, path: &str) -> (String, Value) {
    env_document(tree, "dev", path)
}

#[test]
fn affinity_selects_the_other_apps_pods_by_their_controllers_selector() {
    let dir = crate::support::tempdir();
    write_case(PROJECT, dir.path());
    let tree = compile_project(dir.path());
    let (cache_text, cache) = document(&tree, "data/cache/deployment-cache.yaml");
    let (worker_text, worker) = document(&tree, "apps/worker/deployment-worker.yaml");
    let (_, api) = document(&tree, "apps/api/deployment-api.yaml");
    let affinity = |w: &Value| w["spec"]["template"]["spec"]["affinity"].clone();

    // cache runs in `data`, api in `apps`: a term without `namespaces` only
    // matches pods in the pod's own namespace, so api's is named.
    let cache_affinity = affinity(&cache);
    let term = &cache_affinity["podAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
        ["podAffinityTerm"];
    assert_eq!(term["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(term["namespaces"][0], "apps");
    assert_eq!(
        term["labelSelector"]["matchLabels"], api["spec"]["selector"]["matchLabels"],
        "the same labels api's Deployment selects its pods with"
    );
    // preferNodes is a preference: a node without the label still runs it.
    let preference = &cache_affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        [0]["preference"]["matchExpressions"][0];
    assert_eq!(preference["key"], "node.kubernetes.io/instance-type");
    assert_eq!(preference["operator"], "In");
    assert_eq!(preference["values"][0], "ccx33");
    assert!(cache_affinity.get("podAntiAffinity").is_none());

    // worker: one required term, one preferred, beside its own anti-affinity;
    // api is in worker's namespace, so no `namespaces`.
    let worker_affinity = affinity(&worker);
    let required =
        &worker_affinity["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
    assert_eq!(required.as_array().unwrap().len(), 1);
    assert_eq!(required[0]["topologyKey"], "topology.kubernetes.io/zone");
    assert_eq!(
        required[0]["labelSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "api"
    );
    assert!(required[0].get("namespaces").is_none());
    let preferred =
        &worker_affinity["podAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"];
    assert_eq!(preferred[0]["podAffinityTerm"]["namespaces"][0], "data");
    assert_eq!(
        worker_affinity["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
            ["labelSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "worker"
    );

    insta::assert_snapshot!(
        "affinity_pod_specs",
        format!("{cache_text}---\n{worker_text}")
    );
}

#[test]
fn a_charts_scheduling_lands_where_the_chart_reads_it_under_its_own_values() {
    let dir = crate::support::tempdir();
    write_case(PROJECT, dir.path());
    let tree = compile_project(dir.path());
    let (nginx_text, nginx) = document(
        &tree,
        "platform/ingress-nginx/helmrelease-ingress-nginx.yaml",
    );
    let (podinfo_text, podinfo) = document(&tree, "apps/podinfo/helmrelease-podinfo.yaml");
    let values = &nginx["spec"]["values"];

    // ingress-nginx reads the controller's pod fields under `controller`, the
    // default backend's under `defaultBackend` and the admission jobs' under
    // `controller.admissionWebhooks.patch` (charts/ingress-nginx/values.yaml).
    for at in ["controller", "defaultBackend"] {
        assert_eq!(
            values[at]["nodeSelector"]["node-role.acme.io/edge"], "true",
            "{at}"
        );
    }
    assert_eq!(
        values["controller"]["admissionWebhooks"]["patch"]["nodeSelector"]["node-role.acme.io/edge"],
        "true"
    );
    assert!(
        values.get("nodeSelector").is_none(),
        "nothing at the top level"
    );
    // The value written by hand wins; the derived one fills the rest.
    assert_eq!(values["controller"]["priorityClassName"], "edge-critical");
    assert_eq!(
        values["defaultBackend"]["priorityClassName"],
        "system-cluster-critical"
    );
    assert_eq!(values["controller"]["replicaCount"], 2);
    // `defaults.scheduling` is for apps: its toleration is on no chart.
    assert!(!nginx_text.contains("dedicated"), "{nginx_text}");

    // A chart gitopsc does not know reads `helm create`'s top-level keys
    // (podinfo's values.yaml has `affinity: {}` at the top).
    let term = &podinfo["spec"]["values"]["affinity"]["podAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        [0]["podAffinityTerm"];
    assert_eq!(term["topologyKey"], "topology.kubernetes.io/zone");
    assert_eq!(
        term["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"],
        "demo-api"
    );
    assert!(
        term.get("namespaces").is_none(),
        "podinfo and api share `apps`"
    );

    insta::assert_snapshot!(
        "chart_scheduling_values",
        format!("{nginx_text}---\n{podinfo_text}")
    );
}

const BESIDE_CHARTS: &str = r#"-- blueprints/system.yaml --
system: {name: demo, namespaces: per-layer}
gitops: {engine: flux, repo: https://github.com/acme/gitops.git}
layers: [platform, apps]
environments:
  dev: {}
charts:
  ingress-nginx:
    layer: platform
    repo: https://kubernetes.github.io/ingress-nginx
    chart: ingress-nginx
    version: 4.11.3
  podinfo:
    layer: apps
    repo: https://stefanprodan.github.io/podinfo
    chart: podinfo
    version: 6.7.1
    selector: {app.kubernetes.io/name: demo-podinfo}
    scheduling:
      affinity: {with: ingress-nginx, by: zone}
      preferNodes: {node.kubernetes.io/instance-type: ccx33}
      tolerations: [{key: node.kubernetes.io/unreachable, effect: NoExecute, seconds: 60}]
apps:
  api:
    layer: apps
    image: ghcr.io/acme/api:1.0.0
    ports: {http: 8080}
    scheduling:
      affinity: {with: podinfo, by: host, required: true}
"#;

#[test]
fn affinity_to_a_chart_selects_its_pods_by_the_labels_known_or_declared_for_it() {
    let dir = crate::support::tempdir();
    write_case(BESIDE_CHARTS, dir.path());
    let tree = compile_project(dir.path());
    let (podinfo_text, podinfo) = document(&tree, "apps/podinfo/helmrelease-podinfo.yaml");
    let (api_text, api) = document(&tree, "apps/api/deployment-api.yaml");

    // A chart beside a known chart: ingress-nginx's controller pods, by the
    // labels its controller Deployment selects them with
    // (charts/ingress-nginx/templates/controller-deployment.yaml at
    // helm-chart-4.11.3: `selectorLabels` plus `component: controller`),
    // in its own namespace.
    let term = &podinfo["spec"]["values"]["affinity"]["podAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        [0]["podAffinityTerm"];
    let labels = &term["labelSelector"]["matchLabels"];
    assert_eq!(labels["app.kubernetes.io/name"], "ingress-nginx");
    assert_eq!(labels["app.kubernetes.io/instance"], "ingress-nginx");
    assert_eq!(labels["app.kubernetes.io/component"], "controller");
    assert_eq!(term["namespaces"][0], "platform");
    assert_eq!(term["topologyKey"], "topology.kubernetes.io/zone");
    // preferNodes rides in the same `affinity` value; a toleration with
    // `seconds` is `tolerationSeconds`, which only `NoExecute` takes
    // (https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions).
    let values = &podinfo["spec"]["values"];
    assert_eq!(
        values["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["preference"]
            ["matchExpressions"][0]["values"][0],
        "ccx33"
    );
    let toleration = &values["tolerations"][0];
    assert_eq!(toleration["operator"], "Exists");
    assert_eq!(toleration["tolerationSeconds"], 60);

    // An app beside a chart that declares its pods' labels: those labels,
    // and no `namespaces`, since both are in `apps`.
    let required = &api["spec"]["template"]["spec"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        [0];
    assert_eq!(
        required["labelSelector"]["matchLabels"],
        serde_json::json!({"app.kubernetes.io/name": "demo-podinfo"})
    );
    assert_eq!(required["topologyKey"], "kubernetes.io/hostname");
    assert!(required.get("namespaces").is_none());

    insta::assert_snapshot!(
        "affinity_to_charts",
        format!("{podinfo_text}---\n{api_text}")
    );
}
