//! Scheduling keys: `defaults.scheduling` for every app, an app's own keys
//! replacing the default's whole, and what each becomes on the pod spec
//! (https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/,
//! https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/,
//! https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#pod-management-policies).

use serde_json::Value;

use crate::support::{compile_project, env_document, write_case};

const PROJECT: &str = r#"-- blueprints/system.yaml --
system: {name: demo}
layers: [data, apps]
environments:
  dev: {zones: [fsn1, nbg1, hel1]}
defaults:
  scheduling:
    priorityClass: standard
    antiAffinity: {by: host}
    spreadOverHosts: true
    tolerations: [{key: dedicated, value: apps, effect: NoSchedule}]
apps:
  web:
    layer: apps
    image: ghcr.io/acme/web:1.0.0
    ports: {http: 8080}
    replicas: 3
    scheduling:
      antiAffinity: {by: zone, required: true}
      terminationGracePeriod: 60
  ollama:
    layer: apps
    image: ollama/ollama:0.5.4
    ports: {http: 11434}
    scheduling:
      nodeSelector: {nvidia.com/gpu.present: "true"}
      tolerations: [{key: nvidia.com/gpu, effect: NoSchedule}]
      priorityClass: gpu
  minio:
    layer: data
    kind: StatefulSet
    image: quay.io/minio/minio:RELEASE.2024-11-07T00-52-20Z
    ports: {api: 9000}
    replicas: 4
    podManagementPolicy: Parallel
    storage: {data: {size: 10Gi, mountPath: /data}}
"#;

fn workload(tree: &gitopsc::tree::RenderedTree, path: &str) -> (String, Value) {
    env_document(tree, "dev", path)
}

#[test]
fn scheduling_keys_render_on_the_pod_spec_app_keys_winning() {
    let dir = crate::support::tempdir();
    write_case(PROJECT, dir.path());
    let tree = compile_project(dir.path());
    let (web_text, web) = workload(&tree, "apps/web/deployment-web.yaml");
    let (ollama_text, ollama) = workload(&tree, "apps/ollama/deployment-ollama.yaml");
    let (minio_text, minio) = workload(&tree, "data/minio/statefulset-minio.yaml");
    let pod = |w: &Value| w["spec"]["template"]["spec"].clone();

    // web keeps the default tolerations and priority class, and its own
    // anti-affinity replaces the default's.
    let web_pod = pod(&web);
    assert_eq!(web_pod["priorityClassName"], "standard");
    assert_eq!(web_pod["tolerations"][0]["key"], "dedicated");
    assert_eq!(web_pod["terminationGracePeriodSeconds"], 60);
    let required = &web_pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        [0];
    assert_eq!(required["topologyKey"], "topology.kubernetes.io/zone");
    assert_eq!(
        required["labelSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "web"
    );

    // ollama's own tolerations replace the default list whole: lists are not merged.
    let ollama_pod = pod(&ollama);
    assert_eq!(ollama_pod["tolerations"].as_array().unwrap().len(), 1);
    assert_eq!(ollama_pod["tolerations"][0]["operator"], "Exists");
    assert_eq!(ollama_pod["nodeSelector"]["nvidia.com/gpu.present"], "true");
    assert_eq!(ollama_pod["priorityClassName"], "gpu");
    let preferred = &ollama_pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        [0];
    assert_eq!(
        preferred["podAffinityTerm"]["topologyKey"],
        "kubernetes.io/hostname"
    );

    // Zones are spread because dev has three; hosts because the default asks,
    // as a preference only.
    let spread = web_pod["topologySpreadConstraints"].as_array().unwrap();
    let keys: Vec<&str> = spread
        .iter()
        .map(|c| c["topologyKey"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    );
    assert_eq!(spread[1]["whenUnsatisfiable"], "ScheduleAnyway");

    // A distributed store starts every pod at once, so its quorum can form.
    assert_eq!(minio["spec"]["podManagementPolicy"], "Parallel");

    insta::assert_snapshot!(
        "scheduling_pod_specs",
        format!("{web_text}---\n{ollama_text}---\n{minio_text}")
    );
}

/// `defaults.apps.scheduling` is merged into each app's `scheduling` as an
/// RFC 7386 merge patch (https://www.rfc-editor.org/rfc/rfc7386): the app's
/// keys win one by one, `null` drops one, a list replaces a map whole.
const APP_DEFAULTS: &str = r#"-- blueprints/system.yaml --
system: {name: demo}
layers: [apps]
environments:
  dev: {}
defaults:
  apps:
    layer: apps
    scheduling:
      antiAffinity: {by: host}
      affinity: {with: cache, by: zone}
apps:
  cache:
    image: docker.io/library/redis:7.4.1
    ports: {redis: 6379}
    scheduling: {affinity: null}
  web:
    image: ghcr.io/acme/web:1.0.0
    ports: {http: 8080}
    replicas: 3
    scheduling:
      antiAffinity: {required: true}
  api:
    image: ghcr.io/acme/api:1.0.0
    ports: {http: 8080}
    scheduling:
      affinity: [{with: web, by: host}]
"#;

#[test]
fn app_defaults_place_every_app_and_the_apps_keys_win() {
    let dir = crate::support::tempdir();
    write_case(APP_DEFAULTS, dir.path());
    let tree = compile_project(dir.path());
    let affinity = |app: &str| {
        let (text, w) = workload(&tree, &format!("apps/{app}/deployment-{app}.yaml"));
        (text, w["spec"]["template"]["spec"]["affinity"].clone())
    };
    let (cache_text, cache) = affinity("cache");
    let (web_text, web) = affinity("web");
    let (api_text, api) = affinity("api");
    let name =
        |term: &Value| term["labelSelector"]["matchLabels"]["app.kubernetes.io/name"].clone();
    let preferred = |a: &Value, kind: &str| {
        a[kind]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"].clone()
    };

    // cache drops the default affinity, which would name cache itself, and
    // keeps the default anti-affinity.
    assert!(cache.get("podAffinity").is_none(), "{cache}");
    assert_eq!(name(&preferred(&cache, "podAntiAffinity")), "cache");
    // web: the default affinity; its anti-affinity is the default's `by`
    // with web's `required`.
    assert_eq!(name(&preferred(&web, "podAffinity")), "cache");
    let anti = &web["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(anti["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(name(anti), "web");
    // api's list replaces the default's affinity whole: web by host, no cache.
    let terms = &api["podAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"];
    assert_eq!(terms.as_array().map(Vec::len), Some(1), "{api}");
    assert_eq!(name(&terms[0]["podAffinityTerm"]), "web");
    assert_eq!(
        terms[0]["podAffinityTerm"]["topologyKey"],
        "kubernetes.io/hostname"
    );

    insta::assert_snapshot!(
        "app_defaults_scheduling",
        format!("{cache_text}---\n{web_text}---\n{api_text}")
    );
}
