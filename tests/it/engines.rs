//! Engine acceptance: what Argo CD, Flux and Kubernetes admission do with the
//! rendered trees that their schemas cannot show. One test per rule, each run
//! over every environment of every example, each citing where the rule comes
//! from. Each also counts what it checked, so an example that stops
//! exercising a rule fails instead of passing vacuously.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use crate::support::{compile_project, projects};
use gitopsc::blueprint::catalog;
use gitopsc::blueprint::model::{ArgoDestination, Engine, PodSecurityLevel};
use gitopsc::resolve::{ComponentKind, ResolvedEnv};
use gitopsc::tree::{EnvTree, KUSTOMIZATION};

/// One environment: its resolved blueprint and its parsed objects by file.
struct Env {
    project: String,
    env: ResolvedEnv,
    objects: BTreeMap<String, Value>,
    tree: EnvTree,
}

impl Env {
    fn engine(&self) -> Option<Engine> {
        self.env.blueprint.gitops.as_ref().map(|g| g.engine)
    }

    fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> {
        self.objects.iter().filter(move |(_, v)| v["kind"] == kind)
    }

    fn label(&self) -> String {
        format!("{}/{}", self.project, self.env.name)
    }
}

fn every_environment() -> Vec<Env> {
    let mut out = Vec::new();
    for (name, path) in projects() {
        let sources = Arc::new(gitopsc::workspace::read_sources(&path).unwrap());
        let project = gitopsc::blueprint::load(sources).unwrap();
        let tree = compile_project(&path);
        for (env_name, env_tree) in tree.envs {
            let env = gitopsc::resolve::resolve(&project, &env_name).unwrap();
            let objects = env_tree
                .files
                .iter()
                .filter(|(f, _)| !f.ends_with(KUSTOMIZATION))
                .map(|(f, t)| {
                    let value = gitopsc::yaml::parse_document(f, t.as_bytes())
                        .unwrap()
                        .value;
                    (f.clone(), value)
                })
                .collect();
            out.push(Env {
                project: name.clone(),
                env,
                objects,
                tree: env_tree,
            });
        }
    }
    out
}

fn sync_options(app: &Value) -> Vec<&str> {
    app["spec"]["syncPolicy"]["syncOptions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// Argo CD Applications that deploy a unit (not the root, not shards).
fn unit_applications(e: &Env) -> impl Iterator<Item = (&String, &Value)> {
    e.of_kind("Application")
        .filter(|(_, v)| v["metadata"]["annotations"]["gitopsc.io/unit"].is_string())
}

/// External Secrets v0.16.2 adds `external-secrets.io/v1` and v0.17.0 stops
/// serving v1beta1 (release notes of both; external-secrets#4840): a custom
/// resource its chart does not serve is rejected by the API server, so every
/// one in the output must be served by the pinned chart of its operator.
#[test]
fn operator_charts_serve_every_api_version_in_the_output() {
    let mut checked = 0;
    for e in every_environment() {
        for (name, chart) in &e.env.blueprint.charts {
            let Some(known) = catalog::known(chart) else {
                continue;
            };
            for (file, object) in &e.objects {
                let api = object["apiVersion"].as_str().unwrap();
                if known.serves.iter().any(|s| s.api_version == api) {
                    assert_eq!(
                        catalog::check_served(known, &chart.version.0, api),
                        Ok(()),
                        "{}: {file} uses {api}, chart {name} {} must serve it",
                        e.label(),
                        chart.version.0
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 50, "the examples use operator APIs ({checked})");
}

/// Argo CD keys an Application (and an AppProject) by namespace and name, so
/// one Argo CD deploying several environments needs names unique across all
/// of them (argo-cd#9420; Argo CD "Cluster Management" for several clusters).
/// Label tracking, the default before Argo CD 3.0, puts the Application name
/// in a label value, at most 63 characters (Argo CD "Resource Tracking").
#[test]
fn argo_cd_object_names_are_unique_across_every_environment_of_a_project() {
    let mut by_project: BTreeMap<String, BTreeMap<(String, String, String), String>> =
        BTreeMap::new();
    let mut checked = 0;
    for e in every_environment() {
        let seen = by_project.entry(e.project.clone()).or_default();
        for kind in ["Application", "AppProject"] {
            for (file, v) in e.of_kind(kind) {
                let key = (
                    kind.to_string(),
                    v["metadata"]["namespace"].as_str().unwrap().to_string(),
                    v["metadata"]["name"].as_str().unwrap().to_string(),
                );
                if kind == "Application" {
                    assert!(key.2.len() <= 63, "{}: {file}", e.label());
                }
                if let Some(other) = seen.insert(key.clone(), file.clone()) {
                    panic!("{key:?} is declared by {other} and {file}");
                }
                checked += 1;
            }
        }
    }
    assert!(
        checked > 100,
        "the examples have Argo CD objects ({checked})"
    );
}

/// Each environment deploys to its own cluster: `gitops.server` if set, else
/// the cluster registered in Argo CD under the environment's cluster name
/// (`destination.name`, Argo CD "Declarative Setup", clusters), else Argo
/// CD's own cluster; the AppProject allows exactly that destination.
#[test]
fn argo_cd_units_deploy_to_the_environment_cluster() {
    let mut by_name = 0;
    for e in every_environment() {
        let Some(gitops) = e.env.blueprint.gitops.as_ref() else {
            continue;
        };
        if gitops.engine != Engine::Argocd {
            continue;
        }
        let expected = match (&gitops.server, gitops.destination) {
            (Some(server), _) => ("server", server.clone()),
            (None, ArgoDestination::InCluster) => {
                ("server", "https://kubernetes.default.svc".to_string())
            }
            (None, ArgoDestination::ClusterName) => {
                by_name += 1;
                ("name", e.env.settings.cluster.clone())
            }
        };
        let destinations: Vec<&Value> = unit_applications(&e)
            .map(|(_, v)| &v["spec"]["destination"])
            .chain(
                e.of_kind("AppProject")
                    .flat_map(|(_, p)| p["spec"]["destinations"].as_array().unwrap()),
            )
            .collect();
        assert!(!destinations.is_empty(), "{}", e.label());
        for d in destinations {
            assert_eq!(d[expected.0], expected.1, "{}: destination {d}", e.label());
        }
    }
    assert!(by_name >= 2, "an example deploys to clusters by name");
}

/// Argo CD's app-of-apps: an Application that is among the resources it
/// syncs manages itself, so pruning or renaming it deletes it mid-sync, and
/// with the cascade finalizer deleting it deletes every child and their
/// resources (Argo CD "Cluster Bootstrapping" and "App Deletion"; argocheck
/// reports the cycle). The root lives outside what it syncs, without the
/// finalizer; units keep it, so removing a unit removes what it deployed.
#[test]
fn argo_cd_root_application_never_syncs_itself_and_does_not_cascade() {
    let mut roots = 0;
    for e in every_environment() {
        if e.engine() != Some(Engine::Argocd) {
            continue;
        }
        let root_files: Vec<&String> = e
            .objects
            .keys()
            .filter(|f| f.starts_with(&format!("{}/bootstrap/", e.env.name)))
            .collect();
        assert_eq!(root_files.len(), 1, "{}: one root", e.label());
        let root = &e.objects[root_files[0]];
        assert_eq!(root["kind"], "Application");
        assert!(
            root["metadata"]["finalizers"].is_null(),
            "{}: deleting the root must not cascade",
            e.label()
        );
        let path = root["spec"]["source"]["path"].as_str().unwrap();
        let dir = format!("{}/{}", e.env.name, path.rsplit('/').next().unwrap());
        let synced = built(&e.tree, &dir);
        assert!(
            !synced.contains(root_files[0]),
            "{}: the root syncs {dir}, which must not hold it",
            e.label()
        );
        let root_name = &root["metadata"]["name"];
        for file in &synced {
            let v = &e.objects[file];
            if v["kind"] == "Application" {
                assert_ne!(&v["metadata"]["name"], root_name, "{}: {file}", e.label());
            }
        }
        for (file, app) in unit_applications(&e) {
            assert_eq!(
                app["metadata"]["finalizers"][0],
                "resources-finalizer.argocd.argoproj.io",
                "{}: {file} removes what it deployed when it is removed",
                e.label()
            );
        }
        roots += 1;
    }
    assert!(roots >= 6, "Argo CD environments exist ({roots})");
}

/// The files `kubectl kustomize <dir>` builds, as Argo CD does for a source
/// path holding a kustomization.
fn built(tree: &EnvTree, dir: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let kustomization = format!("{dir}/{KUSTOMIZATION}");
    let text = &tree.files[&kustomization];
    let k = gitopsc::yaml::parse_document(&kustomization, text.as_bytes())
        .unwrap()
        .value;
    for r in k["resources"].as_array().unwrap() {
        let p = format!("{dir}/{}", r.as_str().unwrap());
        if tree.files.contains_key(&p) {
            out.insert(p);
        } else {
            out.extend(built(tree, &p));
        }
    }
    out
}

/// Client-side apply stores the whole object in an annotation of at most
/// 256 KiB, which CRDs such as Prometheus Operator's exceed, so the sync
/// fails (argo-cd#8128; Argo CD "Sync Options", Server-Side Apply). Charts'
/// defaulting webhooks make client-side diffs noisy (Argo CD "Diff
/// Strategies", Server-Side Diff).
#[test]
fn argo_cd_applies_server_side_and_charts_diff_server_side() {
    let mut charts = 0;
    for e in every_environment() {
        for (file, app) in unit_applications(&e) {
            assert!(
                sync_options(app).contains(&"ServerSideApply=true"),
                "{}: {file}",
                e.label()
            );
            let is_chart = app["spec"]["source"]["chart"].is_string()
                || app["spec"]["sources"][0]["chart"].is_string();
            if is_chart {
                assert_eq!(
                    app["metadata"]["annotations"]["argocd.argoproj.io/compare-options"],
                    "ServerSideDiff=true",
                    "{}: {file}",
                    e.label()
                );
                charts += 1;
            }
        }
    }
    assert!(
        charts > 10,
        "the examples deploy charts with Argo CD ({charts})"
    );
}

/// An automated sync that failed is not tried again for the same revision
/// once its retries are spent (Argo CD "Automated Sync Policy"), and a unit
/// whose CRDs or webhook come from an earlier wave fails until they are up:
/// with a capped retry it would wait for the next commit. So every unit
/// Application retries without limit (`limit` below 0: "unlimited number of
/// attempts", docs/operator-manual/application.yaml), backing off to 3 minutes.
#[test]
fn argo_cd_units_retry_a_failed_sync_until_it_succeeds() {
    let mut checked = 0;
    for e in every_environment() {
        for (file, app) in unit_applications(&e) {
            let retry = &app["spec"]["syncPolicy"]["retry"];
            assert!(
                retry["limit"].as_i64().is_some_and(|l| l < 0),
                "{}: {file}",
                e.label()
            );
            assert_eq!(
                retry["backoff"]["maxDuration"],
                "3m",
                "{}: {file}",
                e.label()
            );
            checked += 1;
        }
    }
    assert!(checked > 10, "the examples deploy with Argo CD ({checked})");
}

/// Argo CD refuses to sync a resource whose namespace its AppProject does
/// not list as a destination (Argo CD "Projects", destinations): every
/// Application's namespace and every namespace a chart installs into
/// (kube-prometheus-stack's Services in kube-system, cert-manager's
/// leader-election Role) must be allowed.
#[test]
fn argo_cd_project_destinations_cover_every_namespace_in_use() {
    let mut extra = 0;
    for e in every_environment() {
        if e.engine() != Some(Engine::Argocd) {
            continue;
        }
        let project = e.of_kind("AppProject").next().unwrap().1;
        let allowed: BTreeSet<&str> = project["spec"]["destinations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["namespace"].as_str().unwrap())
            .collect();
        let mut needed: BTreeSet<String> = unit_applications(&e)
            .map(|(_, a)| {
                a["spec"]["destination"]["namespace"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        for (file, v) in &e.objects {
            if !file.contains("/gitops/")
                && !file.contains("/bootstrap/")
                && let Some(ns) = v["metadata"]["namespace"].as_str()
            {
                needed.insert(ns.to_string());
            }
        }
        for chart in e.env.blueprint.charts.values() {
            let namespaces = catalog::extra_namespaces(chart);
            extra += namespaces.len();
            needed.extend(namespaces);
        }
        for ns in &needed {
            assert!(
                allowed.contains(ns.as_str()),
                "{}: project must allow {ns}",
                e.label()
            );
        }
    }
    assert!(extra >= 6, "charts install into other namespaces ({extra})");
}

/// Flux: a HelmRelease with drift detection enabled corrects changes made
/// in the cluster, not only on the next upgrade (Flux HelmRelease docs,
/// "Drift detection"); OCI charts come from an OCIRepository through
/// `chartRef`, which Flux recommends over a HelmRepository of type `oci`
/// (Flux HelmRelease docs, "Chart reference"), pinned to the chart version.
#[test]
fn flux_helm_releases_correct_drift_and_take_oci_charts_from_oci_repositories() {
    let mut oci = 0;
    let mut releases = 0;
    for e in every_environment() {
        for (file, release) in e.of_kind("HelmRelease") {
            assert_eq!(
                release["spec"]["driftDetection"]["mode"],
                "enabled",
                "{}: {file}",
                e.label()
            );
            releases += 1;
            let name = release["metadata"]["name"].as_str().unwrap();
            let chart = &e.env.blueprint.charts[name];
            if chart.repo.starts_with("oci://") {
                let reference = &release["spec"]["chartRef"];
                assert_eq!(reference["kind"], "OCIRepository", "{}: {file}", e.label());
                let (_, repo) = e
                    .of_kind("OCIRepository")
                    .find(|(_, r)| r["metadata"]["name"] == reference["name"])
                    .unwrap();
                assert_eq!(repo["spec"]["ref"]["tag"], chart.version.0.as_str());
                assert!(
                    repo["spec"]["url"]
                        .as_str()
                        .unwrap()
                        .ends_with(&chart.chart)
                );
                oci += 1;
            } else {
                assert!(release["spec"]["chart"]["spec"]["sourceRef"]["kind"] == "HelmRepository");
            }
        }
    }
    assert!(
        releases > 10 && oci >= 2,
        "{releases} releases, {oci} from OCI"
    );
}

/// Flux's `targetNamespace` moves every object of a Kustomization into one
/// namespace (Flux Kustomization docs, "Target namespace"): set only where
/// every object already lives there, never on chart units whose charts
/// install into several namespaces; `dependsOn` names Kustomizations in the
/// same namespace, the only ones it can find without a namespace.
#[test]
fn flux_target_namespace_only_where_every_object_lives_in_it() {
    let mut targeted = 0;
    for e in every_environment() {
        let kustomizations: BTreeSet<&str> = e
            .of_kind("Kustomization")
            .filter(|(_, k)| k["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1")
            .map(|(_, k)| k["metadata"]["name"].as_str().unwrap())
            .collect();
        for (file, k) in e
            .of_kind("Kustomization")
            .filter(|(_, k)| k["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1")
        {
            for d in k["spec"]["dependsOn"].as_array().into_iter().flatten() {
                assert!(d["namespace"].is_null(), "{}: {file}", e.label());
                assert!(kustomizations.contains(d["name"].as_str().unwrap()));
            }
            let Some(target) = k["spec"]["targetNamespace"].as_str() else {
                continue;
            };
            let unit = k["metadata"]["annotations"]["gitopsc.io/unit"]
                .as_str()
                .unwrap();
            let prefix = format!("{}/{unit}/", e.env.name);
            let component = unit.rsplit('/').next().unwrap();
            assert_eq!(
                e.env.components[component].kind,
                ComponentKind::App,
                "{}: {file} targets a namespace for an app only",
                e.label()
            );
            for (f, v) in e.objects.iter().filter(|(f, _)| f.starts_with(&prefix)) {
                assert_eq!(v["metadata"]["namespace"], target, "{}: {f}", e.label());
            }
            targeted += 1;
        }
    }
    assert!(targeted > 10, "app units use targetNamespace ({targeted})");
}

/// Pod Security admission rejects a pod its namespace's level forbids
/// (Kubernetes "Pod Security Standards" and "Pod Security Admission"):
/// node-exporter needs `privileged`, most charts' pods `baseline`. Every
/// namespace holding a chart enforces a level at least as permissive as the
/// chart needs; namespaces of apps alone stay `restricted`.
#[test]
fn chart_namespaces_allow_the_pod_security_level_their_charts_need() {
    let rank = |l: &str| {
        ["restricted", "baseline", "privileged"]
            .iter()
            .position(|x| *x == l)
    };
    let mut charts = 0;
    let mut below_restricted = 0;
    for e in every_environment() {
        let enforced: BTreeMap<&str, &str> = e
            .of_kind("Namespace")
            .map(|(_, n)| {
                (
                    n["metadata"]["name"].as_str().unwrap(),
                    n["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
                        .as_str()
                        .unwrap(),
                )
            })
            .collect();
        for c in e.env.components.values() {
            let level = enforced[c.namespace.as_str()];
            match c.kind {
                ComponentKind::Chart => {
                    let needs = catalog::pod_security(&e.env.blueprint.charts[&c.name]);
                    assert!(
                        rank(level) >= rank(needs.name()),
                        "{}: {} needs {}, namespace {} enforces {level}",
                        e.label(),
                        c.name,
                        needs.name(),
                        c.namespace
                    );
                    if needs != PodSecurityLevel::Restricted {
                        below_restricted += 1;
                    }
                    charts += 1;
                }
                _ if !e.env.blueprint.namespaces.contains_key(&c.namespace)
                    && !e
                        .env
                        .components
                        .values()
                        .any(|o| o.kind == ComponentKind::Chart && o.namespace == c.namespace) =>
                {
                    assert_eq!(level, "restricted", "{}: {}", e.label(), c.namespace);
                }
                _ => {}
            }
        }
    }
    assert!(
        charts > 20 && below_restricted > 10,
        "{charts} charts, {below_restricted} need more than restricted"
    );
}

/// External Secrets' Infisical provider reads `remoteRef.key` as
/// `<folder>/<secret name>` and `property` as a JSON field inside the value
/// (external-secrets `providers/v1/infisical/client.go`, getSecretAddress;
/// ESO docs, Infisical provider): `infisical:/api#DB_PASSWORD` is the
/// secret DB_PASSWORD in folder /api.
#[test]
fn infisical_references_name_the_folder_and_the_secret() {
    let mut checked = 0;
    for e in every_environment() {
        let bp = &e.env.blueprint;
        for (app, spec) in &bp.apps {
            for (var, reference) in &spec.secrets {
                let (store, rest) = reference.split_once(':').unwrap();
                if bp.secret_stores[store].provider.as_deref() != Some("infisical") {
                    continue;
                }
                let (folder, name) = rest.split_once('#').unwrap();
                let (file, es) = e
                    .of_kind("ExternalSecret")
                    .find(|(_, v)| v["metadata"]["name"] == format!("{app}-{store}"))
                    .unwrap();
                let data = es["spec"]["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|d| d["secretKey"] == var.as_str())
                    .unwrap();
                assert_eq!(
                    data["remoteRef"],
                    serde_json::json!({"key": format!("{folder}/{name}")}),
                    "{}: {file}",
                    e.label()
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 8,
        "the hybrid example reads Infisical ({checked})"
    );
}
